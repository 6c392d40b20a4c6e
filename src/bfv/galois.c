/*
 * galois.c - Galois automorphisms x -> x^g, Galois keys and key switching
 * with RNS x w-bit digits (layout in bfv_internal.h; analysis in
 * docs/design.md, "Galois automorphisms and key switching").
 *
 * NTT order (hers_ntt.h): index j holds a(psi^(2 brv(j) + 1)). tau_g(a) at
 * index j is a(psi^((2 brv(j) + 1) g)) = a at the index j' with
 * 2 brv(j') + 1 = (2 brv(j) + 1) g mod 2N: a permutation, the same for every
 * prime.
 */
#include <math.h>
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

static size_t brv(size_t x, int bits)
{
    size_t r = 0;
    for (int i = 0; i < bits; i++, x >>= 1)
        r = (r << 1) | (x & 1);
    return r;
}

static int valid_element(size_t n, uint32_t g)
{
    return (g & 1) && g >= 3 && g < 2 * n;
}

/* perm[j] = source index of output j in the NTT domain. */
static void galois_perm(size_t n, int log_n, uint32_t g, uint32_t *perm)
{
    size_t two_n = 2 * n;
    for (size_t j = 0; j < n; j++) {
        size_t e = ((2 * brv(j, log_n) + 1) * (size_t)g) % two_n;
        perm[j] = (uint32_t)brv((e - 1) / 2, log_n);
    }
}

/* Coefficient form: coefficient i goes to position i g mod 2N (negated
 * beyond N). */
static void galois_coeff(const uint64_t *in, uint64_t *out, size_t n, uint32_t g, uint64_t q)
{
    size_t mask = 2 * n - 1;
    for (size_t i = 0; i < n; i++) {
        size_t e = (i * (size_t)g) & mask;
        if (e < n)
            out[e] = in[i];
        else
            out[e - n] = in[i] ? q - in[i] : 0;
    }
}

static void galois_ntt(const uint64_t *in, uint64_t *out, size_t n, const uint32_t *perm)
{
    for (size_t j = 0; j < n; j++)
        out[j] = in[perm[j]];
}

unsigned hers_galois_default_bits(const hers_params *p)
{
    int maxb = 0;
    for (size_t i = 0; i < p->k; i++)
        if (p->q[i].bits > maxb)
            maxb = p->q[i].bits;
    return (unsigned)((maxb + 1) / 2);
}

static size_t digits_of_prime(const hers_params *p, size_t i, unsigned w)
{
    return ((size_t)p->q[i].bits + w - 1) / w;
}

size_t hers_galois_digits(const hers_params *p, unsigned w)
{
    size_t D = 0;
    for (size_t i = 0; i < p->k; i++)
        D += digits_of_prime(p, i, w);
    return D;
}

static hers_status check_bits(const hers_params *p, unsigned *w)
{
    if (*w == 0)
        *w = hers_galois_default_bits(p);
    if (*w < 8 || *w > 32)
        return hers_error(HERS_ERR_ARG, "galois: digit_bits %u (8..32)", *w);
    for (size_t i = 0; i < p->k; i++)
        if (digits_of_prime(p, i, *w) > 16)
            return hers_error(HERS_ERR_ARG, "galois: digit_bits %u gives more than 16 digits of q_%zu",
                              *w, i);
    return HERS_OK;
}

void hers_galois_key_free(hers_galois_key *gk)
{
    if (!gk)
        return;
    hers_free(gk->data);
    hers_free(gk->perm);
    hers_free(gk);
}

void hers_galois_key_finish(const hers_params *p, hers_galois_key *gk)
{
    for (size_t e = 0; e < gk->count; e++)
        galois_perm(p->n, p->log_n, gk->elements[e], gk->perm + e * p->n);
}

size_t hers_galois_key_count(const hers_galois_key *gk) { return gk ? gk->count : 0; }
uint32_t hers_galois_key_element(const hers_galois_key *gk, size_t i)
{
    return gk && i < gk->count ? gk->elements[i] : 0;
}
unsigned hers_galois_key_digit_bits(const hers_galois_key *gk) { return gk ? gk->digit_bits : 0; }

static long key_index(const hers_galois_key *gk, uint32_t g)
{
    for (size_t e = 0; e < gk->count; e++)
        if (gk->elements[e] == g)
            return (long)e;
    return -1;
}

int hers_galois_key_has(const hers_galois_key *gk, uint32_t g)
{
    return gk && key_index(gk, g) >= 0;
}

hers_status hers_galois_key_alloc(const hers_params *p, size_t count, unsigned w,
                                  hers_galois_key **out)
{
    *out = NULL;
    hers_status st = check_bits(p, &w);
    if (st != HERS_OK)
        return st;
    if (count < 1 || count > HERS_GALOIS_MAX_ELEMENTS)
        return hers_error(HERS_ERR_ARG, "galois: %zu elements (1..%d)", count, HERS_GALOIS_MAX_ELEMENTS);
    hers_galois_key *gk = hers_alloc(sizeof *gk);
    if (!gk)
        return hers_error(HERS_ERR_NOMEM, "galois key: out of memory");
    memset(gk, 0, sizeof *gk);
    memcpy(gk->params_id, p->id, HERS_PARAMS_ID_BYTES);
    gk->n = p->n;
    gk->num_primes = p->k;
    gk->digit_bits = w;
    gk->digits = hers_galois_digits(p, w);
    gk->count = count;
    gk->data = hers_alloc_array(count * gk->digits * 2 * p->k * p->n, sizeof(uint64_t));
    gk->perm = hers_alloc_array(count * p->n, sizeof(uint32_t));
    if (!gk->data || !gk->perm) {
        hers_free(gk->data);
        hers_free(gk->perm);
        hers_free(gk);
        return hers_error(HERS_ERR_NOMEM, "galois key: out of memory");
    }
    *out = gk;
    return HERS_OK;
}

hers_status hers_keygen_galois_seeded(const hers_params *p, const hers_secret_key *sk,
                                      const uint32_t *elements, size_t count, unsigned digit_bits,
                                      const uint8_t seed[HERS_SEED_BYTES], hers_galois_key **out)
{
    if (!p || !sk || !elements || !seed || !out)
        return hers_error(HERS_ERR_ARG, "galois keygen: NULL argument");
    *out = NULL;
    hers_status st = hers_bfv_check_id(p, sk->params_id, "galois keygen: secret key");
    if (st != HERS_OK)
        return st;
    for (size_t e = 0; e < count && e < HERS_GALOIS_MAX_ELEMENTS; e++) {
        if (!valid_element(p->n, elements[e]))
            return hers_error(HERS_ERR_ARG, "galois keygen: element %u is not odd in [3, %zu)",
                              elements[e], 2 * p->n);
        for (size_t f = 0; f < e; f++)
            if (elements[f] == elements[e])
                return hers_error(HERS_ERR_ARG, "galois keygen: element %u given twice", elements[e]);
    }
    hers_galois_key *gk;
    if ((st = hers_galois_key_alloc(p, count, digit_bits, &gk)) != HERS_OK)
        return st;
    size_t k = p->k, n = p->n, kn = k * n, D = gk->digits;
    unsigned w = gk->digit_bits;
    uint64_t *ts = hers_alloc_array(kn, sizeof(uint64_t));
    uint64_t *tmp = hers_alloc_array(kn, sizeof(uint64_t));
    uint32_t *perm = hers_alloc_array(n, sizeof(uint32_t));
    int8_t *e8 = hers_alloc(n);
    if (!ts || !tmp || !perm || !e8) {
        st = hers_error(HERS_ERR_NOMEM, "galois keygen: out of memory");
        goto done;
    }
    hers_prg g;
    hers_prg_init(&g, seed, HERS_STREAM_GK_SEED);
    hers_prg_bytes(&g, gk->seed, HERS_SEED_BYTES);
    gk->has_seed = 1;
    hers_prg_init(&g, seed, HERS_STREAM_GK_E);
    for (size_t e = 0; e < count; e++) {
        uint32_t ge = elements[e];
        gk->elements[e] = ge;
        galois_perm(n, p->log_n, ge, perm);
        for (size_t i = 0; i < k; i++)
            galois_ntt(sk->s_ntt + i * n, ts + i * n, n, perm);
        size_t t = 0;
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; j < digits_of_prime(p, i, w); j++, t++) {
                uint64_t *b = gk->data + ((e * D + t) * 2) * kn;
                uint64_t *a = b + kn;
                hers_bfv_expand_uniform(p, gk->seed, HERS_STREAM_GK_A + ((uint64_t)ge << 8) + t, k, a);
                /* b = -(a s) + e */
                hers_sample_cbd(&g, e8, n);
                hers_rns_from_small(p, e8, k, tmp);
                hers_rns_ntt(p, tmp, k);
                hers_rns_mul(p, b, a, sk->s_ntt, k);
                hers_rns_sub(p, b, tmp, b, k);
                /* + 2^(wj) tau(s) in prime i's block */
                uint64_t f = hers_pow_mod(2, (uint64_t)w * j, &p->q[i]);
                hers_poly_mul_scalar(tmp, ts + i * n, f, n, &p->q[i]);
                hers_poly_add(b + i * n, b + i * n, tmp, n, &p->q[i]);
            }
        }
    }
    hers_prg_wipe(&g);
    hers_galois_key_finish(p, gk);
done:
    hers_free_secret(ts, kn * sizeof(uint64_t));
    hers_free_secret(tmp, kn * sizeof(uint64_t));
    hers_free(perm);
    hers_free_secret(e8, n);
    if (st != HERS_OK) {
        hers_galois_key_free(gk);
        return st;
    }
    *out = gk;
    return HERS_OK;
}

hers_status hers_keygen_galois(const hers_params *p, const hers_secret_key *sk,
                               const uint32_t *elements, size_t count, unsigned digit_bits,
                               hers_galois_key **out)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st == HERS_OK)
        st = hers_keygen_galois_seeded(p, sk, elements, count, digit_bits, seed, out);
    hers_wipe(seed, sizeof seed);
    return st;
}

hers_status hers_plaintext_galois(const hers_params *p, uint32_t g, const hers_plaintext *in,
                                  hers_plaintext *out)
{
    if (!p || !in || !out || !in->coeffs || in->n != p->n)
        return hers_error(HERS_ERR_ARG, "plaintext galois: bad argument");
    if (!valid_element(p->n, g))
        return hers_error(HERS_ERR_ARG, "plaintext galois: element %u is not odd in [3, %zu)", g,
                          2 * p->n);
    uint64_t *tmp = hers_alloc_array(p->n, sizeof(uint64_t));
    if (!tmp)
        return hers_error(HERS_ERR_NOMEM, "plaintext galois: out of memory");
    galois_coeff(in->coeffs, tmp, p->n, g, p->t);
    hers_status st = hers_pt_prepare(p, out, "plaintext galois");
    if (st == HERS_OK)
        memcpy(out->coeffs, tmp, p->n * sizeof(uint64_t));
    hers_free(tmp);
    return st;
}

/* Balanced digits. A residue x of prime i (coefficient form, [0, q_i)) is
 * centred, x_c in [-(q_i-1)/2, (q_i-1)/2], and written
 * x_c = sum_{j<m} d_j 2^(wj) with d_j in [-2^(w-1), 2^(w-1)) below the top
 * digit and |d_top| <= 2^(bits(q_i)-1-w(m-1)) + 1/2: with
 * H = 2^(w-1) sum_j 2^(wj) (>= 2^(wm-1) > (q_i-1)/2, so y >= 0),
 * y = x_c + H has the plain base-2^w digits u_j = d_j + 2^(w-1) (the top
 * one unmasked), and d_j = u_j - 2^(w-1). Key switching takes the d_j mod
 * q_r straight from y (hers_poly_digit, one pass); the noise sum d_j e_j
 * has E[d^2] ~ 2^(2w)/12 instead of 2^(2w)/3 for unsigned digits (half the
 * standard deviation). y replaces x in place (branch-free, vectorised). */
static uint64_t balance_shift(const hers_params *p, size_t i, unsigned w)
{
    uint64_t H = 0;
    for (size_t j = 0; j < digits_of_prime(p, i, w); j++)
        H += (uint64_t)1 << (w * j + w - 1);
    return H;
}

/* Digit j of y (prime i's balanced form, coefficient form) as the signed
 * d = u - 2^(w-1) mod q (one prime); the top digit is not masked
 * (mask = ~0). lim: the largest u; with u + q - 2^(w-1) < 2q (lim < q) the
 * vector kernel's one conditional subtraction reduces it. */
static void extract_digit(size_t n, const uint64_t *y, unsigned sh, uint64_t mask, uint64_t lim,
                          unsigned w, uint64_t q, uint64_t *o)
{
    uint64_t half = ((uint64_t)1 << (w - 1)) % q, c = half ? q - half : 0;
    if (lim < q) {
        hers_poly_digit(o, y, sh, mask, c, q, n);
    } else {
        for (size_t k = 0; k < n; k++) {
            uint64_t u = ((y[k] >> sh) & mask) % q;
            o[k] = u >= q - c ? u - (q - c) : u + c;
        }
    }
}

/* Key switching of tau_g(c) from tau_g(s) to s, in three steps.
 * key_balance: tc = tau(c1) in coefficient form (all primes) becomes its
 * balanced form y (balance_shift()). key_digits, one prime r at a time:
 * the D digits d_t mod q_r in NTT form into dg (D polynomials at stride
 * ds, so the working set beside the key stays small), from y and xr =
 * prime r's block of tau(c1) in NTT form (overwritten). The NTT of the last
 * digit of prime r needs no transform: sum_j 2^(wj) d_j = x_c = x (mod q_r), so
 * NTT(d_last) = (NTT(x) - sum_{j<last} 2^(wj) NTT(d_j)) 2^(-w last)
 * (exact; n4096: 6 forward NTTs per switch instead of 8). Then each output
 * coefficient of prime r is one sum of D products reduced once
 * (hers_poly_dot2; in the expansion fused with the split,
 * hers_poly_switch_split): tau(c0) + sum_t d_t b_t and sum_t d_t a_t. */
static void key_balance(const hers_params *p, const hers_galois_key *gk, uint64_t *tc)
{
    for (size_t i = 0; i < p->k; i++)
        hers_poly_balance(tc + i * p->n, p->n, p->q[i].value, balance_shift(p, i, gk->digit_bits));
}

static void key_digits(const hers_params *p, const hers_galois_key *gk, size_t r, const uint64_t *tc,
                       uint64_t *xr, uint64_t *dg, size_t ds)
{
    size_t k = p->k, n = p->n, t = 0;
    unsigned w = gk->digit_bits;
    const hers_modulus *qr = &p->q[r];
    for (size_t i = 0; i < k; i++) {
        size_t m = digits_of_prime(p, i, w), first = t;
        uint64_t H = 0;
        for (size_t j = 0; j < m; j++, t++) {
            H += (uint64_t)1 << (w * j + w - 1);
            if (i == r && j + 1 == m)
                break;
            uint64_t mask = j + 1 < m ? ((uint64_t)1 << w) - 1 : ~(uint64_t)0;
            uint64_t lim = j + 1 < m ? mask : ((p->q[i].value / 2 + H) >> (w * j));
            extract_digit(n, tc + i * n, w * (unsigned)j, mask, lim, w, qr->value, dg + t * ds);
            hers_ntt_forward(p->ntt[r], dg + t * ds);
        }
        if (i != r)
            continue;
        /* the last digit mod q_r from NTT(x) */
        uint64_t *last = dg + (first + m - 1) * ds;
        if (m == 1) {
            memcpy(last, xr, n * sizeof(uint64_t));
        } else {
            hers_poly_sub(last, xr, dg + first * ds, n, qr);
            for (size_t j = 1; j + 1 < m; j++) {
                hers_poly_mul_scalar(xr, dg + (first + j) * ds,
                                     hers_pow_mod(2, (uint64_t)w * j, qr), n, qr);
                hers_poly_sub(last, last, xr, n, qr);
            }
            hers_poly_mul_scalar(last, last,
                                 hers_inv_mod(hers_pow_mod(2, (uint64_t)w * (m - 1), qr), qr), n, qr);
        }
        t = first + m;
    }
}

/* In: t0 = tau(c0) (NTT form), tc, x as above (overwritten). Out:
 * t0 <- t0 + sum_t d_t b_t, t1 = sum_t d_t a_t (NTT form). */
static void key_switch(const hers_params *p, const hers_galois_key *gk, size_t e, uint64_t *t0,
                       uint64_t *tc, uint64_t *x, uint64_t *t1, uint64_t *dg)
{
    size_t k = p->k, n = p->n, kn = k * n, D = gk->digits;
    const uint64_t *key = gk->data + e * D * 2 * kn;
    key_balance(p, gk, tc);
    for (size_t r = 0; r < k; r++) {
        key_digits(p, gk, r, tc, x + r * n, dg, n);
        hers_poly_dot2(t0 + r * n, t0 + r * n, t1 + r * n, NULL, dg, n, key + r * n,
                       key + kn + r * n, 2 * kn, D, n, &p->q[r]);
    }
}

hers_status hers_apply_galois(const hers_params *p, const hers_galois_key *gk, uint32_t g,
                              const hers_ciphertext *in, hers_ciphertext *out)
{
    if (!p || !gk || !in || !out || !in->data)
        return hers_error(HERS_ERR_ARG, "galois: NULL argument");
    hers_status st = hers_bfv_check_id(p, gk->params_id, "galois: key");
    if (st == HERS_OK)
        st = hers_ct_check(p, in, "galois");
    if (st != HERS_OK)
        return st;
    if (in->parts != 2 || in->num_primes != p->k || in->form != HERS_FORM_BFV)
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "galois: needs a 2-part BFV-form ciphertext over all %zu primes", p->k);
    long e = key_index(gk, g);
    if (e < 0)
        return hers_error(HERS_ERR_ARG, "galois: no key for element %u", g);
    size_t k = p->k, n = p->n, kn = k * n;
    uint64_t *scr = hers_bfv_scratch(4 * kn + gk->digits * n);
    if (!scr)
        return hers_error(HERS_ERR_NOMEM, "galois: out of memory");
    /* tau(c0), key-switched c1, tau(c1) in NTT and coefficient form, then
     * key_switch's D N */
    uint64_t *t0 = scr, *t1 = scr + kn, *x = scr + 2 * kn, *tc = scr + 3 * kn;
    uint64_t *dg = scr + 4 * kn;
    const uint32_t *perm = gk->perm + (size_t)e * n;
    int ntt = in->ntt_form;
    if (ntt) {
        for (size_t i = 0; i < k; i++) {
            galois_ntt(hers_ct_poly(in, 0, i), t0 + i * n, n, perm);
            galois_ntt(hers_ct_poly(in, 1, i), x + i * n, n, perm);
        }
        memcpy(tc, x, kn * sizeof(uint64_t));
        hers_rns_intt(p, tc, k);
    } else {
        for (size_t i = 0; i < k; i++) {
            galois_coeff(hers_ct_poly(in, 0, i), t0 + i * n, n, g, p->q[i].value);
            galois_coeff(hers_ct_poly(in, 1, i), tc + i * n, n, g, p->q[i].value);
        }
        hers_rns_ntt(p, t0, k);
        memcpy(x, tc, kn * sizeof(uint64_t));
        hers_rns_ntt(p, x, k);
    }
    key_switch(p, gk, (size_t)e, t0, tc, x, t1, dg);
    if (!ntt) {
        hers_rns_intt(p, t0, k);
        hers_rns_intt(p, t1, k);
    }
    if ((st = hers_ct_reserve(p, out, 2, k, 0)) != HERS_OK)
        return st;
    memcpy(hers_ct_poly(out, 0, 0), t0, kn * sizeof(uint64_t));
    memcpy(hers_ct_poly(out, 1, 0), t1, kn * sizeof(uint64_t));
    out->ntt_form = ntt;
    out->form = HERS_FORM_BFV;
    out->has_seed = 0;
    memset(out->seed, 0, sizeof out->seed);
    return HERS_OK;
}

hers_status hers_galois_noise(const hers_params *p, unsigned digit_bits, double *worst, double *sd)
{
    if (!p || !worst || !sd)
        return hers_error(HERS_ERR_ARG, "galois noise: NULL argument");
    unsigned w = digit_bits;
    hers_status st = check_bits(p, &w);
    if (st != HERS_OK)
        return st;
    double wsum = 0, var = 0, n = (double)p->n;
    for (size_t i = 0; i < p->k; i++) {
        int bits = p->q[i].bits;
        size_t m = digits_of_prime(p, i, w);
        for (size_t j = 0; j < m; j++) {
            /* balanced digits (balance()): |d| <= M */
            double M = j + 1 < m ? ldexp(1.0, (int)w - 1)
                                 : ldexp(1.0, bits - 1 - (int)(w * (m - 1))) + 0.5;
            wsum += n * M * 21.0;
            var += n * (M * M / 3.0) * 10.5; /* E[d^2], d ~ uniform in [-M, M] */
        }
    }
    *worst = wsum;
    *sd = sqrt(var);
    return HERS_OK;
}

/* ------------------------------------------------------------ expansion */

size_t hers_expand_levels(size_t d)
{
    size_t L = 0;
    while (((size_t)1 << L) < d)
        L++;
    return L;
}

uint32_t hers_expand_element(size_t n, size_t level)
{
    return (uint32_t)((n >> level) + 1);
}

hers_status hers_expand_elements(size_t n, size_t d, uint32_t *elements, size_t *count)
{
    if (!elements || !count || d < 1 || d > n)
        return hers_error(HERS_ERR_ARG, "expand elements: d = %zu (1..%zu)", d, n);
    size_t L = hers_expand_levels(d);
    for (size_t j = 0; j < L; j++)
        elements[j] = hers_expand_element(n, j);
    *count = L;
    return HERS_OK;
}

/* Leaf i's ancestor at level j is node r = i mod 2^j; it is split (one key
 * switch, the left child doubled) iff its right child r + 2^j exists. */
unsigned hers_expand_doublings(size_t d, size_t i)
{
    unsigned c = 0;
    size_t L = hers_expand_levels(d);
    for (size_t j = 0; j < L; j++) {
        size_t h = (size_t)1 << j;
        if ((i & (h - 1)) + h < d)
            c++;
    }
    return c;
}

/* out[perm[j]] = in[j]: the same automorphism as galois_ntt with the
 * inverse permutation; reading `in` in order is what the expansion wants
 * (its ciphertexts are cold, the destination is hot scratch). */
static void galois_ntt_scatter(const uint64_t *in, uint64_t *out, size_t n, const uint32_t *iperm)
{
    for (size_t j = 0; j < n; j++)
        out[iperm[j]] = in[j];
}

/* The automorphism by 8-word blocks (hers_poly_permute8). Every element of
 * the expansion, g = N/2^j + 1, maps each aligned block of 8 NTT-order
 * indices onto one block: index i holds exponent e = 2 brv(i) + 1 and
 * e g = e + (N/2^j)(e mod 2^(j+1)) (mod 2N) changes only the bits of
 * brv(i) above log2 N - j - 1 by an amount fixed by the low ones, i.e. the
 * low bits of i by an amount fixed by the high ones; within a block the
 * lanes move by one of at most 8 patterns (n4096: 1 to 8 per level). The
 * plan is derived from iperm and checked, not assumed: when a block spreads
 * over two or more patterns appear than PERM8_PATS, the scalar scatter
 * runs instead. */
#define PERM8_PATS 16
struct perm8_plan {
    int ok;
    uint32_t *dst;   /* n/8: destination block of input block v */
    uint8_t *sel;    /* n/8: its lane pattern */
    int64_t pats[PERM8_PATS * 8];
};

static void perm8_plan_make(size_t n, const uint32_t *iperm, struct perm8_plan *pl)
{
    size_t np = 0;
    pl->ok = 0;
    for (size_t v = 0; v < n / 8; v++) {
        uint32_t o = iperm[8 * v] >> 3;
        int64_t idx[8];
        unsigned seen = 0;
        for (size_t l = 0; l < 8; l++) {
            uint32_t to = iperm[8 * v + l];
            if (to >> 3 != o)
                return;
            idx[to & 7] = (int64_t)l;
            seen |= 1u << (to & 7);
        }
        if (seen != 0xff)
            return;
        size_t pi = 0;
        while (pi < np && memcmp(pl->pats + 8 * pi, idx, sizeof idx) != 0)
            pi++;
        if (pi == np) {
            if (np == PERM8_PATS)
                return;
            memcpy(pl->pats + 8 * np++, idx, sizeof idx);
        }
        pl->dst[v] = o;
        pl->sel[v] = (uint8_t)pi;
    }
    pl->ok = 1;
}

/* out = tau(in), NTT form, by the plan when it holds. */
static void expand_tau(const uint64_t *in, uint64_t *out, size_t n, const uint32_t *iperm,
                       const struct perm8_plan *pl)
{
    if (pl->ok)
        hers_poly_permute8(out, in, pl->dst, pl->sel, pl->pats, n / 8);
    else
        galois_ntt_scatter(in, out, n, iperm);
}

/* Nodes per group of the expansion's schedule (hers_expand). */
#ifndef EXPAND_GROUP
#define EXPAND_GROUP 4
#endif

/* mono = NTT of x^-h = -x^(N-h) (each prime's block). Index j holds
 * psi^(-h (2 brv(j) + 1)), which depends on brv(j) mod N/h only, i.e. on
 * j >> log2(h): with h >= 8 each run of h equal values is stored once
 * (prime i's N/h values at mono + i N/h) and the return value is log2(h);
 * otherwise the full table and 0. The runs are checked, not assumed. */
static unsigned expand_mono(const hers_params *p, size_t h, uint64_t *mono)
{
    size_t k = p->k, n = p->n;
    memset(mono, 0, k * n * sizeof(uint64_t));
    for (size_t i = 0; i < k; i++)
        mono[i * n + (n - h)] = p->q[i].value - 1;
    hers_rns_ntt(p, mono, k);
    unsigned sh = 0;
    while (((size_t)1 << sh) < h)
        sh++;
    if (sh < 3)
        return 0;
    for (size_t c = 0; c < k * n; c++)
        if (mono[c] != mono[c & ~(h - 1)])
            return 0;
    for (size_t c = 0; c < k * n; c += h)
        mono[c >> sh] = mono[c];
    return sh;
}

hers_status hers_expand(const hers_params *p, const hers_galois_key *gk, const hers_ciphertext *in,
                        size_t d, hers_ciphertext *out)
{
    if (!p || !gk || !in || !out)
        return hers_error(HERS_ERR_ARG, "expand: NULL argument");
    if (d < 1 || d > p->n)
        return hers_error(HERS_ERR_ARG, "expand: d = %zu (1..%zu)", d, p->n);
    if (in->parts != 2 || in->num_primes != p->k || !in->ntt_form || in->form != HERS_FORM_BFV)
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "expand: needs a 2-part BFV ciphertext over all primes in NTT form");
    size_t L = hers_expand_levels(d), k = p->k, n = p->n, kn = k * n;
    for (size_t j = 0; j < L; j++)
        if (!hers_galois_key_has(gk, hers_expand_element(n, j)))
            return hers_error(HERS_ERR_ARG, "expand: no Galois key for element %u (level %zu of d = %zu)",
                              hers_expand_element(n, j), j, d);
    hers_status st = hers_ciphertext_copy(in, &out[0]);
    if (st != HERS_OK)
        return st;
    out[0].has_seed = 0;
    memset(out[0].seed, 0, sizeof out[0].seed);
    if (L == 0)
        return HERS_OK;
    /* scratch: tau(c0) of one prime, tau(c1) of a group's nodes in NTT
     * form and balanced in coefficient form, x^-h, key_digits' D digits,
     * the inverse permutation. hers_poly_switch_split reads 2 D + 3
     * streams besides its outputs; the key's and the ciphertexts' sit at
     * multiples of 4 KiB from each other (one L1 set each), so tau(c0) and
     * the digits are placed off that grid (digit t at t x 64 bytes past
     * it): with every stream in one 12-way set the kernel ran ~1.7x slower. */
    size_t D = gk->digits, ds = n + 8;
    uint64_t *scr = hers_bfv_scratch(24 + (n + 16) + 2 * EXPAND_GROUP * kn + kn + 40 + D * ds +
                                     (n + 1) / 2 + n / 16 + n / 64 + 2);
    if (!scr)
        return hers_error(HERS_ERR_NOMEM, "expand: out of memory");
    uint64_t *t0 = scr + 24, *xg = t0 + n + 8, *tcg = xg + EXPAND_GROUP * kn + 8;
    uint64_t *mono = tcg + EXPAND_GROUP * kn, *dg = mono + kn + 40;
    uint32_t *iperm = (uint32_t *)(dg + D * ds);
    struct perm8_plan pl;
    pl.dst = (uint32_t *)(dg + D * ds + (n + 1) / 2);
    pl.sel = (uint8_t *)(pl.dst + n / 8 + 1);
    for (size_t j = 0; j < L && st == HERS_OK; j++) {
        size_t h = (size_t)1 << j, nodes = h < d - h ? h : d - h;
        unsigned msh = expand_mono(p, h, mono);
        uint32_t g = hers_expand_element(n, j);
        size_t e = (size_t)key_index(gk, g);
        const uint32_t *perm = gk->perm + e * n;
        const uint64_t *key = gk->data + e * D * 2 * kn;
        for (size_t i = 0; i < n; i++)
            iperm[perm[i]] = (uint32_t)i;
        perm8_plan_make(n, iperm, &pl);
        /* node r splits: left c + tau(c) (stays at r), right
         * (c - tau(c)) x^-h (at r + h); tau(c) key-switched back to s.
         * Nodes go in groups: first each node's balanced tau(c1) (all
         * primes: every prime's digits need it), then one prime at a time
         * for every node of the group, so that prime's part of the key
         * (D x 2 x N words, 256 KiB at n4096) stays in L2 across the
         * group instead of streaming in once per node. Each switched prime
         * is split at once (hers_poly_switch_split: the switched tau(c)
         * never leaves the registers). */
        for (size_t r0 = 0; r0 < nodes && st == HERS_OK; r0 += EXPAND_GROUP) {
            size_t gn = nodes - r0 < EXPAND_GROUP ? nodes - r0 : EXPAND_GROUP;
            for (size_t u = 0; u < gn && st == HERS_OK; u++) {
                hers_ciphertext *c = &out[r0 + u];
                uint64_t *tc = tcg + u * kn;
                if ((st = hers_ct_reserve(p, &out[r0 + u + h], 2, k, 0)) != HERS_OK)
                    break;
                for (size_t i = 0; i < k; i++)
                    expand_tau(hers_ct_poly(c, 1, i), xg + u * kn + i * n, n, iperm, &pl);
                for (size_t i = 0; i < k; i++)   /* the copy fused into the transform */
                    hers_ntt_inverse_to(p->ntt[i], xg + u * kn + i * n, tc + i * n);
                key_balance(p, gk, tc);
            }
            for (size_t ii = 0; ii < k && st == HERS_OK; ii++) {
                /* primes in alternating order: the group ends with the
                 * key part the next one starts with */
                size_t i = (r0 / EXPAND_GROUP) & 1 ? k - 1 - ii : ii;
                for (size_t u = 0; u < gn; u++) {
                    hers_ciphertext *c = &out[r0 + u], *right = &out[r0 + u + h];
                    expand_tau(hers_ct_poly(c, 0, i), t0, n, iperm, &pl);
                    key_digits(p, gk, i, tcg + u * kn, xg + u * kn + i * n, dg, ds);
                    hers_poly_switch_split(hers_ct_poly(c, 0, i), hers_ct_poly(c, 1, i),
                                           hers_ct_poly(right, 0, i), hers_ct_poly(right, 1, i),
                                           t0, dg, ds, key + i * n, key + kn + i * n, 2 * kn, D,
                                           mono + (i * n >> msh), msh, n, &p->q[i]);
                }
            }
            for (size_t u = 0; u < gn; u++) {
                hers_ciphertext *right = &out[r0 + u + h];
                right->ntt_form = 1;
                right->form = HERS_FORM_BFV;
                right->has_seed = 0;
                memset(right->seed, 0, sizeof right->seed);
            }
        }
    }
    return st;
}

hers_status hers_expand_noise(const hers_params *p, unsigned digit_bits, size_t d, double in_worst,
                              double in_sd, double *worst, double *sd)
{
    if (!worst || !sd)
        return hers_error(HERS_ERR_ARG, "expand noise: NULL argument");
    double kw, ks;
    hers_status st = hers_galois_noise(p, digit_bits, &kw, &ks);
    if (st != HERS_OK)
        return st;
    /* One split: e' = e +- tau(e) + ks (the shift by x^-h keeps norms).
     * Worst case: |e'| <= 2|e| + kw. Mean square: tau permutes the
     * coefficients (with signs); e and tau(e) coincide on the 1/2^(j+1)
     * fixed points of x -> x g_j (where tau(e) = +-e), so
     * E|e'|^2 <= 2 (1 + 2^-(j+1)) E|e|^2 + ks^2. */
    double w = in_worst, v = in_sd * in_sd;
    for (size_t j = 0; j < hers_expand_levels(d); j++) {
        w = 2 * w + kw;
        v = 2 * (1 + ldexp(1.0, -(int)(j + 1))) * v + ks * ks;
    }
    *worst = w;
    *sd = sqrt(v);
    return HERS_OK;
}

/* ------------------------------------------------------------ compressed c0 */

unsigned hers_c0_bits(const hers_params *p)
{
    unsigned tb = 0;
    for (uint64_t t = p->t; t; t >>= 1)
        tb++;
    unsigned b = 2 * tb + 28, qb = (unsigned)ceil(p->log_q);
    if (b > qb)
        b = qb;
    return b > 95 ? 95 : b;
}

/* (Q_L/q_i)^-1 mod q_i over the first L primes. */
static uint64_t crt_inv(const hers_params *p, size_t L, size_t i)
{
    uint64_t m = 1;
    for (size_t r = 0; r < L; r++)
        if (r != i)
            m = hers_mul_mod(m, p->q[r].value % p->q[i].value, &p->q[i]);
    return hers_inv_mod(m, &p->q[i]);
}

typedef unsigned __int128 u128;

static u128 mask_bits(unsigned K)
{
    return K >= 128 ? ~(u128)0 : (((u128)1 << K) - 1);
}

hers_status hers_poly_round_bits(const hers_params *p, size_t L, const uint64_t *x, unsigned K,
                                 uint64_t *y)
{
    if (!p || !x || !y || L < 1 || L > p->k || K < 1 || K > 95)
        return hers_error(HERS_ERR_ARG, "round bits: bad argument");
    size_t n = p->n;
    if (L == 1 && K <= 52 && p->q[0].value < ((uint64_t)1 << 63) && (p->q[0].value & 1)) {
        /* one prime: exact, ~10x the general path's speed (a server
         * rounds every result coefficient this way) */
        hers_poly_round_bits_q(y, x, n, p->q[0].value, K, K);
        return HERS_OK;
    }
    /* x / Q_L = frac(sum_i z_i / q_i), z_i = [x_i (Q_L/q_i)^-1]_{q_i}, so
     * 2^K x / Q_L = sum_i z_i (I_i + r_i / q_i) (mod 2^K) with
     * 2^K = I_i q_i + r_i. z_i I_i is needed mod 2^K only (wrapping u128
     * product); z_i r_i < 2^124 is divided exactly; the fractions are summed
     * in double: an error of one unit in y only adds Q_L/2^K to the bounded
     * rounding error (docs/design.md). */
    uint64_t inv[HERS_MAX_PRIMES], rem[HERS_MAX_PRIMES];
    u128 quo[HERS_MAX_PRIMES];
    for (size_t i = 0; i < L; i++) {
        uint64_t q = p->q[i].value;
        inv[i] = crt_inv(p, L, i);
        u128 two_k = (u128)1 << K;
        quo[i] = two_k / q;
        rem[i] = (uint64_t)(two_k % q);
    }
    u128 km = mask_bits(K);
    for (size_t c = 0; c < n; c++) {
        u128 ip = 0;
        double fr = 0;
        for (size_t i = 0; i < L; i++) {
            uint64_t q = p->q[i].value;
            uint64_t z = hers_mul_mod(x[i * n + c], inv[i], &p->q[i]);
            u128 zr = (u128)z * rem[i];
            ip += (u128)z * quo[i] + zr / q;
            fr += (double)(uint64_t)(zr % q) / (double)q;
        }
        u128 v = (ip + (u128)(uint64_t)llround(fr)) & km;
        y[c] = (uint64_t)v & 0xffffffffu;
        y[n + c] = (uint64_t)(v >> 32);
    }
    return HERS_OK;
}

/* (a * b) >> s rounded to nearest, a, b < 2^96, s in [1, 127]: a 256-bit
 * product from 64-bit halves. */
static u128 mul_shift_round(u128 a, u128 b, unsigned s)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10 = (u128)a1 * b0, p11 = (u128)a1 * b1;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    uint64_t w0 = (uint64_t)p00, w1 = (uint64_t)mid;
    u128 hi = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + p11;
    u128 lo = ((u128)w1 << 64) | w0;
    u128 lo2 = lo + ((u128)1 << (s - 1));
    if (lo2 < lo)
        hi++;
    return (lo2 >> s) | (hi << (128 - s));
}

hers_status hers_poly_unround_bits(const hers_params *p, size_t L, unsigned K, const uint64_t *y,
                                   uint64_t *x)
{
    if (!p || !x || !y || L < 1 || L > p->k || K < 1 || K > 95)
        return hers_error(HERS_ERR_ARG, "unround bits: bad argument");
    size_t n = p->n;
    uint64_t lo_lim = K < 32 ? ((uint64_t)1 << K) : ((uint64_t)1 << 32);
    for (size_t i = 0; i < n; i++)
        if (y[i] >= lo_lim || (K <= 32 ? y[n + i] != 0 : (y[n + i] >> (K - 32)) != 0))
            return hers_error(HERS_ERR_FORMAT, "unround bits: value above 2^%u", K);
    /* Q_L as little-endian 64-bit limbs; Q_L = A 2^K + B */
    uint64_t limb[HERS_MAX_PRIMES + 2] = {0};
    size_t nl = 1;
    limb[0] = 1;
    for (size_t i = 0; i < L; i++) {
        u128 carry = 0;
        for (size_t l = 0; l < nl; l++) {
            u128 v = (u128)limb[l] * p->q[i].value + carry;
            limb[l] = (uint64_t)v;
            carry = v >> 64;
        }
        if (carry)
            limb[nl++] = (uint64_t)carry;
    }
    u128 B = (((u128)limb[1] << 64) | limb[0]) & mask_bits(K);
    uint64_t shifted[HERS_MAX_PRIMES + 2] = {0};
    unsigned ws = K / 64, bs = K % 64;
    for (size_t l = 0; l + ws < nl; l++) {
        uint64_t v = limb[l + ws] >> bs;
        if (bs && l + ws + 1 < nl)
            v |= limb[l + ws + 1] << (64 - bs);
        shifted[l] = v;
    }
    for (size_t r = 0; r < L; r++) {
        const hers_modulus *m = &p->q[r];
        uint64_t A = 0;
        for (size_t l = nl; l-- > 0;)
            A = hers_reduce128(A, shifted[l], m);
        uint64_t *o = x + r * n;
        for (size_t c = 0; c < n; c++) {
            u128 v = ((u128)y[n + c] << 32) | y[c];
            u128 lo = mul_shift_round(v, B, K);
            uint64_t ym = hers_reduce128((uint64_t)(v >> 64), (uint64_t)v, m);
            o[c] = hers_add_mod(hers_mul_mod(ym, A, m),
                                hers_reduce128((uint64_t)(lo >> 64), (uint64_t)lo, m), m->value);
        }
    }
    return HERS_OK;
}

hers_status hers_c0_compress(const hers_params *p, const hers_ciphertext *ct, uint64_t *y)
{
    if (!p || !ct || !y || !ct->data)
        return hers_error(HERS_ERR_ARG, "c0 compress: NULL argument");
    if (ct->parts != 2 || ct->num_primes != p->k || !ct->ntt_form || !ct->has_seed)
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "c0 compress: needs a seeded 2-part NTT-form ciphertext over all primes");
    size_t k = p->k, n = p->n;
    uint64_t *x = hers_alloc_array(k * n, sizeof(uint64_t));
    if (!x)
        return hers_error(HERS_ERR_NOMEM, "c0 compress: out of memory");
    memcpy(x, hers_ct_poly(ct, 0, 0), k * n * sizeof(uint64_t));
    hers_rns_intt(p, x, k);
    hers_status st = hers_poly_round_bits(p, k, x, hers_c0_bits(p), y);
    hers_free(x);
    return st;
}

hers_status hers_c0_decompress(const hers_params *p, const uint64_t *y,
                               const uint8_t seed[HERS_SEED_BYTES], hers_ciphertext *ct)
{
    if (!p || !y || !seed || !ct)
        return hers_error(HERS_ERR_ARG, "c0 decompress: NULL argument");
    size_t k = p->k;
    unsigned K = hers_c0_bits(p);
    hers_status st = hers_ct_reserve(p, ct, 2, k, 0);
    if (st != HERS_OK)
        return st;
    if ((st = hers_poly_unround_bits(p, k, K, y, hers_ct_poly(ct, 0, 0))) != HERS_OK)
        return st;
    hers_rns_ntt(p, hers_ct_poly(ct, 0, 0), k);
    ct->ntt_form = 1;
    ct->form = HERS_FORM_BFV;
    ct->has_seed = 1;
    memcpy(ct->seed, seed, HERS_SEED_BYTES);
    return hers_ciphertext_expand_seed(p, ct);
}
