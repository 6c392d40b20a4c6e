"""Binding overhead: one encrypted search of 1 probe over n x d templates
through hers._hers (Python call, GIL released) against the same library call
timed inside C (`hers bench search`), n = 2^18, d = 64, 1 thread by default.
    PYTHONPATH=python python3 python/examples/bench_overhead.py [n] [d]"""
import json
import subprocess
import sys
import time

import numpy as np

import hers
from hers import _hers

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 18
d = int(sys.argv[2]) if len(sys.argv) > 2 else 64
keys = hers.KeySet.generate("n4096")
rng = np.random.default_rng(1)
x = rng.normal(size=(n, d)).astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True) * 1.001
q = _hers.quantize(x, n, d, 125)
g = _hers.enroll(keys._p, keys._sk, None, q, n, d, 125, 0)
ix = _hers.index_build(keys._p, g, 0)
query = _hers.query_encrypt(keys._p, keys._sk, q[: d * 4], 1, d, 125)
sr = _hers.searcher(1)
times = []
for _ in range(7):
    t0 = time.perf_counter()
    _hers.search(sr, keys._p, ix, query)
    times.append(time.perf_counter() - t0)
py = sorted(times)[3]
out = subprocess.run(["build/hers", "bench", "search", "--params", "n4096", "--n", str(n), "--d",
                      str(d), "--threads", "1", "--reps", "7", "--json"], capture_output=True,
                     text=True, check=True).stdout
c = json.loads(out.strip().splitlines()[-1])
print(json.dumps({"n": n, "d": d, "python_search_s": py, "c_bench": {k: c[k] for k in c if
                  "search" in k and isinstance(c[k], (int, float))}}, indent=1))

# The GIL is released: the same total work (4 searches through the public
# hers.Index API: encrypt, scan, decrypt, top-k) on 1 thread and on 2 threads.
import threading  # noqa: E402

idx = hers.Index(keys, d, threads=1)
idx._batches.append((ix, np.arange(n, dtype=np.int64), g))
probe = x[:1]
idx.search(probe, k=10)


def work(reps):
    for _ in range(reps):
        idx.search(probe, k=10)


def timed(nthreads, total=4):
    ts = [threading.Thread(target=work, args=(total // nthreads,)) for _ in range(nthreads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


one = sorted(timed(1) for _ in range(3))[1]
two = sorted(timed(2) for _ in range(3))[1]
print(json.dumps({"index_search_4x_1_thread_s": one, "index_search_4x_2_threads_s": two,
                  "speedup": one / two}))
