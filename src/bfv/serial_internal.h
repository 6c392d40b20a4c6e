/*
 * serial_internal.h - private helpers of the serialisation code (serial_*.c):
 * little-endian fields, the record header and checksum, residue bit-packing
 * and whole-file I/O. Also used by the fuzz targets (to re-seal mutated
 * records so the body parsers are reached past the checksum).
 */
#ifndef HERS_SERIAL_INTERNAL_H
#define HERS_SERIAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_serial.h"

static inline void ser_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void ser_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t ser_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t ser_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Number of bits of x (0 for 0): the packed width of residues mod q is
 * ser_bitlen(q - 1) = ceil(log2 q). */
static inline int ser_bitlen(uint64_t x)
{
    return x ? 64 - __builtin_clzll(x) : 0;
}

/* Bytes of n values packed with `bits` bits each (n a multiple of 8). */
static inline size_t ser_packed_bytes(size_t n, int bits)
{
    return n / 8 * (size_t)bits;
}

/* Packs n values (1 <= bits <= 63, n a multiple of 8; each value masked to
 * `bits` bits) into ser_packed_bytes(n, bits) bytes, LSB first. Returns 1 if
 * every value is < bound, 0 otherwise (an invariant violation). */
int ser_pack(uint8_t *out, const uint64_t *v, size_t n, int bits, uint64_t bound);
/* Unpacks (1 <= bits <= 63); returns 1 if every value is < bound, 0 otherwise (all values are
 * still written). Reads exactly ser_packed_bytes(n, bits) bytes. */
int ser_unpack(uint64_t *v, const uint8_t *in, size_t n, int bits, uint64_t bound);

/* Writes the 56-byte header for an object of `type` with body size `body`.
 * params_id may be NULL (zeros). */
void ser_header_write(uint8_t *buf, hers_object_type type, const uint8_t *params_id,
                      uint64_t body);
/* Appends the checksum of buf[0, 56 + body) at buf + 56 + body. */
void ser_seal(uint8_t *buf, size_t body);

/* Validates a whole record of `type`: len vs header (exact), magic, tag,
 * version, reserved field, checksum, and the params id if `p` is not NULL
 * (HERS_ERR_MISMATCH). On success *body points at the body and *body_len is
 * its length. `what` names the object in messages. */
hers_status ser_open(const void *buf, size_t len, hers_object_type type, const hers_params *p,
                     const uint8_t **body, size_t *body_len);

/* Returns st after prefixing the thread's error message with "context: ". */
hers_status ser_context_error(hers_status st, const char *context);

/* Total record size for a body of `body` bytes. */
static inline size_t ser_total(size_t body)
{
    return HERS_SERIAL_HEADER_BYTES + body + HERS_SERIAL_CHECKSUM_BYTES;
}

/* The first 8 bytes of a passphrase-protected secret key
 * (serial_sk_protected.c); hers_secret_key_is_protected (serial_common.c,
 * beside hers_serial_peek) recognises it, so that serial_keys.c does not
 * depend on serial_sk_protected.c, which depends on it. */
#define HERS_SKPW_MAGIC "HERSSKPW"

/* Validates an NTT-table-compatible ring degree from a record. */
int ser_valid_n(uint64_t n);

/* Reads a whole file (size <= HERS_SERIAL_MAX_BYTES) into a new hers_alloc
 * buffer. The caller frees it (hers_free_secret for secret files). */
hers_status ser_read_file(const char *path, uint8_t **buf, size_t *len);
/* Writes buf to path atomically (temp file in the same directory, fsync,
 * rename). mode is 0600 for secrets (the temp file is created 0600), 0644
 * otherwise. */
hers_status ser_write_file(const char *path, const void *buf, size_t len, int secret);

/* An object's serialiser / deserialiser behind one signature (small typed
 * wrappers adapt the public functions). */
typedef hers_status ser_object_fn(const hers_params *p, const void *obj, void *buf, size_t cap,
                                  size_t *written);
typedef hers_status deser_object_fn(const hers_params *p, const void *buf, size_t len, void *out);
/* Serialises obj (size bytes) into a buffer and writes it to path
 * (ser_write_file; the buffer is wiped for secrets). `what` names the
 * object in the out-of-memory message when path is NULL. */
hers_status ser_write_object(const char *path, const char *what, size_t size, int secret,
                             const void *obj, ser_object_fn *ser, const hers_params *p);
/* Reads path and deserialises it into out; errors are prefixed with the
 * path. */
hers_status ser_read_object(const char *path, const hers_params *p, void *out,
                            deser_object_fn *deser);

#endif
