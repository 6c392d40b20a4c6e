"""hers: homomorphically encrypted representation search, from Python.

A numpy-native binding of the hers C library (libhers) with the conventions
faiss users know::

    import hers
    keys = hers.KeySet.generate("n4096")          # the key holder's keys
    idx = hers.Index(keys, d=64)                   # an encrypted gallery, in memory
    ids = idx.add(x)                               # x: (n, 64) unit vectors
    D, I = idx.search(q, k=10)                     # cosine estimates and ids

Vectors are quantised (round(scale * x); by default the largest scale whose
scores cannot wrap mod t, e.g. 714 at d = 64: see default_scale), encrypted with
BFV and packed dimension-major; a search scores every gallery template
without decrypting it, and only the key holder decrypts the scores. Every
encryption, search and decryption runs in C with the GIL released.
See docs/python.md.
"""
import os
import threading

import numpy as np

from . import _hers
from ._hers import (Error, ArgumentError, NoMemoryError, FormatError, VersionError,
                    ChecksumError, ParamsError, InsecureError, MismatchError, NoiseError,
                    UnsupportedError, CryptoError, StateError, NotFoundError, ExistsError,
                    NumericError, InternalError)

__all__ = ["KeySet", "Index", "DbIndex", "Client", "AuthError", "Model", "fit_pca", "fit_deepmds", "intrinsic_dimension",
           "encrypt_query", "decrypt_results", "Error", "PAPER_SCALE", "default_scale", "version"]

PAPER_SCALE = _hers.PAPER_SCALE   # the HERS paper's s = 125 (pass scale=PAPER_SCALE to match it)


def default_scale(d, keys_or_t):
    """The default quantisation scale of a gallery of dimension d: the largest
    whose worst-case score cannot wrap mod t (hers_quant_default_scale; the
    noise analysis holds for any scale). keys_or_t: a KeySet or the plaintext
    modulus t."""
    t = keys_or_t.t if isinstance(keys_or_t, KeySet) else int(keys_or_t)
    s = _hers.default_scale(int(d), t)
    if s == 0:
        raise ParamsError(f"no quantisation scale is safe for d = {d} and t = {t}")
    return s


def version():
    """The version of the C library in use."""
    return _hers.version()


def _matrix(x, name="x", dim=None):
    """x as a C-contiguous float32 (n, d) array: no copy when it already is one."""
    a = np.asarray(x)
    if a.ndim == 1 and dim is not None and a.shape[0] == dim:
        a = a.reshape(1, dim)
    if a.ndim != 2:
        raise ValueError(f"{name}: need a 2-D array (n, d), got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise ValueError(f"{name}: need {dim} columns, got {a.shape[1]}")
    if not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"{name}: need numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


class KeySet:
    """A BFV key set: parameters, public and relinearisation keys, and (for
    the key holder) the secret key. Directories use the layout of
    `hers keygen` (params.hers, secret.key mode 0600, public.key, relin.key),
    so keys move freely between Python and the CLI."""

    def __init__(self, params, sk, pk, rk):
        self._p, self._sk, self._pk, self._rk = params, sk, pk, rk
        info = _hers.params_info(params)
        self.params = info["name"] or "custom"
        self.n = info["n"]
        self.t = info["t"]

    @classmethod
    def generate(cls, params="n4096"):
        p = _hers.params(params)
        sk, pk, rk = _hers.keygen(p)
        return cls(p, sk, pk, rk)

    @classmethod
    def load(cls, path, passphrase=None):
        p, sk, pk, rk = _hers.load_keys(os.fspath(path), _pass(passphrase))
        return cls(p, sk, pk, rk)

    def save(self, path, passphrase=None):
        path = os.fspath(path)
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
        _hers.save_keys(path, self._p, self._sk, self._pk, self._rk, _pass(passphrase))

    @property
    def has_secret(self):
        return self._sk is not None

    def public(self):
        """The public material only (what a server or a third party gets)."""
        return KeySet(self._p, None, self._pk, self._rk)

    def _need_secret(self, what):
        if self._sk is None:
            raise StateError(f"{what} needs the secret key (this KeySet is public)")


def _topk(scores, ids, k, scale, string_ids):
    """The k best columns of scores per row, best first (ties: earlier
    column first), as (D float32 = score / scale^2, I), padded with -inf and
    -1 (None for string ids)."""
    m = scores.shape[0]
    kk = min(k, scores.shape[1])
    D = np.full((m, k), -np.inf, dtype=np.float32)
    I = np.full((m, k), None, dtype=object) if string_ids else np.full((m, k), -1, dtype=np.int64)
    if kk:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :kk]
        D[:, :kk] = np.take_along_axis(scores, order, axis=1) / float(scale) ** 2
        I[:, :kk] = ids[order]
    return D, I


def _pass(passphrase):
    if passphrase is None:
        return None
    return passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)


class Index:
    """An encrypted gallery in memory, searched by the key holder's probes.

    add() encrypts a batch of templates (one or more blocks of N slots);
    search() encrypts the probes, runs the fused encrypted kernel over every
    batch and decrypts and ranks the scores. remove() hides ids from later
    results (their ciphertexts stay until the index is rebuilt, like the
    database before `hers compact`)."""

    def __init__(self, keys, d, scale=None, threads=0):
        if not isinstance(keys, KeySet):
            raise TypeError("keys: need a hers.KeySet")
        if not 1 <= int(d) <= 1024:
            raise ValueError(f"d must be in 1..1024, got {d}")
        if scale is None:
            scale = default_scale(d, keys)
        self.keys, self.d, self.scale, self.threads = keys, int(d), int(scale), int(threads)
        self._batches = []          # (index, ids array, gallery): the gallery for save()
        self._removed = set()
        self._string_ids = None     # None until the first add decides
        self._next = 0
        self._local = threading.local()

    def __len__(self):
        return sum(len(ids) for _, ids, _ in self._batches) - len(self._removed)

    @property
    def ntotal(self):
        return len(self)

    def add(self, x, ids=None):
        """Encrypts and adds the rows of x (unit vectors, shape (n, d)).
        ids: integers or strings (default: consecutive integers). Returns
        the ids as an array."""
        x = _matrix(x, "x", self.d)
        n = x.shape[0]
        if n == 0:
            raise ValueError("x: no rows")
        if ids is None:
            if self._string_ids:
                raise ValueError("this index has string ids: give ids")
            ids = np.arange(self._next, self._next + n, dtype=np.int64)
            self._string_ids = False
        else:
            ids = list(ids) if not isinstance(ids, np.ndarray) else ids
            if len(ids) != n:
                raise ValueError(f"ids: {len(ids)} ids for {n} rows")
            strings = isinstance(ids[0], str)
            if self._string_ids is not None and strings != self._string_ids:
                raise TypeError("ids: every id of an index must be str or every id int")
            self._string_ids = strings
            if strings:
                for i in ids:
                    if not isinstance(i, str) or not i or len(i.encode()) > 255 or \
                            any(ord(c) < 32 or ord(c) == 127 for c in i):
                        raise ValueError(f"invalid id {i!r}: 1..255 bytes, no control characters")
                ids = np.array(ids, dtype=object)
            else:
                ids = np.asarray(ids, dtype=np.int64)
        q = _hers.quantize(x, n, self.d, self.scale)
        self.keys._need_secret("Index.add")
        g = _hers.enroll(self.keys._p, self.keys._sk, None, q, n, self.d, self.scale,
                         self.threads)
        ix = _hers.index_build(self.keys._p, g, self.threads)
        self._batches.append((ix, ids, g))
        if not self._string_ids:
            self._next = max(self._next, int(ids.max()) + 1)
        return ids

    def remove(self, ids):
        """Hides ids from later searches. Returns how many were present."""
        present = set()
        for _, b, _ in self._batches:
            present.update(b.tolist())
        gone = [i for i in (ids.tolist() if isinstance(ids, np.ndarray) else list(ids))
                if i in present and i not in self._removed]
        self._removed.update(gone)
        return len(gone)

    def _searcher(self):
        s = getattr(self._local, "searcher", None)
        if s is None:   # one per thread: a searcher runs one search at a time
            s = self._local.searcher = _hers.searcher(self.threads)
        return s

    def search_scores(self, q):
        """Integer encrypted-then-decrypted scores <q(x), q(y)>, shape (nq, ntotal
        including removed), and the ids in the same column order."""
        self.keys._need_secret("Index.search")
        q = _matrix(q, "q", self.d)
        m = q.shape[0]
        if m == 0:
            raise ValueError("q: no rows")
        qq = _hers.quantize(q, m, self.d, self.scale)
        query = _hers.query_encrypt(self.keys._p, self.keys._sk, qq, m, self.d, self.scale)
        cols, allids = [], []
        for ix, ids, _ in self._batches:
            r = _hers.search(self._searcher(), self.keys._p, ix, query)
            sc = np.frombuffer(_hers.result_decrypt(self.keys._p, self.keys._sk, r),
                               dtype=np.int64).reshape(m, -1)
            cols.append(sc[:, :len(ids)])
            allids.append(ids)
        if not cols:
            return np.zeros((m, 0), np.int64), np.zeros(0, np.int64)
        return np.concatenate(cols, axis=1), np.concatenate(allids)

    def search(self, q, k=10):
        """(D, I): the k best cosine estimates (float32, score / scale^2) and
        their ids per probe, best first (ties: earlier added first); -1 (or
        None for string ids) and -inf pad when fewer than k remain."""
        k = int(k)
        if k < 1:
            raise ValueError("k must be >= 1")
        scores, ids = self.search_scores(q)
        if self._removed:
            keep = np.array([i not in self._removed for i in ids.tolist()], dtype=bool)
            scores, ids = scores[:, keep], ids[keep]
        return _topk(scores, ids, k, self.scale, bool(self._string_ids))

    def search_bytes(self, query_bytes):
        """Server side of the protocol over bytes: the encrypted query record
        (encrypt_query) in, one result record per batch out (a list of bytes,
        in batch order; decrypt_results takes it)."""
        query = _hers.query_from_bytes(self.keys._p, query_bytes)
        out = []
        for ix, _, _ in self._batches:
            r = _hers.search(self._searcher(), self.keys._p, ix, query)
            out.append(_hers.result_to_bytes(self.keys._p, r))
        return out


    def save(self, db_dir):
        """Writes the index as a new gallery database (the format of `hers
        enroll --db`, docs/formats.md) in db_dir, which must not exist or be
        empty. The ciphertexts are stored as they are (no re-encryption);
        integer ids become decimal strings; removed ids are deleted. Open it
        with Index.open(db_dir, keys) or search it with `hers search --db`."""
        db_dir = os.fspath(db_dir)
        _hers.db_create(db_dir, self.keys._p, self.keys._pk, self.keys._rk)
        db = _hers.db_open(db_dir, False)
        try:
            for _, ids, g in self._batches:
                _hers.db_enroll_gallery(db, self.keys._p, g, [str(i) for i in ids.tolist()],
                                        self.scale, self.threads)
            if self._removed:
                _hers.db_delete(db, [str(i) for i in self._removed])
        finally:
            _hers.db_close(db)

    @staticmethod
    def open(db_dir, keys, d=None, int_ids=False, threads=0, readonly=False):
        """The gallery database in db_dir as a DbIndex (same add / search /
        remove / len; every write is durable when the call returns). With d
        given, a missing or empty db_dir is created for keys."""
        return DbIndex(db_dir, keys, d=d, int_ids=int_ids, threads=threads, readonly=readonly)


class DbIndex:
    """An encrypted gallery in a database directory (hers_store.h; the one
    `hers enroll --db` / `hers search --db` use). Ids in a database are
    strings: I is an object array of str, or int64 with int_ids=True (ids
    then must be integers; they are stored as decimal strings). Searches may
    run from several threads at once; writes are serialised. close() (or a
    with block) releases the database; one DbIndex per database per process."""

    def __init__(self, db_dir, keys, d=None, int_ids=False, threads=0, readonly=False):
        if not isinstance(keys, KeySet):
            raise TypeError("keys: need a hers.KeySet")
        db_dir = os.fspath(db_dir)
        if d is not None and not readonly and \
                (not os.path.exists(db_dir) or not os.listdir(db_dir)):
            _hers.db_create(db_dir, keys._p, keys._pk, keys._rk)
        self.keys, self.path, self.int_ids = keys, db_dir, bool(int_ids)
        self.threads = int(threads)
        self._db = _hers.db_open(db_dir, bool(readonly))
        self._lock = threading.Lock()          # one write at a time (hers_store.h)
        self._cond = threading.Condition()     # close() waits for running searches
        self._readers = 0
        self._local = threading.local()
        if keys.has_secret:
            _hers.db_check_key(self._db, keys._sk)
        info = _hers.db_info(self._db)
        if info["has_gallery"]:
            self.d, self.scale = info["d"], info["scale"]
            if d is not None and int(d) != self.d:
                raise MismatchError(f"{db_dir}: the database holds d = {self.d}, not {d}")
        else:
            if d is None:
                raise ValueError(f"{db_dir}: empty database: give d")
            self.d, self.scale = int(d), default_scale(d, keys)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with self._lock, self._cond:
            self._cond.wait_for(lambda: self._readers == 0)
            _hers.db_close(self._db)

    def info(self):
        """The database's counters (live, next_slot, segments, blocks, ...)."""
        return _hers.db_info(self._db)

    def __len__(self):
        return self.info()["live"]

    @property
    def ntotal(self):
        return len(self)

    def _str_ids(self, ids, n=None):
        ids = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        if n is not None and len(ids) != n:
            raise ValueError(f"ids: {len(ids)} ids for {n} rows")
        if self.int_ids:
            if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                       for i in ids):
                raise TypeError("ids: this index has integer ids (int_ids=True)")
            return [str(int(i)) for i in ids]
        if not all(isinstance(i, str) for i in ids):
            raise TypeError("ids: a database's ids are str (or open it with int_ids=True)")
        return ids

    def add(self, x, ids=None):
        """Encrypts and stores the rows of x in one transaction. ids default
        to the slot numbers (as the CLI does). Returns the ids."""
        self.keys._need_secret("DbIndex.add")
        x = _matrix(x, "x", self.d)
        n = x.shape[0]
        if n == 0:
            raise ValueError("x: no rows")
        q = _hers.quantize(x, n, self.d, self.scale)
        with self._lock:
            if ids is None:
                first = self.info()["next_slot"]
                ids = list(range(first, first + n)) if self.int_ids else \
                    [str(i) for i in range(first, first + n)]
            sids = self._str_ids(ids, n)
            _hers.db_enroll(self._db, self.keys._sk, q, n, self.d, sids, self.scale,
                            self.threads)
        return np.asarray([int(i) for i in sids], np.int64) if self.int_ids else \
            np.array(sids, dtype=object)

    def remove(self, ids):
        """Deletes ids (every one must exist: NotFoundError otherwise, and
        nothing is deleted). Returns how many were deleted."""
        sids = self._str_ids(ids)
        if sids:
            with self._lock:
                _hers.db_delete(self._db, sids)
        return len(sids)

    def _searcher(self):
        s = getattr(self._local, "searcher", None)
        if s is None:
            s = self._local.searcher = _hers.searcher(self.threads)
        return s

    def _search_db(self, query):
        # searches run concurrently with each other and with writes (LMDB
        # snapshots); close() waits until none is running
        with self._cond:
            self._readers += 1
        try:
            return _hers.db_search(self._db, self._searcher(), query)
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    def search_scores(self, q):
        """Integer scores of the live templates, shape (nq, live), and their ids."""
        self.keys._need_secret("DbIndex.search")
        q = _matrix(q, "q", self.d)
        m = q.shape[0]
        if m == 0:
            raise ValueError("q: no rows")
        qq = _hers.quantize(q, m, self.d, self.scale)
        query = _hers.query_encrypt(self.keys._p, self.keys._sk, qq, m, self.d, self.scale)
        r, slot_ids = self._search_db(query)
        if r is None:
            return np.zeros((m, 0), np.int64), self._id_array([])
        sc = np.frombuffer(_hers.result_decrypt(self.keys._p, self.keys._sk, r),
                           dtype=np.int64).reshape(m, -1)
        live = np.array([i is not None for i in slot_ids], dtype=bool)
        return sc[:, :len(slot_ids)][:, live], \
            self._id_array([i for i in slot_ids if i is not None])

    def _id_array(self, ids):
        return np.asarray([int(i) for i in ids], np.int64) if self.int_ids else \
            np.array(ids, dtype=object)

    def search(self, q, k=10):
        """(D, I) as Index.search; I pads with -1 (int_ids) or None."""
        k = int(k)
        if k < 1:
            raise ValueError("k must be >= 1")
        scores, ids = self.search_scores(q)
        return _topk(scores, ids, k, self.scale, not self.int_ids)


class AuthError(Error):
    """The server refused the token (HTTP 401) or its gallery or scope (403)."""


_HTTP_ERRORS = {400: ArgumentError, 401: AuthError, 403: AuthError, 404: NotFoundError,
                409: ExistsError, 413: ArgumentError, 422: MismatchError, 503: NoMemoryError}


class Client:
    """A gallery held by `hers serve` (docs/api.md), searched by the key
    holder: the same add / search / remove / len as Index, over HTTP(S).
    The server never sees a secret key, a plaintext template or a score:
    templates and probes are encrypted here, the server's response (the
    encrypted scores of every live entry and their ids) is decrypted and
    ranked here. Ids on a server are strings (I is an object array), or
    int64 with int_ids=True. An HTTP error raises the hers.Error subclass of
    its status (404 NotFoundError, 409 ExistsError, 422 MismatchError, 401 /
    403 AuthError, ...) with the server's message and e.http_status."""

    def __init__(self, url, gallery, token, keys, cacert=None, int_ids=False):
        if not isinstance(keys, KeySet):
            raise TypeError("keys: need a hers.KeySet")
        self.url, self.gallery, self.keys, self.int_ids = url, gallery, keys, bool(int_ids)
        self._c = _hers.client_create(url, token, None if cacert is None else os.fspath(cacert))
        self._lock = threading.Lock()     # one request at a time per connection handle
        # the gallery's catalog (ids of the live slots) of the last version
        # seen: searches download it again only when the server's differs
        self._catalog = _hers.catcache_new()
        self._ids_version, self._ids = 0, None

    def _call(self, method, route, body=None, ctype=None, ok=(200,)):
        path = f"/v1/galleries/{self.gallery}{route}"
        with self._lock:
            code, resp = _hers.client_call(self._c, method, path, body, ctype)
        if code not in ok:
            msg = resp.decode("utf-8", "replace")
            try:
                import json
                msg = json.loads(msg).get("error", msg)
            except ValueError:
                pass
            e = _HTTP_ERRORS.get(code, Error)(f"{method} {self.url}{path}: HTTP {code}: {msg}")
            e.http_status = code
            raise e
        return resp

    def create(self):
        """Creates the gallery on the server from the public material (admin token)."""
        self._call("POST", "", _hers.net_init_encode(self.keys._p, self.keys._pk, self.keys._rk),
                   "application/octet-stream", ok=(201,))
        return self

    def describe(self):
        """The server's description of the gallery (dict: d, scale, live, next_offset, ...)."""
        import json
        return json.loads(self._call("GET", ""))

    def __len__(self):
        return int(self.describe()["live"])

    def add(self, x, ids=None, replace=False):
        """Encrypts the rows of x here and enrols them (one transaction on
        the server). ids default to the slot numbers the server assigns.
        Returns the ids."""
        self.keys._need_secret("Client.add")
        info = self.describe()
        d = int(info["d"]) if int(info.get("has_gallery", 0)) else None
        scale = int(info["scale"]) if d else 0
        x = _matrix(x, "x", d)
        m, d = x.shape
        if m == 0:
            raise ValueError("x: no rows")
        if not scale:   # a new gallery: the default for its d
            scale = default_scale(d, self.keys)
        sids = None
        if ids is not None:
            sids = _as_str_ids(ids, m, self.int_ids)
        o = int(info.get("next_offset", 0)) if d else 0
        q = np.frombuffer(_hers.quantize(x, m, d, scale), dtype=np.int32)
        vals = np.concatenate([np.zeros(o * d, np.int32), q])   # o zero rows first
        g = _hers.enroll(self.keys._p, self.keys._sk, None, vals, o + m, d, scale, 0)
        body = _hers.net_enroll_encode(self.keys._p, g, o, sids, m, bool(replace))
        import json
        first = int(json.loads(self._call("POST", "/templates", body, "application/octet-stream",
                                          ok=(201,))).get("first_slot", 0))
        if sids is None:
            sids = [str(i) for i in range(first, first + m)]
        return np.asarray([int(i) for i in sids], np.int64) if self.int_ids else \
            np.array(sids, dtype=object)

    def remove(self, ids):
        """Deletes ids on the server (all or none: NotFoundError). Returns the count."""
        sids = _as_str_ids(ids, None, self.int_ids)
        if not sids:
            return 0
        self._call("POST", "/templates/delete", "".join(i + "\n" for i in sids).encode(),
                   "text/plain")
        return len(sids)

    def search_scores(self, q):
        """Integer scores of every live entry (nq, live) and their ids."""
        self.keys._need_secret("Client.search")
        info = self.describe()
        has = int(info.get("has_gallery", 0))
        q = _matrix(q, "q", int(info["d"]) if has else None)
        m, d = q.shape
        scale = int(info["scale"]) if has else default_scale(d, self.keys)
        if m == 0:
            raise ValueError("q: no rows")
        qq = _hers.quantize(q, m, d, scale)
        query = _hers.query_encrypt(self.keys._p, self.keys._sk, qq, m, d, scale)
        body = _hers.query_to_bytes(self.keys._p, query)
        # the compact result (7 B per template instead of 12.5+) when the
        # gallery has a relinearisation key: a full query leaves it ~20 bits
        # of noise margin, the compact record needs 2 (docs/api.md)
        result = "compact" if int(info.get("relin_key", 0)) else None
        # scores and the catalog version; the catalog itself only when ours
        # is of another version (docs/api.md, "Catalog version")
        with self._lock:
            out = _hers.client_search(self._c, self.gallery, self.keys._p, self.keys._sk, body,
                                      result, self._catalog, self._ids_version)
            if out[0] is None:
                code, msg = out[1], out[2]
                e = _HTTP_ERRORS.get(code, Error)(
                    f"POST {self.url}/v1/galleries/{self.gallery}/search: {msg}")
                e.http_status = code
                raise e
            sc, count, live, version, ids, self.last_requests, _ = out
            if ids is not None:
                ids = np.asarray([int(i) for i in ids], np.int64) if self.int_ids else \
                    np.array(ids, dtype=object)
                if version:
                    self._ids_version, self._ids = version, ids
            else:
                ids = self._ids
        return np.frombuffer(sc, dtype=np.int64).reshape(count, live), ids, scale

    def search(self, q, k=10):
        """(D, I) as Index.search, ranked here from the server's response."""
        k = int(k)
        if k < 1:
            raise ValueError("k must be >= 1")
        scores, ids, scale = self.search_scores(q)
        return _topk(scores, ids, k, scale, not self.int_ids)


def _as_str_ids(ids, n, int_ids):
    ids = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    if n is not None and len(ids) != n:
        raise ValueError(f"ids: {len(ids)} ids for {n} rows")
    if int_ids:
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
            raise TypeError("ids: integer ids expected (int_ids=True)")
        return [str(int(i)) for i in ids]
    if not all(isinstance(i, str) for i in ids):
        raise TypeError("ids: str expected (or int_ids=True)")
    return ids


def encrypt_query(keys, q, scale=None):
    """Key holder: the query record (bytes) of the probes q (n, d), quantised
    at the gallery's scale (default: default_scale(d, keys), enrolment's default)."""
    keys._need_secret("encrypt_query")
    q = _matrix(q, "q")
    if scale is None:
        scale = default_scale(q.shape[1], keys)
    qq = _hers.quantize(q, q.shape[0], q.shape[1], int(scale))
    query = _hers.query_encrypt(keys._p, keys._sk, qq, q.shape[0], q.shape[1], int(scale))
    return _hers.query_to_bytes(keys._p, query)


def decrypt_results(keys, results):
    """Key holder: integer scores (nq, templates) from result records (bytes,
    or the list Index.search_bytes returns; padding slots included)."""
    keys._need_secret("decrypt_results")
    if isinstance(results, (bytes, bytearray, memoryview)):
        results = [results]
    cols = []
    for b in results:
        r = _hers.result_from_bytes(keys._p, bytes(b))
        m, n = _hers.result_shape(r)
        cols.append(np.frombuffer(_hers.result_decrypt(keys._p, keys._sk, r),
                                  dtype=np.int64).reshape(m, n))
    return np.concatenate(cols, axis=1)


class Model:
    """A dimensionality reduction (PCA or DeepMDS++) in the model file format
    of `hers fit` (checksummed, versioned)."""

    def __init__(self, capsule):
        self._m = capsule
        self.in_dim, self.out_dim, self.id = _hers.model_dims(capsule)

    def transform(self, x):
        x = _matrix(x, "x", self.in_dim)
        out = _hers.model_apply(self._m, x, x.shape[0], self.in_dim)
        return np.frombuffer(out, dtype=np.float32).reshape(x.shape[0], self.out_dim)

    def save(self, path):
        _hers.model_save(self._m, os.fspath(path))

    @classmethod
    def load(cls, path):
        return cls(_hers.model_load(os.fspath(path)))


def fit_pca(x, dim):
    x = _matrix(x)
    return Model(_hers.pca_fit(x, x.shape[0], x.shape[1], int(dim)))


def fit_deepmds(x, labels, dim):
    x = _matrix(x)
    lab = np.ascontiguousarray(np.asarray(labels), dtype=np.int32)
    if lab.shape != (x.shape[0],):
        raise ValueError(f"labels: need shape ({x.shape[0]},), got {lab.shape}")
    return Model(_hers.deepmds_fit(x, lab, x.shape[0], x.shape[1], int(dim)))


def intrinsic_dimension(x, method="geodesic", k=0, sample=-1, full=False):
    """The intrinsic dimensionality of the rows of x (the geodesic estimator
    of the HERS paper by default; "twonn" and "mle" too). full=True returns
    the estimator's details as a dict."""
    x = _matrix(x)
    r = _hers.intrinsic_dimension(x, x.shape[0], x.shape[1], method, int(k), int(sample))
    return r if full else r["id"]
