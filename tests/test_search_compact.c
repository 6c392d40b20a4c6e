/* test_search_compact.c - the one-ciphertext (compact) query end to end:
 * key holder encrypts compactly, the record round-trips, the server expands
 * with the Galois keys and searches; the decrypted scores must be exactly the
 * plaintext inner products for d in {1, 16, 64, 128, 512}, partial blocks,
 * d > N (several chunks), wide and narrow sets and n4096, every SIMD level
 * and thread count (expansions bit-identical), and the measured noise must
 * meet the predicted heuristic margin. Also: both forms give the same
 * scores, the default-form rule, and every refusal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "hers/hers_serial.h"
#include "hers/hers_store.h"
#include "search/search_internal.h"
#include "support/check.h"
#include "support/search_sets.h"

static int quick;

static int32_t *make_data(size_t n, size_t d, uint32_t s)
{
    int32_t *q = malloc(n * d * sizeof *q);
    float *x = malloc(d * sizeof *x);
    for (size_t r = 0; r < n; r++) {
        double nn = 0;
        for (size_t i = 0; i < d; i++) {
            x[i] = (float)((double)(test_rand() % 2000001) / 1e6 - 1.0);
            nn += (double)x[i] * x[i];
        }
        nn = sqrt(nn);
        for (size_t i = 0; i < d; i++)
            x[i] = (float)(x[i] / nn * 0.9999);
        CHECK_OK(hers_quant_vector(x, d, s, q + r * d));
    }
    free(x);
    return q;
}

static int check_scores(const hers_params *p, const hers_secret_key *sk, const hers_result *res,
                        const int32_t *g, size_t n, const int32_t *probes, size_t count, size_t d)
{
    int64_t *got = malloc(n * sizeof *got);
    int ok = 1;
    for (size_t r = 0; r < count; r++) {
        CHECK_OK(hers_result_decrypt(p, sk, res, r, got));
        for (size_t x = 0; x < n; x++) {
            int64_t want = 0;
            for (size_t i = 0; i < d; i++)
                want += (int64_t)g[x * d + i] * probes[r * d + i];
            if (got[x] != want) {
                if (ok)
                    fprintf(stderr, "  probe %zu template %zu: %lld != %lld\n", r, x, (long long)got[x],
                            (long long)want);
                ok = 0;
            }
        }
    }
    free(got);
    return ok;
}

static int queries_equal(const hers_query *a, const hers_query *b, const hers_params *p)
{
    uint8_t *ba = NULL, *bb = NULL;
    size_t la = 0, lb = 0;
    CHECK_OK(hers_query_serialize(p, a, &ba, &la));
    CHECK_OK(hers_query_serialize(p, b, &bb, &lb));
    int eq = ba && bb && la == lb && memcmp(ba, bb, la) == 0;
    hers_free(ba);
    hers_free(bb);
    return eq;
}

static void run_case(const hers_params *p, const char *name, const hers_secret_key *sk,
                     const hers_galois_key *gk, const hers_relin_key *rk, hers_searcher **sr,
                     size_t n, size_t d)
{
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    size_t count = 2;
    int32_t *g = make_data(n, d, s), *pr = make_data(count, d, s);
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.threads = 1;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    CHECK_OK(hers_gallery_enroll(p, sk, NULL, g, n, d, &eo, &gal));
    CHECK_OK(hers_index_build(p, gal, 1, &ix));
    hers_query *cq = NULL, *cq2 = NULL, *ref = NULL, *eq = NULL;
    CHECK_OK(hers_query_encrypt_compact(p, sk, pr, count, d, s, NULL, &cq));
    if (!cq || !ix) {
        hers_gallery_free(gal);
        hers_index_free(ix);
        free(g);
        free(pr);
        return;
    }
    CHECK(hers_query_get_form(cq) == HERS_QUERY_COMPACT);
    /* record round trip; size = header + chunks x (seed + N K-bit values) */
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(hers_query_serialize(p, cq, &buf, &len));
    size_t nn = hers_params_n(p), chunks = (d + nn - 1) / nn;
    CHECK(len == 64 + count * chunks * (32 + nn / 8 * hers_c0_bits(p)) + 32);
    CHECK_OK(hers_query_deserialize(p, buf, len, &cq2));
    /* fuzz seed (fuzz/search_record_fuzz.h: mode byte, then the record; its
     * parameter set is this N = 1024 wide one) */
    const char *seed_dir = getenv("HERS_WRITE_FUZZ_SEEDS");
    if (seed_dir && nn == 1024 && d == 16 && hers_params_num_primes(p) == 2) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz_query/compact", seed_dir);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fputc(1, f);
            fwrite(buf, 1, len, f);
            fclose(f);
        }
    }
    CHECK(cq2 && hers_query_get_form(cq2) == HERS_QUERY_COMPACT && hers_query_d(cq2) == d);
    /* the server refuses to search a compact query */
    hers_result *res = NULL;
    CHECK(hers_search(sr[0], p, ix, cq2, NULL, &res) == HERS_ERR_ARG && !res);
    CHECK(hers_query_expand(p, gk, cq2, 1, &ref) == HERS_OK);
    int all_ok = 1;
    FOR_EACH_SIMD(level) {
        for (int th = 0; th < 2; th++) {
            CHECK_OK(hers_query_expand(p, gk, cq2, (unsigned)th + 1, &eq));
            CHECK(eq && ref && queries_equal(eq, ref, p));
            CHECK(eq && hers_query_get_form(eq) == HERS_QUERY_FULL);
            CHECK_OK(hers_search(sr[th], p, ix, eq, NULL, &res));
            if (res)
                all_ok &= check_scores(p, sk, res, g, n, pr, count, d);
            hers_result_free(res);
            res = NULL;
            hers_query_free(eq);
            eq = NULL;
        }
        (void)level;
    }
    CHECK(all_ok);
    /* measured noise against the predicted heuristic and the full form */
    CHECK_OK(hers_search(sr[1], p, ix, ref, NULL, &res));
    double meas = 1e9, b, worst, heur, fw, fh;
    for (size_t r = 0; res && r < count; r++) {
        CHECK_OK(hers_result_noise_budget(p, sk, res, r, &b));
        meas = b < meas ? b : meas;
    }
    CHECK_OK(hers_search_noise_bound_form(p, HERS_MODE_BOTH_ENCRYPTED, d, 0, HERS_QUERY_COMPACT, &worst,
                                          &heur));
    CHECK_OK(hers_search_noise_bound_form(p, HERS_MODE_BOTH_ENCRYPTED, d, 0, HERS_QUERY_FULL, &fw, &fh));
    printf("  %s n = %zu d = %zu: compact query %zu bytes/probe; result budget %.1f bits "
           "(heuristic %.1f, worst %.1f; full form heuristic %.1f)\n",
           name, n, d, (len - 96) / count, meas, heur, worst, fh);
    CHECK(meas >= heur - 1);
    hers_result_free(res);
    res = NULL;
    /* compact results: relinearised, switched, every coefficient rounded to
     * b0 / b1 bits; exact after the round trip */
    {
        hers_search_opts so = {HERS_RESULT_RELINEARIZED, rk};
        hers_result *rr = NULL, *back = NULL;
        uint8_t *rb = NULL;
        size_t rl = 0;
        unsigned b0, b1;
        hers_result_compact_bits(p, &b0, &b1);
        CHECK_OK(hers_search(sr[0], p, ix, ref, &so, &rr));
        CHECK_OK(hers_result_serialize_compact(p, rr, &rb, &rl));
        size_t blocks = (n + nn - 1) / nn;
        CHECK(rl == 88 + count * blocks * (nn / 8 * (b0 + b1)) + 32);
        CHECK_OK(hers_result_deserialize(p, rb, rl, &back));
        if (seed_dir && nn == 1024 && d == 16 && hers_params_num_primes(p) == 2) {
            char path[1024];
            snprintf(path, sizeof path, "%s/fuzz_result/compact", seed_dir);
            FILE *f = fopen(path, "wb");
            CHECK(f != NULL);
            if (f) {
                fputc(1, f);
                fwrite(rb, 1, rl, f);
                fclose(f);
            }
        }
        double rbud = 1e9;
        for (size_t r = 0; rr && r < count; r++) {
            CHECK_OK(hers_result_noise_budget(p, sk, rr, r, &b));
            rbud = b < rbud ? b : rbud;
        }
        if (back)
            CHECK(check_scores(p, sk, back, g, n, pr, count, d));
        /* a result read from a compact record serialises to the same bytes
         * (the fuzz target's round-trip property; it once wrote version 1) */
        if (back) {
            uint8_t *rb2 = NULL;
            size_t rl2 = 0;
            CHECK_OK(hers_result_serialize(p, back, &rb2, &rl2));
            CHECK(rl2 == rl && rb2 && memcmp(rb2, rb, rl) == 0);
            hers_free(rb2);
        }
        printf("  %s d = %zu: compact result %.2f bytes/template (b0 = %u, b1 = %u bits; "
               "relinearised result budget %.1f bits, >= 2 needed)\n",
               name, d, (double)(rl - 120) / (double)(count * n), b0, b1, rbud);
        CHECK(rbud >= 2);
        hers_result_free(back);
        back = NULL;
        rb[rl / 2] ^= 1;
        CHECK(hers_result_deserialize(p, rb, rl, &back) == HERS_ERR_CHECKSUM && !back);
        hers_free(rb);
        /* 3-part results are refused */
        hers_result *full = NULL;
        CHECK_OK(hers_search(sr[0], p, ix, ref, NULL, &full));
        CHECK(hers_result_serialize_compact(p, full, &rb, &rl) == HERS_ERR_UNSUPPORTED && !rb);
        hers_result_free(full);
        hers_result_free(rr);
    }
    /* the full form of the same probes gives the same scores */
    hers_query *fq = NULL;
    CHECK_OK(hers_query_encrypt(p, sk, NULL, pr, count, d, s, NULL, &fq));
    CHECK_OK(hers_search(sr[1], p, ix, fq, NULL, &res));
    if (res)
        CHECK(check_scores(p, sk, res, g, n, pr, count, d));
    hers_result_free(res);
    hers_query_free(fq);
    /* corrupted record */
    buf[100] ^= 4;
    hers_query *bad = NULL;
    CHECK(hers_query_deserialize(p, buf, len, &bad) == HERS_ERR_CHECKSUM && !bad);
    CHECK(hers_query_deserialize(p, buf, len - 1, &bad) != HERS_OK && !bad);
    hers_free(buf);
    hers_query_free(cq);
    hers_query_free(cq2);
    hers_query_free(ref);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(pr);
}

/* A public-key (third-party) gallery searched with a compact query: the
 * default rule picks compact for it at n4096, d = 64 (docs/design.md,
 * "Default-form rule"), so the scores must be exact and the measured budget
 * must hold the heuristic the rule used (within 1 bit). */
static void check_public_gallery(const hers_params *p, hers_searcher *sr, size_t n, size_t d)
{
    uint8_t seed[32] = {16};
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_galois_key *gk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    CHECK_OK(hers_query_galois_keygen(p, sk, d, NULL, &gk));
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    size_t count = 2;
    int32_t *g = make_data(n, d, s), *pr = make_data(count, d, s);
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.threads = 1;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_query *cq = NULL, *eq = NULL;
    hers_result *res = NULL;
    CHECK_OK(hers_gallery_enroll(p, NULL, pk, g, n, d, &eo, &gal));
    CHECK(gal && hers_gallery_public_key_encrypted(gal));
    if (gal)
        CHECK_OK(hers_index_build(p, gal, 1, &ix));
    CHECK_OK(hers_query_encrypt_compact(p, sk, pr, count, d, s, NULL, &cq));
    if (cq && gk)
        CHECK_OK(hers_query_expand(p, gk, cq, 1, &eq));
    if (ix && eq)
        CHECK_OK(hers_search(sr, p, ix, eq, NULL, &res));
    if (res) {
        CHECK(check_scores(p, sk, res, g, n, pr, count, d));
        double meas = 1e9, b, w, h;
        for (size_t r = 0; r < count; r++) {
            CHECK_OK(hers_result_noise_budget(p, sk, res, r, &b));
            meas = b < meas ? b : meas;
        }
        CHECK_OK(hers_search_noise_bound_form(p, HERS_MODE_BOTH_ENCRYPTED, d, 1, HERS_QUERY_COMPACT,
                                              &w, &h));
        printf("  public-key gallery, compact query, d = %zu: budget %.1f bits (heuristic %.1f; "
               "default %s)\n", d, meas, h,
               hers_query_form_name(hers_query_default_form(p, HERS_MODE_BOTH_ENCRYPTED, d, 1)));
        CHECK(meas >= h - 1);
    }
    hers_result_free(res);
    hers_query_free(eq);
    hers_query_free(cq);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(pr);
    hers_galois_key_free(gk);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
}

static void run_set(hers_params *p, const char *name, hers_searcher **sr, const size_t *ds, size_t nd,
                    size_t extra)
{
    uint8_t seed[32] = {15};
    seed[1] = (uint8_t)test_rand();
    hers_secret_key *sk = NULL;
    hers_galois_key *gk = NULL;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_query_galois_keygen(p, sk, HERS_SEARCH_MAX_D, NULL, &gk));
    CHECK_OK(hers_keygen_relin(p, sk, &rk));
    for (size_t i = 0; sk && gk && rk && i < nd; i++)
        run_case(p, name, sk, gk, rk, sr, hers_params_n(p) + extra, ds[i]);
    hers_relin_key_free(rk);
    /* keys for d = 16 do not expand d = 64 */
    hers_galois_key *g16 = NULL;
    CHECK_OK(hers_query_galois_keygen(p, sk, 16, NULL, &g16));
    int32_t *pr = make_data(1, 64, HERS_QUANT_PAPER_SCALE);
    hers_query *cq = NULL, *eq = NULL;
    CHECK_OK(hers_query_encrypt_compact(p, sk, pr, 1, 64, HERS_QUANT_PAPER_SCALE, NULL, &cq));
    CHECK(hers_query_expand(p, g16, cq, 1, &eq) == HERS_ERR_MISMATCH && !eq);
    CHECK_OK(hers_query_expand(p, gk, cq, 1, &eq));
    /* expanding into a reused output gives the same ciphertexts */
    hers_query *ref2 = NULL;
    CHECK_OK(hers_query_expand(p, gk, cq, 1, &ref2));
    if (eq && ref2) {
        memset(eq->arena, 0xa5, 2 * hers_params_num_primes(p) * hers_params_n(p) * 64 * 8);
        CHECK_OK(hers_query_expand_into(p, gk, cq, 2, eq));
        CHECK(queries_equal(eq, ref2, p));
        CHECK(hers_query_expand_into(p, gk, cq, 1, cq) == HERS_ERR_ARG);
    }
    hers_query_free(ref2);
    hers_query *eq2 = NULL;
    CHECK(hers_query_expand(p, gk, eq, 1, &eq2) == HERS_ERR_ARG && !eq2);
    CHECK(hers_query_encrypt_compact(p, NULL, pr, 1, 64, HERS_QUANT_PAPER_SCALE, NULL, &eq2) ==
          HERS_ERR_ARG);
    free(pr);
    hers_query_free(cq);
    hers_query_free(eq);
    hers_galois_key_free(g16);
    hers_galois_key_free(gk);
    hers_secret_key_free(sk);
}

/* The store keeps the Galois keys with the public material: put once,
 * served by every later handle; refused read-only and for other params. */
static void check_store(hers_params *p, hers_params *other)
{
    char dir[] = "/tmp/hers-compact-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/db", dir);
    hers_secret_key *sk = NULL, *sko = NULL;
    hers_public_key *pk = NULL;
    hers_galois_key *gk = NULL, *gko = NULL;
    CHECK_OK(hers_keygen_secret(p, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    CHECK_OK(hers_query_galois_keygen(p, sk, 64, NULL, &gk));
    CHECK_OK(hers_keygen_secret(other, &sko));
    CHECK_OK(hers_query_galois_keygen(other, sko, 64, NULL, &gko));
    CHECK_OK(hers_store_create(path, p, pk, NULL, NULL, 0));
    hers_store *db = NULL;
    CHECK_OK(hers_store_open(path, 0, &db));
    CHECK(db && hers_store_galois_key(db) == NULL);
    CHECK(hers_store_put_galois_key(db, gko) == HERS_ERR_MISMATCH);
    CHECK_OK(hers_store_put_galois_key(db, gk));
    CHECK(hers_store_galois_key(db) != NULL);
    hers_store_close(db);
    db = NULL;
    CHECK_OK(hers_store_open(path, 1, &db));
    const hers_galois_key *got = hers_store_galois_key(db);
    size_t a = 0, b = 0;
    CHECK(got != NULL);
    if (got) {
        CHECK_OK(hers_galois_key_serialized_size(p, gk, &a));
        CHECK_OK(hers_galois_key_serialized_size(p, got, &b));
        uint8_t *x = malloc(a), *y = malloc(b);
        CHECK(a == b && hers_galois_key_serialize(p, gk, x, a, NULL) == HERS_OK &&
              hers_galois_key_serialize(p, got, y, b, NULL) == HERS_OK && memcmp(x, y, a) == 0);
        free(x);
        free(y);
    }
    CHECK(hers_store_put_galois_key(db, gk) == HERS_ERR_STATE);
    hers_store_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    hers_galois_key_free(gk);
    hers_galois_key_free(gko);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_secret_key_free(sko);
}

int main(void)
{
    test_rand_seed(test_seed());
    quick = getenv("HERS_TEST_QUICK") != NULL;
    hers_searcher *sr[2] = {NULL, NULL};
    CHECK_OK(hers_searcher_create(1, &sr[0]));
    CHECK_OK(hers_searcher_create(2, &sr[1]));
    hers_query_form f;
    CHECK(hers_query_form_parse("compact", &f) == HERS_OK && f == HERS_QUERY_COMPACT);
    CHECK(hers_query_form_parse("full", &f) == HERS_OK && f == HERS_QUERY_FULL);
    CHECK(hers_query_form_parse("tiny", &f) == HERS_ERR_ARG);
    CHECK(strcmp(hers_query_form_name(HERS_QUERY_COMPACT), "compact") == 0);

    hers_params *wide = test_search_params(1024, 0), *narrow = test_search_params(1024, 1), *small = test_search_params(256, 0);
    size_t dw[] = {1, 16, 64, 128, 512};
    size_t dq[] = {1, 64, 512};
    if (wide)
        run_set(wide, "wide1024", sr, quick ? dq : dw, quick ? 3 : 5, 37);
    size_t dn[] = {16, 128};
    if (narrow)
        run_set(narrow, "narrow1024", sr, dn, 2, 5);
    size_t ds[] = {300, 512}; /* d > N: two chunks, the last partial */
    if (small)
        run_set(small, "n256", sr, ds, 2, 3);
    hers_params *pd = NULL;
    CHECK_OK(hers_params_create_named(&pd, "n4096"));
    if (wide && small)
        check_store(wide, small);
    size_t d4[] = {64};
    if (pd) {
        run_set(pd, "n4096", sr, d4, 1, 100);
        /* the default-form rule on the default set */
        for (size_t d = 64; d <= 1024; d *= 4) {
            double w, h, fw, fh, pw, ph;
            CHECK_OK(hers_search_noise_bound_form(pd, HERS_MODE_BOTH_ENCRYPTED, d, 0, HERS_QUERY_COMPACT,
                                                  &w, &h));
            CHECK_OK(hers_search_noise_bound_form(pd, HERS_MODE_BOTH_ENCRYPTED, d, 0, HERS_QUERY_FULL,
                                                  &fw, &fh));
            CHECK_OK(hers_search_noise_bound_form(pd, HERS_MODE_BOTH_ENCRYPTED, d, 1, HERS_QUERY_COMPACT,
                                                  &pw, &ph));
            hers_query_form def = hers_query_default_form(pd, HERS_MODE_BOTH_ENCRYPTED, d, 0);
            hers_query_form defp = hers_query_default_form(pd, HERS_MODE_BOTH_ENCRYPTED, d, 1);
            printf("  n4096 d = %zu: compact heuristic %.1f (worst %.1f), full %.1f (worst %.1f); "
                   "public-key gallery compact %.1f; default %s / %s\n",
                   d, h, w, fh, fw, ph, hers_query_form_name(def), hers_query_form_name(defp));
            CHECK(def == (h >= 4 ? HERS_QUERY_COMPACT : HERS_QUERY_FULL));
            CHECK(defp == (ph >= 4 ? HERS_QUERY_COMPACT : HERS_QUERY_FULL));
        }
        CHECK(hers_query_default_form(pd, HERS_MODE_BOTH_ENCRYPTED, 64, 0) == HERS_QUERY_COMPACT);
        /* the rule on the default set: compact for every d <= 1024 with a
         * secret-key gallery, and for d <= 64 even when the gallery may be
         * public-key encrypted (what `search --db` and --server assume) */
        CHECK(hers_query_default_form(pd, HERS_MODE_BOTH_ENCRYPTED, 1024, 0) == HERS_QUERY_COMPACT);
        CHECK(hers_query_default_form(pd, HERS_MODE_BOTH_ENCRYPTED, 64, 1) == HERS_QUERY_COMPACT);
        CHECK(hers_query_default_form(pd, HERS_MODE_BOTH_ENCRYPTED, 512, 1) == HERS_QUERY_FULL);
        check_public_gallery(pd, sr[0], 300, 64);
    }
    hers_params_free(pd);
    hers_params_free(wide);
    hers_params_free(narrow);
    hers_params_free(small);
    hers_searcher_free(sr[0]);
    hers_searcher_free(sr[1]);
    return test_finish();
}
