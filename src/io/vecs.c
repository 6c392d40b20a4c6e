/* vecs.c - .fvecs / .bvecs / .ivecs (ANN benchmark formats) and raw float32. */
#include <math.h>
#include <string.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "io/io_src.h"

typedef enum { V_F, V_B, V_I } vecs_kind;

static const char *kind_name(vecs_kind k)
{
    return k == V_F ? ".fvecs" : k == V_B ? ".bvecs" : ".ivecs";
}

void hers_imatrix_free(hers_imatrix *m)
{
    if (!m)
        return;
    hers_free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}

/* Every record: int32 LE dim, then dim elements of esize bytes. All
 * records must have the first record's dim; the file length must be an
 * exact multiple of the record size. */
static hers_status vecs_read(io_src *s, vecs_kind kind, hers_matrix *fm, hers_imatrix *im)
{
    size_t esize = kind == V_B ? 1 : 4;
    const char *kn = kind_name(kind);
    uint64_t left = io_src_left(s);
    if (left == 0)
        return hers_error(HERS_ERR_FORMAT, "%s: empty %s file", s->name, kn);
    uint8_t b4[4];
    hers_status st = io_src_read(s, b4, 4, "record header");
    if (st != HERS_OK)
        return st;
    int32_t d = (int32_t)hers_le_get_u32(b4);
    if (d < 1 || (size_t)d > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_FORMAT, "%s: first record has dimension %d (expected 1..%zu)",
                          s->name, d, HERS_IO_MAX_DIM);
    size_t dim = (size_t)d;
    uint64_t rec = 4 + (uint64_t)dim * esize;
    if (left % rec != 0)
        return hers_error(HERS_ERR_FORMAT,
                          "%s: file length %llu is not a multiple of the record size %llu "
                          "(dimension %zu)",
                          s->name, (unsigned long long)left, (unsigned long long)rec, dim);
    uint64_t rows = left / rec;
    if (rows > HERS_IO_MAX_ROWS)
        return hers_error(HERS_ERR_FORMAT, "%s: too many records", s->name);
    /* The record buffer is at most 4 MiB and no larger than the file. */
    uint8_t *rb = hers_alloc(dim * esize);
    if (!rb)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", s->name);
    if (fm)
        st = hers_matrix_alloc(fm, (size_t)rows, dim);
    else {
        im->data = hers_alloc_array((size_t)rows, dim * sizeof(int32_t));
        st = im->data ? HERS_OK
                      : hers_error(HERS_ERR_NOMEM, "%s: cannot allocate %llu x %zu", s->name,
                                   (unsigned long long)rows, dim);
        if (st == HERS_OK) {
            im->rows = (size_t)rows;
            im->cols = dim;
        }
    }
    for (size_t r = 0; st == HERS_OK && r < rows; r++) {
        if (r > 0) {
            if ((st = io_src_read(s, b4, 4, "record header")) != HERS_OK)
                break;
            int32_t dr = (int32_t)hers_le_get_u32(b4);
            if (dr != d) {
                st = hers_error(HERS_ERR_FORMAT, "%s: record %zu has dimension %d, expected %d",
                                s->name, r, dr, d);
                break;
            }
        }
        if ((st = io_src_read(s, rb, dim * esize, "record")) != HERS_OK)
            break;
        if (kind == V_B) {
            float *row = fm->data + r * dim;
            for (size_t c = 0; c < dim; c++)
                row[c] = (float)rb[c];
        } else if (kind == V_F) {
            float *row = fm->data + r * dim;
            for (size_t c = 0; c < dim; c++) {
                uint32_t u = hers_le_get_u32(rb + 4 * c);
                memcpy(&row[c], &u, 4);
                if (!isfinite(row[c])) {
                    st = hers_error(HERS_ERR_FORMAT, "%s: non-finite value in record %zu", s->name,
                                    r);
                    break;
                }
            }
        } else {
            int32_t *row = im->data + r * dim;
            for (size_t c = 0; c < dim; c++)
                row[c] = (int32_t)hers_le_get_u32(rb + 4 * c);
        }
    }
    hers_free(rb);
    if (st == HERS_OK)
        st = io_src_expect_end(s);
    if (st != HERS_OK) {
        if (fm)
            hers_matrix_free(fm);
        else
            hers_imatrix_free(im);
    }
    return st;
}

static hers_status vecs_mem(const void *buf, size_t len, vecs_kind kind, hers_matrix *fm,
                            hers_imatrix *im)
{
    if (fm)
        *fm = (hers_matrix){0, 0, NULL};
    if (im)
        *im = (hers_imatrix){0, 0, NULL};
    if ((!fm && !im) || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    io_src_mem(&s, buf, len);
    return vecs_read(&s, kind, fm, im);
}

static hers_status vecs_file(const char *path, vecs_kind kind, hers_matrix *fm, hers_imatrix *im)
{
    if (fm)
        *fm = (hers_matrix){0, 0, NULL};
    if (im)
        *im = (hers_imatrix){0, 0, NULL};
    if (!fm && !im)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st == HERS_OK)
        st = vecs_read(&s, kind, fm, im);
    io_src_close(&s);
    return st;
}

hers_status hers_fvecs_parse(const void *buf, size_t len, hers_matrix *out)
{
    return vecs_mem(buf, len, V_F, out, NULL);
}
hers_status hers_bvecs_parse(const void *buf, size_t len, hers_matrix *out)
{
    return vecs_mem(buf, len, V_B, out, NULL);
}
hers_status hers_ivecs_parse(const void *buf, size_t len, hers_imatrix *out)
{
    return vecs_mem(buf, len, V_I, NULL, out);
}
hers_status hers_fvecs_read(const char *path, hers_matrix *out)
{
    return vecs_file(path, V_F, out, NULL);
}
hers_status hers_bvecs_read(const char *path, hers_matrix *out)
{
    return vecs_file(path, V_B, out, NULL);
}
hers_status hers_ivecs_read(const char *path, hers_imatrix *out)
{
    return vecs_file(path, V_I, NULL, out);
}

/* ---- raw little-endian float32 ---- */

static hers_status raw_read(io_src *s, size_t dim, hers_matrix *out)
{
    if (dim < 1 || dim > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_ARG, "%s: raw dimension %zu outside 1..%zu", s->name, dim,
                          HERS_IO_MAX_DIM);
    uint64_t left = io_src_left(s);
    if (left % (4 * (uint64_t)dim) != 0)
        return hers_error(HERS_ERR_FORMAT,
                          "%s: length %llu is not a multiple of %zu (dimension %zu x 4 bytes)",
                          s->name, (unsigned long long)left, 4 * dim, dim);
    uint64_t rows = left / (4 * (uint64_t)dim);
    if (rows > HERS_IO_MAX_ROWS)
        return hers_error(HERS_ERR_FORMAT, "%s: too many rows", s->name);
    hers_status st = hers_matrix_alloc(out, (size_t)rows, dim);
    if (st != HERS_OK)
        return st;
    uint8_t buf[8192];
    size_t total = (size_t)rows * dim;
    for (size_t done = 0; done < total && st == HERS_OK;) {
        size_t n = total - done < sizeof buf / 4 ? total - done : sizeof buf / 4;
        if ((st = io_src_read(s, buf, 4 * n, "data")) != HERS_OK)
            break;
        for (size_t k = 0; k < n; k++) {
            uint32_t u = hers_le_get_u32(buf + 4 * k);
            memcpy(&out->data[done + k], &u, 4);
            if (!isfinite(out->data[done + k])) {
                st = hers_error(HERS_ERR_FORMAT, "%s: non-finite value at row %zu", s->name,
                                (done + k) / dim);
                break;
            }
        }
        done += n;
    }
    if (st == HERS_OK)
        st = io_src_expect_end(s);
    if (st != HERS_OK)
        hers_matrix_free(out);
    return st;
}

hers_status hers_raw_parse(const void *buf, size_t len, size_t dim, hers_matrix *out)
{
    if (out)
        *out = (hers_matrix){0, 0, NULL};
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    io_src_mem(&s, buf, len);
    return raw_read(&s, dim, out);
}

hers_status hers_matrix_read_raw(const char *path, size_t dim, hers_matrix *out)
{
    if (out)
        *out = (hers_matrix){0, 0, NULL};
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st == HERS_OK)
        st = raw_read(&s, dim, out);
    io_src_close(&s);
    return st;
}

/* ---- writers ---- */

static hers_status check_out(const hers_matrix *m, const char *name, int need_rows)
{
    if (!m || (!m->data && m->rows && m->cols))
        return hers_error(HERS_ERR_ARG, "%s: NULL matrix", name);
    if (m->cols < 1 || m->cols > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_ARG, "%s: matrix has %zu columns (1..%zu)", name, m->cols,
                          HERS_IO_MAX_DIM);
    if (need_rows && m->rows == 0)
        return hers_error(HERS_ERR_ARG,
                          "%s: cannot write an empty matrix as .fvecs (its dimension would be "
                          "lost)",
                          name);
    for (size_t i = 0; i < m->rows * m->cols; i++)
        if (!isfinite(m->data[i]))
            return hers_error(HERS_ERR_ARG, "%s: non-finite value at row %zu", name, i / m->cols);
    return HERS_OK;
}

static void row_le(uint8_t *dst, const float *row, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        uint32_t u;
        memcpy(&u, &row[c], 4);
        hers_le_put_u32(dst + 4 * c, u);
    }
}

hers_status hers_fvecs_encode(const hers_matrix *m, uint8_t **buf, size_t *len)
{
    if (!buf || !len)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    *buf = NULL;
    *len = 0;
    hers_status st = check_out(m, IO_MEM_NAME, 1);
    if (st != HERS_OK)
        return st;
    size_t rec = 4 + 4 * m->cols;
    if (m->rows > SIZE_MAX / rec)
        return hers_error(HERS_ERR_NOMEM, "matrix too large");
    uint8_t *b = hers_alloc(m->rows * rec);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "cannot allocate %zu bytes", m->rows * rec);
    for (size_t r = 0; r < m->rows; r++) {
        hers_le_put_u32(b + r * rec, (uint32_t)m->cols);
        row_le(b + r * rec + 4, m->data + r * m->cols, m->cols);
    }
    *buf = b;
    *len = m->rows * rec;
    return HERS_OK;
}

hers_status hers_fvecs_write(const char *path, const hers_matrix *m)
{
    hers_status st = check_out(m, path ? path : "(null)", 1);
    if (st != HERS_OK)
        return st;
    uint8_t *rb = hers_alloc(4 + 4 * m->cols);
    if (!rb)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    io_writer w;
    if ((st = io_writer_open(&w, path)) != HERS_OK) {
        hers_free(rb);
        return st;
    }
    hers_le_put_u32(rb, (uint32_t)m->cols);
    for (size_t r = 0; r < m->rows; r++) {
        row_le(rb + 4, m->data + r * m->cols, m->cols);
        io_writer_put(&w, rb, 4 + 4 * m->cols);
    }
    hers_free(rb);
    return io_writer_commit(&w);
}

hers_status hers_matrix_write_raw(const char *path, const hers_matrix *m)
{
    hers_status st = check_out(m, path ? path : "(null)", 0);
    if (st != HERS_OK)
        return st;
    uint8_t *rb = hers_alloc(4 * m->cols);
    if (!rb)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    io_writer w;
    if ((st = io_writer_open(&w, path)) != HERS_OK) {
        hers_free(rb);
        return st;
    }
    for (size_t r = 0; r < m->rows; r++) {
        row_le(rb, m->data + r * m->cols, m->cols);
        io_writer_put(&w, rb, 4 * m->cols);
    }
    hers_free(rb);
    return io_writer_commit(&w);
}
