/*
 * bench_serve.c - `hers bench serve [--n N] [--d D] [--threads T] [--reps R]
 * [--seconds S] [--enroll E] [--json]`: the HERS service on loopback
 * (in-process server, 127.0.0.1, ephemeral port) against the in-process
 * search of the same gallery:
 *   - single-client search latency p50 / p99 (one probe) and its ratio to
 *     the in-process search of the same query and result form on the same
 *     index, for the forms a client uses by default (issue 15's rule: the
 *     compact query, expanded by the server with the gallery's Galois keys,
 *     and the compact result, relinearised and switched; the in-process side
 *     runs hers_query_expand_into + hers_search with
 *     HERS_RESULT_RELINEARIZED) and for the full forms (a d-ciphertext
 *     query, the 3-part result: in process plain hers_search). All in one
 *     client (its connection kept open), alternating: the full forms as
 *     HERSRSP v2 without the catalog (?catalog=omit), the full forms as
 *     version 1 (the catalog inside every response), the compact forms;
 *   - throughput with 1, 8 and 32 concurrent clients (one probe each
 *     request), with the passes the server ran (coalescing), for the full
 *     and for the compact forms; only exact answers count: each must equal
 *     byte for byte the reference answer of the latency loop, which is
 *     decrypted and checked against the plaintext scores (others are
 *     reported as wrong_answers / failed_requests);
 *   - the compaction per block (P's per-block part: relinearisation,
 *     switching, rounding, packing) on one thread, in process;
 *   - kernel cost per probe x template x dimension of a 16-probe batch
 *     in process (what a coalesced pass runs; warm: the median of 3 after
 *     one call that fills the result pool);
 *   - the ceiling of coalescing from the same run's parts: the one-probe
 *     scan S1, the scan's share per probe of a 16-probe pass SB, and P =
 *     compact latency - S1 (everything outside the scan):
 *     32/1 <= (S1 + P) / (SB + P); and the process's CPU seconds per
 *     search at 1 and 32 clients (less sensitive to a shared machine), and
 *     their product with the searches per second: the cores kept busy;
 *   - process RSS against the kernel-form bytes of the index;
 *   - enrolment throughput over HTTP (client encryption included).
 * Targets (issue 13, not asserted): latency ratio <= 1.25, 32-client
 * throughput >= 4x the 1-client one, RSS <= 1.15 x kernel form + fixed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_net.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"

#define CMD "bench serve"
#define SEARCH_PATH "/v1/galleries/b/search?catalog=omit"   /* what hers_client_search sends */
#define SEARCH_PATH_V1 "/v1/galleries/b/search"
#define SEARCH_PATH_COMPACT "/v1/galleries/b/search?catalog=omit&result=compact"

/* Anonymous resident memory in MiB (RssAnon of /proc/self/status): the
 * process's own memory, without the file pages of data.mdb that LMDB maps
 * (page cache, counted in RSS while mapped, reclaimable). */
static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (double)kb / 1024.0;
}

typedef struct load {
    const char *url, *token, *path;
    const uint8_t *body;
    size_t len;
    const uint8_t *ref;   /* the verified answer to body (every answer must equal it) */
    size_t ref_len;
    double until;
    long done, wrong, failed;
} load;

static void *client_loop(void *arg)
{
    load *l = arg;
    hers_client *c = NULL;
    if (hers_client_create(l->url, l->token, NULL, &c) != HERS_OK)
        return NULL;
    /* until <= 0: exactly one call (the warm-up: every client, however late
     * its thread starts); else calls until the deadline */
    for (long calls = 0; l->until <= 0 ? calls < 1 : bench_now() < l->until; calls++) {
        const uint8_t *r = NULL;
        size_t rl = 0;
        long code = 0;
        /* only exact searches count: the same query against the same
         * snapshot must give the bytes of the reference answer, which was
         * decrypted and checked against the plaintext scores */
        if (hers_client_call_buf(c, "POST", l->path, l->body, l->len, NULL, &r, &rl, &code) !=
                HERS_OK || code != 200)
            l->failed++;
        else if (rl != l->ref_len || memcmp(r, l->ref, rl) != 0)
            l->wrong++;
        else
            l->done++;
    }
    hers_client_free(c);
    return NULL;
}

static long describe(const char *url, const char *token, const char *key)
{
    hers_client *c = NULL;
    uint8_t *r = NULL;
    size_t rl = 0;
    long code = 0, v = -1;
    char s[64];
    if (hers_client_create(url, token, NULL, &c) == HERS_OK &&
        hers_client_call(c, "GET", "/v1/galleries/b", NULL, 0, NULL, &r, &rl, &code) == HERS_OK &&
        code == 200 && hers_json_get((const char *)r, rl, key, s, sizeof s) == 0)
        v = atol(s);
    free(r);
    hers_client_free(c);
    return v;
}

/* 1 if rsp, a search answer without its catalog to probe row 0, decrypts
 * with the catalog cat to the plaintext scores <g_x, probe> of all n
 * templates (vals: the enrolled rows, live in slot order). */
static int answer_exact(const hers_params *p, const hers_secret_key *sk, const uint8_t *rsp,
                        size_t len, const hers_net_catalog *cat, const int32_t *vals,
                        const int32_t *probe, size_t n, size_t d)
{
    hers_net_response *r = NULL;
    int64_t *sc = malloc(n * sizeof *sc);
    int ok = sc && rsp && hers_net_response_decode(p, rsp, len, &r) == HERS_OK &&
             hers_net_response_attach_catalog(r, cat) == HERS_OK &&
             hers_net_response_count(r) == 1 && hers_net_response_live(r) == n &&
             hers_net_response_decrypt(p, sk, r, 0, sc) == HERS_OK;
    for (size_t x = 0; ok && x < n; x++) {
        int64_t want = 0;
        for (size_t i = 0; i < d; i++)
            want += (int64_t)vals[x * d + i] * probe[i];
        ok = sc[x] == want;
    }
    hers_net_response_free(r);
    free(sc);
    return ok;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* CPU seconds of this process (server and clients), user + system. */
static double cpu_s(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

/* Exact searches per second with k concurrent clients for secs seconds
 * (answers that differ from ref count in *wrong, failed requests in
 * *failed, neither in the rate), the queries and passes the server counted
 * meanwhile, and the process's CPU seconds per exact search (a measure of
 * the work that a shared machine's load does not change, unlike the wall
 * clock). */
static long run_clients(const char *url, const char *token, const char *path,
                        const uint8_t *body, size_t len, const uint8_t *ref, size_t ref_len, int k,
                        double until, long *wrong, long *failed)
{
    pthread_t th[32];
    load ls[32];
    for (int i = 0; i < k; i++) {
        ls[i] = (load){url, token, path, body, len, ref, ref_len, until, 0, 0, 0};
        pthread_create(&th[i], NULL, client_loop, &ls[i]);
    }
    long done = 0;
    for (int i = 0; i < k; i++) {
        pthread_join(th[i], NULL);
        done += ls[i].done;
        *wrong += ls[i].wrong;
        *failed += ls[i].failed;
    }
    return done;
}

static double throughput(const char *url, const char *token, const char *path,
                         const uint8_t *body, size_t len, const uint8_t *ref, size_t ref_len,
                         int k, double secs, long *queries, long *passes, double *cpu_per_search,
                         long *wrong, long *failed)
{
    /* warm-up, not timed: one search per client, all at once (the passes
     * of this level's shape fill the result pool, as on a server that has
     * been up: otherwise the level's first large pass faults its fresh
     * memory, up to ~2 GB at 2^20 templates, inside the timed window) */
    (void)run_clients(url, token, path, body, len, ref, ref_len, k, 0, wrong, failed);
    long q0 = describe(url, token, "search_queries"), p0 = describe(url, token, "search_passes");
    double start = bench_now(), c0 = cpu_s();
    long done = run_clients(url, token, path, body, len, ref, ref_len, k, start + secs, wrong,
                            failed);
    double el = bench_now() - start;
    *cpu_per_search = done ? (cpu_s() - c0) / (double)done : 0;
    *queries = describe(url, token, "search_queries") - q0;
    *passes = describe(url, token, "search_passes") - p0;
    return (double)done / el;
}

int hers_bench_serve(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--d", "--threads", "--reps", "--seconds",
                                             "--enroll", "--packing", NULL};
    static const char *const flags[] = {"--json", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers bench serve [--n N] [--d D] [--threads T] [--reps R] [--seconds S]\n"
               "                        [--enroll E] [--packing slot|coeff|auto] [--json]\n"
               "  The service on 127.0.0.1 (in process): latency vs in-process search,\n"
               "  throughput at 1/8/32 clients, RSS vs kernel form, enrolment rate.\n"
               "  Defaults: n = 2^20, d = 64, reps 30, 3 s per throughput level, E = 4096,\n"
               "  packing slot (hers init's default; coeff: the compact result is a window).\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    uint64_t n, d, threads, reps, secs, ne;
    if (cli_opt_u64(CMD, argc, argv, "--n", (uint64_t)1 << 20, 1, (uint64_t)1 << 26, &n) ||
        cli_opt_u64(CMD, argc, argv, "--d", 64, 1, HERS_SEARCH_MAX_D, &d) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 256, &threads) ||
        cli_opt_u64(CMD, argc, argv, "--reps", 30, 3, 100000, &reps) ||
        cli_opt_u64(CMD, argc, argv, "--seconds", 3, 1, 3600, &secs) ||
        cli_opt_u64(CMD, argc, argv, "--enroll", 4096, 1, (uint64_t)1 << 20, &ne))
        return 2;
    hers_packing packing = HERS_PACK_SLOT;
    if (cli_opt(argc, argv, "--packing") &&
        hers_packing_parse(cli_opt(argc, argv, "--packing"), &packing) != HERS_OK)
        return cli_fail_lib(CMD, "--packing");
    int json = cli_flag(argc, argv, "--json");
    bench_print_env(stdout, "serve", (int)threads);
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    hers_galois_key *gk = NULL;
    if (hers_params_create_named(&p, "n4096") != HERS_OK || hers_keygen_secret(p, &sk) != HERS_OK ||
        hers_keygen_public(p, sk, &pk) != HERS_OK || hers_keygen_relin(p, sk, &rk) != HERS_OK ||
        hers_query_galois_keygen(p, sk, (size_t)d, NULL, &gk) != HERS_OK)
        return cli_fail_lib(CMD, "keys");
    char root[] = "/tmp/hers_bench_serve_XXXXXX";
    if (!mkdtemp(root))
        return cli_fail(CMD, "mkdtemp failed");
    char gdir[300], dbdir[340], tok[340], admin[80];
    snprintf(gdir, sizeof gdir, "%s/galleries", root);
    snprintf(dbdir, sizeof dbdir, "%s/b", gdir);
    snprintf(tok, sizeof tok, "%s/tokens", root);
    mkdir(gdir, 0700);
    int32_t *vals = bench_rows((size_t)n, (size_t)d, 7), *probe = bench_rows(16, (size_t)d, 99);
    hers_store *db = NULL;
    hers_store_enroll_opts eo;
    hers_store_enroll_opts_default(&eo);
    eo.threads = (unsigned)threads;
    double t0 = bench_now();
    if (!vals || !probe || hers_tokens_add(tok, "*", HERS_SCOPE_ADMIN, NULL, admin, sizeof admin) ||
        hers_store_create(dbdir, p, pk, rk, NULL, 0) != HERS_OK ||
        hers_store_open(dbdir, 0, &db) != HERS_OK || hers_store_put_galois_key(db, gk) != HERS_OK ||
        hers_store_set_packing(db, packing) != HERS_OK ||
        hers_store_enroll(db, sk, NULL, vals, (size_t)n, (size_t)d, NULL, &eo, NULL) != HERS_OK)
        return cli_fail_lib(CMD, "setup");
    double t_enrol_local = bench_now() - t0;
    hers_store_info dbi;   /* auto: what the enrolment decided */
    if (hers_store_get_info(db, &dbi) != HERS_OK)
        return cli_fail_lib(CMD, "info");
    packing = dbi.packing;
    /* in-process baseline: the same index form the server holds */
    hers_store_snapshot *snap = NULL;
    hers_index *ix = NULL;
    hers_searcher *sr = NULL;
    hers_query *q1 = NULL, *q16 = NULL, *q1c = NULL, *q1x = NULL;
    hers_result *res = NULL;
    uint8_t *body = NULL, *bodyc = NULL;
    size_t blen = 0, blenc = 0;
    if (hers_store_snapshot_open(db, &snap) != HERS_OK ||
        hers_store_snapshot_index(snap, 0, hers_store_snapshot_blocks(snap), (unsigned)threads, &ix) !=
            HERS_OK ||
        hers_searcher_create((unsigned)threads, &sr) != HERS_OK ||
        hers_query_encrypt(p, sk, NULL, probe, 1, (size_t)d, 125, NULL, &q1) != HERS_OK ||
        hers_query_encrypt(p, sk, NULL, probe, 16, (size_t)d, 125, NULL, &q16) != HERS_OK ||
        hers_query_serialize(p, q1, &body, &blen) != HERS_OK ||
        hers_query_encrypt_compact(p, sk, probe, 1, (size_t)d, 125, NULL, &q1c) != HERS_OK ||
        hers_query_serialize(p, q1c, &bodyc, &blenc) != HERS_OK ||
        hers_query_expand(p, gk, q1c, (unsigned)threads, &q1x) != HERS_OK)
        return cli_fail_lib(CMD, "baseline");
    hers_store_snapshot_close(snap);
    /* the compact forms in process: expansion into reused buffers (as the
     * server does) + search + relinearisation and switching */
    hers_search_opts so = {HERS_RESULT_RELINEARIZED, rk};
    double *lat = calloc(reps, sizeof *lat);
    /* warm (the first call fills the result pool), then the median of 3:
     * the kernel, not fresh pages */
    double b16[3];
    for (int i = -1; i < 3; i++) {
        double a16 = bench_now();
        if (hers_search(sr, p, ix, q16, NULL, &res) != HERS_OK)
            return cli_fail_lib(CMD, "16-probe search");
        if (i >= 0)
            b16[i] = bench_now() - a16;
        hers_result_free(res);
        res = NULL;
    }
    double batch16 = bench_median_of(b16, 3);
    /* P's per-block part: the compaction of one probe's blocks inside the
     * pass (relinearisation, switching, rounding, packing: what the server
     * does per probe and block of 4096 templates, whatever d), on one
     * thread (a 1-thread searcher runs in the caller's thread), warm, then
     * the median of 3: the wall time of the searcher's shrink phase, and
     * the call's thread CPU time times the phase's share of the call's wall
     * time (on a shared machine the thread is descheduled alike in every
     * phase: this one moves much less with the load) */
    hers_searcher *sr1 = NULL;
    hers_search_opts co = {HERS_RESULT_COMPACT, rk};
    double cb[3], cbc[3];
    size_t nblocks = 1;
    if (hers_searcher_create(1, &sr1) != HERS_OK)
        return cli_fail_lib(CMD, "searcher");
    for (int i = -1; i < 3; i++) {
        hers_search_phases ph;
        double c0 = bench_thread_cpu_now();
        if (hers_search(sr1, p, ix, q1x, &co, &res) != HERS_OK)
            return cli_fail_lib(CMD, "compact search");
        double cpu_call = bench_thread_cpu_now() - c0;
        hers_searcher_phases(sr1, &ph);
        nblocks = hers_result_blocks(res);
        if (i >= 0) {
            cb[i] = ph.shrink_s;
            cbc[i] = ph.total_s > 0 ? cpu_call * ph.shrink_s / ph.total_s : 0;
        }
        hers_result_free(res);
        res = NULL;
    }
    hers_searcher_free(sr1);
    double compact_us_block = bench_median_of(cb, 3) * 1e6 / (double)nblocks;
    double compact_cpu_us_block = bench_median_of(cbc, 3) * 1e6 / (double)nblocks;
    double kernel_ns = batch16 * 1e9 / (16.0 * (double)n * (double)d);
    uint64_t kform = hers_index_bytes(ix);
    hers_store_close(db);
    /* the server */
    hers_server_config c;
    hers_server_config_default(&c);
    c.root = gdir;
    c.tokens_path = tok;
    c.threads = (unsigned)threads;
    c.max_connections = 128;
    c.max_per_ip = 128;
    c.max_body_search = 1u << 30;
    hers_server *srv = NULL;
    double rss0 = rss_mb();
    if (hers_server_start(&c, &srv) != HERS_OK)
        return cli_fail_lib(CMD, "server");
    double rss_server = rss_mb() - rss0;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", hers_server_port(srv));
    long index_bytes = describe(url, admin, "index_bytes");
    /* single-client latency against the in-process search, all alternating
     * in one loop (so that a shared machine's load hits every kind alike):
     * in process full forms, HTTP full forms as v2 and as v1 responses, in
     * process compact forms, HTTP compact forms; one client, its connection
     * kept open between calls (as hers_client does) */
    double *lat1 = calloc(reps, sizeof *lat1), *latc = calloc(reps, sizeof *latc);
    double *lin = calloc(reps, sizeof *lin), *linc = calloc(reps, sizeof *linc);
    double *linx = calloc(reps, sizeof *linx);
    size_t rsp2 = 0, rsp1 = 0, rspc = 0;
    uint8_t *ref2 = NULL, *refc = NULL;   /* the last answers, full v2 and compact */
    hers_client *cl = NULL;
    hers_client_create(url, admin, NULL, &cl);
    for (uint64_t i = 0; i < 5 * reps; i++) {
        int kind = (int)(i % 5);   /* 0: in process, 1: v2, 2: v1, 3: in process compact, 4: compact */
        uint64_t r5 = i / 5;
        double a = bench_now();
        if (kind == 0 || kind == 3) {
            if (kind == 3 && hers_query_expand_into(p, gk, q1c, (unsigned)threads, q1x) != HERS_OK)
                return cli_fail_lib(CMD, "expansion");
            if (kind == 3)
                linx[r5] = bench_now() - a;
            if (hers_search(sr, p, ix, kind == 3 ? q1x : q1, kind == 3 ? &so : NULL, &res) !=
                HERS_OK)
                return cli_fail_lib(CMD, "in-process search");
            (kind == 3 ? linc : lin)[r5] = bench_now() - a;
            hers_result_free(res);
            res = NULL;
            continue;
        }
        static const char *const paths[5] = {NULL, SEARCH_PATH, SEARCH_PATH_V1, NULL,
                                             SEARCH_PATH_COMPACT};
        double *lt[5] = {NULL, lat, lat1, NULL, latc};
        size_t *rs[5] = {NULL, &rsp2, &rsp1, NULL, &rspc};
        const uint8_t *r = NULL;
        size_t rl = 0;
        long code = 0;
        hers_client_call_buf(cl, "POST", paths[kind], kind == 4 ? bodyc : body,
                             kind == 4 ? blenc : blen, NULL, &r, &rl, &code);
        lt[kind][r5] = bench_now() - a;
        *rs[kind] = rl;
        if (code != 200)
            return cli_fail(CMD, "search answered %ld", code);
        if (r5 == reps - 1 && (kind == 1 || kind == 4)) {
            uint8_t **ref = kind == 1 ? &ref2 : &refc;
            if (!(*ref = malloc(rl ? rl : 1)))
                return cli_fail(CMD, "out of memory");
            memcpy(*ref, r, rl);
        }
    }
    /* the references: decrypted against the plaintext scores once; every
     * answer of the throughput runs must equal them byte for byte */
    uint8_t *cb_rec = NULL;
    size_t cb_len = 0;
    long cat_code = 0;
    hers_net_catalog *cat = NULL;
    if (hers_client_call(cl, "GET", "/v1/galleries/b/catalog", NULL, 0, NULL, &cb_rec, &cb_len,
                         &cat_code) != HERS_OK || cat_code != 200 ||
        hers_net_catalog_decode(cb_rec, cb_len, &cat) != HERS_OK)
        return cli_fail(CMD, "catalog (%ld)", cat_code);
    free(cb_rec);
    int exact_ref = answer_exact(p, sk, ref2, rsp2, cat, vals, probe, (size_t)n, (size_t)d);
    int exact_refc = answer_exact(p, sk, refc, rspc, cat, vals, probe, (size_t)n, (size_t)d);
    hers_net_catalog_free(cat);
    hers_client_free(cl);
    hers_index_free(ix);
    hers_searcher_free(sr);
    double inproc = bench_median_of(lin, reps), inproc_c = bench_median_of(linc, reps);
    double inproc_x = bench_median_of(linx, reps);
    free(lin);
    free(linc);
    free(linx);
    qsort(lat, reps, sizeof *lat, cmp_d);
    qsort(lat1, reps, sizeof *lat1, cmp_d);
    qsort(latc, reps, sizeof *latc, cmp_d);
    size_t i99 = (size_t)((double)(reps - 1) * 0.99);
    double p50 = lat[reps / 2], p99 = lat[i99];
    double p50v1 = lat1[reps / 2], p50c = latc[reps / 2], p99c = latc[i99];
    free(lat1);
    free(latc);
    /* throughput at 1, 8, 32 clients: full forms, then compact forms */
    int levels[3] = {1, 8, 32};
    double qps[3], qpsc[3];
    long passes[3], queries[3], passesc[3], queriesc[3];
    double cpu[3], cpuc[3];
    long wrong = 0, failed = 0;
    for (int li = 0; li < 3; li++)
        qps[li] = throughput(url, admin, SEARCH_PATH, body, blen, ref2, rsp2, levels[li],
                             (double)secs, &queries[li], &passes[li], &cpu[li], &wrong, &failed);
    /* HERS_BENCH_MARKS=1: each compact level's CLOCK_MONOTONIC span on stderr
     * (warm-up included), to cut a `perf record -k CLOCK_MONOTONIC` profile to
     * one level with `perf report --time` */
    int marks = getenv("HERS_BENCH_MARKS") != NULL;
    for (int li = 0; li < 3; li++) {
        double m0 = bench_now();
        qpsc[li] = throughput(url, admin, SEARCH_PATH_COMPACT, bodyc, blenc, refc, rspc,
                              levels[li], (double)secs, &queriesc[li], &passesc[li], &cpuc[li],
                              &wrong, &failed);
        if (marks)
            fprintf(stderr, "# mark compact-%d %.6f %.6f\n", levels[li], m0, bench_now());
    }
    free(ref2);
    free(refc);
    double rss_all = rss_mb();
    /* enrolment over HTTP: batches of 1024 (client encryption included) */
    double te = bench_now();
    size_t enrolled = 0;
    hers_client_create(url, admin, NULL, &cl);
    while (enrolled < ne) {
        size_t m = ne - enrolled < 1024 ? (size_t)(ne - enrolled) : 1024;
        long off = describe(url, admin, "next_offset");
        uint8_t *eb = NULL, *r = NULL;
        size_t el = 0, rl = 0;
        long code = 0;
        if (off < 0 ||
            bench_enroll_record(p, sk, (size_t)off, m, (size_t)d, 1000 + enrolled,
                                (unsigned)threads, packing, &eb, &el) != HERS_OK ||
            hers_client_call(cl, "POST", "/v1/galleries/b/templates", eb, el, NULL, &r, &rl,
                             &code) != HERS_OK || code != 201)
            return cli_fail(CMD, "enrolment over HTTP failed (%ld)", code);
        free(r);
        hers_free(eb);
        enrolled += m;
    }
    hers_client_free(cl);
    double enrol_rate = (double)enrolled / (bench_now() - te);
    hers_server_stop(srv);
    double nd = (double)n * (double)d;
    /* The ceiling of coalescing: a compact search costs S1 (the one-probe
     * scan) + P (everything outside the scan: expansion, relinearisation
     * and switching, the response, HTTP) alone, SB + P in a coalesced pass
     * (SB: the scan's share per probe of a 16-probe pass), all at the same
     * thread count; so 32/1 <= (S1 + P) / (SB + P). */
    double sb = batch16 / 16.0, outside = p50c - inproc, shrink = inproc_c - inproc_x - inproc;
    double ceiling = (inproc + outside) / (sb + outside);
    if (json) {
        printf("{\"n\": %llu, \"d\": %llu, \"threads\": %llu, \"simd\": \"%s\", \"reps\": %llu, "
               "\"inprocess_search_s\": %.6f, \"latency_p50_s\": %.6f, \"latency_p99_s\": %.6f, "
               "\"latency_ratio_p50\": %.3f, \"latency_v1_p50_s\": %.6f, "
               "\"latency_v1_ratio_p50\": %.3f, \"query_bytes\": %zu, \"response_bytes\": %zu, "
               "\"response_v1_bytes\": %zu, \"qps_1\": %.3f, \"qps_8\": %.3f, \"qps_32\": %.3f, "
               "\"qps_32_over_1\": %.3f, \"passes_32\": %ld, \"queries_32\": %ld, "
               "\"kernel_ns_per_probe_template_dim_batch16\": %.4f, \"kernel_form_bytes\": %llu, "
               "\"index_bytes\": %ld, \"server_rss_anon_mb_after_start\": %.1f, "
               "\"process_rss_anon_mb\": %.1f, \"rss_over_kernel_form\": %.3f, "
               "\"enroll_http_templates_per_s\": %.1f, \"enroll_local_templates_per_s\": %.1f, "
               "\"inprocess_search_compact_s\": %.6f, \"inprocess_expand_s\": %.6f, "
               "\"latency_compact_p50_s\": %.6f, \"latency_compact_p99_s\": %.6f, "
               "\"latency_compact_ratio_p50\": %.3f, \"query_compact_bytes\": %zu, "
               "\"response_compact_bytes\": %zu, \"qps_compact_1\": %.3f, "
               "\"qps_compact_8\": %.3f, \"qps_compact_32\": %.3f, "
               "\"qps_compact_32_over_1\": %.3f, \"passes_compact_32\": %ld, "
               "\"queries_compact_32\": %ld, \"scan_1_s\": %.6f, "
               "\"scan_batch16_per_probe_s\": %.6f, \"shrink_per_probe_s\": %.6f, "
               "\"compact_outside_scan_s\": %.6f, \"qps_compact_32_over_1_ceiling\": %.3f, "
               "\"cpu_s_per_search_1\": %.4f, \"cpu_s_per_search_32\": %.4f, "
               "\"cpu_s_per_search_compact_1\": %.4f, \"cpu_s_per_search_compact_32\": %.4f, "
               "\"cpu_compact_1_over_32\": %.3f, \"packing\": \"%s\", "
               "\"response_compact_bytes_per_template\": %.3f, "
               "\"compact_us_per_block\": %.2f, \"compact_cpu_us_per_block\": %.2f, "
               "\"exact_answer\": %s, "
               "\"exact_answer_compact\": %s, \"wrong_answers\": %ld, "
               "\"failed_requests\": %ld, \"cores_busy_compact_1\": %.3f, "
               "\"cores_busy_compact_32\": %.3f}\n",
               (unsigned long long)n, (unsigned long long)d, (unsigned long long)threads,
               hers_simd_name(hers_simd_active()), (unsigned long long)reps, inproc, p50, p99,
               p50 / inproc, p50v1, p50v1 / inproc, blen, rsp2, rsp1, qps[0], qps[1], qps[2], qps[2] / qps[0], passes[2], queries[2],
               kernel_ns, (unsigned long long)kform, index_bytes, rss_server, rss_all,
               rss_server * 1048576.0 / (double)kform, enrol_rate, (double)n / t_enrol_local,
               inproc_c, inproc_x, p50c, p99c, p50c / inproc_c, blenc, rspc, qpsc[0], qpsc[1],
               qpsc[2], qpsc[2] / qpsc[0], passesc[2], queriesc[2], inproc, sb, shrink, outside,
               ceiling, cpu[0], cpu[2], cpuc[0], cpuc[2], cpuc[2] > 0 ? cpuc[0] / cpuc[2] : 0,
               hers_packing_name(packing), (double)rspc / (double)n, compact_us_block,
               compact_cpu_us_block,
               exact_ref ? "true" : "false", exact_refc ? "true" : "false", wrong, failed,
               cpuc[0] * qpsc[0], cpuc[2] * qpsc[2]);
    } else {
        printf("gallery %llu x %llu (n4096), kernel form %.1f MiB, server index %.1f MiB\n",
               (unsigned long long)n, (unsigned long long)d, (double)kform / 1048576.0,
               (double)index_bytes / 1048576.0);
        printf("in-process search (1 probe): %.3f ms; over HTTP p50 %.3f ms, p99 %.3f ms "
               "(ratio %.2f); version-1 exchange p50 %.3f ms (ratio %.2f)\n", inproc * 1e3,
               p50 * 1e3, p99 * 1e3, p50 / inproc, p50v1 * 1e3, p50v1 / inproc);
        printf("query %zu bytes; response %zu bytes (version 1: %zu)\n", blen, rsp2, rsp1);
        printf("compact forms: in process %.3f ms (expansion %.3f ms); over HTTP p50 %.3f ms, "
               "p99 %.3f ms (ratio %.2f); query %zu bytes, response %zu bytes (%.3f per "
               "template, %s packing)\n",
               inproc_c * 1e3, inproc_x * 1e3, p50c * 1e3, p99c * 1e3, p50c / inproc_c, blenc,
               rspc, (double)rspc / (double)n, hers_packing_name(packing));
        for (int li = 0; li < 3; li++)
            printf("throughput %2d clients: full forms %.2f searches/s (%ld queries in %ld "
                   "passes), compact forms %.2f/s (%ld in %ld)\n", levels[li], qps[li],
                   queries[li], passes[li], qpsc[li], queriesc[li], passesc[li]);
        printf("32 / 1 clients: %.2fx full forms, %.2fx compact forms\n", qps[2] / qps[0],
               qpsc[2] / qpsc[0]);
        printf("CPU per search (server and clients): 1 client %.1f ms, 32 clients %.1f ms "
               "(full forms); %.1f ms, %.1f ms (compact forms): %.2f and %.2f cores busy\n",
               cpu[0] * 1e3, cpu[2] * 1e3, cpuc[0] * 1e3, cpuc[2] * 1e3, cpuc[0] * qpsc[0],
               cpuc[2] * qpsc[2]);
        printf("kernel, 16-probe batch in process: %.3f ns per probe x template x dimension "
               "(%s)\n", kernel_ns, hers_simd_name(hers_simd_active()));
        printf("per probe: one-probe scan S1 %.3f ms, in a 16-probe pass SB %.3f ms; outside the "
               "scan P %.3f ms (relinearisation and switching %.3f ms): 32/1 <= (S1+P)/(SB+P) = "
               "%.2f\n", inproc * 1e3, sb * 1e3, outside * 1e3, shrink * 1e3, ceiling);
        printf("compaction per block of %u templates (relinearise, switch, round, pack), one "
               "thread: %.2f us wall, %.2f us CPU\n", (unsigned)hers_params_n(p),
               compact_us_block, compact_cpu_us_block);
        printf("answers: reference %s (full), %s (compact) against the plaintext scores; "
               "throughput runs: %ld answers differing from it, %ld failed requests (neither "
               "counted)\n", exact_ref ? "exact" : "NOT EXACT", exact_refc ? "exact" : "NOT EXACT",
               wrong, failed);
        printf("RssAnon: +%.1f MiB at server start (index %.1f MiB: %.3fx), %.1f MiB process total\n",
               rss_server, (double)kform / 1048576.0, rss_server * 1048576.0 / (double)kform,
               rss_all);
        printf("enrolment over HTTP: %.0f templates/s (local enrolment %.0f/s)\n", enrol_rate,
               (double)n / t_enrol_local);
        (void)nd;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    hers_free(body);
    hers_free(bodyc);
    hers_query_free(q1c);
    hers_query_free(q1x);
    hers_relin_key_free(rk);
    hers_galois_key_free(gk);
    hers_query_free(q1);
    hers_query_free(q16);
    free(lat);
    hers_free(vals);
    hers_free(probe);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return 0;
}
