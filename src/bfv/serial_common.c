/* serial_common.c - record header, checksum, bit-packing and file I/O shared
 * by the serialisers of parameters, keys, plaintexts and ciphertexts. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bfv/serial_internal.h"
#include "core/atomic_file.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"

static const char tags[8][5] = {"????", "PARM", "SKEY", "PKEY", "RKEY", "PTXT", "CTXT", "GKEY"};
static const char *const names[8] = {"unknown",   "params",    "secret key", "public key",
                                     "relin key", "plaintext", "ciphertext", "galois key"};

const char *hers_object_type_name(hers_object_type t)
{
    return (t >= HERS_OBJ_PARAMS && t <= HERS_OBJ_GALOIS_KEY) ? names[t] : names[0];
}

static int tag_type(const uint8_t *tag)
{
    for (int i = HERS_OBJ_PARAMS; i <= HERS_OBJ_GALOIS_KEY; i++)
        if (memcmp(tag, tags[i], 4) == 0)
            return i;
    return 0;
}

int ser_valid_n(uint64_t n)
{
    return n >= 16 && n <= 32768 && (n & (n - 1)) == 0;
}

/* ------------------------------------------------------------ header */

hers_status ser_context_error(hers_status st, const char *context)
{
    /* Copy first: hers_error formats into the buffer hers_last_error returns. */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hers_last_error());
    return hers_error(st, "%s: %s", context ? context : "(null)", msg);
}

void ser_header_write(uint8_t *buf, hers_object_type type, const uint8_t *params_id, uint64_t body)
{
    memcpy(buf, "HERS", 4);
    memcpy(buf + 4, tags[type], 4);
    hers_le_put_u32(buf + 8, HERS_SERIAL_VERSION);
    hers_le_put_u32(buf + 12, 0);
    if (params_id)
        memcpy(buf + 16, params_id, 32);
    else
        memset(buf + 16, 0, 32);
    hers_le_put_u64(buf + 48, body);
}

void ser_seal(uint8_t *buf, size_t body)
{
    (void)hers_random_init();
    size_t n = HERS_SERIAL_HEADER_BYTES + body;
    crypto_generichash(buf + n, HERS_SERIAL_CHECKSUM_BYTES, buf, n, NULL, 0);
}

static hers_status check_header(const uint8_t *b, size_t len, int *type, uint64_t *total)
{
    if (len < HERS_SERIAL_HEADER_BYTES)
        return hers_error(HERS_ERR_FORMAT, "truncated header (%zu of %d bytes)", len,
                          HERS_SERIAL_HEADER_BYTES);
    if (memcmp(b, "HERS", 4) != 0)
        return hers_error(HERS_ERR_FORMAT, "not a hers object (bad magic)");
    *type = tag_type(b + 4);
    if (*type == 0)
        return hers_error(HERS_ERR_FORMAT, "unknown object tag");
    uint32_t version = hers_le_get_u32(b + 8);
    if (version != HERS_SERIAL_VERSION)
        return hers_error(HERS_ERR_VERSION, "format version %u not supported (this build reads %d)",
                          version, HERS_SERIAL_VERSION);
    if (hers_le_get_u32(b + 12) != 0)
        return hers_error(HERS_ERR_FORMAT, "reserved header field is not zero");
    uint64_t body = hers_le_get_u64(b + 48);
    if (body > HERS_SERIAL_MAX_BYTES - HERS_SERIAL_HEADER_BYTES - HERS_SERIAL_CHECKSUM_BYTES)
        return hers_error(HERS_ERR_FORMAT, "body size %llu too large", (unsigned long long)body);
    *total = body + HERS_SERIAL_HEADER_BYTES + HERS_SERIAL_CHECKSUM_BYTES;
    return HERS_OK;
}

hers_status hers_serial_peek(const void *buf, size_t len, hers_object_type *type,
                             uint8_t params_id[32], uint64_t *total_size)
{
    if (!buf)
        return hers_error(HERS_ERR_ARG, "hers_serial_peek: NULL buffer");
    int t = 0;
    uint64_t total = 0;
    hers_status st = check_header(buf, len, &t, &total);
    if (st != HERS_OK)
        return st;
    if (type)
        *type = (hers_object_type)t;
    if (params_id)
        memcpy(params_id, (const uint8_t *)buf + 16, 32);
    if (total_size)
        *total_size = total;
    return HERS_OK;
}

int hers_secret_key_is_protected(const void *buf, size_t len)
{
    return buf && len >= 8 && memcmp(buf, HERS_SKPW_MAGIC, 8) == 0;
}

hers_status ser_open(const void *buf, size_t len, hers_object_type type, const hers_params *p,
                     const uint8_t **body, size_t *body_len)
{
    const char *what = hers_object_type_name(type);
    if (!buf)
        return hers_error(HERS_ERR_ARG, "%s: NULL buffer", what);
    const uint8_t *b = buf;
    int t = 0;
    uint64_t total = 0;
    hers_status st = check_header(b, len, &t, &total);
    if (st != HERS_OK)
        return ser_context_error(st, what);
    if (t != (int)type)
        return hers_error(HERS_ERR_FORMAT, "%s: the record holds a %s", what,
                          hers_object_type_name((hers_object_type)t));
    if (total > len)
        return hers_error(HERS_ERR_FORMAT, "%s: truncated (%zu bytes, header says %llu)", what, len,
                          (unsigned long long)total);
    if (total < len)
        return hers_error(HERS_ERR_FORMAT, "%s: %zu trailing bytes after the record", what,
                          len - (size_t)total);
    size_t n = (size_t)total - HERS_SERIAL_CHECKSUM_BYTES;
    uint8_t sum[HERS_SERIAL_CHECKSUM_BYTES];
    (void)hers_random_init();
    crypto_generichash(sum, sizeof sum, b, n, NULL, 0);
    if (!hers_consttime_equal(sum, b + n, sizeof sum))
        return hers_error(HERS_ERR_CHECKSUM, "%s: checksum mismatch (corrupted data)", what);
    if (p && memcmp(b + 16, hers_params_id(p), 32) != 0)
        return hers_error(HERS_ERR_MISMATCH, "%s: made with a different parameter set", what);
    *body = b + HERS_SERIAL_HEADER_BYTES;
    *body_len = n - HERS_SERIAL_HEADER_BYTES;
    return HERS_OK;
}

/* ------------------------------------------------------------ files */

hers_status ser_read_file(const char *path, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!path)
        return hers_error(HERS_ERR_ARG, "NULL path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", path,
                          strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return hers_error(HERS_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > HERS_SERIAL_MAX_BYTES) {
        close(fd);
        return hers_error(HERS_ERR_FORMAT, "%s: file too large (%lld bytes)", path,
                          (long long)sb.st_size);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *b = hers_alloc(size ? size : 1);
    if (!b) {
        close(fd);
        return hers_error(HERS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, b + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            hers_free_secret(b, size);
            return hers_error(HERS_ERR_IO, "%s: read failed: %s", path,
                              e ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = size;
    return HERS_OK;
}

hers_status ser_write_file(const char *path, const void *buf, size_t len, int secret)
{
    return hers_atomic_write_file(path, buf, len, secret ? 0600 : 0644);
}

hers_status ser_write_object(const char *path, const char *what, size_t size, int secret,
                             const void *obj, ser_object_fn *ser, const hers_params *p)
{
    uint8_t *b = hers_alloc(size);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path ? path : what);
    hers_status st = ser(p, obj, b, size, NULL);
    if (st == HERS_OK)
        st = ser_write_file(path, b, size, secret);
    if (secret)
        hers_free_secret(b, size);
    else
        hers_free(b);
    return st;
}

hers_status ser_read_object(const char *path, const hers_params *p, void *out,
                            deser_object_fn *deser)
{
    uint8_t *b;
    size_t len;
    hers_status st = ser_read_file(path, &b, &len);
    if (st != HERS_OK)
        return st;
    st = deser(p, b, len, out);
    hers_free(b);
    return st != HERS_OK ? ser_context_error(st, path) : HERS_OK;
}
