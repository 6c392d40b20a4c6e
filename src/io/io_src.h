/*
 * io_src.h - internal: a bounded byte source (memory buffer or file, with
 * optional gzip inflation) shared by the format parsers, and an atomic
 * file writer. Parsers are written once against io_src so that the
 * in-memory entry points (tests, fuzzing) and the file readers run the same
 * validation code, and large files are streamed without a second copy.
 */
#ifndef HERS_IO_SRC_H
#define HERS_IO_SRC_H

#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "core/atomic_file.h"
#include "core/bitpack.h"
#include "hers/hers_status.h"

typedef struct io_src {
    const char *name;        /* file name or "<memory>", for messages */
    const uint8_t *mem;      /* memory input, or NULL */
    uint64_t size;           /* total raw (compressed) bytes */
    uint64_t pos;            /* raw bytes consumed */
    FILE *f;                 /* file input, or NULL */
    /* gzip layer */
    int gz;                  /* 1 once io_src_start_gzip succeeded */
    int gz_end;              /* inflate reached Z_STREAM_END */
    z_stream zs;
    uint8_t *zbuf;           /* file input chunk for inflate */
} io_src;

#define IO_MEM_NAME "<memory>"

void io_src_mem(io_src *s, const void *buf, size_t len);
/* Opens `path` for reading (HERS_ERR_NOTFOUND if absent, HERS_ERR_IO). */
hers_status io_src_file(io_src *s, const char *path);
void io_src_close(io_src *s);

/* Plain sources: bytes left (exact). */
uint64_t io_src_left(const io_src *s);
/* 1 if the raw stream starts with the gzip magic 1f 8b (does not consume). */
int io_src_peek_gzip(io_src *s);
/* Switches to inflating a gzip stream from the current position. */
hers_status io_src_start_gzip(io_src *s);

/* Reads exactly n bytes ("<name>: truncated <what>" otherwise). */
hers_status io_src_read(io_src *s, void *dst, size_t n, const char *what);
/* Checks that a payload of `bytes` can follow: plain sources need exactly
 * that many bytes left; gzip sources need bytes <= HERS_IO_MAX_INFLATE and
 * <= 1032 * compressed size (deflate's maximum ratio). Called BEFORE the
 * payload is allocated. */
hers_status io_src_check_payload(const io_src *s, uint64_t bytes, const char *what);
/* Checks that nothing follows (and, for gzip, that the stream and its CRC
 * ended properly). */
hers_status io_src_expect_end(io_src *s);

/* Reads a whole file into a hers_alloc buffer (at most max bytes). */
hers_status io_read_file(const char *path, uint64_t max, uint8_t **buf, size_t *len);

/* Atomic, fsync'ed writer (core/atomic_file.h): a temporary beside path,
 * renamed on io_writer_commit. */
typedef struct io_writer {
    hers_atomic_file af;
} io_writer;

hers_status io_writer_open(io_writer *w, const char *path);
void io_writer_put(io_writer *w, const void *data, size_t n);
/* Flushes, closes and renames; on any error removes the temporary. */
hers_status io_writer_commit(io_writer *w);
void io_writer_abort(io_writer *w);

/* The v1 '<f4' .npy header of a rows x cols matrix (npy.c); returns its
 * length (a multiple of 64, at most 128 for any size_t shape) or 0 if cap
 * is too small. */
size_t io_npy_f4_header(size_t rows, size_t cols, uint8_t *h, size_t cap);

#endif
