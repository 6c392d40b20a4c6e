/* test_bfv_relin_forms.c - relinearisation and multiplication agree across
 * ciphertext forms and SIMD levels: an NTT-form input (whose own-prime
 * digits are read from the input without a transform), the same input in
 * coefficient form, and modulus-switched inputs (L < k primes) give the same
 * ciphertext, bit for bit, on every SIMD level, and decrypt to the
 * slot-wise products. Also exercises the per-thread multiply scratch across
 * parameter sets of different sizes (it grows, then is reused). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "support/bfv_test.h"
#include "support/check.h"

static void check_decrypts(const hers_params *p, const hers_secret_key *sk, const hers_ciphertext *c,
                           const int64_t *x, const int64_t *y)
{
    size_t n = hers_params_n(p);
    uint64_t t = hers_params_t(p);
    hers_plaintext pt = {0};
    int64_t *r = calloc(n, sizeof *r);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_OK(hers_decrypt(p, sk, c, &pt));
    CHECK_OK(hers_decode_batch(p, &pt, r));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += r[i] != test_cmod((__int128)x[i] * y[i], t);
    if (bad)
        fprintf(stderr, "  %zu of %zu slots wrong (%zu parts, %zu primes)\n", bad, n, c->parts, c->num_primes);
    CHECK(bad == 0);
    hers_plaintext_free(&pt);
    free(r);
}

static int same(const hers_ciphertext *a, const hers_ciphertext *b)
{
    return a->parts == b->parts && a->num_primes == b->num_primes && a->ntt_form == b->ntt_form &&
           memcmp(a->data, b->data, a->parts * a->num_primes * a->n * sizeof(uint64_t)) == 0;
}

/* Two threads multiplying with the same (shared) parameters at once: each
 * uses its own scratch, results equal the single-threaded ones. */
struct job {
    const hers_params *p;
    const hers_relin_key *rk;
    const hers_ciphertext *a, *b;
    hers_ciphertext r;
    int rc;
};

static void *job_run(void *v)
{
    struct job *j = v;
    hers_ciphertext m = {0};
    j->rc = 0;
    for (int it = 0; it < 3 && j->rc == 0; it++) {
        if (hers_mul(j->p, j->a, j->b, &m) != HERS_OK || hers_relinearize(j->p, j->rk, &m, &j->r) != HERS_OK)
            j->rc = 1;
    }
    hers_ciphertext_free(&m);
    return NULL;
}

static void check_threads(const hers_params *p, const hers_relin_key *rk, const hers_ciphertext *a,
                          const hers_ciphertext *b, const hers_ciphertext *ref2)
{
    struct job jobs[2];
    pthread_t th[2];
    int started[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].p = p;
        jobs[i].rk = rk;
        jobs[i].a = a;
        jobs[i].b = b;
        started[i] = pthread_create(&th[i], NULL, job_run, &jobs[i]) == 0;
        CHECK(started[i]);
    }
    for (int i = 0; i < 2; i++) {
        if (!started[i])
            continue;
        pthread_join(th[i], NULL);
        CHECK(jobs[i].rc == 0);
        CHECK(jobs[i].r.data && same(&jobs[i].r, ref2));
        hers_ciphertext_free(&jobs[i].r);
    }
}

static void run(const char *name)
{
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    uint8_t seed[HERS_SEED_BYTES];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)test_rand();
    CHECK_OK(hers_params_create_named(&p, name));
    if (!p)
        return;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_public_seeded(p, sk, seed, &pk));
    CHECK_OK(hers_keygen_relin_seeded(p, sk, seed, &rk));
    size_t n = hers_params_n(p), k = p->k;
    uint64_t t = hers_params_t(p);
    int64_t *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y);
    CHECK(x && y);
    if (!x || !y || !sk || !pk || !rk)
        goto done;
    for (size_t i = 0; i < n; i++) {
        x[i] = (int64_t)(test_rand() % t) - (int64_t)(t / 2);
        y[i] = (int64_t)(test_rand() % t) - (int64_t)(t / 2);
    }
    hers_plaintext px = {0}, py = {0};
    hers_ciphertext a = {0}, b = {0}, ref3 = {0}, ref2 = {0};
    CHECK_OK(hers_encode_batch(p, x, n, &px));
    CHECK_OK(hers_encode_batch(p, y, n, &py));
    seed[0] ^= 1;
    CHECK_OK(hers_encrypt_public_seeded(p, pk, &px, seed, &a));
    seed[0] ^= 2;
    CHECK_OK(hers_encrypt_public_seeded(p, pk, &py, seed, &b));
    int first = 1;
    FOR_EACH_SIMD(level) {
        hers_ciphertext m = {0}, r = {0}, mc = {0}, rc = {0};
        CHECK_OK(hers_mul(p, &a, &b, &m));
        CHECK_OK(hers_relinearize(p, rk, &m, &r));
        if (first) {
            CHECK_OK(hers_ciphertext_copy(&m, &ref3));
            CHECK_OK(hers_ciphertext_copy(&r, &ref2));
            if (k >= 2)   /* n2048 (one 50-bit prime) has no room for a product */
                check_decrypts(p, sk, &r, x, y);
            first = 0;
        } else {
            CHECK(same(&m, &ref3));
            CHECK(same(&r, &ref2));
        }
        /* coefficient form: the same product and relinearisation */
        CHECK_OK(hers_ciphertext_copy(&m, &mc));
        CHECK_OK(hers_ciphertext_from_ntt(p, &mc));
        CHECK_OK(hers_relinearize(p, rk, &mc, &rc));
        CHECK(!rc.ntt_form);
        CHECK_OK(hers_ciphertext_to_ntt(p, &rc));
        CHECK(same(&rc, &ref2));
        /* in place in a borrowed block (the search's result arena): the
         * block is overwritten, no new storage, the same words as out of
         * place; then switched in place, equal to the out-of-place switch */
        {
            size_t w3 = 3 * m.num_primes * m.n;
            uint64_t *blk = hers_alloc_array(w3, sizeof(uint64_t));
            hers_ciphertext bm = {0}, sw = {0};
            CHECK(blk != NULL);
            if (blk) {
                memcpy(blk, m.data, w3 * sizeof(uint64_t));
                CHECK_OK(hers_ciphertext_init_borrowed(p, 3, blk, &bm));
                bm.ntt_form = m.ntt_form;
                CHECK_OK(hers_relinearize_in_place(p, rk, &bm));
                CHECK(bm.borrowed && bm.data == blk && bm.parts == 2);
                CHECK(same(&bm, &ref2));
                if (k >= 2) {
                    CHECK_OK(hers_mod_switch(p, &ref2, 1, &sw));
                    CHECK_OK(hers_mod_switch_in_place(p, &bm, 1));
                    CHECK(bm.borrowed && bm.data == blk && bm.num_primes == 1);
                    CHECK(same(&bm, &sw));
                }
                hers_ciphertext_free(&bm);
                hers_ciphertext_free(&sw);
                hers_free(blk);
            }
        }
        /* in place */
        CHECK_OK(hers_relinearize(p, rk, &m, &m));
        CHECK(same(&m, &ref2));
        /* modulus-switched 3-part inputs, NTT and coefficient form */
        for (size_t L = k - 1; L >= 1; L--) {
            hers_ciphertext s = {0}, sr = {0}, sc = {0}, scr = {0};
            CHECK_OK(hers_mod_switch(p, &ref3, L, &s));
            CHECK_OK(hers_relinearize(p, rk, &s, &sr));
            CHECK_OK(hers_ciphertext_copy(&s, &sc));
            CHECK_OK(hers_ciphertext_from_ntt(p, &sc));
            CHECK_OK(hers_relinearize(p, rk, &sc, &scr));
            CHECK_OK(hers_ciphertext_to_ntt(p, &scr));
            CHECK(same(&sr, &scr));
            /* with one prime left, the digit term c2_0 e_0 (~q_0 2^8) exceeds
             * Q_L / t: relinearise before switching that far (design.md) */
            if (L == k - 1 && L >= 2)
                check_decrypts(p, sk, &sr, x, y);
            hers_ciphertext_free(&s);
            hers_ciphertext_free(&sr);
            hers_ciphertext_free(&sc);
            hers_ciphertext_free(&scr);
        }
        hers_ciphertext_free(&m);
        hers_ciphertext_free(&r);
        hers_ciphertext_free(&mc);
        hers_ciphertext_free(&rc);
    }
    check_threads(p, rk, &a, &b, &ref2);
    hers_ciphertext_free(&a);
    hers_ciphertext_free(&b);
    hers_ciphertext_free(&ref3);
    hers_ciphertext_free(&ref2);
    hers_plaintext_free(&px);
    hers_plaintext_free(&py);
done:
    free(x);
    free(y);
    hers_relin_key_free(rk);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(p);
}

int main(void)
{
    test_rand_seed(test_seed());
    run("n4096");
    if (!getenv("HERS_TEST_QUICK"))
        run("n8192");
    run("n2048");   /* smaller scratch after a larger one */
    return test_finish();
}
