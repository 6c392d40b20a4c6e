/*
 * test_ntt.c - negacyclic NTT and polynomial arithmetic (hers_ntt.h).
 *
 *  - NTT-based negacyclic products equal the schoolbook product computed
 *    exactly with unsigned __int128, n = 16..256, random primes of 30..61 bits;
 *  - the forward output order: a[j] = a(psi^(2 brv(j) + 1));
 *  - inverse(forward(a)) = a for n = 16..32768 (to 4096 with HERS_TEST_QUICK);
 *  - pointwise operations against scalar references;
 *  - every SIMD level the CPU has gives outputs identical to the portable
 *    kernels (bit for bit), on random and edge inputs (0, q-1), for primes
 *    below and above the SIMD bounds;
 *  - tiny primes (a few bits above 2n) on every level;
 *  - random shapes: random n, 20..50-bit primes and inputs, forward, inverse
 *    and out-of-place inverse_to on every level against the portable kernels;
 *  - hers_poly_permute8 (the expansion's block permutation) on every level;
 *  - table creation rejects bad n and q.
 */
#include <stdlib.h>
#include <string.h>

#include "arithmetic/arith_internal.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_ntt.h"
#include "support/check.h"

typedef unsigned __int128 u128;

static int quick(void)
{
    return getenv("HERS_TEST_QUICK") != NULL;
}

/* A random prime q = 1 mod 2n of `bits` bits (one of the 8 largest). */
static uint64_t random_prime(int bits, size_t n)
{
    uint64_t p[8];
    CHECK_OK(hers_primes_below(bits, 2 * n, 8, NULL, 0, p));
    return p[test_rand() % 8];
}

static void fill_random(uint64_t *a, size_t n, uint64_t q, int mode)
{
    for (size_t i = 0; i < n; i++) {
        switch (mode) {
        case 1: a[i] = q - 1; break;
        case 2: a[i] = 0; break;
        case 3: a[i] = (test_rand() & 1) ? q - 1 : test_rand() % 3; break;
        default: a[i] = test_rand() % q; break;
        }
    }
}

static void schoolbook(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t n, uint64_t q)
{
    /* c = a * b mod (X^n + 1, q), exact: accumulate positive and negative parts */
    for (size_t k = 0; k < n; k++) {
        u128 pos = 0, neg = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j;
            u128 prod;
            if (i <= k) {
                j = k - i;
                prod = ((u128)a[i] * b[j]) % q;
                pos += prod;
            } else {
                j = n + k - i;
                prod = ((u128)a[i] * b[j]) % q;
                neg += prod;
            }
        }
        pos %= q;
        neg %= q;
        c[k] = (uint64_t)((pos + q - neg) % q);
    }
}

static int all_below(const uint64_t *a, size_t n, uint64_t q)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] >= q)
            return 0;
    return 1;
}

static void test_products(void)
{
    const int reps = quick() ? 2 : 4;
    for (size_t n = 16; n <= 256; n <<= 1) {
        for (int r = 0; r < reps; r++) {
            int bits = 30 + (int)(test_rand() % 32); /* 30..61 */
            uint64_t q = random_prime(bits, n);
            hers_ntt_table *t;
            CHECK_OK(hers_ntt_table_create(&t, n, q));
            if (!t)
                continue;
            uint64_t *a = hers_alloc_array(n, 8), *b = hers_alloc_array(n, 8);
            uint64_t *c = hers_alloc_array(n, 8), *ref = hers_alloc_array(n, 8);
            uint64_t *fa = hers_alloc_array(n, 8), *fb = hers_alloc_array(n, 8);
            fill_random(a, n, q, r == 1 ? 1 : 0);
            fill_random(b, n, q, r == 1 ? 3 : 0);
            schoolbook(ref, a, b, n, q);
            FOR_EACH_SIMD(level) {
                memcpy(fa, a, n * 8);
                memcpy(fb, b, n * 8);
                hers_ntt_forward(t, fa);
                hers_ntt_forward(t, fb);
                CHECK(all_below(fa, n, q) && all_below(fb, n, q));
                hers_poly_mul(c, fa, fb, n, &t->q);
                hers_ntt_inverse(t, c);
                int same = memcmp(c, ref, n * 8) == 0;
                CHECK(same);
                if (!same)
                    fprintf(stderr, "  product mismatch n=%zu q=%" PRIu64 "\n", n, q);
                /* mul_acc: acc = c_ntt + fa*fb  => inverse gives 2 * ref */
                memcpy(c, fa, n * 8);
                hers_poly_mul(c, fa, fb, n, &t->q);
                hers_poly_mul_acc(c, fa, fb, n, &t->q);
                hers_ntt_inverse(t, c);
                int ok = 1;
                for (size_t i = 0; i < n; i++)
                    ok &= c[i] == hers_add_mod(ref[i], ref[i], q);
                CHECK(ok);
            }
            hers_free(a);
            hers_free(b);
            hers_free(c);
            hers_free(ref);
            hers_free(fa);
            hers_free(fb);
            hers_ntt_table_free(t);
        }
    }
}

static void test_order(void)
{
    static const size_t ns[] = {16, 64, 256};
    for (size_t k = 0; k < 3; k++) {
        size_t n = ns[k];
        uint64_t q = random_prime(40 + (int)(test_rand() % 22), n);
        hers_ntt_table *t;
        CHECK_OK(hers_ntt_table_create(&t, n, q));
        if (!t)
            continue;
        uint64_t psi;
        CHECK_OK(hers_primitive_root(q, 2 * n, &psi));
        CHECK(psi == t->psi);
        uint64_t *a = hers_alloc_array(n, 8), *f = hers_alloc_array(n, 8);
        fill_random(a, n, q, 0);
        FOR_EACH_SIMD(level) {
            memcpy(f, a, n * 8);
            hers_ntt_forward(t, f);
            int ok = 1;
            for (size_t j = 0; j < n; j++) {
                uint64_t x = hers_pow_mod(psi, 2 * hers_bitrev((uint32_t)j, t->log_n) + 1, &t->q);
                uint64_t v = 0;
                for (size_t i = n; i-- > 0;) /* Horner */
                    v = hers_add_mod(hers_mul_mod(v, x, &t->q), a[i], q);
                ok &= f[j] == v;
            }
            CHECK(ok);
        }
        hers_free(a);
        hers_free(f);
        hers_ntt_table_free(t);
    }
}

static void test_roundtrip(void)
{
    const size_t nmax = quick() ? 4096 : 32768;
    static const int bitsv[] = {20, 30, 45, 49, 50, 52, 59, 61, 62};
    for (size_t n = 16; n <= nmax; n <<= 1) {
        for (size_t b = 0; b < sizeof bitsv / sizeof bitsv[0]; b++) {
            if ((UINT64_C(1) << bitsv[b]) < 1024 * n)
                continue;
            if (n >= 4096 && (b % 3) != 0 && bitsv[b] != 50 && bitsv[b] != 62)
                continue; /* keep large sizes cheap */
            uint64_t q = random_prime(bitsv[b], n);
            hers_ntt_table *t;
            CHECK_OK(hers_ntt_table_create(&t, n, q));
            if (!t)
                continue;
            uint64_t *a = hers_alloc_array(n, 8), *f = hers_alloc_array(n, 8);
            uint64_t *ref = hers_alloc_array(n, 8);
            for (int mode = 0; mode < 3; mode++) {
                fill_random(a, n, q, mode);
                memcpy(ref, a, n * 8);
                hers_ntt_forward_portable(t, ref);
                FOR_EACH_SIMD(level) {
                    memcpy(f, a, n * 8);
                    hers_ntt_forward(t, f);
                    CHECK(memcmp(f, ref, n * 8) == 0);
                    /* inverse of an arbitrary [0, q) vector matches portable too */
                    uint64_t *g = hers_alloc_array(n, 8), *h = hers_alloc_array(n, 8);
                    fill_random(g, n, q, mode);
                    memcpy(h, g, n * 8);
                    hers_ntt_inverse_portable(t, h);
                    hers_ntt_inverse(t, g);
                    CHECK(memcmp(g, h, n * 8) == 0);
                    hers_free(g);
                    hers_free(h);
                    hers_ntt_inverse(t, f);
                    int same = memcmp(f, a, n * 8) == 0;
                    CHECK(same);
                    if (!same)
                        fprintf(stderr, "  roundtrip mismatch n=%zu q=%" PRIu64 "\n", n, q);
                }
            }
            hers_free(a);
            hers_free(f);
            hers_free(ref);
            hers_ntt_table_free(t);
        }
    }
}

/* Tiny primes (a few bits above 2n): every level against the schoolbook. */
static void test_small_primes(void)
{
    for (size_t n = 16; n <= 256; n <<= 1) {
        int lg = 0;
        while (((size_t)1 << lg) < 2 * n)
            lg++;
        for (int bits = lg + 2; bits <= lg + 8; bits += 3) {
            uint64_t q;
            if (hers_primes_below(bits, 2 * n, 1, NULL, 0, &q) != HERS_OK)
                continue;
            hers_ntt_table *t;
            CHECK_OK(hers_ntt_table_create(&t, n, q));
            if (!t)
                continue;
            uint64_t *a = hers_alloc_array(n, 8), *b = hers_alloc_array(n, 8);
            uint64_t *c = hers_alloc_array(n, 8), *ref = hers_alloc_array(n, 8);
            fill_random(a, n, q, 0);
            fill_random(b, n, q, 3);
            schoolbook(ref, a, b, n, q);
            FOR_EACH_SIMD(level) {
                memcpy(c, a, n * 8);
                hers_ntt_forward(t, c);
                uint64_t *fb = hers_alloc_array(n, 8);
                memcpy(fb, b, n * 8);
                hers_ntt_forward(t, fb);
                hers_poly_mul(c, c, fb, n, &t->q);
                hers_ntt_inverse(t, c);
                CHECK(memcmp(c, ref, n * 8) == 0);
                hers_free(fb);
            }
            hers_free(a);
            hers_free(b);
            hers_free(c);
            hers_free(ref);
            hers_ntt_table_free(t);
        }
    }
}

static void test_pointwise(void)
{
    const size_t n = 1024 + 3; /* odd tail exercises SIMD remainders */
    static const int bitsv[] = {17, 30, 49, 50, 58, 62};
    uint64_t *a = hers_alloc_array(n, 8), *b = hers_alloc_array(n, 8);
    uint64_t *o = hers_alloc_array(n, 8), *acc = hers_alloc_array(n, 8);
    int8_t *e8 = hers_alloc_array(n, 1);
    for (size_t k = 0; k < sizeof bitsv / sizeof bitsv[0]; k++) {
        uint64_t q = random_prime(bitsv[k], 16);
        hers_modulus m;
        CHECK_OK(hers_modulus_init(&m, q));
        for (int mode = 0; mode < 4; mode++) {
            fill_random(a, n, q, mode == 3 ? 3 : 0);
            fill_random(b, n, q, mode == 1 ? 1 : mode == 2 ? 3 : 0);
            uint64_t s = mode == 1 ? q - 1 : test_rand() % q;
            FOR_EACH_SIMD(level) {
                int ok_add = 1, ok_sub = 1, ok_neg = 1, ok_mul = 1, ok_acc = 1, ok_sc = 1;
                hers_poly_add(o, a, b, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_add &= o[i] == (uint64_t)(((u128)a[i] + b[i]) % q);
                hers_poly_sub(o, a, b, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_sub &= o[i] == (uint64_t)(((u128)a[i] + q - b[i]) % q);
                hers_poly_neg(o, a, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_neg &= o[i] == (q - a[i]) % q;
                hers_poly_mul(o, a, b, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_mul &= o[i] == (uint64_t)(((u128)a[i] * b[i]) % q);
                for (size_t i = 0; i < n; i++)
                    acc[i] = b[n - 1 - i];
                hers_poly_mul_acc(acc, a, b, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_acc &= acc[i] == (uint64_t)(((u128)a[i] * b[i] + b[n - 1 - i]) % q);
                hers_poly_mul_scalar(o, a, s, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_sc &= o[i] == (uint64_t)(((u128)a[i] * s) % q);
                /* scaled plus a small error, extremes +-127 included; n - 1
                 * values leave a scalar tail in the SIMD passes */
                for (size_t i = 0; i < n; i++)
                    e8[i] = (int8_t)(i % 4 == 0 ? 127 : i % 4 == 1 ? -127 : (int)(test_rand() % 255) - 127);
                hers_poly_mul_scalar_add_small(o, a, s, e8, n - 1, &m);
                for (size_t i = 0; i + 1 < n; i++)
                    ok_sc &= o[i] == (uint64_t)(((u128)a[i] * s % q + (uint64_t)((int64_t)q + e8[i])) % q);
                /* aliasing: out == a */
                memcpy(o, a, n * 8);
                hers_poly_mul(o, o, b, n, &m);
                for (size_t i = 0; i < n; i++)
                    ok_mul &= o[i] == (uint64_t)(((u128)a[i] * b[i]) % q);
                /* the expansion's split: r = (c - t) m, c = c + t (m = the
                 * reversed b, c = a, t = b) */
                int ok_split = 1;
                memcpy(o, a, n * 8);
                for (size_t i = 0; i < n; i++)
                    acc[i] = b[n - 1 - i];
                uint64_t *r = hers_alloc_array(n, 8);
                hers_poly_split(o, r, b, acc, n, &m);
                for (size_t i = 0; i < n; i++) {
                    ok_split &= o[i] == (uint64_t)(((u128)a[i] + b[i]) % q);
                    ok_split &= r[i] == (uint64_t)(((u128)((a[i] + q - b[i]) % q) * acc[i]) % q);
                }
                hers_free(r);
                CHECK(ok_split);
                /* key-switching digits: balance (H of two 25-bit digits,
                 * edges q/2 and q/2 + 1 included), then every shift */
                int ok_dig = 1;
                uint64_t H = (UINT64_C(1) << 24) + (UINT64_C(1) << 49);
                memcpy(o, a, n * 8);
                o[0] = q / 2;
                o[1] = q / 2 + 1;
                hers_poly_balance(o, n, q, H);
                for (size_t i = 0; i < n; i++) {
                    uint64_t x = i == 0 ? q / 2 : i == 1 ? q / 2 + 1 : a[i];
                    ok_dig &= o[i] == (x > q / 2 ? x + H - q : x + H);
                }
                /* digits u < q, centred by c = q - 2^(w-1) or the edge
                 * c = q - 1 (u + c up to 2q - 2) */
                for (unsigned sh = 0; sh < 64; sh += 7) {
                    int wb = bitsv[k] - 1 < 25 ? bitsv[k] - 1 : 25;
                    uint64_t mk = (UINT64_C(1) << wb) - 1;
                    uint64_t cc = sh % 2 ? q - 1 : q - (UINT64_C(1) << (wb - 1));
                    hers_poly_digit(acc, o, sh, mk, cc, q, n);
                    for (size_t i = 0; i < n; i++) {
                        uint64_t v = ((o[i] >> sh) & mk) + cc;
                        ok_dig &= acc[i] == (v >= q ? v - q : v);
                    }
                }
                CHECK(ok_dig);
                CHECK(ok_add);
                CHECK(ok_sub);
                CHECK(ok_neg);
                CHECK(ok_mul);
                CHECK(ok_acc);
                CHECK(ok_sc);
            }
        }
    }
    /* every modulus size 2..62 (any odd q, not only primes), edge operands */
    int ok = 1;
    for (int bits = 2; bits <= 62; bits++) {
        for (int rep = 0; rep < 3; rep++) {
            uint64_t q = rep == 0 ? (UINT64_C(1) << bits) - 1
                                  : (test_rand() >> (64 - bits)) | (UINT64_C(1) << (bits - 1)) | 1;
            if (q < 3)
                q = 3;
            hers_modulus m;
            CHECK_OK(hers_modulus_init(&m, q));
            for (size_t i = 0; i < 64; i++) {
                a[i] = (i % 5 == 0) ? q - 1 : test_rand() % q;
                b[i] = (i % 7 == 0) ? q - 1 : test_rand() % q;
                acc[i] = (i % 3 == 0) ? q - 1 : test_rand() % q;
            }
            FOR_EACH_SIMD(level) {
                hers_poly_mul(o, a, b, 64, &m);
                for (size_t i = 0; i < 64; i++)
                    ok &= o[i] == (uint64_t)(((u128)a[i] * b[i]) % q);
                memcpy(o, acc, 64 * 8);
                hers_poly_mul_acc(o, a, b, 64, &m);
                for (size_t i = 0; i < 64; i++)
                    ok &= o[i] == (uint64_t)(((u128)a[i] * b[i] + acc[i]) % q);
            }
        }
    }
    CHECK(ok);
    hers_free(a);
    hers_free(b);
    hers_free(o);
    hers_free(acc);
    hers_free(e8);
}

static void test_table_errors(void)
{
    hers_ntt_table *t = (hers_ntt_table *)1;
    uint64_t q;
    CHECK_OK(hers_primes_below(40, 2 * 65536, 1, NULL, 0, &q));
    CHECK(hers_ntt_table_create(&t, 8, q) == HERS_ERR_ARG);
    CHECK(t == NULL);
    CHECK(hers_ntt_table_create(&t, 65536, q) == HERS_ERR_ARG);
    CHECK(hers_ntt_table_create(&t, 1000, q) == HERS_ERR_ARG);
    CHECK(hers_ntt_table_create(&t, 1024, q + 2 * 1024) == HERS_ERR_ARG || hers_is_prime(q + 2048));
    CHECK(hers_ntt_table_create(&t, 1024, 12289 * 2 - 1) == HERS_ERR_ARG); /* not 1 mod 2048 */
    CHECK(hers_ntt_table_create(&t, 1024, 12289) == HERS_OK);
    hers_ntt_table_free(t);
    CHECK(hers_ntt_table_create(NULL, 1024, 12289) == HERS_ERR_ARG);
    hers_ntt_table_free(NULL);
}

/* hers_poly_dot: out = add + sum_t a_t b_t, against 128-bit arithmetic, at
 * every SIMD level: term counts 0..40 (chunks of 16 in the IFMA kernel),
 * all-(q-1) operands (the largest unreduced sums), strides, out == add. */
static void test_dot(void)
{
    const size_t n = 67, T = 40, as = 80, bs = 96;
    static const int bitsv[] = {17, 30, 49, 50, 58, 62};
    uint64_t *a = hers_alloc_array(T * as, 8), *b = hers_alloc_array(T * bs, 8);
    uint64_t *add = hers_alloc_array(n, 8), *o = hers_alloc_array(n, 8), *ref = hers_alloc_array(n, 8);
    uint64_t *o2 = hers_alloc_array(n, 8);
    int ok = 1;
    for (size_t k = 0; k < sizeof bitsv / sizeof bitsv[0]; k++) {
        uint64_t q = random_prime(bitsv[k], 16);
        hers_modulus m;
        CHECK_OK(hers_modulus_init(&m, q));
        for (int edge = 0; edge < 2; edge++) {
            fill_random(a, T * as, q, edge);
            fill_random(b, T * bs, q, edge);
            fill_random(add, n, q, edge);
            static const size_t terms[] = {0, 1, 2, 4, 15, 16, 17, 33, 39};
            for (size_t ti = 0; ti < sizeof terms / sizeof terms[0]; ti++) {
                size_t tt = terms[ti];
                for (int with_add = 0; with_add < 2; with_add++) {
                    for (size_t i = 0; i < n; i++) {
                        u128 x = with_add ? add[i] : 0;
                        for (size_t t = 0; t < tt; t++)
                            x = (x + (u128)a[t * as + i] * b[t * bs + i]) % q;
                        ref[i] = (uint64_t)x;
                    }
                    FOR_EACH_SIMD(level) {
                        hers_poly_dot(o, with_add ? add : NULL, a, as, b, bs, tt, n, &m);
                        ok &= memcmp(o, ref, n * 8) == 0;
                        memcpy(o, add, n * 8);
                        hers_poly_dot(o, with_add ? o : NULL, a, as, b, bs, tt, n, &m);
                        ok &= memcmp(o, ref, n * 8) == 0;
                        /* dot2: b_t as the first sums, b_{t+1} as the second */
                        memcpy(o, add, n * 8);
                        hers_poly_dot2(o, with_add ? o : NULL, o2, with_add ? add : NULL, a, as, b, b + bs, bs,
                                       tt < T ? tt : T - 1, n, &m);
                        if (tt < T) {
                            ok &= memcmp(o, ref, n * 8) == 0;
                            for (size_t i = 0; i < n; i++) {
                                u128 x = with_add ? add[i] : 0;
                                for (size_t t = 0; t < tt; t++)
                                    x = (x + (u128)a[t * as + i] * b[(t + 1) * bs + i]) % q;
                                ok &= o2[i] == (uint64_t)x;
                            }
                        }
                    }
                }
            }
        }
    }
    CHECK(ok);
    hers_free(a);
    hers_free(b);
    hers_free(add);
    hers_free(o);
    hers_free(o2);
    hers_free(ref);
}

/* hers_poly_switch_split (the expansion's fused key switch + split) against
 * 128-bit arithmetic at every SIMD level: primes of 17..62 bits, 0..17
 * terms (the IFMA kernel's 16-term chunks), monomial runs 2^msh with
 * msh 0..5 (the IFMA kernel takes 0 and >= 3; 1 and 2 go the composed
 * way), all-(q-1) operands, aligned (streamed) and unaligned outputs, a
 * scalar tail (n = 83). */
static void test_switch_split(void)
{
    const size_t n = 83, T = 17, ds = 90, ks = 96;
    static const int bitsv[] = {17, 30, 49, 50, 58, 62};
    uint64_t *dg = hers_alloc_array(T * ds, 8), *kb = hers_alloc_array(2 * T * ks, 8);
    uint64_t *c = hers_alloc_array(2 * n, 8), *t0 = hers_alloc_array(n, 8), *mono = hers_alloc_array(n, 8);
    uint64_t *w = hers_alloc_array(2 * n, 8), *r = hers_alloc_array(2 * n + 16, 8);
    int ok = 1;
    for (size_t k = 0; k < sizeof bitsv / sizeof bitsv[0]; k++) {
        uint64_t q = random_prime(bitsv[k], 16);
        hers_modulus m;
        CHECK_OK(hers_modulus_init(&m, q));
        for (int edge = 0; edge < 2; edge++) {
            fill_random(dg, T * ds, q, edge);
            fill_random(kb, 2 * T * ks, q, edge);
            fill_random(c, 2 * n, q, edge);
            fill_random(t0, n, q, edge);
            fill_random(mono, n, q, edge);
            static const size_t terms[] = {0, 1, 4, 16, 17};
            for (size_t ti = 0; ti < sizeof terms / sizeof terms[0]; ti++) {
                for (unsigned msh = 0; msh <= 5; msh++) {
                    for (size_t off = 0; off < 2; off++) {
                        FOR_EACH_SIMD(level) {
                            size_t tt = terms[ti];
                            memcpy(w, c, 2 * n * 8);
                            uint64_t *r0 = r + off, *r1 = r + off + n + 8;
                            hers_poly_switch_split(w, w + n, r0, r1, t0, dg, ds, kb, kb + T * ks, ks,
                                                   tt, mono, msh, n, &m);
                            for (size_t i = 0; i < n; i++) {
                                u128 x0 = t0[i], x1 = 0;
                                for (size_t u = 0; u < tt; u++) {
                                    x0 = (x0 + (u128)dg[u * ds + i] * kb[u * ks + i]) % q;
                                    x1 = (x1 + (u128)dg[u * ds + i] * kb[T * ks + u * ks + i]) % q;
                                }
                                u128 M = mono[i >> msh];
                                ok &= w[i] == (uint64_t)((c[i] + x0) % q);
                                ok &= w[n + i] == (uint64_t)((c[n + i] + x1) % q);
                                ok &= r0[i] == (uint64_t)((c[i] + q - x0) % q * M % q);
                                ok &= r1[i] == (uint64_t)((c[n + i] + q - x1) % q * M % q);
                            }
                        }
                    }
                }
            }
        }
    }
    CHECK(ok);
    hers_free(dg);
    hers_free(kb);
    hers_free(c);
    hers_free(t0);
    hers_free(mono);
    hers_free(w);
    hers_free(r);
}

/* hers_poly_permute8 at every SIMD level against its definition: a random
 * block permutation with random lane patterns (including repeated lanes,
 * which the definition allows). */
static void test_permute8(void)
{
    const size_t nv = 37, np = 5;
    uint64_t *in = hers_alloc_array(8 * nv, 8), *out = hers_alloc_array(8 * nv, 8);
    uint32_t dst[37];
    uint8_t sel[37];
    int64_t pats[5 * 8];
    for (size_t v = 0; v < nv; v++)
        dst[v] = (uint32_t)v;
    int ok = 1;
    for (int rep = 0; rep < 20; rep++) {
        for (size_t v = nv - 1; v > 0; v--) {
            size_t j = test_rand() % (v + 1);
            uint32_t t = dst[v];
            dst[v] = dst[j];
            dst[j] = t;
        }
        for (size_t v = 0; v < nv; v++)
            sel[v] = (uint8_t)(test_rand() % np);
        for (size_t i = 0; i < 8 * np; i++)
            pats[i] = (int64_t)(test_rand() % 8);
        for (size_t i = 0; i < 8 * nv; i++)
            in[i] = test_rand();
        FOR_EACH_SIMD(level) {
            memset(out, 0, 8 * nv * 8);
            hers_poly_permute8(out, in, dst, sel, pats, nv);
            for (size_t v = 0; v < nv; v++)
                for (size_t l = 0; l < 8; l++)
                    ok &= out[8 * dst[v] + l] == in[8 * v + (size_t)pats[8 * sel[v] + l]];
        }
    }
    CHECK(ok);
    hers_free(in);
    hers_free(out);
}

/* hers_poly_round_bits_q (the compact records' rounding at one prime)
 * against the exact quotient floor((2^K x' + (q - 1)/2) / q) mod 2^keep,
 * x' = x mod q, on every level: odd moduli of 3..62 bits (the IFMA kernel
 * takes q < 2^50 with 2^K < q, the rest is portable), K = 1..52, windows
 * keep <= K, edges x = 0, q - 1, (q -+ 1)/2 and a multiple of q near a
 * rounding boundary; some runs put x >= q in a lane (the kernel's fallback),
 * and n = 203 leaves a tail. */
static void test_round_bits(void)
{
    const size_t n = 203;
    uint64_t *x = hers_alloc_array(n, 8), *y = hers_alloc_array(2 * n, 8);
    int ok = 1;
    for (int bits = 3; bits <= 62; bits++) {
        for (int rep = 0; rep < (quick() ? 2 : 4); rep++) {
            uint64_t q = (test_rand() >> (64 - bits)) | (UINT64_C(1) << (bits - 1)) | 1;
            for (unsigned K = 1; K <= 52; K += 1 + (unsigned)(test_rand() % 4)) {
                unsigned keep = rep % 2 ? K : 1 + (unsigned)(test_rand() % K);
                for (size_t i = 0; i < n; i++)
                    x[i] = test_rand() % q;
                x[0] = 0;
                x[1] = q - 1;
                x[2] = q / 2;
                x[3] = q / 2 + 1;
                /* 2^K x just below a multiple of q: the rounding boundary */
                x[4] = (uint64_t)((((u128)(test_rand() % ((UINT64_C(1) << K) - 0 + 1)) * q) >> K) % q);
                if (rep == 2)
                    x[5 + test_rand() % (n - 5)] = q + test_rand() % q;
                if (rep == 3)
                    x[n - 1] = UINT64_MAX - test_rand() % 5;
                FOR_EACH_SIMD(level) {
                    memset(y, 0xa5, 2 * n * 8);
                    hers_poly_round_bits_q(y, x, n, q, K, keep);
                    for (size_t i = 0; i < n; i++) {
                        u128 num = ((u128)(x[i] % q) << K) + (q >> 1);
                        uint64_t v = (uint64_t)(num / q) & ((UINT64_C(1) << keep) - 1);
                        ok &= y[i] == (v & 0xffffffffu) && y[n + i] == v >> 32;
                    }
                }
            }
        }
    }
    CHECK(ok);
    hers_free(x);
    hers_free(y);
}

/* Random shapes (property test, the run's seed printed by test_seed()):
 * random n = 16..32768 (to 4096 with HERS_TEST_QUICK), random primes of
 * 20..50 bits (the IFMA and AVX2 kernels' range, where their pass
 * structures, in-register groups and lane layouts differ by n), random or
 * edge inputs; forward, inverse and out-of-place inverse_to on every level
 * equal the portable kernels bit for bit, and inverse_to leaves src alone. */
static void test_random_shapes(void)
{
    const int iters = quick() ? 40 : 160, maxlog = quick() ? 12 : 15;
    for (int it = 0; it < iters; it++) {
        const size_t n = (size_t)1 << (4 + test_rand() % (uint64_t)(maxlog - 3));
        int bits = 20 + (int)(test_rand() % 31);
        while ((UINT64_C(1) << bits) < 1024 * n)
            bits++;
        const uint64_t q = random_prime(bits, n);
        hers_ntt_table *t;
        CHECK_OK(hers_ntt_table_create(&t, n, q));
        if (!t)
            continue;
        uint64_t *a = hers_alloc_array(n, 8), *fr = hers_alloc_array(n, 8);
        uint64_t *ir = hers_alloc_array(n, 8), *x = hers_alloc_array(n, 8);
        uint64_t *src = hers_alloc_array(n, 8);
        fill_random(a, n, q, (int)(test_rand() % 4));
        memcpy(fr, a, n * 8);
        hers_ntt_forward_portable(t, fr);
        memcpy(ir, a, n * 8);
        hers_ntt_inverse_portable(t, ir);
        FOR_EACH_SIMD(level) {
            memcpy(x, a, n * 8);
            hers_ntt_forward(t, x);
            int ok = memcmp(x, fr, n * 8) == 0;
            memcpy(x, a, n * 8);
            hers_ntt_inverse(t, x);
            ok &= memcmp(x, ir, n * 8) == 0;
            memcpy(src, a, n * 8);
            memset(x, 0xa5, n * 8);
            hers_ntt_inverse_to(t, src, x);
            ok &= memcmp(x, ir, n * 8) == 0 && memcmp(src, a, n * 8) == 0;
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "  random shape mismatch: level %s n=%zu q=%" PRIu64 "\n",
                        hers_simd_name(level), n, q);
        }
        hers_free(a);
        hers_free(fr);
        hers_free(ir);
        hers_free(x);
        hers_free(src);
        hers_ntt_table_free(t);
    }
}

int main(void)
{
    test_rand_seed(test_seed());
    test_table_errors();
    test_order();
    test_products();
    test_small_primes();
    test_pointwise();
    test_dot();
    test_switch_split();
    test_permute8();
    test_round_bits();
    test_roundtrip();
    test_random_shapes();
    return test_finish();
}
