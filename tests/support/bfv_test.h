/*
 * bfv_test.h - small helpers shared by the BFV tests (static inline: each
 * test is its own program).
 */
#ifndef HERS_TEST_BFV_TEST_H
#define HERS_TEST_BFV_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_bfv.h"
#include "hers/hers_ntt.h"

#include "support/check.h"

/* A parameter set without the security check (small N for fast tests):
 * k primes of `bits` bits, q_mode as hers_params_spec.q_one_mod_t. NULL
 * (and a failed CHECK) if it cannot be made. */
static inline hers_params *test_params(size_t n, uint64_t t, size_t k, int bits, int q_mode)
{
    hers_params_spec s;
    memset(&s, 0, sizeof s);
    s.n = n;
    s.t = t;
    s.num_primes = k;
    for (size_t i = 0; i < k; i++)
        s.prime_bits[i] = bits;
    s.q_one_mod_t = q_mode;
    s.security = HERS_SEC_NONE;
    hers_params *p = NULL;
    CHECK_OK(hers_params_create(&p, &s));
    return p;
}

/* v mod t centred into (-t/2, t/2], the way batch decoding returns slots. */
static inline int64_t test_cmod(__int128 v, uint64_t t)
{
    __int128 r = v % (__int128)t;
    if (r < 0)
        r += t;
    if (r > (__int128)(t / 2))
        r -= t;
    return (int64_t)r;
}

/* A 32-byte key seed from the test's printed-seed PRNG. */
static inline void test_rand_seed32(uint8_t seed[32])
{
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)test_rand();
}

/* t * ct, every part and prime, marked BGV form: with Q = 1 (mod t) a BFV
 * ciphertext of m becomes a BGV one of -m (of -(Q mod t) m in general). */
static inline void test_times_t_bgv(const hers_params *p, hers_ciphertext *ct)
{
    uint64_t t = hers_params_t(p);
    for (size_t part = 0; part < ct->parts; part++)
        for (size_t i = 0; i < ct->num_primes; i++)
            hers_poly_mul_scalar(hers_ct_poly(ct, part, i), hers_ct_poly(ct, part, i),
                                 t % hers_params_prime(p, i), ct->n, &hers_params_ntt(p, i)->q);
    ct->form = HERS_FORM_BGV;
    ct->has_seed = 0; /* part 1 no longer matches the seed */
}

/* Decrypts and batch-decodes ct; 1 if every slot is sign * want[i] centred
 * mod t. */
static inline int test_decrypts_to(const hers_params *p, const hers_secret_key *sk,
                                   const hers_ciphertext *ct, const __int128 *want, int sign)
{
    size_t n = hers_params_n(p);
    uint64_t t = hers_params_t(p);
    int64_t *r = calloc(n, sizeof *r);
    hers_plaintext pt = {0};
    int ok = r != NULL;
    CHECK_OK(hers_decrypt(p, sk, ct, &pt));
    CHECK_OK(hers_decode_batch(p, &pt, r));
    for (size_t i = 0; ok && i < n; i++)
        ok &= r[i] == test_cmod(sign * want[i], t);
    hers_plaintext_free(&pt);
    free(r);
    return ok;
}

#endif
