/*
 * encrypt_batch.c - allocation-free batch encryption into caller buffers
 * (hers_bfv.h, "Batch encryption"): the enrolment path of the search layer.
 *
 * Each message is bit-identical to hers_encode_batch followed by
 * hers_encrypt_secret_seeded / hers_encrypt_public_seeded with the same seed
 * (same PRG streams, same order of draws; tests/test_search_enroll.c and
 * tests/test_bfv.c compare them), but without their per-call allocation,
 * zeroing and wiping:
 * - the small slot values (|v| < t/2) are lifted mod t by two constant-time
 *   operations instead of a generic reduction, then inverse-NTT'd mod t (the
 *   batch encoding; the _packed variants with coeff skip the NTT: coefficient
 *   encoding, bit-identical to hers_encode_coeff);
 * - the error and the scaled message are added in one (SIMD) pass
 *   (hers_poly_mul_scalar_add_small = hers_rns_from_small +
 *   hers_add_scaled_plain, same values).
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

/* Scratch layout (words): coeffs N | tmp kN | u or a kN | small 3N bytes. */
size_t hers_encrypt_batch_scratch_words(const hers_params *p)
{
    if (!p)
        return 0;
    return p->n + 2 * p->k * p->n + (3 * p->n + 7) / 8;
}

/* Slot values -> the plaintext's coefficients (batch encoding; with coeff,
 * the values themselves: coefficient encoding). |v| < t/2 was checked. */
static void encode_small(const hers_params *p, int coeff, const int32_t *vals, size_t slots,
                         uint64_t *coeffs)
{
    uint64_t t = p->t;
    for (size_t x = 0; x < slots; x++) {
        int64_t v = vals[x];
        coeffs[x] = (uint64_t)v + (t & (uint64_t)(v >> 63));
    }
    memset(coeffs + slots, 0, (p->n - slots) * sizeof(uint64_t));
    if (!coeff)
        hers_ntt_inverse(p->ntt_t, coeffs);
}

static hers_status batch_check(const hers_params *p, int coeff, const void *key,
                               const int32_t *values, size_t stride, size_t slots, size_t count,
                               const void *seeds, const uint64_t *scratch, const void *out)
{
    if (!p || !key || (!values && count) || (!seeds && count) || !scratch || (!out && count))
        return hers_error(HERS_ERR_ARG, "batch encrypt: NULL argument");
    if (!coeff && !hers_params_can_batch(p))
        return hers_error(HERS_ERR_PARAMS, "batch encrypt: t does not allow batching");
    if (slots > p->n || (count > 1 && stride < slots))
        return hers_error(HERS_ERR_ARG, "batch encrypt: %zu slots (N = %zu), stride %zu", slots,
                          p->n, stride);
    int64_t half = (int64_t)(p->t / 2);
    for (size_t m = 0; m < count; m++)
        for (size_t x = 0; x < slots; x++) {
            int64_t v = values[m * stride + x];
            if (v > half || -v > half)
                return hers_error(HERS_ERR_ARG,
                                  "batch encrypt: message %zu slot %zu value %lld outside |v| <= t/2",
                                  m, x, (long long)v);
        }
    return HERS_OK;
}

hers_status hers_encrypt_batch_secret(const hers_params *p, const hers_secret_key *sk,
                                      const int32_t *values, size_t stride, size_t slots,
                                      size_t count, const uint8_t (*seeds)[HERS_SEED_BYTES],
                                      uint64_t *scratch, uint8_t (*a_seeds)[HERS_SEED_BYTES],
                                      uint64_t *c0)
{
    return hers_encrypt_batch_secret_packed(p, sk, HERS_EXPAND_CHACHA20, 0, values, stride, slots,
                                            count, seeds, scratch, a_seeds, c0);
}

hers_status hers_encrypt_batch_secret_with(const hers_params *p, const hers_secret_key *sk,
                                           hers_expander x, const int32_t *values, size_t stride,
                                           size_t slots, size_t count,
                                           const uint8_t (*seeds)[HERS_SEED_BYTES],
                                           uint64_t *scratch, uint8_t (*a_seeds)[HERS_SEED_BYTES],
                                           uint64_t *c0)
{
    return hers_encrypt_batch_secret_packed(p, sk, x, 0, values, stride, slots, count, seeds,
                                            scratch, a_seeds, c0);
}

hers_status hers_encrypt_batch_secret_packed(const hers_params *p, const hers_secret_key *sk,
                                             hers_expander x, int coeff, const int32_t *values,
                                             size_t stride, size_t slots, size_t count,
                                             const uint8_t (*seeds)[HERS_SEED_BYTES],
                                             uint64_t *scratch, uint8_t (*a_seeds)[HERS_SEED_BYTES],
                                             uint64_t *c0)
{
    hers_status st = batch_check(p, coeff, sk, values, stride, slots, count, seeds, scratch, c0);
    if (st == HERS_OK && !a_seeds && count)
        st = hers_error(HERS_ERR_ARG, "batch encrypt: NULL argument");
    if (st == HERS_OK)
        st = hers_bfv_check_id(p, sk->params_id, "batch encrypt: secret key");
    if (st != HERS_OK)
        return st;
    size_t N = p->n, k = p->k, kn = k * N;
    uint64_t *coeffs = scratch, *tmp = coeffs + N, *a = tmp + kn;
    int8_t *e = (int8_t *)(a + kn);
    for (size_t m = 0; m < count; m++) {
        uint64_t *out = c0 + m * kn;
        encode_small(p, coeff, values + m * stride, slots, coeffs);
        /* a (NTT form) from the ciphertext seed, c0 = e + Delta m - a s */
        hers_prg g;
        hers_prg_init(&g, seeds[m], HERS_STREAM_CT_SEED);
        hers_prg_bytes(&g, a_seeds[m], HERS_SEED_BYTES);
        hers_prg_init(&g, seeds[m], HERS_STREAM_ENC);
        hers_sample_cbd(&g, e, N);
        hers_prg_wipe(&g);
        hers_expand_uniform(p, x, a_seeds[m], HERS_STREAM_CT_A, k, a);
        for (size_t j = 0; j < k; j++)
            hers_poly_mul_scalar_add_small(tmp + j * N, coeffs, p->delta[j], e, N, &p->q[j]);
        hers_rns_ntt(p, tmp, k);
        hers_rns_mul(p, out, a, sk->s_ntt, k);
        hers_rns_sub(p, out, tmp, out, k);
    }
    return HERS_OK;
}

hers_status hers_encrypt_batch_public(const hers_params *p, const hers_public_key *pk,
                                      const int32_t *values, size_t stride, size_t slots,
                                      size_t count, const uint8_t (*seeds)[HERS_SEED_BYTES],
                                      uint64_t *scratch, uint64_t *c)
{
    return hers_encrypt_batch_public_packed(p, pk, 0, values, stride, slots, count, seeds, scratch,
                                            c);
}

hers_status hers_encrypt_batch_public_packed(const hers_params *p, const hers_public_key *pk,
                                             int coeff, const int32_t *values, size_t stride,
                                             size_t slots, size_t count,
                                             const uint8_t (*seeds)[HERS_SEED_BYTES],
                                             uint64_t *scratch, uint64_t *c)
{
    hers_status st = batch_check(p, coeff, pk, values, stride, slots, count, seeds, scratch, c);
    if (st == HERS_OK)
        st = hers_bfv_check_id(p, pk->params_id, "batch encrypt: public key");
    if (st != HERS_OK)
        return st;
    size_t N = p->n, k = p->k, kn = k * N;
    uint64_t *coeffs = scratch, *tmp = coeffs + N, *u = tmp + kn;
    int8_t *u8 = (int8_t *)(u + kn), *e0 = u8 + N, *e1 = e0 + N;
    for (size_t m = 0; m < count; m++) {
        uint64_t *c0 = c + m * 2 * kn, *c1 = c0 + kn;
        encode_small(p, coeff, values + m * stride, slots, coeffs);
        hers_prg g;
        hers_prg_init(&g, seeds[m], HERS_STREAM_ENC);
        hers_sample_ternary(&g, u8, N);
        hers_sample_cbd(&g, e0, N);
        hers_sample_cbd(&g, e1, N);
        hers_prg_wipe(&g);
        hers_rns_from_small(p, u8, k, u);
        hers_rns_ntt(p, u, k);
        /* c0 = pk0 u + e0 + Delta m, c1 = pk1 u + e1 (NTT form) */
        hers_rns_mul(p, c0, pk->data, u, k);
        hers_rns_mul(p, c1, pk->data + kn, u, k);
        for (size_t j = 0; j < k; j++)
            hers_poly_mul_scalar_add_small(tmp + j * N, coeffs, p->delta[j], e0, N, &p->q[j]);
        hers_rns_ntt(p, tmp, k);
        hers_rns_add(p, c0, c0, tmp, k);
        hers_rns_from_small(p, e1, k, tmp);
        hers_rns_ntt(p, tmp, k);
        hers_rns_add(p, c1, c1, tmp, k);
    }
    return HERS_OK;
}
