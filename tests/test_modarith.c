/*
 * test_modarith.c - modular arithmetic (hers_modarith.h) against exact
 * oracles: unsigned __int128 division and GMP.
 *
 * Covers Barrett (mul_mod, reduce128, reduce64), Shoup (lazy range [0, 2q)
 * for any 64-bit a, full reduction), add/sub/neg, pow/inv, deterministic
 * Miller-Rabin (exhaustive sieve below 2^20, strong pseudoprimes, GMP on
 * random 64-bit values), prime generation (primality, congruence, descending
 * and gap-free order, exclusion, shortage) and primitive roots (exact order,
 * minimality against brute force).
 */
#include <gmp.h>
#include <stdlib.h>
#include <string.h>

#include "arithmetic/arith_internal.h"
#include "hers/hers_modarith.h"
#include "support/check.h"

typedef unsigned __int128 u128;

static int quick(void)
{
    return getenv("HERS_TEST_QUICK") != NULL;
}

/* A random value biased towards edges: 0, 1, q-1, q-2, 2^64-1, random. */
static uint64_t edge_or_rand(uint64_t q, int full64)
{
    uint64_t r = test_rand();
    switch (r % 8) {
    case 0: return 0;
    case 1: return 1 % q;
    case 2: return q - 1;
    case 3: return q >= 2 ? q - 2 : 0;
    case 4: return full64 ? UINT64_MAX : q - 1;
    case 5: return full64 ? test_rand() : test_rand() % q;
    default: return test_rand() % q;
    }
}

static uint64_t random_modulus(int bits)
{
    /* any value of exactly `bits` bits (moduli need not be prime for Barrett) */
    uint64_t q = test_rand() >> (64 - bits);
    q |= UINT64_C(1) << (bits - 1);
    if (q < 2)
        q = 2;
    return q;
}

static void test_modulus_and_reduction(void)
{
    hers_modulus m;
    CHECK(hers_modulus_init(&m, 0) == HERS_ERR_ARG);
    CHECK(hers_modulus_init(&m, 1) == HERS_ERR_ARG);
    CHECK(hers_modulus_init(&m, UINT64_C(1) << 62) == HERS_ERR_ARG);
    CHECK_OK(hers_modulus_init(&m, 2));
    CHECK(m.bits == 2);
    CHECK_OK(hers_modulus_init(&m, (UINT64_C(1) << 62) - 1));
    CHECK(m.bits == 62);

    const int iters = quick() ? 300 : 3000;
    for (int bits = 2; bits <= 62; bits++) {
        for (int rep = 0; rep < 4; rep++) {
            uint64_t q = rep == 0 ? (UINT64_C(1) << (bits - 1)) /* power of two */
                                  : rep == 1 ? (bits < 62 ? ((UINT64_C(1) << bits) - 1) : (UINT64_C(1) << 62) - 57)
                                             : random_modulus(bits);
            CHECK_OK(hers_modulus_init(&m, q));
            CHECK(m.bits == bits);
            u128 b = ((u128)m.barrett_hi << 64) | m.barrett_lo;
            /* b = floor(2^128 / q) <=> 2^128 - b*q (mod 2^128) in [0, q) */
            CHECK((u128)((u128)0 - b * q) < q);
            int ok = 1;
            for (int i = 0; i < iters / 16; i++) {
                uint64_t a = edge_or_rand(q, 1), c = edge_or_rand(q, 1);
                uint64_t hi = edge_or_rand(q, 1), lo = edge_or_rand(q, 1);
                if (hers_mul_mod(a, c, &m) != (uint64_t)(((u128)a * c) % q)) ok = 0;
                if (hers_reduce64(a, &m) != a % q) ok = 0;
                if (hers_reduce128(hi, lo, &m) != (uint64_t)((((u128)hi << 64) | lo) % q)) ok = 0;
                if (q >= 3) {
                    uint64_t x = a % q, y = c % q;
                    if (hers_add_mod(x, y, q) != (uint64_t)(((u128)x + y) % q)) ok = 0;
                    if (hers_sub_mod(x, y, q) != (uint64_t)(((u128)x + q - y) % q)) ok = 0;
                    if (hers_neg_mod(x, q) != (q - x) % q) ok = 0;
                    uint64_t ws = hers_shoup_precompute(y, q);
                    uint64_t lz = hers_mul_shoup_lazy(a, y, ws, q);
                    if (lz >= 2 * q || lz % q != (uint64_t)(((u128)a * y) % q)) ok = 0;
                    if (hers_mul_shoup(a, y, ws, q) != (uint64_t)(((u128)a * y) % q)) ok = 0;
                }
            }
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "  reduction mismatch for q=%" PRIu64 "\n", q);
        }
    }
    CHECK(hers_consttime_select(UINT64_MAX, 5, 7) == 5);
    CHECK(hers_consttime_select(0, 5, 7) == 7);
}

static void test_pow_inv(void)
{
    mpz_t b, e, mod, r;
    mpz_inits(b, e, mod, r, NULL);
    const int iters = quick() ? 200 : 2000;
    for (int i = 0; i < iters; i++) {
        int bits = 2 + (int)(test_rand() % 61);
        uint64_t q = random_modulus(bits);
        if (q < 3)
            q = 3;
        hers_modulus m;
        CHECK_OK(hers_modulus_init(&m, q));
        uint64_t base = edge_or_rand(q, 1), ex = test_rand() >> (test_rand() % 64);
        mpz_set_ui(b, base);
        mpz_set_ui(e, ex);
        mpz_set_ui(mod, q);
        mpz_powm(r, b, e, mod);
        CHECK_EQ_U64(hers_pow_mod(base, ex, &m), mpz_get_ui(r));
    }
    /* inverses mod primes */
    for (int i = 0; i < iters / 4; i++) {
        int bits = 3 + (int)(test_rand() % 60);
        uint64_t p;
        CHECK_OK(hers_primes_below(bits, 2, 1, NULL, 0, &p));
        hers_modulus m;
        CHECK_OK(hers_modulus_init(&m, p));
        uint64_t a = edge_or_rand(p, 0);
        uint64_t inv = hers_inv_mod(a, &m);
        if (a == 0)
            CHECK(inv == 0);
        else
            CHECK(hers_mul_mod(a, inv, &m) == 1);
    }
    /* any modulus (composite too): the inverse when gcd(a, m) = 1, else 0;
     * GMP's mpz_invert is the oracle */
    for (int i = 0; i < 2000; i++) {
        uint64_t mm = 2 + test_rand() % (i % 2 ? UINT64_C(1) << 62 : UINT64_C(100000));
        uint64_t a = test_rand() % (mm * 3 + 1);
        uint64_t inv = hers_inv_mod_any(a, mm);
        mpz_set_ui(b, (unsigned long)a);
        mpz_set_ui(mod, (unsigned long)mm);
        if (mpz_invert(r, b, mod) && mm > 1)
            CHECK(inv == (uint64_t)mpz_get_ui(r));
        else
            CHECK(inv == 0);
    }
    mpz_clears(b, e, mod, r, NULL);
}

static void test_is_prime(void)
{
    /* exhaustive against a sieve below 2^20 */
    const uint32_t lim = 1u << 20;
    unsigned char *comp = calloc(lim, 1);
    CHECK(comp != NULL);
    if (!comp)
        return;
    comp[0] = comp[1] = 1;
    for (uint32_t i = 2; i * i < lim; i++)
        if (!comp[i])
            for (uint32_t j = i * i; j < lim; j += i)
                comp[j] = 1;
    int ok = 1;
    for (uint32_t i = 0; i < lim; i++)
        if (hers_is_prime(i) != !comp[i])
            ok = 0;
    CHECK(ok);
    free(comp);

    /* strong pseudoprimes to several small bases, Carmichael numbers */
    static const uint64_t composites[] = {
        561, 1105, 1729, 2047, 3215031751ull, 2152302898747ull, 3474749660383ull,
        341550071728321ull, 3825123056546413051ull, 318665857834031151ull,
        4294967297ull /* F5 */, 18446744073709551615ull, 18446744030759878681ull /* (2^32-5)^2 */,
        (uint64_t)4294967291ull * 4294967279ull};
    for (size_t i = 0; i < sizeof composites / sizeof composites[0]; i++) {
        CHECK(!hers_is_prime(composites[i]));
    }
    static const uint64_t primes[] = {2, 3, 4294967291ull, 4294967311ull,
                                      18446744073709551557ull, /* largest 64-bit prime */
                                      (UINT64_C(1) << 61) - 1, 4611686018427387847ull};
    for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++)
        CHECK(hers_is_prime(primes[i]));

    /* random values vs GMP (25 rounds: error < 4^-25 and never for GMP's
     * Baillie-PSW-backed answer on 64-bit inputs) */
    mpz_t z;
    mpz_init(z);
    const int iters = quick() ? 2000 : 20000;
    ok = 1;
    for (int i = 0; i < iters; i++) {
        uint64_t n = test_rand() >> (test_rand() % 60);
        n |= 1;
        mpz_set_ui(z, n);
        int g = mpz_probab_prime_p(z, 25) != 0;
        if (g != hers_is_prime(n)) {
            ok = 0;
            fprintf(stderr, "  is_prime mismatch n=%" PRIu64 "\n", n);
        }
    }
    CHECK(ok);
    mpz_clear(z);
}

static void test_primes_below(void)
{
    static const int bitsv[] = {20, 30, 36, 45, 49, 50, 55, 60, 61, 62};
    static const uint64_t steps[] = {2 * 16, 2 * 1024, 2 * 4096, 2 * 32768, 2 * 4096 * 65537};
    for (size_t bi = 0; bi < sizeof bitsv / sizeof bitsv[0]; bi++) {
        for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
            int bits = bitsv[bi];
            uint64_t step = steps[si];
            if (step > (UINT64_C(1) << (bits - 8)))
                continue;
            uint64_t p[6];
            CHECK_OK(hers_primes_below(bits, step, 6, NULL, 0, p));
            for (int i = 0; i < 6; i++) {
                CHECK(hers_is_prime(p[i]));
                CHECK(p[i] % step == 1);
                CHECK(p[i] < (UINT64_C(1) << bits));
                if (i > 0)
                    CHECK(p[i] < p[i - 1]);
            }
            /* gap-free: no prime = 1 mod step above p[0] or between results */
            for (uint64_t c = p[5] + step; c < (UINT64_C(1) << bits); c += step) {
                int listed = 0;
                for (int i = 0; i < 6; i++)
                    listed |= c == p[i];
                if (!listed && hers_is_prime(c)) {
                    CHECK(!"prime skipped");
                    break;
                }
            }
            /* exclusion: skip p[0] and p[2] */
            uint64_t ex[2] = {p[0], p[2]}, r[4];
            CHECK_OK(hers_primes_below(bits, step, 4, ex, 2, r));
            CHECK(r[0] == p[1] && r[1] == p[3] && r[2] == p[4] && r[3] == p[5]);
        }
    }
    static uint64_t p[1000];
    CHECK_OK(hers_primes_below(2, 2, 1, NULL, 0, p));
    CHECK(p[0] == 3);
    CHECK(hers_primes_below(10, 2048, 1, NULL, 0, p) == HERS_ERR_PARAMS);
    CHECK(hers_primes_below(12, 32, 1000, NULL, 0, p) == HERS_ERR_PARAMS);
    CHECK(hers_primes_below(1, 2, 1, NULL, 0, p) == HERS_ERR_ARG);
    CHECK(hers_primes_below(63, 2, 1, NULL, 0, p) == HERS_ERR_ARG);
    CHECK(hers_primes_below(20, 3, 1, NULL, 0, p) == HERS_ERR_ARG);
    CHECK(hers_primes_below(20, 0, 1, NULL, 0, p) == HERS_ERR_ARG);
}

/* exact multiplicative order of x mod prime q, by brute force (small q) */
static uint64_t order_brute(uint64_t x, uint64_t q)
{
    uint64_t o = 1, y = x % q;
    while (y != 1) {
        y = (uint64_t)(((u128)y * x) % q);
        o++;
    }
    return o;
}

static void test_primitive_root(void)
{
    /* small primes: minimality by brute force, for every divisor order */
    static const uint64_t small[] = {3, 5, 7, 13, 17, 97, 193, 257, 7681, 12289};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        uint64_t q = small[i];
        for (uint64_t order = 1; order < q; order++) {
            if ((q - 1) % order)
                continue;
            uint64_t r;
            CHECK_OK(hers_primitive_root(q, order, &r));
            CHECK(r < q && order_brute(r, q) == order);
            uint64_t minimal = 0;
            for (uint64_t x = 1; x < q; x++)
                if (order_brute(x, q) == order) {
                    minimal = x;
                    break;
                }
            CHECK_EQ_U64(r, minimal);
        }
    }
    /* NTT-sized orders on big primes: r^(2n) = 1 and r^n = -1 (exact order 2n) */
    for (size_t n = 16; n <= 32768; n <<= 1) {
        static const int bitsv[] = {30, 45, 50, 59, 61, 62};
        for (size_t b = 0; b < sizeof bitsv / sizeof bitsv[0]; b++) {
            uint64_t q;
            CHECK_OK(hers_primes_below(bitsv[b], 2 * n, 1, NULL, 0, &q));
            hers_modulus m;
            CHECK_OK(hers_modulus_init(&m, q));
            uint64_t r;
            CHECK_OK(hers_primitive_root(q, 2 * n, &r));
            CHECK(hers_pow_mod(r, 2 * n, &m) == 1);
            CHECK(hers_pow_mod(r, n, &m) == q - 1);
            /* minimal among the odd powers r^k (the primitive roots of order 2n) */
            if (n <= 1024) {
                uint64_t r2 = hers_mul_mod(r, r, &m), cur = r;
                int minimal = 1;
                for (size_t k = 1; k < 2 * n; k += 2) {
                    if (cur < r)
                        minimal = 0;
                    cur = hers_mul_mod(cur, r2, &m);
                }
                CHECK(minimal);
            }
        }
    }
    /* generator of a large group (order q - 1) */
    uint64_t q = 4611686018427387847ull, g;
    CHECK_OK(hers_primitive_root(q, q - 1, &g));
    uint64_t f[64];
    int nf = hers_distinct_prime_factors(q - 1, f);
    hers_modulus m;
    CHECK_OK(hers_modulus_init(&m, q));
    for (int i = 0; i < nf; i++)
        CHECK(hers_pow_mod(g, (q - 1) / f[i], &m) != 1);
    uint64_t r;
    CHECK(hers_primitive_root(97, 7, &r) == HERS_ERR_ARG);
    CHECK(hers_primitive_root(91, 2, &r) == HERS_ERR_ARG);
    CHECK(hers_primitive_root(97, 0, &r) == HERS_ERR_ARG);
}

int main(void)
{
    test_rand_seed(test_seed());
    test_modulus_and_reduction();
    test_pow_inv();
    test_is_prime();
    test_primes_below();
    test_primitive_root();
    return test_finish();
}
