/* test_search_enroll.c - enrolment's in-place secret-key encryption path
 * (src/search/gallery.c: reused buffers, fused e + Delta m, own batch
 * encoding lift) produces exactly the records of the BFV layer's
 * hers_encode_batch + hers_encrypt_secret_seeded with the same per-record
 * seeds, for partial blocks, negative values and 1 or 2 threads; and the
 * default ids are "0" .. "n-1". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "search/search_internal.h"
#include "support/check.h"

/* gallery.c's per-record seed stream (record = block * d + dimension) */
#define STREAM_ENROLL UINT64_C(0x454e524f4c4c0000)

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
    hers_gallery *g = NULL;
    CHECK_OK(hers_gallery_enroll(p, sk, NULL, v, n, d, &o, &g));
    if (!g)
        return;
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
