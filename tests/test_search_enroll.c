/* test_search_enroll.c - enrolment's in-place secret-key encryption path
 * (src/search/gallery.c: reused buffers, fused e + Delta m, own batch
 * encoding lift) produces exactly the records of the BFV layer's
 * hers_encode_batch + hers_encrypt_secret_seeded with the same per-record
 * seeds (gallery format 1: ChaCha20 expander), for partial blocks, negative
 * values and 1 or 2 threads; format 2 (AES-256-CTR expander) encrypts the
 * same messages under the same a-seeds and errors: c0 + a s agrees with
 * format 1's for every residue (= Delta m + e); and the default ids are
 * "0" .. "n-1". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "bfv/bfv_internal.h"
#include "search/search_internal.h"
#include "support/check.h"

/* gallery.c's per-record seed stream (record = block * d + dimension) */
#define STREAM_ENROLL UINT64_C(0x454e524f4c4c0000)

/* c0 + a s (NTT form, mod q_j) of record r of a seeded gallery */
static void c0_plus_as(const hers_params *p, const hers_secret_key *sk, const hers_gallery *g,
                       size_t r, uint64_t *c0, uint64_t *a)
{
    size_t N = p->n, k = p->k;
    const uint8_t *rec = g->recs + r * g->rec_bytes;
    CHECK(se_unpack_poly(p, rec + HERS_SEED_BYTES, k, c0));
    hers_expand_uniform(p, gal_expander(g->version), rec, UINT64_C(0x43545f4100000000), k, a);
    for (size_t j = 0; j < k; j++) {
        uint64_t q = p->q[j].value;
        for (size_t x = 0; x < N; x++) {
            uint64_t as = (uint64_t)((unsigned __int128)a[j * N + x] * sk->s_ntt[j * N + x] % q);
            c0[j * N + x] = (c0[j * N + x] + as) % q;
        }
    }
}

static void check_format2(const hers_params *p, const hers_secret_key *sk, const hers_gallery *g1,
                          const hers_gallery *g2)
{
    size_t kn = p->k * p->n;
    uint64_t *x1 = hers_alloc_array(4 * kn, sizeof *x1);
    CHECK(x1 != NULL);
    if (!x1)
        return;
    uint64_t *a1 = x1 + kn, *x2 = a1 + kn, *a2 = x2 + kn;
    size_t same = 0, seeds = 0, a_differs = 0;
    for (size_t r = 0; r < g1->blocks * g1->d; r++) {
        seeds += memcmp(g1->recs + r * g1->rec_bytes, g2->recs + r * g2->rec_bytes,
                        HERS_SEED_BYTES) == 0;
        c0_plus_as(p, sk, g1, r, x1, a1);
        c0_plus_as(p, sk, g2, r, x2, a2);
        same += memcmp(x1, x2, kn * sizeof *x1) == 0;
        a_differs += memcmp(a1, a2, kn * sizeof *a1) != 0;
    }
    CHECK(seeds == g1->blocks * g1->d);
    CHECK(same == g1->blocks * g1->d);
    CHECK(a_differs == g1->blocks * g1->d);
    hers_free(x1);
}

static void run(const hers_params *p, const hers_secret_key *sk, size_t n, size_t d,
                unsigned threads)
{
    size_t N = hers_params_n(p);
    uint8_t master[HERS_SEED_BYTES];
    for (size_t i = 0; i < sizeof master; i++)
        master[i] = (uint8_t)test_rand();
    int32_t *v = hers_alloc_array(n * d, sizeof *v);
    int64_t *slots = hers_alloc_array(N, sizeof *slots);
    CHECK(v && slots);
    if (!v || !slots)
        return;
    for (size_t i = 0; i < n * d; i++)
        v[i] = (int32_t)(test_rand() % 61) - 30; /* |v| <= 30: ||v||^2 within the bound */
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    o.seed = master;
    o.threads = threads;
    o.format = 1;
    hers_gallery *g = NULL, *g2 = NULL;
    CHECK_OK(hers_gallery_enroll(p, sk, NULL, v, n, d, &o, &g));
    o.format = 0;
    CHECK_OK(hers_gallery_enroll(p, sk, NULL, v, n, d, &o, &g2));
    if (!g || !g2)
        return;
    CHECK(g->version == 1 && g2->version == HERS_GALLERY_FILE_VERSION && g2->version == 2);
    check_format2(p, sk, g, g2);
    hers_gallery_free(g2);
    hers_plaintext pt;
    hers_ciphertext ct;
    memset(&pt, 0, sizeof pt);
    memset(&ct, 0, sizeof ct);
    uint8_t *rec = hers_alloc(g->rec_bytes);
    size_t same = 0;
    for (size_t b = 0; b < g->blocks; b++)
        for (size_t i = 0; i < d; i++) {
            size_t count = n - b * N < N ? n - b * N : N;
            for (size_t x = 0; x < count; x++)
                slots[x] = v[(b * N + x) * d + i];
            uint8_t seed[HERS_SEED_BYTES];
            hers_prg prg;
            hers_prg_init(&prg, master, STREAM_ENROLL + b * d + i);
            hers_prg_bytes(&prg, seed, sizeof seed);
            CHECK_OK(hers_encode_batch(p, slots, count, &pt));
            CHECK_OK(hers_encrypt_secret_seeded(p, sk, &pt, seed, &ct));
            memcpy(rec, ct.seed, HERS_SEED_BYTES);
            uint8_t *o2 = rec + HERS_SEED_BYTES;
            for (size_t j = 0; j < hers_params_num_primes(p); j++) {
                int bits = hers_bitlen(hers_params_prime(p, j) - 1);
                se_pack(o2, hers_ct_poly(&ct, 0, j), N, bits);
                o2 += N / 8 * (size_t)bits;
            }
            same += memcmp(rec, g->recs + (b * d + i) * g->rec_bytes, g->rec_bytes) == 0;
        }
    CHECK(same == g->blocks * d);
    int ids_ok = 1;
    char want[32];
    for (size_t x = 0; x < n; x++) {
        snprintf(want, sizeof want, "%zu", x);
        ids_ok &= strcmp(hers_gallery_id(g, x), want) == 0;
    }
    CHECK(ids_ok);
    hers_free(rec);
    hers_plaintext_free(&pt);
    hers_ciphertext_free(&ct);
    hers_gallery_free(g);
    hers_free(v);
    hers_free(slots);
}

int main(void)
{
    (void)test_seed();
    int quick = getenv("HERS_TEST_QUICK") != NULL;
    hers_params *p = NULL;
    CHECK_OK(hers_params_create_named(&p, "n4096"));
    if (!p)
        return test_finish();
    uint8_t seed[HERS_SEED_BYTES] = {3};
    hers_secret_key *sk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    size_t N = hers_params_n(p);
    run(p, sk, 1, 1, 1);
    run(p, sk, N + 123, 3, 1);
    run(p, sk, N + 123, 3, 2);
    if (!quick)
        run(p, sk, 2 * N, 17, 2);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return test_finish();
}
