/* test_galois.c - Galois automorphisms, Galois keys, key switching,
 * coefficient expansion and the compressed c0 upload form:
 *   - tau_g on ciphertexts decrypts to tau_g of the plaintext (coefficient
 *     oracle), in NTT and coefficient form, identical at every SIMD level;
 *   - GMP oracle: every key entry composes (CRT, big integers) to
 *     -a s + e + 2^(wj) [1 mod q_i] tau(s) + a s with |e| <= 21;
 *   - measured noise after a key switch / an expansion within the tested
 *     worst-case bound (hers_galois_noise, hers_expand_noise);
 *   - expansion: d in {1, 2, 3, 5, 8, 17, N/2 + 1, N} (non-powers of two,
 *     d > N/2) gives the constants 2^(e_i) m_i;
 *   - compressed c0: GMP check |c0' - c0| <= Q / 2^K;
 *   - Galois key records round trip; corrupted ones are refused. */
#include <gmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_serial.h"
#include "support/bfv_test.h"
#include "support/check.h"

/* x (k x n RNS, coefficient form) -> n centred big integers mod Q. */
static void compose(const hers_params *p, const uint64_t *x, mpz_t *out, mpz_t Q)
{
    size_t k = hers_params_num_primes(p), n = hers_params_n(p);
    mpz_t term, qi, mi, inv, half;
    mpz_inits(term, qi, mi, inv, half, NULL);
    mpz_set_ui(Q, 1);
    for (size_t i = 0; i < k; i++)
        mpz_mul_ui(Q, Q, hers_params_prime(p, i));
    mpz_fdiv_q_2exp(half, Q, 1);
    for (size_t c = 0; c < n; c++)
        mpz_set_ui(out[c], 0);
    for (size_t i = 0; i < k; i++) {
        mpz_set_ui(qi, hers_params_prime(p, i));
        mpz_divexact(mi, Q, qi);
        mpz_invert(inv, mi, qi);
        mpz_mul(inv, inv, mi); /* 1 mod q_i, 0 mod the others */
        for (size_t c = 0; c < n; c++) {
            mpz_mul_ui(term, inv, x[i * n + c]);
            mpz_add(out[c], out[c], term);
        }
    }
    for (size_t c = 0; c < n; c++) {
        mpz_mod(out[c], out[c], Q);
        if (mpz_cmp(out[c], half) > 0)
            mpz_sub(out[c], out[c], Q);
    }
    mpz_clears(term, qi, mi, inv, half, NULL);
}

static void random_pt(const hers_params *p, hers_plaintext *pt, size_t count)
{
    uint64_t t = hers_params_t(p);
    int64_t *v = calloc(hers_params_n(p), sizeof *v);
    for (size_t i = 0; i < count; i++)
        v[i] = (int64_t)(test_rand() % t);
    CHECK_OK(hers_encode_coeff(p, v, count, pt));
    free(v);
}

/* Noise budget a BFV ciphertext keeps with |e| <= e_max (as
 * hers_noise_budget measures it: |[t x]_Q| <= t/2 + t e_max). */
static double budget_for(const hers_params *p, double e_max)
{
    double t = (double)hers_params_t(p);
    return hers_params_log_q(p) - 1 - log2(t / 2 + t * e_max);
}

static void test_automorphism(hers_params *p, const char *name)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    uint32_t el[4] = {3, 5, (uint32_t)(2 * n - 1), (uint32_t)(n + 1)};
    hers_galois_key *gk = NULL;
    seed[0] ^= 1;
    CHECK_OK(hers_keygen_galois_seeded(p, sk, el, 4, 0, seed, &gk));
    double kw = 0, ks = 0;
    CHECK_OK(hers_galois_noise(p, 0, &kw, &ks));
    double worst_budget = budget_for(p, 21 + kw), heur_budget = budget_for(p, 7 * sqrt(10.5 + ks * ks));
    hers_plaintext pt = {0}, want = {0}, got = {0};
    hers_ciphertext ct = {0}, out = {0}, outc = {0};
    random_pt(p, &pt, n);
    CHECK_OK(hers_encrypt_secret(p, sk, &pt, &ct));
    double min_budget = 1e9;
    for (size_t e = 0; e < 4; e++) {
        CHECK_OK(hers_plaintext_galois(p, el[e], &pt, &want));
        CHECK_OK(hers_apply_galois(p, gk, el[e], &ct, &out));
        CHECK_OK(hers_decrypt(p, sk, &out, &got));
        CHECK(memcmp(got.coeffs, want.coeffs, n * sizeof(uint64_t)) == 0);
        double b = 0;
        CHECK_OK(hers_noise_budget(p, sk, &out, &b));
        if (b < min_budget)
            min_budget = b;
        /* coefficient-form input gives the same ciphertext */
        CHECK_OK(hers_ciphertext_copy(&ct, &outc));
        CHECK_OK(hers_ciphertext_from_ntt(p, &outc));
        CHECK_OK(hers_apply_galois(p, gk, el[e], &outc, &outc));
        CHECK(!outc.ntt_form);
        CHECK_OK(hers_ciphertext_to_ntt(p, &outc));
        CHECK(memcmp(outc.data, out.data, 2 * k * n * sizeof(uint64_t)) == 0);
    }
    printf("  %s: key switch budget %.1f bits (worst-case bound %.1f, 7-sigma %.1f)\n", name,
           min_budget, worst_budget, heur_budget);
    CHECK(min_budget >= worst_budget);
    CHECK(min_budget >= heur_budget);
    /* composition: tau_3 twice = tau_9 on the plaintext */
    CHECK_OK(hers_apply_galois(p, gk, 3, &ct, &out));
    CHECK_OK(hers_apply_galois(p, gk, 3, &out, &out));
    CHECK_OK(hers_decrypt(p, sk, &out, &got));
    hers_plaintext w9 = {0};
    CHECK_OK(hers_plaintext_galois(p, 9, &pt, &w9));
    CHECK(memcmp(got.coeffs, w9.coeffs, n * sizeof(uint64_t)) == 0);
    /* refusals */
    CHECK(hers_apply_galois(p, gk, 7, &ct, &out) == HERS_ERR_ARG);
    CHECK(hers_plaintext_galois(p, 4, &pt, &got) == HERS_ERR_ARG);
    uint32_t bad[2] = {3, 3};
    hers_galois_key *g2 = NULL;
    CHECK(hers_keygen_galois_seeded(p, sk, bad, 2, 0, seed, &g2) == HERS_ERR_ARG && !g2);
    bad[1] = (uint32_t)(2 * n + 1);
    CHECK(hers_keygen_galois_seeded(p, sk, bad, 2, 0, seed, &g2) == HERS_ERR_ARG && !g2);
    hers_plaintext_free(&w9);
    hers_plaintext_free(&pt);
    hers_plaintext_free(&want);
    hers_plaintext_free(&got);
    hers_ciphertext_free(&ct);
    hers_ciphertext_free(&out);
    hers_ciphertext_free(&outc);
    hers_galois_key_free(gk);
    hers_secret_key_free(sk);
}

/* GMP oracle of the key: b + a s - 2^(wj) g_i tau(s) = e, |e| <= 21. */
static void test_key_oracle(hers_params *p)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p), kn = k * n;
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    uint32_t el[2] = {(uint32_t)(n + 1), 3};
    hers_galois_key *gk = NULL;
    CHECK_OK(hers_keygen_galois_seeded(p, sk, el, 2, 0, seed, &gk));
    uint64_t *x = calloc(kn, sizeof *x);
    mpz_t *v = malloc(n * sizeof(mpz_t)), Q, gad, tmp, qi;
    for (size_t c = 0; c < n; c++)
        mpz_init(v[c]);
    mpz_inits(Q, gad, tmp, qi, NULL);
    int8_t *ts = malloc(n);
    int ok = 1;
    for (size_t e = 0; e < 2; e++) {
        /* tau(s) in coefficient form */
        for (size_t i = 0; i < n; i++) {
            size_t pos = (i * el[e]) % (2 * n);
            if (pos < n)
                ts[pos] = sk->s[i];
            else
                ts[pos - n] = (int8_t)-sk->s[i];
        }
        size_t t = 0;
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; (size_t)j * gk->digit_bits < (size_t)hers_params_ntt(p, i)->q.bits; j++, t++) {
                const uint64_t *b = gk->data + ((e * gk->digits + t) * 2) * kn;
                for (size_t r = 0; r < k; r++) {
                    const hers_modulus *m = &hers_params_ntt(p, r)->q;
                    hers_poly_mul(x + r * n, b + kn + r * n, sk->s_ntt + r * n, n, m);
                    hers_poly_add(x + r * n, x + r * n, b + r * n, n, m);
                    hers_ntt_inverse(hers_params_ntt(p, r), x + r * n);
                }
                compose(p, x, v, Q);
                /* gadget 2^(wj) (Q/q_i) [(Q/q_i)^-1]_{q_i} */
                mpz_set_ui(qi, hers_params_prime(p, i));
                mpz_divexact(gad, Q, qi);
                mpz_invert(tmp, gad, qi);
                mpz_mul(gad, gad, tmp);
                mpz_mul_2exp(gad, gad, gk->digit_bits * j);
                for (size_t c = 0; c < n; c++) {
                    mpz_mul_si(tmp, gad, ts[c]);
                    mpz_sub(v[c], v[c], tmp);
                    mpz_mod(v[c], v[c], Q);
                    mpz_fdiv_q_2exp(tmp, Q, 1);
                    if (mpz_cmp(v[c], tmp) > 0)
                        mpz_sub(v[c], v[c], Q);
                    ok &= mpz_cmpabs_ui(v[c], 21) <= 0;
                }
            }
        }
        CHECK(t == gk->digits);
    }
    CHECK(ok);
    for (size_t c = 0; c < n; c++)
        mpz_clear(v[c]);
    mpz_clears(Q, gad, tmp, qi, NULL);
    free(v);
    free(x);
    free(ts);
    hers_galois_key_free(gk);
    hers_secret_key_free(sk);
}

static void test_expand(hers_params *p, const char *name, const size_t *ds, size_t nd)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint64_t t = hers_params_t(p);
    hers_modulus tm;
    CHECK_OK(hers_modulus_init(&tm, t));
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    uint32_t el[HERS_GALOIS_MAX_ELEMENTS];
    size_t cnt = 0;
    CHECK_OK(hers_expand_elements(n, n, el, &cnt));
    CHECK(cnt == hers_expand_levels(n));
    hers_galois_key *gk = NULL;
    CHECK_OK(hers_keygen_galois(p, sk, el, cnt, 0, &gk));
    int64_t *m = calloc(n, sizeof *m), *pre = calloc(n, sizeof *pre);
    hers_ciphertext *out = calloc(n, sizeof *out);
    hers_plaintext pt = {0}, got = {0};
    hers_ciphertext ct = {0};
    uint64_t inv2 = hers_inv_mod(2, &tm);
    for (size_t di = 0; di < nd; di++) {
        size_t d = ds[di];
        for (size_t i = 0; i < d; i++) {
            m[i] = (int64_t)(test_rand() % t);
            uint64_t f = hers_pow_mod(inv2, hers_expand_doublings(d, i), &tm);
            pre[i] = (int64_t)hers_mul_mod((uint64_t)m[i], f, &tm);
        }
        CHECK_OK(hers_encode_coeff(p, pre, d, &pt));
        CHECK_OK(hers_encrypt_secret(p, sk, &pt, &ct));
        CHECK_OK(hers_expand(p, gk, &ct, d, out));
        double kw, ks, w, sd, minb = 1e9;
        CHECK_OK(hers_galois_noise(p, 0, &kw, &ks));
        CHECK_OK(hers_expand_noise(p, 0, d, 21, sqrt(10.5), &w, &sd));
        int ok = 1;
        for (size_t i = 0; i < d; i++) {
            CHECK_OK(hers_decrypt(p, sk, &out[i], &got));
            ok &= got.coeffs[0] == (uint64_t)m[i];
            for (size_t c = 1; c < n; c++)
                ok &= got.coeffs[c] == 0;
            double b;
            CHECK_OK(hers_noise_budget(p, sk, &out[i], &b));
            if (b < minb)
                minb = b;
            ok &= out[i].ntt_form && out[i].parts == 2 && out[i].num_primes == k;
        }
        CHECK(ok);
        /* in place (in = &out[0], as the server's query expansion runs):
         * the same ciphertexts, bit for bit */
        {
            hers_ciphertext *o2 = calloc(d, sizeof *o2);
            CHECK_OK(hers_ciphertext_copy(&ct, &o2[0]));
            CHECK_OK(hers_expand(p, gk, &o2[0], d, o2));
            int same = 1;
            size_t words = 2 * k * n * sizeof(uint64_t);
            for (size_t i = 0; i < d; i++)
                same &= memcmp(o2[i].data, out[i].data, words) == 0;
            CHECK(same);
            for (size_t i = 0; i < d; i++)
                hers_ciphertext_free(&o2[i]);
            free(o2);
        }
        printf("  %s d = %zu: expanded budget %.1f bits (worst-case bound %.1f, 7-sigma %.1f)\n", name, d,
               minb, budget_for(p, w), budget_for(p, 7 * sd));
        CHECK(minb >= budget_for(p, w));
        /* sd models the mean square (what the search kernel sees, variance
         * x 2 (1 + 2^-(j+1)) at level j); the coefficients fixed by every
         * tau_j (coefficient 0 among them) grow x4 per level, so the
         * largest coefficient may exceed 7 sd by up to
         * prod_j sqrt(2 / (1 + 2^-(j+1))) (1.4 bits at L = 6, 3.4 at L = 8) */
        double slack = 0;
        for (size_t j = 0; j < hers_expand_levels(d); j++)
            slack += 0.5 * log2(2.0 / (1.0 + ldexp(1.0, -(int)(j + 1))));
        CHECK(minb >= budget_for(p, 7 * sd) - slack);
    }
    /* a key set lacking a level is refused */
    hers_galois_key *g1 = NULL;
    CHECK_OK(hers_keygen_galois(p, sk, el, 1, 0, &g1));
    CHECK(hers_expand(p, g1, &ct, 3, out) == HERS_ERR_ARG);
    hers_galois_key_free(g1);
    for (size_t i = 0; i < n; i++)
        hers_ciphertext_free(&out[i]);
    free(out);
    free(m);
    free(pre);
    hers_plaintext_free(&pt);
    hers_plaintext_free(&got);
    hers_ciphertext_free(&ct);
    hers_galois_key_free(gk);
    hers_secret_key_free(sk);
}

static void test_c0_compress(hers_params *p)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret(p, &sk));
    hers_plaintext pt = {0}, got = {0};
    hers_ciphertext ct = {0}, back = {0};
    random_pt(p, &pt, n);
    CHECK_OK(hers_encrypt_secret(p, sk, &pt, &ct));
    uint64_t *y = calloc(2 * n, sizeof *y);
    CHECK_OK(hers_c0_compress(p, &ct, y));
    CHECK_OK(hers_c0_decompress(p, y, ct.seed, &back));
    CHECK_OK(hers_decrypt(p, sk, &back, &got));
    CHECK(memcmp(got.coeffs, pt.coeffs, n * sizeof(uint64_t)) == 0);
    CHECK(memcmp(hers_ct_poly(&back, 1, 0), hers_ct_poly(&ct, 1, 0), k * n * 8) == 0);
    uint64_t *a = calloc(k * n, 8), *b = calloc(k * n, 8);
    memcpy(a, hers_ct_poly(&ct, 0, 0), k * n * 8);
    memcpy(b, hers_ct_poly(&back, 0, 0), k * n * 8);
    for (size_t i = 0; i < k; i++) {
        hers_ntt_inverse(hers_params_ntt(p, i), a + i * n);
        hers_ntt_inverse(hers_params_ntt(p, i), b + i * n);
        hers_poly_sub(a + i * n, b + i * n, a + i * n, n, &hers_params_ntt(p, i)->q);
    }
    mpz_t *v = malloc(n * sizeof(mpz_t)), Q, bound;
    for (size_t c = 0; c < n; c++)
        mpz_init(v[c]);
    mpz_inits(Q, bound, NULL);
    compose(p, a, v, Q);
    mpz_fdiv_q_2exp(bound, Q, hers_c0_bits(p)); /* Q / 2^K */
    mpz_add_ui(bound, bound, 1);
    int ok = 1;
    for (size_t c = 0; c < n; c++)
        ok &= mpz_cmpabs(v[c], bound) <= 0;
    CHECK(ok);
    for (size_t c = 0; c < n; c++)
        mpz_clear(v[c]);
    mpz_clears(Q, bound, NULL);
    free(v);
    /* out-of-range y refused */
    unsigned K = hers_c0_bits(p);
    y[n] = K > 32 ? (uint64_t)1 << (K - 32) : 1;
    CHECK(hers_c0_decompress(p, y, ct.seed, &back) == HERS_ERR_FORMAT);
    y[n] = 0;
    y[0] = K < 32 ? (uint64_t)1 << K : (uint64_t)1 << 32;
    CHECK(hers_c0_decompress(p, y, ct.seed, &back) == HERS_ERR_FORMAT);
    free(a);
    free(b);
    free(y);
    hers_plaintext_free(&pt);
    hers_plaintext_free(&got);
    hers_ciphertext_free(&ct);
    hers_ciphertext_free(&back);
    hers_secret_key_free(sk);
}

static void test_serial(hers_params *p)
{
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret(p, &sk));
    uint32_t el[3] = {3, 5, 7};
    hers_galois_key *gk = NULL, *back = NULL;
    CHECK_OK(hers_keygen_galois(p, sk, el, 3, 0, &gk));
    size_t sz = 0, w = 0;
    CHECK_OK(hers_galois_key_serialized_size(p, gk, &sz));
    uint8_t *buf = malloc(sz);
    CHECK_OK(hers_galois_key_serialize(p, gk, buf, sz, &w));
    CHECK(w == sz);
    CHECK_OK(hers_galois_key_deserialize(p, buf, sz, &back));
    CHECK(back && back->count == 3 && back->digits == gk->digits &&
          memcmp(back->data, gk->data,
                 3 * gk->digits * 2 * hers_params_num_primes(p) * hers_params_n(p) * 8) == 0);
    hers_galois_key_free(back);
    back = NULL;
    buf[sz / 2] ^= 1;
    CHECK(hers_galois_key_deserialize(p, buf, sz, &back) == HERS_ERR_CHECKSUM && !back);
    CHECK(hers_galois_key_deserialize(p, buf, sz - 1, &back) == HERS_ERR_FORMAT && !back);
    hers_object_type ty;
    CHECK_OK(hers_serial_peek(buf, sz, &ty, NULL, NULL));
    CHECK(ty == HERS_OBJ_GALOIS_KEY);
    free(buf);
    hers_galois_key_free(gk);
    hers_secret_key_free(sk);
}

/* Same ciphertext at every SIMD level. */
static void test_simd(hers_params *p)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    uint32_t el[1] = {(uint32_t)(n + 1)};
    hers_galois_key *gk = NULL;
    CHECK_OK(hers_keygen_galois_seeded(p, sk, el, 1, 0, seed, &gk));
    hers_plaintext pt = {0};
    hers_ciphertext ct = {0}, out = {0};
    random_pt(p, &pt, n);
    CHECK_OK(hers_encrypt_secret_seeded(p, sk, &pt, seed, &ct));
    uint64_t *ref = calloc(2 * k * n, 8);
    int first = 1;
    FOR_EACH_SIMD(level) {
        CHECK_OK(hers_apply_galois(p, gk, el[0], &ct, &out));
        if (first)
            memcpy(ref, out.data, 2 * k * n * 8);
        else
            CHECK(memcmp(ref, out.data, 2 * k * n * 8) == 0);
        first = 0;
        (void)level;
    }
    free(ref);
    hers_plaintext_free(&pt);
    hers_ciphertext_free(&ct);
    hers_ciphertext_free(&out);
    hers_galois_key_free(gk);
    hers_secret_key_free(sk);
}

/* hers_poly_round_bits against GMP: y = round(2^K x / Q_L) mod 2^K for
 * L = 1 (the fast one-prime path: every K it takes and the first it does
 * not) and L = k, on random residues and the edges 0, 1, q_0 - 1, q_0 / 2. */
static void test_round_bits(const hers_params *p, const char *name)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint64_t *x = malloc(k * n * sizeof *x), *y = malloc(2 * n * sizeof *y);
    mpz_t Q, v, h;
    mpz_inits(Q, v, h, NULL);
    for (size_t L = 1; L <= k; L += (k > 1 ? k - 1 : 1)) {
        mpz_set_ui(Q, 1);
        for (size_t i = 0; i < L; i++)
            mpz_mul_ui(Q, Q, hers_params_prime(p, i));
        mpz_fdiv_q_2exp(h, Q, 1);
        for (unsigned K = 1; K <= 60; K += K < 20 ? 7 : 1) {
            for (size_t i = 0; i < L; i++) {
                uint64_t q = hers_params_prime(p, i);
                for (size_t c = 0; c < n; c++)
                    x[i * n + c] = c == 0 ? 0 : c == 1 ? 1 : c == 2 ? q - 1 : c == 3 ? q / 2
                                 : c == 4 ? q / 2 + 1 : test_rand() % q;
            }
            CHECK_OK(hers_poly_round_bits(p, L, x, K, y));
            int bad = 0;
            for (size_t c = 0; c < n && !bad; c++) {
                /* the value mod Q_L in [0, Q_L) from its L residues */
                mpz_set_ui(v, 0);
                mpz_t t2, qi, mi, in;
                mpz_inits(t2, qi, mi, in, NULL);
                for (size_t i = 0; i < L; i++) {
                    mpz_set_ui(qi, hers_params_prime(p, i));
                    mpz_divexact(mi, Q, qi);
                    mpz_invert(in, mi, qi);
                    mpz_mul(in, in, mi);
                    mpz_mul_ui(t2, in, x[i * n + c]);
                    mpz_add(v, v, t2);
                }
                mpz_mod(v, v, Q);
                mpz_mul_2exp(v, v, K);
                mpz_add(v, v, h);
                mpz_fdiv_q(v, v, Q);   /* round(2^K x / Q), Q odd: no tie */
                mpz_fdiv_r_2exp(v, v, K);
                mpz_set_ui(t2, y[n + c]);
                mpz_mul_2exp(t2, t2, 32);
                mpz_add_ui(t2, t2, y[c]);
                bad = mpz_cmp(t2, v) != 0;
                mpz_clears(t2, qi, mi, in, NULL);
            }
            if (bad)
                fprintf(stderr, "%s: round bits L = %zu K = %u differs from GMP\n", name, L, K);
            CHECK(!bad);
        }
    }
    mpz_clears(Q, v, h, NULL);
    free(x);
    free(y);
}

int main(void)
{
    test_rand_seed(test_seed());
    hers_params *toy = test_params(64, 257, 3, 30, HERS_Q_EACH_ONE_MOD_T);
    hers_params *p256 = test_params(256, 7681, 2, 50, HERS_Q_EACH_ONE_MOD_T);
    hers_params *p4k = NULL;
    CHECK_OK(hers_params_create_named(&p4k, "n4096"));
    if (!toy || !p256 || !p4k)
        return test_finish();
    test_automorphism(toy, "toy64");
    test_automorphism(p256, "n256");
    test_automorphism(p4k, "n4096");
    test_key_oracle(toy);
    test_key_oracle(p256);
    size_t d64[] = {1, 2, 3, 5, 8, 17, 33, 64};
    test_expand(toy, "toy64", d64, 8);
    size_t d256[] = {16, 129, 256};
    test_expand(p256, "n256", d256, 3);
    size_t d4k[] = {64};
    test_expand(p4k, "n4096", d4k, 1);
    test_round_bits(toy, "toy64");
    test_round_bits(p256, "n256");
    test_round_bits(p4k, "n4096");
    test_c0_compress(toy);
    test_c0_compress(p256);
    test_c0_compress(p4k);
    /* K = ceil(log2 Q) = 30 < 32: the high plane is empty */
    hers_params *tiny = test_params(16, 97, 1, 30, HERS_Q_EACH_ONE_MOD_T);
    if (tiny) {
        CHECK(hers_c0_bits(tiny) == 30);
        test_c0_compress(tiny);
        hers_params_free(tiny);
    }
    test_serial(toy);
    test_simd(p256);
    test_simd(p4k);
    hers_params_free(toy);
    hers_params_free(p256);
    hers_params_free(p4k);
    return test_finish();
}
