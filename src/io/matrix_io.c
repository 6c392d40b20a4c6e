/* matrix_io.c - format detection and the generic matrix read/write/parse. */
#include <ctype.h>
#include <string.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "io/io_src.h"

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)s[n - k + i]) != suffix[i])
            return 0;
    return 1;
}

static int is_idx_name(const char *p, size_t n)
{
    return ends_with(p, n, "-ubyte") || ends_with(p, n, ".idx") || ends_with(p, n, ".idx1") ||
           ends_with(p, n, ".idx3");
}

hers_vec_format hers_vec_format_from_path(const char *path)
{
    if (!path)
        return HERS_FMT_UNKNOWN;
    size_t n = strlen(path);
    if (ends_with(path, n, ".gz"))
        return is_idx_name(path, n - 3) ? HERS_FMT_IDX : HERS_FMT_UNKNOWN;
    if (ends_with(path, n, ".npy"))
        return HERS_FMT_NPY;
    if (ends_with(path, n, ".fvecs"))
        return HERS_FMT_FVECS;
    if (ends_with(path, n, ".bvecs"))
        return HERS_FMT_BVECS;
    if (ends_with(path, n, ".ivecs"))
        return HERS_FMT_IVECS;
    if (ends_with(path, n, ".f32") || ends_with(path, n, ".raw") || ends_with(path, n, ".bin"))
        return HERS_FMT_RAW;
    if (is_idx_name(path, n))
        return HERS_FMT_IDX;
    if (ends_with(path, n, ".txt") || ends_with(path, n, ".labels") || ends_with(path, n, ".csv"))
        return HERS_FMT_TEXT;
    return HERS_FMT_UNKNOWN;
}

const char *hers_vec_format_name(hers_vec_format f)
{
    switch (f) {
    case HERS_FMT_NPY: return "npy";
    case HERS_FMT_FVECS: return "fvecs";
    case HERS_FMT_BVECS: return "bvecs";
    case HERS_FMT_IVECS: return "ivecs";
    case HERS_FMT_RAW: return "raw";
    case HERS_FMT_IDX: return "idx";
    case HERS_FMT_TEXT: return "text";
    case HERS_FMT_UNKNOWN: break;
    }
    return "unknown";
}

/* int32 -> float, exact only up to 2^24 in magnitude. */
static hers_status imatrix_to_float(const char *name, hers_imatrix *im, hers_matrix *out)
{
    hers_status st = hers_matrix_alloc(out, im->rows, im->cols);
    for (size_t i = 0; st == HERS_OK && i < im->rows * im->cols; i++) {
        int32_t v = im->data[i];
        if (v > (1 << 24) || v < -(1 << 24)) {
            st = hers_error(HERS_ERR_FORMAT,
                            "%s: .ivecs value %d at row %zu is not exact in float32 (use "
                            "hers_ivecs_read)",
                            name, (int)v, i / im->cols);
            hers_matrix_free(out);
            break;
        }
        out->data[i] = (float)v;
    }
    hers_imatrix_free(im);
    return st;
}

/* Format of a file whose extension says nothing: by magic. */
static hers_vec_format sniff(const char *path)
{
    io_src s;
    if (io_src_file(&s, path) != HERS_OK)
        return HERS_FMT_UNKNOWN;
    uint8_t h[6];
    hers_vec_format f = HERS_FMT_UNKNOWN;
    if (io_src_left(&s) >= 6 && io_src_read(&s, h, 6, "header") == HERS_OK) {
        if (!memcmp(h, "\x93NUMPY", 6))
            f = HERS_FMT_NPY;
        else if ((h[0] == 0x1f && h[1] == 0x8b) || hers_be_get_u32(h) == 0x00000803u)
            f = HERS_FMT_IDX;
    }
    io_src_close(&s);
    return f;
}

hers_status hers_matrix_read(const char *path, hers_matrix *out)
{
    if (out)
        *out = (hers_matrix){0, 0, NULL};
    if (!path || !out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    hers_vec_format f = hers_vec_format_from_path(path);
    if (f == HERS_FMT_UNKNOWN || f == HERS_FMT_TEXT) {
        io_src s;
        hers_status st = io_src_file(&s, path); /* a clear NOTFOUND first */
        if (st != HERS_OK)
            return st;
        io_src_close(&s);
        f = sniff(path);
    }
    switch (f) {
    case HERS_FMT_NPY: return hers_npy_read(path, out);
    case HERS_FMT_FVECS: return hers_fvecs_read(path, out);
    case HERS_FMT_BVECS: return hers_bvecs_read(path, out);
    case HERS_FMT_IDX: return hers_idx_read_images(path, out, NULL, NULL);
    case HERS_FMT_IVECS: {
        hers_imatrix im;
        hers_status st = hers_ivecs_read(path, &im);
        return st != HERS_OK ? st : imatrix_to_float(path, &im, out);
    }
    case HERS_FMT_RAW:
        return hers_error(HERS_ERR_ARG, "%s: raw float32 needs an explicit dimension", path);
    case HERS_FMT_TEXT:
    case HERS_FMT_UNKNOWN: break;
    }
    return hers_error(HERS_ERR_FORMAT,
                      "%s: unknown matrix format (expected .npy, .fvecs, .bvecs, .ivecs or IDX)",
                      path);
}

hers_status hers_matrix_parse(hers_vec_format fmt, const void *buf, size_t len, size_t raw_dim,
                              hers_matrix *out)
{
    if (out)
        *out = (hers_matrix){0, 0, NULL};
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    switch (fmt) {
    case HERS_FMT_NPY: return hers_npy_parse(buf, len, out);
    case HERS_FMT_FVECS: return hers_fvecs_parse(buf, len, out);
    case HERS_FMT_BVECS: return hers_bvecs_parse(buf, len, out);
    case HERS_FMT_RAW: return hers_raw_parse(buf, len, raw_dim, out);
    case HERS_FMT_IDX: return hers_idx_parse_images(buf, len, out, NULL, NULL);
    case HERS_FMT_IVECS: {
        hers_imatrix im;
        hers_status st = hers_ivecs_parse(buf, len, &im);
        return st != HERS_OK ? st : imatrix_to_float(IO_MEM_NAME, &im, out);
    }
    case HERS_FMT_TEXT:
    case HERS_FMT_UNKNOWN: break;
    }
    return hers_error(HERS_ERR_ARG, "format %s is not a matrix format", hers_vec_format_name(fmt));
}

hers_status hers_matrix_write(const char *path, const hers_matrix *m)
{
    switch (hers_vec_format_from_path(path)) {
    case HERS_FMT_NPY: return hers_npy_write(path, m);
    case HERS_FMT_FVECS: return hers_fvecs_write(path, m);
    case HERS_FMT_RAW: return hers_matrix_write_raw(path, m);
    default: break;
    }
    return hers_error(HERS_ERR_ARG, "%s: cannot write this format (use .npy, .fvecs or .f32)",
                      path ? path : "(null)");
}
