/* test_rns.c - RNS bases against a GMP oracle: CRT composition, exact base
 * conversion ([0, M) and centred) and scale-and-round (to a plaintext modulus
 * and to an extension base), on random residues, for several base shapes. */
#include <gmp.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_rns.h"
#include "support/check.h"

static void mpz_from_limbs(mpz_t z, const uint64_t *x, size_t limbs)
{
    mpz_import(z, limbs, -1, sizeof(uint64_t), 0, 0, x);
}

static uint64_t mpz_mod_u64(const mpz_t z, uint64_t m)
{
    mpz_t r;
    mpz_init(r);
    mpz_t mm;
    mpz_init(mm);
    mpz_import(mm, 1, -1, 8, 0, 0, &m);
    mpz_fdiv_r(r, z, mm);
    uint64_t v = 0;
    size_t cnt = 0;
    mpz_export(&v, &cnt, -1, 8, 0, 0, r);
    mpz_clear(r);
    mpz_clear(mm);
    return v;
}

static void mpz_set_u64(mpz_t z, uint64_t v)
{
    mpz_import(z, 1, -1, 8, 0, 0, &v);
}

/* k random distinct primes of `bits` bits, = 1 mod 32 */
static void pick_primes(uint64_t *out, size_t k, int bits, const uint64_t *excl, size_t ne)
{
    CHECK_OK(hers_primes_below(bits, 32, k, excl, ne, out));
}

static void test_base(size_t kd, size_t ke, int bits_d, int bits_e, uint64_t T, size_t n)
{
    uint64_t mods[HERS_RNS_MAX];
    pick_primes(mods, kd, bits_d, NULL, 0);
    if (ke)
        pick_primes(mods + kd, ke, bits_e, mods, kd);
    size_t k = kd + ke;
    hers_rns_base *A = NULL, *D = NULL;
    CHECK_OK(hers_rns_base_create(&A, mods, k));
    CHECK_OK(hers_rns_base_create(&D, mods, kd));
    if (!A || !D)
        return;
    /* target moduli for conversion D -> E (or to T) */
    uint64_t to[HERS_RNS_MAX];
    size_t kt = ke ? ke : 1;
    if (ke)
        memcpy(to, mods + kd, ke * sizeof(uint64_t));
    else
        to[0] = T;
    hers_rns_conv *conv = NULL;
    hers_rns_scaler *sc = NULL;
    CHECK_OK(hers_rns_conv_create(&conv, D, to, kt));
    CHECK_OK(hers_rns_scaler_create(&sc, A, kd, T));
    uint64_t *in = calloc(k * n, 8), *out = calloc(kt * n, 8), *outc = calloc(kt * n, 8);
    uint64_t *sout = calloc(kt * n, 8);
    mpz_t M, Dz, x, y, two, Tz, half;
    mpz_inits(M, Dz, x, y, two, Tz, half, NULL);
    mpz_from_limbs(M, A->prod, A->limbs);
    mpz_from_limbs(Dz, D->prod, D->limbs);
    mpz_set_u64(Tz, T);
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < k; i++)
            in[i * n + j] = test_rand() % mods[i];
        /* a few values near 0 and near D/2 (edge of centring) in D */
        if (j < 4) {
            uint64_t v = j;
            for (size_t i = 0; i < kd; i++)
                in[i * n + j] = (mods[i] - v) % mods[i];   /* x = -j mod D */
        }
    }
    /* values close to the rounding boundaries: T x / D and x / D within
     * about 2^-48 of 1/2 (so the SIMD kernels take their exact fallback),
     * but farther than the 2^-70 resolution of the fixed-point code */
    if (n >= 16) {
        mpz_t b0, b1, s0, s1;
        mpz_inits(b0, b1, s0, s1, NULL);
        mpz_mul_ui(b0, Tz, 2);
        mpz_fdiv_q(b0, Dz, b0);          /* floor(D / 2T) */
        mpz_fdiv_q_2exp(b1, Dz, 1);      /* floor(D / 2) */
        mpz_fdiv_q_2exp(s0, Dz, 48);
        mpz_fdiv_q(s0, s0, Tz);          /* D / (T 2^48) */
        mpz_fdiv_q_2exp(s1, Dz, 48);     /* D / 2^48 */
        if (mpz_sgn(s0) == 0)
            mpz_set_ui(s0, 1);
        if (mpz_sgn(s1) == 0)
            mpz_set_ui(s1, 1);
        static const int steps[6] = {-3, -2, -1, 1, 2, 3};
        for (size_t j = 4; j < 16; j++) {
            int st = steps[(j - 4) % 6];
            mpz_set(x, j < 10 ? s0 : s1);
            mpz_mul_si(x, x, st);
            mpz_add(x, x, j < 10 ? b0 : b1);
            if (j < 10 && st > 0)
                mpz_add_ui(x, x, 1);     /* floor(D/2T) itself is below 1/2 */
            for (size_t i = 0; i < kd; i++)
                in[i * n + j] = mpz_mod_u64(x, mods[i]);
        }
        mpz_clears(b0, b1, s0, s1, NULL);
    }
    FOR_EACH_SIMD(level) {
        hers_rns_convert(conv, in, out, n, 0);
        hers_rns_convert(conv, in, outc, n, 1);
        hers_rns_scale_round(sc, in, sout, n);
        uint64_t limbs[HERS_RNS_MAX_LIMBS];
        for (size_t j = 0; j < n; j++) {
            /* composition in D */
            hers_rns_compose(D, in + j, n, limbs);
            mpz_from_limbs(x, limbs, D->limbs);
            for (size_t i = 0; i < kd; i++)
                CHECK_EQ_U64(mpz_mod_u64(x, mods[i]), in[i * n + j]);
            CHECK(mpz_cmp(x, Dz) < 0);
            /* conversion, [0, D) */
            for (size_t l = 0; l < kt; l++)
                CHECK_EQ_U64(out[l * n + j], mpz_mod_u64(x, to[l]));
            /* centred */
            mpz_fdiv_q_2exp(half, Dz, 1);
            mpz_set(y, x);
            if (mpz_cmp(y, half) > 0)
                mpz_sub(y, y, Dz);
            for (size_t l = 0; l < kt; l++)
                CHECK_EQ_U64(outc[l * n + j], mpz_mod_u64(y, to[l]));
            /* scale and round over A: round(T x / D) for x in [0, A) */
            hers_rns_compose(A, in + j, n, limbs);
            mpz_from_limbs(x, limbs, A->limbs);
            mpz_mul(y, x, Tz);
            mpz_mul_2exp(y, y, 1);
            mpz_add(y, y, Dz);
            mpz_mul_2exp(two, Dz, 1);
            mpz_fdiv_q(y, y, two);
            for (size_t l = 0; l < kt; l++)
                CHECK_EQ_U64(sout[l * n + j], mpz_mod_u64(y, ke ? to[l] : T));
        }
    }
    mpz_clears(M, Dz, x, y, two, Tz, half, NULL);
    free(in);
    free(out);
    free(outc);
    free(sout);
    hers_rns_conv_free(conv);
    hers_rns_scaler_free(sc);
    hers_rns_base_free(A);
    hers_rns_base_free(D);
}

int main(void)
{
    test_rand_seed(test_seed());
    int quick = getenv("HERS_TEST_QUICK") != NULL;
    size_t n = quick ? 64 : 512;
    /* decryption shape: D = Q, scale to t */
    test_base(2, 0, 50, 0, 1032193, n);
    test_base(1, 0, 50, 0, 12289, n);
    test_base(6, 0, 50, 0, 786433, n);
    test_base(3, 0, 61, 0, 65537, n);
    test_base(2, 0, 50, 0, 256, n);           /* composite (power of two) T */
    /* multiplication shape: D = Q, E = P */
    test_base(2, 3, 50, 50, 1032193, n);
    test_base(4, 5, 50, 50, 786433, n);
    test_base(6, 7, 50, 50, 786433, n);        /* n32768 shape */
    test_base(3, 4, 61, 50, (UINT64_C(1) << 40) - 87, n);
    test_base(16, 21, 61, 50, 786433, quick ? 16 : 64);
    /* bad input */
    hers_rns_base *b = NULL;
    uint64_t bad[2] = {15, 25};
    CHECK(hers_rns_base_create(&b, bad, 2) == HERS_ERR_ARG);
    CHECK(hers_rns_base_create(&b, bad, 0) == HERS_ERR_ARG);
    return test_finish();
}
