/*
 * encrypt.c - public-key and secret-key (seed-compressed) encryption,
 * decryption of 2- and 3-part ciphertexts in BFV or BGV form at any prime
 * count, and noise-budget measurement.
 *
 * Fresh ciphertexts are in NTT form (ntt_form = 1), form HERS_FORM_BFV, over
 * all k primes. Randomness (bfv_internal.h streams):
 *   public:  u ternary, e0, e1 centred binomial, all from (seed, HERS_STREAM_ENC)
 *   secret:  a-seed = 32 bytes of (seed, HERS_STREAM_CT_SEED) (stored in the
 *            ciphertext; it reveals nothing about e), e from (seed, HERS_STREAM_ENC)
 */
#include <math.h>
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

static hers_status enc_check(const hers_params *p, const void *key, const hers_plaintext *pt,
                             const hers_ciphertext *ct, const uint8_t *seed)
{
    if (!p || !key || !pt || !ct || !seed || !pt->coeffs)
        return hers_error(HERS_ERR_ARG, "encrypt: NULL argument");
    if (pt->n != p->n)
        return hers_error(HERS_ERR_MISMATCH, "encrypt: plaintext N=%zu, parameters N=%zu", pt->n, p->n);
    return HERS_OK;
}

static void ct_fresh(hers_ciphertext *ct)
{
    ct->ntt_form = 1;
    ct->form = HERS_FORM_BFV;
    ct->has_seed = 0;
    memset(ct->seed, 0, sizeof ct->seed);
}

hers_status hers_encrypt_public_seeded(const hers_params *p, const hers_public_key *pk,
                                       const hers_plaintext *pt, const uint8_t seed[HERS_SEED_BYTES],
                                       hers_ciphertext *ct)
{
    hers_status st = enc_check(p, pk, pt, ct, seed);
    if (st != HERS_OK)
        return st;
    if ((st = hers_bfv_check_id(p, pk->params_id, "encrypt: public key")) != HERS_OK)
        return st;
    size_t n = p->n, k = p->k, kn = k * n;
    /* scratch: u (k*n), tmp (k*n), 3 small polys */
    uint8_t *scratch = hers_alloc(2 * kn * sizeof(uint64_t) + 3 * n);
    if (!scratch)
        return hers_error(HERS_ERR_NOMEM, "encrypt: out of memory");
    if ((st = hers_ct_reserve(p, ct, 2, k, 0)) != HERS_OK) {
        hers_free(scratch);
        return st;
    }
    ct_fresh(ct);
    uint64_t *u = (uint64_t *)scratch, *tmp = u + kn;
    int8_t *u8 = (int8_t *)(tmp + kn), *e0 = u8 + n, *e1 = e0 + n;
    hers_prg g;
    hers_prg_init(&g, seed, HERS_STREAM_ENC);
    hers_sample_ternary(&g, u8, n);
    hers_sample_cbd(&g, e0, n);
    hers_sample_cbd(&g, e1, n);
    hers_prg_wipe(&g);
    hers_rns_from_small(p, u8, k, u);
    hers_rns_ntt(p, u, k);
    uint64_t *c0 = hers_ct_poly(ct, 0, 0), *c1 = hers_ct_poly(ct, 1, 0);
    hers_rns_mul(p, c0, pk->data, u, k);
    hers_rns_mul(p, c1, pk->data + kn, u, k);
    hers_rns_from_small(p, e0, k, tmp);
    hers_add_scaled_plain(p, pt, tmp);
    hers_rns_ntt(p, tmp, k);
    hers_rns_add(p, c0, c0, tmp, k);
    hers_rns_from_small(p, e1, k, tmp);
    hers_rns_ntt(p, tmp, k);
    hers_rns_add(p, c1, c1, tmp, k);
    hers_free_secret(scratch, 2 * kn * sizeof(uint64_t) + 3 * n);
    return HERS_OK;
}

hers_status hers_encrypt_public(const hers_params *p, const hers_public_key *pk, const hers_plaintext *pt,
                                hers_ciphertext *ct)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st == HERS_OK)
        st = hers_encrypt_public_seeded(p, pk, pt, seed, ct);
    hers_wipe(seed, sizeof seed);
    return st;
}

hers_status hers_encrypt_secret_seeded(const hers_params *p, const hers_secret_key *sk,
                                       const hers_plaintext *pt, const uint8_t seed[HERS_SEED_BYTES],
                                       hers_ciphertext *ct)
{
    hers_status st = enc_check(p, sk, pt, ct, seed);
    if (st != HERS_OK)
        return st;
    if ((st = hers_bfv_check_id(p, sk->params_id, "encrypt: secret key")) != HERS_OK)
        return st;
    size_t n = p->n, k = p->k, kn = k * n;
    uint8_t *scratch = hers_alloc(kn * sizeof(uint64_t) + n);
    if (!scratch)
        return hers_error(HERS_ERR_NOMEM, "encrypt: out of memory");
    if ((st = hers_ct_reserve(p, ct, 2, k, 0)) != HERS_OK) {
        hers_free(scratch);
        return st;
    }
    ct_fresh(ct);
    uint64_t *tmp = (uint64_t *)scratch;
    int8_t *e = (int8_t *)(tmp + kn);
    hers_prg g;
    hers_prg_init(&g, seed, HERS_STREAM_CT_SEED);
    hers_prg_bytes(&g, ct->seed, HERS_SEED_BYTES);
    ct->has_seed = 1;
    hers_prg_init(&g, seed, HERS_STREAM_ENC);
    hers_sample_cbd(&g, e, n);
    hers_prg_wipe(&g);
    uint64_t *c0 = hers_ct_poly(ct, 0, 0), *c1 = hers_ct_poly(ct, 1, 0);
    hers_bfv_expand_uniform(p, ct->seed, HERS_STREAM_CT_A, k, c1);
    hers_rns_from_small(p, e, k, tmp);
    hers_add_scaled_plain(p, pt, tmp);
    hers_rns_ntt(p, tmp, k);
    hers_rns_mul(p, c0, c1, sk->s_ntt, k);
    hers_rns_sub(p, c0, tmp, c0, k);
    hers_free_secret(scratch, kn * sizeof(uint64_t) + n);
    return HERS_OK;
}

hers_status hers_encrypt_secret(const hers_params *p, const hers_secret_key *sk, const hers_plaintext *pt,
                                hers_ciphertext *ct)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st == HERS_OK)
        st = hers_encrypt_secret_seeded(p, sk, pt, seed, ct);
    hers_wipe(seed, sizeof seed);
    return st;
}

hers_status hers_ciphertext_expand_seed(const hers_params *p, hers_ciphertext *ct)
{
    if (!p || !ct || !ct->data)
        return hers_error(HERS_ERR_ARG, "expand seed: NULL argument");
    hers_status st = hers_ct_check(p, ct, "expand seed");
    if (st != HERS_OK)
        return st;
    if (!ct->has_seed)
        return hers_error(HERS_ERR_STATE, "expand seed: ciphertext has no seed");
    if (!ct->ntt_form || ct->parts != 2 || ct->num_primes != p->k)
        return hers_error(HERS_ERR_STATE,
                          "expand seed: a seeded ciphertext must be a fresh 2-part NTT-form one over all primes");
    hers_bfv_expand_uniform(p, ct->seed, HERS_STREAM_CT_A, ct->num_primes, hers_ct_poly(ct, 1, 0));
    return HERS_OK;
}

/* x (L*n, coefficient form) = c0 + c1 s (+ c2 s^2) mod Q_L. */
static hers_status dot_secret(const hers_params *p, const hers_secret_key *sk, const hers_ciphertext *ct,
                              uint64_t *x, uint64_t *tmp)
{
    size_t L = ct->num_primes, n = p->n;
    if (ct->parts == 3) {
        /* x = c2 * s^2 */
        memcpy(x, hers_ct_poly(ct, 2, 0), L * n * sizeof(uint64_t));
        if (!ct->ntt_form)
            hers_rns_ntt(p, x, L);
        hers_rns_mul(p, x, x, sk->s_ntt, L);
        /* + c1, times s: (c2 s + c1) s */
        memcpy(tmp, hers_ct_poly(ct, 1, 0), L * n * sizeof(uint64_t));
        if (!ct->ntt_form)
            hers_rns_ntt(p, tmp, L);
        hers_rns_add(p, x, x, tmp, L);
        hers_rns_mul(p, x, x, sk->s_ntt, L);
    } else {
        memcpy(x, hers_ct_poly(ct, 1, 0), L * n * sizeof(uint64_t));
        if (!ct->ntt_form)
            hers_rns_ntt(p, x, L);
        hers_rns_mul(p, x, x, sk->s_ntt, L);
    }
    if (ct->ntt_form) {
        hers_rns_add(p, x, x, hers_ct_poly(ct, 0, 0), L);
        hers_rns_intt(p, x, L);
    } else {
        hers_rns_intt(p, x, L);
        hers_rns_add(p, x, x, hers_ct_poly(ct, 0, 0), L);
    }
    return HERS_OK;
}

static hers_status dec_check(const hers_params *p, const hers_secret_key *sk, const hers_ciphertext *ct,
                             const void *out, const char *what)
{
    if (!p || !sk || !ct || !out)
        return hers_error(HERS_ERR_ARG, "%s: NULL argument", what);
    hers_status st = hers_bfv_check_id(p, sk->params_id, what);
    if (st != HERS_OK)
        return st;
    return hers_ct_check(p, ct, what);
}

hers_status hers_decrypt(const hers_params *p, const hers_secret_key *sk, const hers_ciphertext *ct,
                         hers_plaintext *pt)
{
    hers_status st = dec_check(p, sk, ct, pt, "decrypt");
    if (st != HERS_OK)
        return st;
    if ((st = hers_pt_prepare(p, pt, "decrypt")) != HERS_OK)
        return st;
    size_t L = ct->num_primes, n = p->n;
    size_t bytes = 2 * L * n * sizeof(uint64_t);
    uint64_t *x = hers_alloc(bytes);
    if (!x)
        return hers_error(HERS_ERR_NOMEM, "decrypt: out of memory");
    dot_secret(p, sk, ct, x, x + L * n);
    const hers_bfv_level *lv = &p->pre->lv[L - 1];
    if (ct->form == HERS_FORM_BFV)
        hers_rns_scale_round(lv->dec, x, pt->coeffs, n);
    else {
        hers_rns_convert(lv->to_t, x, pt->coeffs, n, 1);
        /* undo the q_j^-1 (mod t) factors of BGV modulus switching (public
         * constant; skipped when 1, i.e. every dropped q_j = 1 mod t) */
        if (lv->bgv_fix != 1 % p->t)
            for (size_t j = 0; j < n; j++)
                pt->coeffs[j] = hers_mul_mod(pt->coeffs[j], lv->bgv_fix, &p->t_mod);
    }
    hers_free_secret(x, bytes);
    return HERS_OK;
}

hers_status hers_noise_budget(const hers_params *p, const hers_secret_key *sk, const hers_ciphertext *ct,
                              double *bits)
{
    hers_status st = dec_check(p, sk, ct, bits, "noise budget");
    if (st != HERS_OK)
        return st;
    size_t L = ct->num_primes, n = p->n;
    size_t bytes = 2 * L * n * sizeof(uint64_t);
    uint64_t *x = hers_alloc(bytes);
    if (!x)
        return hers_error(HERS_ERR_NOMEM, "noise budget: out of memory");
    dot_secret(p, sk, ct, x, x + L * n);
    const hers_bfv_level *lv = &p->pre->lv[L - 1];
    const hers_rns_base *b = lv->base;
    if (ct->form == HERS_FORM_BFV) {
        /* w = [t*x]_Q: t*x = Q*m' + r with |r| <= Q/2; r is the noise that
         * decryption rounds away, correct while |r| < Q/2. */
        for (size_t i = 0; i < L; i++)
            hers_poly_mul_scalar(x + i * n, x + i * n, p->pre->t_mod_q[i], n, &p->q[i]);
    }
    /* BGV: w = x = m + t*e, correct while |x| < Q/2. */
    uint64_t w[HERS_RNS_MAX_LIMBS], half[HERS_RNS_MAX_LIMBS];
    size_t limbs = b->limbs;
    /* half = floor(Q/2) */
    for (size_t l = 0; l < limbs; l++)
        half[l] = (b->prod[l] >> 1) | (l + 1 < limbs ? b->prod[l + 1] << 63 : 0);
    double max_log = -1.0;
    for (size_t j = 0; j < n; j++) {
        hers_rns_compose(b, x + j, n, w);
        int above = 0;
        for (size_t l = limbs; l-- > 0;)
            if (w[l] != half[l]) {
                above = w[l] > half[l];
                break;
            }
        if (above) {
            /* w = Q - w */
            uint64_t borrow = 0;
            for (size_t l = 0; l < limbs; l++) {
                unsigned __int128 d = (unsigned __int128)b->prod[l] - w[l] - borrow;
                w[l] = (uint64_t)d;
                borrow = (uint64_t)(d >> 64) & 1;
            }
        }
        size_t top = limbs;
        while (top > 0 && w[top - 1] == 0)
            top--;
        if (top == 0)
            continue;
        double v = (double)w[top - 1];
        if (top >= 2)
            v += (double)w[top - 2] * 0x1p-64;
        double lg = log2(v) + 64.0 * (double)(top - 1);
        if (lg > max_log)
            max_log = lg;
    }
    hers_free_secret(x, bytes);
    double cap = b->log2_prod - 1.0;
    *bits = max_log < 0 ? cap : cap - max_log;
    if (*bits < 0)
        *bits = 0;
    return HERS_OK;
}
