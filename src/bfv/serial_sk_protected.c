/*
 * serial_sk_protected.c - passphrase-protected secret-key files (envelope
 * layout in hers_serial.h and docs/formats.md).
 *
 * Key derivation: libsodium crypto_pwhash, Argon2id v1.3, 16-byte random
 * salt, 32-byte output = the crypto_secretbox key. Default cost
 * (HERS_SKPW_OPSLIMIT_DEFAULT / HERS_SKPW_MEMLIMIT_DEFAULT) is libsodium's
 * INTERACTIVE level: opslimit 2, memlimit 64 MiB. Measured on the project
 * machine (2 cores, AVX2, libsodium 1.0.18, 2026-11-25), CPU time of one
 * derivation: INTERACTIVE 0.13 s, MODERATE (3, 256 MiB) 0.78 s (wall 0.35 s
 * and 3.2 s at load average 16); tests/test_sk_protected.c prints the
 * default's wall time on every run. We keep
 * INTERACTIVE so that `hers keygen` and every command that opens the secret
 * key stay well under a second; the cost is stored in each file, so raising
 * the default later (MODERATE, or any value up to the reader's limits
 * HERS_SKPW_OPSLIMIT_MAX / HERS_SKPW_MEMLIMIT_MAX) needs no format change
 * and old files stay readable.
 *
 * Encryption: crypto_secretbox_easy (XSalsa20-Poly1305) over the plain
 * secret-key record (hers_secret_key_serialize), 24-byte random nonce.
 * The BLAKE2b-256 checksum over the whole envelope separates a damaged file
 * from a wrong passphrase (a MAC failure behind a valid checksum).
 *
 * Secrets wiped: the derived key and the plaintext record (hers_free_secret
 * / hers_wipe) on every path; file bytes read are wiped too. The passphrase
 * belongs to the caller and is never copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bfv/serial_internal.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "hers/hers_serial.h"

#define SKPW_MAGIC HERS_SKPW_MAGIC
#define SKPW_ALG_ARGON2ID13 2u
#define SKPW_SALT 16
#define SKPW_NONCE 24
#define SKPW_KEY 32
#define SKPW_MAC 16
#define SKPW_CHECKSUM 32

#define OFF_VERSION 8
#define OFF_ALG 12
#define OFF_OPS 16
#define OFF_MEM 24
#define OFF_SALT 32
#define OFF_NONCE 48
#define OFF_ID 72
#define OFF_CLEN 104

#define WRONG_PASS "wrong passphrase (or corrupted key file)"

_Static_assert(SKPW_SALT == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(SKPW_NONCE == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(SKPW_KEY == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(SKPW_MAC == crypto_secretbox_MACBYTES, "mac size");
_Static_assert(OFF_CLEN + 8 == HERS_SKPW_HEADER_BYTES, "header layout");

static int sodium_ready(void)
{
    return sodium_init() >= 0;
}

static int cost_valid(uint64_t ops, uint64_t mem)
{
    return ops >= HERS_SKPW_OPSLIMIT_MIN && ops <= HERS_SKPW_OPSLIMIT_MAX &&
           mem >= HERS_SKPW_MEMLIMIT_MIN && mem <= HERS_SKPW_MEMLIMIT_MAX &&
           ops >= crypto_pwhash_OPSLIMIT_MIN && mem >= crypto_pwhash_MEMLIMIT_MIN;
}

static hers_status pass_valid(const void *pass, size_t pass_len)
{
    if (!pass)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL passphrase");
    if (pass_len == 0)
        return hers_error(HERS_ERR_ARG, "protected secret key: empty passphrase");
    if (pass_len > HERS_SKPW_PASS_MAX)
        return hers_error(HERS_ERR_ARG, "protected secret key: passphrase longer than %d bytes",
                          HERS_SKPW_PASS_MAX);
    return HERS_OK;
}

/* Argon2id(pass, salt) -> key[32]. */
static hers_status derive(uint8_t key[SKPW_KEY], const void *pass, size_t pass_len,
                          const uint8_t *salt, uint64_t ops, uint64_t mem)
{
    if (crypto_pwhash(key, SKPW_KEY, pass, pass_len, salt, (unsigned long long)ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        hers_wipe(key, SKPW_KEY);
        return hers_error(HERS_ERR_NOMEM,
                          "protected secret key: key derivation failed (out of memory for "
                          "%llu bytes?)",
                          (unsigned long long)mem);
    }
    return HERS_OK;
}

hers_status hers_secret_key_protected_size(const hers_params *p, size_t *size)
{
    if (!p || !size)
        return hers_error(HERS_ERR_ARG, "protected secret key size: NULL argument");
    size_t rec = 0;
    hers_status st = hers_secret_key_serialized_size(p, &rec);
    if (st != HERS_OK)
        return st;
    *size = HERS_SKPW_HEADER_BYTES + SKPW_MAC + rec + SKPW_CHECKSUM;
    return HERS_OK;
}

hers_status hers_secret_key_seal(const hers_params *p, const hers_secret_key *sk, const void *pass,
                                 size_t pass_len, const hers_pwhash_cost *cost, void *buf,
                                 size_t cap, size_t *written)
{
    if (!p || !sk || !buf)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL argument");
    hers_status st = pass_valid(pass, pass_len);
    if (st != HERS_OK)
        return st;
    uint64_t ops = cost ? cost->opslimit : HERS_SKPW_OPSLIMIT_DEFAULT;
    uint64_t mem = cost ? cost->memlimit : HERS_SKPW_MEMLIMIT_DEFAULT;
    if (!cost_valid(ops, mem))
        return hers_error(HERS_ERR_ARG,
                          "protected secret key: KDF cost opslimit %llu, memlimit %llu out of "
                          "range",
                          (unsigned long long)ops, (unsigned long long)mem);
    if (!sodium_ready())
        return hers_error(HERS_ERR_CRYPTO, "protected secret key: libsodium init failed");
    size_t total = 0, rec_len = 0;
    if ((st = hers_secret_key_protected_size(p, &total)) != HERS_OK ||
        (st = hers_secret_key_serialized_size(p, &rec_len)) != HERS_OK)
        return st;
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "protected secret key: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    memcpy(b, SKPW_MAGIC, 8);
    hers_le_put_u32(b + OFF_VERSION, HERS_SKPW_VERSION);
    hers_le_put_u32(b + OFF_ALG, SKPW_ALG_ARGON2ID13);
    hers_le_put_u64(b + OFF_OPS, ops);
    hers_le_put_u64(b + OFF_MEM, mem);
    if ((st = hers_random_bytes(b + OFF_SALT, SKPW_SALT)) != HERS_OK ||
        (st = hers_random_bytes(b + OFF_NONCE, SKPW_NONCE)) != HERS_OK)
        return st;
    memcpy(b + OFF_ID, hers_params_id(p), 32);
    size_t clen = rec_len + SKPW_MAC;
    hers_le_put_u64(b + OFF_CLEN, clen);

    uint8_t *rec = hers_alloc(rec_len);
    if (!rec)
        return hers_error(HERS_ERR_NOMEM, "protected secret key: out of memory");
    uint8_t key[SKPW_KEY];
    st = hers_secret_key_serialize(p, sk, rec, rec_len, NULL);
    if (st == HERS_OK)
        st = derive(key, pass, pass_len, b + OFF_SALT, ops, mem);
    if (st == HERS_OK) {
        crypto_secretbox_easy(b + HERS_SKPW_HEADER_BYTES, rec, rec_len, b + OFF_NONCE, key);
        hers_wipe(key, sizeof key);
        crypto_generichash(b + HERS_SKPW_HEADER_BYTES + clen, SKPW_CHECKSUM, b,
                           HERS_SKPW_HEADER_BYTES + clen, NULL, 0);
        if (written)
            *written = total;
    }
    hers_free_secret(rec, rec_len);
    return st;
}

/* Checks everything cheap; on success *clen is the sealed size. */
static hers_status envelope_check(const uint8_t *b, size_t len, uint64_t *ops, uint64_t *mem,
                                  size_t *clen)
{
    if (!b)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL buffer");
    if (len < HERS_SKPW_HEADER_BYTES + SKPW_MAC + SKPW_CHECKSUM)
        return hers_error(HERS_ERR_FORMAT, "protected secret key: truncated (%zu bytes)", len);
    if (memcmp(b, SKPW_MAGIC, 8) != 0)
        return hers_error(HERS_ERR_FORMAT,
                          "not a passphrase-protected secret key (bad magic)");
    uint32_t ver = hers_le_get_u32(b + OFF_VERSION);
    if (ver != HERS_SKPW_VERSION)
        return hers_error(HERS_ERR_VERSION,
                          "protected secret key: envelope version %u, this build reads %d", ver,
                          HERS_SKPW_VERSION);
    uint64_t c = hers_le_get_u64(b + OFF_CLEN);
    if (c < SKPW_MAC || c > len || len - c != HERS_SKPW_HEADER_BYTES + SKPW_CHECKSUM)
        return hers_error(HERS_ERR_FORMAT,
                          "protected secret key: %zu bytes, header announces %llu sealed bytes "
                          "(truncated or trailing data)",
                          len, (unsigned long long)c);
    uint8_t sum[SKPW_CHECKSUM];
    crypto_generichash(sum, sizeof sum, b, HERS_SKPW_HEADER_BYTES + (size_t)c, NULL, 0);
    if (sodium_memcmp(sum, b + HERS_SKPW_HEADER_BYTES + c, SKPW_CHECKSUM) != 0)
        return hers_error(HERS_ERR_CHECKSUM, "protected secret key: checksum mismatch (corrupted)");
    uint32_t alg = hers_le_get_u32(b + OFF_ALG);
    if (alg != SKPW_ALG_ARGON2ID13)
        return hers_error(HERS_ERR_FORMAT, "protected secret key: unknown KDF algorithm %u", alg);
    uint64_t o = hers_le_get_u64(b + OFF_OPS), m = hers_le_get_u64(b + OFF_MEM);
    if (!cost_valid(o, m))
        return hers_error(HERS_ERR_FORMAT,
                          "protected secret key: KDF cost opslimit %llu, memlimit %llu outside "
                          "the accepted range",
                          (unsigned long long)o, (unsigned long long)m);
    *ops = o;
    *mem = m;
    *clen = (size_t)c;
    return HERS_OK;
}

hers_status hers_secret_key_protected_peek(const void *buf, size_t len, hers_pwhash_cost *cost)
{
    if (!sodium_ready())
        return hers_error(HERS_ERR_CRYPTO, "protected secret key: libsodium init failed");
    uint64_t ops, mem;
    size_t clen;
    hers_status st = envelope_check(buf, len, &ops, &mem, &clen);
    if (st == HERS_OK && cost) {
        cost->opslimit = ops;
        cost->memlimit = mem;
    }
    return st;
}

hers_status hers_secret_key_unseal(const hers_params *p, const void *buf, size_t len,
                                   const void *pass, size_t pass_len, hers_secret_key **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL output");
    *out = NULL;
    if (!p)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL parameters");
    hers_status st = pass_valid(pass, pass_len);
    if (st != HERS_OK)
        return st;
    if (!sodium_ready())
        return hers_error(HERS_ERR_CRYPTO, "protected secret key: libsodium init failed");
    const uint8_t *b = buf;
    uint64_t ops, mem;
    size_t clen;
    if ((st = envelope_check(b, len, &ops, &mem, &clen)) != HERS_OK)
        return st;
    if (memcmp(b + OFF_ID, hers_params_id(p), 32) != 0)
        return hers_error(HERS_ERR_MISMATCH,
                          "protected secret key: made for another parameter set");
    size_t rec_len = 0;
    if ((st = hers_secret_key_serialized_size(p, &rec_len)) != HERS_OK)
        return st;
    if (clen != rec_len + SKPW_MAC)
        return hers_error(HERS_ERR_FORMAT,
                          "protected secret key: sealed size %zu, parameters need %zu", clen,
                          rec_len + SKPW_MAC);
    uint8_t *rec = hers_alloc(rec_len);
    if (!rec)
        return hers_error(HERS_ERR_NOMEM, "protected secret key: out of memory");
    uint8_t key[SKPW_KEY];
    st = derive(key, pass, pass_len, b + OFF_SALT, ops, mem);
    if (st == HERS_OK) {
        int bad = crypto_secretbox_open_easy(rec, b + HERS_SKPW_HEADER_BYTES, clen, b + OFF_NONCE,
                                             key);
        hers_wipe(key, sizeof key);
        if (bad)
            st = hers_error(HERS_ERR_CRYPTO, WRONG_PASS);
        else
            st = hers_secret_key_deserialize(p, rec, rec_len, out);
    }
    hers_free_secret(rec, rec_len);
    return st;
}

hers_status hers_secret_key_file_is_protected(const char *path, int *is_protected)
{
    if (!path || !is_protected)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL argument");
    *is_protected = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", path,
                          strerror(errno));
    uint8_t head[8];
    size_t got = 0;
    while (got < sizeof head) {
        ssize_t r = read(fd, head + got, sizeof head - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return hers_error(HERS_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *is_protected = hers_secret_key_is_protected(head, got);
    return HERS_OK;
}

hers_status hers_secret_key_write_protected_cost(const char *path, const hers_params *p,
                                                 const hers_secret_key *sk, const void *pass,
                                                 size_t pass_len, const hers_pwhash_cost *cost)
{
    if (!path)
        return hers_error(HERS_ERR_ARG, "protected secret key: NULL path");
    size_t size = 0;
    hers_status st = hers_secret_key_protected_size(p, &size);
    if (st != HERS_OK)
        return ser_context_error(st, path);
    uint8_t *b = hers_alloc(size);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    st = hers_secret_key_seal(p, sk, pass, pass_len, cost, b, size, NULL);
    if (st == HERS_OK)
        st = ser_write_file(path, b, size, 1);
    else
        st = ser_context_error(st, path);
    /* The envelope holds no plaintext secret, but wiping is cheap. */
    hers_free_secret(b, size);
    return st;
}

hers_status hers_secret_key_write_protected(const char *path, const hers_params *p,
                                            const hers_secret_key *sk, const void *pass,
                                            size_t pass_len)
{
    return hers_secret_key_write_protected_cost(path, p, sk, pass, pass_len, NULL);
}

hers_status hers_secret_key_read_protected(const char *path, const hers_params *p,
                                           const void *pass, size_t pass_len,
                                           hers_secret_key **out)
{
    if (out)
        *out = NULL;
    uint8_t *b;
    size_t len;
    hers_status st = ser_read_file(path, &b, &len);
    if (st != HERS_OK)
        return st;
    if (!hers_secret_key_is_protected(b, len)) {
        hers_free_secret(b, len);
        return hers_error(HERS_ERR_FORMAT,
                          "%s: not a passphrase-protected secret key (a plain key file needs no "
                          "passphrase)",
                          path);
    }
    st = hers_secret_key_unseal(p, b, len, pass, pass_len, out);
    hers_free_secret(b, len);
    return st != HERS_OK ? ser_context_error(st, path) : HERS_OK;
}
