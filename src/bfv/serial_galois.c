/* serial_galois.c - Galois key records ("GKEY").
 *
 * Body: u32 N | u8 k | u8 flags | u8 digit_bits | u8 count | seed[32] |
 *   count x u32 elements (odd, distinct, in [3, 2N)) |
 *   for each element e, digit t (D = sum_i ceil(bitlen(q_i)/w) digits):
 *   part 0 (k primes) [| part 1 (k primes), absent when seeded].
 * flags bit 0: seed-compressed (parts 1 re-expanded from the seed with
 * stream HERS_STREAM_GK_A + (g << 8) + t); the seed is zero otherwise.
 * Residues in NTT form, prime i packed with bitlen(q_i - 1) bits.
 */
#include <string.h>

#include "bfv/bfv_internal.h"
#include "bfv/serial_internal.h"
#include "hers/hers_mem.h"
#include "hers/hers_serial.h"

#define GK_FIXED 40
#define GK_FLAG_SEEDED 1u

static size_t poly_bytes(const hers_params *p)
{
    size_t s = 0;
    for (size_t i = 0; i < p->k; i++)
        s += hers_packed_bytes(p->n, hers_bitlen(p->q[i].value - 1));
    return s;
}

static size_t gk_total(const hers_params *p, size_t count, size_t digits, int seeded)
{
    return ser_total(GK_FIXED + 4 * count + count * digits * (seeded ? 1 : 2) * poly_bytes(p));
}

hers_status hers_galois_key_serialized_size(const hers_params *p, const hers_galois_key *gk,
                                            size_t *size)
{
    if (!p || !gk || !size)
        return hers_error(HERS_ERR_ARG, "galois key size: NULL argument");
    *size = gk_total(p, gk->count, gk->digits, gk->has_seed);
    return HERS_OK;
}

static uint8_t *pack(const hers_params *p, uint8_t *q, const uint64_t *poly, int *ok)
{
    for (size_t i = 0; i < p->k; i++) {
        int bits = hers_bitlen(p->q[i].value - 1);
        *ok &= hers_bitpack(q, poly + i * p->n, p->n, bits, p->q[i].value);
        q += hers_packed_bytes(p->n, bits);
    }
    return q;
}

static const uint8_t *unpack(const hers_params *p, const uint8_t *q, uint64_t *poly, int *ok)
{
    for (size_t i = 0; i < p->k; i++) {
        int bits = hers_bitlen(p->q[i].value - 1);
        *ok &= hers_bitunpack(poly + i * p->n, q, p->n, bits, p->q[i].value);
        q += hers_packed_bytes(p->n, bits);
    }
    return q;
}

hers_status hers_galois_key_serialize(const hers_params *p, const hers_galois_key *gk, void *buf,
                                      size_t cap, size_t *written)
{
    if (!p || !gk || !buf || !gk->data)
        return hers_error(HERS_ERR_ARG, "galois key serialize: NULL argument");
    hers_status st = hers_bfv_check_id(p, gk->params_id, "galois key serialize");
    if (st != HERS_OK)
        return st;
    size_t total = gk_total(p, gk->count, gk->digits, gk->has_seed), body = total - ser_total(0);
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "galois key serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    ser_header_write(b, HERS_OBJ_GALOIS_KEY, p->id, body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    hers_le_put_u32(q, (uint32_t)p->n);
    q[4] = (uint8_t)p->k;
    q[5] = gk->has_seed ? GK_FLAG_SEEDED : 0;
    q[6] = (uint8_t)gk->digit_bits;
    q[7] = (uint8_t)gk->count;
    if (gk->has_seed)
        memcpy(q + 8, gk->seed, HERS_SEED_BYTES);
    else
        memset(q + 8, 0, HERS_SEED_BYTES);
    q += GK_FIXED;
    for (size_t e = 0; e < gk->count; e++, q += 4)
        hers_le_put_u32(q, gk->elements[e]);
    int ok = 1;
    size_t kn = p->k * p->n;
    for (size_t e = 0; e < gk->count; e++)
        for (size_t t = 0; t < gk->digits; t++) {
            const uint64_t *b0 = gk->data + ((e * gk->digits + t) * 2) * kn;
            q = pack(p, q, b0, &ok);
            if (!gk->has_seed)
                q = pack(p, q, b0 + kn, &ok);
        }
    if (!ok)
        return hers_error(HERS_ERR_INTERNAL, "galois key serialize: a residue is not reduced");
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

hers_status hers_galois_key_deserialize(const hers_params *p, const void *buf, size_t len,
                                        hers_galois_key **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "galois key: NULL output");
    *out = NULL;
    if (!p)
        return hers_error(HERS_ERR_ARG, "galois key: NULL parameters");
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_GALOIS_KEY, p, &body, &blen);
    if (st != HERS_OK)
        return st;
    if (blen < GK_FIXED)
        return hers_error(HERS_ERR_FORMAT, "galois key: body too short");
    if (hers_le_get_u32(body) != p->n || body[4] != p->k)
        return hers_error(HERS_ERR_FORMAT, "galois key: N = %u, %u primes; parameters have %zu, %zu",
                          hers_le_get_u32(body), body[4], p->n, p->k);
    unsigned flags = body[5], w = body[6], count = body[7];
    if (flags & ~GK_FLAG_SEEDED)
        return hers_error(HERS_ERR_FORMAT, "galois key: unknown flags 0x%02x", flags);
    int seeded = (flags & GK_FLAG_SEEDED) != 0;
    if (!seeded) {
        uint8_t z = 0;
        for (size_t i = 0; i < HERS_SEED_BYTES; i++)
            z |= body[8 + i];
        if (z)
            return hers_error(HERS_ERR_FORMAT, "galois key: seed set but not seed-compressed");
    }
    if (count < 1 || count > HERS_GALOIS_MAX_ELEMENTS || w < 8 || w > 32)
        return hers_error(HERS_ERR_FORMAT, "galois key: %u elements, %u-bit digits out of range",
                          count, w);
    for (size_t i = 0; i < p->k; i++)
        if (((size_t)p->q[i].bits + w - 1) / w > 16)
            return hers_error(HERS_ERR_FORMAT, "galois key: %u-bit digits too narrow", w);
    size_t digits = hers_galois_digits(p, w);
    size_t expect = gk_total(p, count, digits, seeded) - ser_total(0);
    if (blen != expect)
        return hers_error(HERS_ERR_FORMAT, "galois key: body of %zu bytes, expected %zu", blen, expect);
    const uint8_t *q = body + GK_FIXED;
    uint32_t el[HERS_GALOIS_MAX_ELEMENTS];
    for (size_t e = 0; e < count; e++, q += 4) {
        el[e] = hers_le_get_u32(q);
        if (!(el[e] & 1) || el[e] < 3 || el[e] >= 2 * p->n)
            return hers_error(HERS_ERR_FORMAT, "galois key: element %u is not odd in [3, 2N)", el[e]);
        for (size_t f = 0; f < e; f++)
            if (el[f] == el[e])
                return hers_error(HERS_ERR_FORMAT, "galois key: element %u twice", el[e]);
    }
    hers_galois_key *gk = NULL;
    if ((st = hers_galois_key_alloc(p, count, w, &gk)) != HERS_OK)
        return st;
    memcpy(gk->elements, el, count * sizeof el[0]);
    int ok = 1;
    size_t kn = p->k * p->n;
    for (size_t e = 0; e < count && ok; e++)
        for (size_t t = 0; t < digits && ok; t++) {
            uint64_t *b0 = gk->data + ((e * digits + t) * 2) * kn;
            q = unpack(p, q, b0, &ok);
            if (!seeded)
                q = unpack(p, q, b0 + kn, &ok);
            else
                hers_bfv_expand_uniform(p, body + 8, HERS_STREAM_GK_A + ((uint64_t)el[e] << 8) + t,
                                        p->k, b0 + kn);
        }
    if (!ok) {
        hers_galois_key_free(gk);
        return hers_error(HERS_ERR_FORMAT, "galois key: a residue is >= its prime");
    }
    if (seeded) {
        gk->has_seed = 1;
        memcpy(gk->seed, body + 8, HERS_SEED_BYTES);
    }
    hers_galois_key_finish(p, gk);
    *out = gk;
    return HERS_OK;
}

static hers_status gk_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    return hers_galois_key_serialize(p, o, b, c, w);
}

hers_status hers_galois_key_write(const char *path, const hers_params *p, const hers_galois_key *gk)
{
    size_t size = 0;
    hers_status st = hers_galois_key_serialized_size(p, gk, &size);
    return st != HERS_OK ? st : ser_write_object(path, "key", size, 0, gk, gk_ser, p);
}

static hers_status gk_deser(const hers_params *p, const void *b, size_t len, void *out)
{
    return hers_galois_key_deserialize(p, b, len, out);
}

hers_status hers_galois_key_read(const char *path, const hers_params *p, hers_galois_key **out)
{
    if (out)
        *out = NULL;
    return ser_read_object(path, p, out, gk_deser);
}
