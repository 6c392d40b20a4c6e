"""pytest suite of the hers Python package (run by `make check` through ctest)."""
import os
import resource
import threading

import numpy as np
import pytest

import hers

SEED = int(os.environ.get("HERS_TEST_SEED", "20261205"))
print(f"seed {SEED}")


@pytest.fixture(scope="module")
def keys():
    return hers.KeySet.generate("n4096")


def unit_rows(rng, n, d, shrink=0.999):
    x = rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (x * shrink).astype(np.float32)   # norms < 1: no rescaling in the quantiser


T = 1032193   # the plaintext modulus of every built-in parameter set


def np_quantize(x, s=None):
    if s is None:   # the library's default for this d (the largest safe scale)
        s = hers.default_scale(x.shape[1], T)
    v = x.astype(np.float64) * s
    q = np.sign(v) * np.floor(np.abs(v) + 0.5)   # round half away from zero
    return np.clip(q, -s, s).astype(np.int64)


@pytest.mark.parametrize("d,n", [(16, 5000), (64, 300)])
def test_scores_exact(keys, d, n):
    rng = np.random.default_rng(SEED + d)
    g, q = unit_rows(rng, n, d), unit_rows(rng, 3, d)
    idx = hers.Index(keys, d)
    idx.add(g[: n // 2])
    idx.add(g[n // 2:])                       # two batches, partial blocks
    scores, ids = idx.search_scores(q)
    want = np_quantize(q) @ np_quantize(g).T
    assert scores.shape == (3, n)
    assert np.array_equal(scores, want)
    assert np.array_equal(ids, np.arange(n))


def test_default_scale(keys):
    # the largest s with t > 2 B(d, s): B = (s + sqrt(d)/2)^2 for 1 < d < 4 s^2
    assert hers.default_scale(64, keys) == 714 and hers.default_scale(16, T) == 716
    assert hers.Index(keys, 64).scale == 714
    assert hers.Index(keys, 64, scale=hers.PAPER_SCALE).scale == 125
    with pytest.raises(hers.ParamsError):
        hers.default_scale(64, 2)


def test_search_topk(keys):
    rng = np.random.default_rng(SEED)
    g = unit_rows(rng, 2000, 32)
    idx = hers.Index(keys, 32)
    idx.add(g)
    D, I = idx.search(g[[7, 1999]], k=5)
    assert D.dtype == np.float32 and I.dtype == np.int64 and D.shape == (2, 5)
    assert list(I[:, 0]) == [7, 1999]
    want = np_quantize(g[[7, 1999]]) @ np_quantize(g).T
    for r in range(2):
        order = np.argsort(-want[r], kind="stable")[:5]
        assert list(I[r]) == list(order)
        assert np.allclose(D[r], want[r][order] / idx.scale ** 2)
    # k beyond the gallery: -1 / -inf padding
    small = hers.Index(keys, 32)
    small.add(g[:3])
    D, I = small.search(g[:1], k=5)
    assert list(I[0, 3:]) == [-1, -1] and np.all(np.isneginf(D[0, 3:]))


def test_string_ids_and_remove(keys):
    rng = np.random.default_rng(SEED + 1)
    g = unit_rows(rng, 10, 8)
    idx = hers.Index(keys, 8)
    names = [f"person-{i}" for i in range(10)]
    out = idx.add(g, ids=names)
    assert out.dtype == object and len(idx) == 10
    D, I = idx.search(g[3], k=2)
    assert I[0, 0] == "person-3" and I.dtype == object
    assert idx.remove(["person-3", "nobody"]) == 1
    assert len(idx) == 9
    D, I = idx.search(g[3], k=10)
    assert "person-3" not in list(I[0]) and I[0, 9] is None
    with pytest.raises(TypeError):
        idx.add(g[:1], ids=[5])
    with pytest.raises(ValueError):
        idx.add(g[:1], ids=["tab\there"])


def test_input_conversion(keys):
    rng = np.random.default_rng(SEED + 2)
    wide = unit_rows(rng, 50, 32)
    g64 = wide.astype(np.float64)
    idx = hers.Index(keys, 16)
    nc = np.zeros((50, 32), np.float32)
    nc[:, ::2] = wide[:, :16]
    view = nc[:, ::2]                          # non-contiguous
    assert not view.flags["C_CONTIGUOUS"]
    idx.add(view)
    idx.add(g64[:, :16] / np.linalg.norm(g64[:, :16], axis=1, keepdims=True) * 0.999)
    idx.add((wide[:2, :16] / np.linalg.norm(wide[:2, :16], axis=1, keepdims=True)).tolist())
    assert len(idx) == 102
    with pytest.raises(ValueError, match="columns"):
        idx.add(wide)                          # 32 columns for d = 16
    with pytest.raises(ValueError, match="2-D"):
        idx.add(np.zeros((2, 2, 16), np.float32))
    with pytest.raises(TypeError):
        idx.add(np.array([["a"] * 16]))
    with pytest.raises(hers.ArgumentError, match="norm"):
        idx.add(np.full((1, 16), 3.0))         # not a unit vector: the library refuses
    with pytest.raises(ValueError):
        hers.Index(keys, 0)


def test_errors_are_mapped(keys, tmp_path):
    with pytest.raises(hers.ArgumentError) as e:
        hers.KeySet.generate("n1234")
    assert isinstance(e.value, hers.Error) and "n1234" in str(e.value)
    assert e.value.status == 1 and str(e.value).startswith("unknown parameter set")
    with pytest.raises(hers.Error):
        hers.KeySet.load(tmp_path / "missing")
    q = hers.encrypt_query(keys, unit_rows(np.random.default_rng(3), 1, 8))
    bad = bytearray(q)
    bad[len(bad) // 2] ^= 1
    idx = hers.Index(keys, 8)
    idx.add(unit_rows(np.random.default_rng(4), 4, 8))
    with pytest.raises((hers.ChecksumError, hers.FormatError)):
        idx.search_bytes(bytes(bad))
    with pytest.raises(hers.StateError):
        hers.Index(keys.public(), 8).add(unit_rows(np.random.default_rng(5), 1, 8))


def test_keys_save_load(keys, tmp_path):
    keys.save(tmp_path / "k")
    assert oct(os.stat(tmp_path / "k" / "secret.key").st_mode & 0o777) == "0o600"
    k2 = hers.KeySet.load(tmp_path / "k")
    g = unit_rows(np.random.default_rng(6), 20, 8)
    idx = hers.Index(k2, 8)
    idx.add(g)
    assert idx.search(g[4], k=1)[1][0, 0] == 4
    keys.save(tmp_path / "p", passphrase="correct horse")
    with pytest.raises(hers.CryptoError):
        hers.KeySet.load(tmp_path / "p")
    with pytest.raises(hers.CryptoError):
        hers.KeySet.load(tmp_path / "p", passphrase="wrong")
    assert hers.KeySet.load(tmp_path / "p", passphrase="correct horse").has_secret
    pub = keys.public()
    pub.save(tmp_path / "pub")
    assert not (tmp_path / "pub" / "secret.key").exists()
    assert not hers.KeySet.load(tmp_path / "pub").has_secret


def test_protocol_bytes(keys):
    rng = np.random.default_rng(SEED + 7)
    g, q = unit_rows(rng, 5000, 16), unit_rows(rng, 2, 16)
    server = hers.Index(keys, 16)
    server.add(g)
    query = hers.encrypt_query(keys, q)                  # key holder
    assert isinstance(query, bytes)
    results = server.search_bytes(query)                 # server: never decrypts
    scores = hers.decrypt_results(keys, results)[:, :5000]
    assert np.array_equal(scores, np_quantize(q) @ np_quantize(g).T)


def test_threads_search_concurrently(keys):
    rng = np.random.default_rng(SEED + 8)
    g = unit_rows(rng, 4096, 64)
    idx = hers.Index(keys, 64)
    idx.add(g)
    want = idx.search_scores(g[:4])[0]
    got, errors = [None, None], []

    def run(i):
        try:
            for _ in range(3):
                got[i] = idx.search_scores(g[:4])[0]
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert all(np.array_equal(x, want) for x in got)


@pytest.mark.skipif(os.environ.get("HERS_SANITIZED") == "1",
                    reason="under ASan, RSS follows the allocator's quarantine of freed "
                    "blocks (it swung 0-23 MB and back over 3000 calls), not leaks; the plain "
                    "build's python_pytest runs this check")
def test_no_rss_growth(keys):
    rng = np.random.default_rng(SEED + 9)
    g, q = unit_rows(rng, 4, 4), unit_rows(rng, 1, 4)

    def rss_kb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() // 1024

    for i in range(1000):
        idx = hers.Index(keys, 4)
        idx.add(g)
        idx.search(q, k=2)
        if i == 99:
            base = rss_kb()
    growth = rss_kb() - base
    assert growth < 16 * 1024, f"RSS grew by {growth} KiB over 900 add/search calls"


def test_models_and_intrinsic_dimension(tmp_path):
    rng = np.random.default_rng(SEED + 10)
    latent = rng.normal(size=(600, 3))
    x = (latent @ rng.normal(size=(3, 40))).astype(np.float32)
    m = hers.fit_pca(x, 8)
    assert (m.in_dim, m.out_dim) == (40, 8)
    y = m.transform(x)
    assert y.shape == (600, 8) and np.allclose(np.linalg.norm(y, axis=1), 1, atol=1e-4)
    m.save(tmp_path / "m.model")
    assert np.array_equal(hers.Model.load(tmp_path / "m.model").transform(x), y)
    idim = hers.intrinsic_dimension(x, sample=600)
    assert 1 <= idim <= 6
    labels = np.repeat(np.arange(60), 10)
    dm = hers.fit_deepmds(x, labels, 4)
    assert dm.transform(x[:5]).shape == (5, 4)


def test_pip_install_offline(tmp_path):
    """pip install ./python --no-build-isolation works offline (Debian's setuptools)."""
    import subprocess
    import sys
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                        "--no-index", "--target", str(tmp_path / "site"), "-q", here],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-c", "import hers, sys; print(hers.__file__, hers.version())"],
                       env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and str(tmp_path) in r.stdout, r.stderr


def test_database_save_open(keys, tmp_path):
    """Index.save writes a gallery database; Index.open reads it (int and str
    ids), and the CLI (`hers search --db`) ranks it the same way."""
    rng = np.random.default_rng(SEED + 11)
    g, q = unit_rows(rng, 700, 16), unit_rows(rng, 3, 16)
    mem = hers.Index(keys, 16)
    mem.add(g[:400])
    mem.add(g[400:])                       # two batches: two segments
    assert mem.remove([17]) == 1
    mem.save(tmp_path / "db")
    with pytest.raises(hers.ExistsError):
        mem.save(tmp_path / "db")          # never over an existing database
    want = np_quantize(q) @ np_quantize(g).T
    with hers.Index.open(tmp_path / "db", keys, int_ids=True) as db:
        assert len(db) == 699 and db.d == 16
        scores, ids = db.search_scores(q)
        live = np.delete(np.arange(700), 17)
        assert np.array_equal(ids, live) and np.array_equal(scores, want[:, live])
        D, I = db.search(q, k=4)
        Dm, Im = mem.search(q, k=4)
        assert np.array_equal(D, Dm) and np.array_equal(I, Im) and I.dtype == np.int64
        assert list(db.add(g[:2], ids=[5000, 5001])) == [5000, 5001]
        assert db.remove([5000]) == 1 and len(db) == 700
        with pytest.raises(hers.NotFoundError, match="5000"):
            db.remove([5000])
        with pytest.raises(hers.ExistsError):
            db.add(g[:1], ids=[5001])
        with pytest.raises(TypeError):
            db.add(g[:1], ids=["x"])
    with pytest.raises(hers.StateError, match="closed"):
        db.search(q)
    # the CLI searches what Python saved, with keys Python saved
    hers_bin = os.environ.get("HERS_BIN")
    if hers_bin:
        import subprocess
        keys.save(tmp_path / "keys")
        np.save(tmp_path / "q.npy", q)
        r = subprocess.run([hers_bin, "search", "--keys", str(tmp_path / "keys"), "--db",
                            str(tmp_path / "db"), "--probe", str(tmp_path / "q.npy"),
                            "--top", "1"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        rows = [line.split("\t") for line in r.stdout.splitlines() if line[:1].isdigit()]
        assert [int(row[2]) for row in rows] == list(Im[:, 0])


def test_database_string_ids_threads_and_keys(keys, tmp_path):
    rng = np.random.default_rng(SEED + 12)
    g = unit_rows(rng, 300, 8)
    names = [f"face-{i}" for i in range(300)]
    db = hers.Index.open(tmp_path / "db", keys, d=8)   # created: empty directory
    out = db.add(g, ids=names)
    assert out.dtype == object and len(db) == 300
    with pytest.raises(ValueError, match="control"):
        db.add(g[:1], ids=["tab\there"])
    want = db.search(g[:5], k=3)
    got, errors = [None, None], []

    def run(i):
        try:
            for _ in range(3):
                got[i] = db.search(g[:5], k=3)
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for D, I in got:
        assert np.array_equal(D, want[0]) and np.array_equal(I, want[1])
    assert list(want[1][:, 0]) == names[:5]
    db.remove(["face-0"])
    assert db.search(g[:1], k=1)[1][0, 0] != "face-0"
    db.close()
    other = hers.KeySet.generate("n4096")
    with pytest.raises(hers.MismatchError):
        hers.Index.open(tmp_path / "db", other)
    with pytest.raises(hers.NotFoundError):
        hers.Index.open(tmp_path / "missing", keys)


@pytest.fixture
def server(tmp_path):
    """`hers serve` on 127.0.0.1, an ephemeral port, stopped by the test."""
    import subprocess
    import time
    hers_bin = os.environ.get("HERS_BIN")
    if not hers_bin:
        pytest.skip("HERS_BIN not set (ctest sets it)")
    (tmp_path / "root").mkdir()
    tokens = {}
    for name, gal, scope in [("admin", "*", "admin"), ("search", "g", "search"),
                             ("other", "h", "admin")]:
        r = subprocess.run([hers_bin, "token", "add", "--tokens", str(tmp_path / "tokens"),
                            "--gallery", gal, "--scope", scope],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        tokens[name] = r.stdout.strip()
    port_file = tmp_path / "port"
    proc = subprocess.Popen([hers_bin, "serve", "--root", str(tmp_path / "root"), "--listen",
                             "127.0.0.1:0", "--tokens", str(tmp_path / "tokens"),
                             "--port-file", str(port_file), "--threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "hers serve did not start in 20 s"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}", tokens
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_client_round_trip(keys, server):
    url, tokens = server
    rng = np.random.default_rng(SEED + 13)
    g, q = unit_rows(rng, 300, 16), unit_rows(rng, 3, 16)
    admin = hers.Client(url, "g", tokens["admin"], keys, int_ids=True).create()
    with pytest.raises(hers.ExistsError) as e:
        admin.create()
    assert e.value.http_status == 409
    assert list(admin.add(g[:100])) == list(range(100))          # slot numbers
    admin.add(g[100:], ids=range(100, 300))                      # second segment, same block
    assert len(admin) == 300
    cli = hers.Client(url, "g", tokens["search"], keys, int_ids=True)
    scores, ids, _ = cli.search_scores(q)
    assert cli.last_requests == 2                                # search + the catalog (ids)
    assert np.array_equal(ids, np.arange(300))
    assert np.array_equal(scores, np_quantize(q) @ np_quantize(g).T)   # exact through HTTP
    assert int(cli.describe()["relin_key"]) == 1                 # so the compact result came
    mem = hers.Index(keys, 16)
    mem.add(g)
    D, I = cli.search(q, k=5)
    assert cli.last_requests == 1                                # same catalog version: kept
    Dm, Im = mem.search(q, k=5)
    assert np.array_equal(D, Dm) and np.array_equal(I, Im)
    assert admin.remove([int(I[0, 0])]) == 1
    assert int(I[0, 0]) not in cli.search(q[:1], k=5)[1][0]
    assert cli.last_requests == 2                                # a new version: fetched again
    with pytest.raises(hers.NotFoundError):
        admin.remove([int(I[0, 0])])
    with pytest.raises(hers.AuthError) as e:
        cli.add(g[:1], ids=[999])                                # a search token cannot enrol
    assert e.value.http_status == 403
    with pytest.raises(hers.AuthError):
        hers.Client(url, "g", "hers_" + "0" * 64, keys).search(q)
    with pytest.raises(hers.NotFoundError):
        hers.Client(url, "nope", tokens["admin"], keys).search(q)
    with pytest.raises(ValueError, match="16 columns"):
        cli.search(unit_rows(rng, 1, 8))                         # d = 8 against d = 16
    s = hers.Client(url, "s", tokens["admin"], keys).create()    # string ids
    s.add(g[:3], ids=["ann", "bob", "cy"])
    D, I = s.search(g[1], k=2)
    assert I.dtype == object and I[0, 0] == "bob"
    with pytest.raises(hers.Error):
        hers.Client("http://127.0.0.1:1", "g", None, keys).search(q)   # refused: IOError
