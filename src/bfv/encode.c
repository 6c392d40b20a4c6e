/*
 * encode.c - plaintexts: batch encoding (NTT mod t), coefficient encoding,
 * and the NTT-form cache used by ciphertext x plaintext products.
 *
 * Slot order: slot i is the evaluation m(psi^(2*brv(i)+1)) mod t, brv the
 * log2(N)-bit reversal and psi the primitive 2N-th root of unity mod t chosen
 * by hers_ntt_table_create (hers_ntt.h): encode is hers_ntt_inverse mod t,
 * decode hers_ntt_forward. Slot-wise products and sums are what homomorphic
 * products and sums compute; the order only matters for rotations, which
 * hers does not use.
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

hers_status hers_plaintext_init(const hers_params *p, hers_plaintext *pt)
{
    if (!p || !pt)
        return hers_error(HERS_ERR_ARG, "plaintext: NULL argument");
    pt->n = p->n;
    pt->ntt = NULL;
    pt->ntt_primes = 0;
    pt->coeffs = hers_alloc_array(p->n, sizeof(uint64_t));
    if (!pt->coeffs)
        return hers_error(HERS_ERR_NOMEM, "plaintext: out of memory");
    return HERS_OK;
}

void hers_plaintext_free(hers_plaintext *pt)
{
    if (!pt)
        return;
    /* Plaintexts may hold private data (probe vectors): wipe. */
    hers_free_secret(pt->coeffs, pt->n * sizeof(uint64_t));
    hers_free_secret(pt->ntt, pt->ntt_primes * pt->n * sizeof(uint64_t));
    pt->coeffs = NULL;
    pt->ntt = NULL;
    pt->ntt_primes = 0;
}

hers_status hers_pt_prepare(const hers_params *p, hers_plaintext *pt, const char *what)
{
    if (!p || !pt)
        return hers_error(HERS_ERR_ARG, "%s: NULL argument", what);
    if (!pt->coeffs) {
        hers_status st = hers_plaintext_init(p, pt);
        if (st != HERS_OK)
            return st;
    }
    if (pt->n != p->n)
        return hers_error(HERS_ERR_MISMATCH, "%s: plaintext N=%zu, parameters N=%zu", what, pt->n, p->n);
    /* the NTT cache is stale now */
    hers_free_secret(pt->ntt, pt->ntt_primes * pt->n * sizeof(uint64_t));
    pt->ntt = NULL;
    pt->ntt_primes = 0;
    return HERS_OK;
}

/* v mod t in [0, t) for any int64 v, constant time. */
static inline uint64_t signed_mod(int64_t v, const hers_modulus *t)
{
    uint64_t m = (uint64_t)(v >> 63);
    uint64_t a = ((uint64_t)v ^ m) - m;
    uint64_t r = hers_reduce64(a, t);
    return hers_consttime_select(m, hers_neg_mod(r, t->value), r);
}

static inline int64_t centre(uint64_t v, uint64_t t)
{
    /* v in [0, t) -> (-t/2, t/2] */
    uint64_t m = 0 - (uint64_t)(v > t / 2);
    return (int64_t)(v - (t & m));
}

hers_status hers_encode_batch(const hers_params *p, const int64_t *values, size_t count,
                              hers_plaintext *pt)
{
    if (p && !p->can_batch)
        return hers_error(HERS_ERR_PARAMS,
                          "batch encoding needs a prime t = 1 (mod 2N); t=%llu, N=%zu",
                          (unsigned long long)p->t, p->n);
    hers_status st = hers_pt_prepare(p, pt, "encode");
    if (st != HERS_OK)
        return st;
    if (count > p->n || (count && !values))
        return hers_error(HERS_ERR_ARG, "encode: %zu values for %zu slots", count, p->n);
    for (size_t i = 0; i < count; i++)
        pt->coeffs[i] = signed_mod(values[i], &p->t_mod);
    for (size_t i = count; i < p->n; i++)
        pt->coeffs[i] = 0;
    hers_ntt_inverse(p->ntt_t, pt->coeffs);
    return HERS_OK;
}

hers_status hers_decode_batch(const hers_params *p, const hers_plaintext *pt, int64_t *values)
{
    if (!p || !pt || !pt->coeffs || !values)
        return hers_error(HERS_ERR_ARG, "decode: NULL argument");
    if (!p->can_batch)
        return hers_error(HERS_ERR_PARAMS, "batch decoding needs a prime t = 1 (mod 2N)");
    if (pt->n != p->n)
        return hers_error(HERS_ERR_MISMATCH, "decode: plaintext N=%zu, parameters N=%zu", pt->n, p->n);
    uint64_t *tmp = hers_alloc_array(p->n, sizeof(uint64_t));
    if (!tmp)
        return hers_error(HERS_ERR_NOMEM, "decode: out of memory");
    memcpy(tmp, pt->coeffs, p->n * sizeof(uint64_t));
    hers_ntt_forward(p->ntt_t, tmp);
    for (size_t i = 0; i < p->n; i++)
        values[i] = centre(tmp[i], p->t);
    hers_free_secret(tmp, p->n * sizeof(uint64_t));
    return HERS_OK;
}

hers_status hers_encode_coeff(const hers_params *p, const int64_t *values, size_t count,
                              hers_plaintext *pt)
{
    hers_status st = hers_pt_prepare(p, pt, "encode");
    if (st != HERS_OK)
        return st;
    if (count > p->n || (count && !values))
        return hers_error(HERS_ERR_ARG, "encode: %zu values for %zu coefficients", count, p->n);
    for (size_t i = 0; i < count; i++)
        pt->coeffs[i] = signed_mod(values[i], &p->t_mod);
    for (size_t i = count; i < p->n; i++)
        pt->coeffs[i] = 0;
    return HERS_OK;
}

hers_status hers_decode_coeff(const hers_params *p, const hers_plaintext *pt, int64_t *values)
{
    if (!p || !pt || !pt->coeffs || !values)
        return hers_error(HERS_ERR_ARG, "decode: NULL argument");
    if (pt->n != p->n)
        return hers_error(HERS_ERR_MISMATCH, "decode: plaintext N=%zu, parameters N=%zu", pt->n, p->n);
    for (size_t i = 0; i < p->n; i++)
        values[i] = centre(pt->coeffs[i], p->t);
    return HERS_OK;
}

hers_status hers_plaintext_to_ntt(const hers_params *p, hers_plaintext *pt)
{
    if (!p || !pt || !pt->coeffs)
        return hers_error(HERS_ERR_ARG, "plaintext: NULL argument");
    if (pt->n != p->n)
        return hers_error(HERS_ERR_MISMATCH, "plaintext: N=%zu, parameters N=%zu", pt->n, p->n);
    if (pt->ntt && pt->ntt_primes == p->k)
        return HERS_OK;
    size_t n = p->n;
    uint64_t *d = hers_alloc_array(p->k * n, sizeof(uint64_t));
    if (!d)
        return hers_error(HERS_ERR_NOMEM, "plaintext: out of memory");
    uint64_t t = p->t;
    for (size_t i = 0; i < p->k; i++) {
        uint64_t q = p->q[i].value;
        /* t mod q_i: t < 2^40 may exceed a small q_i in custom sets */
        uint64_t tq = hers_reduce64(t, &p->q[i]);
        for (size_t j = 0; j < n; j++) {
            uint64_t c = pt->coeffs[j];
            uint64_t neg = 0 - (uint64_t)(c > t / 2);
            uint64_t cq = hers_reduce64(c, &p->q[i]);
            /* centred lift: c - t (mod q) when c > t/2 */
            d[i * n + j] = hers_consttime_select(neg, hers_sub_mod(cq, tq, q), cq);
        }
        hers_ntt_forward(p->ntt[i], d + i * n);
    }
    hers_free_secret(pt->ntt, pt->ntt_primes * n * sizeof(uint64_t));
    pt->ntt = d;
    pt->ntt_primes = p->k;
    return HERS_OK;
}
