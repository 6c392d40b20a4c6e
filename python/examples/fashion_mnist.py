"""The demo's pipeline in Python: intrinsic dimensionality, PCA (or DeepMDS++),
encrypted search of Fashion-MNIST test images against the training gallery,
rank-1 accuracy. Data: Debian's dataset-fashion-mnist. About a minute on 2 cores.
    PYTHONPATH=python python3 python/examples/fashion_mnist.py [probes]"""
import gzip
import sys

import numpy as np

import hers

FM = "/usr/share/datasets/fashion-mnist"


def idx(name, offset):
    with gzip.open(f"{FM}/{name}", "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


x_train = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
y_train = idx("train-labels-idx1-ubyte.gz", 8)
x_test = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
y_test = idx("t10k-labels-idx1-ubyte.gz", 8)
probes = int(sys.argv[1]) if len(sys.argv) > 1 else 1000

print("intrinsic dimensionality:", hers.intrinsic_dimension(x_train, sample=3000))
model = hers.fit_pca(x_train, 32)      # or hers.fit_deepmds(x_train, y_train, 32)
keys = hers.KeySet.generate("n4096")
index = hers.Index(keys, d=32)
index.add(model.transform(x_train))    # 60,000 encrypted templates
D, I = index.search(model.transform(x_test[:probes]), k=1)
print(f"rank-1 (encrypted search, {probes} probes):", np.mean(y_train[I[:, 0]] == y_test[:probes]))
