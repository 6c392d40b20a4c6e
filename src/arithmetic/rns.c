/*
 * rns.c - RNS bases, CRT composition, exact fast base conversion and
 * scale-and-round (hers_rns.h).
 *
 * Fixed-point fractions: a fraction f in [0, 1) is held as F = floor(f *
 * 2^128) in two words. y * F for y < 2^62 is a 190-bit number whose top part
 * (bits >= 128) is the integer part of y*f. Sums of such products are
 * accumulated exactly in three 128-bit accumulators (low, middle and high
 * 64-bit columns), so the only error is the truncation of each F: below
 * y * 2^-128 <= 2^-66 per term.
 *
 * Lazy reduction: products of two residues are accumulated in 128 bits and
 * reduced once; `chunk` (computed at creation from the moduli sizes) bounds
 * how many products fit before a reduction is needed (for ~50-bit moduli:
 * all of them).
 */
#include <string.h>

#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_rns.h"
#include "arithmetic/rns_internal.h"

typedef unsigned __int128 u128;

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* floor(r * 2^128 / m) for r < m: the 128-bit fraction of r/m. */
static void frac128(uint64_t r, uint64_t m, uint64_t f[2])
{
    u128 num = (u128)r << 64;
    uint64_t hi = (uint64_t)(num / m);
    uint64_t rem = (uint64_t)(num % m);
    num = (u128)rem << 64;
    f[1] = hi;
    f[0] = (uint64_t)(num / m);
}

/* x (limbs words) *= s; returns the carry-out word. */
static uint64_t big_mul_small(uint64_t *x, size_t limbs, uint64_t s)
{
    uint64_t carry = 0;
    for (size_t i = 0; i < limbs; i++) {
        u128 p = (u128)x[i] * s + carry;
        x[i] = (uint64_t)p;
        carry = (uint64_t)(p >> 64);
    }
    return carry;
}

static int big_cmp(const uint64_t *a, const uint64_t *b, size_t limbs)
{
    for (size_t i = limbs; i-- > 0;)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

static void big_sub(uint64_t *a, const uint64_t *b, size_t limbs)
{
    uint64_t borrow = 0;
    for (size_t i = 0; i < limbs; i++) {
        u128 d = (u128)a[i] - b[i] - borrow;
        a[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
}

/* Number of products a*b (a < amax, b < bmax) that fit in 128 bits,
 * keeping room for one extra 64-bit addend. */
static size_t lazy_chunk(uint64_t amax, uint64_t bmax, size_t k)
{
    u128 prod = (u128)(amax - 1) * (bmax - 1);
    if (prod == 0)
        return k ? k : 1;
    u128 room = ~(u128)0 - ((u128)1 << 65);
    u128 c = room / prod;
    if (c >= k)
        return k ? k : 1;
    return c ? (size_t)c : 1;
}

hers_status hers_rns_base_create(hers_rns_base **out, const uint64_t *moduli, size_t k)
{
    *out = NULL;
    if (k == 0 || k > HERS_RNS_MAX)
        return hers_error(HERS_ERR_ARG, "RNS base: %zu moduli (1..%d allowed)", k, HERS_RNS_MAX);
    for (size_t i = 0; i < k; i++) {
        if (moduli[i] < 2 || moduli[i] >= (UINT64_C(1) << 62))
            return hers_error(HERS_ERR_ARG, "RNS base: modulus %zu out of range [2, 2^62)", i);
        for (size_t j = 0; j < i; j++)
            if (gcd_u64(moduli[i], moduli[j]) != 1)
                return hers_error(HERS_ERR_ARG, "RNS base: moduli %zu and %zu not coprime", j, i);
    }
    hers_rns_base *b = hers_alloc(sizeof *b);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "RNS base: out of memory");
    b->k = k;
    /* M has at most sum(bits) bits; size the limbs exactly. */
    size_t bits = 0;
    for (size_t i = 0; i < k; i++) {
        hers_status st = hers_modulus_init(&b->m[i], moduli[i]);
        if (st != HERS_OK) {
            hers_free(b);
            return st;
        }
        bits += (size_t)b->m[i].bits;
    }
    b->limbs = (bits + 63) / 64;
    b->mhat = hers_alloc_array(k * b->limbs, sizeof(uint64_t));
    if (!b->mhat) {
        hers_free(b);
        return hers_error(HERS_ERR_NOMEM, "RNS base: out of memory");
    }
    memset(b->prod, 0, sizeof b->prod);
    b->prod[0] = 1;
    b->log2_prod = 0;
    for (size_t i = 0; i < k; i++) {
        (void)big_mul_small(b->prod, b->limbs, moduli[i]);
        uint64_t *mh = b->mhat + i * b->limbs;
        mh[0] = 1;
        uint64_t inv_arg = 1;
        for (size_t j = 0; j < k; j++) {
            if (j == i)
                continue;
            (void)big_mul_small(mh, b->limbs, moduli[j]);
            inv_arg = hers_mul_mod(inv_arg, moduli[j] % moduli[i], &b->m[i]);
        }
        b->mhat_inv[i] = hers_inv_mod_any(inv_arg, moduli[i]);
        b->mhat_inv_shoup[i] = hers_shoup_precompute(b->mhat_inv[i], moduli[i]);
        b->inv_m[i][0] = b->m[i].barrett_lo;
        b->inv_m[i][1] = b->m[i].barrett_hi;
        b->log2_prod += __builtin_log2((double)moduli[i]);
    }
    *out = b;
    return HERS_OK;
}

void hers_rns_base_free(hers_rns_base *b)
{
    if (!b)
        return;
    hers_free(b->mhat);
    hers_free(b);
}

void hers_rns_compose(const hers_rns_base *b, const uint64_t *r, size_t stride, uint64_t *x)
{
    size_t L = b->limbs;
    uint64_t acc[HERS_RNS_MAX_LIMBS + 1], term[HERS_RNS_MAX_LIMBS + 1];
    memset(acc, 0, sizeof acc);
    for (size_t i = 0; i < b->k; i++) {
        uint64_t y = hers_mul_shoup(r[i * stride], b->mhat_inv[i], b->mhat_inv_shoup[i], b->m[i].value);
        memcpy(term, b->mhat + i * L, L * sizeof(uint64_t));
        term[L] = big_mul_small(term, L, y);
        uint64_t carry = 0;
        for (size_t w = 0; w <= L; w++) {
            u128 s = (u128)acc[w] + term[w] + carry;
            acc[w] = (uint64_t)s;
            carry = (uint64_t)(s >> 64);
        }
    }
    /* acc < k*M: subtract M until below. */
    uint64_t m_ext[HERS_RNS_MAX_LIMBS + 1];
    memcpy(m_ext, b->prod, L * sizeof(uint64_t));
    m_ext[L] = 0;
    while (big_cmp(acc, m_ext, L + 1) >= 0)
        big_sub(acc, m_ext, L + 1);
    memcpy(x, acc, L * sizeof(uint64_t));
}

/* ------------------------------------------------------------ conversion */



hers_status hers_rns_conv_create(hers_rns_conv **out, const hers_rns_base *from, const uint64_t *to,
                                 size_t k_to)
{
    *out = NULL;
    if (k_to == 0 || k_to > HERS_RNS_MAX)
        return hers_error(HERS_ERR_ARG, "RNS conversion: %zu target moduli", k_to);
    struct conv_priv *cp = hers_alloc(sizeof *cp);
    if (!cp)
        return hers_error(HERS_ERR_NOMEM, "RNS conversion: out of memory");
    hers_rns_conv *c = &cp->pub;
    c->from = from;
    c->k_to = k_to;
    c->mhat_mod = hers_alloc_array(from->k * k_to, sizeof(uint64_t));
    if (!c->mhat_mod) {
        hers_free(cp);
        return hers_error(HERS_ERR_NOMEM, "RNS conversion: out of memory");
    }
    uint64_t maxm = 0, maxto = 0;
    for (size_t j = 0; j < k_to; j++) {
        hers_status st = hers_modulus_init(&c->to[j], to[j]);
        if (st != HERS_OK || to[j] >= (UINT64_C(1) << 62)) {
            hers_rns_conv_free(c);
            return hers_error(HERS_ERR_ARG, "RNS conversion: target modulus out of range");
        }
        if (to[j] > maxto)
            maxto = to[j];
        uint64_t mm = 1;
        for (size_t i = 0; i < from->k; i++) {
            uint64_t mi = hers_reduce64(from->m[i].value, &c->to[j]);
            mm = hers_mul_mod(mm, mi, &c->to[j]);
            uint64_t h = 1;
            for (size_t l = 0; l < from->k; l++)
                if (l != i)
                    h = hers_mul_mod(h, hers_reduce64(from->m[l].value, &c->to[j]), &c->to[j]);
            c->mhat_mod[i * k_to + j] = h;
        }
        c->m_mod[j] = mm;
    }
    for (size_t i = 0; i < from->k; i++)
        if (from->m[i].value > maxm)
            maxm = from->m[i].value;
    cp->chunk = lazy_chunk(maxm, maxto, from->k);
    cp->mhat_mod_shoup = hers_alloc_array(from->k * k_to, sizeof(uint64_t));
    if (!cp->mhat_mod_shoup) {
        hers_rns_conv_free(c);
        return hers_error(HERS_ERR_NOMEM, "RNS conversion: out of memory");
    }
    for (size_t j = 0; j < k_to; j++) {
        for (size_t i = 0; i < from->k; i++)
            cp->mhat_mod_shoup[i * k_to + j] = hers_shoup_precompute(c->mhat_mod[i * k_to + j], to[j]);
        cp->neg_m[j] = hers_neg_mod(c->m_mod[j], to[j]);
        cp->one_shoup[j] = hers_shoup_precompute(1, to[j]);
    }
    /* sum of k lazy products (< 2 to_j each) + v * (-M mod to_j), v <= k */
    cp->fast = (u128)(3 * from->k + 2) * maxto < ((u128)1 << 64);
    cp->avx2_ok = from->k <= 7 && maxm < (UINT64_C(1) << 50) && maxto < (UINT64_C(1) << 50);
    *out = c;
    return HERS_OK;
}

void hers_rns_conv_free(hers_rns_conv *c)
{
    if (!c)
        return;
    hers_free(((struct conv_priv *)c)->mhat_mod_shoup);
    hers_free(c->mhat_mod);
    hers_free(c);
}

/* Exact sum of y_i * F_i (F_i 128-bit fractions): integer part and the top
 * 64 bits of the fraction. */
static inline void frac_sum(const uint64_t *y, const uint64_t (*F)[2], size_t k, u128 *ipart,
                            uint64_t *ftop)
{
    u128 lo = 0, mid = 0, hi = 0;
    for (size_t i = 0; i < k; i++) {
        u128 a = (u128)y[i] * F[i][0];
        u128 b = (u128)y[i] * F[i][1];
        lo += (uint64_t)a;
        mid += (a >> 64) + (uint64_t)b;
        hi += b >> 64;
    }
    mid += lo >> 64;
    hi += mid >> 64;
    *ipart = hi;
    *ftop = (uint64_t)mid;
}

#define RNS_BLOCK 64
#define RNS_INLINE static inline __attribute__((always_inline))

/* y_i[x - x0] = in_i[x] * (M/m_i)^-1 mod m_i for the coefficients x0 ..
 * x0 + m - 1 (m <= RNS_BLOCK) of the first k residue rows: the first step
 * of the blocked base conversion and scaling. */
static void mhat_scale_block(const hers_rns_base *b, const uint64_t *in, size_t n, size_t x0,
                             size_t m, size_t k, uint64_t y[][RNS_BLOCK])
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t *src = in + i * n + x0;
        uint64_t w = b->mhat_inv[i], ws = b->mhat_inv_shoup[i], q = b->m[i].value;
        for (size_t x = 0; x < m; x++)
            y[i][x] = hers_mul_shoup(src[x], w, ws, q);
    }
}

/* Fast path of hers_rns_convert (all products accumulate lazily in 64 bits),
 * one coefficient at a time with everything in registers; `k` is a
 * compile-time constant in the specialised calls below. */
RNS_INLINE void convert_fast(const hers_rns_conv *c, const struct conv_priv *cp, const uint64_t *in,
                             uint64_t *out, size_t n, uint64_t cmask, size_t k)
{
    const hers_rns_base *b = c->from;
    size_t kt = c->k_to;
    for (size_t x = 0; x < n; x++) {
        uint64_t y[HERS_RNS_MAX];
        u128 lo = 0, mid = 0, hi = 0;
        for (size_t i = 0; i < k; i++) {
            y[i] = hers_mul_shoup(in[i * n + x], b->mhat_inv[i], b->mhat_inv_shoup[i], b->m[i].value);
            u128 a = (u128)y[i] * b->inv_m[i][0];
            u128 bb = (u128)y[i] * b->inv_m[i][1];
            lo += (uint64_t)a;
            mid += (a >> 64) + (uint64_t)bb;
            hi += bb >> 64;
        }
        mid += lo >> 64;
        hi += mid >> 64;
        uint64_t v = (uint64_t)hi + ((((uint64_t)mid) >> 63) & cmask);
        for (size_t j = 0; j < kt; j++) {
            uint64_t pj = c->to[j].value;
            uint64_t acc = v * cp->neg_m[j];
            const uint64_t *w = c->mhat_mod + j, *ws = cp->mhat_mod_shoup + j;
            for (size_t i = 0; i < k; i++)
                acc += hers_mul_shoup_lazy(y[i], w[i * kt], ws[i * kt], pj);
            out[j * n + x] = hers_mul_shoup(acc, 1, cp->one_shoup[j], pj);
        }
    }
}

static void convert_fast_dispatch(const hers_rns_conv *c, const struct conv_priv *cp, const uint64_t *in,
                                  uint64_t *out, size_t n, uint64_t cmask)
{
    switch (c->from->k) {
    case 1: convert_fast(c, cp, in, out, n, cmask, 1); break;
    case 2: convert_fast(c, cp, in, out, n, cmask, 2); break;
    case 3: convert_fast(c, cp, in, out, n, cmask, 3); break;
    case 4: convert_fast(c, cp, in, out, n, cmask, 4); break;
    case 5: convert_fast(c, cp, in, out, n, cmask, 5); break;
    case 6: convert_fast(c, cp, in, out, n, cmask, 6); break;
    case 7: convert_fast(c, cp, in, out, n, cmask, 7); break;
    default: convert_fast(c, cp, in, out, n, cmask, c->from->k); break;
    }
}

void hers_rns_convert(const hers_rns_conv *c, const uint64_t *in, uint64_t *out, size_t n,
                      int centered)
{
    const hers_rns_base *b = c->from;
    const struct conv_priv *cp = (const struct conv_priv *)c;
    size_t k = b->k, kt = c->k_to, chunk = cp->chunk;
    uint64_t y[HERS_RNS_MAX][RNS_BLOCK];
    uint64_t v[RNS_BLOCK];
    uint64_t yy[HERS_RNS_MAX];
    uint64_t half = UINT64_C(1) << 63;
    uint64_t cmask = 0 - (uint64_t)(centered != 0);
    if (cp->avx2_ok && n % 4 == 0 && hers_simd_active() >= HERS_SIMD_AVX2) {
        hers_rns_convert_avx2(c, cp, in, out, n, cmask & 1);
        return;
    }
    if (cp->fast) {
        convert_fast_dispatch(c, cp, in, out, n, cmask & 1);
        return;
    }
    for (size_t x0 = 0; x0 < n; x0 += RNS_BLOCK) {
        size_t m = n - x0 < RNS_BLOCK ? n - x0 : RNS_BLOCK;
        mhat_scale_block(b, in, n, x0, m, k, y);
        for (size_t x = 0; x < m; x++) {
            for (size_t i = 0; i < k; i++)
                yy[i] = y[i][x];
            u128 ip;
            uint64_t ft;
            frac_sum(yy, (const uint64_t(*)[2])b->inv_m, k, &ip, &ft);
            /* v = floor (x in [0,M)) or round (centred) of sum y_i/m_i */
            v[x] = (uint64_t)ip + ((uint64_t)(ft >= half) & cmask & 1);
        }
        for (size_t j = 0; j < kt; j++) {
            const hers_modulus *mj = &c->to[j];
            uint64_t *dst = out + j * n + x0;
            const uint64_t *col = c->mhat_mod + j;
            for (size_t x = 0; x < m; x++) {
                uint64_t r = 0;
                size_t i = 0;
                while (i < k) {
                    size_t end = i + chunk < k ? i + chunk : k;
                    u128 acc = r;
                    for (; i < end; i++)
                        acc += (u128)y[i][x] * col[i * kt];
                    r = hers_reduce128((uint64_t)(acc >> 64), (uint64_t)acc, mj);
                }
                u128 corr = (u128)v[x] * cp->neg_m[j] + r;
                dst[x] = hers_reduce128((uint64_t)(corr >> 64), (uint64_t)corr, mj);
            }
        }
    }
}

/* ------------------------------------------------------------ scale and round */



hers_status hers_rns_scaler_create(hers_rns_scaler **out, const hers_rns_base *in, size_t kd, uint64_t T)
{
    *out = NULL;
    if (kd == 0 || kd > in->k || T < 2 || T >= (UINT64_C(1) << 62))
        return hers_error(HERS_ERR_ARG, "RNS scaler: bad kd=%zu or T", kd);
    struct scaler_priv *sp = hers_alloc(sizeof *sp);
    if (!sp)
        return hers_error(HERS_ERR_NOMEM, "RNS scaler: out of memory");
    hers_rns_scaler *s = &sp->pub;
    s->in = in;
    s->kd = kd;
    s->T = T;
    size_t ke = in->k - kd;
    s->k_out = ke ? ke : 1;
    s->omega = hers_alloc_array(kd * s->k_out, sizeof(uint64_t));
    if (!s->omega) {
        hers_free(sp);
        return hers_error(HERS_ERR_NOMEM, "RNS scaler: out of memory");
    }
    if (ke) {
        for (size_t j = 0; j < ke; j++)
            s->out[j] = in->m[kd + j];
    } else {
        hers_status st = hers_modulus_init(&s->out[0], T);
        if (st != HERS_OK) {
            hers_rns_scaler_free(s);
            return st;
        }
    }
    uint64_t maxd = 0, maxo = 0;
    for (size_t i = 0; i < kd; i++) {
        const hers_modulus *di = &in->m[i];
        if (di->value > maxd)
            maxd = di->value;
        /* r_i = T*E mod d_i */
        uint64_t r = hers_reduce64(T, di);
        for (size_t j = 0; j < ke; j++)
            r = hers_mul_mod(r, hers_reduce64(in->m[kd + j].value, di), di);
        frac128(r, di->value, s->theta[i]);
        for (size_t j = 0; j < s->k_out; j++) {
            const hers_modulus *oj = &s->out[j];
            if (ke) {
                /* floor(T*E/d_i) = (T*E - r_i)/d_i = -r_i * d_i^-1 (mod e_j), as e_j | E. */
                uint64_t dinv = hers_inv_mod_any(hers_reduce64(di->value, oj), oj->value);
                s->omega[i * s->k_out + j] =
                    hers_mul_mod(hers_neg_mod(hers_reduce64(r, oj), oj->value), dinv, oj);
            } else {
                s->omega[i * s->k_out + j] = (T / di->value) % T;
            }
        }
    }
    for (size_t j = 0; j < s->k_out; j++) {
        const hers_modulus *oj = &s->out[j];
        if (oj->value > maxo)
            maxo = oj->value;
        if (ke) {
            uint64_t dm = 1;
            for (size_t i = 0; i < kd; i++)
                dm = hers_mul_mod(dm, hers_reduce64(in->m[i].value, oj), oj);
            s->self[j] = hers_mul_mod(hers_reduce64(T, oj), hers_inv_mod_any(dm, oj->value), oj);
            s->self_shoup[j] = hers_shoup_precompute(s->self[j], oj->value);
        } else {
            s->self[j] = 0;
            s->self_shoup[j] = 0;
        }
    }
    sp->chunk = lazy_chunk(maxd, maxo, kd);
    sp->omega_shoup = hers_alloc_array(kd * s->k_out, sizeof(uint64_t));
    if (!sp->omega_shoup) {
        hers_rns_scaler_free(s);
        return hers_error(HERS_ERR_NOMEM, "RNS scaler: out of memory");
    }
    for (size_t j = 0; j < s->k_out; j++) {
        for (size_t i = 0; i < kd; i++)
            sp->omega_shoup[i * s->k_out + j] =
                hers_shoup_precompute(s->omega[i * s->k_out + j], s->out[j].value);
        sp->one_shoup[j] = hers_shoup_precompute(1, s->out[j].value);
    }
    /* the rounded fraction sum (< kd * max d) fits 64 bits, and kd lazy
     * products (< 2 out_j each) + 2 out_j + 2 out_j do too */
    {
        uint64_t maxin = 0;
        for (size_t i = 0; i < in->k; i++)
            if (in->m[i].value > maxin)
                maxin = in->m[i].value;
        sp->avx2_ok = kd <= 6 && maxin < (UINT64_C(1) << 50) && maxo < (UINT64_C(1) << 50);
    }
    sp->fast = (u128)(kd + 1) * maxd < ((u128)1 << 64) &&
               (u128)(2 * kd + 6) * maxo < ((u128)1 << 64);
    sp->ndinv = hers_alloc_array(kd * s->k_out, sizeof(uint64_t));
    sp->ndinv_shoup = hers_alloc_array(kd * s->k_out, sizeof(uint64_t));
    if (!sp->ndinv || !sp->ndinv_shoup) {
        hers_rns_scaler_free(s);
        return hers_error(HERS_ERR_NOMEM, "RNS scaler: out of memory");
    }
    for (size_t i = 0; i < kd; i++) {
        const hers_modulus *di = &in->m[i];
        uint64_t r = hers_reduce64(T, di);
        for (size_t j = 0; j < ke; j++)
            r = hers_mul_mod(r, hers_reduce64(in->m[kd + j].value, di), di);
        sp->zc[i] = hers_mul_mod(in->mhat_inv[i], r, di);
        sp->zc_shoup[i] = hers_shoup_precompute(sp->zc[i], di->value);
        for (size_t j = 0; j < s->k_out; j++) {
            const hers_modulus *oj = &s->out[j];
            uint64_t inv = hers_inv_mod_any(hers_reduce64(di->value, oj), oj->value);
            if (inv == 0 && oj->value > 1) {
                /* d_i not invertible mod out_j (composite T): generic path only */
                sp->fast = 0;
                sp->avx2_ok = 0;
            }
            sp->ndinv[i * s->k_out + j] = hers_neg_mod(inv, oj->value);
            sp->ndinv_shoup[i * s->k_out + j] =
                hers_shoup_precompute(sp->ndinv[i * s->k_out + j], oj->value);
        }
    }
    if (!sp->fast)
        sp->avx2_ok = 0;
    *out = s;
    return HERS_OK;
}

void hers_rns_scaler_free(hers_rns_scaler *s)
{
    if (!s)
        return;
    hers_free(((struct scaler_priv *)s)->omega_shoup);
    hers_free(((struct scaler_priv *)s)->ndinv);
    hers_free(((struct scaler_priv *)s)->ndinv_shoup);
    hers_free(s->omega);
    hers_free(s);
}

RNS_INLINE void scale_fast(const hers_rns_scaler *s, const struct scaler_priv *sp, const uint64_t *in,
                           uint64_t *out, size_t n, size_t kd)
{
    const hers_rns_base *b = s->in;
    size_t ko = s->k_out;
    int has_e = b->k > kd;
    for (size_t x = 0; x < n; x++) {
        uint64_t z[HERS_RNS_MAX];
        u128 lo = 0, mid = 0, hi = 0;
        for (size_t i = 0; i < kd; i++) {
            z[i] = hers_mul_shoup(in[i * n + x], sp->zc[i], sp->zc_shoup[i], b->m[i].value);
            u128 a = (u128)z[i] * b->inv_m[i][0];
            u128 bb = (u128)z[i] * b->inv_m[i][1];
            lo += (uint64_t)a;
            mid += (a >> 64) + (uint64_t)bb;
            hi += bb >> 64;
        }
        mid += lo >> 64;
        hi += mid >> 64;
        uint64_t rnd = (uint64_t)hi + (((uint64_t)mid) >> 63);   /* round(sum z_i / d_i) <= kd */
        for (size_t j = 0; j < ko; j++) {
            uint64_t pj = s->out[j].value, os = sp->one_shoup[j];
            uint64_t acc = hers_mul_shoup_lazy(rnd, 1, os, pj);
            const uint64_t *w = sp->ndinv + j, *ws = sp->ndinv_shoup + j;
            for (size_t i = 0; i < kd; i++)
                acc += hers_mul_shoup_lazy(z[i], w[i * ko], ws[i * ko], pj);
            if (has_e)
                acc += hers_mul_shoup_lazy(in[(kd + j) * n + x], s->self[j], s->self_shoup[j], pj);
            out[j * n + x] = hers_mul_shoup(acc, 1, os, pj);
        }
    }
}

static void scale_fast_dispatch(const hers_rns_scaler *s, const struct scaler_priv *sp, const uint64_t *in,
                                uint64_t *out, size_t n)
{
    switch (s->kd) {
    case 1: scale_fast(s, sp, in, out, n, 1); break;
    case 2: scale_fast(s, sp, in, out, n, 2); break;
    case 3: scale_fast(s, sp, in, out, n, 3); break;
    case 4: scale_fast(s, sp, in, out, n, 4); break;
    case 5: scale_fast(s, sp, in, out, n, 5); break;
    case 6: scale_fast(s, sp, in, out, n, 6); break;
    default: scale_fast(s, sp, in, out, n, s->kd); break;
    }
}

void hers_rns_scale_round(const hers_rns_scaler *s, const uint64_t *in, uint64_t *out, size_t n)
{
    const hers_rns_base *b = s->in;
    const struct scaler_priv *sp = (const struct scaler_priv *)s;
    size_t kd = s->kd, ko = s->k_out, chunk = sp->chunk;
    int has_e = b->k > kd;
    uint64_t y[HERS_RNS_MAX][RNS_BLOCK];
    u128 rnd[RNS_BLOCK];
    uint64_t yy[HERS_RNS_MAX];
    if (sp->avx2_ok && n % 4 == 0 && hers_simd_active() >= HERS_SIMD_AVX2) {
        hers_rns_scale_avx2(s, sp, in, out, n);
        return;
    }
    if (sp->fast) {
        scale_fast_dispatch(s, sp, in, out, n);
        return;
    }
    for (size_t x0 = 0; x0 < n; x0 += RNS_BLOCK) {
        size_t m = n - x0 < RNS_BLOCK ? n - x0 : RNS_BLOCK;
        mhat_scale_block(b, in, n, x0, m, kd, y);
        for (size_t x = 0; x < m; x++) {
            for (size_t i = 0; i < kd; i++)
                yy[i] = y[i][x];
            u128 ip;
            uint64_t ft;
            frac_sum(yy, (const uint64_t(*)[2])s->theta, kd, &ip, &ft);
            rnd[x] = ip + (ft >> 63);   /* round(sum y_i theta_i) */
        }
        for (size_t j = 0; j < ko; j++) {
            const hers_modulus *oj = &s->out[j];
            uint64_t pj = oj->value;
            uint64_t *dst = out + j * n + x0;
            const uint64_t *ein = has_e ? in + (kd + j) * n + x0 : NULL;
            const uint64_t *col = s->omega + j;
            for (size_t x = 0; x < m; x++) {
                uint64_t r = hers_reduce128((uint64_t)(rnd[x] >> 64), (uint64_t)rnd[x], oj);
                size_t i = 0;
                while (i < kd) {
                    size_t end = i + chunk < kd ? i + chunk : kd;
                    u128 acc = r;
                    for (; i < end; i++)
                        acc += (u128)y[i][x] * col[i * ko];
                    r = hers_reduce128((uint64_t)(acc >> 64), (uint64_t)acc, oj);
                }
                if (has_e) {
                    uint64_t e = hers_mul_shoup(ein[x], s->self[j], s->self_shoup[j], pj);
                    r = hers_add_mod(r, e, pj);
                }
                dst[x] = r;
            }
        }
    }
}
