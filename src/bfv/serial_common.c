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

/* ------------------------------------------------------------ bit-packing */

/* Little-endian 64-bit load / store of up to 8 bytes (fewer at the end of a
 * stream: missing bytes read as 0). */
static inline uint64_t load_le(const uint8_t *p, size_t avail)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (avail >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
#endif
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < avail; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void store_le(uint8_t *p, uint64_t v, size_t bytes)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bytes == 8) {
        memcpy(p, &v, 8);
        return;
    }
#endif
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int ser_pack(uint8_t *out, const uint64_t *v, size_t n, int bits, uint64_t bound)
{
    /* acc holds nb in [0, 64) pending bits; each value adds `bits` (< 64). */
    const uint64_t mask = ((uint64_t)1 << bits) - 1;
    uint64_t acc = 0, bad = 0;
    int nb = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        bad |= (uint64_t)(x >= bound);
        x &= mask;
        acc |= x << nb;
        nb += bits;
        if (nb >= 64) {
            store_le(out + o, acc, 8);
            o += 8;
            nb -= 64;
            /* the high nb bits of x did not fit (x >> 64 is undefined: nb = 0) */
            acc = nb ? x >> (bits - nb) : 0;
        }
    }
    /* n * bits is a multiple of 8: whole bytes remain. */
    store_le(out + o, acc, (size_t)nb / 8);
    return bad == 0;
}

int ser_unpack(uint64_t *v, const uint8_t *in, size_t n, int bits, uint64_t bound)
{
    const size_t total = ser_packed_bytes(n, bits);
    const uint64_t mask = ((uint64_t)1 << bits) - 1;
    uint64_t cur = 0, bad = 0;
    int avail = 0; /* unread bits in cur, 0..64 */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x;
        if (avail >= bits) {
            x = cur & mask;
            cur >>= bits;
            avail -= bits;
        } else {
            uint64_t next = load_le(in + o, total - o);
            o += 8;
            /* low `avail` bits from cur, the rest from next */
            x = (cur | (avail ? next << avail : next)) & mask;
            int used = bits - avail; /* 1..bits from next */
            cur = next >> used;
            avail = 64 - used;
        }
        v[i] = x;
        bad |= (uint64_t)(x >= bound);
    }
    return bad == 0;
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
    ser_put_u32(buf + 8, HERS_SERIAL_VERSION);
    ser_put_u32(buf + 12, 0);
    if (params_id)
        memcpy(buf + 16, params_id, 32);
    else
        memset(buf + 16, 0, 32);
    ser_put_u64(buf + 48, body);
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
    uint32_t version = ser_get_u32(b + 8);
    if (version != HERS_SERIAL_VERSION)
        return hers_error(HERS_ERR_VERSION, "format version %u not supported (this build reads %d)",
                          version, HERS_SERIAL_VERSION);
    if (ser_get_u32(b + 12) != 0)
        return hers_error(HERS_ERR_FORMAT, "reserved header field is not zero");
    uint64_t body = ser_get_u64(b + 48);
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
    if (!hers_ct_equal(sum, b + n, sizeof sum))
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
    if (!path)
        return hers_error(HERS_ERR_ARG, "NULL path");
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 12);
    if (!tmp)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", 12);
    /* mkstemp creates the file with O_EXCL and mode 0600, so a secret is
     * never readable by others, not even for a moment. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        hers_status st = hers_error(HERS_ERR_IO, "%s: cannot create temporary file: %s", path,
                                    strerror(errno));
        free(tmp);
        return st;
    }
    const char *fail = NULL;
    int err = 0;
    if (fchmod(fd, secret ? 0600 : 0644) != 0) {
        fail = "chmod";
        err = errno;
    }
    const uint8_t *b = buf;
    size_t done = 0;
    while (!fail && done < len) {
        ssize_t w = write(fd, b + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fail = "write";
            err = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (!fail && fsync(fd) != 0) {
        fail = "fsync";
        err = errno;
    }
    if (close(fd) != 0 && !fail) {
        fail = "close";
        err = errno;
    }
    if (!fail && rename(tmp, path) != 0) {
        fail = "rename";
        err = errno;
    }
    if (fail) {
        unlink(tmp);
        free(tmp);
        return hers_error(HERS_ERR_IO, "%s: %s failed: %s", path, fail, strerror(err));
    }
    free(tmp);
    return HERS_OK;
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
