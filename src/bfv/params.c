/*
 * params.c - BFV parameter sets: validation against the Homomorphic
 * Encryption Standard, named default sets, and precomputation of the NTT
 * tables and RNS constants (hers_bfv.h, bfv_precomp.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

/* HE Standard (Albrecht et al., 2018), Table 1, ternary secret ("uniform
 * ternary"), classical attacks: max log2 q for n = 1024 .. 32768. */
static const int he_std_n[6] = {1024, 2048, 4096, 8192, 16384, 32768};
static const int he_std_128[6] = {27, 54, 109, 218, 438, 881};
static const int he_std_192[6] = {19, 37, 75, 152, 305, 611};
static const int he_std_256[6] = {14, 29, 58, 118, 237, 476};

hers_status hers_he_standard_max_log_q(size_t n, hers_security sec, int *max_bits)
{
    const int *tab;
    switch (sec) {
    case HERS_SEC_128: tab = he_std_128; break;
    case HERS_SEC_192: tab = he_std_192; break;
    case HERS_SEC_256: tab = he_std_256; break;
    default:
        return hers_error(HERS_ERR_ARG, "security level %d has no HE Standard bound", (int)sec);
    }
    for (int i = 0; i < 6; i++)
        if ((size_t)he_std_n[i] == n) {
            *max_bits = tab[i];
            return HERS_OK;
        }
    return hers_error(HERS_ERR_INSECURE,
                      "N=%zu is not covered by the HE Standard table (1024..32768): "
                      "no security level can be claimed",
                      n);
}

/* ------------------------------------------------------------ named sets */

typedef struct named_set {
    const char *name;
    size_t n;
    uint64_t t;
    size_t k;
} named_set;

static const named_set named_sets[] = {
    {"n2048", 2048, 12289, 1},
    {"n4096", 4096, 1032193, 2},
    {"n8192", 8192, 1032193, 3},
    {"n16384", 16384, 786433, 4},
    {"n32768", 32768, 786433, 6},
};

static const char *const names_list[] = {"n2048", "n4096", "n8192", "n16384", "n32768", "default",
                                         NULL};

const char *const *hers_params_names(void)
{
    return names_list;
}

hers_status hers_params_create_named(hers_params **out, const char *name)
{
    *out = NULL;
    if (!name)
        return hers_error(HERS_ERR_ARG, "parameter set name is NULL");
    const char *nm = strcmp(name, "default") == 0 ? "n4096" : name;
    for (size_t i = 0; i < sizeof named_sets / sizeof named_sets[0]; i++) {
        const named_set *s = &named_sets[i];
        if (strcmp(nm, s->name) != 0)
            continue;
        hers_params_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.n = s->n;
        spec.t = s->t;
        spec.num_primes = s->k;
        for (size_t j = 0; j < s->k; j++)
            spec.prime_bits[j] = 50;
        spec.q_one_mod_t = 1;
        spec.security = HERS_SEC_128;
        hers_status st = hers_params_create(out, &spec);
        if (st == HERS_OK)
            snprintf((*out)->name, sizeof (*out)->name, "%s", s->name);
        return st;
    }
    return hers_error(HERS_ERR_ARG,
                      "unknown parameter set '%s' (known: n2048, n4096 = default, n8192, n16384, n32768)",
                      name);
}

/* ------------------------------------------------------------ validation */

static int is_pow2(size_t x)
{
    return x && !(x & (x - 1));
}

static void le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void precomp_free(struct hers_bfv_precomp *pre, size_t k)
{
    if (!pre)
        return;
    for (size_t L = 0; L < k; L++) {
        hers_rns_base_free(pre->lv[L].base);
        hers_rns_scaler_free(pre->lv[L].dec);
        hers_rns_conv_free(pre->lv[L].to_t);
    }
    for (size_t j = 0; j < pre->kp; j++)
        hers_ntt_table_free(pre->ntt_p[j]);
    hers_rns_base_free(pre->base_p);
    hers_rns_base_free(pre->base_qp);
    hers_rns_conv_free(pre->q_to_p);
    hers_rns_conv_free(pre->p_to_q);
    hers_rns_scaler_free(pre->mul_scale);
    hers_free(pre);
}

void hers_params_free(hers_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->k; i++)
        hers_ntt_table_free(p->ntt[i]);
    hers_ntt_table_free(p->ntt_t);
    precomp_free(p->pre, p->k);
    hers_free(p);
}

static hers_status precompute(hers_params *p)
{
    struct hers_bfv_precomp *pre = hers_alloc(sizeof *pre);
    if (!pre)
        return hers_error(HERS_ERR_NOMEM, "parameters: out of memory");
    p->pre = pre;
    size_t k = p->k, n = p->n;
    uint64_t qs[HERS_RNS_MAX];
    for (size_t i = 0; i < k; i++)
        qs[i] = p->q[i].value;
    hers_status st;
    for (size_t L = 1; L <= k; L++) {
        hers_bfv_level *lv = &pre->lv[L - 1];
        lv->L = L;
        if ((st = hers_rns_base_create(&lv->base, qs, L)) != HERS_OK)
            return st;
        if ((st = hers_rns_scaler_create(&lv->dec, lv->base, L, p->t)) != HERS_OK)
            return st;
        if ((st = hers_rns_conv_create(&lv->to_t, lv->base, &p->t, 1)) != HERS_OK)
            return st;
        if (L >= 2) {
            const hers_modulus *ql = &p->q[L - 1];
            for (size_t i = 0; i + 1 < L; i++) {
                uint64_t inv = hers_inv_mod(hers_reduce64(ql->value, &p->q[i]), &p->q[i]);
                lv->inv_last[i] = inv;
                lv->inv_last_shoup[i] = hers_shoup_precompute(inv, p->q[i].value);
            }
            lv->t_inv_last = hers_inv_mod(hers_reduce64(p->t, ql), ql);
            lv->t_inv_last_shoup = hers_shoup_precompute(lv->t_inv_last, ql->value);
            lv->last_one_mod_t = (ql->value % p->t) == 1 % p->t;
        }
    }
    for (size_t i = 0; i < k; i++)
        pre->t_mod_q[i] = hers_reduce64(p->t, &p->q[i]);

    /* Auxiliary base P for HPS multiplication: log2 P >= log2(t N Q) + 2. */
    double need = log2((double)p->t) + (double)p->log_n + p->log_q + 2.0;
    uint64_t ps[HERS_RNS_MAX];
    double have = 0;
    size_t kp = 0;
    while (have < need) {
        if (k + kp >= HERS_RNS_MAX)
            return hers_error(HERS_ERR_PARAMS, "parameters: auxiliary base would exceed %d primes",
                              HERS_RNS_MAX);
        uint64_t excl[2 * HERS_RNS_MAX];
        memcpy(excl, qs, k * sizeof(uint64_t));
        memcpy(excl + k, ps, kp * sizeof(uint64_t));
        excl[k + kp] = p->t;
        if ((st = hers_primes_below(50, 2 * (uint64_t)n, 1, excl, k + kp + 1, &ps[kp])) != HERS_OK)
            return st;
        have += log2((double)ps[kp]);
        kp++;
    }
    pre->kp = kp;
    for (size_t j = 0; j < kp; j++) {
        if ((st = hers_modulus_init(&pre->pm[j], ps[j])) != HERS_OK)
            return st;
        if ((st = hers_ntt_table_create(&pre->ntt_p[j], n, ps[j])) != HERS_OK)
            return st;
        qs[k + j] = ps[j];
    }
    if ((st = hers_rns_base_create(&pre->base_p, ps, kp)) != HERS_OK)
        return st;
    if ((st = hers_rns_base_create(&pre->base_qp, qs, k + kp)) != HERS_OK)
        return st;
    if ((st = hers_rns_conv_create(&pre->q_to_p, pre->lv[k - 1].base, ps, kp)) != HERS_OK)
        return st;
    if ((st = hers_rns_conv_create(&pre->p_to_q, pre->base_p, qs, k)) != HERS_OK)
        return st;
    if ((st = hers_rns_scaler_create(&pre->mul_scale, pre->base_qp, k, p->t)) != HERS_OK)
        return st;
    return HERS_OK;
}

hers_status hers_params_create(hers_params **out, const hers_params_spec *spec)
{
    if (!out || !spec)
        return hers_error(HERS_ERR_ARG, "parameters: NULL argument");
    *out = NULL;
    size_t n = spec->n, k = spec->num_primes;
    uint64_t t = spec->t;
    if (!is_pow2(n) || n < 16 || n > 32768)
        return hers_error(HERS_ERR_PARAMS, "parameters: N=%zu must be a power of two in [16, 32768]", n);
    if (t < 2 || t >= (UINT64_C(1) << 40))
        return hers_error(HERS_ERR_PARAMS, "parameters: t=%llu must be in [2, 2^40)",
                          (unsigned long long)t);
    if (k < 1 || k > HERS_MAX_PRIMES)
        return hers_error(HERS_ERR_PARAMS, "parameters: %zu ciphertext primes (1..%d allowed)", k,
                          HERS_MAX_PRIMES);
    if (spec->security != HERS_SEC_NONE && spec->security != HERS_SEC_128 &&
        spec->security != HERS_SEC_192 && spec->security != HERS_SEC_256)
        return hers_error(HERS_ERR_PARAMS, "parameters: unknown security level %d", (int)spec->security);
    uint64_t step = 2 * (uint64_t)n;
    if (spec->q_one_mod_t) {
        if (t > (UINT64_C(1) << 46) / step)
            return hers_error(HERS_ERR_PARAMS, "parameters: 2N*t too large for q = 1 (mod 2N*t)");
        step *= t;
        /* q = 1 mod 2N*t needs 2N | 2N*t: fine; if t is even, step is still even. */
    }

    /* Choose primes: explicit ones first (validated below), then generated
     * ones, each the largest prime of its size not yet used. */
    uint64_t q[HERS_MAX_PRIMES];
    for (size_t i = 0; i < k; i++)
        q[i] = spec->primes[i];
    for (size_t i = 0; i < k; i++) {
        if (q[i] != 0)
            continue;
        int bits = spec->prime_bits[i];
        if (bits < 20 || bits > 61)
            return hers_error(HERS_ERR_PARAMS, "parameters: prime %zu: %d bits (20..61 allowed)", i, bits);
        uint64_t excl[HERS_MAX_PRIMES + 1];
        size_t ne = 0;
        for (size_t j = 0; j < k; j++)
            if (q[j])
                excl[ne++] = q[j];
        excl[ne++] = t;
        hers_status st = hers_primes_below(bits, step, 1, excl, ne, &q[i]);
        if (st != HERS_OK)
            return hers_error(HERS_ERR_PARAMS,
                              "parameters: no %d-bit prime = 1 (mod %llu) left for prime %zu", bits,
                              (unsigned long long)step, i);
    }
    double log_q = 0;
    for (size_t i = 0; i < k; i++) {
        if (q[i] < 3 || q[i] >= (UINT64_C(1) << 62) || !hers_is_prime(q[i]))
            return hers_error(HERS_ERR_PARAMS, "parameters: q_%zu = %llu is not a prime below 2^62", i,
                              (unsigned long long)q[i]);
        if (q[i] % (2 * (uint64_t)n) != 1)
            return hers_error(HERS_ERR_PARAMS, "parameters: q_%zu = %llu is not 1 (mod 2N = %zu)", i,
                              (unsigned long long)q[i], 2 * n);
        for (size_t j = 0; j < i; j++)
            if (q[j] == q[i])
                return hers_error(HERS_ERR_PARAMS, "parameters: q_%zu = q_%zu (primes must be distinct)",
                                  j, i);
        if (q[i] % t == 0 || t % q[i] == 0)
            return hers_error(HERS_ERR_PARAMS, "parameters: q_%zu shares a factor with t", i);
        log_q += log2((double)q[i]);
    }
    if (log_q < log2((double)t) + 10.0)
        return hers_error(HERS_ERR_PARAMS,
                          "parameters: Q/t = 2^%.1f is too small (need Q >= 2^10 * t for any noise room)",
                          log_q - log2((double)t));
    if (spec->security != HERS_SEC_NONE) {
        int max_bits;
        hers_status st = hers_he_standard_max_log_q(n, spec->security, &max_bits);
        if (st != HERS_OK)
            return st;
        if (log_q > (double)max_bits)
            return hers_error(HERS_ERR_INSECURE,
                              "parameters: log2 Q = %.1f exceeds %d, the HE Standard maximum for N=%zu "
                              "at %d-bit security (ternary secret); use fewer or smaller primes, a "
                              "larger N, or a lower security level",
                              log_q, max_bits, n, (int)spec->security);
    }

    hers_params *p = hers_alloc(sizeof *p);
    if (!p)
        return hers_error(HERS_ERR_NOMEM, "parameters: out of memory");
    p->n = n;
    p->log_n = __builtin_ctzll((unsigned long long)n);
    p->t = t;
    p->k = k;
    p->security = spec->security;
    p->log_q = log_q;
    p->name[0] = 0;
    hers_status st = hers_modulus_init(&p->t_mod, t);
    for (size_t i = 0; i < k && st == HERS_OK; i++) {
        st = hers_modulus_init(&p->q[i], q[i]);
        if (st == HERS_OK)
            st = hers_ntt_table_create(&p->ntt[i], n, q[i]);
    }
    if (st != HERS_OK) {
        hers_params_free(p);
        return st;
    }
    p->can_batch = hers_is_prime(t) && t % (2 * (uint64_t)n) == 1;
    if (p->can_batch && (st = hers_ntt_table_create(&p->ntt_t, n, t)) != HERS_OK) {
        hers_params_free(p);
        return st;
    }
    /* Q mod t, Delta = floor(Q/t) mod q_i = (Q - (Q mod t)) * t^-1 mod q_i. */
    uint64_t qmt = 1 % t;
    for (size_t i = 0; i < k; i++)
        qmt = hers_mul_mod(qmt, q[i] % t, &p->t_mod);
    p->q_one_mod_t = qmt == 1 % t;
    for (size_t i = 0; i < k; i++) {
        const hers_modulus *qi = &p->q[i];
        uint64_t tinv = hers_inv_mod(hers_reduce64(t, qi), qi);
        /* Q = 0 mod q_i */
        uint64_t d = hers_mul_mod(hers_neg_mod(hers_reduce64(qmt, qi), qi->value), tinv, qi);
        p->delta[i] = d;
        p->delta_shoup[i] = hers_shoup_precompute(d, qi->value);
    }
    /* id = BLAKE2b-256("hers-params-v1" || N || t || k || q_0..q_{k-1}), LE64 each. */
    {
        uint8_t buf[16 + 8 * (3 + HERS_MAX_PRIMES)];
        size_t len = 0;
        memcpy(buf, "hers-params-v1", 14);
        len = 14;
        le64(buf + len, n), len += 8;
        le64(buf + len, t), len += 8;
        le64(buf + len, k), len += 8;
        for (size_t i = 0; i < k; i++)
            le64(buf + len, q[i]), len += 8;
        crypto_generichash(p->id, sizeof p->id, buf, len, NULL, 0);
    }
    if ((st = precompute(p)) != HERS_OK) {
        hers_params_free(p);
        return st;
    }
    *out = p;
    return HERS_OK;
}

/* ------------------------------------------------------------ accessors */

size_t hers_params_n(const hers_params *p) { return p->n; }
uint64_t hers_params_t(const hers_params *p) { return p->t; }
size_t hers_params_num_primes(const hers_params *p) { return p->k; }
uint64_t hers_params_prime(const hers_params *p, size_t i) { return i < p->k ? p->q[i].value : 0; }
const hers_ntt_table *hers_params_ntt(const hers_params *p, size_t i) { return i < p->k ? p->ntt[i] : NULL; }
double hers_params_log_q(const hers_params *p) { return p->log_q; }
int hers_params_can_batch(const hers_params *p) { return p->can_batch; }
int hers_params_q_one_mod_t(const hers_params *p) { return p->q_one_mod_t; }
hers_security hers_params_security(const hers_params *p) { return p->security; }
const char *hers_params_name(const hers_params *p) { return p->name; }
const uint8_t *hers_params_id(const hers_params *p) { return p->id; }

hers_status hers_bfv_check_id(const hers_params *p, const uint8_t id[HERS_PARAMS_ID_BYTES], const char *what)
{
    if (!hers_ct_equal(p->id, id, HERS_PARAMS_ID_BYTES))
        return hers_error(HERS_ERR_MISMATCH, "%s belongs to a different parameter set", what);
    return HERS_OK;
}
