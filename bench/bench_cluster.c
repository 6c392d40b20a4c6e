/*
 * bench_cluster.c - `mpirun -np K hers bench cluster [--n N] [--d D]
 * [--probes P] [--reps R] [--threads T] [--root DIR] [--json]`: the cluster's
 * search path as `mpirun -np K hers serve` runs it (hers_cluster.h), on a
 * synthetic gallery of N templates enrolled through rank 0 (whole blocks to
 * the emptiest shard, as over HTTP) under DIR (default /tmp, one directory
 * per job, removed at the end). Then R searches of one P-probe query, and
 * per search:
 *   - per rank: the scan (its shard's search: wall, ns per template x
 *     dimension of its shard, the process's CPU time: on an oversubscribed
 *     machine the wall time counts other ranks' turns, the CPU time not);
 *   - the broadcast (time on rank 0, bytes) and the gather (bytes per rank;
 *     time = rank 0's wait after its own scan minus the slowest rank's extra
 *     scan time, an estimate: the ranks' clocks are not compared);
 *   - the end-to-end latency on rank 0: broadcast, scans, gather and the
 *     join of the shards' responses.
 * Medians over the R searches. The scaling model (docs/scaling.md) turns
 * these into N-node projections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_cluster.h"
#include "hers/hers_mem.h"
#include "hers/hers_net.h"
#include "hers/hers_search.h"

#define CMD "bench cluster"

typedef struct ctx {
    uint64_t n, d, probes, reps;
    unsigned threads;
    int json;
    const char *root;
    int rc;
} ctx;

static double med(double *v, size_t n) { return bench_median_of(v, n); }

static hers_status run(hers_cluster *cl, const hers_server_backend *be, ctx *x)
{
    unsigned K = hers_cluster_size(cl);
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_status st = hers_params_create_named(&p, "n4096");
    if (st == HERS_OK)
        st = hers_keygen_secret(p, &sk);
    if (st == HERS_OK)
        st = hers_keygen_public(p, sk, &pk);
    if (st != HERS_OK)
        return st;
    size_t N = hers_params_n(p), d = (size_t)x->d;
    hers_net_init in;
    memset(&in, 0, sizeof in);
    in.p = p;
    in.pk = pk;
    void *g = NULL;
    double t0 = bench_now();
    st = be->create(be->user, x->root, "bench", &in);
    if (st == HERS_OK)
        st = be->open(be->user, x->root, "bench", x->threads, &g);
    /* enrolment through rank 0, one block per request (placed on the emptiest shard) */
    for (uint64_t done = 0; st == HERS_OK && done < x->n;) {
        hers_store_info info;
        hers_service_stats ss;
        if ((st = be->info(g, &info, &ss)) != HERS_OK)
            break;
        size_t off = (size_t)(info.next_slot % N), m = N - off;
        if (m > x->n - done)
            m = (size_t)(x->n - done);
        uint8_t *rec = NULL;
        size_t rl = 0, cnt = 0;
        uint64_t first = 0;
        st = bench_enroll_record(p, sk, off, m, d, 1000 + done, x->threads, HERS_PACK_SLOT, &rec,
                                 &rl);
        if (st == HERS_OK)
            st = be->enroll(g, rec, rl, &first, &cnt);
        hers_free(rec);
        done += m;
    }
    double t_enrol = bench_now() - t0;
    int32_t *probe = bench_rows((size_t)x->probes, d, 99);
    hers_query *q = NULL;
    uint8_t *qb = NULL;
    size_t ql = 0;
    if (st == HERS_OK && !probe)
        st = hers_error(HERS_ERR_NOMEM, "out of memory");
    if (st == HERS_OK)
        st = hers_query_encrypt(p, sk, NULL, probe, (size_t)x->probes, d, 125, NULL, &q);
    if (st == HERS_OK)
        st = hers_query_serialize(p, q, &qb, &ql);
    size_t R = (size_t)x->reps;
    double *lat = calloc(R, sizeof *lat), *bc = calloc(R, sizeof *bc), *gw = calloc(R, sizeof *gw);
    double *ex = calloc(R * K, sizeof *ex), *cpu = calloc(R * K, sizeof *cpu);
    uint64_t bc_bytes = 0, *rb = calloc(K, sizeof *rb), resp_bytes = 0;
    hers_store_info *per = calloc(K, sizeof *per);
    size_t nper = 0;
    if (st == HERS_OK && (!lat || !bc || !gw || !ex || !cpu || !rb || !per))
        st = hers_error(HERS_ERR_NOMEM, "out of memory");
    if (st == HERS_OK && be->shards)
        st = be->shards(g, per, K, &nper);
    for (size_t i = 0; st == HERS_OK && i <= R; i++) {   /* search 0: warm-up */
        uint8_t *resp = NULL;
        size_t rl = 0;
        double a = bench_now();
        /* as the CLI asks (version 2 without the catalog) when the backend
         * answers version 2: the join then hashes 32 bytes per part */
        if (be->search_ex) {
            hers_service_search_opts so = {HERS_RESULT_FULL, 0, 0};
            uint64_t cv = 0;
            st = be->search_ex(g, qb, ql, &so, &resp, &rl, &cv);
        } else {
            st = be->search(g, qb, ql, HERS_RESULT_FULL, 0, &resp, &rl);
        }
        double e2e = bench_now() - a;
        if (be->search_ex)
            hers_net_free(resp);
        else
            hers_free(resp);
        if (st != HERS_OK || i == 0)
            continue;
        hers_cluster_op_stats os;
        hers_cluster_last_op(cl, &os);
        size_t k = i - 1;
        double slow = 0;
        for (unsigned r = 0; r < K; r++) {
            ex[r * R + k] = os.exec_s[r];
            cpu[r * R + k] = os.cpu_s[r];
            if (os.exec_s[r] - os.exec_s[0] > slow)
                slow = os.exec_s[r] - os.exec_s[0];
            rb[r] = os.reply_bytes[r];
        }
        lat[k] = e2e;
        bc[k] = os.bcast_s;
        gw[k] = os.wait_s > slow ? os.wait_s - slow : 0;
        bc_bytes = os.bcast_bytes;
        resp_bytes = rl;
    }
    if (st == HERS_OK) {
        double td = (double)x->probes * (double)d;
        if (x->json) {
            printf("{\"bench\": \"cluster\", \"ranks\": %u, \"n\": %llu, \"d\": %zu, \"probes\": %llu, "
                   "\"reps\": %zu, \"threads\": %u, \"enrol_s\": %.3f, \"per_rank\": [",
                   K, (unsigned long long)x->n, d, (unsigned long long)x->probes, R, x->threads,
                   t_enrol);
            for (unsigned r = 0; r < K; r++) {
                double w = med(ex + r * R, R), c = med(cpu + r * R, R);
                double nr = r < nper ? (double)per[r].live : 0;
                printf("%s{\"rank\": %u, \"templates\": %.0f, \"scan_s\": %.6f, "
                       "\"scan_ns_per_template_dim\": %.3f, \"cpu_s\": %.6f, "
                       "\"cpu_ns_per_template_dim\": %.3f, \"gather_bytes\": %llu}",
                       r ? ", " : "", r, nr, w, nr ? w * 1e9 / (nr * td) : 0, c,
                       nr ? c * 1e9 / (nr * td) : 0, (unsigned long long)rb[r]);
            }
            uint64_t gsum = 0;
            for (unsigned r = 1; r < K; r++)
                gsum += rb[r];
            printf("], \"broadcast_s\": %.6f, \"broadcast_bytes\": %llu, \"gather_s\": %.6f, "
                   "\"gather_bytes\": %llu, \"response_bytes\": %llu, \"response_version\": %d, "
                   "\"latency_s\": %.6f}\n",
                   med(bc, R), (unsigned long long)bc_bytes, med(gw, R), (unsigned long long)gsum,
                   (unsigned long long)resp_bytes, be->search_ex ? 2 : 1, med(lat, R));
        } else {
            printf("cluster of %u ranks, %llu templates x d = %zu, %llu probe(s), median of %zu "
                   "searches (enrolment %.2f s)\n", K, (unsigned long long)x->n, d,
                   (unsigned long long)x->probes, R, t_enrol);
            for (unsigned r = 0; r < K; r++) {
                double w = med(ex + r * R, R), c = med(cpu + r * R, R);
                double nr = r < nper ? (double)per[r].live : 0;
                printf("  rank %-3u %8.0f templates: scan %8.3f ms (%.2f ns/template x dim), "
                       "cpu %8.3f ms (%.2f ns), reply %llu bytes\n", r, nr, w * 1e3,
                       nr ? w * 1e9 / (nr * td) : 0, c * 1e3, nr ? c * 1e9 / (nr * td) : 0,
                       (unsigned long long)rb[r]);
            }
            printf("  broadcast %.3f ms (%llu bytes), gather %.3f ms, end to end %.3f ms "
                   "(response %llu bytes)\n", med(bc, R) * 1e3, (unsigned long long)bc_bytes,
                   med(gw, R) * 1e3, med(lat, R) * 1e3, (unsigned long long)resp_bytes);
        }
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hers_last_error());
    if (g)
        be->close(be->user, x->root, "bench", g, 1);   /* drop: removes every shard */
    free(lat);
    free(bc);
    free(gw);
    free(ex);
    free(cpu);
    free(rb);
    free(per);
    hers_free(qb);
    hers_query_free(q);
    hers_free(probe);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return st == HERS_OK ? st : hers_error(st, "%s", msg);
}

static hers_status body(hers_cluster *cl, const hers_server_backend *be, void *user)
{
    return run(cl, be, user);
}

int hers_bench_cluster(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--d", "--probes", "--reps", "--threads",
                                             "--root", NULL};
    static const char *const flags[] = {"--json", NULL};
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: mpirun -np K hers bench cluster [--n N] [--d D] [--probes P] [--reps R]\n"
               "                                       [--threads T] [--root DIR] [--json]\n"
               "  The cluster's search path: per rank scan time, ns per template x dim and CPU\n"
               "  time; broadcast and gather time and bytes; end-to-end latency (medians).\n"
               "  Defaults: N = 2^16, d = 32, P = 1, R = 10, T = 1, DIR = /tmp.\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    ctx x;
    memset(&x, 0, sizeof x);
    uint64_t th;
    if (cli_opt_u64(CMD, argc, argv, "--n", (uint64_t)1 << 16, 1, (uint64_t)1 << 30, &x.n) ||
        cli_opt_u64(CMD, argc, argv, "--d", 32, 1, HERS_SEARCH_MAX_D, &x.d) ||
        cli_opt_u64(CMD, argc, argv, "--probes", 1, 1, 64, &x.probes) ||
        cli_opt_u64(CMD, argc, argv, "--reps", 10, 1, 10000, &x.reps) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 1, 0, 256, &th))
        return 2;
    x.threads = (unsigned)th;
    x.json = cli_flag(argc, argv, "--json");
    if (!hers_cluster_built())
        return cli_fail(CMD, "this hers was built without Open MPI");
    if (!hers_cluster_launched())
        return cli_fail(CMD, "run it under mpirun -np K (K ranks, one shard each)");
    /* one directory per job, the same path on every rank (the job id) */
    const char *job = getenv("PMIX_NAMESPACE");
    const char *base = cli_opt(argc, argv, "--root");
    char root[4096];
    snprintf(root, sizeof root, "%s/hers_bench_cluster.%s", base ? base : "/tmp",
             job ? job : "0");
    x.root = root;
    hers_cluster *cl = NULL;
    if (hers_cluster_init(NULL, NULL, &cl) != HERS_OK)
        return cli_fail(CMD, "%s", hers_last_error());
    if (mkdir(root, 0700) != 0 && access(root, W_OK) != 0) {
        hers_cluster_finalize(cl);
        return cli_fail(CMD, "%s: cannot create it", root);
    }
    if (hers_cluster_rank(cl) == 0)
        bench_print_env(stdout, "cluster", (int)x.threads);
    hers_status st = hers_cluster_run(cl, root, x.threads, body, &x);
    int rc = 0;
    if (st != HERS_OK)
        rc = cli_fail(CMD, "rank %u: %s", hers_cluster_rank(cl), hers_last_error());
    hers_cluster_finalize(cl);
    rmdir(root);   /* empty once the gallery was dropped (every rank tries) */
    return rc;
}
