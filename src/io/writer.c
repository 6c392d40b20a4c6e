/* writer.c - streaming .npy / .fvecs / raw matrix writer. */
#include <math.h>
#include <string.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "io/io_src.h"

struct hers_matrix_writer {
    io_writer out;
    hers_vec_format fmt;
    size_t rows, cols, written;
    uint8_t *row;        /* one encoded record: [dim] + cols LE floats */
};

hers_status hers_matrix_writer_open(hers_matrix_writer **wp, const char *path, size_t rows,
                                    size_t cols)
{
    if (!wp)
        return hers_error(HERS_ERR_ARG, "NULL writer");
    *wp = NULL;
    if (!path)
        return hers_error(HERS_ERR_ARG, "NULL path");
    hers_vec_format fmt = hers_vec_format_from_path(path);
    if (fmt != HERS_FMT_NPY && fmt != HERS_FMT_FVECS && fmt != HERS_FMT_RAW)
        return hers_error(HERS_ERR_ARG, "%s: cannot write this format (use .npy, .fvecs or .f32)",
                          path);
    if (cols < 1 || cols > HERS_IO_MAX_DIM || rows > HERS_IO_MAX_ROWS)
        return hers_error(HERS_ERR_ARG, "%s: shape %zu x %zu outside the limits", path, rows,
                          cols);
    if (fmt == HERS_FMT_FVECS && rows == 0)
        return hers_error(HERS_ERR_ARG, "%s: cannot write an empty matrix as .fvecs", path);
    hers_matrix_writer *w = hers_alloc(sizeof *w);
    if (!w)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    w->fmt = fmt;
    w->rows = rows;
    w->cols = cols;
    w->row = hers_alloc(4 + 4 * cols);
    if (!w->row) {
        hers_free(w);
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    }
    hers_status st = io_writer_open(&w->out, path);
    if (st != HERS_OK) {
        hers_free(w->row);
        hers_free(w);
        return st;
    }
    if (fmt == HERS_FMT_NPY) {
        uint8_t h[256];
        size_t hl = io_npy_f4_header(rows, cols, h, sizeof h);
        io_writer_put(&w->out, h, hl);
    }
    *wp = w;
    return HERS_OK;
}

hers_status hers_matrix_writer_append(hers_matrix_writer *w, const hers_matrix *b)
{
    if (!w || !b || (!b->data && b->rows))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    if (b->cols != w->cols)
        return hers_error(HERS_ERR_ARG, "%s: block has %zu columns, expected %zu", w->out.af.path,
                          b->cols, w->cols);
    if (b->rows > w->rows - w->written)
        return hers_error(HERS_ERR_ARG, "%s: more than the declared %zu rows", w->out.af.path,
                          w->rows);
    size_t off = w->fmt == HERS_FMT_FVECS ? 4 : 0;
    hers_le_put_u32(w->row, (uint32_t)w->cols);
    for (size_t r = 0; r < b->rows; r++) {
        const float *src = b->data + r * b->cols;
        for (size_t c = 0; c < w->cols; c++) {
            if (!isfinite(src[c]))
                return hers_error(HERS_ERR_ARG, "%s: non-finite value in row %zu", w->out.af.path,
                                  w->written + r);
            uint32_t u;
            memcpy(&u, &src[c], 4);
            hers_le_put_u32(w->row + off + 4 * c, u);
        }
        io_writer_put(&w->out, w->row, off + 4 * w->cols);
    }
    w->written += b->rows;
    return HERS_OK;
}

hers_status hers_matrix_writer_close(hers_matrix_writer *w)
{
    if (!w)
        return hers_error(HERS_ERR_ARG, "NULL writer");
    hers_status st;
    if (w->written != w->rows) {
        st = hers_error(HERS_ERR_STATE, "%s: %zu of the declared %zu rows written", w->out.af.path,
                        w->written, w->rows);
        io_writer_abort(&w->out);
    } else {
        st = io_writer_commit(&w->out);
    }
    hers_free(w->row);
    hers_free(w);
    return st;
}

void hers_matrix_writer_abort(hers_matrix_writer *w)
{
    if (!w)
        return;
    io_writer_abort(&w->out);
    hers_free(w->row);
    hers_free(w);
}
