/*
 * params.c - BFV parameter sets: validation against the Homomorphic
 * Encryption Standard, named default sets, and precomputation of the NTT
 * tables and RNS constants (hers_bfv.h, bfv_precomp.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bfv/bfv_kernel.h"
#include "bfv/bfv_precomp.h"
#include "core/bitpack.h"
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
    int bits;      /* bit size of every prime */
    int q_mode;    /* hers_params_spec.q_one_mod_t */
} named_set;

static const named_set named_sets[] = {
    {"n2048", 2048, 12289, 1, 50, HERS_Q_EACH_ONE_MOD_T},
    {"n4096", 4096, 1032193, 2, 50, HERS_Q_EACH_ONE_MOD_T},
    {"n8192", 8192, 1032193, 3, 50, HERS_Q_EACH_ONE_MOD_T},
    {"n16384", 16384, 786433, 4, 50, HERS_Q_EACH_ONE_MOD_T},
    {"n32768", 32768, 786433, 6, 50, HERS_Q_EACH_ONE_MOD_T},
    /* narrow: primes < 2^30 (32-bit lanes); 2N*t > 2^30, so only the
     * product Q is = 1 (mod t). */
    {"s4096", 4096, 1032193, 3, 30, HERS_Q_PRODUCT_ONE_MOD_T},
};

static const char *const names_list[] = {"n2048", "n4096", "n8192", "n16384", "n32768", "s4096",
                                         "default", NULL};

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
            spec.prime_bits[j] = s->bits;
        spec.q_one_mod_t = s->q_mode;
        spec.security = HERS_SEC_128;
        hers_status st = hers_params_create(out, &spec);
        if (st == HERS_OK)
            snprintf((*out)->name, sizeof (*out)->name, "%s", s->name);
        return st;
    }
    return hers_error(HERS_ERR_ARG,
                      "unknown parameter set '%s' (known: n2048, n4096 = default, n8192, n16384, n32768, "
                      "s4096)",
                      name);
}

/* ------------------------------------------------------------ validation */

static int is_pow2(size_t x)
{
    return x && !(x & (x - 1));
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

/* ------------------------------------------------------------ product mode */

static int in_list(uint64_t x, const uint64_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (l[i] == x)
            return 1;
    return 0;
}

/* Largest prime x in [lo, hi] with x = r (mod m) (r < m), not in excl;
 * 0 if none. Public values. */
static uint64_t prime_in_class(uint64_t lo, uint64_t hi, uint64_t r, uint64_t m,
                               const uint64_t *excl, size_t ne)
{
    if (hi < lo || hi < r)
        return 0;
    uint64_t x = hi - (hi - r) % m;
    while (x >= lo) {
        if (x >= 3 && !in_list(x, excl, ne) && hers_is_prime(x))
            return x;
        if (x < m)
            break;
        x -= m;
    }
    return 0;
}

/* Product mode (HERS_Q_PRODUCT_ONE_MOD_T): chooses q[last] so that
 * Q = 1 (mod t): q[last] = 1 (mod 2N) and = (prod_{j != last} q_j)^-1
 * (mod t), combined by CRT into one class mod 2N*t (t odd), the largest such
 * prime in [2^(b-1), 2^b). When the class has no prime there (2N*t may
 * exceed 2^b: one candidate at most), the previous generated prime (if any)
 * steps down to the next prime = 1 (mod 2N) of its size and we retry. */
#define PRODUCT_MODE_TRIES 4096
static hers_status fix_last_prime(uint64_t *q, size_t k, const int *bits, const uint64_t *explicit_q,
                                  size_t last, size_t n, uint64_t t)
{
    uint64_t two_n = 2 * (uint64_t)n;
    uint64_t m = two_n * t;   /* <= 2^16 * 2^40 */
    size_t prev = k;          /* previous generated prime */
    for (size_t j = 0; j < last; j++)
        if (explicit_q[j] == 0)
            prev = j;
    int b = bits[last];
    uint64_t lo = UINT64_C(1) << (b - 1), hi = (UINT64_C(1) << b) - 1;
    uint64_t inv2n = hers_inv_mod_any(two_n % t, t);
    uint64_t excl[HERS_MAX_PRIMES + 1];
    for (int tries = 0; tries < PRODUCT_MODE_TRIES; tries++) {
        uint64_t prod = 1 % t;
        size_t ne = 0;
        for (size_t j = 0; j < k; j++)
            if (j != last) {
                prod = (uint64_t)((unsigned __int128)prod * (q[j] % t) % t);
                excl[ne++] = q[j];
            }
        excl[ne++] = t;
        uint64_t r = hers_inv_mod_any(prod, t);
        if (r == 0)   /* t >= 2: an inverse is never 0 */
            return hers_error(HERS_ERR_PARAMS,
                              "parameters: t = %llu shares a factor with the ciphertext primes: "
                              "Q = 1 (mod t) is impossible",
                              (unsigned long long)t);
        /* x = 1 + 2N*y with 2N*y = r - 1 (mod t) */
        uint64_t y = (uint64_t)((unsigned __int128)((r + t - 1 % t) % t) * inv2n % t);
        uint64_t x0 = 1 + two_n * y;
        uint64_t x = prime_in_class(lo, hi, x0 % m, m, excl, ne);
        if (x) {
            q[last] = x;
            return HERS_OK;
        }
        if (prev == k)
            break;
        /* step q[prev] down, keeping its size and avoiding the others */
        int pb = bits[prev];
        ne = 0;
        for (size_t j = 0; j < k; j++)
            if (j != last && j != prev)
                excl[ne++] = q[j];
        excl[ne++] = t;
        uint64_t nq = prime_in_class(UINT64_C(1) << (pb - 1), q[prev] - 1, 1, two_n, excl, ne);
        if (!nq)
            break;
        q[prev] = nq;
    }
    return hers_error(HERS_ERR_PARAMS,
                      "parameters: no %d-bit prime = 1 (mod 2N) makes Q = 1 (mod t = %llu) "
                      "(product mode; try other prime sizes or more primes)",
                      b, (unsigned long long)t);
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
        lv->bgv_fix = 1 % p->t;
        for (size_t j = L; j < k; j++)
            lv->bgv_fix = hers_mul_mod(lv->bgv_fix, qs[j] % p->t, &p->t_mod);
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
    int mode = spec->q_one_mod_t;
    if (mode != 0 && mode != HERS_Q_EACH_ONE_MOD_T && mode != HERS_Q_PRODUCT_ONE_MOD_T)
        return hers_error(HERS_ERR_PARAMS, "parameters: q_one_mod_t = %d (0, %d or %d allowed)", mode,
                          HERS_Q_EACH_ONE_MOD_T, HERS_Q_PRODUCT_ONE_MOD_T);
    uint64_t step = 2 * (uint64_t)n;
    if (mode == HERS_Q_EACH_ONE_MOD_T) {
        if (t > (UINT64_C(1) << 46) / step)
            return hers_error(HERS_ERR_PARAMS, "parameters: 2N*t too large for q = 1 (mod 2N*t)");
        step *= t;
        /* q = 1 mod 2N*t needs 2N | 2N*t: fine; if t is even, step is still even. */
    }
    if (mode == HERS_Q_PRODUCT_ONE_MOD_T && (t & 1) == 0)
        return hers_error(HERS_ERR_PARAMS,
                          "parameters: Q = 1 (mod t) by product needs t odd (gcd(2N, t) = 1), t = %llu",
                          (unsigned long long)t);

    /* Choose primes: explicit ones first (validated below), then generated
     * ones, each the largest prime of its size not yet used. In product
     * mode the last generated prime is chosen afterwards (fix_last_prime). */
    uint64_t q[HERS_MAX_PRIMES];
    size_t last_gen = k;   /* index of the last generated prime, k if none */
    for (size_t i = 0; i < k; i++) {
        q[i] = spec->primes[i];
        if (q[i] == 0)
            last_gen = i;
    }
    for (size_t i = 0; i < k; i++) {
        if (q[i] != 0)
            continue;
        if (mode == HERS_Q_PRODUCT_ONE_MOD_T && i == last_gen) {
            int lb = spec->prime_bits[i];
            if (lb < 20 || lb > 61)
                return hers_error(HERS_ERR_PARAMS, "parameters: prime %zu: %d bits (20..61 allowed)",
                                  i, lb);
            continue;
        }
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
    if (mode == HERS_Q_PRODUCT_ONE_MOD_T && last_gen < k) {
        hers_status st = fix_last_prime(q, k, spec->prime_bits, spec->primes, last_gen, n, t);
        if (st != HERS_OK)
            return st;
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
    if (mode == HERS_Q_PRODUCT_ONE_MOD_T && !p->q_one_mod_t) {
        /* only reachable with explicit primes (generated ones satisfy it) */
        hers_params_free(p);
        return hers_error(HERS_ERR_PARAMS,
                          "parameters: Q = %llu (mod t = %llu), product mode needs Q = 1 (mod t); "
                          "leave a prime to be generated or choose other primes",
                          (unsigned long long)qmt, (unsigned long long)t);
    }
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
        hers_le_put_u64(buf + len, n), len += 8;
        hers_le_put_u64(buf + len, t), len += 8;
        hers_le_put_u64(buf + len, k), len += 8;
        for (size_t i = 0; i < k; i++)
            hers_le_put_u64(buf + len, q[i]), len += 8;
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
const hers_modulus *hers_bfv_kernel_moduli(const hers_params *p) { return p->q; }
const uint64_t *hers_bfv_kernel_delta(const hers_params *p) { return p->delta; }

hers_status hers_bfv_check_id(const hers_params *p, const uint8_t id[HERS_PARAMS_ID_BYTES], const char *what)
{
    if (!hers_consttime_equal(p->id, id, HERS_PARAMS_ID_BYTES))
        return hers_error(HERS_ERR_MISMATCH, "%s belongs to a different parameter set", what);
    return HERS_OK;
}
