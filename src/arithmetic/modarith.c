/*
 * modarith.c - modulus set-up, exponentiation, inverses, primality, prime
 * generation and primitive roots (hers_modarith.h).
 *
 * Ranges: moduli q in [2, 2^62); all results fully reduced in [0, q).
 * hers_pow_mod / hers_inv_mod branch only on the (public) exponent bits and
 * use the constant-time Barrett multiplication, so they are constant-time in
 * the base. Primality testing, prime generation and root finding work on
 * public values and are not constant-time.
 */
#include "hers/hers_modarith.h"

#include "arithmetic/arith_internal.h"

hers_status hers_modulus_init(hers_modulus *m, uint64_t q)
{
    if (!m)
        return hers_error(HERS_ERR_ARG, "hers_modulus_init: NULL modulus");
    if (q < 2 || q >= (UINT64_C(1) << 62))
        return hers_error(HERS_ERR_ARG, "hers_modulus_init: q=%llu outside [2, 2^62)",
                          (unsigned long long)q);
    /* floor(2^128 / q) = floor((2^128 - 1) / q) unless q divides 2^128. */
    unsigned __int128 b = (~(unsigned __int128)0) / q;
    if ((q & (q - 1)) == 0)
        b += 1;
    m->value = q;
    m->barrett_hi = (uint64_t)(b >> 64);
    m->barrett_lo = (uint64_t)b;
    int bits = 0;
    while (bits < 64 && (q >> bits) != 0)
        bits++;
    m->bits = bits;
    return HERS_OK;
}

uint64_t hers_pow_mod(uint64_t base, uint64_t exp, const hers_modulus *m)
{
    uint64_t r = hers_reduce64(1, m);
    uint64_t b = hers_reduce64(base, m);
    while (exp) {
        if (exp & 1)
            r = hers_mul_mod(r, b, m);
        b = hers_mul_mod(b, b, m);
        exp >>= 1;
    }
    return r;
}

uint64_t hers_inv_mod(uint64_t a, const hers_modulus *m)
{
    /* Fermat: a^(q-2); gives 0 for a = 0 mod q, as documented. */
    return hers_pow_mod(a, m->value - 2, m);
}

uint64_t hers_inv_mod_any(uint64_t a, uint64_t m)
{
    __int128 r0 = (__int128)m, r1 = (__int128)(a % m);
    __int128 s0 = 0, s1 = 1;
    while (r1 != 0) {
        __int128 qq = r0 / r1, tmp = r0 - qq * r1;
        r0 = r1;
        r1 = tmp;
        tmp = s0 - qq * s1;
        s0 = s1;
        s1 = tmp;
    }
    if (r0 != 1)
        return 0;
    if (s0 < 0)
        s0 += (__int128)m;
    return (uint64_t)s0;
}

/* ---- primality (public values only) ---- */

static uint64_t mulmod_u(uint64_t a, uint64_t b, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)a * b) % n);
}

static uint64_t powmod_u(uint64_t b, uint64_t e, uint64_t n)
{
    uint64_t r = 1 % n;
    b %= n;
    while (e) {
        if (e & 1)
            r = mulmod_u(r, b, n);
        b = mulmod_u(b, b, n);
        e >>= 1;
    }
    return r;
}

int hers_is_prime(uint64_t n)
{
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2)
        return 0;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (n == small[i])
            return 1;
        if (n % small[i] == 0)
            return 0;
    }
    uint64_t d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    /* Sinclair's seven bases: a deterministic test for every n < 2^64. */
    static const uint64_t bases[] = {2, 325, 9375, 28178, 450775, 9780504, 1795265022};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        uint64_t a = bases[i] % n;
        if (a == 0)
            continue;
        uint64_t x = powmod_u(a, d, n);
        if (x == 1 || x == n - 1)
            continue;
        int witness = 1;
        for (int r = 1; r < s; r++) {
            x = mulmod_u(x, x, n);
            if (x == n - 1) {
                witness = 0;
                break;
            }
        }
        if (witness)
            return 0;
    }
    return 1;
}

hers_status hers_primes_below(int bits, uint64_t step, size_t count, const uint64_t *exclude,
                              size_t exclude_count, uint64_t *out)
{
    if (bits < 2 || bits > 62)
        return hers_error(HERS_ERR_ARG, "hers_primes_below: bits=%d outside [2, 62]", bits);
    if (step < 2 || (step & 1))
        return hers_error(HERS_ERR_ARG, "hers_primes_below: step=%llu must be even and >= 2",
                          (unsigned long long)step);
    if (count > 0 && !out)
        return hers_error(HERS_ERR_ARG, "hers_primes_below: NULL output");
    if (exclude_count > 0 && !exclude)
        return hers_error(HERS_ERR_ARG, "hers_primes_below: NULL exclude list");
    uint64_t top = (UINT64_C(1) << bits) - 1;
    size_t found = 0;
    if (top > step) {
        /* largest p <= top with p = 1 (mod step) */
        uint64_t p = top - ((top - 1) % step);
        for (;;) {
            if (found == count)
                break;
            int skip = 0;
            for (size_t i = 0; i < exclude_count; i++)
                if (exclude[i] == p)
                    skip = 1;
            if (!skip && hers_is_prime(p))
                out[found++] = p;
            if (p <= step + 1)
                break;
            p -= step;
        }
    }
    if (found < count)
        return hers_error(HERS_ERR_PARAMS,
                          "only %zu of %zu primes below 2^%d with p = 1 mod %llu exist", found,
                          count, bits, (unsigned long long)step);
    return HERS_OK;
}

/* ---- factorisation of public 64-bit values (for root finding) ---- */

static uint64_t gcd_u(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Brent's Pollard rho: a non-trivial factor of composite odd n. */
static uint64_t rho_factor(uint64_t n)
{
    for (uint64_t c = 1;; c++) {
        uint64_t y = 2, x = 2, g = 1, qprod = 1, ys = 2;
        uint64_t r = 1;
        do {
            x = y;
            for (uint64_t i = 0; i < r; i++)
                y = (mulmod_u(y, y, n) + c) % n;
            uint64_t k = 0;
            do {
                ys = y;
                uint64_t lim = (r - k < 128) ? r - k : 128;
                for (uint64_t i = 0; i < lim; i++) {
                    y = (mulmod_u(y, y, n) + c) % n;
                    qprod = mulmod_u(qprod, x > y ? x - y : y - x, n);
                }
                g = gcd_u(qprod, n);
                k += lim;
            } while (k < r && g == 1);
            r *= 2;
        } while (g == 1);
        if (g == n) {
            do {
                ys = (mulmod_u(ys, ys, n) + c) % n;
                g = gcd_u(x > ys ? x - ys : ys - x, n);
            } while (g == 1);
        }
        if (g != n)
            return g;
    }
}

static void add_factor(uint64_t p, uint64_t *f, int *nf)
{
    for (int i = 0; i < *nf; i++)
        if (f[i] == p)
            return;
    f[(*nf)++] = p;
}

static void factor_rec(uint64_t n, uint64_t *f, int *nf)
{
    if (n == 1)
        return;
    if (hers_is_prime(n)) {
        add_factor(n, f, nf);
        return;
    }
    uint64_t d = rho_factor(n);
    factor_rec(d, f, nf);
    factor_rec(n / d, f, nf);
}

int hers_distinct_prime_factors(uint64_t n, uint64_t f[64])
{
    int nf = 0;
    for (uint64_t p = 2; p < 1000 && p * p <= n; p += (p == 2 ? 1 : 2)) {
        if (n % p == 0) {
            add_factor(p, f, &nf);
            while (n % p == 0)
                n /= p;
        }
    }
    if (n > 1)
        factor_rec(n, f, &nf);
    return nf;
}

/* 1 if x has multiplicative order exactly `order` mod q (pf = primes of order). */
static int has_order(uint64_t x, uint64_t order, const uint64_t *pf, int npf,
                     const hers_modulus *m)
{
    if (hers_pow_mod(x, order, m) != 1)
        return 0;
    for (int i = 0; i < npf; i++)
        if (hers_pow_mod(x, order / pf[i], m) == 1)
            return 0;
    return 1;
}

hers_status hers_primitive_root(uint64_t q, uint64_t order, uint64_t *root)
{
    if (!root)
        return hers_error(HERS_ERR_ARG, "hers_primitive_root: NULL output");
    if (q < 3 || q >= (UINT64_C(1) << 62) || !hers_is_prime(q))
        return hers_error(HERS_ERR_ARG, "hers_primitive_root: q=%llu is not an odd prime < 2^62",
                          (unsigned long long)q);
    if (order == 0 || (q - 1) % order != 0)
        return hers_error(HERS_ERR_ARG, "hers_primitive_root: order %llu does not divide q-1=%llu",
                          (unsigned long long)order, (unsigned long long)(q - 1));
    hers_modulus m;
    hers_status st = hers_modulus_init(&m, q);
    if (st != HERS_OK)
        return st;
    uint64_t pf[64];
    int npf = hers_distinct_prime_factors(order, pf);
    if (order <= (UINT64_C(1) << 24)) {
        /* Find one root r of exact order, then the minimum over r^k, gcd(k, order) = 1. */
        uint64_t r = 0;
        for (uint64_t x = 2; x < q; x++) {
            uint64_t c = hers_pow_mod(x, (q - 1) / order, &m);
            if (has_order(c, order, pf, npf, &m)) {
                r = c;
                break;
            }
        }
        if (order == 1)
            r = 1;
        if (r == 0)
            return hers_error(HERS_ERR_INTERNAL, "hers_primitive_root: no root found");
        uint64_t best = r, cur = 1;
        for (uint64_t k = 1; k < order; k++) {
            cur = hers_mul_mod(cur, r, &m);
            if (cur < best && gcd_u(k, order) == 1)
                best = cur;
        }
        *root = best;
        return HERS_OK;
    }
    /* Large orders: scan candidates upwards; the first of exact order is minimal. */
    for (uint64_t x = 2, tries = 0; x < q; x++, tries++) {
        if (tries > (UINT64_C(1) << 26))
            return hers_error(HERS_ERR_UNSUPPORTED,
                              "hers_primitive_root: order %llu too sparse mod %llu to search",
                              (unsigned long long)order, (unsigned long long)q);
        if (has_order(x, order, pf, npf, &m)) {
            *root = x;
            return HERS_OK;
        }
    }
    return hers_error(HERS_ERR_INTERNAL, "hers_primitive_root: no root found");
}
