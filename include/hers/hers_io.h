/*
 * hers_io.h - reading and writing representation matrices and labels.
 *
 * Formats (see docs/formats.md, "Vector and label files"):
 *   .npy    NumPy v1/v2/v3 header, C order, 1-D or 2-D. Matrices: '<f4',
 *           '<f8', '|u1' (and '<i1'.. integer dtypes, converted to float).
 *           Labels: any integer dtype '<i1' '<i2' '<i4' '<i8' '|u1' '<u2'
 *           '<u4' '<u8' (values must fit int32). A 1-D matrix is read as
 *           one column (n x 1). Written: v1, '<f4' (matrices), '<i4' (labels).
 *   .fvecs  ANN benchmark format: per record, int32 LE dim then dim float32.
 *   .bvecs  the same with dim uint8 bytes (read only, values 0..255).
 *   .ivecs  the same with dim int32 (read into hers_imatrix; via
 *           hers_matrix_read only if every |value| <= 2^24, exact in float).
 *   raw     headerless little-endian float32 with a caller-given dimension.
 *   IDX     MNIST / Fashion-MNIST: big-endian magic 0x00000803 (u8 images,
 *           n x rows x cols) or 0x00000801 (u8 labels, n); gzip-compressed
 *           (detected by the 1f 8b magic, inflated with zlib) or plain.
 *   text labels: one decimal integer per line (int32 range); blank lines
 *           and lines starting with '#' are skipped; CRLF accepted.
 *
 * Limits: every dimension (columns, record dim, image side) is in
 * 1..HERS_IO_MAX_DIM; row counts in 1..HERS_IO_MAX_ROWS (0 rows is accepted
 * only where stated); the payload size claimed by a header must match the
 * data length exactly (no truncation, no trailing bytes) and is checked
 * against the file length BEFORE anything is allocated. For gzip input the
 * claim is checked against deflate's maximum ratio (1032:1) and against
 * HERS_IO_MAX_INFLATE before allocation, then the stream must end exactly.
 *
 * Errors: HERS_ERR_IO (open/read/write failure), HERS_ERR_FORMAT (malformed,
 * truncated, trailing data, bad magic, unsupported dtype, fortran order,
 * shape/size mismatch, value out of range), HERS_ERR_VERSION (npy major
 * version > 3), HERS_ERR_ARG (NULL pointers, bad dimension argument),
 * HERS_ERR_NOMEM. The message names the file (or "<memory>") and the problem.
 * On error the output object is left empty ({0, 0, NULL}).
 *
 * Ownership: outputs are allocated by the callee (64-byte aligned); free with
 * hers_matrix_free / hers_labels_free / hers_imatrix_free / hers_free.
 * Output structs need not be initialised before the call; they are
 * overwritten (not freed) - pass empty structs to avoid leaks.
 * Thread-safety: all functions are reentrant (no global state).
 */
#ifndef HERS_IO_H
#define HERS_IO_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_IO_MAX_DIM ((size_t)1 << 20)      /* max columns / record dim */
#define HERS_IO_MAX_ROWS ((size_t)1 << 32)     /* max rows / labels */
#define HERS_IO_MAX_INFLATE ((size_t)1 << 32)  /* max decompressed IDX bytes */

/* Default location of Debian's dataset-fashion-mnist package. */
#define HERS_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* An int32 matrix (row-major), for .ivecs (e.g. ground-truth neighbours). */
typedef struct hers_imatrix {
    size_t rows;
    size_t cols;
    int32_t *data;
} hers_imatrix;

HERS_API void hers_imatrix_free(hers_imatrix *m);

typedef enum hers_vec_format {
    HERS_FMT_UNKNOWN = 0,
    HERS_FMT_NPY,
    HERS_FMT_FVECS,
    HERS_FMT_BVECS,
    HERS_FMT_IVECS,
    HERS_FMT_RAW,       /* headerless float32, needs a dimension */
    HERS_FMT_IDX,       /* IDX images (plain or gzip) */
    HERS_FMT_TEXT       /* labels: one integer per line */
} hers_vec_format;

/* Format from the file name's extension (case-insensitive): .npy .fvecs
 * .bvecs .ivecs .f32/.raw/.bin (raw), .idx/...-idx3-ubyte[.gz] (IDX),
 * .txt/.labels/.csv (text). A trailing ".gz" is looked through for IDX only.
 * HERS_FMT_UNKNOWN otherwise. */
HERS_API hers_vec_format hers_vec_format_from_path(const char *path);
HERS_API const char *hers_vec_format_name(hers_vec_format f);

/* ---- generic matrix I/O (dispatch by extension) ---- */

/* Reads .npy / .fvecs / .bvecs / .ivecs / IDX images (pixel/255) by
 * extension. Raw float32 needs hers_matrix_read_raw. */
HERS_API hers_status hers_matrix_read(const char *path, hers_matrix *out);
/* Headerless LE float32; file length must be a multiple of 4 * dim,
 * dim in 1..HERS_IO_MAX_DIM. */
HERS_API hers_status hers_matrix_read_raw(const char *path, size_t dim, hers_matrix *out);
/* Writes .npy ('<f4', v1), .fvecs, or raw (.f32/.raw/.bin) by extension.
 * The file is written to "<path>.tmp" then renamed (no partial files). */
HERS_API hers_status hers_matrix_write(const char *path, const hers_matrix *m);
HERS_API hers_status hers_matrix_write_raw(const char *path, const hers_matrix *m);

/* ---- streaming matrix writer (for outputs larger than memory) ----
 * Declare the final shape, append row blocks, then close: the file appears
 * (atomically renamed from "<path>.tmp") only if exactly `rows` rows were
 * appended. Format by extension: .npy, .fvecs or raw (.f32/.raw/.bin).
 * Values must be finite. Not thread-safe per object. */
typedef struct hers_matrix_writer hers_matrix_writer;

HERS_API hers_status hers_matrix_writer_open(hers_matrix_writer **w, const char *path, size_t rows,
                                             size_t cols);
/* Appends block->rows rows (block->cols must equal cols). */
HERS_API hers_status hers_matrix_writer_append(hers_matrix_writer *w, const hers_matrix *block);
/* Finishes and frees w (also on error, removing the temporary). */
HERS_API hers_status hers_matrix_writer_close(hers_matrix_writer *w);
/* Discards the output and frees w (NULL allowed). */
HERS_API void hers_matrix_writer_abort(hers_matrix_writer *w);

/* ---- in-memory parsers (buffer + length; for tests and fuzzing) ---- */

/* Any matrix format; raw_dim is used only for HERS_FMT_RAW. */
HERS_API hers_status hers_matrix_parse(hers_vec_format fmt, const void *buf, size_t len,
                                       size_t raw_dim, hers_matrix *out);
HERS_API hers_status hers_npy_parse(const void *buf, size_t len, hers_matrix *out);
HERS_API hers_status hers_npy_parse_labels(const void *buf, size_t len, hers_labels *out);
HERS_API hers_status hers_fvecs_parse(const void *buf, size_t len, hers_matrix *out);
HERS_API hers_status hers_bvecs_parse(const void *buf, size_t len, hers_matrix *out);
HERS_API hers_status hers_ivecs_parse(const void *buf, size_t len, hers_imatrix *out);
HERS_API hers_status hers_raw_parse(const void *buf, size_t len, size_t dim, hers_matrix *out);
/* IDX images: rows = images, cols = height * width, values pixel / 255 in
 * [0, 1]. height / width may be NULL. gzip detected automatically. */
HERS_API hers_status hers_idx_parse_images(const void *buf, size_t len, hers_matrix *out,
                                           size_t *height, size_t *width);
HERS_API hers_status hers_idx_parse_labels(const void *buf, size_t len, hers_labels *out);
/* Labels: .npy (detected by magic) or text. */
HERS_API hers_status hers_labels_parse(const void *buf, size_t len, hers_labels *out);
HERS_API hers_status hers_labels_parse_text(const void *buf, size_t len, hers_labels *out);

/* ---- in-memory encoders (output allocated with hers_alloc; hers_free) ---- */

HERS_API hers_status hers_npy_encode(const hers_matrix *m, uint8_t **buf, size_t *len);
HERS_API hers_status hers_npy_encode_labels(const hers_labels *l, uint8_t **buf, size_t *len);
HERS_API hers_status hers_fvecs_encode(const hers_matrix *m, uint8_t **buf, size_t *len);

/* ---- per-format file functions ---- */

HERS_API hers_status hers_npy_read(const char *path, hers_matrix *out);
HERS_API hers_status hers_npy_write(const char *path, const hers_matrix *m);
HERS_API hers_status hers_npy_read_labels(const char *path, hers_labels *out);
HERS_API hers_status hers_npy_write_labels(const char *path, const hers_labels *l);
HERS_API hers_status hers_fvecs_read(const char *path, hers_matrix *out);
HERS_API hers_status hers_fvecs_write(const char *path, const hers_matrix *m);
HERS_API hers_status hers_bvecs_read(const char *path, hers_matrix *out);
HERS_API hers_status hers_ivecs_read(const char *path, hers_imatrix *out);

/* Labels from .npy (any integer dtype, by magic), IDX labels (by magic,
 * plain or gzip), or text (one integer per line). */
HERS_API hers_status hers_labels_read(const char *path, hers_labels *out);
/* .npy ('<i4', v1) if the name ends in .npy, else text, one per line. */
HERS_API hers_status hers_labels_write(const char *path, const hers_labels *l);

/* IDX files (plain or gzip), see hers_idx_parse_images. */
HERS_API hers_status hers_idx_read_images(const char *path, hers_matrix *out, size_t *height,
                                          size_t *width);
HERS_API hers_status hers_idx_read_labels(const char *path, hers_labels *out);

/* Fashion-MNIST from `dir` (NULL: HERS_FASHION_MNIST_DIR), split "train"
 * (60,000) or "t10k" (10,000): <split>-images-idx3-ubyte[.gz] and
 * <split>-labels-idx1-ubyte[.gz]. images: n x 784, values in [0, 1] (not
 * normalised); labels 0..9. HERS_ERR_NOTFOUND if the files are absent;
 * HERS_ERR_FORMAT if the counts of images and labels differ. */
HERS_API hers_status hers_fashion_mnist_load(const char *dir, const char *split, hers_matrix *images,
                                             hers_labels *labels);

#ifdef __cplusplus
}
#endif
#endif /* HERS_IO_H */
