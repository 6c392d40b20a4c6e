/* test_search.c - the encrypted search end to end: enrolment (secret- and
 * public-key, plain gallery), index, probes, fused kernel at every SIMD level
 * and with 1 and 2 threads, result shrinking, decryption: every decrypted
 * score must equal the plaintext integer inner product of the quantised
 * vectors, and top-k must equal the plaintext top-k (ties by index). Also
 * the reference (generic BFV) path, serialisation round trips, malformed
 * records, the score bound, ranking helpers and the noise budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "search/search_internal.h"
#include "support/check.h"
#include "support/search_sets.h"

static int quick;

/* Quantised random unit vectors (clustered: around a few centres). */
static int32_t *make_data(size_t n, size_t d, int clustered, uint32_t s)
{
    int32_t *q = malloc(n * d * sizeof *q);
    float *x = malloc(d * sizeof *x);
    float *centres = malloc(4 * d * sizeof *centres);
    for (size_t c = 0; c < 4 * d; c++)
        centres[c] = (float)((double)(test_rand() % 2000001) / 1e6 - 1.0);
    for (size_t r = 0; r < n; r++) {
        double nn = 0;
        for (size_t i = 0; i < d; i++) {
            double v = (double)(test_rand() % 2000001) / 1e6 - 1.0;
            if (clustered)
                v = centres[(r % 4) * d + i] + 0.05 * v;
            x[i] = (float)v;
            nn += v * v;
        }
        nn = sqrt(nn);
        for (size_t i = 0; i < d; i++)
            x[i] = nn > 0 ? (float)(x[i] / nn) : 0.0f;
        if (hers_quant_vector(x, d, s, q + r * d) != HERS_OK) {
            /* float rounding: shrink a hair and retry */
            for (size_t i = 0; i < d; i++)
                x[i] *= 0.9999f;
            CHECK_OK(hers_quant_vector(x, d, s, q + r * d));
        }
    }
    free(x);
    free(centres);
    return q;
}

static void plain_scores(const int32_t *g, size_t n, const int32_t *p, size_t d, int64_t *out)
{
    for (size_t r = 0; r < n; r++) {
        int64_t s = 0;
        for (size_t i = 0; i < d; i++)
            s += (int64_t)g[r * d + i] * p[i];
        out[r] = s;
    }
}

static int scores_equal(const int64_t *a, const int64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            fprintf(stderr, "  score %zu: %lld != %lld\n", i, (long long)a[i], (long long)b[i]);
            return 0;
        }
    return 1;
}

/* Decrypts every probe of res and compares with the plaintext. */
static void check_result(const hers_params *p, const hers_secret_key *sk, const hers_result *res,
                         const int32_t *g, size_t n, const int32_t *probes, size_t count, size_t d)
{
    int64_t *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    CHECK(hers_result_count(res) == count && hers_result_n(res) == n);
    for (size_t r = 0; r < count; r++) {
        CHECK_OK(hers_result_decrypt(p, sk, res, r, got));
        plain_scores(g, n, probes + r * d, d, want);
        CHECK(scores_equal(got, want, n));
        /* top-k on decrypted scores = top-k on plaintext scores */
        size_t k = 10, c1, c2;
        hers_match a[10], b[10];
        CHECK_OK(hers_top_k(got, n, k, a, &c1));
        CHECK_OK(hers_top_k(want, n, k, b, &c2));
        CHECK(c1 == c2 && memcmp(a, b, c1 * sizeof *a) == 0);
    }
    free(got);
    free(want);
}

struct keys {
    hers_params *p;
    hers_secret_key *sk;
    hers_public_key *pk;
    hers_relin_key *rk;
};

static void keys_make(struct keys *k, hers_params *p)
{
    uint8_t seed[32] = {7};
    seed[1] = (uint8_t)test_rand();
    k->p = p;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &k->sk));
    seed[2] = 1;
    CHECK_OK(hers_keygen_public_seeded(p, k->sk, seed, &k->pk));
    seed[2] = 2;
    CHECK_OK(hers_keygen_relin_seeded(p, k->sk, seed, &k->rk));
}

static void keys_free(struct keys *k)
{
    hers_secret_key_free(k->sk);
    hers_public_key_free(k->pk);
    hers_relin_key_free(k->rk);
}

/* One configuration: enrol, index, search at every SIMD level and thread
 * count, all result forms, and compare. */
static void run_config(struct keys *K, hers_search_mode mode, int public_enrol, size_t n,
                       size_t d, int clustered, hers_searcher **searchers, int nsearchers)
{
    const hers_params *p = K->p;
    uint32_t s = 125;
    size_t count = 2;
    fprintf(stderr, "  config: %s%s n=%zu d=%zu%s\n", hers_search_mode_name(mode),
            public_enrol ? " (public-key enrol)" : "", n, d, clustered ? " clustered" : "");
    int32_t *g = make_data(n, d, clustered, s);
    int32_t *probes = make_data(count, d, clustered, s);
    if (clustered) /* an exact duplicate: ties and the maximal score */
        memcpy(probes, g + (n / 2) * d, d * sizeof *probes);
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    o.mode = mode;
    o.scale = s;
    o.threads = 2;
    uint8_t seed[32] = {1, 2, 3};
    o.seed = seed;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_query *q = NULL, *q1 = NULL;
    const hers_secret_key *esk = mode == HERS_MODE_BOTH_ENCRYPTED && !public_enrol ? K->sk : NULL;
    const hers_public_key *epk = mode == HERS_MODE_BOTH_ENCRYPTED && public_enrol ? K->pk : NULL;
    CHECK_OK(hers_gallery_enroll(p, esk, epk, g, n, d, &o, &gal));
    CHECK_OK(hers_index_build(p, gal, 2, &ix));
    CHECK_OK(hers_query_encrypt(p, K->sk, NULL, probes, count, d, s, NULL, &q));
    CHECK_OK(hers_query_encrypt(p, K->sk, NULL, probes, 1, d, s, NULL, &q1));
    if (!gal || !ix || !q)
        goto done;
    int narrow = 1; /* the index takes the narrow form exactly when every prime < 2^30 */
    for (size_t j = 0; j < hers_params_num_primes(p); j++)
        narrow &= hers_params_prime(p, j) < HERS_NARROW_MAX_Q;
    CHECK(ix->narrow == narrow);
    CHECK(hers_index_bytes(ix) == (uint64_t)ix->blocks * ix->N * d * hers_params_num_primes(p) *
                                      (mode == HERS_MODE_BOTH_ENCRYPTED ? 2 : 1) * (narrow ? 4 : 8));
    hers_result *first = NULL;
    FOR_EACH_SIMD(level) {
        for (int t = 0; t < nsearchers; t++) {
            hers_result *res = NULL;
            CHECK_OK(hers_search(searchers[t], p, ix, q, NULL, &res));
            if (!res)
                continue;
            check_result(p, K->sk, res, g, n, probes, count, d);
            /* bit-identical ciphertexts across levels and thread counts */
            if (!first)
                first = res;
            else {
                for (size_t r = 0; r < count; r++)
                    for (size_t b = 0; b < hers_result_blocks(res); b++) {
                        const hers_ciphertext *x = hers_result_ciphertext(res, r, b);
                        const hers_ciphertext *y = hers_result_ciphertext(first, r, b);
                        CHECK(memcmp(x->data, y->data,
                                     x->parts * x->num_primes * x->n * sizeof(uint64_t)) == 0);
                    }
                hers_result_free(res);
            }
        }
        /* one probe alone: the single-probe scan (the streams kernels where
         * the level has them: several blocks read side by side) */
        for (int t = 0; q1 && t < nsearchers; t++) {
            hers_result *res = NULL;
            CHECK_OK(hers_search(searchers[t], p, ix, q1, NULL, &res));
            if (res)
                check_result(p, K->sk, res, g, n, probes, 1, d);
            hers_result_free(res);
        }
    }
    /* shrunk results */
    for (int sh = HERS_RESULT_SWITCHED; sh <= HERS_RESULT_RELINEARIZED; sh++) {
        hers_search_opts so = {(hers_result_shrink)sh, K->rk};
        hers_result *res = NULL;
        CHECK_OK(hers_search(searchers[nsearchers - 1], p, ix, q, &so, &res));
        if (res) {
            /* the search's parts: measured, within the whole call */
            hers_search_phases ph;
            hers_searcher_phases(searchers[nsearchers - 1], &ph);
            CHECK(ph.probe_s > 0 && ph.scan_s > 0 && ph.shrink_s >= 0 && ph.total_s > 0);
            CHECK(ph.probe_s + ph.scan_s + ph.shrink_s <= ph.total_s);
            const hers_ciphertext *c = hers_result_ciphertext(res, 0, 0);
            CHECK(c->num_primes == hers_search_result_primes(p));
            CHECK(c->parts == (sh == HERS_RESULT_RELINEARIZED || mode == HERS_MODE_PLAIN_GALLERY ? 2u : 3u));
            check_result(p, K->sk, res, g, n, probes, count, d);
            /* download record round trip */
            uint8_t *buf = NULL;
            size_t len = 0;
            hers_result *back = NULL;
            CHECK_OK(hers_result_serialize(p, res, &buf, &len));
            CHECK_OK(hers_result_deserialize(p, buf, len, &back));
            if (back)
                check_result(p, K->sk, back, g, n, probes, count, d);
            hers_result_free(back);
            hers_free(buf);
        }
        hers_result_free(res);
    }
    /* noise budget of the full result against the predicted bounds */
    if (first) {
        double bits = 0, worst = 0, heur = 0;
        CHECK_OK(hers_result_noise_budget(p, K->sk, first, 0, &bits));
        CHECK_OK(hers_search_noise_bound(p, mode, d, public_enrol, 0, &worst, &heur));
        fprintf(stderr, "    noise budget left: %.1f bits (bounds: worst case %.1f, heuristic %.1f)\n",
                bits, worst, heur);
        CHECK(bits > 1.0);
        CHECK(bits >= worst);        /* the worst case is a hard bound */
        CHECK(bits >= heur - 1.0);   /* 6 sigma: essentially never exceeded */
    }
    hers_result_free(first);
done:
    hers_query_free(q);
    hers_query_free(q1);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(probes);
}

/* More probes than one pass takes (batches of <= 16, fewer at large d). */
static void check_batches(struct keys *K, hers_searcher *sr, size_t d, size_t count)
{
    const hers_params *p = K->p;
    size_t n = 1500;
    int32_t *g = make_data(n, d, 1, 125), *pr = make_data(count, d, 1, 125);
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_query *q = NULL;
    hers_result *res = NULL;
    CHECK_OK(hers_gallery_enroll(p, K->sk, NULL, g, n, d, &o, &gal));
    CHECK_OK(hers_index_build(p, gal, 2, &ix));
    CHECK_OK(hers_query_encrypt(p, K->sk, NULL, pr, count, d, 125, NULL, &q));
    CHECK_OK(hers_search(sr, p, ix, q, NULL, &res));
    if (res)
        check_result(p, K->sk, res, g, n, pr, count, d);
    hers_result_free(res);
    hers_query_free(q);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(pr);
}

/* The scan's task split and run lengths (search.c scan_split, scan_task):
 * a gallery of more blocks than a task of a batch takes on several threads
 * (SCAN_TASK_BLOCKS = 64), not a multiple of the run length (70 blocks, the
 * last partial), batches of 1 to 32 probes (passes of <= 16), on 1, 2 and 40
 * threads (40: more tasks than tile indices, the blocks split further):
 * every result bit-identical to the portable level on one thread, and
 * decrypting to the exact scores. */
static void check_split(struct keys *K, hers_searcher **sr)
{
    const hers_params *p = K->p;
    size_t N = hers_params_n(p), blocks = 70, n = blocks * N - 333, d = 2, most = 32;
    fprintf(stderr, "  split: %zu blocks, batches of 1 to %zu probes, 1, 2 and 40 threads\n", blocks,
            most);
    int32_t *g = make_data(n, d, 0, 125), *pr = make_data(most, d, 1, 125);
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    o.threads = 2;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_searcher *many = NULL;
    CHECK_OK(hers_gallery_enroll(p, K->sk, NULL, g, n, d, &o, &gal));
    CHECK_OK(hers_index_build(p, gal, 2, &ix));
    CHECK_OK(hers_searcher_create(40, &many));
    hers_searcher *all[3] = {sr[0], sr[1], many};
    /* one pass (1 probe: the single-probe kernels), groups of 4 with and
     * without remainder, one and two full passes and partial second ones */
    const size_t counts[] = {1, 2, 3, 5, 8, 9, 15, 16, 17, 24, 31, 32};
    for (size_t ci = 0; ix && many && ci < sizeof counts / sizeof counts[0]; ci++) {
        size_t count = counts[ci];
        if (quick && count != 1 && count != 9 && count != 17 && count != 32)
            continue;
        hers_query *q = NULL;
        hers_result *ref = NULL;
        CHECK_OK(hers_query_encrypt(p, K->sk, NULL, pr, count, d, 125, NULL, &q));
        if (!q)
            break;
        FOR_EACH_SIMD(level) {
            for (int t = 0; t < 3; t++) {
                hers_result *res = NULL;
                CHECK_OK(hers_search(all[t], p, ix, q, NULL, &res));
                if (!res)
                    continue;
                CHECK(hers_result_blocks(res) == blocks);
                if (!ref) {
                    ref = res;
                    check_result(p, K->sk, ref, g, n, pr, count, d);
                    continue;
                }
                int same = 1;
                for (size_t r = 0; r < count; r++)
                    for (size_t b = 0; b < blocks; b++) {
                        const hers_ciphertext *x = hers_result_ciphertext(res, r, b);
                        const hers_ciphertext *y = hers_result_ciphertext(ref, r, b);
                        same &= memcmp(x->data, y->data,
                                       x->parts * x->num_primes * x->n * sizeof(uint64_t)) == 0;
                    }
                if (!same)
                    fprintf(stderr, "  split: %zu probes, level %s, searcher %d differ\n", count,
                            hers_simd_name(level), t);
                CHECK(same);
                hers_result_free(res);
            }
        }
        hers_result_free(ref);
        hers_query_free(q);
    }
    hers_searcher_free(many);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(pr);
}

/* Fused kernel vs the generic per-term path on the same ciphertexts. */
static void check_reference(struct keys *K, hers_search_mode mode, size_t n, size_t d,
                            hers_searcher *sr)
{
    const hers_params *p = K->p;
    int32_t *g = make_data(n, d, 0, 125), *pr = make_data(1, d, 0, 125);
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    o.mode = mode;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_query *q = NULL;
    hers_result *fused = NULL, *ref = NULL;
    CHECK_OK(hers_gallery_enroll(p, mode == HERS_MODE_BOTH_ENCRYPTED ? K->sk : NULL, NULL, g, n, d,
                                 &o, &gal));
    CHECK_OK(hers_index_build(p, gal, 1, &ix));
    CHECK_OK(hers_query_encrypt(p, K->sk, NULL, pr, 1, d, 125, NULL, &q));
    CHECK_OK(hers_search(sr, p, ix, q, NULL, &fused));
    CHECK_OK(hers_search_reference(p, gal, q, K->rk, &ref));
    if (fused && ref) {
        int64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        CHECK_OK(hers_result_decrypt(p, K->sk, fused, 0, a));
        CHECK_OK(hers_result_decrypt(p, K->sk, ref, 0, b));
        CHECK(scores_equal(a, b, n));
        double nf = 0, nr = 0;
        CHECK_OK(hers_result_noise_budget(p, K->sk, fused, 0, &nf));
        CHECK_OK(hers_result_noise_budget(p, K->sk, ref, 0, &nr));
        fprintf(stderr, "  reference %s d=%zu: noise budget fused %.1f bits, generic %.1f bits\n",
                hers_search_mode_name(mode), d, nf, nr);
        free(a);
        free(b);
    }
    hers_result_free(fused);
    hers_result_free(ref);
    hers_query_free(q);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(pr);
}

/* Serialisation round trips and malformed records. */
static void check_records(struct keys *K, hers_searcher *sr)
{
    const hers_params *p = K->p;
    size_t n = hers_params_n(p) + 3, d = 4;
    int32_t *g = make_data(n, d, 0, 125), *pr = make_data(1, d, 0, 125);
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    for (int mode = 0; mode < 2; mode++) {
        o.mode = (hers_search_mode)mode;
        hers_gallery *gal = NULL, *back = NULL;
        CHECK_OK(hers_gallery_enroll(p, mode == 0 ? K->sk : NULL, NULL, g, n, d, &o, &gal));
        if (!gal)
            continue;
        const char *ids[] = {"alice", "bob"};
        CHECK(hers_gallery_set_ids(gal, ids, 2) == HERS_ERR_ARG); /* wrong count */
        char **many = malloc(n * sizeof *many);
        for (size_t i = 0; i < n; i++) {
            many[i] = malloc(24);
            snprintf(many[i], 24, "id-%zu", i * 7);
        }
        CHECK_OK(hers_gallery_set_ids(gal, (const char *const *)many, n));
        snprintf(many[1], 24, "id-0");
        CHECK(hers_gallery_set_ids(gal, (const char *const *)many, n) == HERS_ERR_ARG); /* dup */
        for (size_t i = 0; i < n; i++)
            free(many[i]);
        free(many);
        uint8_t *buf = NULL;
        size_t len = 0;
        CHECK_OK(hers_gallery_serialize(p, gal, &buf, &len));
        CHECK_OK(hers_gallery_deserialize(p, buf, len, &back));
        if (back) {
            CHECK(hers_gallery_n(back) == n && strcmp(hers_gallery_id(back, 3), "id-21") == 0);
            hers_index *ix = NULL;
            hers_query *q = NULL;
            hers_result *res = NULL;
            CHECK_OK(hers_index_build(p, back, 1, &ix));
            CHECK_OK(hers_query_encrypt(p, K->sk, NULL, pr, 1, d, 125, NULL, &q));
            CHECK_OK(hers_search(sr, p, ix, q, NULL, &res));
            if (res)
                check_result(p, K->sk, res, g, n, pr, 1, d);
            /* query record round trip (seed-compressed) */
            uint8_t *qb = NULL;
            size_t ql = 0;
            hers_query *q2 = NULL;
            CHECK_OK(hers_query_serialize(p, q, &qb, &ql));
            CHECK_OK(hers_query_deserialize(p, qb, ql, &q2));
            hers_result *res2 = NULL;
            if (q2) {
                CHECK_OK(hers_search(sr, p, ix, q2, NULL, &res2));
                if (res2)
                    check_result(p, K->sk, res2, g, n, pr, 1, d);
            }
            /* malformed queries */
            for (size_t cut = 0; cut < ql; cut += ql / 7 + 1) {
                hers_query *bad = NULL;
                CHECK(hers_query_deserialize(p, qb, cut, &bad) != HERS_OK && !bad);
            }
            qb[ql / 2] ^= 0x10;
            hers_query *bad = NULL;
            CHECK(hers_query_deserialize(p, qb, ql, &bad) == HERS_ERR_CHECKSUM);
            /* malformed results */
            uint8_t *rb = NULL;
            size_t rl = 0;
            CHECK_OK(hers_result_serialize(p, res, &rb, &rl));
            for (size_t cut = 0; rb && cut < rl; cut += rl / 7 + 1) {
                hers_result *br = NULL;
                CHECK(hers_result_deserialize(p, rb, cut, &br) != HERS_OK && !br);
            }
            if (rb) {
                rb[rl - 40] ^= 1;
                hers_result *br = NULL;
                CHECK(hers_result_deserialize(p, rb, rl, &br) == HERS_ERR_CHECKSUM);
                rb[0] = 'X';
                CHECK(hers_result_deserialize(p, rb, rl, &br) == HERS_ERR_FORMAT);
            }
            hers_free(rb);
            hers_free(qb);
            hers_result_free(res2);
            hers_query_free(q2);
            hers_result_free(res);
            hers_query_free(q);
            hers_index_free(ix);
        }
        hers_gallery_free(back);
        /* malformed galleries: truncation, trailing bytes, flips, bad magic/version */
        for (size_t cut = 0; cut < len; cut += len / 13 + 1) {
            hers_gallery *bad = NULL;
            CHECK(hers_gallery_deserialize(p, buf, cut, &bad) != HERS_OK && !bad);
        }
        uint8_t *big = hers_alloc(len + 1);
        memcpy(big, buf, len);
        hers_gallery *bad = NULL;
        CHECK(hers_gallery_deserialize(p, big, len + 1, &bad) == HERS_ERR_FORMAT);
        hers_free(big);
        for (int f = 0; f < 40; f++) {
            size_t at = test_rand() % len;
            uint8_t bit = (uint8_t)(1u << (test_rand() % 8));
            buf[at] ^= bit;
            CHECK(hers_gallery_deserialize(p, buf, len, &bad) != HERS_OK && !bad);
            buf[at] ^= bit;
        }
        CHECK_OK(hers_gallery_deserialize(p, buf, len, &bad));
        hers_gallery_free(bad);
        bad = NULL;
        buf[8] = 9; /* version */
        CHECK(hers_gallery_deserialize(p, buf, len, &bad) == HERS_ERR_VERSION);
        /* a file round trip and a missing file */
        const char *path = "test_search_gallery.bin";
        CHECK_OK(hers_gallery_write(path, p, gal));
        CHECK_OK(hers_gallery_read(path, p, &back));
        CHECK(back && hers_gallery_payload_bytes(back) == hers_gallery_payload_bytes(gal));
        hers_gallery_free(back);
        remove(path);
        CHECK(hers_gallery_read(path, p, &back) == HERS_ERR_NOTFOUND);
        hers_free(buf);
        hers_gallery_free(gal);
    }
    free(g);
    free(pr);
}

static void check_misc(void)
{
    /* the score bound equals hers_quant's */
    for (size_t d = 1; d <= 1024; d += (d < 70 ? 1 : 37))
        for (uint32_t s = 1; s <= 32767; s = s < 300 ? s + 1 : s * 3)
            CHECK_EQ_U64(hers_quant_score_bound(d, s), hers_quant_score_bound(d, s));
    CHECK(hers_quant_check(64, 125, 1032193) == HERS_OK);
    CHECK(hers_quant_check(64, 125, 12289) == HERS_ERR_PARAMS);
    /* ranking: ties by index, k > n, threshold */
    int64_t sc[] = {5, 9, 9, -3, 9, 0, 5};
    hers_match m[10];
    size_t c;
    CHECK_OK(hers_top_k(sc, 7, 4, m, &c));
    CHECK(c == 4 && m[0].index == 1 && m[1].index == 2 && m[2].index == 4 && m[3].index == 0);
    CHECK_OK(hers_top_k(sc, 7, 10, m, &c));
    CHECK(c == 7 && m[6].index == 3);
    hers_match *t = NULL;
    CHECK_OK(hers_threshold(sc, 7, 5, &t, &c));
    CHECK(c == 5 && t[4].index == 6);
    hers_free(t);
    CHECK(hers_score_from_cosine(0.5, 125) == 7813);
    CHECK(hers_score_from_cosine(-0.5, 125) == -7812);
}

/* Probe encryption runs one task per ciphertext on a worker pool: with a
 * seed the upload record must be the same on every run (any scheduling),
 * and decrypting it must give the probe values. */
static void check_query_seeded(struct keys *K)
{
    const size_t count = 5, d = 16;
    int32_t *v = make_data(count, d, 0, 125);
    uint8_t seed[32] = {9, 8, 7};
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    for (int rep = 0; rep < 2; rep++) {
        hers_query *q = NULL;
        CHECK_OK(hers_query_encrypt(K->p, K->sk, NULL, v, count, d, 125, seed, &q));
        if (!q)
            break;
        CHECK_OK(hers_query_serialize(K->p, q, rep ? &b2 : &b1, rep ? &l2 : &l1));
        if (rep == 0) {
            hers_plaintext pt = {0};
            int64_t *m = malloc(hers_params_n(K->p) * sizeof *m);
            int ok = m != NULL;
            for (size_t x = 0; ok && x < count * d; x++) {
                CHECK_OK(hers_decrypt(K->p, K->sk, &q->cts[x], &pt));
                CHECK_OK(hers_decode_coeff(K->p, &pt, m));
                ok &= m[0] == v[x]; /* the constant polynomial p_i */
            }
            CHECK(ok);
            free(m);
            hers_plaintext_free(&pt);
        }
        hers_query_free(q);
    }
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    hers_free(b1);
    hers_free(b2);
    free(v);
}

/* Every configuration on one parameter set. */
static void run_set(hers_params *p, hers_searcher **sr)
{
    struct keys K;
    keys_make(&K, p);
    const size_t dims[] = {1, 16, 64, 128, 512};
    for (size_t di = 0; di < 5; di++) {
        size_t d = dims[di];
        if (quick && d > 64)
            continue;
        size_t n = d >= 128 ? 1024 + 77 : 2 * 1024 + 333; /* partial last block */
        run_config(&K, HERS_MODE_BOTH_ENCRYPTED, 0, n, d, (int)(di & 1), sr, 2);
        run_config(&K, HERS_MODE_PLAIN_GALLERY, 0, n, d, (int)!(di & 1), sr, 2);
    }
    /* public-key enrolment at the largest d whose worst-case noise bound
     * the set allows (two 50-bit primes: 512; three 30-bit primes: less);
     * one dimension above it is refused cleanly */
    size_t pk_d = quick ? 16 : 512;
    double worst = 0, heur = 0;
    int limited = 0;
    for (;;) {
        CHECK_OK(hers_search_noise_bound(p, HERS_MODE_BOTH_ENCRYPTED, pk_d, 1, 1, &worst, &heur));
        if (worst >= 1.0 || pk_d == 1)
            break;
        pk_d /= 2;
        limited = 1;
    }
    run_config(&K, HERS_MODE_BOTH_ENCRYPTED, 1, 700, pk_d, 1, sr, 2);
    if (limited) {
        size_t over = pk_d;
        do {
            over++;
            CHECK_OK(hers_search_noise_bound(p, HERS_MODE_BOTH_ENCRYPTED, over, 1, 1, &worst, &heur));
        } while (worst >= 1.0 && over < HERS_SEARCH_MAX_D);
        CHECK(worst < 1.0);
        fprintf(stderr, "  public-key enrolment: d <= %zu (d = %zu refused)\n", over - 1, over);
        int32_t *v = make_data(10, over, 0, 125);
        hers_enroll_opts o;
        hers_enroll_opts_default(&o);
        hers_gallery *gal = NULL;
        CHECK(hers_gallery_enroll(p, NULL, K.pk, v, 10, over, &o, &gal) == HERS_ERR_NOISE && !gal);
        free(v);
    }
    check_reference(&K, HERS_MODE_BOTH_ENCRYPTED, 1030, quick ? 4 : 16, sr[1]);
    check_reference(&K, HERS_MODE_PLAIN_GALLERY, 1030, quick ? 4 : 16, sr[1]);
    check_records(&K, sr[1]);
    check_batches(&K, sr[1], 4, 37);
    check_split(&K, sr);
    check_query_seeded(&K);
    if (!quick)
        check_batches(&K, sr[0], 512, 9);
    keys_free(&K);
}

int main(void)
{
    (void)test_seed();
    quick = getenv("HERS_TEST_QUICK") != NULL;
    check_misc();

    hers_searcher *sr[2] = {NULL, NULL};
    CHECK_OK(hers_searcher_create(1, &sr[0]));
    CHECK_OK(hers_searcher_create(2, &sr[1]));
    hers_search_phases ph0;
    memset(&ph0, 0xff, sizeof ph0);
    hers_searcher_phases(sr[0], &ph0); /* no search yet: all 0 */
    CHECK(ph0.probe_s == 0 && ph0.scan_s == 0 && ph0.shrink_s == 0 && ph0.total_s == 0);
    hers_searcher_phases(NULL, &ph0);
    CHECK(ph0.total_s == 0);
    hers_searcher_phases(sr[0], NULL); /* no crash */
    /* fast test sets, N = 1024 and the default t: two 50-bit primes each
     * = 1 mod 2N t (the wide kernel form), and three 30-bit primes whose
     * product is = 1 mod t (the narrow form, like s4096) */
    for (int narrow = 0; narrow < 2; narrow++) {
        hers_params *p = test_search_params(1024, narrow);
        if (!p)
            continue;
        fprintf(stderr, "set: %s form, %zu primes\n", narrow ? "narrow" : "wide",
                hers_params_num_primes(p));
        run_set(p, sr);
        hers_params_free(p);
    }

    /* one case with each named N = 4096 set */
    const char *named[] = {"default", "s4096"};
    for (int i = 0; i < 2; i++) {
        hers_params *pd = NULL;
        CHECK_OK(hers_params_create_named(&pd, named[i]));
        if (!pd)
            continue;
        struct keys KD;
        keys_make(&KD, pd);
        run_config(&KD, HERS_MODE_BOTH_ENCRYPTED, 0, 4096 + 100, quick ? 8 : 64, 0, sr, 2);
        keys_free(&KD);
        hers_params_free(pd);
    }
    hers_searcher_free(sr[0]);
    hers_searcher_free(sr[1]);
    return test_finish();
}
