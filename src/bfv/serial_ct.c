/* serial_ct.c - plaintext and ciphertext records ("PTXT", "CTXT").
 *
 * Plaintext body:  u32 N | u32 bits (= bitlen(t-1)) | N coefficients packed.
 * Ciphertext body: u32 N | u8 parts | u8 primes | u8 form | u8 flags |
 *                  seed[32] | residues of the stored parts, part-major then
 *                  prime-major, prime i packed with bitlen(q_i - 1) bits.
 * flags: bit 0 NTT form, bit 1 seed-compressed (only c0 stored; then parts =
 * 2, primes = k and NTT form). The seed is all zero when bit 1 is clear.
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "bfv/serial_internal.h"
#include "hers/hers_mem.h"

#define CT_FIXED 40
#define PT_FIXED 8
#define CT_FLAG_NTT 1u
#define CT_FLAG_SEEDED 2u

static int pt_bits(const hers_params *p)
{
    return hers_bitlen(hers_params_t(p) - 1);
}

static int q_bits(const hers_params *p, size_t i)
{
    return hers_bitlen(hers_params_prime(p, i) - 1);
}

/* ------------------------------------------------------------ plaintexts */

hers_status hers_plaintext_serialized_size(const hers_params *p, size_t *size)
{
    if (!p || !size)
        return hers_error(HERS_ERR_ARG, "plaintext size: NULL argument");
    *size = ser_total(PT_FIXED + hers_packed_bytes(hers_params_n(p), pt_bits(p)));
    return HERS_OK;
}

hers_status hers_plaintext_serialize(const hers_params *p, const hers_plaintext *pt, void *buf,
                                     size_t cap, size_t *written)
{
    if (!p || !pt || !buf || !pt->coeffs)
        return hers_error(HERS_ERR_ARG, "plaintext serialize: NULL argument");
    size_t n = hers_params_n(p);
    if (pt->n != n)
        return hers_error(HERS_ERR_MISMATCH, "plaintext serialize: N = %zu, parameters have %zu",
                          pt->n, n);
    size_t total = 0;
    (void)hers_plaintext_serialized_size(p, &total);
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "plaintext serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    size_t body = total - HERS_SERIAL_HEADER_BYTES - HERS_SERIAL_CHECKSUM_BYTES;
    ser_header_write(b, HERS_OBJ_PLAINTEXT, hers_params_id(p), body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    int bits = pt_bits(p);
    hers_le_put_u32(q, (uint32_t)n);
    hers_le_put_u32(q + 4, (uint32_t)bits);
    if (!hers_bitpack(q + PT_FIXED, pt->coeffs, n, bits, hers_params_t(p)))
        return hers_error(HERS_ERR_ARG, "plaintext serialize: a coefficient is >= t");
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

hers_status hers_plaintext_deserialize(const hers_params *p, const void *buf, size_t len,
                                       hers_plaintext *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "plaintext: NULL output");
    memset(out, 0, sizeof *out);
    if (!p)
        return hers_error(HERS_ERR_ARG, "plaintext: NULL parameters");
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_PLAINTEXT, p, &body, &blen);
    if (st != HERS_OK)
        return st;
    size_t n = hers_params_n(p);
    int bits = pt_bits(p);
    if (blen < PT_FIXED)
        return hers_error(HERS_ERR_FORMAT, "plaintext: body too short");
    if (hers_le_get_u32(body) != n)
        return hers_error(HERS_ERR_FORMAT, "plaintext: N = %u, parameters have %zu",
                          hers_le_get_u32(body), n);
    if (hers_le_get_u32(body + 4) != (uint32_t)bits)
        return hers_error(HERS_ERR_FORMAT, "plaintext: %u bits per coefficient, expected %d",
                          hers_le_get_u32(body + 4), bits);
    if (blen != PT_FIXED + hers_packed_bytes(n, bits))
        return hers_error(HERS_ERR_FORMAT, "plaintext: body of %zu bytes, expected %zu", blen,
                          PT_FIXED + hers_packed_bytes(n, bits));
    st = hers_plaintext_init(p, out);
    if (st != HERS_OK)
        return st;
    if (!hers_bitunpack(out->coeffs, body + PT_FIXED, n, bits, hers_params_t(p))) {
        hers_plaintext_free(out);
        memset(out, 0, sizeof *out);
        return hers_error(HERS_ERR_FORMAT, "plaintext: a coefficient is >= t");
    }
    return HERS_OK;
}

static hers_status pt_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    return hers_plaintext_serialize(p, o, b, c, w);
}

static hers_status pt_deser(const hers_params *p, const void *b, size_t len, void *out)
{
    return hers_plaintext_deserialize(p, b, len, out);
}

hers_status hers_plaintext_write(const char *path, const hers_params *p, const hers_plaintext *pt)
{
    size_t size = 0;
    hers_status st = hers_plaintext_serialized_size(p, &size);
    return st != HERS_OK ? st : ser_write_object(path, "plaintext", size, 0, pt, pt_ser, p);
}

hers_status hers_plaintext_read(const char *path, const hers_params *p, hers_plaintext *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    return ser_read_object(path, p, out, pt_deser);
}

/* ------------------------------------------------------------ ciphertexts */

static int ct_compressed(const hers_params *p, const hers_ciphertext *ct)
{
    return ct->has_seed && ct->parts == 2 && ct->ntt_form &&
           ct->num_primes == hers_params_num_primes(p);
}

/* Bytes of one polynomial over the first `primes` primes. */
static size_t poly_bytes(const hers_params *p, size_t primes)
{
    size_t s = 0;
    for (size_t i = 0; i < primes; i++)
        s += hers_packed_bytes(hers_params_n(p), q_bits(p, i));
    return s;
}

static hers_status ct_check(const hers_params *p, const hers_ciphertext *ct)
{
    if (ct->n != hers_params_n(p))
        return hers_error(HERS_ERR_MISMATCH, "ciphertext serialize: N = %zu, parameters have %zu",
                          ct->n, hers_params_n(p));
    if (ct->parts != 2 && ct->parts != 3)
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: %zu parts", ct->parts);
    if (ct->num_primes < 1 || ct->num_primes > hers_params_num_primes(p))
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: %zu primes", ct->num_primes);
    if (ct->form != HERS_FORM_BFV && ct->form != HERS_FORM_BGV)
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: unknown form");
    if (!ct->data)
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: no data");
    return HERS_OK;
}

hers_status hers_ciphertext_serialized_size(const hers_params *p, const hers_ciphertext *ct,
                                            size_t *size)
{
    if (!p || !ct || !size)
        return hers_error(HERS_ERR_ARG, "ciphertext size: NULL argument");
    hers_status st = ct_check(p, ct);
    if (st != HERS_OK)
        return st;
    size_t stored = ct_compressed(p, ct) ? 1 : ct->parts;
    *size = ser_total(CT_FIXED + stored * poly_bytes(p, ct->num_primes));
    return HERS_OK;
}

hers_status hers_ciphertext_serialize(const hers_params *p, const hers_ciphertext *ct, void *buf,
                                      size_t cap, size_t *written)
{
    if (!buf)
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: NULL buffer");
    size_t total = 0;
    hers_status st = hers_ciphertext_serialized_size(p, ct, &total);
    if (st != HERS_OK)
        return st;
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    int seeded = ct_compressed(p, ct);
    size_t stored = seeded ? 1 : ct->parts;
    size_t n = ct->n;
    uint8_t *b = buf;
    size_t body = total - HERS_SERIAL_HEADER_BYTES - HERS_SERIAL_CHECKSUM_BYTES;
    ser_header_write(b, HERS_OBJ_CIPHERTEXT, hers_params_id(p), body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    hers_le_put_u32(q, (uint32_t)n);
    q[4] = (uint8_t)ct->parts;
    q[5] = (uint8_t)ct->num_primes;
    q[6] = (uint8_t)ct->form;
    q[7] = (uint8_t)((ct->ntt_form ? CT_FLAG_NTT : 0) | (seeded ? CT_FLAG_SEEDED : 0));
    if (seeded)
        memcpy(q + 8, ct->seed, HERS_SEED_BYTES);
    else
        memset(q + 8, 0, HERS_SEED_BYTES);
    q += CT_FIXED;
    int ok = 1;
    for (size_t part = 0; part < stored; part++)
        for (size_t i = 0; i < ct->num_primes; i++) {
            int bits = q_bits(p, i);
            ok &= hers_bitpack(q, hers_ct_poly(ct, part, i), n, bits, hers_params_prime(p, i));
            q += hers_packed_bytes(n, bits);
        }
    if (!ok)
        return hers_error(HERS_ERR_ARG, "ciphertext serialize: a residue is not reduced mod q_i");
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

hers_status hers_ciphertext_deserialize(const hers_params *p, const void *buf, size_t len,
                                        hers_ciphertext *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "ciphertext: NULL output");
    memset(out, 0, sizeof *out);
    if (!p)
        return hers_error(HERS_ERR_ARG, "ciphertext: NULL parameters");
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_CIPHERTEXT, p, &body, &blen);
    if (st != HERS_OK)
        return st;
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    if (blen < CT_FIXED)
        return hers_error(HERS_ERR_FORMAT, "ciphertext: body too short");
    uint32_t rn = hers_le_get_u32(body);
    size_t parts = body[4], primes = body[5];
    unsigned form = body[6], flags = body[7];
    const uint8_t *seed = body + 8;
    if (rn != n)
        return hers_error(HERS_ERR_FORMAT, "ciphertext: N = %u, parameters have %zu", rn, n);
    if (parts != 2 && parts != 3)
        return hers_error(HERS_ERR_FORMAT, "ciphertext: %zu parts (2 or 3 allowed)", parts);
    if (primes < 1 || primes > k)
        return hers_error(HERS_ERR_FORMAT, "ciphertext: %zu primes (parameters have %zu)", primes, k);
    if (form != HERS_FORM_BFV && form != HERS_FORM_BGV)
        return hers_error(HERS_ERR_FORMAT, "ciphertext: unknown form %u", form);
    if (flags & ~(CT_FLAG_NTT | CT_FLAG_SEEDED))
        return hers_error(HERS_ERR_FORMAT, "ciphertext: unknown flags 0x%02x", flags);
    int seeded = (flags & CT_FLAG_SEEDED) != 0;
    /* Seed compression exists only for fresh symmetric encryptions: 2 parts,
     * all primes, NTT form (hers_ciphertext_expand_seed). */
    if (seeded && (parts != 2 || primes != k || !(flags & CT_FLAG_NTT)))
        return hers_error(HERS_ERR_FORMAT,
                          "ciphertext: seed-compressed with %zu parts, %zu primes%s", parts,
                          primes, (flags & CT_FLAG_NTT) ? "" : ", not in NTT form");
    if (!seeded) {
        uint8_t z = 0;
        for (size_t i = 0; i < HERS_SEED_BYTES; i++)
            z |= seed[i];
        if (z)
            return hers_error(HERS_ERR_FORMAT, "ciphertext: seed set but not seed-compressed");
    }
    size_t stored = seeded ? 1 : parts;
    size_t expect = CT_FIXED + stored * poly_bytes(p, primes);
    if (blen != expect)
        return hers_error(HERS_ERR_FORMAT, "ciphertext: body of %zu bytes, expected %zu", blen,
                          expect);
    st = hers_ct_reserve(p, out, parts, primes, 0);
    if (st != HERS_OK)
        return st;
    out->form = (hers_form)form;
    out->ntt_form = (flags & CT_FLAG_NTT) != 0;
    const uint8_t *q = body + CT_FIXED;
    int ok = 1;
    for (size_t part = 0; part < stored && ok; part++)
        for (size_t i = 0; i < primes && ok; i++) {
            int bits = q_bits(p, i);
            ok = hers_bitunpack(hers_ct_poly(out, part, i), q, n, bits, hers_params_prime(p, i));
            q += hers_packed_bytes(n, bits);
        }
    if (!ok) {
        hers_ciphertext_free(out);
        memset(out, 0, sizeof *out);
        return hers_error(HERS_ERR_FORMAT, "ciphertext: a residue is >= its prime");
    }
    if (seeded) {
        out->has_seed = 1;
        memcpy(out->seed, seed, HERS_SEED_BYTES);
        st = hers_ciphertext_expand_seed(p, out);
        if (st != HERS_OK) {
            hers_ciphertext_free(out);
            memset(out, 0, sizeof *out);
            return st;
        }
    }
    return HERS_OK;
}

static hers_status ct_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    return hers_ciphertext_serialize(p, o, b, c, w);
}

static hers_status ct_deser(const hers_params *p, const void *b, size_t len, void *out)
{
    return hers_ciphertext_deserialize(p, b, len, out);
}

hers_status hers_ciphertext_write(const char *path, const hers_params *p, const hers_ciphertext *ct)
{
    size_t size = 0;
    hers_status st = hers_ciphertext_serialized_size(p, ct, &size);
    return st != HERS_OK ? st : ser_write_object(path, "ciphertext", size, 0, ct, ct_ser, p);
}

hers_status hers_ciphertext_read(const char *path, const hers_params *p, hers_ciphertext *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    return ser_read_object(path, p, out, ct_deser);
}
