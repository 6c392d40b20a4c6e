/* serial_keys.c - secret, public and relinearisation key records ("SKEY",
 * "PKEY", "RKEY").
 *
 * Secret key body: u32 N | u32 encoding (1) | N/4 bytes: coefficient j in
 *   bits 2(j%4)..2(j%4)+1 of byte j/4, code 0 -> 0, 1 -> +1, 2 -> -1
 *   (3 is invalid).
 * Public key body: u32 N | u8 k | u8 flags | u16 reserved (0) | seed[32] |
 *   part 0 (k primes) | part 1 (k primes, absent when seeded).
 * Relin key body:  u32 N | u8 k | u8 flags | u8 digits | u8 reserved (0) |
 *   seed[32] | for each digit d: part 0 (k primes) [| part 1 (k primes)].
 * flags bit 0: seed-compressed (parts 1 re-expanded from the seed, see
 * bfv_internal.h); the seed is zero otherwise. Key polynomials are in NTT
 * form; prime i is packed with bitlen(q_i - 1) bits per residue.
 */
#include <string.h>

#include "bfv/bfv_internal.h"
#include "bfv/serial_internal.h"
#include "hers/hers_mem.h"

#define SK_FIXED 8
#define SK_ENCODING 1u
#define KEY_FIXED 40
#define KEY_FLAG_SEEDED 1u

/* Bytes of one polynomial over all k primes. */
static size_t poly_bytes(const hers_params *p)
{
    size_t s = 0;
    for (size_t i = 0; i < p->k; i++)
        s += hers_packed_bytes(p->n, hers_bitlen(p->q[i].value - 1));
    return s;
}

static int seed_is_zero(const uint8_t *seed)
{
    uint8_t z = 0;
    for (size_t i = 0; i < HERS_SEED_BYTES; i++)
        z |= seed[i];
    return z == 0;
}

/* Packs (ok &= ...) one polynomial of k primes; returns the advanced cursor. */
static uint8_t *pack_poly(const hers_params *p, uint8_t *q, const uint64_t *poly, int *ok)
{
    for (size_t i = 0; i < p->k; i++) {
        int bits = hers_bitlen(p->q[i].value - 1);
        *ok &= hers_bitpack(q, poly + i * p->n, p->n, bits, p->q[i].value);
        q += hers_packed_bytes(p->n, bits);
    }
    return q;
}

static const uint8_t *unpack_poly(const hers_params *p, const uint8_t *q, uint64_t *poly, int *ok)
{
    for (size_t i = 0; i < p->k; i++) {
        int bits = hers_bitlen(p->q[i].value - 1);
        *ok &= hers_bitunpack(poly + i * p->n, q, p->n, bits, p->q[i].value);
        q += hers_packed_bytes(p->n, bits);
    }
    return q;
}

/* ------------------------------------------------------------ secret key */

hers_status hers_secret_key_serialized_size(const hers_params *p, size_t *size)
{
    if (!p || !size)
        return hers_error(HERS_ERR_ARG, "secret key size: NULL argument");
    *size = ser_total(SK_FIXED + p->n / 4);
    return HERS_OK;
}

hers_status hers_secret_key_serialize(const hers_params *p, const hers_secret_key *sk, void *buf,
                                      size_t cap, size_t *written)
{
    if (!p || !sk || !buf || !sk->s)
        return hers_error(HERS_ERR_ARG, "secret key serialize: NULL argument");
    hers_status st = hers_bfv_check_id(p, sk->params_id, "secret key serialize");
    if (st != HERS_OK)
        return st;
    size_t n = p->n, body = SK_FIXED + n / 4, total = ser_total(body);
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "secret key serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    ser_header_write(b, HERS_OBJ_SECRET_KEY, p->id, body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    hers_le_put_u32(q, (uint32_t)n);
    hers_le_put_u32(q + 4, SK_ENCODING);
    q += SK_FIXED;
    /* Branch-free on the secret: u = (uint8_t)s; code = 2*sign | (odd & !sign). */
    for (size_t j = 0; j < n; j += 4) {
        unsigned byte = 0;
        for (size_t l = 0; l < 4; l++) {
            unsigned u = (uint8_t)sk->s[j + l];
            unsigned sign = (u >> 7) & 1u;
            unsigned code = (sign << 1) | (u & 1u & (sign ^ 1u));
            byte |= code << (2 * l);
        }
        q[j / 4] = (uint8_t)byte;
    }
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

hers_status hers_secret_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                        hers_secret_key **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "secret key: NULL output");
    *out = NULL;
    if (!p)
        return hers_error(HERS_ERR_ARG, "secret key: NULL parameters");
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_SECRET_KEY, p, &body, &blen);
    if (st != HERS_OK)
        return st;
    size_t n = p->n;
    if (blen != SK_FIXED + n / 4)
        return hers_error(HERS_ERR_FORMAT, "secret key: body of %zu bytes, expected %zu", blen,
                          SK_FIXED + n / 4);
    if (hers_le_get_u32(body) != n)
        return hers_error(HERS_ERR_FORMAT, "secret key: N = %u, parameters have %zu",
                          hers_le_get_u32(body), n);
    if (hers_le_get_u32(body + 4) != SK_ENCODING)
        return hers_error(HERS_ERR_FORMAT, "secret key: unknown encoding %u", hers_le_get_u32(body + 4));
    int8_t *s = hers_alloc(n);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "secret key: out of memory");
    const uint8_t *q = body + SK_FIXED;
    unsigned bad = 0;
    for (size_t j = 0; j < n; j++) {
        unsigned c = (q[j / 4] >> (2 * (j % 4))) & 3u;
        bad |= c & (c >> 1);                           /* code 3 */
        s[j] = (int8_t)((int)(c & 1u) - (int)(c >> 1)); /* 0, 1, -1 (3 -> 0) */
    }
    if (bad) {
        hers_free_secret(s, n);
        return hers_error(HERS_ERR_FORMAT, "secret key: a coefficient is not in {-1, 0, 1}");
    }
    st = hers_secret_key_from_coeffs(p, s, out);
    hers_free_secret(s, n);
    return st;
}

static hers_status sk_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    return hers_secret_key_serialize(p, o, b, c, w);
}

hers_status hers_secret_key_write(const char *path, const hers_params *p, const hers_secret_key *sk)
{
    size_t size = 0;
    hers_status st = hers_secret_key_serialized_size(p, &size);
    return st != HERS_OK ? st : ser_write_object(path, "key", size, 1, sk, sk_ser, p);
}

hers_status hers_secret_key_read(const char *path, const hers_params *p, hers_secret_key **out)
{
    uint8_t *b;
    size_t len;
    if (out)
        *out = NULL;
    hers_status st = ser_read_file(path, &b, &len);
    if (st != HERS_OK)
        return st;
    if (hers_secret_key_is_protected(b, len)) {
        /* A protected envelope (serial_sk_protected.c): say so, rather than "bad tag". */
        hers_free_secret(b, len);
        return hers_error(HERS_ERR_CRYPTO,
                          "%s: the secret key is passphrase-protected (a passphrase is needed)",
                          path);
    }
    st = hers_secret_key_deserialize(p, b, len, out);
    hers_free_secret(b, len);
    return st != HERS_OK ? ser_context_error(st, path) : HERS_OK;
}

/* ------------------------------------------------------------ public key */

static size_t pk_total(const hers_params *p, const hers_public_key *pk)
{
    return ser_total(KEY_FIXED + (pk->has_seed ? 1 : 2) * poly_bytes(p));
}

hers_status hers_public_key_serialized_size(const hers_params *p, const hers_public_key *pk,
                                            size_t *size)
{
    if (!p || !pk || !size)
        return hers_error(HERS_ERR_ARG, "public key size: NULL argument");
    *size = pk_total(p, pk);
    return HERS_OK;
}

hers_status hers_public_key_serialize(const hers_params *p, const hers_public_key *pk, void *buf,
                                      size_t cap, size_t *written)
{
    if (!p || !pk || !buf || !pk->data)
        return hers_error(HERS_ERR_ARG, "public key serialize: NULL argument");
    hers_status st = hers_bfv_check_id(p, pk->params_id, "public key serialize");
    if (st != HERS_OK)
        return st;
    size_t total = pk_total(p, pk), body = total - ser_total(0);
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "public key serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    ser_header_write(b, HERS_OBJ_PUBLIC_KEY, p->id, body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    hers_le_put_u32(q, (uint32_t)p->n);
    q[4] = (uint8_t)p->k;
    q[5] = pk->has_seed ? KEY_FLAG_SEEDED : 0;
    q[6] = q[7] = 0;
    if (pk->has_seed)
        memcpy(q + 8, pk->seed, HERS_SEED_BYTES);
    else
        memset(q + 8, 0, HERS_SEED_BYTES);
    q += KEY_FIXED;
    int ok = 1;
    size_t kn = p->k * p->n;
    for (size_t part = 0; part < (pk->has_seed ? 1u : 2u); part++)
        q = pack_poly(p, q, pk->data + part * kn, &ok);
    if (!ok)
        return hers_error(HERS_ERR_INTERNAL, "public key serialize: a residue is not reduced");
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

/* Validates the 40 fixed bytes shared by public and relin keys. */
static hers_status key_fixed(const hers_params *p, const uint8_t *body, size_t blen,
                             const char *what, int *seeded)
{
    if (blen < KEY_FIXED)
        return hers_error(HERS_ERR_FORMAT, "%s: body too short", what);
    if (hers_le_get_u32(body) != p->n)
        return hers_error(HERS_ERR_FORMAT, "%s: N = %u, parameters have %zu", what,
                          hers_le_get_u32(body), p->n);
    if (body[4] != p->k)
        return hers_error(HERS_ERR_FORMAT, "%s: %u primes, parameters have %zu", what, body[4],
                          p->k);
    unsigned flags = body[5];
    if (flags & ~KEY_FLAG_SEEDED)
        return hers_error(HERS_ERR_FORMAT, "%s: unknown flags 0x%02x", what, flags);
    *seeded = (flags & KEY_FLAG_SEEDED) != 0;
    if (!*seeded && !seed_is_zero(body + 8))
        return hers_error(HERS_ERR_FORMAT, "%s: seed set but not seed-compressed", what);
    return HERS_OK;
}

hers_status hers_public_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                        hers_public_key **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "public key: NULL output");
    *out = NULL;
    if (!p)
        return hers_error(HERS_ERR_ARG, "public key: NULL parameters");
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_PUBLIC_KEY, p, &body, &blen);
    if (st != HERS_OK)
        return st;
    int seeded = 0;
    st = key_fixed(p, body, blen, "public key", &seeded);
    if (st != HERS_OK)
        return st;
    if (body[6] || body[7])
        return hers_error(HERS_ERR_FORMAT, "public key: reserved bytes are not zero");
    size_t expect = KEY_FIXED + (seeded ? 1 : 2) * poly_bytes(p);
    if (blen != expect)
        return hers_error(HERS_ERR_FORMAT, "public key: body of %zu bytes, expected %zu", blen,
                          expect);
    hers_public_key *pk = NULL;
    st = hers_public_key_alloc(p, &pk);
    if (st != HERS_OK)
        return st;
    const uint8_t *q = body + KEY_FIXED;
    int ok = 1;
    size_t kn = p->k * p->n;
    q = unpack_poly(p, q, pk->data, &ok);
    if (ok && !seeded)
        q = unpack_poly(p, q, pk->data + kn, &ok);
    if (!ok) {
        hers_public_key_free(pk);
        return hers_error(HERS_ERR_FORMAT, "public key: a residue is >= its prime");
    }
    if (seeded) {
        pk->has_seed = 1;
        memcpy(pk->seed, body + 8, HERS_SEED_BYTES);
        hers_bfv_expand_uniform(p, pk->seed, HERS_STREAM_PK_A, p->k, pk->data + kn);
    }
    *out = pk;
    return HERS_OK;
}

static hers_status pk_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    return hers_public_key_serialize(p, o, b, c, w);
}

hers_status hers_public_key_write(const char *path, const hers_params *p, const hers_public_key *pk)
{
    if (!p || !pk)
        return hers_error(HERS_ERR_ARG, "public key write: NULL argument");
    return ser_write_object(path, "key", pk_total(p, pk), 0, pk, pk_ser, p);
}

static hers_status pk_deser(const hers_params *p, const void *b, size_t len, void *out)
{
    return hers_public_key_deserialize(p, b, len, out);
}

hers_status hers_public_key_read(const char *path, const hers_params *p, hers_public_key **out)
{
    if (out)
        *out = NULL;
    return ser_read_object(path, p, out, pk_deser);
}

/* ------------------------------------------------------------ relin key */

static size_t rk_total(const hers_params *p, size_t digits, int seeded)
{
    return ser_total(KEY_FIXED + digits * (seeded ? 1 : 2) * poly_bytes(p));
}

hers_status hers_relin_key_serialized_size(const hers_params *p, const hers_relin_key *rk,
                                           size_t *size)
{
    if (!p || !rk || !size)
        return hers_error(HERS_ERR_ARG, "relin key size: NULL argument");
    *size = rk_total(p, rk->digits, rk->has_seed);
    return HERS_OK;
}

hers_status hers_relin_key_serialize(const hers_params *p, const hers_relin_key *rk, void *buf,
                                     size_t cap, size_t *written)
{
    if (!p || !rk || !buf || !rk->data)
        return hers_error(HERS_ERR_ARG, "relin key serialize: NULL argument");
    hers_status st = hers_bfv_check_id(p, rk->params_id, "relin key serialize");
    if (st != HERS_OK)
        return st;
    if (rk->digits < 1 || rk->digits > 255 || rk->num_primes != p->k)
        return hers_error(HERS_ERR_INTERNAL, "relin key serialize: %zu digits, %zu primes",
                          rk->digits, rk->num_primes);
    size_t total = rk_total(p, rk->digits, rk->has_seed), body = total - ser_total(0);
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "relin key serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    ser_header_write(b, HERS_OBJ_RELIN_KEY, p->id, body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    hers_le_put_u32(q, (uint32_t)p->n);
    q[4] = (uint8_t)p->k;
    q[5] = rk->has_seed ? KEY_FLAG_SEEDED : 0;
    q[6] = (uint8_t)rk->digits;
    q[7] = 0;
    if (rk->has_seed)
        memcpy(q + 8, rk->seed, HERS_SEED_BYTES);
    else
        memset(q + 8, 0, HERS_SEED_BYTES);
    q += KEY_FIXED;
    int ok = 1;
    size_t kn = p->k * p->n;
    for (size_t d = 0; d < rk->digits; d++) {
        q = pack_poly(p, q, rk->data + (d * 2) * kn, &ok);
        if (!rk->has_seed)
            q = pack_poly(p, q, rk->data + (d * 2 + 1) * kn, &ok);
    }
    if (!ok)
        return hers_error(HERS_ERR_INTERNAL, "relin key serialize: a residue is not reduced");
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

hers_status hers_relin_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                       hers_relin_key **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "relin key: NULL output");
    *out = NULL;
    if (!p)
        return hers_error(HERS_ERR_ARG, "relin key: NULL parameters");
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_RELIN_KEY, p, &body, &blen);
    if (st != HERS_OK)
        return st;
    int seeded = 0;
    st = key_fixed(p, body, blen, "relin key", &seeded);
    if (st != HERS_OK)
        return st;
    if (body[7])
        return hers_error(HERS_ERR_FORMAT, "relin key: reserved byte is not zero");
    /* Size check before allocating; the digit count must then equal the
     * parameters' (known once the key is allocated). */
    size_t expect = rk_total(p, body[6], seeded) - ser_total(0);
    if (body[6] == 0 || blen != expect)
        return hers_error(HERS_ERR_FORMAT, "relin key: body of %zu bytes, expected %zu for %u digits",
                          blen, expect, body[6]);
    hers_relin_key *rk = NULL;
    st = hers_relin_key_alloc(p, &rk);
    if (st != HERS_OK)
        return st;
    if (body[6] != rk->digits) {
        hers_status e = hers_error(HERS_ERR_FORMAT, "relin key: %u digits, parameters use %zu",
                                   body[6], rk->digits);
        hers_relin_key_free(rk);
        return e;
    }
    const uint8_t *q = body + KEY_FIXED;
    int ok = 1;
    size_t kn = p->k * p->n;
    for (size_t d = 0; d < rk->digits && ok; d++) {
        q = unpack_poly(p, q, rk->data + (d * 2) * kn, &ok);
        if (!seeded)
            q = unpack_poly(p, q, rk->data + (d * 2 + 1) * kn, &ok);
    }
    if (!ok) {
        hers_relin_key_free(rk);
        return hers_error(HERS_ERR_FORMAT, "relin key: a residue is >= its prime");
    }
    if (seeded) {
        rk->has_seed = 1;
        memcpy(rk->seed, body + 8, HERS_SEED_BYTES);
        for (size_t d = 0; d < rk->digits; d++)
            hers_bfv_expand_uniform(p, rk->seed, HERS_STREAM_RK_A + d, p->k,
                                    rk->data + (d * 2 + 1) * kn);
    }
    *out = rk;
    return HERS_OK;
}

static hers_status rk_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    return hers_relin_key_serialize(p, o, b, c, w);
}

hers_status hers_relin_key_write(const char *path, const hers_params *p, const hers_relin_key *rk)
{
    size_t size = 0;
    hers_status st = hers_relin_key_serialized_size(p, rk, &size);
    return st != HERS_OK ? st : ser_write_object(path, "key", size, 0, rk, rk_ser, p);
}

static hers_status rk_deser(const hers_params *p, const void *b, size_t len, void *out)
{
    return hers_relin_key_deserialize(p, b, len, out);
}

hers_status hers_relin_key_read(const char *path, const hers_params *p, hers_relin_key **out)
{
    if (out)
        *out = NULL;
    return ser_read_object(path, p, out, rk_deser);
}
