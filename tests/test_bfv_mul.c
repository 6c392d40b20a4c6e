/* test_bfv_mul.c - ciphertext x ciphertext multiplication: the whole HPS
 * multiply against an exact GMP oracle (tensor product of the centred lifts,
 * round(t/Q * d) mod Q), for N = 16..256 with the default prime structure;
 * mul / relinearise / 3-part decryption against slot-wise products; the
 * depth-1 inner product of 512 products at N = 4096 with the default set;
 * noise budget after each step. */
#include <gmp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_rns.h"
#include "support/bfv_test.h"
#include "support/check.h"

static int quick;

/* poly (part) of a coefficient-form ciphertext -> n centred mpz values */
static void ct_to_mpz(const hers_rns_base *b, const hers_ciphertext *ct, size_t part, mpz_t *out,
                      const mpz_t Q, const mpz_t half)
{
    uint64_t limbs[HERS_RNS_MAX_LIMBS];
    for (size_t j = 0; j < ct->n; j++) {
        hers_rns_compose(b, hers_ct_poly(ct, part, 0) + j, ct->n, limbs);
        mpz_import(out[j], b->limbs, -1, 8, 0, 0, limbs);
        if (mpz_cmp(out[j], half) > 0)
            mpz_sub(out[j], out[j], Q);
    }
}

/* acc += a * b negacyclic */
static void negacyclic_mac(mpz_t *acc, mpz_t *a, mpz_t *b, size_t n, mpz_t tmp)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            mpz_mul(tmp, a[i], b[j]);
            if (i + j < n)
                mpz_add(acc[i + j], acc[i + j], tmp);
            else
                mpz_sub(acc[i + j - n], acc[i + j - n], tmp);
        }
}

static void test_oracle(size_t n, uint64_t t, size_t k)
{
    hers_params *p = test_params(n, t, k, 50, HERS_Q_EACH_ONE_MOD_T);
    if (!p)
        return;
    uint64_t qs[HERS_MAX_PRIMES];
    for (size_t i = 0; i < k; i++)
        qs[i] = hers_params_prime(p, i);
    hers_rns_base *b = NULL;
    CHECK_OK(hers_rns_base_create(&b, qs, k));
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_public_seeded(p, sk, seed, &pk));
    int64_t *v = calloc(n, 8);
    hers_plaintext pa = {0}, pb = {0};
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(test_rand() % t);
    CHECK_OK(hers_encode_coeff(p, v, n, &pa));
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(test_rand() % t);
    CHECK_OK(hers_encode_coeff(p, v, n, &pb));
    hers_ciphertext ca = {0}, cb = {0}, cm = {0};
    CHECK_OK(hers_encrypt_public(p, pk, &pa, &ca));
    CHECK_OK(hers_encrypt_secret(p, sk, &pb, &cb));
    /* Also random ciphertexts (uniform residues): the rounding is then
     * exercised on arbitrary values, not just near multiples of Delta. */
    hers_ciphertext ra = {0}, rb = {0};
    CHECK_OK(hers_ciphertext_init(p, 2, &ra));
    CHECK_OK(hers_ciphertext_init(p, 2, &rb));
    for (size_t part = 0; part < 2; part++)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < n; j++) {
                hers_ct_poly(&ra, part, i)[j] = test_rand() % qs[i];
                hers_ct_poly(&rb, part, i)[j] = test_rand() % qs[i];
            }
    ra.ntt_form = rb.ntt_form = 0;

    mpz_t Q, half, tmp, num, den, tz;
    mpz_inits(Q, half, tmp, num, den, tz, NULL);
    mpz_import(Q, b->limbs, -1, 8, 0, 0, b->prod);
    mpz_fdiv_q_2exp(half, Q, 1);
    mpz_set_ui(tz, 0);
    mpz_import(tz, 1, -1, 8, 0, 0, &t);
    mpz_t *A[2], *B[2], *D[3], *R;
    for (int i = 0; i < 2; i++) {
        A[i] = malloc(n * sizeof(mpz_t));
        B[i] = malloc(n * sizeof(mpz_t));
        for (size_t j = 0; j < n; j++) {
            mpz_init(A[i][j]);
            mpz_init(B[i][j]);
        }
    }
    for (int i = 0; i < 3; i++) {
        D[i] = malloc(n * sizeof(mpz_t));
        for (size_t j = 0; j < n; j++)
            mpz_init(D[i][j]);
    }
    R = malloc(n * sizeof(mpz_t));
    for (size_t j = 0; j < n; j++)
        mpz_init(R[j]);

    for (int which = 0; which < 2; which++) {
        hers_ciphertext *x = which ? &ra : &ca, *y = which ? &rb : &cb;
        uint8_t ref[3][32];
        int first = 1;
        FOR_EACH_SIMD(level) {
            CHECK_OK(hers_mul(p, x, y, &cm));
            CHECK(cm.parts == 3);
            hers_ciphertext cmc = {0};
            CHECK_OK(hers_ciphertext_copy(&cm, &cmc));
            CHECK_OK(hers_ciphertext_from_ntt(p, &cmc));
            for (size_t part = 0; part < 3; part++) {
                uint8_t h[32];
                crypto_generichash(h, 32, (const uint8_t *)hers_ct_poly(&cmc, part, 0), k * n * 8, NULL, 0);
                if (first)
                    memcpy(ref[part], h, 32);
                else
                    CHECK(memcmp(ref[part], h, 32) == 0);
            }
            if (first) {
                hers_ciphertext xc = {0}, yc = {0};
                CHECK_OK(hers_ciphertext_copy(x, &xc));
                CHECK_OK(hers_ciphertext_copy(y, &yc));
                CHECK_OK(hers_ciphertext_from_ntt(p, &xc));
                CHECK_OK(hers_ciphertext_from_ntt(p, &yc));
                for (int i = 0; i < 2; i++) {
                    ct_to_mpz(b, &xc, (size_t)i, A[i], Q, half);
                    ct_to_mpz(b, &yc, (size_t)i, B[i], Q, half);
                }
                for (int i = 0; i < 3; i++)
                    for (size_t j = 0; j < n; j++)
                        mpz_set_ui(D[i][j], 0);
                negacyclic_mac(D[0], A[0], B[0], n, tmp);
                negacyclic_mac(D[1], A[0], B[1], n, tmp);
                negacyclic_mac(D[1], A[1], B[0], n, tmp);
                negacyclic_mac(D[2], A[1], B[1], n, tmp);
                /* the coefficient-form multiply gives the same result */
                hers_ciphertext cm2 = {0};
                CHECK_OK(hers_mul(p, &xc, &yc, &cm2));
                CHECK(!cm2.ntt_form);
                CHECK(memcmp(cm2.data, cmc.data, 3 * k * n * 8) == 0);
                hers_ciphertext_free(&cm2);
                hers_ciphertext_free(&xc);
                hers_ciphertext_free(&yc);
                mpz_mul_2exp(den, Q, 1);
                int ok = 1;
                for (size_t part = 0; part < 3; part++) {
                    ct_to_mpz(b, &cmc, part, R, Q, half);
                    for (size_t j = 0; j < n; j++) {
                        /* round(t d / Q) = floor((2 t d + Q) / 2Q), then mod Q */
                        mpz_mul(num, D[part][j], tz);
                        mpz_mul_2exp(num, num, 1);
                        mpz_add(num, num, Q);
                        mpz_fdiv_q(num, num, den);
                        mpz_sub(num, num, R[j]);
                        mpz_fdiv_r(num, num, Q);
                        ok &= mpz_sgn(num) == 0;
                    }
                }
                CHECK(ok);
            }
            hers_ciphertext_free(&cmc);
            first = 0;
        }
    }
    /* decrypts (3 parts) to the negacyclic product of the plaintexts mod t */
    CHECK_OK(hers_mul(p, &ca, &cb, &cm));
    hers_plaintext pr = {0};
    CHECK_OK(hers_decrypt(p, sk, &cm, &pr));
    int ok = 1;
    {
        int64_t *want = calloc(n, 8);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                int64_t prod = (int64_t)((__int128)pa.coeffs[i] * pb.coeffs[j] % t);
                if (i + j < n)
                    want[i + j] = (want[i + j] + prod) % (int64_t)t;
                else
                    want[i + j - n] = (want[i + j - n] - prod + (int64_t)t) % (int64_t)t;
            }
        for (size_t i = 0; i < n; i++)
            ok &= (int64_t)pr.coeffs[i] == want[i];
        free(want);
    }
    CHECK(ok);
    hers_plaintext_free(&pr);

    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < n; j++) {
            mpz_clear(A[i][j]);
            mpz_clear(B[i][j]);
        }
        free(A[i]);
        free(B[i]);
    }
    for (int i = 0; i < 3; i++) {
        for (size_t j = 0; j < n; j++)
            mpz_clear(D[i][j]);
        free(D[i]);
    }
    for (size_t j = 0; j < n; j++)
        mpz_clear(R[j]);
    free(R);
    mpz_clears(Q, half, tmp, num, den, tz, NULL);
    free(v);
    hers_plaintext_free(&pa);
    hers_plaintext_free(&pb);
    hers_ciphertext_free(&ca);
    hers_ciphertext_free(&cb);
    hers_ciphertext_free(&cm);
    hers_ciphertext_free(&ra);
    hers_ciphertext_free(&rb);
    hers_rns_base_free(b);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_params_free(p);
}

/* mul + relinearise + 3-part decrypt vs slot-wise products; inner product
 * of `terms` products; modulus switching of the sums (BFV and BGV form) to
 * every level. Noise budgets printed; min_acc_bits > 0: the relinearised
 * sum must keep more than that. */
static void test_inner_product(hers_params *p, size_t terms, int relin_each, double min_acc_bits)
{
    size_t n = hers_params_n(p);
    uint64_t t = hers_params_t(p);
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    CHECK_OK(hers_keygen_relin(p, sk, &rk));
    /* HERS-like data: probe components replicated, gallery components per slot,
     * |values| <= 125 (quantised unit vectors); plus a fully random first
     * pair to exercise the worst case of the plaintext size. */
    int64_t *x = calloc(n, 8), *y = calloc(n, 8), *r = calloc(n, 8);
    __int128 *want = calloc(n, sizeof(__int128));
    hers_plaintext px = {0}, py = {0}, pr = {0};
    hers_ciphertext cx = {0}, cy = {0}, prod = {0}, acc = {0}, acc3 = {0};
    double nb_fresh = 0, nb_mul = 0, nb_relin = 0, nb_acc = 0, nb_acc3 = 0;
    for (size_t term = 0; term < terms; term++) {
        int64_t bound = term == 0 ? (int64_t)(t / 2) : 125;
        for (size_t i = 0; i < n; i++) {
            x[i] = (int64_t)(test_rand() % (uint64_t)(2 * bound + 1)) - bound;
            y[i] = (int64_t)(test_rand() % (uint64_t)(2 * bound + 1)) - bound;
            want[i] += (__int128)x[i] * y[i];
        }
        CHECK_OK(hers_encode_batch(p, x, n, &px));
        CHECK_OK(hers_encode_batch(p, y, n, &py));
        CHECK_OK(hers_encrypt_public(p, pk, &px, &cx));
        CHECK_OK(hers_encrypt_secret(p, sk, &py, &cy));
        if (term == 0) {
            /* encrypt / decrypt */
            CHECK_OK(hers_decrypt(p, sk, &cx, &pr));
            CHECK_OK(hers_decode_batch(p, &pr, r));
            int ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= r[i] == x[i];
            CHECK(ok);
        }
        CHECK_OK(hers_mul(p, &cx, &cy, &prod));
        if (term == 0) {
            CHECK_OK(hers_noise_budget(p, sk, &cx, &nb_fresh));
            CHECK_OK(hers_noise_budget(p, sk, &prod, &nb_mul));
            CHECK_OK(hers_decrypt(p, sk, &prod, &pr));
            CHECK_OK(hers_decode_batch(p, &pr, r));
            int ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= r[i] == test_cmod((__int128)x[i] * y[i], t);
            CHECK(ok);
        }
        if (term == 0)
            CHECK_OK(hers_ciphertext_copy(&prod, &acc3));
        else
            CHECK_OK(hers_add(p, &acc3, &prod, &acc3));
        if (relin_each || term == 0) {
            CHECK_OK(hers_relinearize(p, rk, &prod, &prod));
            CHECK(prod.parts == 2);
            if (term == 0) {
                CHECK_OK(hers_noise_budget(p, sk, &prod, &nb_relin));
                CHECK_OK(hers_decrypt(p, sk, &prod, &pr));
                CHECK_OK(hers_decode_batch(p, &pr, r));
                int ok = 1;
                for (size_t i = 0; i < n; i++)
                    ok &= r[i] == test_cmod((__int128)x[i] * y[i], t);
                CHECK(ok);
                CHECK_OK(hers_ciphertext_copy(&prod, &acc));
            } else {
                CHECK_OK(hers_add(p, &acc, &prod, &acc));
            }
        }
    }
    CHECK_OK(hers_noise_budget(p, sk, &acc3, &nb_acc3));
    CHECK(test_decrypts_to(p, sk, &acc3, want, 1));
    {
        size_t k = hers_params_num_primes(p);
        hers_ciphertext sw = {0};
        /* 3-part BFV, switched to one prime */
        CHECK_OK(hers_mod_switch(p, &acc3, 1, &sw));
        CHECK(sw.parts == 3 && sw.num_primes == 1);
        CHECK(test_decrypts_to(p, sk, &sw, want, 1));
        /* t * (3-part BFV) is a 3-part BGV-form ciphertext of -m (Q = 1 mod t) */
        if (hers_params_q_one_mod_t(p)) {
            CHECK_OK(hers_ciphertext_copy(&acc3, &sw));
            test_times_t_bgv(p, &sw);
            double nbg;
            CHECK_OK(hers_noise_budget(p, sk, &sw, &nbg));
            CHECK(nbg > 5);
            for (size_t L = k; L >= 1; L--) {
                CHECK_OK(hers_mod_switch(p, &sw, L, &sw));
                CHECK(test_decrypts_to(p, sk, &sw, want, -1));
            }
        }
        hers_ciphertext_free(&sw);
    }
    if (relin_each) {
        CHECK_OK(hers_noise_budget(p, sk, &acc, &nb_acc));
        CHECK(test_decrypts_to(p, sk, &acc, want, 1));
        /* relinearising the 3-part sum once gives the same plaintext */
        CHECK_OK(hers_relinearize(p, rk, &acc3, &acc3));
        CHECK(test_decrypts_to(p, sk, &acc3, want, 1));
        if (min_acc_bits > 0)
            CHECK(nb_acc > min_acc_bits);
        size_t k = hers_params_num_primes(p);
        hers_ciphertext sw = {0};
        /* the BGV form t * acc (a 2-part BGV ciphertext of -sum when
         * Q = 1 mod t), switched to every level */
        if (hers_params_q_one_mod_t(p)) {
            CHECK_OK(hers_ciphertext_copy(&acc, &sw));
            test_times_t_bgv(p, &sw);
            for (size_t L = k; L >= 1; L--) {
                CHECK_OK(hers_mod_switch(p, &sw, L, &sw));
                CHECK(test_decrypts_to(p, sk, &sw, want, -1));
            }
        }
        hers_ciphertext_free(&sw);
        /* and after modulus switching to every level down to one prime */
        for (size_t L = k; L >= 1; L--) {
            CHECK_OK(hers_mod_switch(p, &acc, L, &acc));
            CHECK(test_decrypts_to(p, sk, &acc, want, 1));
        }
    }
    fprintf(stderr,
            "  N=%zu t=%llu log2 Q=%.1f, %zu terms: budget fresh %.1f, after mul %.1f, relin %.1f, "
            "sum of 3-part %.1f, sum of relinearised %.1f bits\n",
            n, (unsigned long long)t, hers_params_log_q(p), terms, nb_fresh, nb_mul, nb_relin, nb_acc3,
            nb_acc);
    /* documented bounds (docs/design.md, BFV engine / noise) */
    if (n == 4096 && t == 1032193) {
        CHECK(nb_fresh >= 60);
        CHECK(nb_mul >= 30);
        CHECK(nb_relin >= 15);
        if (terms >= 512) {
            CHECK(nb_acc3 >= 25);
            if (relin_each)
                CHECK(nb_acc >= 10);
        }
    }
    free(x);
    free(y);
    free(r);
    free(want);
    hers_plaintext_free(&px);
    hers_plaintext_free(&py);
    hers_plaintext_free(&pr);
    hers_ciphertext_free(&cx);
    hers_ciphertext_free(&cy);
    hers_ciphertext_free(&prod);
    hers_ciphertext_free(&acc);
    hers_ciphertext_free(&acc3);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_relin_key_free(rk);
}

int main(void)
{
    test_rand_seed(test_seed());
    quick = getenv("HERS_TEST_QUICK") != NULL;
    test_oracle(16, 97, 1);
    test_oracle(16, 1032193 % 32 == 1 ? 1032193 : 97, 2);
    test_oracle(64, 257, 2);
    if (!quick) {
        test_oracle(128, 786433, 4);
        test_oracle(256, 1032193, 2);
        test_oracle(256, 12289, 3);
    }
    hers_params *p = test_params(256, 12289, 2, 50, HERS_Q_EACH_ONE_MOD_T);
    if (p) {
        test_inner_product(p, 16, 1, 0);
        hers_params_free(p);
    }
    CHECK_OK(hers_params_create_named(&p, "default"));
    if (p) {
        test_inner_product(p, quick ? 32 : 512, 1, 0);
        hers_params_free(p);
    }
    /* product mode (three 30-bit primes, only Q = 1 mod t: the narrow
     * search sets), depth-1 sums of 64 products (16 quick) */
    const size_t pn[2] = {quick ? 64 : 256, 64};
    const uint64_t pt[2] = {1032193, 12289};
    for (int i = 0; i < 2; i++) {
        p = test_params(pn[i], pt[i], 3, 30, HERS_Q_PRODUCT_ONE_MOD_T);
        if (p) {
            test_inner_product(p, quick ? 16 : 64, 1, 10.0);
            hers_params_free(p);
        }
    }
    return test_finish();
}
