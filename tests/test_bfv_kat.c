/* test_bfv_kat.c - known-answer transcript of the BFV engine: seeded key
 * generation, seeded public- and secret-key encryption, multiplication,
 * relinearisation, modulus switching and decryption, each output hashed
 * (BLAKE2b-256 of the residues as little-endian 64-bit words) and compared
 * with tests/kat/bfv_kat.txt. Every SIMD level must give the same transcript.
 *
 * Regenerate (only after an intended change of the algorithms, and say so in
 * the commit): HERS_KAT_WRITE=1 ./test_bfv_kat */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bfv/bfv_internal.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "support/check.h"
#include "support/kat.h"

#define MAX_LINES 96

static test_kat_line lines[MAX_LINES];
static size_t nlines;

static void hash_words(const char *label, const uint64_t *w, size_t count)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    uint8_t buf[8 * 256];
    for (size_t i = 0; i < count; i += 256) {
        size_t m = count - i < 256 ? count - i : 256;
        for (size_t j = 0; j < m; j++)
            for (int b = 0; b < 8; b++)
                buf[8 * j + b] = (uint8_t)(w[i + j] >> (8 * b));
        crypto_generichash_update(&st, buf, 8 * m);
    }
    uint8_t h[32];
    crypto_generichash_final(&st, h, 32);
    if (nlines < MAX_LINES)
        test_kat_format(lines[nlines++], label, h, sizeof h);
}

static void hash_ct(const char *label, const hers_ciphertext *ct)
{
    hash_words(label, ct->data, ct->parts * ct->num_primes * ct->n);
}

static void transcript(const char *set, hers_params *p)
{
    char label[64];
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    seed[0] ^= 1;
    CHECK_OK(hers_keygen_public_seeded(p, sk, seed, &pk));
    seed[0] ^= 2;
    CHECK_OK(hers_keygen_relin_seeded(p, sk, seed, &rk));
    if (!sk || !pk || !rk)
        return;
    snprintf(label, sizeof label, "%s.params_id", set);
    {
        uint64_t idw[4];
        for (int i = 0; i < 4; i++) {
            idw[i] = 0;
            for (int b = 7; b >= 0; b--)
                idw[i] = (idw[i] << 8) | hers_params_id(p)[8 * i + b];
        }
        hash_words(label, idw, 4);
    }
    snprintf(label, sizeof label, "%s.sk_ntt", set);
    hash_words(label, sk->s_ntt, k * n);
    snprintf(label, sizeof label, "%s.pk", set);
    hash_words(label, pk->data, 2 * k * n);
    snprintf(label, sizeof label, "%s.rk", set);
    hash_words(label, rk->data, rk->digits * 2 * k * n);
    int64_t *v = calloc(n, 8);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(i * 31 % 251) - 125;
    hers_plaintext pt = {0}, pr = {0};
    CHECK_OK(hers_encode_batch(p, v, n, &pt));
    hers_ciphertext a = {0}, b = {0}, m = {0}, r = {0}, s = {0};
    seed[1] ^= 1;
    CHECK_OK(hers_encrypt_public_seeded(p, pk, &pt, seed, &a));
    seed[1] ^= 2;
    CHECK_OK(hers_encrypt_secret_seeded(p, sk, &pt, seed, &b));
    snprintf(label, sizeof label, "%s.enc_public", set);
    hash_ct(label, &a);
    snprintf(label, sizeof label, "%s.enc_secret", set);
    hash_ct(label, &b);
    CHECK_OK(hers_mul(p, &a, &b, &m));
    snprintf(label, sizeof label, "%s.mul", set);
    hash_ct(label, &m);
    CHECK_OK(hers_relinearize(p, rk, &m, &r));
    snprintf(label, sizeof label, "%s.relin", set);
    hash_ct(label, &r);
    CHECK_OK(hers_mod_switch(p, &r, 1, &s));
    snprintf(label, sizeof label, "%s.mod_switch", set);
    hash_ct(label, &s);
    CHECK_OK(hers_decrypt(p, sk, &s, &pr));
    snprintf(label, sizeof label, "%s.decrypt", set);
    hash_words(label, pr.coeffs, n);
    /* Galois key, one automorphism, a d = 5 expansion, compressed c0 */
    uint32_t el[4] = {3, (uint32_t)n + 1, (uint32_t)n / 2 + 1, (uint32_t)n / 4 + 1};
    hers_galois_key *gk = NULL;
    seed[2] ^= 1;
    CHECK_OK(hers_keygen_galois_seeded(p, sk, el, 4, 0, seed, &gk));
    if (gk) {
        snprintf(label, sizeof label, "%s.galois_key", set);
        hash_words(label, gk->data, gk->count * gk->digits * 2 * k * n);
        CHECK_OK(hers_apply_galois(p, gk, 3, &b, &r));
        snprintf(label, sizeof label, "%s.galois_3", set);
        hash_ct(label, &r);
        hers_ciphertext ex[5] = {{0}};
        CHECK_OK(hers_expand(p, gk, &b, 5, ex));
        for (int i = 0; i < 5; i++) {
            snprintf(label, sizeof label, "%s.expand5_%d", set, i);
            hash_ct(label, &ex[i]);
            hers_ciphertext_free(&ex[i]);
        }
        uint64_t *y = calloc(2 * n, 8);
        CHECK_OK(hers_c0_compress(p, &b, y));
        snprintf(label, sizeof label, "%s.c0_compressed", set);
        hash_words(label, y, 2 * n);
        free(y);
        hers_galois_key_free(gk);
    }
    free(v);
    hers_plaintext_free(&pt);
    hers_plaintext_free(&pr);
    hers_ciphertext_free(&a);
    hers_ciphertext_free(&b);
    hers_ciphertext_free(&m);
    hers_ciphertext_free(&r);
    hers_ciphertext_free(&s);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_relin_key_free(rk);
}

static void run_all(void)
{
    nlines = 0;
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = 64;
    spec.t = 257;
    spec.num_primes = 2;
    spec.prime_bits[0] = spec.prime_bits[1] = 50;
    spec.q_one_mod_t = 1;
    hers_params *p = NULL;
    CHECK_OK(hers_params_create(&p, &spec));
    if (p) {
        transcript("toy64", p);
        hers_params_free(p);
    }
    CHECK_OK(hers_params_create_named(&p, "n4096"));
    if (p) {
        transcript("n4096", p);
        hers_params_free(p);
    }
    /* the narrow search set: 30-bit primes, product condition, 4-byte
     * uniform sampling, BGV-level factors */
    CHECK_OK(hers_params_create_named(&p, "s4096"));
    if (p) {
        transcript("s4096", p);
        hers_params_free(p);
    }
}

int main(void)
{
    (void)test_seed();
    test_kat_line ref[MAX_LINES];
    size_t nref = 0;
    int have_ref = 0;
    FOR_EACH_SIMD(level) {
        run_all();
        test_kat_same_level(ref, &nref, &have_ref, lines, nlines);
    }
    test_kat_file("bfv_kat.txt",
                  "hers BFV known-answer transcript (tests/test_bfv_kat.c): label BLAKE2b-256", ref,
                  nref);
    return test_finish();
}
