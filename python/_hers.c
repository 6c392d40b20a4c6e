/*
 * _hers.c - the CPython binding of libhers (public API only: include/hers).
 *
 * Thin and explicit: each function wraps one library call. Library objects
 * travel as capsules (one capsule name per type, freed by the capsule's
 * destructor). Arrays come in through the buffer protocol: a C-contiguous
 * float32 / int32 buffer is read in place (the Python layer converts
 * anything else once, with numpy), and results go out as bytes objects that
 * numpy views without a copy (np.frombuffer). The GIL is released around
 * every encryption, index build, search, decryption and model fit. A
 * library error raises hers.Error (or the subclass of its status) carrying
 * hers_last_error().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include <hers/hers_bfv.h>
#include <hers/hers_idim.h>
#include <hers/hers_mem.h>
#include <hers/hers_net.h>
#include <hers/hers_quant.h>
#include <hers/hers_reduce.h>
#include <hers/hers_search.h>
#include <hers/hers_serial.h>
#include <hers/hers_store.h>
#include <hers/hers_version.h>

/* ------------------------------------------------------------ errors */

static PyObject *Error;                       /* hers.Error */
static PyObject *status_errors[HERS_ERR_INTERNAL + 1];

static const char *const status_class[HERS_ERR_INTERNAL + 1] = {
    NULL, "ArgumentError", "NoMemoryError", "IOError", "FormatError", "VersionError",
    "ChecksumError", "ParamsError", "InsecureError", "MismatchError", "NoiseError",
    "UnsupportedError", "CryptoError", "StateError", "NotFoundError", "ExistsError",
    "NumericError", "InternalError"};

static PyObject *raise_status(hers_status s)
{
    PyObject *cls = (s > 0 && s <= HERS_ERR_INTERNAL && status_errors[s]) ? status_errors[s] : Error;
    /* str(e) is the library's message; e.status its hers_status code */
    PyObject *exc = PyObject_CallFunction(cls, "s", hers_last_error());
    if (exc) {
        PyObject *code = PyLong_FromLong((long)s);
        if (code) {
            PyObject_SetAttrString(exc, "status", code);
            Py_DECREF(code);
        }
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* ------------------------------------------------------------ capsules */

/* The client's catalog cache (hers_client_search replaces its catalog). */
typedef struct catcache {
    hers_net_catalog *c;
} catcache;

static void catcache_free(catcache *h)
{
    if (h) {
        hers_net_catalog_free(h->c);
        free(h);
    }
}

#define CAPSULE_TYPES(X)                                                                           \
    X(params, hers_params, hers_params_free)                                                       \
    X(secret_key, hers_secret_key, hers_secret_key_free)                                           \
    X(public_key, hers_public_key, hers_public_key_free)                                           \
    X(relin_key, hers_relin_key, hers_relin_key_free)                                              \
    X(gallery, hers_gallery, hers_gallery_free)                                                    \
    X(index, hers_index, hers_index_free)                                                          \
    X(query, hers_query, hers_query_free)                                                          \
    X(result, hers_result, hers_result_free)                                                       \
    X(searcher, hers_searcher, hers_searcher_free)                                                 \
    X(client, hers_client, hers_client_free)                                                       \
    X(catcache, catcache, catcache_free)                                                           \
    X(model, hers_reduce_model, hers_reduce_model_free)

#define CAPSULE_FUNCS(name, type, freefn)                                                          \
    static void name##_destroy(PyObject *cap)                                                      \
    {                                                                                              \
        freefn((type *)PyCapsule_GetPointer(cap, "hers." #name));                                  \
    }                                                                                              \
    static PyObject *name##_wrap(type *obj)                                                        \
    {                                                                                              \
        PyObject *c = PyCapsule_New(obj, "hers." #name, name##_destroy);                           \
        if (!c)                                                                                    \
            freefn(obj);                                                                           \
        return c;                                                                                  \
    }                                                                                              \
    static type *name##_get(PyObject *cap)                                                         \
    {                                                                                              \
        return (type *)PyCapsule_GetPointer(cap, "hers." #name);                                   \
    }
CAPSULE_TYPES(CAPSULE_FUNCS)

/* ------------------------------------------------------------ buffers */

/* A C-contiguous buffer of exactly `count` items of `itemsize` bytes with
 * the struct format `fmt` ("f" float32, "i" int32), or raw bytes of that
 * length. */
static int get_array(PyObject *obj, Py_buffer *view, const char *fmt, Py_ssize_t itemsize,
                     Py_ssize_t count, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    /* raw bytes (what this module returns, e.g. quantize) are taken by length */
    int raw = view->itemsize == 1 && strcmp(f, "B") == 0;
    if ((!raw && (view->itemsize != itemsize || strcmp(f, fmt) != 0)) ||
        view->len != count * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: need %zd contiguous items of format '%s' (got %zd "
                     "bytes of '%s')", what, count, fmt, view->len, view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *bytes_of(const void *p, size_t n)
{
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

/* ------------------------------------------------------------ parameters and keys */

static PyObject *py_params(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    hers_params *p = NULL;
    hers_status s = hers_params_create_named(&p, name);
    return s ? raise_status(s) : params_wrap(p);
}

static PyObject *py_params_info(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc;
    if (!PyArg_ParseTuple(args, "O", &pc))
        return NULL;
    hers_params *p = params_get(pc);
    if (!p)
        return NULL;
    return Py_BuildValue("{s:s,s:n,s:K,s:n}", "name", hers_params_name(p), "n",
                         (Py_ssize_t)hers_params_n(p), "t", (unsigned long long)hers_params_t(p),
                         "primes", (Py_ssize_t)hers_params_num_primes(p));
}

static PyObject *py_keygen(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc;
    if (!PyArg_ParseTuple(args, "O", &pc))
        return NULL;
    hers_params *p = params_get(pc);
    if (!p)
        return NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_keygen_secret(p, &sk);
    if (!s)
        s = hers_keygen_public(p, sk, &pk);
    if (!s)
        s = hers_keygen_relin(p, sk, &rk);
    Py_END_ALLOW_THREADS
    if (s) {
        hers_secret_key_free(sk);
        hers_public_key_free(pk);
        hers_relin_key_free(rk);
        return raise_status(s);
    }
    PyObject *a = secret_key_wrap(sk), *b = public_key_wrap(pk), *c = relin_key_wrap(rk);
    if (!a || !b || !c) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_XDECREF(c);
        return NULL;
    }
    return Py_BuildValue("(NNN)", a, b, c);
}

/* save_keys(dir_prefix, params, sk|None, pk, rk|None, passphrase|None):
 * the key directory layout of `hers keygen` (params.hers, secret.key mode
 * 0600, public.key, relin.key); dir must exist. */
static PyObject *py_save_keys(PyObject *self, PyObject *args)
{
    (void)self;
    const char *dir;
    PyObject *pc, *skc, *pkc, *rkc;
    Py_buffer pass = {0};
    int has_pass = 0;
    if (!PyArg_ParseTuple(args, "sOOOO|z*", &dir, &pc, &skc, &pkc, &rkc, &pass))
        return NULL;
    has_pass = pass.buf != NULL;
    hers_params *p = params_get(pc);
    hers_secret_key *sk = skc == Py_None ? NULL : secret_key_get(skc);
    hers_public_key *pk = public_key_get(pkc);
    hers_relin_key *rk = rkc == Py_None ? NULL : relin_key_get(rkc);
    if (!p || !pk || (skc != Py_None && !sk) || (rkc != Py_None && !rk)) {
        if (has_pass)
            PyBuffer_Release(&pass);
        return NULL;
    }
    char path[4096];
    hers_status s;
    snprintf(path, sizeof path, "%s/params.hers", dir);
    s = hers_params_write(path, p);
    if (!s && sk) {
        snprintf(path, sizeof path, "%s/secret.key", dir);
        s = has_pass ? hers_secret_key_write_protected(path, p, sk, pass.buf, (size_t)pass.len)
                     : hers_secret_key_write(path, p, sk);
    }
    if (!s) {
        snprintf(path, sizeof path, "%s/public.key", dir);
        s = hers_public_key_write(path, p, pk);
    }
    if (!s && rk) {
        snprintf(path, sizeof path, "%s/relin.key", dir);
        s = hers_relin_key_write(path, p, rk);
    }
    if (has_pass)
        PyBuffer_Release(&pass);
    if (s)
        return raise_status(s);
    Py_RETURN_NONE;
}

/* load_keys(dir, passphrase|None) -> (params, sk|None, pk, rk|None) */
static PyObject *py_load_keys(PyObject *self, PyObject *args)
{
    (void)self;
    const char *dir;
    Py_buffer pass = {0};
    if (!PyArg_ParseTuple(args, "s|z*", &dir, &pass))
        return NULL;
    char path[4096];
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    hers_status s;
    FILE *f;
    snprintf(path, sizeof path, "%s/params.hers", dir);
    s = hers_params_read(path, &p);
    if (!s) {
        snprintf(path, sizeof path, "%s/secret.key", dir);
        if ((f = fopen(path, "rb")) != NULL) {
            fclose(f);
            s = pass.buf ? hers_secret_key_read_protected(path, p, pass.buf, (size_t)pass.len, &sk)
                         : hers_secret_key_read(path, p, &sk);
        }
    }
    if (!s) {
        snprintf(path, sizeof path, "%s/public.key", dir);
        s = hers_public_key_read(path, p, &pk);
    }
    if (!s) {
        snprintf(path, sizeof path, "%s/relin.key", dir);
        if ((f = fopen(path, "rb")) != NULL) {
            fclose(f);
            s = hers_relin_key_read(path, p, &rk);
        }
    }
    if (pass.buf)
        PyBuffer_Release(&pass);
    if (s) {
        hers_relin_key_free(rk);
        hers_public_key_free(pk);
        hers_secret_key_free(sk);
        hers_params_free(p);
        return raise_status(s);
    }
    PyObject *a = params_wrap(p), *b = sk ? secret_key_wrap(sk) : (Py_INCREF(Py_None), Py_None);
    PyObject *c = public_key_wrap(pk), *d = rk ? relin_key_wrap(rk) : (Py_INCREF(Py_None), Py_None);
    if (!a || !b || !c || !d) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_XDECREF(c);
        Py_XDECREF(d);
        return NULL;
    }
    return Py_BuildValue("(NNNN)", a, b, c, d);
}

/* ------------------------------------------------------------ quantisation */

/* default_scale(d, t) -> the largest scale safe for d and t (hers_quant.h);
 * 0 when none is. */
static PyObject *py_default_scale(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t d;
    unsigned long long t;
    if (!PyArg_ParseTuple(args, "nK", &d, &t))
        return NULL;
    if (d <= 0) {
        PyErr_SetString(PyExc_ValueError, "default_scale: d >= 1 needed");
        return NULL;
    }
    return PyLong_FromUnsignedLong(hers_quant_default_scale((size_t)d, (uint64_t)t));
}

/* quantize(x float32 buffer, n, d, scale) -> bytes of n*d int32 */
static PyObject *py_quantize(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *xo;
    Py_ssize_t n, d;
    unsigned int scale;
    if (!PyArg_ParseTuple(args, "OnnI", &xo, &n, &d, &scale))
        return NULL;
    if (n < 0 || d <= 0) {
        PyErr_SetString(PyExc_ValueError, "quantize: n >= 0 and d >= 1 needed");
        return NULL;
    }
    Py_buffer x;
    if (get_array(xo, &x, "f", 4, n * d, "quantize") != 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * d * 4);
    if (!out) {
        PyBuffer_Release(&x);
        return NULL;
    }
    int32_t *q = (int32_t *)PyBytes_AS_STRING(out);
    hers_status s = HERS_OK;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !s; i++)
        if ((s = hers_quant_vector((const float *)x.buf + i * d, (size_t)d, scale, q + i * d)))
            bad = i;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    if (s) {
        Py_DECREF(out);
        hers_error(s, "row %zd: %s", bad, hers_last_error());
        return raise_status(s);
    }
    return out;
}

/* ------------------------------------------------------------ enrol, index, query, search */

/* enroll(params, sk|None, pk|None, values int32 buffer, n, d, scale, threads) -> gallery */
static PyObject *py_enroll(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *skc, *pkc, *vo;
    Py_ssize_t n, d;
    unsigned int scale, threads;
    if (!PyArg_ParseTuple(args, "OOOOnnII", &pc, &skc, &pkc, &vo, &n, &d, &scale, &threads))
        return NULL;
    hers_params *p = params_get(pc);
    hers_secret_key *sk = skc == Py_None ? NULL : secret_key_get(skc);
    hers_public_key *pk = pkc == Py_None ? NULL : public_key_get(pkc);
    if (!p || PyErr_Occurred())
        return NULL;
    Py_buffer v;
    if (n <= 0 || d <= 0) {
        PyErr_SetString(PyExc_ValueError, "enroll: n and d must be positive");
        return NULL;
    }
    if (get_array(vo, &v, "i", 4, n * d, "enroll") != 0)
        return NULL;
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    o.scale = scale;
    o.threads = threads;
    hers_gallery *g = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_gallery_enroll(p, sk, pk, (const int32_t *)v.buf, (size_t)n, (size_t)d, &o, &g);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return s ? raise_status(s) : gallery_wrap(g);
}

static PyObject *py_index_build(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *gc;
    unsigned int threads;
    if (!PyArg_ParseTuple(args, "OOI", &pc, &gc, &threads))
        return NULL;
    hers_params *p = params_get(pc);
    hers_gallery *g = gallery_get(gc);
    if (!p || !g)
        return NULL;
    hers_index *ix = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_index_build(p, g, threads, &ix);
    Py_END_ALLOW_THREADS
    return s ? raise_status(s) : index_wrap(ix);
}

/* query_encrypt(params, sk, probes int32 buffer, m, d, scale) -> query */
static PyObject *py_query_encrypt(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *skc, *vo;
    Py_ssize_t m, d;
    unsigned int scale;
    if (!PyArg_ParseTuple(args, "OOOnnI", &pc, &skc, &vo, &m, &d, &scale))
        return NULL;
    hers_params *p = params_get(pc);
    hers_secret_key *sk = secret_key_get(skc);
    if (!p || !sk)
        return NULL;
    if (m <= 0 || d <= 0) {
        PyErr_SetString(PyExc_ValueError, "query: m and d must be positive");
        return NULL;
    }
    Py_buffer v;
    if (get_array(vo, &v, "i", 4, m * d, "query") != 0)
        return NULL;
    hers_query *q = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_query_encrypt(p, sk, NULL, (const int32_t *)v.buf, (size_t)m, (size_t)d, scale, NULL, &q);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return s ? raise_status(s) : query_wrap(q);
}

static PyObject *py_searcher(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned int threads;
    if (!PyArg_ParseTuple(args, "I", &threads))
        return NULL;
    hers_searcher *sr = NULL;
    hers_status s = hers_searcher_create(threads, &sr);
    return s ? raise_status(s) : searcher_wrap(sr);
}

/* search(searcher, params, index, query) -> result. A searcher runs one
 * search at a time: the Python layer gives each thread its own. */
static PyObject *py_search(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *sc, *pc, *ic, *qc;
    if (!PyArg_ParseTuple(args, "OOOO", &sc, &pc, &ic, &qc))
        return NULL;
    hers_searcher *sr = searcher_get(sc);
    hers_params *p = params_get(pc);
    hers_index *ix = index_get(ic);
    hers_query *q = query_get(qc);
    if (!sr || !p || !ix || !q)
        return NULL;
    hers_result *r = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_search(sr, p, ix, q, NULL, &r);
    Py_END_ALLOW_THREADS
    return s ? raise_status(s) : result_wrap(r);
}

/* result_decrypt(params, sk, result) -> bytes of count x n int64 */
static PyObject *py_result_decrypt(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *skc, *rc;
    if (!PyArg_ParseTuple(args, "OOO", &pc, &skc, &rc))
        return NULL;
    hers_params *p = params_get(pc);
    hers_secret_key *sk = secret_key_get(skc);
    hers_result *r = result_get(rc);
    if (!p || !sk || !r)
        return NULL;
    size_t count = hers_result_count(r), n = hers_result_n(r);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * n * 8));
    if (!out)
        return NULL;
    int64_t *sc = (int64_t *)PyBytes_AS_STRING(out);
    hers_status s = HERS_OK;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < count && !s; i++)
        s = hers_result_decrypt(p, sk, r, i, sc + i * n);
    Py_END_ALLOW_THREADS
    if (s) {
        Py_DECREF(out);
        return raise_status(s);
    }
    return out;
}

static PyObject *py_result_shape(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *rc;
    if (!PyArg_ParseTuple(args, "O", &rc))
        return NULL;
    hers_result *r = result_get(rc);
    if (!r)
        return NULL;
    return Py_BuildValue("(nn)", (Py_ssize_t)hers_result_count(r), (Py_ssize_t)hers_result_n(r));
}

/* ------------------------------------------------------------ wire records */

#define TO_BYTES(name, type, fn)                                                                   \
    static PyObject *py_##name##_to_bytes(PyObject *self, PyObject *args)                          \
    {                                                                                              \
        (void)self;                                                                                \
        PyObject *pc, *oc;                                                                         \
        if (!PyArg_ParseTuple(args, "OO", &pc, &oc))                                               \
            return NULL;                                                                           \
        hers_params *p = params_get(pc);                                                           \
        type *o = name##_get(oc);                                                                  \
        if (!p || !o)                                                                              \
            return NULL;                                                                           \
        uint8_t *buf = NULL;                                                                       \
        size_t len = 0;                                                                            \
        hers_status s;                                                                             \
        Py_BEGIN_ALLOW_THREADS s = fn(p, o, &buf, &len);                                           \
        Py_END_ALLOW_THREADS if (s) return raise_status(s);                                        \
        PyObject *b = bytes_of(buf, len);                                                          \
        hers_free(buf);                                                                            \
        return b;                                                                                  \
    }
#define FROM_BYTES(name, type, fn)                                                                 \
    static PyObject *py_##name##_from_bytes(PyObject *self, PyObject *args)                        \
    {                                                                                              \
        (void)self;                                                                                \
        PyObject *pc;                                                                              \
        Py_buffer b;                                                                               \
        if (!PyArg_ParseTuple(args, "Oy*", &pc, &b))                                               \
            return NULL;                                                                           \
        hers_params *p = params_get(pc);                                                           \
        if (!p) {                                                                                  \
            PyBuffer_Release(&b);                                                                  \
            return NULL;                                                                           \
        }                                                                                          \
        type *o = NULL;                                                                            \
        hers_status s;                                                                             \
        Py_BEGIN_ALLOW_THREADS s = fn(p, b.buf, (size_t)b.len, &o);                                \
        Py_END_ALLOW_THREADS PyBuffer_Release(&b);                                                 \
        return s ? raise_status(s) : name##_wrap(o);                                               \
    }
TO_BYTES(query, hers_query, hers_query_serialize)
FROM_BYTES(query, hers_query, hers_query_deserialize)
TO_BYTES(result, hers_result, hers_result_serialize)
FROM_BYTES(result, hers_result, hers_result_deserialize)
TO_BYTES(gallery, hers_gallery, hers_gallery_serialize)
FROM_BYTES(gallery, hers_gallery, hers_gallery_deserialize)


/* ------------------------------------------------------------ gallery database (hers_store.h) */

/* A database handle travels in a capsule around this box so that close()
 * can release the LMDB environment before the capsule dies (LMDB allows one
 * handle per environment per process). The Python layer serialises writes
 * and close against searches with a lock (hers_store.h: reads from several
 * threads, one write at a time). */
typedef struct pydb {
    hers_store *db;
} pydb;

static void db_destroy(PyObject *cap)
{
    pydb *b = (pydb *)PyCapsule_GetPointer(cap, "hers.db");
    if (b) {
        hers_store_close(b->db);
        PyMem_Free(b);
    }
}

static hers_store *db_get(PyObject *cap)
{
    pydb *b = (pydb *)PyCapsule_GetPointer(cap, "hers.db");
    if (!b)
        return NULL;
    if (!b->db) {
        PyErr_SetString(status_errors[HERS_ERR_STATE], "the database is closed");
        return NULL;
    }
    return b->db;
}

/* db_create(dir, params, pk, rk|None) */
static PyObject *py_db_create(PyObject *self, PyObject *args)
{
    (void)self;
    const char *dir;
    PyObject *pc, *pkc, *rkc;
    if (!PyArg_ParseTuple(args, "sOOO", &dir, &pc, &pkc, &rkc))
        return NULL;
    hers_params *p = params_get(pc);
    hers_public_key *pk = public_key_get(pkc);
    hers_relin_key *rk = rkc == Py_None ? NULL : relin_key_get(rkc);
    if (!p || !pk || PyErr_Occurred())
        return NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_create(dir, p, pk, rk, NULL, 0);
    Py_END_ALLOW_THREADS
    if (s)
        return raise_status(s);
    Py_RETURN_NONE;
}

/* db_open(dir, readonly) -> db */
static PyObject *py_db_open(PyObject *self, PyObject *args)
{
    (void)self;
    const char *dir;
    int readonly;
    if (!PyArg_ParseTuple(args, "sp", &dir, &readonly))
        return NULL;
    pydb *b = PyMem_Malloc(sizeof *b);
    if (!b)
        return PyErr_NoMemory();
    b->db = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_open(dir, readonly, &b->db);
    Py_END_ALLOW_THREADS
    if (s) {
        PyMem_Free(b);
        return raise_status(s);
    }
    PyObject *c = PyCapsule_New(b, "hers.db", db_destroy);
    if (!c) {
        hers_store_close(b->db);
        PyMem_Free(b);
    }
    return c;
}

static PyObject *py_db_close(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap))
        return NULL;
    pydb *b = (pydb *)PyCapsule_GetPointer(cap, "hers.db");
    if (!b)
        return NULL;
    hers_store_close(b->db);
    b->db = NULL;
    Py_RETURN_NONE;
}

/* db_info(db) -> dict */
static PyObject *py_db_info(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap))
        return NULL;
    hers_store *db = db_get(cap);
    if (!db)
        return NULL;
    hers_store_info in;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_get_info(db, &in);
    Py_END_ALLOW_THREADS
    if (s)
        return raise_status(s);
    return Py_BuildValue("{s:n,s:K,s:s,s:i,s:n,s:I,s:s,s:K,s:K,s:K,s:K,s:K}",
                         "N", (Py_ssize_t)in.N, "t", (unsigned long long)in.t,
                         "params", in.params_name, "has_gallery", in.has_gallery,
                         "d", (Py_ssize_t)in.d, "scale", (unsigned)in.scale,
                         "mode", hers_search_mode_name(in.mode),
                         "next_slot", (unsigned long long)in.next_slot,
                         "live", (unsigned long long)in.live,
                         "segments", (unsigned long long)in.segments,
                         "blocks", (unsigned long long)in.blocks,
                         "file_bytes", (unsigned long long)in.file_bytes);
}

/* db_check_key(db, sk): MismatchError unless sk is the database's key. */
static PyObject *py_db_check_key(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *skc;
    if (!PyArg_ParseTuple(args, "OO", &cap, &skc))
        return NULL;
    hers_store *db = db_get(cap);
    hers_secret_key *sk = db ? secret_key_get(skc) : NULL;
    if (!db || !sk)
        return NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_check_secret_key(db, sk);
    Py_END_ALLOW_THREADS
    if (s)
        return raise_status(s);
    Py_RETURN_NONE;
}

/* A list of str as UTF-8 C strings (pointers into the list's str objects,
 * valid while `list` lives). NULL with an exception on anything else. */
static const char **id_strings(PyObject *list, Py_ssize_t want)
{
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != want) {
        PyErr_Format(PyExc_ValueError, "ids: need a list of %zd str", want);
        return NULL;
    }
    const char **v = PyMem_Calloc((size_t)(want ? want : 1), sizeof *v);
    if (!v)
        return (const char **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < want; i++) {
        PyObject *o = PyList_GET_ITEM(list, i);
        Py_ssize_t len;
        v[i] = PyUnicode_Check(o) ? PyUnicode_AsUTF8AndSize(o, &len) : NULL;
        if (!v[i]) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "ids[%zd]: need a str", i);
            PyMem_Free(v);
            return NULL;
        }
        const char *why = hers_id_problem(v[i], (size_t)len);
        if (why || strlen(v[i]) != (size_t)len) {
            PyErr_Format(PyExc_ValueError, "ids[%zd] = %R: %s", i, o, why ? why : "NUL byte");
            PyMem_Free(v);
            return NULL;
        }
    }
    return v;
}

/* db_enroll(db, sk, values int32 buffer, m, d, ids list[str], scale, threads) -> first slot */
static PyObject *py_db_enroll(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *skc, *vo, *idl;
    Py_ssize_t m, d;
    unsigned int scale, threads;
    if (!PyArg_ParseTuple(args, "OOOnnOII", &cap, &skc, &vo, &m, &d, &idl, &scale, &threads))
        return NULL;
    hers_store *db = db_get(cap);
    hers_secret_key *sk = db ? secret_key_get(skc) : NULL;
    if (!db || !sk)
        return NULL;
    if (m <= 0 || d <= 0) {
        PyErr_SetString(PyExc_ValueError, "db_enroll: m and d must be positive");
        return NULL;
    }
    const char **ids = id_strings(idl, m);
    if (!ids)
        return NULL;
    Py_buffer v;
    if (get_array(vo, &v, "i", 4, m * d, "db_enroll") != 0) {
        PyMem_Free(ids);
        return NULL;
    }
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.scale = scale;
    o.threads = threads;
    uint64_t first = 0;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_enroll(db, sk, NULL, (const int32_t *)v.buf, (size_t)m, (size_t)d,
                       (const char *const *)ids, &o, &first);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    PyMem_Free(ids);
    return s ? raise_status(s) : PyLong_FromUnsignedLongLong(first);
}

/* db_enroll_gallery(db, params, gallery, ids list[str], scale, threads): a
 * gallery encrypted in memory (offset 0: it starts at a fresh block), stored
 * unchanged through its serialised record. */
static PyObject *py_db_enroll_gallery(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *pc, *gc, *idl;
    unsigned int scale, threads;
    if (!PyArg_ParseTuple(args, "OOOOII", &cap, &pc, &gc, &idl, &scale, &threads))
        return NULL;
    hers_store *db = db_get(cap);
    hers_params *p = db ? params_get(pc) : NULL;
    hers_gallery *g = p ? gallery_get(gc) : NULL;
    if (!db || !p || !g)
        return NULL;
    Py_ssize_t m = PyList_Check(idl) ? PyList_GET_SIZE(idl) : -1;
    const char **ids = id_strings(idl, m);
    if (!ids)
        return NULL;
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.scale = scale;
    o.threads = threads;
    uint8_t *rec = NULL;
    size_t len = 0;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_gallery_serialize(p, g, &rec, &len);
    if (!s)
        s = hers_store_enroll_record(db, rec, len, 0, (size_t)m, (const char *const *)ids, &o, NULL);
    Py_END_ALLOW_THREADS
    hers_free(rec);
    PyMem_Free(ids);
    if (s)
        return raise_status(s);
    Py_RETURN_NONE;
}

/* db_delete(db, ids list[str]) */
static PyObject *py_db_delete(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *idl;
    if (!PyArg_ParseTuple(args, "OO", &cap, &idl))
        return NULL;
    hers_store *db = db_get(cap);
    if (!db)
        return NULL;
    Py_ssize_t m = PyList_Check(idl) ? PyList_GET_SIZE(idl) : -1;
    const char **ids = id_strings(idl, m);
    if (!ids)
        return NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_delete(db, (const char *const *)ids, (size_t)m);
    Py_END_ALLOW_THREADS
    PyMem_Free(ids);
    if (s)
        return raise_status(s);
    Py_RETURN_NONE;
}

/* db_search(db, searcher, query) -> (result, ids): the result over every slot
 * of one snapshot and, per slot, its id (str) or None (deleted, padding). */
static PyObject *py_db_search(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *sc, *qc;
    if (!PyArg_ParseTuple(args, "OOO", &cap, &sc, &qc))
        return NULL;
    hers_store *db = db_get(cap);
    hers_searcher *sr = db ? searcher_get(sc) : NULL;
    hers_query *q = sr ? query_get(qc) : NULL;
    if (!db || !sr || !q)
        return NULL;
    hers_store_snapshot *snap = NULL;
    hers_result *r = NULL;
    hers_status s;
    uint64_t slots = 0;
    Py_BEGIN_ALLOW_THREADS
    s = hers_store_snapshot_open(db, &snap);
    if (!s) {
        slots = hers_store_snapshot_slots(snap);
        if (slots)
            s = hers_store_search(snap, sr, q, NULL, &r, NULL);
    }
    Py_END_ALLOW_THREADS
    if (s) {
        hers_store_snapshot_close(snap);
        return raise_status(s);
    }
    PyObject *ids = PyList_New((Py_ssize_t)slots);
    for (uint64_t x = 0; ids && x < slots; x++) {
        const char *id = hers_store_snapshot_id(snap, x);
        PyObject *o = id ? PyUnicode_DecodeUTF8(id, (Py_ssize_t)strlen(id), "strict")
                         : Py_NewRef(Py_None);
        if (!o)
            Py_CLEAR(ids);
        else
            PyList_SET_ITEM(ids, (Py_ssize_t)x, o);
    }
    hers_store_snapshot_close(snap);
    if (!ids) {
        hers_result_free(r);
        return NULL;
    }
    if (!r)
        return Py_BuildValue("(ON)", Py_None, ids);
    PyObject *rc = result_wrap(r);
    if (!rc) {
        Py_DECREF(ids);
        return NULL;
    }
    return Py_BuildValue("(NN)", rc, ids);
}


/* ------------------------------------------------------------ service client (hers_net.h) */

/* client_create(url, token|None, cacert|None) -> client */
static PyObject *py_client_create(PyObject *self, PyObject *args)
{
    (void)self;
    const char *url, *token, *cacert;
    if (!PyArg_ParseTuple(args, "szz", &url, &token, &cacert))
        return NULL;
    hers_client *c = NULL;
    hers_status s = hers_client_create(url, token, cacert, &c);
    return s ? raise_status(s) : client_wrap(c);
}

/* client_call(client, method, path, body|None, content_type|None) -> (http status, bytes).
 * One call at a time per client (the Python layer locks). */
static PyObject *py_client_call(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cc, *bo;
    const char *method, *path, *type;
    if (!PyArg_ParseTuple(args, "OssOz", &cc, &method, &path, &bo, &type))
        return NULL;
    hers_client *c = client_get(cc);
    if (!c)
        return NULL;
    Py_buffer b = {0};
    if (bo != Py_None && PyObject_GetBuffer(bo, &b, PyBUF_SIMPLE) != 0)
        return NULL;
    uint8_t *resp = NULL;
    size_t len = 0;
    long code = 0;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_client_call(c, method, path, bo == Py_None ? NULL : b.buf,
                         bo == Py_None ? 0 : (size_t)b.len, type, &resp, &len, &code);
    Py_END_ALLOW_THREADS
    if (bo != Py_None)
        PyBuffer_Release(&b);
    if (s)
        return raise_status(s);
    PyObject *out = Py_BuildValue("(ly#)", code, resp ? (const char *)resp : "", (Py_ssize_t)len);
    free(resp);   /* malloc'ed by the client (hers_net.h) */
    return out;
}

/* catcache_new() -> an empty catalog cache for client_search */
static PyObject *py_catcache_new(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    catcache *h = calloc(1, sizeof *h);
    if (!h)
        return PyErr_NoMemory();
    return catcache_wrap(h);
}

/* client_search(client, gallery, p, sk, query bytes, result|None, cache, ids_version)
 *   -> (int64 scores bytes probes x live, probes, live, catalog version, [ids] | None,
 *       requests, catalog fetched), or (None, HTTP status, message) for an HTTP error
 * hers_client_search with the cache, then the key holder's decryption; the
 * ids come back only when their version is not ids_version (the caller keeps
 * the list of that version) or the response had no version (a v1 server). */
static PyObject *py_client_search(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cc, *pc, *skc, *cachec;
    const char *gallery, *result;
    Py_buffer q;
    unsigned long long idsv;
    if (!PyArg_ParseTuple(args, "OsOOy*zOK", &cc, &gallery, &pc, &skc, &q, &result, &cachec,
                          &idsv))
        return NULL;
    hers_client *c = client_get(cc);
    hers_params *p = c ? params_get(pc) : NULL;
    hers_secret_key *sk = p ? secret_key_get(skc) : NULL;
    catcache *h = sk ? catcache_get(cachec) : NULL;
    if (!h) {
        PyBuffer_Release(&q);
        return NULL;
    }
    hers_net_response *r = NULL;
    hers_client_search_stats ss;
    long code = 0;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_client_search(c, gallery, p, q.buf, (size_t)q.len, result, &h->c, &r, &code, &ss);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&q);
    if (s && code >= 400)   /* (None, HTTP status, message): the caller maps the status */
        return Py_BuildValue("(Ols)", Py_None, code, hers_last_error());
    if (s)
        return raise_status(s);
    size_t count = hers_net_response_count(r), live = hers_net_response_live(r);
    uint64_t ver = hers_net_response_catalog_version(r);
    PyObject *scores = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * live * 8));
    PyObject *ids = Py_None;
    Py_INCREF(ids);
    if (scores && (ver == 0 || ver != idsv)) {
        Py_DECREF(ids);
        ids = PyList_New((Py_ssize_t)live);
        for (size_t i = 0; ids && i < live; i++) {
            const char *id = hers_net_response_id(r, i);
            PyObject *o = PyUnicode_DecodeUTF8(id ? id : "", id ? (Py_ssize_t)strlen(id) : 0,
                                               "strict");
            if (!o)
                Py_CLEAR(ids);
            else
                PyList_SET_ITEM(ids, (Py_ssize_t)i, o);
        }
    }
    if (!scores || !ids) {
        Py_XDECREF(scores);
        Py_XDECREF(ids);
        hers_net_response_free(r);
        return NULL;
    }
    int64_t *sc = (int64_t *)PyBytes_AS_STRING(scores);
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < count && !s; i++)
        s = hers_net_response_decrypt(p, sk, r, i, sc + i * live);
    Py_END_ALLOW_THREADS
    hers_net_response_free(r);
    if (s) {
        Py_DECREF(scores);
        Py_DECREF(ids);
        return raise_status(s);
    }
    return Py_BuildValue("(NnnKNni)", scores, (Py_ssize_t)count, (Py_ssize_t)live,
                         (unsigned long long)ver, ids, (Py_ssize_t)ss.requests,
                         ss.catalog_fetched);
}

/* net_init_encode(p, pk, rk|None) -> HERSINI bytes (public material only) */
static PyObject *py_net_init_encode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *pkc, *rkc;
    if (!PyArg_ParseTuple(args, "OOO", &pc, &pkc, &rkc))
        return NULL;
    hers_params *p = params_get(pc);
    hers_public_key *pk = p ? public_key_get(pkc) : NULL;
    hers_relin_key *rk = rkc == Py_None ? NULL : relin_key_get(rkc);
    if (!p || !pk || PyErr_Occurred())
        return NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_net_init_encode(p, pk, rk, NULL, NULL, 0, &buf, &len);
    Py_END_ALLOW_THREADS
    if (s)
        return raise_status(s);
    PyObject *b = bytes_of(buf, len);
    hers_free(buf);
    return b;
}

/* net_enroll_encode(p, gallery of offset + m rows, offset, ids list[str]|None, m, replace) -> HERSENR */
static PyObject *py_net_enroll_encode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *gc, *idl;
    Py_ssize_t offset, m;
    int replace;
    if (!PyArg_ParseTuple(args, "OOnOnp", &pc, &gc, &offset, &idl, &m, &replace))
        return NULL;
    hers_params *p = params_get(pc);
    hers_gallery *g = p ? gallery_get(gc) : NULL;
    if (!p || !g)
        return NULL;
    if (offset < 0 || m <= 0) {
        PyErr_SetString(PyExc_ValueError, "net_enroll_encode: need offset >= 0 and m > 0");
        return NULL;
    }
    const char **ids = NULL;
    if (idl != Py_None && !(ids = id_strings(idl, m)))
        return NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_net_enroll_encode(p, g, (size_t)offset, (const char *const *)ids, (size_t)m, replace,
                               NULL, 0, &buf, &len);
    Py_END_ALLOW_THREADS
    PyMem_Free(ids);
    if (s)
        return raise_status(s);
    PyObject *b = bytes_of(buf, len);
    hers_free(buf);
    return b;
}

/* net_response_decrypt(p, sk, HERSRSP bytes) -> (int64 bytes probes x live, [ids], probes, live):
 * the key holder's scores of every live entry, in slot order. */
static PyObject *py_net_response_decrypt(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pc, *skc;
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "OOy*", &pc, &skc, &b))
        return NULL;
    hers_params *p = params_get(pc);
    hers_secret_key *sk = p ? secret_key_get(skc) : NULL;
    if (!p || !sk) {
        PyBuffer_Release(&b);
        return NULL;
    }
    hers_net_response *r = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_net_response_decode(p, b.buf, (size_t)b.len, &r);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    if (s)
        return raise_status(s);
    size_t count = hers_net_response_count(r), live = hers_net_response_live(r);
    PyObject *scores = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * live * 8));
    PyObject *ids = scores ? PyList_New((Py_ssize_t)live) : NULL;
    for (size_t i = 0; ids && i < live; i++) {
        const char *id = hers_net_response_id(r, i);
        PyObject *o = PyUnicode_DecodeUTF8(id ? id : "", id ? (Py_ssize_t)strlen(id) : 0, "strict");
        if (!o)
            Py_CLEAR(ids);
        else
            PyList_SET_ITEM(ids, (Py_ssize_t)i, o);
    }
    if (!ids) {
        Py_XDECREF(scores);
        hers_net_response_free(r);
        return NULL;
    }
    int64_t *sc = (int64_t *)PyBytes_AS_STRING(scores);
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < count && !s; i++)
        s = hers_net_response_decrypt(p, sk, r, i, sc + i * live);
    Py_END_ALLOW_THREADS
    hers_net_response_free(r);
    if (s) {
        Py_DECREF(scores);
        Py_DECREF(ids);
        return raise_status(s);
    }
    return Py_BuildValue("(NNnn)", scores, ids, (Py_ssize_t)count, (Py_ssize_t)live);
}

/* ------------------------------------------------------------ reduction */

static PyObject *py_intrinsic_dimension(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *xo;
    Py_ssize_t n, d, k, sample;
    const char *method;
    if (!PyArg_ParseTuple(args, "Onnsnn", &xo, &n, &d, &method, &k, &sample))
        return NULL;
    Py_buffer x;
    if (n <= 0 || d <= 0 || get_array(xo, &x, "f", 4, n * d, "intrinsic_dimension") != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "intrinsic_dimension: empty input");
        return NULL;
    }
    hers_idim_params ip;
    hers_idim_params_default(&ip);
    hers_status s = hers_idim_method_parse(method, &ip.method);
    if (k > 0)
        ip.k = (size_t)k;
    if (sample >= 0)
        ip.sample = (size_t)sample;
    hers_matrix m = {(size_t)n, (size_t)d, (float *)x.buf};
    hers_idim_result r;
    if (!s) {
        Py_BEGIN_ALLOW_THREADS
        s = hers_idim_estimate(&m, &ip, &r);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&x);
    if (s)
        return raise_status(s);
    return Py_BuildValue("{s:I,s:d,s:d,s:n,s:s}", "id", r.id, "id_fit", r.id_fit, "rmse", r.rmse,
                         "n", (Py_ssize_t)r.n, "method", hers_idim_method_name(r.method));
}

static PyObject *py_pca_fit(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *xo;
    Py_ssize_t n, d, dim;
    if (!PyArg_ParseTuple(args, "Onnn", &xo, &n, &d, &dim))
        return NULL;
    Py_buffer x;
    if (n <= 0 || d <= 0 || dim <= 0 || get_array(xo, &x, "f", 4, n * d, "fit_pca") != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "fit_pca: n, d and dim must be positive");
        return NULL;
    }
    hers_matrix m = {(size_t)n, (size_t)d, (float *)x.buf};
    hers_reduce_model *model = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_pca_fit(&m, (size_t)dim, 0, &model);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    return s ? raise_status(s) : model_wrap(model);
}

static PyObject *py_deepmds_fit(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *xo, *lo;
    Py_ssize_t n, d, dim;
    if (!PyArg_ParseTuple(args, "OOnnn", &xo, &lo, &n, &d, &dim))
        return NULL;
    Py_buffer x, l;
    if (n <= 0 || d <= 0 || dim <= 0) {
        PyErr_SetString(PyExc_ValueError, "fit_deepmds: n, d and dim must be positive");
        return NULL;
    }
    if (get_array(xo, &x, "f", 4, n * d, "fit_deepmds") != 0)
        return NULL;
    if (get_array(lo, &l, "i", 4, n, "fit_deepmds labels") != 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    hers_matrix m = {(size_t)n, (size_t)d, (float *)x.buf};
    hers_labels lab = {(size_t)n, (int32_t *)l.buf};
    hers_deepmds_options o;
    hers_deepmds_options_default(&o, (size_t)n, (size_t)d, (size_t)dim);
    hers_reduce_model *model = NULL;
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_deepmds_fit(&m, &lab, &o, NULL, NULL, &model);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyBuffer_Release(&l);
    return s ? raise_status(s) : model_wrap(model);
}

/* model_apply(model, x float32, n, d) -> bytes of n x out_dim float32 */
static PyObject *py_model_apply(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *mc, *xo;
    Py_ssize_t n, d;
    if (!PyArg_ParseTuple(args, "OOnn", &mc, &xo, &n, &d))
        return NULL;
    hers_reduce_model *m = model_get(mc);
    if (!m)
        return NULL;
    Py_buffer x;
    if (get_array(xo, &x, "f", 4, n * d, "transform") != 0)
        return NULL;
    hers_matrix in = {(size_t)n, (size_t)d, (float *)x.buf}, out = {0, 0, NULL};
    hers_status s;
    Py_BEGIN_ALLOW_THREADS
    s = hers_reduce_apply(m, &in, &out);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    if (s)
        return raise_status(s);
    PyObject *b = bytes_of(out.data, out.rows * out.cols * sizeof(float));
    hers_matrix_free(&out);
    return b;
}

static PyObject *py_model_dims(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *mc;
    if (!PyArg_ParseTuple(args, "O", &mc))
        return NULL;
    hers_reduce_model *m = model_get(mc);
    if (!m)
        return NULL;
    char hex[2 * HERS_MODEL_ID_BYTES + 1];
    hers_status s = hers_reduce_model_id_hex(m, hex);
    if (s)
        return raise_status(s);
    return Py_BuildValue("(nns)", (Py_ssize_t)m->in_dim, (Py_ssize_t)m->out_dim, hex);
}

static PyObject *py_model_save(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *mc;
    const char *path;
    if (!PyArg_ParseTuple(args, "Os", &mc, &path))
        return NULL;
    hers_reduce_model *m = model_get(mc);
    if (!m)
        return NULL;
    hers_status s = hers_reduce_model_save(m, path);
    if (s)
        return raise_status(s);
    Py_RETURN_NONE;
}

static PyObject *py_model_load(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    hers_reduce_model *m = NULL;
    hers_status s = hers_reduce_model_load(path, &m);
    return s ? raise_status(s) : model_wrap(m);
}

static PyObject *py_version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyUnicode_FromString(hers_version_string());
}

static PyMethodDef methods[] = {
    {"version", py_version, METH_NOARGS, "library version"},
    {"params", py_params, METH_VARARGS, "params(name) -> parameter set"},
    {"params_info", py_params_info, METH_VARARGS, "params_info(p) -> dict"},
    {"keygen", py_keygen, METH_VARARGS, "keygen(p) -> (sk, pk, rk)"},
    {"save_keys", py_save_keys, METH_VARARGS, "save_keys(dir, p, sk|None, pk, rk|None[, pass])"},
    {"load_keys", py_load_keys, METH_VARARGS, "load_keys(dir[, pass]) -> (p, sk|None, pk, rk|None)"},
    {"default_scale", py_default_scale, METH_VARARGS,
     "default_scale(d, t) -> the largest quantisation scale safe for d and t"},
    {"quantize", py_quantize, METH_VARARGS, "quantize(x, n, d, scale) -> int32 bytes"},
    {"enroll", py_enroll, METH_VARARGS, "enroll(p, sk, pk, values, n, d, scale, threads)"},
    {"index_build", py_index_build, METH_VARARGS, "index_build(p, gallery, threads)"},
    {"query_encrypt", py_query_encrypt, METH_VARARGS, "query_encrypt(p, sk, probes, m, d, scale)"},
    {"searcher", py_searcher, METH_VARARGS, "searcher(threads)"},
    {"search", py_search, METH_VARARGS, "search(searcher, p, index, query) -> result"},
    {"result_decrypt", py_result_decrypt, METH_VARARGS, "result_decrypt(p, sk, r) -> int64 bytes"},
    {"result_shape", py_result_shape, METH_VARARGS, "result_shape(r) -> (probes, n)"},
    {"query_to_bytes", py_query_to_bytes, METH_VARARGS, "query record"},
    {"query_from_bytes", py_query_from_bytes, METH_VARARGS, "query record"},
    {"result_to_bytes", py_result_to_bytes, METH_VARARGS, "result record"},
    {"result_from_bytes", py_result_from_bytes, METH_VARARGS, "result record"},
    {"gallery_to_bytes", py_gallery_to_bytes, METH_VARARGS, "gallery record"},
    {"gallery_from_bytes", py_gallery_from_bytes, METH_VARARGS, "gallery record"},
    {"intrinsic_dimension", py_intrinsic_dimension, METH_VARARGS, "geodesic ID estimate"},
    {"pca_fit", py_pca_fit, METH_VARARGS, "pca_fit(x, n, d, dim) -> model"},
    {"deepmds_fit", py_deepmds_fit, METH_VARARGS, "deepmds_fit(x, labels, n, d, dim) -> model"},
    {"model_apply", py_model_apply, METH_VARARGS, "model_apply(m, x, n, d) -> float32 bytes"},
    {"model_dims", py_model_dims, METH_VARARGS, "model_dims(m) -> (in, out, id)"},
    {"model_save", py_model_save, METH_VARARGS, "model_save(m, path)"},
    {"model_load", py_model_load, METH_VARARGS, "model_load(path) -> model"},
    {"db_create", py_db_create, METH_VARARGS, "db_create(dir, p, pk, rk|None)"},
    {"db_open", py_db_open, METH_VARARGS, "db_open(dir, readonly) -> db"},
    {"db_close", py_db_close, METH_VARARGS, "db_close(db)"},
    {"db_info", py_db_info, METH_VARARGS, "db_info(db) -> dict"},
    {"db_check_key", py_db_check_key, METH_VARARGS, "db_check_key(db, sk)"},
    {"db_enroll", py_db_enroll, METH_VARARGS, "db_enroll(db, sk, values, m, d, ids, scale, threads)"},
    {"db_enroll_gallery", py_db_enroll_gallery, METH_VARARGS, "db_enroll_gallery(db, p, g, ids, scale, threads)"},
    {"db_delete", py_db_delete, METH_VARARGS, "db_delete(db, ids)"},
    {"db_search", py_db_search, METH_VARARGS, "db_search(db, searcher, query) -> (result|None, ids)"},
    {"client_create", py_client_create, METH_VARARGS, "client_create(url, token, cacert) -> client"},
    {"client_call", py_client_call, METH_VARARGS, "client_call(c, method, path, body, type) -> (status, bytes)"},
    {"catcache_new", py_catcache_new, METH_NOARGS, "catcache_new() -> an empty catalog cache"},
    {"client_search", py_client_search, METH_VARARGS,
     "client_search(c, gallery, p, sk, query, result, cache, ids_version) -> (scores, probes, live, version, ids|None, requests, fetched)"},
    {"net_init_encode", py_net_init_encode, METH_VARARGS, "net_init_encode(p, pk, rk) -> HERSINI"},
    {"net_enroll_encode", py_net_enroll_encode, METH_VARARGS, "net_enroll_encode(p, g, offset, ids, m, replace) -> HERSENR"},
    {"net_response_decrypt", py_net_response_decrypt, METH_VARARGS, "net_response_decrypt(p, sk, HERSRSP) -> (scores, ids, probes, live)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hers",
                                    "libhers binding (use the hers package)", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__hers(void);
PyMODINIT_FUNC PyInit__hers(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Error = PyErr_NewException("hers.Error", NULL, NULL);
    if (!Error || PyModule_AddObjectRef(m, "Error", Error) < 0)
        goto fail;
    for (int s = 1; s <= HERS_ERR_INTERNAL; s++) {
        char name[64];
        snprintf(name, sizeof name, "hers.%s", status_class[s]);
        status_errors[s] = PyErr_NewException(name, Error, NULL);
        if (!status_errors[s] || PyModule_AddObjectRef(m, status_class[s], status_errors[s]) < 0)
            goto fail;
    }
    if (PyModule_AddIntConstant(m, "PAPER_SCALE", HERS_QUANT_PAPER_SCALE) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
