/* io_src.c - bounded byte sources (memory / file / gzip) and atomic writes. */
#include "io/io_src.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"

#define ZCHUNK 65536u
/* deflate cannot expand more than ~1032:1 (258-byte matches in 2 bits). */
#define DEFLATE_MAX_RATIO 1032u

void io_src_mem(io_src *s, const void *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->name = IO_MEM_NAME;
    s->mem = buf ? buf : (const uint8_t *)"";
    s->size = buf ? len : 0;
}

hers_status io_src_file(io_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->name = path;
    if (!path)
        return hers_error(HERS_ERR_ARG, "NULL path");
    s->f = fopen(path, "rb");
    if (!s->f) {
        int e = errno;
        return hers_error(e == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: cannot open: %s",
                          path, strerror(e));
    }
    struct stat st;
    if (fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(s->f);
        s->f = NULL;
        return hers_error(HERS_ERR_IO, "%s: not a regular file", path);
    }
    s->size = (uint64_t)st.st_size;
    return HERS_OK;
}

void io_src_close(io_src *s)
{
    if (s->gz)
        inflateEnd(&s->zs);
    s->gz = 0;
    if (s->f)
        fclose(s->f);
    s->f = NULL;
    hers_free(s->zbuf);
    s->zbuf = NULL;
}

uint64_t io_src_left(const io_src *s) { return s->size - s->pos; }

/* Raw read of up to n bytes; returns the count (short only at EOF/error). */
static size_t raw_read(io_src *s, void *dst, size_t n)
{
    uint64_t left = io_src_left(s);
    if (n > left)
        n = (size_t)left;
    if (n == 0)
        return 0;
    size_t got;
    if (s->mem) {
        memcpy(dst, s->mem + s->pos, n);
        got = n;
    } else {
        got = fread(dst, 1, n, s->f);
    }
    s->pos += got;
    return got;
}

int io_src_peek_gzip(io_src *s)
{
    if (s->gz || io_src_left(s) < 2)
        return 0;
    uint8_t m[2];
    uint64_t at = s->pos;
    size_t got = raw_read(s, m, 2);
    s->pos = at;
    if (s->f && fseeko(s->f, (off_t)at, SEEK_SET) != 0)
        return 0;
    return got == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

hers_status io_src_start_gzip(io_src *s)
{
    memset(&s->zs, 0, sizeof s->zs);
    if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK)
        return hers_error(HERS_ERR_NOMEM, "%s: cannot initialise zlib", s->name);
    if (s->f) {
        s->zbuf = hers_alloc(ZCHUNK);
        if (!s->zbuf) {
            inflateEnd(&s->zs);
            return hers_error(HERS_ERR_NOMEM, "%s: cannot allocate the inflate buffer", s->name);
        }
    }
    s->gz = 1;
    s->gz_end = 0;
    return HERS_OK;
}

static hers_status gz_feed(io_src *s)
{
    if (s->mem) {
        uint64_t left = io_src_left(s);
        uInt give = left > UINT_MAX ? UINT_MAX : (uInt)left;
        s->zs.next_in = (Bytef *)(uintptr_t)(s->mem + s->pos);
        s->zs.avail_in = give;
        s->pos += give;
        return HERS_OK;
    }
    size_t got = raw_read(s, s->zbuf, ZCHUNK);
    if (got < ZCHUNK && ferror(s->f))
        return hers_error(HERS_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
    s->zs.next_in = s->zbuf;
    s->zs.avail_in = (uInt)got;
    return HERS_OK;
}

/* Inflates up to n bytes into dst; *got < n only at the end of the stream or
 * of the input. */
static hers_status gz_inflate(io_src *s, uint8_t *dst, size_t n, size_t *got)
{
    *got = 0;
    while (n > 0 && !s->gz_end) {
        uInt chunk = n > UINT_MAX ? UINT_MAX : (uInt)n;
        s->zs.next_out = dst;
        s->zs.avail_out = chunk;
        int starved = 0;
        while (s->zs.avail_out > 0) {
            if (s->zs.avail_in == 0) {
                hers_status st = gz_feed(s);
                if (st != HERS_OK)
                    return st;
            }
            int r = inflate(&s->zs, Z_NO_FLUSH);
            if (r == Z_STREAM_END) {
                s->gz_end = 1;
                break;
            }
            if (r == Z_BUF_ERROR && s->zs.avail_in == 0) {
                starved = 1;
                break;
            }
            if (r != Z_OK)
                return hers_error(HERS_ERR_FORMAT, "%s: corrupt gzip data (%s)", s->name,
                                  s->zs.msg ? s->zs.msg : "inflate failed");
        }
        size_t produced = chunk - s->zs.avail_out;
        *got += produced;
        dst += produced;
        n -= produced;
        if (starved)
            break;
    }
    return HERS_OK;
}

hers_status io_src_read(io_src *s, void *dst, size_t n, const char *what)
{
    size_t got;
    if (s->gz) {
        hers_status st = gz_inflate(s, dst, n, &got);
        if (st != HERS_OK)
            return st;
    } else {
        got = raw_read(s, dst, n);
        if (got < n && s->f && ferror(s->f))
            return hers_error(HERS_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
    }
    if (got < n)
        return hers_error(HERS_ERR_FORMAT, "%s: truncated %s (%zu of %zu bytes)", s->name, what,
                          got, n);
    return HERS_OK;
}

hers_status io_src_check_payload(const io_src *s, uint64_t bytes, const char *what)
{
    if (!s->gz) {
        uint64_t left = io_src_left(s);
        if (bytes != left)
            return hers_error(HERS_ERR_FORMAT,
                              "%s: %s needs %llu bytes of data but %llu bytes follow the header",
                              s->name, what, (unsigned long long)bytes, (unsigned long long)left);
        return HERS_OK;
    }
    if (bytes > HERS_IO_MAX_INFLATE)
        return hers_error(HERS_ERR_FORMAT, "%s: %s claims %llu bytes (limit %llu)", s->name, what,
                          (unsigned long long)bytes, (unsigned long long)HERS_IO_MAX_INFLATE);
    if (bytes / DEFLATE_MAX_RATIO > s->size)
        return hers_error(HERS_ERR_FORMAT,
                          "%s: %s claims %llu bytes, impossible for a %llu-byte gzip file",
                          s->name, what, (unsigned long long)bytes, (unsigned long long)s->size);
    return HERS_OK;
}

hers_status io_src_expect_end(io_src *s)
{
    if (!s->gz) {
        uint64_t left = io_src_left(s);
        if (left)
            return hers_error(HERS_ERR_FORMAT, "%s: %llu trailing bytes after the data", s->name,
                              (unsigned long long)left);
        return HERS_OK;
    }
    if (!s->gz_end) {
        uint8_t b;
        size_t got;
        hers_status st = gz_inflate(s, &b, 1, &got);
        if (st != HERS_OK)
            return st;
        if (got)
            return hers_error(HERS_ERR_FORMAT, "%s: trailing data after the payload", s->name);
        if (!s->gz_end)
            return hers_error(HERS_ERR_FORMAT, "%s: truncated gzip stream (no end / CRC)",
                              s->name);
    }
    if (s->zs.avail_in || io_src_left(s))
        return hers_error(HERS_ERR_FORMAT, "%s: trailing bytes after the gzip stream", s->name);
    return HERS_OK;
}

hers_status io_read_file(const char *path, uint64_t max, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    io_src s;
    hers_status st = io_src_file(&s, path);
    if (st != HERS_OK)
        return st;
    if (s.size > max || s.size > SIZE_MAX - 1) {
        io_src_close(&s);
        return hers_error(HERS_ERR_FORMAT, "%s: file too large (%llu bytes, limit %llu)", path,
                          (unsigned long long)s.size, (unsigned long long)max);
    }
    uint8_t *b = hers_alloc((size_t)s.size + 1);
    if (!b) {
        io_src_close(&s);
        return hers_error(HERS_ERR_NOMEM, "%s: cannot allocate %llu bytes", path,
                          (unsigned long long)s.size);
    }
    st = io_src_read(&s, b, (size_t)s.size, "file");
    io_src_close(&s);
    if (st != HERS_OK) {
        hers_free(b);
        return st;
    }
    *buf = b;
    *len = (size_t)s.size;
    return HERS_OK;
}

hers_status io_writer_open(io_writer *w, const char *path)
{
    return hers_atomic_open(&w->af, path, 0644);
}

void io_writer_put(io_writer *w, const void *data, size_t n)
{
    hers_atomic_write(&w->af, data, n);
}

hers_status io_writer_commit(io_writer *w)
{
    return hers_atomic_commit(&w->af);
}

void io_writer_abort(io_writer *w)
{
    hers_atomic_abort(&w->af);
}
