/* test_bfv.c - BFV parameters, keys, encoding, encryption / decryption,
 * add / sub / negate / ct x pt, modulus switching (BFV and BGV form), noise
 * budget, determinism of the seeded functions across SIMD levels. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bfv/bfv_internal.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "support/bfv_test.h"
#include "support/check.h"

static int quick;

static void ct_hash(const hers_ciphertext *ct, uint8_t h[32])
{
    crypto_generichash(h, 32, (const uint8_t *)ct->data,
                       ct->parts * ct->num_primes * ct->n * sizeof(uint64_t), NULL, 0);
}

static int64_t rand_slot(uint64_t t)
{
    return (int64_t)(test_rand() % t) - (int64_t)(t / 2);
}

static void test_validation(void)
{
    const char *const *names = hers_params_names();
    for (size_t i = 0; names[i]; i++) {
        if (quick && strcmp(names[i], "n32768") == 0)
            continue;
        hers_params *p = NULL;
        CHECK_OK(hers_params_create_named(&p, names[i]));
        if (!p)
            continue;
        size_t n = hers_params_n(p);
        uint64_t t = hers_params_t(p);
        int max_bits = 0;
        CHECK_OK(hers_he_standard_max_log_q(n, HERS_SEC_128, &max_bits));
        CHECK(hers_params_log_q(p) <= max_bits);
        CHECK(hers_params_can_batch(p));
        CHECK(hers_params_q_one_mod_t(p));
        CHECK(hers_params_security(p) == HERS_SEC_128);
        int narrow = names[i][0] == 's';   /* product-mode sets, primes < 2^30 */
        for (size_t j = 0; j < hers_params_num_primes(p); j++) {
            uint64_t q = hers_params_prime(p, j);
            if (narrow) {
                CHECK(q < (UINT64_C(1) << 30) && q > (UINT64_C(1) << 29));
                CHECK(q % (2 * n) == 1);
            } else {
                CHECK(q < (UINT64_C(1) << 50) && q > (UINT64_C(1) << 49));
                CHECK(q % (2 * n * t) == 1);
            }
        }
        hers_params_free(p);
    }
    hers_params *p = NULL;
    CHECK_OK(hers_params_create_named(&p, "default"));
    CHECK(p && hers_params_n(p) == 4096 && hers_params_t(p) == 1032193 && hers_params_num_primes(p) == 2);
    CHECK(p && strcmp(hers_params_name(p), "n4096") == 0);
    hers_params_free(p);
    CHECK(hers_params_create_named(&p, "n1234") == HERS_ERR_ARG);

    hers_params_spec s;
    memset(&s, 0, sizeof s);
    s.n = 4096;
    s.t = 1032193;
    s.num_primes = 3;
    s.prime_bits[0] = s.prime_bits[1] = s.prime_bits[2] = 50;
    s.security = HERS_SEC_128;
    CHECK(hers_params_create(&p, &s) == HERS_ERR_INSECURE);   /* 150 > 109 */
    s.security = HERS_SEC_NONE;
    CHECK_OK(hers_params_create(&p, &s));
    hers_params_free(p);
    s.num_primes = 2;
    s.security = HERS_SEC_192;
    CHECK(hers_params_create(&p, &s) == HERS_ERR_INSECURE);   /* 100 > 75 */
    s.security = HERS_SEC_128;
    s.n = 3000;
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS);     /* not a power of two */
    s.n = 4096;
    s.primes[0] = (UINT64_C(1) << 49) + 1;                     /* not prime (divisible by 3) */
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS);
    s.primes[0] = 1099511627689;                               /* prime, not 1 mod 2N */
    CHECK(hers_is_prime(s.primes[0]));
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS);
    uint64_t q0;
    CHECK_OK(hers_primes_below(50, 8192, 1, NULL, 0, &q0));
    s.primes[0] = s.primes[1] = q0;                            /* duplicate */
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS);
    s.primes[1] = 0;
    CHECK_OK(hers_params_create(&p, &s));                       /* explicit + generated */
    CHECK(p && hers_params_prime(p, 0) == q0 && hers_params_prime(p, 1) != q0);
    hers_params_free(p);
    s.primes[0] = 0;
    s.t = 0;
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS);
    s.t = 65536;                                               /* coefficient encoding only */
    CHECK_OK(hers_params_create(&p, &s));
    CHECK(p && !hers_params_can_batch(p));
    hers_params_free(p);
    s.t = 1032193;
    s.n = 512;                                                 /* outside the HE Standard table */
    CHECK(hers_params_create(&p, &s) == HERS_ERR_INSECURE);
    s.security = HERS_SEC_NONE;
    CHECK_OK(hers_params_create(&p, &s));
    hers_params_free(p);
}

/* Round trip and homomorphic linear operations for one parameter set. */
static void test_ops(hers_params *p, int rounds)
{
    size_t n = hers_params_n(p);
    uint64_t t = hers_params_t(p);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)test_rand();
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    int64_t *a = calloc(n, 8), *b = calloc(n, 8), *r = calloc(n, 8);
    hers_plaintext pa = {0}, pb = {0}, pr = {0};
    hers_ciphertext ca = {0}, cb = {0}, cc = {0}, cs = {0};
    for (int round = 0; round < rounds; round++) {
        for (size_t i = 0; i < n; i++) {
            a[i] = rand_slot(t);
            b[i] = rand_slot(t);
        }
        CHECK_OK(hers_encode_batch(p, a, n, &pa));
        CHECK_OK(hers_encode_batch(p, b, n, &pb));
        CHECK_OK(hers_decode_batch(p, &pa, r));
        CHECK(memcmp(r, a, n * 8) == 0);
        CHECK_OK(hers_encrypt_public(p, pk, &pa, &ca));
        CHECK_OK(hers_encrypt_secret(p, sk, &pb, &cb));
        CHECK(cb.has_seed && !ca.has_seed && ca.ntt_form);
        double nb;
        CHECK_OK(hers_noise_budget(p, sk, &ca, &nb));
        CHECK(nb > 20);
        CHECK_OK(hers_decrypt(p, sk, &ca, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        CHECK(memcmp(r, a, n * 8) == 0);
        CHECK_OK(hers_decrypt(p, sk, &cb, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        CHECK(memcmp(r, b, n * 8) == 0);
        /* seed expansion recreates part 1 */
        CHECK_OK(hers_ciphertext_copy(&cb, &cs));
        memset(hers_ct_poly(&cs, 1, 0), 0, hers_params_num_primes(p) * n * 8);
        CHECK_OK(hers_ciphertext_expand_seed(p, &cs));
        CHECK(memcmp(cs.data, cb.data, 2 * hers_params_num_primes(p) * n * 8) == 0);
        /* add, sub, negate */
        CHECK_OK(hers_add(p, &ca, &cb, &cc));
        CHECK_OK(hers_decrypt(p, sk, &cc, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= r[i] == test_cmod(a[i] + b[i], t);
        CHECK(ok);
        CHECK_OK(hers_sub(p, &ca, &cb, &cc));
        CHECK_OK(hers_decrypt(p, sk, &cc, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= r[i] == test_cmod(a[i] - b[i], t);
        CHECK(ok);
        CHECK_OK(hers_negate(p, &cc, &cc));   /* aliasing */
        CHECK_OK(hers_decrypt(p, sk, &cc, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= r[i] == test_cmod(b[i] - a[i], t);
        CHECK(ok);
        /* ct x pt, NTT form and coefficient form */
        CHECK_OK(hers_mul_plain(p, &ca, &pb, &cc));
        double nb2;
        CHECK_OK(hers_noise_budget(p, sk, &cc, &nb2));
        CHECK(nb2 < nb && nb2 > 0);
        CHECK_OK(hers_decrypt(p, sk, &cc, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= r[i] == test_cmod((int64_t)((__int128)a[i] * b[i] % (__int128)t), t);
        CHECK(ok);
        CHECK_OK(hers_ciphertext_from_ntt(p, &ca));
        CHECK(!ca.ntt_form);
        CHECK_OK(hers_mul_plain(p, &ca, &pb, &cs));
        CHECK_OK(hers_ciphertext_to_ntt(p, &cs));
        CHECK(memcmp(cs.data, cc.data, 2 * hers_params_num_primes(p) * n * 8) == 0);
        CHECK_OK(hers_decrypt(p, sk, &ca, &pr));      /* coefficient-form decrypt */
        CHECK_OK(hers_decode_batch(p, &pr, r));
        CHECK(memcmp(r, a, n * 8) == 0);
        CHECK_OK(hers_ciphertext_to_ntt(p, &ca));
        /* modulus switching, BFV form */
        size_t k = hers_params_num_primes(p);
        for (size_t L = k; L >= 1; L--) {
            CHECK_OK(hers_mod_switch(p, &cc, L, &cs));
            CHECK(cs.num_primes == L);
            CHECK_OK(hers_decrypt(p, sk, &cs, &pr));
            CHECK_OK(hers_decode_batch(p, &pr, r));
            ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= r[i] == test_cmod((int64_t)((__int128)a[i] * b[i] % (__int128)t), t);
            CHECK(ok);
            double nbl;
            CHECK_OK(hers_noise_budget(p, sk, &cs, &nbl));
            CHECK(nbl > 0);
        }
        /* coefficient-form switching gives the NTT-form result, transformed */
        if (k > 1) {
            hers_ciphertext cf = {0}, sw1 = {0};
            CHECK_OK(hers_ciphertext_copy(&cc, &cf));
            CHECK_OK(hers_ciphertext_from_ntt(p, &cf));
            CHECK_OK(hers_mod_switch(p, &cf, 1, &cf));
            CHECK_OK(hers_mod_switch(p, &cc, 1, &sw1));
            CHECK_OK(hers_ciphertext_to_ntt(p, &cf));
            CHECK(cf.num_primes == 1 && memcmp(cf.data, sw1.data, 2 * n * 8) == 0);
            hers_ciphertext_free(&cf);
            hers_ciphertext_free(&sw1);
        }
        /* BGV form: t * (BFV ct) decrypts to -m in BGV form when Q = 1 mod t */
        if (hers_params_q_one_mod_t(p)) {
            CHECK_OK(hers_ciphertext_copy(&ca, &cs));
            test_times_t_bgv(p, &cs);
            for (size_t L = k; L >= 1; L--) {
                CHECK_OK(hers_mod_switch(p, &cs, L, &cs));   /* in place */
                CHECK_OK(hers_decrypt(p, sk, &cs, &pr));
                CHECK_OK(hers_decode_batch(p, &pr, r));
                ok = 1;
                for (size_t i = 0; i < n; i++)
                    ok &= r[i] == test_cmod(-a[i], t);
                CHECK(ok);
            }
        }
        /* mismatch detection */
        CHECK_OK(hers_mod_switch(p, &cc, 1, &cs));
        if (k > 1)
            CHECK(hers_add(p, &cc, &cs, &cs) == HERS_ERR_MISMATCH);
    }
    /* seeded twins are deterministic and identical on every SIMD level */
    uint8_t ref_pk[32], ref_sk[32], h[32];
    int first = 1;
    FOR_EACH_SIMD(level) {
        hers_secret_key *sk2 = NULL;
        hers_public_key *pk2 = NULL;
        CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk2));
        CHECK_OK(hers_keygen_public_seeded(p, sk2, seed, &pk2));
        CHECK_OK(hers_encrypt_public_seeded(p, pk2, &pa, seed, &ca));
        ct_hash(&ca, h);
        if (first)
            memcpy(ref_pk, h, 32);
        else
            CHECK(memcmp(ref_pk, h, 32) == 0);
        CHECK_OK(hers_encrypt_secret_seeded(p, sk2, &pa, seed, &cb));
        ct_hash(&cb, h);
        if (first)
            memcpy(ref_sk, h, 32);
        else
            CHECK(memcmp(ref_sk, h, 32) == 0);
        CHECK_OK(hers_decrypt(p, sk2, &cb, &pr));
        CHECK(memcmp(pr.coeffs, pa.coeffs, n * 8) == 0);
        CHECK_OK(hers_decrypt(p, sk2, &ca, &pr));
        CHECK(memcmp(pr.coeffs, pa.coeffs, n * 8) == 0);
        first = 0;
        hers_secret_key_free(sk2);
        hers_public_key_free(pk2);
    }
    /* coefficient encoding */
    for (size_t i = 0; i < n; i++)
        a[i] = rand_slot(t);
    CHECK_OK(hers_encode_coeff(p, a, n, &pa));
    CHECK_OK(hers_encrypt_secret(p, sk, &pa, &ca));
    CHECK_OK(hers_decrypt(p, sk, &ca, &pr));
    CHECK_OK(hers_decode_coeff(p, &pr, r));
    CHECK(memcmp(r, a, n * 8) == 0);

    free(a);
    free(b);
    free(r);
    hers_plaintext_free(&pa);
    hers_plaintext_free(&pb);
    hers_plaintext_free(&pr);
    hers_ciphertext_free(&ca);
    hers_ciphertext_free(&cb);
    hers_ciphertext_free(&cc);
    hers_ciphertext_free(&cs);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
}

/* Misuse is refused with the documented status codes. */
static void test_errors(void)
{
    hers_params *p = test_params(64, 257, 2, 50, HERS_Q_EACH_ONE_MOD_T);
    hers_params *p2 = test_params(128, 257, 2, 50, HERS_Q_EACH_ONE_MOD_T);
    if (!p || !p2)
        return;
    uint8_t seed[32] = {9};
    hers_secret_key *sk = NULL, *sk2 = NULL;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_secret_seeded(p2, seed, &sk2));
    CHECK_OK(hers_keygen_relin_seeded(p, sk, seed, &rk));
    hers_public_key *pk = NULL;
    CHECK(hers_keygen_public(p, sk2, &pk) == HERS_ERR_MISMATCH);
    int8_t bad[64] = {0};
    bad[5] = 2;
    hers_secret_key *sk3 = NULL;
    CHECK(hers_secret_key_from_coeffs(p, bad, &sk3) == HERS_ERR_FORMAT);
    bad[5] = -1;
    CHECK_OK(hers_secret_key_from_coeffs(p, bad, &sk3));
    hers_secret_key_free(sk3);
    hers_plaintext pt = {0}, pr = {0};
    int64_t v[64] = {1, 2, 3};
    CHECK_OK(hers_encode_batch(p, v, 64, &pt));
    CHECK(hers_encode_batch(p, v, 65, &pt) == HERS_ERR_ARG);
    hers_ciphertext c = {0}, m = {0};
    CHECK_OK(hers_encrypt_secret(p, sk, &pt, &c));
    CHECK(hers_decrypt(p, sk2, &c, &pr) == HERS_ERR_MISMATCH);
    CHECK(hers_decrypt(p2, sk2, &c, &pr) == HERS_ERR_MISMATCH);
    CHECK_OK(hers_mul(p, &c, &c, &m));                     /* squaring, aliasing inputs */
    CHECK(hers_mul(p, &m, &c, &m) == HERS_ERR_ARG);         /* 3-part operand */
    CHECK_OK(hers_decrypt(p, sk, &m, &pr));
    int64_t r[64];
    CHECK_OK(hers_decode_batch(p, &pr, r));
    CHECK(r[0] == 1 && r[1] == 4 && r[2] == 9 && r[3] == 0);
    m.form = HERS_FORM_BGV;
    CHECK(hers_relinearize(p, rk, &m, &m) == HERS_ERR_UNSUPPORTED);
    m.form = HERS_FORM_BFV;
    CHECK_OK(hers_mod_switch(p, &c, 1, &c));
    CHECK(hers_mul(p, &c, &c, &m) == HERS_ERR_UNSUPPORTED); /* fewer primes */
    CHECK(hers_mod_switch(p, &c, 2, &m) == HERS_ERR_ARG);
    CHECK(hers_ciphertext_expand_seed(p, &c) == HERS_ERR_STATE);
    hers_params_spec s;
    memset(&s, 0, sizeof s);
    s.n = 64;
    s.t = 256;                                              /* Q != 1 mod t */
    s.num_primes = 2;
    s.prime_bits[0] = s.prime_bits[1] = 50;
    hers_params *p3 = NULL;
    CHECK_OK(hers_params_create(&p3, &s));
    if (p3) {
        hers_secret_key *sk4 = NULL;
        CHECK_OK(hers_keygen_secret_seeded(p3, seed, &sk4));
        CHECK_OK(hers_encode_coeff(p3, v, 3, &pt));
        CHECK_OK(hers_encrypt_secret(p3, sk4, &pt, &c));
        CHECK(!hers_params_can_batch(p3));
        CHECK(!hers_params_q_one_mod_t(p3));
        CHECK(hers_encode_batch(p3, v, 3, &pt) == HERS_ERR_PARAMS);
        /* BGV switching without q_1 = 1 (mod t): t * (BFV ct of m) is a BGV
         * encryption of -(Q mod t)*m; it decrypts to the same coefficients
         * before and after dropping q_1 (decryption undoes q_1^-1 mod t). */
        CHECK(hers_params_prime(p3, 1) % 256 != 1);
        uint64_t qmt = (hers_params_prime(p3, 0) % 256) * (hers_params_prime(p3, 1) % 256) % 256;
        test_times_t_bgv(p3, &c);
        hers_plaintext p0 = {0};
        CHECK_OK(hers_decrypt(p3, sk4, &c, &p0));
        CHECK_OK(hers_mod_switch(p3, &c, 1, &m));
        CHECK(m.num_primes == 1 && m.form == HERS_FORM_BGV);
        CHECK_OK(hers_decrypt(p3, sk4, &m, &pr));
        int same = p0.coeffs != NULL && pr.coeffs != NULL;
        for (size_t j = 0; same && j < 64; j++) {
            uint64_t want = j < 3 ? (256 - qmt * ((uint64_t)v[j] % 256) % 256) % 256 : 0;
            same &= p0.coeffs[j] == want && pr.coeffs[j] == want;
        }
        CHECK(same);
        hers_plaintext_free(&p0);
        hers_secret_key_free(sk4);
        hers_params_free(p3);
    }
    hers_plaintext_free(&pt);
    hers_plaintext_free(&pr);
    hers_ciphertext_free(&c);
    hers_ciphertext_free(&m);
    hers_secret_key_free(sk);
    hers_secret_key_free(sk2);
    hers_relin_key_free(rk);
    hers_params_free(p);
    hers_params_free(p2);
}

/* Borrowed ciphertexts (hers_ciphertext_init_borrowed): the caller's
 * residues are used in place and never freed through the ciphertext, also
 * when an operation replaces them (run under ASan: a free of the block
 * would be reported). */
static void test_borrowed(hers_params *p)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret(p, &sk));
    int64_t v[4] = {1, -2, 3, 100};
    hers_plaintext pt = {0}, pr = {0};
    hers_ciphertext own = {0}, b = {0};
    CHECK_OK(hers_encode_batch(p, v, 4, &pt));
    CHECK_OK(hers_encrypt_secret(p, sk, &pt, &own));
    CHECK_OK(hers_ciphertext_expand_seed(p, &own));
    uint64_t *block = hers_alloc_array(2 * k * n, sizeof(uint64_t));
    CHECK(block != NULL);
    if (!block || !sk)
        goto done;
    memcpy(block, own.data, 2 * k * n * sizeof(uint64_t));
    CHECK(hers_ciphertext_init_borrowed(p, 4, block, &b) == HERS_ERR_ARG);
    CHECK_OK(hers_ciphertext_init_borrowed(p, 2, block, &b));
    CHECK(b.borrowed && b.data == block && b.parts == 2 && b.num_primes == k && b.ntt_form);
    int64_t *r = calloc(n, sizeof *r); /* decoding writes all N slots */
    CHECK(r != NULL);
    if (!r)
        goto done;
    CHECK_OK(hers_decrypt(p, sk, &b, &pr));
    CHECK_OK(hers_decode_batch(p, &pr, r));
    CHECK(r[0] == 1 && r[1] == -2 && r[2] == 3 && r[3] == 100);
    /* copying into a borrowed ciphertext of the same shape keeps its storage */
    CHECK_OK(hers_ciphertext_copy(&own, &b));
    CHECK(b.borrowed && b.data == block);
    if (k > 1) { /* switching in place gives b storage of its own */
        CHECK_OK(hers_mod_switch(p, &b, 1, &b));
        CHECK(!b.borrowed && b.data != block);
        CHECK_OK(hers_decrypt(p, sk, &b, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        CHECK(r[0] == 1 && r[3] == 100);
    }
    hers_ciphertext_free(&b);
    CHECK_OK(hers_ciphertext_init_borrowed(p, 2, block, &b));
    hers_ciphertext_free(&b);            /* leaves the block alone */
    CHECK(memcmp(block, own.data, 2 * k * n * sizeof(uint64_t)) == 0);
    free(r);
done:
    hers_free(block);
    hers_ciphertext_free(&own);
    hers_plaintext_free(&pt);
    hers_plaintext_free(&pr);
    hers_secret_key_free(sk);
}

/* The allocation-free batch entry point equals hers_encode_batch +
 * hers_encrypt_*_seeded with the same seeds, message by message, bit for bit
 * (at every SIMD level); out-of-range values write nothing. */
static void test_batch_encrypt(hers_params *p)
{
    size_t n = hers_params_n(p), k = hers_params_num_primes(p), kn = k * n;
    uint64_t t = hers_params_t(p);
    enum { COUNT = 3 };
    size_t slots = n - 3, stride = n + 5;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    CHECK_OK(hers_keygen_secret(p, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    int32_t *vals = calloc(COUNT * stride, sizeof *vals);
    int64_t *v64 = calloc(n, sizeof *v64);
    uint64_t *scratch = hers_alloc_array(hers_encrypt_batch_scratch_words(p), sizeof(uint64_t));
    uint64_t *c0 = hers_alloc_array(COUNT * kn, sizeof(uint64_t));
    uint64_t *c = hers_alloc_array(COUNT * 2 * kn, sizeof(uint64_t));
    CHECK(vals && v64 && scratch && c0 && c && sk && pk);
    if (!vals || !v64 || !scratch || !c0 || !c || !sk || !pk)
        goto done;
    uint8_t seeds[COUNT][HERS_SEED_BYTES], a_seeds[COUNT][HERS_SEED_BYTES];
    for (size_t m = 0; m < COUNT; m++) {
        for (size_t b = 0; b < HERS_SEED_BYTES; b++)
            seeds[m][b] = (uint8_t)test_rand();
        for (size_t x = 0; x < slots; x++) /* the edges |v| = t/2 included */
            vals[m * stride + x] = x < 2 ? (x ? -(int32_t)(t / 2) : (int32_t)(t / 2))
                                         : (int32_t)rand_slot(t);
    }
    const uint8_t (*cs)[HERS_SEED_BYTES] = (const uint8_t (*)[HERS_SEED_BYTES])seeds;
    FOR_EACH_SIMD(level) {
        CHECK_OK(hers_encrypt_batch_secret(p, sk, vals, stride, slots, COUNT, cs, scratch, a_seeds, c0));
        CHECK_OK(hers_encrypt_batch_public(p, pk, vals, stride, slots, COUNT, cs, scratch, c));
        for (size_t m = 0; m < COUNT; m++) {
            hers_plaintext pt = {0};
            hers_ciphertext ref = {0};
            for (size_t x = 0; x < slots; x++)
                v64[x] = vals[m * stride + x];
            CHECK_OK(hers_encode_batch(p, v64, slots, &pt));
            CHECK_OK(hers_encrypt_secret_seeded(p, sk, &pt, seeds[m], &ref));
            CHECK(memcmp(ref.seed, a_seeds[m], HERS_SEED_BYTES) == 0);
            CHECK(memcmp(hers_ct_poly(&ref, 0, 0), c0 + m * kn, kn * sizeof(uint64_t)) == 0);
            CHECK_OK(hers_encrypt_public_seeded(p, pk, &pt, seeds[m], &ref));
            CHECK(memcmp(ref.data, c + m * 2 * kn, 2 * kn * sizeof(uint64_t)) == 0);
            hers_ciphertext_free(&ref);
            hers_plaintext_free(&pt);
        }
    }
    /* one value past t/2: refused before anything is written */
    memset(c0, 0xab, COUNT * kn * sizeof(uint64_t));
    vals[2 * stride + 7] = (int32_t)(t / 2) + 1;
    CHECK(hers_encrypt_batch_secret(p, sk, vals, stride, slots, COUNT, cs, scratch, a_seeds, c0) ==
          HERS_ERR_ARG);
    CHECK(c0[0] == 0xababababababababull);
    CHECK(hers_encrypt_batch_public(p, pk, vals, stride, slots, COUNT, cs, scratch, c) == HERS_ERR_ARG);
    CHECK(hers_encrypt_batch_secret(p, sk, vals, stride, n + 1, 1, cs, scratch, a_seeds, c0) ==
          HERS_ERR_ARG);
    CHECK(hers_encrypt_batch_secret(p, sk, vals, stride, slots, 1, cs, NULL, a_seeds, c0) ==
          HERS_ERR_ARG);
done:
    if (scratch)
        hers_free_secret(scratch, hers_encrypt_batch_scratch_words(p) * sizeof(uint64_t));
    hers_free(c0);
    hers_free(c);
    free(vals);
    free(v64);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
}

int main(void)
{
    test_rand_seed(test_seed());
    quick = getenv("HERS_TEST_QUICK") != NULL;
    test_validation();
    test_errors();
    hers_params *p = test_params(64, 257, 2, 50, HERS_Q_EACH_ONE_MOD_T);
    if (p) {
        test_ops(p, 3);
        test_borrowed(p);
        test_batch_encrypt(p);
        hers_params_free(p);
    }
    p = test_params(256, 12289, 3, 50, HERS_Q_EACH_ONE_MOD_T);
    if (p) {
        test_ops(p, 2);
        hers_params_free(p);
    }
    CHECK_OK(hers_params_create_named(&p, "n4096"));
    if (p) {
        test_ops(p, quick ? 1 : 2);
        test_batch_encrypt(p);
        hers_params_free(p);
    }
    if (!quick) {
        CHECK_OK(hers_params_create_named(&p, "n8192"));
        if (p) {
            test_ops(p, 1);
            hers_params_free(p);
        }
    }
    return test_finish();
}
