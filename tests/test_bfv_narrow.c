/*
 * test_bfv_narrow.c - product mode (HERS_Q_PRODUCT_ONE_MOD_T: primes only
 * = 1 mod 2N, the product Q = 1 mod t), the narrow named set "s4096"
 * (primes < 2^30), BGV modulus switching with primes != 1 (mod t), and the
 * 4-byte seed expansion for primes below 2^32.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bfv/bfv_internal.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_modarith.h"
#include "hers/hers_serial.h"
#include "support/bfv_test.h"
#include "support/check.h"

static int quick;

static uint64_t q_mod_t(const hers_params *p)
{
    uint64_t t = hers_params_t(p), r = 1 % t;
    for (size_t i = 0; i < hers_params_num_primes(p); i++)
        r = (uint64_t)((unsigned __int128)r * (hers_params_prime(p, i) % t) % t);
    return r;
}

/* ---- s4096: the primes */
static void test_s4096_params(void)
{
    hers_params *p = NULL;
    CHECK_OK(hers_params_create_named(&p, "s4096"));
    if (!p)
        return;
    CHECK(strcmp(hers_params_name(p), "s4096") == 0);
    CHECK(hers_params_n(p) == 4096 && hers_params_t(p) == 1032193);
    CHECK(hers_params_num_primes(p) == 3);
    CHECK(hers_params_security(p) == HERS_SEC_128);
    CHECK(hers_params_can_batch(p));
    CHECK(hers_params_q_one_mod_t(p));
    CHECK(q_mod_t(p) == 1);
    for (size_t i = 0; i < 3; i++) {
        uint64_t q = hers_params_prime(p, i);
        CHECK(q < (UINT64_C(1) << 30) && q >= (UINT64_C(1) << 29));
        CHECK(q % 8192 == 1);
        CHECK(hers_is_prime(q));
        CHECK(q != 1032193);
        for (size_t j = 0; j < i; j++)
            CHECK(hers_params_prime(p, j) != q);
    }
    int max_bits = 0;
    CHECK_OK(hers_he_standard_max_log_q(4096, HERS_SEC_128, &max_bits));
    CHECK(max_bits == 109 && hers_params_log_q(p) <= max_bits);
    /* listed, deterministic, distinct from the default set */
    int listed = 0;
    for (const char *const *nm = hers_params_names(); *nm; nm++)
        listed += strcmp(*nm, "s4096") == 0;
    CHECK(listed == 1);
    hers_params *p2 = NULL, *d = NULL;
    CHECK_OK(hers_params_create_named(&p2, "s4096"));
    CHECK_OK(hers_params_create_named(&d, "default"));
    CHECK(p2 && memcmp(hers_params_id(p), hers_params_id(p2), 32) == 0);
    CHECK(d && strcmp(hers_params_name(d), "n4096") == 0);
    CHECK(d && memcmp(hers_params_id(p), hers_params_id(d), 32) != 0);

    /* the same primes given explicitly are accepted in product mode; a
     * wrong product is refused */
    hers_params_spec s;
    memset(&s, 0, sizeof s);
    s.n = 4096;
    s.t = 1032193;
    s.num_primes = 3;
    s.q_one_mod_t = HERS_Q_PRODUCT_ONE_MOD_T;
    s.security = HERS_SEC_128;
    for (size_t i = 0; i < 3; i++) {
        s.primes[i] = hers_params_prime(p, i);
        s.prime_bits[i] = 30;
    }
    hers_params *e = NULL;
    CHECK_OK(hers_params_create(&e, &s));
    CHECK(e && memcmp(hers_params_id(p), hers_params_id(e), 32) == 0);
    hers_params_free(e);
    /* two explicit, the last generated: the same last prime */
    s.primes[2] = 0;
    CHECK_OK(hers_params_create(&e, &s));
    CHECK(e && hers_params_prime(e, 2) == hers_params_prime(p, 2));
    hers_params_free(e);
    /* explicit primes whose product is not 1 mod t */
    s.primes[2] = hers_params_prime(p, 1);
    s.primes[1] = 0;
    {
        /* q_1 := another prime = 1 mod 2N */
        uint64_t alt[4], excl[4] = {s.primes[0], s.primes[2], hers_params_prime(p, 2), 1032193};
        CHECK_OK(hers_primes_below(30, 8192, 1, excl, 4, alt));
        s.primes[1] = alt[0];
        s.primes[2] = hers_params_prime(p, 2);
        CHECK(hers_params_create(&e, &s) == HERS_ERR_PARAMS);
        CHECK(e == NULL);
    }
    /* the last generated prime with no previous generated one to step:
     * with q_0 and the original q_1 (the next prime = 1 mod 2N below q_0)
     * given, the class of the last prime is empty in [2^29, 2^30) exactly
     * when the generator had to step q_1 down */
    {
        uint64_t two[2], excl[1] = {1032193};
        CHECK_OK(hers_primes_below(30, 8192, 2, excl, 1, two));
        CHECK(two[0] == hers_params_prime(p, 0));
        s.primes[0] = two[0];
        s.primes[1] = two[1];
        s.primes[2] = 0;
        hers_status st = hers_params_create(&e, &s);
        if (two[1] != hers_params_prime(p, 1))
            CHECK(st == HERS_ERR_PARAMS);
        else
            CHECK(st == HERS_OK);
        hers_params_free(e);
        e = NULL;
    }
    /* serialised (by name) and read back: the same set */
    {
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_params_serialized_size(p, &sz));
        uint8_t *b = malloc(sz ? sz : 1);
        hers_params *r = NULL;
        CHECK_OK(hers_params_serialize(p, b, sz, &wr));
        CHECK_OK(hers_params_deserialize(b, wr, &r));
        CHECK(r && memcmp(hers_params_id(r), hers_params_id(p), 32) == 0);
        CHECK(r && strcmp(hers_params_name(r), "s4096") == 0);
        hers_params_free(r);
        free(b);
    }
    hers_params_free(p);
    hers_params_free(p2);
    hers_params_free(d);
}

/* ---- impossible product-mode requests */
static void test_refusals(void)
{
    hers_params_spec s;
    memset(&s, 0, sizeof s);
    s.n = 64;
    s.num_primes = 3;
    s.prime_bits[0] = s.prime_bits[1] = s.prime_bits[2] = 30;
    s.q_one_mod_t = HERS_Q_PRODUCT_ONE_MOD_T;
    hers_params *p = NULL;
    s.t = 256;   /* gcd(2N, t) != 1 */
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS && p == NULL);
    s.t = 65536 + 1;   /* odd, fine (t = 65537 prime, 1 mod 128) */
    CHECK_OK(hers_params_create(&p, &s));
    CHECK(p && hers_params_q_one_mod_t(p) && q_mod_t(p) == 1);
    /* t sharing a factor with an (explicit) prime */
    uint64_t q0 = p ? hers_params_prime(p, 0) : 0;
    hers_params_free(p);
    p = NULL;
    s.primes[0] = q0;
    s.t = 3 * q0;   /* < 2^40, odd */
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS && p == NULL);
    s.primes[0] = 0;
    /* unknown mode */
    s.t = 65537;
    s.q_one_mod_t = 3;
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS && p == NULL);
    /* prime sizes out of range for the last (fixed-up) prime */
    s.q_one_mod_t = HERS_Q_PRODUCT_ONE_MOD_T;
    s.prime_bits[2] = 19;
    CHECK(hers_params_create(&p, &s) == HERS_ERR_PARAMS && p == NULL);
    s.prime_bits[2] = 30;
    hers_params_free(p);
}

/* ---- small product-mode set: arithmetic */
/* A product-mode set of small N: its primes (the depth-1 sums, relinearisation
 * and switching on such sets run in tests/test_bfv_mul.c). */
static void test_small_product(size_t n, uint64_t t)
{
    hers_params *p = test_params(n, t, 3, 30, HERS_Q_PRODUCT_ONE_MOD_T);
    if (!p)
        return;
    CHECK(hers_params_can_batch(p) && hers_params_q_one_mod_t(p) && q_mod_t(p) == 1);
    for (size_t i = 0; i < 3; i++) {
        uint64_t q = hers_params_prime(p, i);
        CHECK(q % (2 * n) == 1 && q < (UINT64_C(1) << 30) && q >= (UINT64_C(1) << 29));
    }
    hers_params_free(p);
}

/* Reference for the documented expansion rule (bfv_internal.h): 4 LE bytes
 * per candidate when q < 2^32, 8 otherwise; low bits(q) bits; reject >= q. */
static void ref_expand(const hers_params *p, const uint8_t seed[32], uint64_t stream, uint64_t *out)
{
    hers_prg g;
    hers_prg_init(&g, seed, stream);
    size_t n = hers_params_n(p);
    for (size_t i = 0; i < hers_params_num_primes(p); i++) {
        uint64_t q = hers_params_prime(p, i);
        int bits = 64 - __builtin_clzll(q);
        uint64_t mask = bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
        size_t wb = q < (UINT64_C(1) << 32) ? 4 : 8;
        for (size_t j = 0; j < n;) {
            uint8_t b[8];
            hers_prg_bytes(&g, b, wb);
            uint64_t w = 0;
            for (size_t l = wb; l-- > 0;)
                w = (w << 8) | b[l];
            w &= mask;
            if (w < q)
                out[i * n + j++] = w;
        }
    }
    hers_prg_wipe(&g);
}

/* ---- s4096: BGV switching, seeded expansion, SIMD agreement */
static void test_s4096_ops(void)
{
    hers_params *p = NULL;
    CHECK_OK(hers_params_create_named(&p, "s4096"));
    if (!p)
        return;
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint64_t t = hers_params_t(p);
    uint8_t seed[32], eseed[32];
    test_rand_seed32(seed);
    test_rand_seed32(eseed);
    int64_t *a = calloc(n, 8), *r = calloc(n, 8);
    for (size_t i = 0; i < n; i++)
        a[i] = (int64_t)(test_rand() % t) - (int64_t)(t / 2);
    hers_plaintext pa = {0}, pr = {0};
    CHECK_OK(hers_encode_batch(p, a, n, &pa));
    uint64_t *refa = hers_alloc_array(k * n, sizeof(uint64_t));
    uint8_t ref_h[8][32];
    int first = 1;
    FOR_EACH_SIMD(level) {
        hers_secret_key *sk = NULL;
        hers_ciphertext c = {0};
        CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
        CHECK_OK(hers_encrypt_secret_seeded(p, sk, &pa, eseed, &c));
        if (!sk || !c.data) {
            hers_secret_key_free(sk);
            hers_ciphertext_free(&c);
            break;
        }
        /* part 1 is the 4-byte expansion of the seed */
        if (refa) {
            ref_expand(p, c.seed, HERS_STREAM_CT_A, refa);
            CHECK(c.has_seed && memcmp(hers_ct_poly(&c, 1, 0), refa, k * n * 8) == 0);
        }
        CHECK_OK(hers_decrypt(p, sk, &c, &pr));
        CHECK_OK(hers_decode_batch(p, &pr, r));
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= r[i] == a[i];
        CHECK(ok);
        /* t * ct: BGV form of -a (Q = 1 mod t), switched to every level */
        test_times_t_bgv(p, &c);
        for (size_t L = k; L >= 1; L--) {
            CHECK_OK(hers_mod_switch(p, &c, L, &c));
            CHECK(c.num_primes == L && c.form == HERS_FORM_BGV);
            double nb = 0;
            CHECK_OK(hers_noise_budget(p, sk, &c, &nb));
            CHECK(nb > 0);
            if (first)
                fprintf(stderr, "  s4096 2-part BGV (t * fresh) budget at L=%zu: %.1f bits\n", L, nb);
            CHECK_OK(hers_decrypt(p, sk, &c, &pr));
            CHECK_OK(hers_decode_batch(p, &pr, r));
            ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= r[i] == test_cmod(-(__int128)a[i], t);
            CHECK(ok);
            /* the switched ciphertext is bit-identical on every SIMD level */
            uint8_t h[32];
            crypto_generichash(h, 32, (const uint8_t *)c.data, c.parts * c.num_primes * n * 8, NULL, 0);
            if (first)
                memcpy(ref_h[L], h, 32);
            else
                CHECK(memcmp(ref_h[L], h, 32) == 0);
        }
        first = 0;
        hers_ciphertext_free(&c);
        hers_secret_key_free(sk);
    }
    hers_free(refa);
    free(a);
    free(r);
    hers_plaintext_free(&pa);
    hers_plaintext_free(&pr);
    hers_params_free(p);
}

/* s4096: 3-part BGV (t * ct x ct, the search result form) switched down.
 * Prints the budgets; correctness is checked where the budget is positive
 * (one 30-bit prime leaves too little room for a 3-part ciphertext: the
 * rounding term delta_2 s^2 / q_l is ~ t sqrt(N) |s^2|). */
static void test_s4096_three_parts(void)
{
    hers_params *p = NULL;
    CHECK_OK(hers_params_create_named(&p, "s4096"));
    if (!p)
        return;
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint64_t t = hers_params_t(p);
    uint8_t seed[32];
    test_rand_seed32(seed);
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    int64_t *x = calloc(n, 8), *y = calloc(n, 8), *r = calloc(n, 8);
    for (size_t i = 0; i < n; i++) {
        x[i] = (int64_t)(test_rand() % 251) - 125;
        y[i] = (int64_t)(test_rand() % 251) - 125;
    }
    hers_plaintext px = {0}, py = {0}, pr = {0};
    hers_ciphertext cx = {0}, cy = {0}, c = {0};
    CHECK_OK(hers_encode_batch(p, x, n, &px));
    CHECK_OK(hers_encode_batch(p, y, n, &py));
    CHECK_OK(hers_encrypt_secret(p, sk, &px, &cx));
    CHECK_OK(hers_encrypt_secret(p, sk, &py, &cy));
    CHECK_OK(hers_mul(p, &cx, &cy, &c));
    if (sk && c.data && c.parts == 3) {
        test_times_t_bgv(p, &c);
        fprintf(stderr, "  s4096 3-part BGV budget by level:");
        for (size_t L = k; L >= 1; L--) {
            CHECK_OK(hers_mod_switch(p, &c, L, &c));
            double nb = 0;
            CHECK_OK(hers_noise_budget(p, sk, &c, &nb));
            fprintf(stderr, " L=%zu %.1f", L, nb);
            CHECK_OK(hers_decrypt(p, sk, &c, &pr));
            CHECK_OK(hers_decode_batch(p, &pr, r));
            int ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= r[i] == test_cmod(-(__int128)x[i] * y[i], t);
            if (nb > 1.0)
                CHECK(ok);
            if (L >= 2)
                CHECK(nb > 1.0);
        }
        fprintf(stderr, "\n");
    }
    free(x);
    free(y);
    free(r);
    hers_plaintext_free(&px);
    hers_plaintext_free(&py);
    hers_plaintext_free(&pr);
    hers_ciphertext_free(&cx);
    hers_ciphertext_free(&cy);
    hers_ciphertext_free(&c);
    hers_secret_key_free(sk);
    hers_params_free(p);
}

/* The 8-byte rule stays for primes >= 2^32 (streams of the n* sets). */
static void test_expand_wide(void)
{
    hers_params *p = NULL;
    CHECK_OK(hers_params_create_named(&p, "n2048"));
    if (!p)
        return;
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    uint8_t seed[32];
    test_rand_seed32(seed);
    uint64_t *a = hers_alloc_array(2 * k * n, sizeof(uint64_t));
    if (a) {
        hers_bfv_expand_uniform(p, seed, 5, k, a);
        ref_expand(p, seed, 5, a + k * n);
        CHECK(memcmp(a, a + k * n, k * n * 8) == 0);
    }
    hers_free(a);
    hers_params_free(p);
}

int main(void)
{
    test_rand_seed(test_seed());
    quick = getenv("HERS_TEST_QUICK") != NULL;
    test_s4096_params();
    test_refusals();
    test_small_product(quick ? 64 : 256, 1032193);
    test_small_product(64, 12289);
    test_s4096_ops();
    test_s4096_three_parts();
    test_expand_wide();
    return test_finish();
}
