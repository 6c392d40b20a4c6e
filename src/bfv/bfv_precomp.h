/*
 * bfv_precomp.h - private to the BFV engine (src/bfv): precomputed RNS
 * constants hung on hers_params.pre, samplers and small polynomial helpers.
 * Not for other layers (use bfv_internal.h / hers_bfv.h).
 */
#ifndef HERS_BFV_PRECOMP_H
#define HERS_BFV_PRECOMP_H

#include "bfv/bfv_internal.h"
#include "hers/hers_mem.h"
#include "hers/hers_rns.h"

/* Constants for the prefix q_0 .. q_{L-1} of the ciphertext primes
 * (ciphertexts after modulus switching down to L primes). */
typedef struct hers_bfv_level {
    size_t L;
    hers_rns_base *base;          /* Q_L */
    hers_rns_scaler *dec;         /* round(t*x/Q_L) mod t (BFV decryption) */
    hers_rns_conv *to_t;          /* centred x mod t (BGV decryption) */
    uint64_t bgv_fix;             /* prod_{j >= L} q_j mod t: BGV decryption at
                                     L primes multiplies by it (undoes the
                                     q_j^-1 factors of modulus switching; 1
                                     when every q_j = 1 mod t) */
    /* switching from L to L-1 primes (L >= 2): */
    uint64_t inv_last[HERS_MAX_PRIMES];       /* q_{L-1}^-1 mod q_i */
    uint64_t inv_last_shoup[HERS_MAX_PRIMES];
    uint64_t t_inv_last;                      /* t^-1 mod q_{L-1} */
    uint64_t t_inv_last_shoup;
    int last_one_mod_t;                       /* q_{L-1} = 1 (mod t) (informative) */
} hers_bfv_level;

struct hers_bfv_precomp {
    hers_bfv_level lv[HERS_MAX_PRIMES];       /* lv[L-1] */
    /* HPS multiplication: auxiliary base P (kp primes < 2^50, = 1 mod 2N),
     * P > t*N*Q*4. */
    size_t kp;
    hers_modulus pm[HERS_RNS_MAX];
    hers_ntt_table *ntt_p[HERS_RNS_MAX];
    hers_rns_base *base_p;
    hers_rns_base *base_qp;                   /* q_0..q_{k-1}, p_0..p_{kp-1} */
    hers_rns_conv *q_to_p;                    /* centred */
    hers_rns_conv *p_to_q;                    /* centred */
    hers_rns_scaler *mul_scale;               /* round(t*x/Q) mod P from base QP */
    uint64_t t_mod_q[HERS_MAX_PRIMES];        /* t mod q_i */
};

/* ---- samplers (sample.c). Outputs are signed small coefficients. Constant
 * time in the sampled values. */
/* Uniform ternary {-1, 0, 1} (one 64-bit PRG word per coefficient, bias
 * 2^-64). */
void hers_sample_ternary(hers_prg *g, int8_t *out, size_t n);
/* Centred binomial, 21 pairs of bits: values in [-21, 21], variance 10.5
 * (sigma ~ 3.24). */
void hers_sample_cbd(hers_prg *g, int8_t *out, size_t n);

/* ---- RNS polynomial helpers (poly_rns.c). Polys are prime-major over the
 * first `np` primes of p. */
/* out_i = small coefficients mod q_i (constant time). */
void hers_rns_from_small(const hers_params *p, const int8_t *s, size_t np, uint64_t *out);
void hers_rns_ntt(const hers_params *p, uint64_t *a, size_t np);
void hers_rns_intt(const hers_params *p, uint64_t *a, size_t np);
void hers_rns_add(const hers_params *p, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t np);
void hers_rns_sub(const hers_params *p, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t np);
void hers_rns_neg(const hers_params *p, uint64_t *out, const uint64_t *a, size_t np);
void hers_rns_mul(const hers_params *p, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t np);
void hers_rns_mul_acc(const hers_params *p, uint64_t *acc, const uint64_t *a, const uint64_t *b,
                      size_t np);

/* Per-thread scratch buffer of at least `words` words (contents undefined,
 * 64-byte aligned), owned by the calling thread and valid until its next
 * call; NULL when out of memory. For public data only (never wiped); callers
 * must not nest uses (hers_mul and hers_relinearize each take one). */
uint64_t *hers_bfv_scratch(size_t words);

/* Ciphertext (re)allocation helper: makes ct hold `parts` x `np` x n
 * residues (contents undefined unless `zero`), keeping other fields. */
/* Releases ct's residues unless they are borrowed (then only forgets
 * them); ct->data is NULL and ct owns nothing afterwards. */
static inline void hers_ct_drop_data(hers_ciphertext *ct)
{
    if (!ct->borrowed)
        hers_free(ct->data);
    ct->data = NULL;
    ct->borrowed = 0;
}

/* Ends an operation that wrote its result into dst: when dst is the scratch
 * tmp (out aliased an input), tmp's storage replaces out's; then out gets
 * the given domain and form, and no seed (its part 1 is no longer the
 * expansion of one). ntt_form and form are values read before the call, as
 * out may alias the operand they come from. */
void hers_ct_out_end(hers_ciphertext *out, hers_ciphertext *tmp, const hers_ciphertext *dst,
                     int ntt_form, hers_form form);

hers_status hers_ct_reserve(const hers_params *p, hers_ciphertext *ct, size_t parts, size_t np, int zero);

/* Checks that a ciphertext is well-formed for p. */
hers_status hers_ct_check(const hers_params *p, const hers_ciphertext *ct, const char *what);

/* Adds Delta*m (m: plaintext coefficients in [0,t)) to poly c0 in
 * coefficient form over all k primes: round-free scaling floor(Q/t)*m. */
void hers_add_scaled_plain(const hers_params *p, const hers_plaintext *pt, uint64_t *c0);

/* Allocates pt if pt->coeffs is NULL, checks N, drops the NTT cache. */
hers_status hers_pt_prepare(const hers_params *p, hers_plaintext *pt, const char *what);

#endif
