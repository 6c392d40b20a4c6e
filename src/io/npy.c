/* npy.c - NumPy .npy reader (v1/v2/v3, C order) and writer (v1, <f4/<i4). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "io/io_src.h"

#define NPY_MAX_NDIM 8
#define NPY_MAX_HEADER ((uint32_t)1 << 20)   /* numpy writes < 10 KiB */
#define NPY_MAX_EXTENT ((uint64_t)1 << 62)   /* any single shape entry */

typedef enum { T_F4, T_F8, T_U1, T_I1, T_I2, T_I4, T_I8, T_U2, T_U4, T_U8 } npy_type;

static const struct {
    const char *descr;
    npy_type type;
    size_t size;
} npy_types[] = {
    {"<f4", T_F4, 4}, {"<f8", T_F8, 8}, {"|u1", T_U1, 1}, {"<u1", T_U1, 1},
    {"|i1", T_I1, 1}, {"<i1", T_I1, 1}, {"<i2", T_I2, 2}, {"<i4", T_I4, 4},
    {"<i8", T_I8, 8}, {"<u2", T_U2, 2}, {"<u4", T_U4, 4}, {"<u8", T_U8, 8},
};

typedef struct npy_hdr {
    npy_type type;
    size_t itemsize;
    size_t ndim;
    uint64_t shape[NPY_MAX_NDIM];
    int fortran;
} npy_hdr;

/* ---- the header dictionary: {'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), } with keys in any order, each exactly once ---- */

typedef struct dict_parser {
    const char *p;
    size_t n, i;
    const char *name;
} dict_parser;

static void skip_ws(dict_parser *d)
{
    while (d->i < d->n && (d->p[d->i] == ' ' || d->p[d->i] == '\t' || d->p[d->i] == '\n' ||
                           d->p[d->i] == '\r'))
        d->i++;
}

static hers_status bad(const dict_parser *d, const char *what)
{
    return hers_error(HERS_ERR_FORMAT, "%s: malformed .npy header: %s at offset %zu", d->name,
                      what, d->i);
}

static int expect(dict_parser *d, char c)
{
    skip_ws(d);
    if (d->i < d->n && d->p[d->i] == c) {
        d->i++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes, copied into out (cap bytes). */
static hers_status parse_str(dict_parser *d, char *out, size_t cap)
{
    skip_ws(d);
    if (d->i >= d->n || (d->p[d->i] != '\'' && d->p[d->i] != '"'))
        return bad(d, "expected a quoted string");
    char q = d->p[d->i++];
    size_t len = 0;
    while (d->i < d->n && d->p[d->i] != q) {
        char c = d->p[d->i];
        if (c == '\\' || (unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            return bad(d, "unsupported character in string");
        if (len + 1 >= cap)
            return bad(d, "string too long");
        out[len++] = c;
        d->i++;
    }
    if (d->i >= d->n)
        return bad(d, "unterminated string");
    d->i++;
    out[len] = '\0';
    return HERS_OK;
}

static hers_status parse_bool(dict_parser *d, int *v)
{
    skip_ws(d);
    if (d->n - d->i >= 4 && !memcmp(d->p + d->i, "True", 4)) {
        d->i += 4;
        *v = 1;
    } else if (d->n - d->i >= 5 && !memcmp(d->p + d->i, "False", 5)) {
        d->i += 5;
        *v = 0;
    } else {
        return bad(d, "fortran_order must be True or False");
    }
    return HERS_OK;
}

static hers_status parse_shape(dict_parser *d, npy_hdr *h)
{
    if (!expect(d, '('))
        return bad(d, "shape must be a tuple");
    h->ndim = 0;
    int need_comma_for_one = 1;
    for (;;) {
        skip_ws(d);
        if (d->i < d->n && d->p[d->i] == ')') {
            d->i++;
            break;
        }
        if (d->i >= d->n || d->p[d->i] < '0' || d->p[d->i] > '9')
            return bad(d, "expected a non-negative integer in shape");
        uint64_t v = 0;
        while (d->i < d->n && d->p[d->i] >= '0' && d->p[d->i] <= '9') {
            v = v * 10 + (uint64_t)(d->p[d->i++] - '0');
            if (v > NPY_MAX_EXTENT)
                return bad(d, "shape entry too large");
        }
        if (d->i < d->n && d->p[d->i] == 'L') /* Python 2 long literal */
            d->i++;
        if (h->ndim == NPY_MAX_NDIM)
            return bad(d, "too many dimensions");
        h->shape[h->ndim++] = v;
        if (expect(d, ',')) {
            need_comma_for_one = 0;
            continue;
        }
        if (!expect(d, ')'))
            return bad(d, "expected ',' or ')' in shape");
        if (h->ndim == 1 && need_comma_for_one)
            return bad(d, "a one-element shape needs a trailing comma");
        break;
    }
    return HERS_OK;
}

static hers_status parse_dict(const char *p, size_t n, const char *name, npy_hdr *h)
{
    dict_parser d = {p, n, 0, name};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    char descr[24];
    hers_status st;
    if (!expect(&d, '{'))
        return bad(&d, "expected '{'");
    for (;;) {
        skip_ws(&d);
        if (expect(&d, '}'))
            break;
        char key[24];
        if ((st = parse_str(&d, key, sizeof key)) != HERS_OK)
            return st;
        if (!expect(&d, ':'))
            return bad(&d, "expected ':'");
        if (!strcmp(key, "descr")) {
            if (have_descr++)
                return bad(&d, "duplicate key 'descr'");
            skip_ws(&d);
            if ((st = parse_str(&d, descr, sizeof descr)) != HERS_OK)
                return st;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++)
                return bad(&d, "duplicate key 'fortran_order'");
            if ((st = parse_bool(&d, &h->fortran)) != HERS_OK)
                return st;
        } else if (!strcmp(key, "shape")) {
            if (have_shape++)
                return bad(&d, "duplicate key 'shape'");
            if ((st = parse_shape(&d, h)) != HERS_OK)
                return st;
        } else {
            return hers_error(HERS_ERR_FORMAT, "%s: .npy header has unknown key '%s'", name, key);
        }
        if (expect(&d, ','))
            continue;
        if (expect(&d, '}'))
            break;
        return bad(&d, "expected ',' or '}'");
    }
    skip_ws(&d);
    /* Some writers pad with spaces then '\n'; NUL padding is not valid. */
    if (d.i != d.n)
        return bad(&d, "garbage after the dictionary");
    if (!have_descr || !have_fortran || !have_shape)
        return hers_error(HERS_ERR_FORMAT, "%s: .npy header lacks '%s'", name,
                          !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (!strcmp(descr, npy_types[i].descr)) {
            h->type = npy_types[i].type;
            h->itemsize = npy_types[i].size;
            return HERS_OK;
        }
    if (descr[0] == '>')
        return hers_error(HERS_ERR_FORMAT, "%s: big-endian dtype '%s' is not supported", name,
                          descr);
    return hers_error(HERS_ERR_FORMAT,
                      "%s: unsupported dtype '%s' (expected <f4, <f8, |u1 or an integer type)",
                      name, descr);
}

static hers_status read_header(io_src *s, npy_hdr *h)
{
    uint8_t pre[12];
    hers_status st = io_src_read(s, pre, 8, ".npy preamble");
    if (st != HERS_OK)
        return st;
    if (memcmp(pre, "\x93NUMPY", 6) != 0)
        return hers_error(HERS_ERR_FORMAT, "%s: not a .npy file (bad magic)", s->name);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return hers_error(HERS_ERR_VERSION, "%s: unsupported .npy version %u.%u", s->name, major,
                          minor);
    uint32_t hlen;
    if (major == 1) {
        if ((st = io_src_read(s, pre + 8, 2, ".npy header length")) != HERS_OK)
            return st;
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else {
        if ((st = io_src_read(s, pre + 8, 4, ".npy header length")) != HERS_OK)
            return st;
        hlen = hers_le_get_u32(pre + 8);
    }
    if (hlen > NPY_MAX_HEADER || hlen > io_src_left(s))
        return hers_error(HERS_ERR_FORMAT, "%s: .npy header length %u exceeds the file", s->name,
                          hlen);
    char *text = hers_alloc((size_t)hlen + 1);
    if (!text)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", s->name);
    st = io_src_read(s, text, hlen, ".npy header");
    if (st == HERS_OK) {
        memset(h, 0, sizeof *h);
        st = parse_dict(text, hlen, s->name, h);
    }
    hers_free(text);
    if (st != HERS_OK)
        return st;
    int big_dims = 0;
    for (size_t i = 0; i < h->ndim; i++)
        big_dims += h->shape[i] > 1;
    if (h->fortran && big_dims > 1)
        return hers_error(HERS_ERR_FORMAT,
                          "%s: fortran_order arrays are not supported (save a C-order array)",
                          s->name);
    return HERS_OK;
}

/* Element count with overflow checks. */
static hers_status count_elems(const io_src *s, const npy_hdr *h, uint64_t *count)
{
    uint64_t c = 1;
    for (size_t i = 0; i < h->ndim; i++)
        if (__builtin_mul_overflow(c, h->shape[i], &c))
            return hers_error(HERS_ERR_FORMAT, "%s: .npy shape overflows", s->name);
    uint64_t bytes;
    if (__builtin_mul_overflow(c, (uint64_t)h->itemsize, &bytes))
        return hers_error(HERS_ERR_FORMAT, "%s: .npy shape overflows", s->name);
    *count = c;
    return io_src_check_payload(s, bytes, ".npy array");
}

static int is_int_type(npy_type t) { return t != T_F4 && t != T_F8; }

/* Decodes one element as double (ints exactly up to 2^53; i8/u8 beyond
 * are rounded, only used for float conversion and range checks). */
static double elem_double(npy_type t, const uint8_t *p, int64_t *iv, int *int_ok)
{
    uint32_t u32;
    uint64_t u64;
    float f;
    double d;
    *int_ok = 1;
    switch (t) {
    case T_F4:
        u32 = hers_le_get_u32(p);
        memcpy(&f, &u32, 4);
        *int_ok = 0;
        return f;
    case T_F8:
        u64 = hers_le_get_u64(p);
        memcpy(&d, &u64, 8);
        *int_ok = 0;
        return d;
    case T_U1: *iv = p[0]; break;
    case T_I1: *iv = (int8_t)p[0]; break;
    case T_I2: *iv = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case T_U2: *iv = (uint16_t)(p[0] | p[1] << 8); break;
    case T_I4: *iv = (int32_t)hers_le_get_u32(p); break;
    case T_U4: *iv = hers_le_get_u32(p); break;
    case T_I8: *iv = (int64_t)hers_le_get_u64(p); break;
    case T_U8:
        u64 = hers_le_get_u64(p);
        if (u64 > INT64_MAX) {
            *int_ok = 0; /* out of int32 range anyway */
            return (double)u64;
        }
        *iv = (int64_t)u64;
        break;
    }
    return (double)*iv;
}

/* Streams `count` elements through a small buffer into float or int32. */
static hers_status read_elems(io_src *s, const npy_hdr *h, uint64_t count, float *fout,
                              int32_t *iout)
{
    uint8_t buf[8192];
    size_t per = sizeof buf / h->itemsize;
    uint64_t done = 0;
    while (done < count) {
        size_t n = count - done < per ? (size_t)(count - done) : per;
        hers_status st = io_src_read(s, buf, n * h->itemsize, ".npy data");
        if (st != HERS_OK)
            return st;
        for (size_t k = 0; k < n; k++) {
            int64_t iv = 0;
            int int_ok;
            double v = elem_double(h->type, buf + k * h->itemsize, &iv, &int_ok);
            if (fout) {
                if (!isfinite(v) || fabs(v) > FLT_MAX)
                    return hers_error(HERS_ERR_FORMAT,
                                      "%s: non-finite or out-of-float32-range value at element "
                                      "%llu",
                                      s->name, (unsigned long long)(done + k));
                fout[done + k] = (float)v;
            } else {
                if (!int_ok || iv < INT32_MIN || iv > INT32_MAX)
                    return hers_error(HERS_ERR_FORMAT,
                                      "%s: label at index %llu does not fit in int32", s->name,
                                      (unsigned long long)(done + k));
                iout[done + k] = (int32_t)iv;
            }
        }
        done += n;
    }
    return io_src_expect_end(s);
}

static hers_status npy_matrix(io_src *s, hers_matrix *out)
{
    npy_hdr h = {0};
    hers_status st = read_header(s, &h);
    if (st != HERS_OK)
        return st;
    if (h.ndim == 0)
        return hers_error(HERS_ERR_FORMAT, "%s: .npy holds a scalar, expected a matrix", s->name);
    uint64_t rows = h.shape[0], cols = 1;
    for (size_t i = 1; i < h.ndim; i++)
        if (__builtin_mul_overflow(cols, h.shape[i], &cols))
            return hers_error(HERS_ERR_FORMAT, "%s: .npy shape overflows", s->name);
    if (cols < 1 || cols > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_FORMAT, "%s: .npy row length %llu outside 1..%zu", s->name,
                          (unsigned long long)cols, HERS_IO_MAX_DIM);
    if (rows > HERS_IO_MAX_ROWS)
        return hers_error(HERS_ERR_FORMAT, "%s: .npy has too many rows (%llu)", s->name,
                          (unsigned long long)rows);
    uint64_t count = 0;
    if ((st = count_elems(s, &h, &count)) != HERS_OK)
        return st;
    if ((st = hers_matrix_alloc(out, (size_t)rows, (size_t)cols)) != HERS_OK)
        return st;
    st = read_elems(s, &h, count, out->data, NULL);
    if (st != HERS_OK)
        hers_matrix_free(out);
    return st;
}

static hers_status npy_labels(io_src *s, hers_labels *out)
{
    npy_hdr h = {0};
    hers_status st = read_header(s, &h);
    if (st != HERS_OK)
        return st;
    if (!is_int_type(h.type))
        return hers_error(HERS_ERR_FORMAT, "%s: labels must have an integer dtype", s->name);
    int ok = h.ndim == 1 || (h.ndim == 2 && (h.shape[0] == 1 || h.shape[1] == 1));
    if (!ok)
        return hers_error(HERS_ERR_FORMAT, "%s: labels must be 1-D (or n x 1), got %zu-D",
                          s->name, h.ndim);
    uint64_t count = 0;
    if ((st = count_elems(s, &h, &count)) != HERS_OK)
        return st;
    if (count > HERS_IO_MAX_ROWS)
        return hers_error(HERS_ERR_FORMAT, "%s: too many labels", s->name);
    if ((st = hers_labels_alloc(out, (size_t)count)) != HERS_OK)
        return st;
    st = read_elems(s, &h, count, NULL, out->data);
    if (st != HERS_OK)
        hers_labels_free(out);
    return st;
}

static void clear_matrix(hers_matrix *m)
{
    if (m) {
        m->rows = m->cols = 0;
        m->data = NULL;
    }
}

static void clear_labels(hers_labels *l)
{
    if (l) {
        l->count = 0;
        l->data = NULL;
    }
}

hers_status hers_npy_parse(const void *buf, size_t len, hers_matrix *out)
{
    clear_matrix(out);
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    io_src_mem(&s, buf, len);
    hers_status st = npy_matrix(&s, out);
    io_src_close(&s);
    return st;
}

hers_status hers_npy_parse_labels(const void *buf, size_t len, hers_labels *out)
{
    clear_labels(out);
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    io_src_mem(&s, buf, len);
    hers_status st = npy_labels(&s, out);
    io_src_close(&s);
    return st;
}

hers_status hers_npy_read(const char *path, hers_matrix *out)
{
    clear_matrix(out);
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st == HERS_OK)
        st = npy_matrix(&s, out);
    io_src_close(&s);
    return st;
}

hers_status hers_npy_read_labels(const char *path, hers_labels *out)
{
    clear_labels(out);
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st == HERS_OK)
        st = npy_labels(&s, out);
    io_src_close(&s);
    return st;
}

/* ---- writing: v1 header padded so that the data starts at a multiple of 64 ---- */

static size_t make_header(uint8_t *h, size_t cap, const char *descr, const char *shape)
{
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    size_t dl = (size_t)n;
    size_t total = 10 + dl + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap)
        return 0;
    size_t hlen = total - 10;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (uint8_t)hlen;
    h[9] = (uint8_t)(hlen >> 8);
    memcpy(h + 10, dict, dl);
    memset(h + 10 + dl, ' ', hlen - dl - 1);
    h[total - 1] = '\n';
    return total;
}

static hers_status check_matrix(const hers_matrix *m, const char *what)
{
    if (!m || (!m->data && m->rows && m->cols))
        return hers_error(HERS_ERR_ARG, "%s: NULL matrix", what);
    if (m->cols < 1 || m->cols > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_ARG, "%s: matrix has %zu columns (1..%zu)", what, m->cols,
                          HERS_IO_MAX_DIM);
    size_t n = m->rows * m->cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(m->data[i]))
            return hers_error(HERS_ERR_ARG, "%s: non-finite value at row %zu column %zu", what,
                              i / m->cols, i % m->cols);
    return HERS_OK;
}

size_t io_npy_f4_header(size_t rows, size_t cols, uint8_t *h, size_t cap)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%zu, %zu)", rows, cols);
    return make_header(h, cap, "<f4", shape);
}

static size_t matrix_header(const hers_matrix *m, uint8_t *h, size_t cap)
{
    return io_npy_f4_header(m->rows, m->cols, h, cap);
}

static size_t labels_header(const hers_labels *l, uint8_t *h, size_t cap)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%zu,)", l->count);
    return make_header(h, cap, "<i4", shape);
}

/* Little-endian bytes of n 32-bit words (float or int32 bit patterns). */
static void to_le32(uint8_t *dst, const void *src, size_t n)
{
    const uint8_t *s8 = src;
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, s8 + 4 * i, 4);
        hers_le_put_u32(dst + 4 * i, v);
    }
}

static hers_status encode(const uint8_t *hdr, size_t hl, const void *data, size_t words,
                          uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (words > (SIZE_MAX - hl) / 4)
        return hers_error(HERS_ERR_NOMEM, "array too large");
    uint8_t *b = hers_alloc(hl + 4 * words);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "cannot allocate %zu bytes", hl + 4 * words);
    memcpy(b, hdr, hl);
    to_le32(b + hl, data, words);
    *buf = b;
    *len = hl + 4 * words;
    return HERS_OK;
}

hers_status hers_npy_encode(const hers_matrix *m, uint8_t **buf, size_t *len)
{
    if (!buf || !len)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    *buf = NULL;
    *len = 0;
    hers_status st = check_matrix(m, IO_MEM_NAME);
    if (st != HERS_OK)
        return st;
    uint8_t hdr[256];
    size_t hl = matrix_header(m, hdr, sizeof hdr);
    return encode(hdr, hl, m->data, m->rows * m->cols, buf, len);
}

hers_status hers_npy_encode_labels(const hers_labels *l, uint8_t **buf, size_t *len)
{
    if (!buf || !len || !l || (!l->data && l->count))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    uint8_t hdr[256];
    size_t hl = labels_header(l, hdr, sizeof hdr);
    return encode(hdr, hl, l->data, l->count, buf, len);
}

static hers_status write_words(const char *path, const uint8_t *hdr, size_t hl, const void *data,
                               size_t words)
{
    io_writer w;
    hers_status st = io_writer_open(&w, path);
    if (st != HERS_OK)
        return st;
    io_writer_put(&w, hdr, hl);
    uint8_t chunk[8192];
    const uint8_t *src = data;
    for (size_t done = 0; done < words;) {
        size_t n = words - done < sizeof chunk / 4 ? words - done : sizeof chunk / 4;
        to_le32(chunk, src + 4 * done, n);
        io_writer_put(&w, chunk, 4 * n);
        done += n;
    }
    return io_writer_commit(&w);
}

hers_status hers_npy_write(const char *path, const hers_matrix *m)
{
    hers_status st = check_matrix(m, path ? path : "(null)");
    if (st != HERS_OK)
        return st;
    uint8_t hdr[256];
    size_t hl = matrix_header(m, hdr, sizeof hdr);
    return write_words(path, hdr, hl, m->data, m->rows * m->cols);
}

hers_status hers_npy_write_labels(const char *path, const hers_labels *l)
{
    if (!l || (!l->data && l->count))
        return hers_error(HERS_ERR_ARG, "%s: NULL labels", path ? path : "(null)");
    uint8_t hdr[256];
    size_t hl = labels_header(l, hdr, sizeof hdr);
    return write_words(path, hdr, hl, l->data, l->count);
}
