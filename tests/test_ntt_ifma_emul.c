/*
 * test_ntt_ifma_emul.c - validates the AVX-512 IFMA kernels without
 * AVX-512 hardware: src/arithmetic/ntt_ifma_kernel.h (the exact source of
 * ntt_avx512.c) is compiled here against tests/support/avx512_emul.h, a
 * scalar model of its intrinsics, and every function is compared bit for
 * bit with the portable kernels: NTT / inverse NTT for n = 16..32768 (to
 * 4096 with HERS_TEST_QUICK) and primes of 20..50 bits, and add, sub, neg,
 * mul, mul_acc, mul_scalar on random and edge inputs for moduli of every
 * bit length 2..50 (Barrett with a 52-bit multiplier). Lengths that are not
 * multiples of 8 exercise the scalar tails. The intrinsic model itself is
 * checked on known values first.
 */
#include <stdlib.h>
#include <string.h>

#include "support/avx512_emul.h"
#include "support/check.h"

#define HERS_IFMA_FN(x) x##_emul
#include "arithmetic/ntt_ifma_kernel.h"

#include "hers/hers_mem.h"

typedef unsigned __int128 u128;

static int quick(void)
{
    return getenv("HERS_TEST_QUICK") != NULL;
}

static void test_model(void)
{
    const uint64_t m52 = (UINT64_C(1) << 52) - 1;
    __m512i a = _mm512_set1_epi64((long long)m52), z = _mm512_setzero_si512();
    __m512i hi = _mm512_madd52hi_epu64(z, a, a), lo = _mm512_madd52lo_epu64(z, a, a);
    /* (2^52-1)^2 = 2^104 - 2^53 + 1: hi = 2^52 - 2, lo = 1 */
    CHECK(hi.v[3] == m52 - 1 && lo.v[5] == 1);
    /* upper 12 bits of the multiplicands are ignored; the addend is full 64-bit */
    __m512i b = _mm512_set1_epi64((long long)(UINT64_MAX)), c = _mm512_set1_epi64(3);
    __m512i acc = _mm512_set1_epi64((long long)(UINT64_C(1) << 60));
    lo = _mm512_madd52lo_epu64(acc, b, c);
    CHECK(lo.v[0] == (UINT64_C(1) << 60) + ((3 * m52) & m52));
    int64_t idx[8] = {0, 8, 1, 9, 15, 7, 14, 6};
    uint64_t x[8], y[8], out[8];
    for (int i = 0; i < 8; i++) {
        x[i] = (uint64_t)i;
        y[i] = 100 + (uint64_t)i;
    }
    _mm512_storeu_si512(out, _mm512_permutex2var_epi64(_mm512_loadu_si512(x),
                                                       _mm512_loadu_si512(idx),
                                                       _mm512_loadu_si512(y)));
    CHECK(out[0] == 0 && out[1] == 100 && out[2] == 1 && out[3] == 101 && out[4] == 107 &&
          out[5] == 7 && out[6] == 106 && out[7] == 6);
    /* unpack: a0 b0 a2 b2 ... / a1 b1 a3 b3 ...; shuffle_i64x2 0x8d picks
     * 128-bit units a1, a3, b0, b2 */
    __m512i X = _mm512_loadu_si512(x), Y = _mm512_loadu_si512(y);
    _mm512_storeu_si512(out, _mm512_unpacklo_epi64(X, Y));
    CHECK(out[0] == 0 && out[1] == 100 && out[2] == 2 && out[3] == 102 && out[6] == 6 &&
          out[7] == 106);
    _mm512_storeu_si512(out, _mm512_unpackhi_epi64(X, Y));
    CHECK(out[0] == 1 && out[1] == 101 && out[4] == 5 && out[5] == 105 && out[7] == 107);
    _mm512_storeu_si512(out, _mm512_shuffle_i64x2(X, Y, 0x8d));
    CHECK(out[0] == 2 && out[1] == 3 && out[2] == 6 && out[3] == 7 && out[4] == 100 &&
          out[5] == 101 && out[6] == 104 && out[7] == 105);
    __m512i m = _mm512_min_epu64(_mm512_set1_epi64(-1), _mm512_set1_epi64(5));
    CHECK(m.v[7] == 5);
}

static void test_ntt(void)
{
    static const int bitsv[] = {20, 30, 40, 45, 49, 50};
    const size_t nmax = quick() ? 4096 : 32768;
    for (size_t n = 16; n <= nmax; n <<= 1) {
        for (size_t b = 0; b < sizeof bitsv / sizeof bitsv[0]; b++) {
            if ((UINT64_C(1) << bitsv[b]) < 64 * n)
                continue;
            uint64_t ps[4];
            CHECK_OK(hers_primes_below(bitsv[b], 2 * n, 4, NULL, 0, ps));
            uint64_t q = ps[test_rand() % 4];
            hers_ntt_table *t;
            CHECK_OK(hers_ntt_table_create(&t, n, q));
            if (!t)
                continue;
            uint64_t *x = hers_alloc_array(n, 8), *y = hers_alloc_array(n, 8);
            uint64_t *z = hers_alloc_array(n, 8);
            for (int mode = 0; mode < 3; mode++) {
                for (size_t i = 0; i < n; i++)
                    x[i] = mode == 0 ? test_rand() % q : mode == 1 ? q - 1 : (test_rand() & 1) * (q - 1);
                memcpy(y, x, n * 8);
                hers_ntt_forward_portable(t, x);
                hers_ntt_forward_emul(t, y);
                int same = memcmp(x, y, n * 8) == 0;
                CHECK(same);
                if (!same)
                    fprintf(stderr, "  forward mismatch n=%zu q=%" PRIu64 "\n", n, q);
                /* inverse of the transformed vector (also arbitrary [0, q) data),
                 * out of place (the copy fused into the first pass) into z */
                hers_ntt_inverse_portable(t, x);
                hers_ntt_inverse_to_emul(t, y, z);
                hers_ntt_inverse_emul(t, y);
                same = memcmp(x, y, n * 8) == 0 && memcmp(x, z, n * 8) == 0;
                CHECK(same);
                if (!same)
                    fprintf(stderr, "  inverse mismatch n=%zu q=%" PRIu64 "\n", n, q);
            }
            hers_free(x);
            hers_free(y);
            hers_free(z);
            hers_ntt_table_free(t);
        }
    }
}

static uint64_t pick(uint64_t q, int mode)
{
    uint64_t r = test_rand();
    if (mode == 1 || (mode == 2 && (r & 3) == 0))
        return q - 1;
    if (mode == 2 && (r & 3) == 1)
        return 0;
    return r % q;
}

/* Case rep's modulus of `bits` bits (2..50): 2^bits - 1 first, then random
 * values with the top bit set; at least 3. */
static uint64_t pick_modulus(int bits, int rep)
{
    uint64_t q = rep == 0 ? (UINT64_C(1) << bits) - 1
                          : (test_rand() >> (64 - bits)) | (UINT64_C(1) << (bits - 1));
    return q < 3 ? 3 : q;
}

static void test_pointwise(void)
{
    const size_t n = 203; /* 25 vectors of 8 and a tail of 3 */
    uint64_t *a = hers_alloc_array(n, 8), *b = hers_alloc_array(n, 8);
    uint64_t *o1 = hers_alloc_array(n, 8), *o2 = hers_alloc_array(n, 8);
    int ok = 1;
    for (int bits = 2; bits <= 50; bits++) {
        for (int rep = 0; rep < (quick() ? 3 : 12); rep++) {
            uint64_t q = pick_modulus(bits, rep);
            hers_modulus m;
            CHECK_OK(hers_modulus_init(&m, q));
            int mode = rep % 3;
            for (size_t i = 0; i < n; i++) {
                a[i] = pick(q, mode);
                b[i] = pick(q, mode == 1 ? 2 : mode);
            }
            uint64_t s = pick(q, mode);
            hers_poly_mul_portable(o1, a, b, n, &m);
            hers_poly_mul_emul(o2, a, b, n, &m);
            ok &= memcmp(o1, o2, n * 8) == 0;
            for (size_t i = 0; i < n; i++)
                o1[i] = o2[i] = b[n - 1 - i];
            hers_poly_mul_acc_portable(o1, a, b, n, &m);
            hers_poly_mul_acc_emul(o2, a, b, n, &m);
            ok &= memcmp(o1, o2, n * 8) == 0;
            for (size_t i = 0; i < n; i++)
                o1[i] = (uint64_t)(((u128)a[i] * s) % q);
            hers_poly_mul_scalar_emul(o2, a, s, n, &m);
            ok &= memcmp(o1, o2, n * 8) == 0;
            for (size_t i = 0; i < n; i++)
                o1[i] = hers_add_mod(a[i], b[i], q);
            hers_poly_add_emul(o2, a, b, n, q);
            ok &= memcmp(o1, o2, n * 8) == 0;
            for (size_t i = 0; i < n; i++)
                o1[i] = hers_sub_mod(a[i], b[i], q);
            hers_poly_sub_emul(o2, a, b, n, q);
            ok &= memcmp(o1, o2, n * 8) == 0;
            for (size_t i = 0; i < n; i++)
                o1[i] = o2[i] = a[i];
            {
                uint64_t r1[203], r2[203], mono[203];
                for (size_t i = 0; i < n; i++)
                    mono[i] = b[n - 1 - i];
                hers_poly_split_portable(o1, r1, b, mono, n, &m);
                hers_poly_split_emul(o2, r2, b, mono, n, &m);
                ok &= memcmp(o1, o2, n * 8) == 0 && memcmp(r1, r2, n * 8) == 0;
                /* balance + digit against the scalar formulas */
                uint64_t H = UINT64_C(1) << (bits > 2 ? bits - 1 : 1);
                for (size_t i = 0; i < n; i++)
                    o1[i] = o2[i] = a[i];
                hers_poly_balance_emul(o2, n, q, H);
                for (size_t i = 0; i < n; i++)
                    ok &= o2[i] == (o1[i] > q / 2 ? o1[i] + H - q : o1[i] + H);
                /* digits below q (mask 2^(bits-1) - 1), centred by q - 1 (the
                 * largest sum, 2q - 2) and by q - 2^(bits-2) */
                uint64_t mk = (UINT64_C(1) << (bits - 1)) - 1;
                for (int e = 0; e < 2; e++) {
                    uint64_t cc = e ? q - 1 : q - (UINT64_C(1) << (bits > 2 ? bits - 2 : 0));
                    unsigned sh = (unsigned)bits / 2 + (unsigned)e;
                    hers_poly_digit_emul(r2, o2, sh, mk, cc, q, n);
                    for (size_t i = 0; i < n; i++) {
                        uint64_t v = ((o2[i] >> sh) & mk) + cc;
                        ok &= r2[i] == (v >= q ? v - q : v);
                    }
                }
            }
            for (size_t i = 0; i < n; i++)
                o1[i] = hers_neg_mod(a[i], q);
            hers_poly_neg_emul(o2, a, n, q);
            ok &= memcmp(o1, o2, n * 8) == 0;
            if (!ok) {
                fprintf(stderr, "  pointwise mismatch q=%" PRIu64 " mode %d\n", q, mode);
                break;
            }
        }
    }
    CHECK(ok);
    /* exhaustive for tiny moduli: every (a, b) pair */
    for (uint64_t q = 3; q < 40; q += 2) {
        hers_modulus m;
        CHECK_OK(hers_modulus_init(&m, q));
        uint64_t av[8], bv[8], ov[8];
        for (uint64_t x = 0; x < q; x++) {
            for (uint64_t y = 0; y < q; y += 8) {
                for (int l = 0; l < 8; l++) {
                    av[l] = x;
                    bv[l] = (y + (uint64_t)l) % q;
                }
                hers_poly_mul_emul(ov, av, bv, 8, &m);
                for (int l = 0; l < 8; l++)
                    ok &= ov[l] == (x * bv[l]) % q;
            }
        }
    }
    CHECK(ok);
    hers_free(a);
    hers_free(b);
    hers_free(o1);
    hers_free(o2);
}

/* hers_poly_dot: the IFMA kernel against the portable one, moduli of every
 * bit length 2..50, up to 40 terms (more than one chunk of 16), edge
 * operands (all q - 1: the largest unreduced sums). */
static void test_dot(void)
{
    const size_t n = 21, T = 40;
    uint64_t *a = hers_alloc_array(T * n, 8), *b = hers_alloc_array(T * n, 8);
    uint64_t *add = hers_alloc_array(n, 8), *o1 = hers_alloc_array(n, 8), *o2 = hers_alloc_array(n, 8);
    int ok = 1;
    for (int bits = 2; bits <= 50; bits++) {
        for (int rep = 0; rep < 4; rep++) {
            uint64_t q = pick_modulus(bits, rep);
            hers_modulus m;
            CHECK_OK(hers_modulus_init(&m, q));
            int mode = rep % 3;
            for (size_t i = 0; i < T * n; i++) {
                a[i] = pick(q, mode);
                b[i] = pick(q, mode);
            }
            for (size_t i = 0; i < n; i++)
                add[i] = pick(q, mode);
            for (size_t tt = 0; tt <= T; tt += (tt < 18 ? 1 : 11)) {
                hers_poly_dot_portable(o1, add, a, n, b, n, tt, n, &m);
                hers_poly_dot_emul(o2, add, a, n, b, n, tt, n, &m);
                ok &= memcmp(o1, o2, n * 8) == 0;
                hers_poly_dot_portable(o1, NULL, a, n, b, n, tt, n, &m);
                hers_poly_dot_emul(o2, NULL, a, n, b, n, tt, n, &m);
                ok &= memcmp(o1, o2, n * 8) == 0;
                if (tt < T) { /* dot2 with b_t and b_{t+1} */
                    uint64_t *o3 = o1 + 0, tmp[64];
                    hers_poly_dot_portable(tmp, b + T * n - n, a, n, b + n, n, tt, n, &m);
                    hers_poly_dot2_emul(o2, add, o3, b + T * n - n, a, n, b, b + n, n, tt, n, &m);
                    ok &= memcmp(o3, tmp, n * 8) == 0;
                    hers_poly_dot_portable(tmp, add, a, n, b, n, tt, n, &m);
                    ok &= memcmp(o2, tmp, n * 8) == 0;
                }
            }
        }
    }
    CHECK(ok);
    hers_free(a);
    hers_free(b);
    hers_free(add);
    hers_free(o1);
    hers_free(o2);
}

/* hers_poly_switch_split: the IFMA kernel against the two passes it fuses
 * (portable dot and split), moduli of 2..50 bits, up to 17 terms, monomial
 * runs of 1 and 8 (msh 0 and 3), a scalar tail (n = 21). */
static void test_switch_split(void)
{
    const size_t n = 21, T = 17;
    uint64_t *a = hers_alloc_array(T * n, 8), *b = hers_alloc_array(2 * T * n, 8);
    uint64_t *c = hers_alloc_array(2 * n, 8), *t0 = hers_alloc_array(n, 8), *mono = hers_alloc_array(n, 8);
    uint64_t *w1 = hers_alloc_array(2 * n, 8), *w2 = hers_alloc_array(2 * n, 8);
    uint64_t *r1 = hers_alloc_array(2 * n, 8), *r2 = hers_alloc_array(2 * n, 8);
    uint64_t T0[21], T1[21], M[21];
    int ok = 1;
    for (int bits = 2; bits <= 50; bits++) {
        for (int rep = 0; rep < 3; rep++) {
            uint64_t q = pick_modulus(bits, rep);
            hers_modulus m;
            CHECK_OK(hers_modulus_init(&m, q));
            int mode = rep % 3;
            for (size_t i = 0; i < T * n; i++)
                a[i] = pick(q, mode);
            for (size_t i = 0; i < 2 * T * n; i++)
                b[i] = pick(q, mode);
            for (size_t i = 0; i < 2 * n; i++)
                c[i] = pick(q, mode);
            for (size_t i = 0; i < n; i++) {
                t0[i] = pick(q, mode);
                mono[i] = pick(q, mode);
            }
            for (size_t tt = 0; tt <= T; tt += (tt < 4 ? 1 : 13)) {
                for (unsigned msh = 0; msh <= 3; msh += 3) {
                    hers_poly_dot_portable(T0, t0, a, n, b, n, tt, n, &m);
                    hers_poly_dot_portable(T1, NULL, a, n, b + T * n, n, tt, n, &m);
                    for (size_t i = 0; i < n; i++)
                        M[i] = mono[i >> msh];
                    memcpy(w1, c, 2 * n * 8);
                    memcpy(w2, c, 2 * n * 8);
                    hers_poly_split_portable(w1, r1, T0, M, n, &m);
                    hers_poly_split_portable(w1 + n, r1 + n, T1, M, n, &m);
                    hers_poly_switch_split_emul(w2, w2 + n, r2, r2 + n, t0, a, n, b, b + T * n, n, tt,
                                                mono, msh, n, &m);
                    ok &= memcmp(w1, w2, 2 * n * 8) == 0 && memcmp(r1, r2, 2 * n * 8) == 0;
                }
            }
        }
    }
    CHECK(ok);
    hers_free(a);
    hers_free(b);
    hers_free(c);
    hers_free(t0);
    hers_free(mono);
    hers_free(w1);
    hers_free(w2);
    hers_free(r1);
    hers_free(r2);
}

/* hers_poly_permute8: the IFMA kernel's lane permutes against the
 * definition, random block order and lane patterns. */
static void test_permute8(void)
{
    const size_t nv = 19;
    uint64_t in[19 * 8], out[19 * 8];
    uint32_t dst[19];
    uint8_t sel[19];
    int64_t pats[3 * 8];
    int ok = 1;
    for (int rep = 0; rep < 10; rep++) {
        for (size_t v = 0; v < nv; v++)
            dst[v] = (uint32_t)((v * 7 + (size_t)rep) % nv);
        for (size_t v = 0; v < nv; v++)
            sel[v] = (uint8_t)(test_rand() % 3);
        for (size_t i = 0; i < 3 * 8; i++)
            pats[i] = (int64_t)(test_rand() % 8);
        for (size_t i = 0; i < 8 * nv; i++)
            in[i] = test_rand();
        hers_poly_permute8_emul(out, in, dst, sel, pats, nv);
        for (size_t v = 0; v < nv; v++)
            for (size_t l = 0; l < 8; l++)
                ok &= out[8 * dst[v] + l] == in[8 * v + (size_t)pats[8 * sel[v] + l]];
    }
    CHECK(ok);
}

/* The rounding kernel (hers_poly_round_bits_q) against the portable one,
 * for every q < 2^50 and K with 2^K < q (its contract), keep <= K, edge
 * values, and x >= q in one lane (the portable fallback). */
static void test_round_bits(void)
{
    const size_t n = 203;
    uint64_t x[203], y1[406], y2[406];
    int ok = 1;
    for (int bits = 3; bits <= 49; bits++) {
        for (int rep = 0; rep < (quick() ? 2 : 6); rep++) {
            uint64_t q = (test_rand() >> (64 - bits)) | (UINT64_C(1) << (bits - 1)) | 1;
            for (unsigned K = 1; (UINT64_C(1) << K) < q; K++) {
                unsigned keep = rep % 2 ? K : 1 + (unsigned)(test_rand() % K);
                for (size_t i = 0; i < n; i++)
                    x[i] = rep == 4 ? q - 1 - test_rand() % 3 : test_rand() % q;
                x[0] = 0;
                x[1] = q - 1;
                x[2] = q / 2;
                x[3] = q / 2 + 1;
                if (rep == 5)
                    x[test_rand() % n] = q + test_rand() % 7;
                hers_poly_round_bits_q_portable(y1, x, n, q, K, keep);
                hers_poly_round_bits_q_emul(y2, x, n, q, K, keep);
                ok &= memcmp(y1, y2, sizeof y1) == 0;
            }
        }
    }
    CHECK(ok);
}

int main(void)
{
    test_rand_seed(test_seed());
    test_model();
    test_ntt();
    test_pointwise();
    test_dot();
    test_switch_split();
    test_permute8();
    test_round_bits();
    return test_finish();
}
