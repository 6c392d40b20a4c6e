/*
 * bench_search.c - `hers bench search --n N --d D [--threads T]
 * [--mode both-encrypted|plain-gallery] [--probes P] [--params NAME]
 * [--reps R] [--synthetic] [--json]`.
 *
 * One configuration per run. Measures (wall time, median of --reps runs):
 *   key holder: enrolment (secret-key, seed-compressed) per template x dim,
 *               probe encryption, decryption + decoding of one probe's results;
 *   server:     index build (seed expansion, times t, tiling) and the search
 *               of P probes in one pass (search_s = per query), per template x
 *               dimension; the result shrinking variants (modulus switching,
 *               relinearisation) separately;
 *   sizes:      bytes per template x dimension at rest and in the kernel's
 *               memory form, query upload, result download per form;
 *   noise:      the smallest remaining noise budget of the results;
 *   plaintext:  the same search in float with OpenBLAS cblas_sgemv;
 *   bandwidth:  single-core sequential read bandwidth of this machine (same
 *               run), and the kernel's distance from the bound bytes / bw;
 *   reference:  the generic BFV path (multiply + relinearise + add per term)
 *               on one block, per template x dimension.
 * --synthetic times only the server search on a random index (no enrolment,
 * nothing decrypts): for galleries too large to enrol within a benchmark.
 * Targets (issue "The HERS encrypted search engine", N = 4096, d = 64, both
 * encrypted, one query, one thread): <= 5 ns per template x dimension,
 * within 1.5x of the bandwidth bound, <= 15x plaintext sgemv, enrol <= 50 ns
 * per template x dimension, <= 16 bytes at rest per template x dimension,
 * result download <= 16 bytes per template; n = 2^20, d = 512 <= 3 s on 2
 * threads. docs/benchmarks.md ("Search") records the results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <cblas.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_bfv.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "hers/hers_serial.h"

#define CMD "bench search"

static uint64_t rng = 0x1234567;
static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Quantised random unit vectors (scale s): rows of the int matrix and the
 * float matrix of the same vectors (the plaintext baseline). */
static void make_rows(int32_t *q, float *f, size_t rows, size_t d, uint32_t s)
{
    for (size_t r = 0; r < rows; r++) {
        double nn = 0, *x = malloc(d * sizeof *x);
        for (size_t i = 0; i < d; i++) {
            x[i] = (double)(next_rand() >> 11) / 9007199254740992.0 - 0.5;
            nn += x[i] * x[i];
        }
        nn = sqrt(nn) * (1.0 + 1e-9);
        for (size_t i = 0; i < d; i++) {
            double v = x[i] / nn;
            q[r * d + i] = (int32_t)lround(v * s);
            if (f)
                f[r * d + i] = (float)v;
        }
        /* rounding may exceed the norm bound in rare cases: shrink the row */
        uint64_t bound = hers_quant_score_bound(d, s), n2;
        do {
            n2 = 0;
            for (size_t i = 0; i < d; i++)
                n2 += (uint64_t)((int64_t)q[r * d + i] * q[r * d + i]);
            if (n2 > bound)
                for (size_t i = 0; i < d; i++)
                    q[r * d + i] = q[r * d + i] * 9 / 10;
        } while (n2 > bound);
        free(x);
    }
}

/* Single-core sequential read bandwidth (GB/s): sums 256 MiB of 64-bit words
 * with 4 independent accumulators, best of 5. streams > 1: the buffer cut
 * into that many equal parts read side by side (word i of every part, then
 * word i + 1), each a sequential stream for the hardware prefetchers; on the
 * Zen 5 VM 4 streams read ~15-25% faster than one (docs/benchmarks.md,
 * session 10), so the single-probe scan, which reads 3 streams, is also
 * reported against that (higher) bound. */
static double read_bandwidth(size_t streams)
{
    size_t words = ((size_t)256 << 20) / 8, part = words / streams;
    uint64_t *b = hers_alloc_array(words, 8);
    if (!b)
        return 0;
    for (size_t i = 0; i < words; i++)
        b[i] = i;
    double best = 1e9;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (streams == 4) {
            const uint64_t *b1 = b + part, *b2 = b1 + part, *b3 = b2 + part;
            for (size_t i = 0; i < part; i++) {
                a0 += b[i];
                a1 += b1[i];
                a2 += b2[i];
                a3 += b3[i];
            }
        } else {
            for (size_t i = 0; i < words; i += 4) {
                a0 += b[i];
                a1 += b[i + 1];
                a2 += b[i + 2];
                a3 += b[i + 3];
            }
        }
        sink += a0 + a1 + a2 + a3;
        double t = bench_now() - t0;
        if (t < best)
            best = t;
    }
    hers_free(b);
    return (double)(streams == 4 ? 4 * part : words) * 8 / best / 1e9;
}

struct search_ctx {
    hers_searcher *s;
    const hers_params *p;
    const hers_index *ix;
    const hers_query *q;
    hers_search_opts opts;
    hers_status st;
};

static void run_search(void *v)
{
    struct search_ctx *c = v;
    hers_result *r = NULL;
    hers_status st = hers_search(c->s, c->p, c->ix, c->q, &c->opts, &r);
    if (st != HERS_OK && c->st == HERS_OK)
        c->st = st;
    hers_result_free(r);
}

struct sgemv_ctx {
    const float *g, *x;
    float *y;
    size_t n, d;
};

static void run_sgemv(void *v)
{
    struct sgemv_ctx *c = v;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->n, (int)c->d, 1.0f, c->g, (int)c->d, c->x, 1,
                0.0f, c->y, 1);
}

/* CPU seconds of the whole process (all threads): on a shared machine the
 * wall time includes other jobs; CPU time / threads does not. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what)
{
    return cli_fail(CMD, "%s: %s", what, hers_last_error());
}

struct expand_ctx {
    const hers_params *p;
    const hers_galois_key *gk;
    const hers_query *cq;
    hers_query *into;   /* NULL: a fresh output per call */
    hers_status st;
};

static void run_expand(void *vctx)
{
    struct expand_ctx *c = vctx;
    hers_status st;
    if (c->into) {
        st = hers_query_expand_into(c->p, c->gk, c->cq, 1, c->into);
    } else {
        hers_query *e = NULL;
        st = hers_query_expand(c->p, c->gk, c->cq, 1, &e);
        hers_query_free(e);
    }
    if (st != HERS_OK)
        c->st = st;
}

int hers_bench_search(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--d", "--threads", "--mode", "--probes",
                                             "--params", "--reps", "--batch", "--packing", NULL};
    static const char *const flags[] = {"--json", "--synthetic", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers bench search --n N --d D [--threads T] [--mode both-encrypted|plain-gallery]\n"
               "       [--probes P] [--params NAME] [--reps R] [--batch B] [--synthetic] [--json]\n"
               "       [--packing auto|slot|coeff]\n"
               "  Enrols n random quantised templates of dimension d, searches P encrypted probes\n"
               "  (one pass) and reports times, sizes, noise budget, the plaintext sgemv time and\n"
               "  the machine's single-core read bandwidth. --synthetic: server search only, on\n"
               "  a random index (for galleries too large to enrol here). --batch B (default 8,\n"
               "  0: off): in the same run, one pass of B probes against passes of one probe,\n"
               "  alternated, per probe x template x dim and against the bandwidth bound.\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    uint64_t n, d, threads, probes, reps, batch;
    if (cli_opt_u64(CMD, argc, argv, "--n", 65536, 1, (uint64_t)1 << 32, &n) ||
        cli_opt_u64(CMD, argc, argv, "--d", 64, 1, HERS_SEARCH_MAX_D, &d) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 1, 0, 256, &threads) ||
        cli_opt_u64(CMD, argc, argv, "--probes", 1, 1, 4096, &probes) ||
        cli_opt_u64(CMD, argc, argv, "--reps", 5, 1, 64, &reps) ||
        cli_opt_u64(CMD, argc, argv, "--batch", 8, 0, 16, &batch))
        return 2;
    hers_search_mode mode = HERS_MODE_BOTH_ENCRYPTED;
    if (cli_opt(argc, argv, "--mode") &&
        hers_search_mode_parse(cli_opt(argc, argv, "--mode"), &mode) != HERS_OK)
        return fail("--mode");
    const char *pname = cli_opt(argc, argv, "--params") ? cli_opt(argc, argv, "--params") : "n4096";
    int json = cli_flag(argc, argv, "--json"), synthetic = cli_flag(argc, argv, "--synthetic");

    hers_params *p = NULL;
    if (hers_params_create_named(&p, pname) != HERS_OK)
        return fail("--params");
    size_t N = hers_params_n(p);
    uint32_t scale = HERS_QUANT_PAPER_SCALE;
    /* gallery packing (docs/design.md, "Shrinking the download"): auto =
     * hers_packing_default (coefficient at n4096, d = 64, s = 125) */
    const char *pack_opt = cli_opt(argc, argv, "--packing");
    hers_packing packing = hers_packing_default(p, (size_t)d, scale);
    if (pack_opt && strcmp(pack_opt, "auto") && hers_packing_parse(pack_opt, &packing) != HERS_OK)
        return fail("--packing");
    hers_searcher *sr = NULL;
    if (hers_searcher_create((unsigned)threads, &sr) != HERS_OK)
        return fail("threads");
    unsigned T = hers_searcher_threads(sr);
    bench_print_env(json ? stderr : stdout, "search", (int)T);

    uint8_t seed[32] = {42};
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    if (hers_keygen_secret_seeded(p, seed, &sk) != HERS_OK ||
        hers_keygen_public(p, sk, &pk) != HERS_OK || hers_keygen_relin(p, sk, &rk) != HERS_OK)
        return fail("keygen");

    size_t nd = (size_t)n * d;
    int32_t *gq = NULL, *pq = malloc(probes * d * sizeof *pq);
    float *gf = NULL, *pf = malloc(probes * d * sizeof *pf);
    make_rows(pq, pf, probes, d, scale);
    double enroll_s = NAN, build_s = NAN, rest_per = NAN, mem_per = NAN, enroll_cpu = NAN,
           build_cpu = NAN;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    if (!synthetic) {
        gq = malloc(nd * sizeof *gq);
        gf = malloc(nd * sizeof *gf);
        if (!gq || !gf)
            return cli_fail(CMD, "out of memory for %llu x %llu templates", (unsigned long long)n,
                            (unsigned long long)d);
        make_rows(gq, gf, n, d, scale);
        hers_enroll_opts o;
        hers_enroll_opts_default(&o);
        o.mode = mode;
        o.threads = T;
        o.packing = packing;
        double t0 = bench_now(), c0 = cpu_now();
        if (hers_gallery_enroll(p, mode == HERS_MODE_BOTH_ENCRYPTED ? sk : NULL, NULL, gq, n, d, &o,
                                &gal) != HERS_OK)
            return fail("enroll");
        enroll_s = bench_now() - t0;
        enroll_cpu = cpu_now() - c0;
        rest_per = (double)hers_gallery_payload_bytes(gal) / (double)nd;
        t0 = bench_now();
        c0 = cpu_now();
        if (hers_index_build(p, gal, T, &ix) != HERS_OK)
            return fail("index");
        build_s = bench_now() - t0;
        build_cpu = cpu_now() - c0;
    } else {
        gf = malloc(nd * sizeof *gf);
        if (!gf)
            return cli_fail(CMD, "out of memory");
        for (size_t i = 0; i < nd; i++)
            gf[i] = (float)((double)(next_rand() >> 40) / 16777216.0 - 0.5);
        if (hers_index_random(p, mode, n, d, 7, &ix) != HERS_OK)
            return fail("index");
    }
    mem_per = (double)hers_index_bytes(ix) / (double)nd;

    /* key holder: probes */
    hers_query *q = NULL;
    double t0 = bench_now();
    if (hers_query_encrypt(p, sk, NULL, pq, probes, d, scale, NULL, &q) != HERS_OK)
        return fail("query");
    double enc_s = (bench_now() - t0) / (double)probes;
    uint8_t *buf = NULL;
    size_t qlen = 0;
    if (hers_query_serialize(p, q, &buf, &qlen) != HERS_OK)
        return fail("query serialize");
    hers_free(buf);

    /* server: the search (full 3-part result) */
    struct search_ctx sc = {sr, p, ix, q, {HERS_RESULT_FULL, rk}, HERS_OK};
    double cs = cpu_now();
    double search_all = bench_median(run_search, &sc, (int)reps, 0.0);
    double search_cpu = (cpu_now() - cs) / (double)(reps + 1) / (double)probes;
    if (sc.st != HERS_OK)
        return cli_fail(CMD, "search: %s", hers_status_name(sc.st));
    double search_s = search_all / (double)probes;
    /* result forms */
    double shrink_s[3] = {0, NAN, NAN}, res_bytes[3] = {NAN, NAN, NAN}, noise[3] = {NAN, NAN, NAN};
    double dec_s = NAN, dec_form_s[3] = {NAN, NAN, NAN}, res_compact = NAN, dec_compact_s = NAN;
    double enc_compact_s = NAN;   /* the server's encoding of the compact record */
    int exact = -1, exact_result_compact = -1;
    for (int f = 0; f < 3; f++) {
        hers_search_opts so = {(hers_result_shrink)f, rk};
        hers_result *res = NULL;
        if (f > 0) { /* the extra cost of shrinking: median of 3 searches with it */
            struct search_ctx sf = {sr, p, ix, q, so, HERS_OK};
            double with = bench_median(run_search, &sf, 3, 0.0);
            shrink_s[f] = (with - search_all) / (double)probes;
        }
        double a;
        if (hers_search(sr, p, ix, q, &so, &res) != HERS_OK)
            return fail("search");
        size_t rl = 0;
        if (hers_result_serialize(p, res, &buf, &rl) != HERS_OK)
            return fail("result serialize");
        hers_free(buf);
        res_bytes[f] = (double)rl / (double)probes;
        if (f == 2) {
            /* the compact download record: rounded coefficients, decrypted
             * after the round trip (that decryption is the key holder's) */
            hers_result *back = NULL;
            double e0 = bench_now();
            if (hers_result_serialize_compact(p, res, &buf, &rl) != HERS_OK)
                return fail("compact result");
            enc_compact_s = bench_now() - e0;
            if (hers_result_deserialize(p, buf, rl, &back) != HERS_OK)
                return fail("compact result");
            hers_free(buf);
            res_compact = (double)rl / (double)probes;
            if (!synthetic) {
                int64_t *sc3 = malloc(n * sizeof *sc3);
                double a3 = bench_now();
                if (hers_result_decrypt(p, sk, back, 0, sc3) != HERS_OK)
                    return fail("compact decrypt");
                dec_compact_s = bench_now() - a3;
                exact_result_compact = 1;
                for (size_t x = 0; x < n; x++) {
                    int64_t w = 0;
                    for (size_t i = 0; i < d; i++)
                        w += (int64_t)gq[x * d + i] * pq[i];
                    exact_result_compact &= w == sc3[x];
                }
                free(sc3);
            }
            hers_result_free(back);
        }
        if (!synthetic) {
            double mn = INFINITY;
            for (size_t r = 0; r < probes; r++) {
                double b;
                if (hers_result_noise_budget(p, sk, res, r, &b) != HERS_OK)
                    return fail("noise budget");
                mn = b < mn ? b : mn;
            }
            noise[f] = mn;
            int64_t *sc2 = malloc(n * sizeof *sc2);
            a = bench_now();
            if (hers_result_decrypt(p, sk, res, 0, sc2) != HERS_OK)
                return fail("decrypt");
            dec_form_s[f] = bench_now() - a;
            if (f == 0)
                dec_s = dec_form_s[f];
            int ok = 1;
            for (size_t x = 0; x < n; x++) {
                int64_t w = 0;
                for (size_t i = 0; i < d; i++)
                    w += (int64_t)gq[x * d + i] * pq[i];
                ok &= w == sc2[x];
            }
            exact = exact == 0 ? 0 : ok;
            free(sc2);
        }
        hers_result_free(res);
    }

    /* compact query (both-encrypted): Galois keys once per gallery, one
     * ciphertext per probe, server-side expansion on one thread */
    double gk_bytes = NAN, cq_bytes = NAN, expand_ms = NAN, noise_compact = NAN,
           expand_alloc_ms = NAN, expand_cpu_ms = NAN;
    int exact_compact = -1;
    if (mode == HERS_MODE_BOTH_ENCRYPTED) {
        hers_galois_key *gk = NULL;
        hers_query *cq = NULL;
        size_t gl = 0, cl = 0;
        if (hers_query_galois_keygen(p, sk, d, NULL, &gk) != HERS_OK ||
            hers_galois_key_serialized_size(p, gk, &gl) != HERS_OK ||
            hers_query_encrypt_compact(p, sk, pq, probes, d, scale, NULL, &cq) != HERS_OK ||
            hers_query_serialize(p, cq, &buf, &cl) != HERS_OK)
            return fail("compact query");
        hers_free(buf);
        gk_bytes = (double)gl;
        cq_bytes = (double)cl / (double)probes;
        struct expand_ctx ec = {p, gk, cq, NULL, HERS_OK};
        expand_alloc_ms = bench_median(run_expand, &ec, (int)reps, 0.0) * 1e3 / (double)probes;
        hers_query *eq = NULL;
        hers_result *res = NULL;
        if (ec.st != HERS_OK || hers_query_expand(p, gk, cq, 1, &eq) != HERS_OK)
            return fail("compact expand");
        ec.into = eq; /* steady state: a server worker reuses its output */
        expand_ms = bench_median(run_expand, &ec, (int)reps, 0.0) * 1e3 / (double)probes;
        double c0 = cpu_now();
        run_expand(&ec);
        expand_cpu_ms = (cpu_now() - c0) * 1e3 / (double)probes;
        if (ec.st != HERS_OK || hers_search(sr, p, ix, eq, NULL, &res) != HERS_OK)
            return fail("compact search");
        if (!synthetic) {
            int64_t *sc2 = malloc(n * sizeof *sc2);
            exact_compact = 1;
            double mn = INFINITY;
            for (size_t r = 0; r < probes; r++) {
                double b;
                if (hers_result_decrypt(p, sk, res, r, sc2) != HERS_OK ||
                    hers_result_noise_budget(p, sk, res, r, &b) != HERS_OK)
                    return fail("compact decrypt");
                mn = b < mn ? b : mn;
                for (size_t x = 0; x < n; x++) {
                    int64_t w = 0;
                    for (size_t i = 0; i < d; i++)
                        w += (int64_t)gq[x * d + i] * pq[r * d + i];
                    exact_compact &= w == sc2[x];
                }
            }
            noise_compact = mn;
            free(sc2);
        }
        hers_result_free(res);
        hers_query_free(eq);
        hers_query_free(cq);
        hers_galois_key_free(gk);
    }
    /* key holder: rank 1M decrypted scores (top 10), and the decryption
     * time per template of the smallest result form scaled to 1M */
    double rank_1m_s = NAN, dec_rank_1m_s = NAN;
    {
        size_t m = 1000000;
        int64_t *all = malloc(m * sizeof *all);
        for (size_t i = 0; i < m; i++)
            all[i] = (int64_t)(next_rand() % 31251) - 15625;
        hers_match top[10];
        size_t cnt;
        double a = bench_now();
        (void)hers_top_k(all, m, 10, top, &cnt);
        rank_1m_s = bench_now() - a;
        free(all);
        double per = !isnan(dec_compact_s) ? dec_compact_s : !isnan(dec_form_s[2]) ? dec_form_s[2] : dec_s;
        dec_rank_1m_s = per * 1e6 / (double)n + rank_1m_s;
    }

    /* plaintext float search */
    float *y = malloc(n * sizeof *y);
    openblas_set_num_threads((int)T);
    struct sgemv_ctx gc = {gf, pf, y, n, d};
    double plain_s = bench_median(run_sgemv, &gc, (int)reps, 0.05);
    free(y);

    /* generic BFV path on one block (small d), per template x dimension */
    double ref_ns = NAN;
    if (!synthetic && mode == HERS_MODE_BOTH_ENCRYPTED) {
        size_t rn = n < N ? n : N, rd = d < 4 ? d : 4;
        int32_t *rg = malloc(rn * rd * sizeof *rg);
        make_rows(rg, NULL, rn, rd, scale);
        hers_gallery *g2 = NULL;
        hers_query *q2 = NULL;
        hers_result *r2 = NULL;
        hers_enroll_opts o;
        hers_enroll_opts_default(&o);
        if (hers_gallery_enroll(p, sk, NULL, rg, rn, rd, &o, &g2) == HERS_OK &&
            hers_query_encrypt(p, sk, NULL, pq, 1, rd, scale, NULL, &q2) == HERS_OK) {
            double a = bench_now();
            if (hers_search_reference(p, g2, q2, rk, &r2) == HERS_OK)
                ref_ns = (bench_now() - a) * 1e9 / (double)(N * rd);
        }
        hers_result_free(r2);
        hers_query_free(q2);
        hers_gallery_free(g2);
        free(rg);
    }

    /* Batch against single probe, same run: passes alternated (single,
     * batch, single, ...) so both see the same machine; medians of wall
     * and process CPU time. */
    double b_wall = NAN, b_cpu = NAN, s_wall = NAN, s_cpu = NAN;
    double s_probe = NAN, s_scan = NAN, s_other = NAN, b_probe = NAN, b_scan = NAN, b_other = NAN;
    if (batch > 0) {
        int32_t *bq = malloc(batch * d * sizeof *bq);
        float *bf = malloc(batch * d * sizeof *bf);
        hers_query *q1 = NULL, *qb = NULL;
        if (!bq || !bf)
            return fail("out of memory");
        make_rows(bq, bf, batch, d, scale);
        if (hers_query_encrypt(p, sk, NULL, bq, 1, d, scale, NULL, &q1) != HERS_OK ||
            hers_query_encrypt(p, sk, NULL, bq, batch, d, scale, NULL, &qb) != HERS_OK)
            return fail("batch query");
        struct search_ctx c1 = {sr, p, ix, q1, {HERS_RESULT_FULL, NULL}, HERS_OK};
        struct search_ctx cb = {sr, p, ix, qb, {HERS_RESULT_FULL, NULL}, HERS_OK};
        double sw[64], sc1[64], bwl[64], bc[64];
        /* where each pass's time goes (hers_searcher_phases) */
        double sp[64], ss[64], so[64], bp[64], bs[64], bo[64];
        hers_search_phases ph;
        run_search(&c1); /* warm-up: probe scratch and result arenas */
        run_search(&cb);
        for (uint64_t r = 0; r < reps; r++) {
            double w0 = bench_now(), u0 = cpu_now();
            run_search(&c1);
            double w1 = bench_now(), u1 = cpu_now();
            hers_searcher_phases(sr, &ph);
            sp[r] = ph.probe_s;
            ss[r] = ph.scan_s;
            so[r] = (w1 - w0) - ph.probe_s - ph.scan_s;
            run_search(&cb);
            double w2 = bench_now(), u2 = cpu_now();
            hers_searcher_phases(sr, &ph);
            bp[r] = ph.probe_s;
            bs[r] = ph.scan_s;
            bo[r] = (w2 - w1) - ph.probe_s - ph.scan_s;
            sw[r] = w1 - w0;
            sc1[r] = u1 - u0;
            bwl[r] = w2 - w1;
            bc[r] = u2 - u1;
        }
        if (c1.st != HERS_OK || cb.st != HERS_OK)
            return cli_fail(CMD, "batch search: %s",
                            hers_status_name(c1.st != HERS_OK ? c1.st : cb.st));
        s_wall = bench_median_of(sw, reps);
        s_cpu = bench_median_of(sc1, reps);
        b_wall = bench_median_of(bwl, reps);
        b_cpu = bench_median_of(bc, reps);
        s_probe = bench_median_of(sp, reps);
        s_scan = bench_median_of(ss, reps);
        s_other = bench_median_of(so, reps);
        b_probe = bench_median_of(bp, reps);
        b_scan = bench_median_of(bs, reps);
        b_other = bench_median_of(bo, reps);
        hers_query_free(q1);
        hers_query_free(qb);
        free(bq);
        free(bf);
    }

    double bw = read_bandwidth(1), bw4 = read_bandwidth(4);
    double kernel_bytes = (double)hers_index_bytes(ix);
    double bound_s = kernel_bytes / (bw * 1e9), bound4_s = kernel_bytes / (bw4 * 1e9);
    double ns_td = search_s * 1e9 / (double)nd;
    double rss = bench_peak_rss_mb();
    const char *simd = hers_simd_name(hers_simd_active());
    if (json) {
        printf("{\"bench\":\"search\",\"mode\":\"%s\",\"N\":%zu,\"n\":%llu,\"d\":%llu,"
               "\"threads\":%u,\"probes\":%llu,\"synthetic\":%s",
               hers_search_mode_name(mode), N, (unsigned long long)n, (unsigned long long)d, T,
               (unsigned long long)probes, synthetic ? "true" : "false");
        const struct {
            const char *k;
            double v;
        } f[] = {{"search_s", search_s},
                 {"ns_per_template_dim", ns_td},
                 {"plain_s", plain_s},
                 {"ratio_vs_plain", search_s / plain_s},
                 {"enroll_ns_per_template_dim", enroll_s * 1e9 / (double)nd},
                 {"enroll_us_per_template", enroll_s * 1e6 / (double)n},
                 {"index_build_s", build_s},
                 {"bytes_at_rest_per_template_dim", rest_per},
                 {"bytes_in_memory_per_template_dim", mem_per},
                 {"query_bytes", (double)qlen},
                 {"encrypt_s", enc_s},
                 {"decrypt_s", dec_s},
                 {"result_bytes", res_bytes[2]},
                 {"result_bytes_per_template", res_bytes[2] / (double)n},
                 {"result_bytes_full", res_bytes[0]},
                 {"result_bytes_switched", res_bytes[1]},
                 {"switch_s", shrink_s[1]},
                 {"relin_switch_s", shrink_s[2]},
                 {"peak_rss_mb", rss},
                 {"noise_budget_bits", noise[0]},
                 {"noise_budget_switched_bits", noise[1]},
                 {"noise_budget_relin_bits", noise[2]},
                 {"read_bw_gbs", bw},
                 {"bandwidth_bound_s", bound_s},
                 {"bandwidth_ratio", search_all / bound_s},
                 {"reference_ns_per_template_dim", ref_ns},
                 {"search_cpu_s", search_cpu},
                 {"cpu_ns_per_template_dim", search_cpu * 1e9 / (double)nd / T},
                 {"enroll_cpu_ns_per_template_dim", enroll_cpu * 1e9 / (double)nd},
                 {"index_build_cpu_s", build_cpu},
                 {"query_upload_bytes_per_probe", (double)qlen / (double)probes},
                 {"query_upload_bytes_per_probe_compact", cq_bytes},
                 {"galois_key_bytes", gk_bytes},
                 {"expansion_ms_per_probe", expand_ms},
                 {"expansion_alloc_ms_per_probe", expand_alloc_ms},
                 {"expansion_cpu_ms_per_probe", expand_cpu_ms},
                 {"noise_budget_compact_bits", noise_compact},
                 {"decrypt_s_relin", dec_form_s[2]},
                 {"result_bytes_compact", res_compact},
                 {"result_bytes_compact_per_template", res_compact / (double)n},
                 {"decrypt_s_compact", dec_compact_s},
                 {"result_compact_encode_ms_per_probe", enc_compact_s * 1e3 / (double)probes},
                 {"rank_1m_s", rank_1m_s},
                 {"decrypt_rank_1m_s", dec_rank_1m_s},
                 {"batch_probes", batch > 0 ? (double)batch : NAN},
                 {"batch_ns_per_probe_template_dim", b_wall * 1e9 / (double)nd / (double)batch},
                 {"batch_cpu_ns_per_probe_template_dim",
                  b_cpu * 1e9 / (double)nd / (double)batch / T},
                 {"single_ns_per_template_dim", s_wall * 1e9 / (double)nd},
                 {"single_cpu_ns_per_template_dim", s_cpu * 1e9 / (double)nd / T},
                 {"batch_speedup_per_probe", s_wall / (b_wall / (double)batch)},
                 /* the passes' parts (medians): probe tiles, kernels, rest of the call */
                 {"batch_probe_pass_ns_per_probe_template_dim",
                  b_probe * 1e9 / (double)nd / (double)batch},
                 {"batch_scan_ns_per_probe_template_dim", b_scan * 1e9 / (double)nd / (double)batch},
                 {"batch_other_ns_per_probe_template_dim",
                  b_other * 1e9 / (double)nd / (double)batch},
                 {"single_probe_pass_ns_per_template_dim", s_probe * 1e9 / (double)nd},
                 {"single_scan_ns_per_template_dim", s_scan * 1e9 / (double)nd},
                 {"single_other_ns_per_template_dim", s_other * 1e9 / (double)nd},
                 {"single_scan_bandwidth_ratio", s_scan / bound_s},
                 {"single_bandwidth_ratio", s_wall / bound_s},
                 {"read_bw_4streams_gbs", bw4},
                 {"single_bandwidth_ratio_4streams", s_wall / bound4_s},
                 {"single_scan_bandwidth_ratio_4streams", s_scan / bound4_s},
                 {"batch_bandwidth_ratio", b_wall / bound_s}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            if (isnan(f[i].v) || isinf(f[i].v))
                printf(",\"%s\":null", f[i].k);
            else if (f[i].v == floor(f[i].v) && fabs(f[i].v) < 1e15)
                printf(",\"%s\":%.0f", f[i].k, f[i].v); /* byte counts: exact */
            else
                printf(",\"%s\":%.6g", f[i].k, f[i].v);
        }
        printf(",\"packing\":\"%s\"", synthetic ? "slot" : hers_packing_name(packing));
        printf(",\"exact\":%s,\"exact_compact\":%s,\"exact_result_compact\":%s,\"simd\":\"%s\"}\n",
               exact < 0 ? "null" : exact ? "true" : "false",
               exact_compact < 0 ? "null" : exact_compact ? "true" : "false",
               exact_result_compact < 0 ? "null" : exact_result_compact ? "true" : "false", simd);
    } else {
        printf("encrypted search, %s, N=%zu, n=%llu, d=%llu, %u thread(s), %llu probe(s)%s\n",
               hers_search_mode_name(mode), N, (unsigned long long)n, (unsigned long long)d, T,
               (unsigned long long)probes, synthetic ? " [synthetic index]" : "");
        printf("  server search          %10.4f s per query   %7.3f ns per template x dim   (target <= 5)\n",
               search_s, ns_td);
        printf("    (CPU time: %.4f s per query, %.3f ns per template x dim per thread)\n", search_cpu,
               search_cpu * 1e9 / (double)nd / T);
        printf("  plaintext sgemv        %10.4f s             ratio %.1fx   (target <= 15x)\n",
               plain_s, search_s / plain_s);
        printf("  read bandwidth (1 core) %9.2f GB/s  kernel reads %.1f MB: bound %.4f s, search/bound %.2f (target <= 1.5)\n",
               bw, kernel_bytes / 1e6, bound_s, search_all / bound_s);
        printf("  enrol                  %10.2f ns per template x dim   %.2f us per template (target <= 50 ns; CPU %.2f ns)\n",
               enroll_s * 1e9 / (double)nd, enroll_s * 1e6 / (double)n, enroll_cpu * 1e9 / (double)nd);
        printf("  index build            %10.4f s (CPU %.4f s)\n", build_s, build_cpu);
        printf("  bytes per template x dim: at rest %.2f (target <= 16), in memory %.2f\n", rest_per,
               mem_per);
        printf("  key holder: encrypt %.4f s per probe, decrypt %.4f s per query; query upload %zu bytes\n",
               enc_s, dec_s, qlen);
        printf("  result download per query: full %.0f B, switched %.0f B (+%.4f s), relinearised+switched %.0f B (+%.4f s) = %.2f B per template (target <= 16)\n",
               res_bytes[0], res_bytes[1], shrink_s[1], res_bytes[2], shrink_s[2],
               res_bytes[2] / (double)n);
        printf("  noise budget left: full %.1f, switched %.1f, relinearised %.1f bits; exact scores: %s\n",
               noise[0], noise[1], noise[2], exact < 0 ? "n/a" : exact ? "yes" : "NO");
        printf("  generic BFV path (mul + relin + add per term): %.1f ns per template x dim\n", ref_ns);
        printf("  compact query: upload %.0f B per probe (full form %.0f; target <= 40960), Galois keys %.0f B once per gallery (target <= 4 MB),\n"
               "    expansion %.3f ms per probe on 1 thread, output buffers reused (target <= 5; CPU %.3f ms; "
               "fresh buffers %.3f ms), noise budget %.1f bits, exact scores: %s\n",
               cq_bytes, (double)qlen / (double)probes, gk_bytes, expand_ms, expand_cpu_ms,
               expand_alloc_ms, noise_compact,
               exact_compact < 0 ? "n/a" : exact_compact ? "yes" : "NO");
        printf("  compact result record: %.2f B per template (target <= 6; %s packing, encoded in "
               "%.2f ms per probe), exact scores: %s\n",
               res_compact / (double)n, synthetic ? "slot" : hers_packing_name(packing),
               enc_compact_s * 1e3 / (double)probes,
               exact_result_compact < 0 ? "n/a" : exact_result_compact ? "yes" : "NO");
        printf("  key holder: rank 1M scores %.4f s; decrypt (smallest result form) + rank of 1M scores %.4f s (target <= 0.3)\n",
               rank_1m_s, dec_rank_1m_s);
        if (batch > 0)
            printf("  batch of %llu probes vs 1 probe (same run, alternated): %.3f vs %.3f ns per probe x template x dim (CPU %.3f vs %.3f; target <= 0.25 for 8 probes), %.2fx per probe;\n"
                   "    single probe / bandwidth bound %.2f (target <= 1.2; / the 4-stream read "
                   "bound %.2f at %.2f GB/s), batch pass / bound %.2f\n",
                   (unsigned long long)batch, b_wall * 1e9 / (double)nd / (double)batch,
                   s_wall * 1e9 / (double)nd, b_cpu * 1e9 / (double)nd / (double)batch / T,
                   s_cpu * 1e9 / (double)nd / T, s_wall / (b_wall / (double)batch), s_wall / bound_s,
                   s_wall / bound4_s, bw4, b_wall / bound_s);
        if (batch > 0)
            printf("    where it goes, ns per probe x template x dim: batch probe pass %.3f, scan %.3f, "
                   "rest %.3f; single %.3f, %.3f (scan / bound %.2f), %.3f\n",
                   b_probe * 1e9 / (double)nd / (double)batch,
                   b_scan * 1e9 / (double)nd / (double)batch,
                   b_other * 1e9 / (double)nd / (double)batch, s_probe * 1e9 / (double)nd,
                   s_scan * 1e9 / (double)nd, s_scan / bound_s, s_other * 1e9 / (double)nd);
        printf("  peak RSS %.1f MB, simd %s\n", rss, simd);
    }
    hers_query_free(q);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(gq);
    free(gf);
    free(pq);
    free(pf);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_relin_key_free(rk);
    hers_searcher_free(sr);
    hers_params_free(p);
    return exact == 0 || exact_compact == 0 || exact_result_compact == 0 ? 1 : 0;
}
