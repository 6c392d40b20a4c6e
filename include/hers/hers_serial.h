/*
 * hers_serial.h - serialisation of BFV parameters, keys, plaintexts and
 * ciphertexts, to memory buffers (network) and to files.
 *
 * Every object is one self-contained, versioned record (byte layout in
 * docs/formats.md, "Keys, parameters and ciphertexts"):
 *
 *   offset  size  field
 *   0       4     magic "HERS"
 *   4       4     object tag: "PARM" "SKEY" "PKEY" "RKEY" "PTXT" "CTXT" "GKEY"
 *   8       4     format version, u32 LE (HERS_SERIAL_VERSION)
 *   12      4     reserved, 0
 *   16      32    parameter-set id (hers_params_id)
 *   48      8     body size B, u64 LE
 *   56      B     body (object specific, explicit little-endian)
 *   56+B    32    checksum: BLAKE2b-256 (libsodium crypto_generichash,
 *                 unkeyed) of bytes [0, 56+B)
 *
 * Residues mod q_i are bit-packed with bitlen(q_i) = ceil(log2 q_i) bits
 * each (least significant bit first, values in order), plaintext
 * coefficients with bitlen(t - 1) bits, secret-key coefficients with 2 bits.
 * A symmetric (seed-compressed) 2-part ciphertext over all primes stores c0
 * and the 32-byte seed only (about half the size); the reader re-expands c1
 * with hers_ciphertext_expand_seed.
 *
 * Readers take the whole record (length exact: no trailing bytes) and check,
 * before allocating anything: the length against the header, magic, tag,
 * version, checksum, the parameter-set id against `p` (HERS_ERR_MISMATCH),
 * every field against the parameters (N, prime count, parts in {2,3}, form,
 * flags), every residue < q_i, every plaintext coefficient < t, every secret
 * coefficient in {-1, 0, 1}. Errors: HERS_ERR_FORMAT (malformed, truncated,
 * trailing bytes, out of range), HERS_ERR_VERSION, HERS_ERR_CHECKSUM,
 * HERS_ERR_MISMATCH, HERS_ERR_PARAMS / HERS_ERR_INSECURE (parameters that
 * hers_params_create refuses), HERS_ERR_IO (files), HERS_ERR_NOMEM,
 * HERS_ERR_ARG (NULL pointers, buffer too small for a writer). Readers never
 * crash on any input; on error the output object is left empty (NULL / zero).
 *
 * Writers into memory: `cap` is the buffer size; the exact size is given by
 * the matching *_serialized_size function (which does not depend on the
 * residues, only on the shape). Writers to files write "<path>.tmp.XXXXXX"
 * in the same directory, fsync it and rename it over `path` (no partial
 * files). Secret-key files are created with mode 0600 from the start (and
 * fchmod'ed to 0600); other files get 0644. Secret-key buffers used
 * internally are wiped; a caller of hers_secret_key_serialize owns the
 * secret bytes it receives and must wipe them (hers_wipe).
 *
 * Ownership: *_deserialize / *_read of params and keys allocate a new object
 * (free with the matching *_free); plaintexts and ciphertexts are written into
 * a caller struct that is overwritten, not freed (pass an empty one; free
 * with hers_plaintext_free / hers_ciphertext_free).
 *
 * Thread-safety: all functions are reentrant.
 */
#ifndef HERS_SERIAL_H
#define HERS_SERIAL_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_SERIAL_VERSION 1
#define HERS_SERIAL_HEADER_BYTES 56
#define HERS_SERIAL_CHECKSUM_BYTES 32
/* Largest record the readers accept (files and buffers): 4 GiB. */
#define HERS_SERIAL_MAX_BYTES ((uint64_t)1 << 32)

typedef enum hers_object_type {
    HERS_OBJ_PARAMS = 1,      /* "PARM" */
    HERS_OBJ_SECRET_KEY = 2,  /* "SKEY" */
    HERS_OBJ_PUBLIC_KEY = 3,  /* "PKEY" */
    HERS_OBJ_RELIN_KEY = 4,   /* "RKEY" */
    HERS_OBJ_PLAINTEXT = 5,   /* "PTXT" */
    HERS_OBJ_CIPHERTEXT = 6,  /* "CTXT" */
    HERS_OBJ_GALOIS_KEY = 7   /* "GKEY" */
} hers_object_type;

/* "params", "secret key", ... ("unknown" otherwise). */
HERS_API const char *hers_object_type_name(hers_object_type t);

/* Reads the fixed header of a record (len >= HERS_SERIAL_HEADER_BYTES; the
 * body and checksum are not needed nor checked): object type, parameter-set
 * id (32 bytes, may be NULL) and the total record size (header + body +
 * checksum), so that a stream reader knows how many bytes follow. Checks the
 * magic, tag, version and that the size is <= HERS_SERIAL_MAX_BYTES.
 * Any output pointer may be NULL. */
HERS_API hers_status hers_serial_peek(const void *buf, size_t len, hers_object_type *type,
                                      uint8_t params_id[32], uint64_t *total_size);

/* ------------------------------------------------------------ parameters */
/* Body: N, t, the primes, the security level and the name; read back through
 * hers_params_create (full validation) or hers_params_create_named. */

HERS_API hers_status hers_params_serialized_size(const hers_params *p, size_t *size);
HERS_API hers_status hers_params_serialize(const hers_params *p, void *buf, size_t cap, size_t *written);
HERS_API hers_status hers_params_deserialize(const void *buf, size_t len, hers_params **out);
HERS_API hers_status hers_params_write(const char *path, const hers_params *p);
HERS_API hers_status hers_params_read(const char *path, hers_params **out);

/* ------------------------------------------------------------ keys */
/* Public and relinearisation keys made with a seed (their uniform parts
 * expanded from 32 bytes) are stored seed-compressed: about half size. */

HERS_API hers_status hers_secret_key_serialized_size(const hers_params *p, size_t *size);
/* The output holds the secret: wipe it (hers_wipe) after use. */
HERS_API hers_status hers_secret_key_serialize(const hers_params *p, const hers_secret_key *sk, void *buf,
                                               size_t cap, size_t *written);
HERS_API hers_status hers_secret_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                                 hers_secret_key **out);
/* Mode 0600, atomic (temp file + rename); the buffer is wiped. */
HERS_API hers_status hers_secret_key_write(const char *path, const hers_params *p, const hers_secret_key *sk);
/* The file's bytes are wiped after parsing. A passphrase-protected file
 * (hers_secret_key_write_protected) is HERS_ERR_CRYPTO "... the secret key is
 * passphrase-protected (a passphrase is needed)". */
HERS_API hers_status hers_secret_key_read(const char *path, const hers_params *p, hers_secret_key **out);

HERS_API hers_status hers_public_key_serialized_size(const hers_params *p, const hers_public_key *pk,
                                                     size_t *size);
HERS_API hers_status hers_public_key_serialize(const hers_params *p, const hers_public_key *pk, void *buf,
                                               size_t cap, size_t *written);
HERS_API hers_status hers_public_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                                 hers_public_key **out);
HERS_API hers_status hers_public_key_write(const char *path, const hers_params *p, const hers_public_key *pk);
HERS_API hers_status hers_public_key_read(const char *path, const hers_params *p, hers_public_key **out);

HERS_API hers_status hers_relin_key_serialized_size(const hers_params *p, const hers_relin_key *rk,
                                                    size_t *size);
HERS_API hers_status hers_relin_key_serialize(const hers_params *p, const hers_relin_key *rk, void *buf,
                                              size_t cap, size_t *written);
HERS_API hers_status hers_relin_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                                hers_relin_key **out);
HERS_API hers_status hers_relin_key_write(const char *path, const hers_params *p, const hers_relin_key *rk);
HERS_API hers_status hers_relin_key_read(const char *path, const hers_params *p, hers_relin_key **out);

/* Galois keys (hers_keygen_galois): seed-compressed when made with a seed
 * (only part 0 of each digit travels). Public material: upload once. */
HERS_API hers_status hers_galois_key_serialized_size(const hers_params *p, const hers_galois_key *gk,
                                                     size_t *size);
HERS_API hers_status hers_galois_key_serialize(const hers_params *p, const hers_galois_key *gk, void *buf,
                                               size_t cap, size_t *written);
HERS_API hers_status hers_galois_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                                 hers_galois_key **out);
HERS_API hers_status hers_galois_key_write(const char *path, const hers_params *p, const hers_galois_key *gk);
HERS_API hers_status hers_galois_key_read(const char *path, const hers_params *p, hers_galois_key **out);

/* ------------------------------------------------------------ passphrase-protected secret key */
/* A secret-key record (above) sealed with a key derived from a passphrase:
 * Argon2id (libsodium crypto_pwhash, random 16-byte salt) derives a 32-byte
 * key, XSalsa20-Poly1305 (crypto_secretbox_easy, random 24-byte nonce)
 * encrypts and authenticates the record. Envelope (docs/formats.md):
 *
 *   offset  size  field
 *   0       4     magic "HERS"
 *   4       4     tag "SKPW"
 *   8       4     envelope version, u32 LE (HERS_SKPW_VERSION)
 *   12      4     KDF algorithm, u32 LE (2 = Argon2id v1.3)
 *   16      8     KDF opslimit (passes), u64 LE
 *   24      8     KDF memlimit in bytes, u64 LE
 *   32      16    salt
 *   48      24    nonce
 *   72      32    parameter-set id (public; checked before the KDF runs)
 *   104     8     sealed size C, u64 LE (= secret-key record size + 16)
 *   112     C     secretbox(secret-key record)  (16-byte MAC first)
 *   112+C   32    checksum: BLAKE2b-256 of bytes [0, 112+C)
 *
 * The checksum tells a damaged file (HERS_ERR_CHECKSUM / HERS_ERR_FORMAT)
 * from a wrong passphrase: a failed MAC behind a valid checksum is
 * HERS_ERR_CRYPTO "wrong passphrase (or corrupted key file)". Readers accept
 * KDF costs in [HERS_SKPW_OPSLIMIT_MIN, HERS_SKPW_OPSLIMIT_MAX] and
 * [HERS_SKPW_MEMLIMIT_MIN, HERS_SKPW_MEMLIMIT_MAX] (a file cannot make the
 * reader spend more than 1 GiB / 16 passes) and check everything cheap
 * (size, magic, version, checksum, costs, parameter id) before the KDF.
 * Passphrases: 1..HERS_SKPW_PASS_MAX bytes, any bytes (not NUL-terminated).
 * Every internal secret buffer (derived key, plaintext record) is wiped; the
 * caller owns and wipes the passphrase. Thread-safety: reentrant. */

#define HERS_SKPW_VERSION 1
#define HERS_SKPW_HEADER_BYTES 112
#define HERS_SKPW_PASS_MAX 4096
/* Default cost: libsodium's OPSLIMIT/MEMLIMIT_INTERACTIVE (2 passes,
 * 64 MiB), 0.13 s of CPU on the project machine (MODERATE: 0.78 s); see
 * src/bfv/serial_sk_protected.c. Files record their cost, so the default can
 * be raised without a format change. */
#define HERS_SKPW_OPSLIMIT_DEFAULT 2
#define HERS_SKPW_MEMLIMIT_DEFAULT ((uint64_t)64 << 20)
#define HERS_SKPW_OPSLIMIT_MIN 1
#define HERS_SKPW_OPSLIMIT_MAX 16
#define HERS_SKPW_MEMLIMIT_MIN ((uint64_t)8192)
#define HERS_SKPW_MEMLIMIT_MAX ((uint64_t)1 << 30)

/* Argon2id cost: opslimit passes over memlimit bytes. */
typedef struct hers_pwhash_cost {
    uint64_t opslimit;
    uint64_t memlimit;
} hers_pwhash_cost;

/* Size of the protected envelope for parameters p. */
HERS_API hers_status hers_secret_key_protected_size(const hers_params *p, size_t *size);
/* Seals sk into buf (cap >= hers_secret_key_protected_size). cost NULL means
 * the default; a cost outside the reader's ranges is HERS_ERR_ARG. */
HERS_API hers_status hers_secret_key_seal(const hers_params *p, const hers_secret_key *sk, const void *pass,
                                          size_t pass_len, const hers_pwhash_cost *cost, void *buf,
                                          size_t cap, size_t *written);
/* Opens an envelope (length exact). Errors: HERS_ERR_FORMAT, HERS_ERR_VERSION,
 * HERS_ERR_CHECKSUM, HERS_ERR_MISMATCH (other parameter set),
 * HERS_ERR_CRYPTO (wrong passphrase), HERS_ERR_NOMEM, HERS_ERR_ARG. */
HERS_API hers_status hers_secret_key_unseal(const hers_params *p, const void *buf, size_t len,
                                            const void *pass, size_t pass_len, hers_secret_key **out);
/* Validates everything but the passphrase (no KDF): size, magic, version,
 * costs, checksum. cost (may be NULL) receives the stored KDF cost. */
HERS_API hers_status hers_secret_key_protected_peek(const void *buf, size_t len, hers_pwhash_cost *cost);
/* 1 if buf starts like a protected envelope (magic "HERS" + "SKPW"), else 0. */
HERS_API int hers_secret_key_is_protected(const void *buf, size_t len);
/* Sets *is_protected to 1 if the file starts like a protected envelope, 0
 * otherwise (a plain or damaged file). Errors: HERS_ERR_NOTFOUND, HERS_ERR_IO. */
HERS_API hers_status hers_secret_key_file_is_protected(const char *path, int *is_protected);
/* File forms: mode 0600, atomic (temp file + fsync + rename), default cost
 * for the writer; messages are prefixed with the path. */
HERS_API hers_status hers_secret_key_write_protected(const char *path, const hers_params *p,
                                                     const hers_secret_key *sk, const void *pass,
                                                     size_t pass_len);
HERS_API hers_status hers_secret_key_write_protected_cost(const char *path, const hers_params *p,
                                                          const hers_secret_key *sk, const void *pass,
                                                          size_t pass_len, const hers_pwhash_cost *cost);
HERS_API hers_status hers_secret_key_read_protected(const char *path, const hers_params *p,
                                                    const void *pass, size_t pass_len,
                                                    hers_secret_key **out);

/* ------------------------------------------------------------ plaintexts */
/* Only the coefficients (pt->coeffs) are stored; the NTT cache is not (call
 * hers_plaintext_to_ntt after reading). */

HERS_API hers_status hers_plaintext_serialized_size(const hers_params *p, size_t *size);
HERS_API hers_status hers_plaintext_serialize(const hers_params *p, const hers_plaintext *pt, void *buf,
                                              size_t cap, size_t *written);
HERS_API hers_status hers_plaintext_deserialize(const hers_params *p, const void *buf, size_t len,
                                                hers_plaintext *out);
HERS_API hers_status hers_plaintext_write(const char *path, const hers_params *p, const hers_plaintext *pt);
HERS_API hers_status hers_plaintext_read(const char *path, const hers_params *p, hers_plaintext *out);

/* ------------------------------------------------------------ ciphertexts */
/* Stored: parts (2 or 3), prime count (a prefix after modulus switching),
 * form (BFV / BGV), NTT state, and for a seed-compressed ciphertext (has_seed,
 * 2 parts, all primes, NTT form) c0 and the seed only; otherwise every part.
 * has_seed is a promise that part 1 is the expansion of ct->seed (the
 * evaluation functions clear it; code that edits part 1 by hand must too).
 * Sizes depend only on the shape: parts, primes, has_seed. */

HERS_API hers_status hers_ciphertext_serialized_size(const hers_params *p, const hers_ciphertext *ct,
                                                     size_t *size);
HERS_API hers_status hers_ciphertext_serialize(const hers_params *p, const hers_ciphertext *ct, void *buf,
                                               size_t cap, size_t *written);
HERS_API hers_status hers_ciphertext_deserialize(const hers_params *p, const void *buf, size_t len,
                                                 hers_ciphertext *out);
HERS_API hers_status hers_ciphertext_write(const char *path, const hers_params *p, const hers_ciphertext *ct);
HERS_API hers_status hers_ciphertext_read(const char *path, const hers_params *p, hers_ciphertext *out);

#ifdef __cplusplus
}
#endif
#endif /* HERS_SERIAL_H */
