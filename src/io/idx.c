/* idx.c - IDX (MNIST / Fashion-MNIST) images and labels, plain or gzip. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "io/io_src.h"

#define IDX_IMAGES 0x00000803u /* unsigned byte, 3 dimensions */
#define IDX_LABELS 0x00000801u /* unsigned byte, 1 dimension */

static hers_status idx_header(io_src *s, uint32_t want, uint32_t *dims, size_t ndim)
{
    hers_status st;
    if (io_src_peek_gzip(s) && (st = io_src_start_gzip(s)) != HERS_OK)
        return st;
    uint8_t b[16];
    if ((st = io_src_read(s, b, 4 + 4 * ndim, "IDX header")) != HERS_OK)
        return st;
    uint32_t magic = hers_be_get_u32(b);
    if (magic != want)
        return hers_error(HERS_ERR_FORMAT, "%s: not an IDX %s file (magic 0x%08x, expected 0x%08x)",
                          s->name, want == IDX_IMAGES ? "image" : "label", magic, want);
    for (size_t i = 0; i < ndim; i++)
        dims[i] = hers_be_get_u32(b + 4 + 4 * i);
    return HERS_OK;
}

static hers_status idx_images(io_src *s, hers_matrix *out, size_t *height, size_t *width)
{
    uint32_t d[3] = {0, 0, 0};
    hers_status st = idx_header(s, IDX_IMAGES, d, 3);
    if (st != HERS_OK)
        return st;
    uint64_t n = d[0], pix = (uint64_t)d[1] * d[2];
    if (d[1] < 1 || d[2] < 1 || pix > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_FORMAT, "%s: IDX image size %u x %u outside 1..%zu pixels",
                          s->name, d[1], d[2], HERS_IO_MAX_DIM);
    if ((st = io_src_check_payload(s, n * pix, "IDX image data")) != HERS_OK)
        return st;
    if ((st = hers_matrix_alloc(out, (size_t)n, (size_t)pix)) != HERS_OK)
        return st;
    uint8_t buf[16384];
    size_t total = (size_t)(n * pix);
    for (size_t done = 0; done < total;) {
        size_t k = total - done < sizeof buf ? total - done : sizeof buf;
        if ((st = io_src_read(s, buf, k, "IDX image data")) != HERS_OK)
            break;
        for (size_t i = 0; i < k; i++)
            out->data[done + i] = (float)buf[i] / 255.0f; /* correctly rounded */
        done += k;
    }
    if (st == HERS_OK)
        st = io_src_expect_end(s);
    if (st != HERS_OK) {
        hers_matrix_free(out);
        return st;
    }
    if (height)
        *height = d[1];
    if (width)
        *width = d[2];
    return HERS_OK;
}

static hers_status idx_labels(io_src *s, hers_labels *out)
{
    uint32_t n = 0;
    hers_status st = idx_header(s, IDX_LABELS, &n, 1);
    if (st != HERS_OK)
        return st;
    if ((st = io_src_check_payload(s, n, "IDX label data")) != HERS_OK)
        return st;
    if ((st = hers_labels_alloc(out, n)) != HERS_OK)
        return st;
    uint8_t buf[16384];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        if ((st = io_src_read(s, buf, k, "IDX label data")) != HERS_OK)
            break;
        for (size_t i = 0; i < k; i++)
            out->data[done + i] = buf[i];
        done += k;
    }
    if (st == HERS_OK)
        st = io_src_expect_end(s);
    if (st != HERS_OK)
        hers_labels_free(out);
    return st;
}

hers_status hers_idx_parse_images(const void *buf, size_t len, hers_matrix *out, size_t *height,
                                  size_t *width)
{
    if (out)
        *out = (hers_matrix){0, 0, NULL};
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    io_src_mem(&s, buf, len);
    hers_status st = idx_images(&s, out, height, width);
    io_src_close(&s);
    return st;
}

hers_status hers_idx_parse_labels(const void *buf, size_t len, hers_labels *out)
{
    if (out)
        *out = (hers_labels){0, NULL};
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    io_src_mem(&s, buf, len);
    hers_status st = idx_labels(&s, out);
    io_src_close(&s);
    return st;
}

hers_status hers_idx_read_images(const char *path, hers_matrix *out, size_t *height,
                                 size_t *width)
{
    if (out)
        *out = (hers_matrix){0, 0, NULL};
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st == HERS_OK)
        st = idx_images(&s, out, height, width);
    io_src_close(&s);
    return st;
}

hers_status hers_idx_read_labels(const char *path, hers_labels *out)
{
    if (out)
        *out = (hers_labels){0, NULL};
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st == HERS_OK)
        st = idx_labels(&s, out);
    io_src_close(&s);
    return st;
}

/* "<dir>/<split>-<kind>" with ".gz" if that exists, else without. */
static hers_status find_file(const char *dir, const char *split, const char *kind, char *out,
                             size_t cap)
{
    struct stat st;
    int n = snprintf(out, cap, "%s/%s-%s.gz", dir, split, kind);
    if (n < 0 || (size_t)n >= cap)
        return hers_error(HERS_ERR_ARG, "Fashion-MNIST directory name too long");
    if (stat(out, &st) == 0)
        return HERS_OK;
    out[n - 3] = '\0';
    if (stat(out, &st) == 0)
        return HERS_OK;
    return hers_error(HERS_ERR_NOTFOUND,
                      "%s/%s-%s[.gz]: Fashion-MNIST not found (Debian: apt install "
                      "dataset-fashion-mnist)",
                      dir, split, kind);
}

hers_status hers_fashion_mnist_load(const char *dir, const char *split, hers_matrix *images,
                                    hers_labels *labels)
{
    if (images)
        *images = (hers_matrix){0, 0, NULL};
    if (labels)
        *labels = (hers_labels){0, NULL};
    if (!images || !labels || !split)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)
        return hers_error(HERS_ERR_ARG, "Fashion-MNIST split '%s' (expected train or t10k)",
                          split);
    if (!dir)
        dir = HERS_FASHION_MNIST_DIR;
    char ipath[4096], lpath[4096];
    hers_status st = find_file(dir, split, "images-idx3-ubyte", ipath, sizeof ipath);
    if (st == HERS_OK)
        st = find_file(dir, split, "labels-idx1-ubyte", lpath, sizeof lpath);
    if (st != HERS_OK)
        return st;
    if ((st = hers_idx_read_images(ipath, images, NULL, NULL)) != HERS_OK)
        return st;
    if ((st = hers_idx_read_labels(lpath, labels)) != HERS_OK) {
        hers_matrix_free(images);
        return st;
    }
    if (labels->count != images->rows) {
        st = hers_error(HERS_ERR_FORMAT, "%s: %zu labels for %zu images in %s", lpath,
                        labels->count, images->rows, ipath);
        hers_matrix_free(images);
        hers_labels_free(labels);
    }
    return st;
}
