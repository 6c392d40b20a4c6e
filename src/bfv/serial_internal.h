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

#include "core/bitpack.h"
#include "hers/hers_bfv.h"
#include "hers/hers_serial.h"

/* Little-endian fields and residue bit-packing: core/bitpack.h. */

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
