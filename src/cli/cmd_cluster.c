/* cmd_cluster.c - the cluster commands (hers_cluster.h, docs/deploy.md
 * "Cluster"): `mpirun -np K hers serve --root DIR ...` (rank 0 answers HTTP
 * like the single-node server; every rank serves its shards) and
 * `mpirun -np K hers search --root DIR --gallery NAME --query Q --out R`
 * (batch: one search of a query file against the sharded gallery). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "hers/hers_cluster.h"
#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"

typedef struct serve_ctx {
    hers_server_config *cfg;
    const char *port_file;
    hers_server *s;
    hers_cluster *cl;
} serve_ctx;

/* Signals of rank 0, through a pipe (Open MPI's own threads do not block
 * signals, so a handler on any thread forwards them to this thread):
 * SIGHUP or SIGUSR1 reload the tokens; SIGTERM, SIGINT or SIGUSR2 stop
 * accepting, drain the requests in flight (every write committed), then
 * stop every rank. Open MPI 4's mpirun treats SIGTERM / SIGINT / SIGHUP as
 * an abort (it signals every rank, SIGKILLs them a second later and exits
 * 1), but forwards SIGUSR1 and SIGUSR2 to every rank and keeps running: so
 * `kill -USR2 <mpirun>` is the clean stop (exit 0), as is SIGTERM to rank 0
 * itself (docs/deploy.md "Supervisor"). The other ranks ignore all five. */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(sig_pipe[1], &b, 1);
    (void)w;
}

static void *signal_thread(void *arg)
{
    serve_ctx *x = arg;
    for (;;) {
        unsigned char b = 0;
        ssize_t n = read(sig_pipe[0], &b, 1);
        if (n != 1)
            continue;
        if (b == SIGHUP || b == SIGUSR1) {
            if (hers_server_reload_tokens(x->s) == HERS_OK)
                fprintf(stderr, "hers serve: tokens reloaded from %s\n", x->cfg->tokens_path);
            else
                fprintf(stderr, "hers serve: %s (the previous tokens stay)\n", hers_last_error());
            continue;
        }
        fprintf(stderr, "hers serve: %s: draining and stopping the cluster\n",
                b == SIGTERM ? "SIGTERM" : b == SIGUSR2 ? "SIGUSR2" : "SIGINT");
        break;
    }
    hers_server_stop(x->s);   /* its galleries close through the dispatcher */
    hers_cluster_dispatch_stop(x->cl);
    return NULL;
}

static hers_status serve_body(hers_cluster *cl, const hers_server_backend *be, void *user)
{
    serve_ctx *x = user;
    x->cl = cl;
    x->cfg->backend = be;
    hers_status st = hers_server_start(x->cfg, &x->s);
    if (st != HERS_OK)
        return st;
    unsigned port = hers_server_port(x->s);
    if (x->port_file && (st = cli_write_port_file(x->port_file, port)) != HERS_OK) {
        hers_server_stop(x->s);
        return st;
    }
    fprintf(stderr, "hers serve: listening on %s://%s:%u (root %s), cluster of %u ranks, "
                    "pid %ld\n", x->cfg->tls_cert ? "https" : "http", x->cfg->host, port,
            x->cfg->root, hers_cluster_size(cl), (long)getpid());
    pthread_t th;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (pipe(sig_pipe) != 0 || sigaction(SIGHUP, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
        sigaction(SIGINT, &sa, NULL) || sigaction(SIGUSR1, &sa, NULL) ||
        sigaction(SIGUSR2, &sa, NULL) || pthread_sigmask(SIG_UNBLOCK, &set, NULL) ||
        pthread_create(&th, NULL, signal_thread, x) != 0) {
        hers_server_stop(x->s);
        return hers_error(HERS_ERR_NOMEM, "serve: cannot start the signal thread");
    }
    hers_cluster_dispatch(cl);   /* every MPI call of the job's life on this thread */
    pthread_join(th, NULL);
    uint64_t searches = 0, ops = 0;
    hers_cluster_search_counts(cl, &searches, &ops);
    fprintf(stderr, "hers serve: stopped (%llu searches in %llu broadcasts)\n",
            (unsigned long long)searches, (unsigned long long)ops);
    return HERS_OK;
}

int cli_serve_cluster(hers_server_config *c, const char *port_file)
{
    hers_cluster *cl = NULL;
    if (hers_cluster_init(NULL, NULL, &cl) != HERS_OK)
        return cli_fail("serve", "%s", hers_last_error());
    signal(SIGUSR1, SIG_IGN);   /* rank 0 handles them once it serves */
    signal(SIGUSR2, SIG_IGN);
    if (hers_cluster_rank(cl) != 0) {   /* they stop when rank 0 says so, after its drain */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
    }
    serve_ctx x = {c, port_file, NULL, NULL};
    hers_status st = hers_cluster_run(cl, c->root, c->threads, serve_body, &x);
    int rc = 0;
    if (st != HERS_OK)
        rc = cli_fail("serve", "rank %u: %s", hers_cluster_rank(cl), hers_last_error());
    hers_cluster_finalize(cl);
    return rc;
}

typedef struct search_ctx {
    const char *root, *gallery, *query, *out;
    hers_result_shrink shrink;
    int compact;
    int automatic;   /* no --result: compact_by_default() decides */
} search_ctx;

/* The result form when --result is not given, the remote client's rule
 * (cli_remote.c): the compact record (version 2 slot, 3 coefficient
 * packing: 6-7 B per template at n4096) when the gallery has a
 * relinearisation key and, for the query's form, the search's predicted
 * heuristic noise margin is >= 4 bits (the record is exact from 2), or it
 * is a plain gallery; else the full record (version 1). Decided on rank 0
 * from its shard (every shard holds the same keys, mode and d). */
static int compact_by_default(hers_store *db, const uint8_t *q, size_t ql)
{
    const hers_params *p = hers_store_params(db);
    hers_store_info in;
    hers_query *hq = NULL;
    double wb = 0, hb = 0;
    int yes = p && hers_store_relin_key(db) && hers_store_get_info(db, &in) == HERS_OK &&
              in.has_gallery && hers_query_deserialize(p, q, ql, &hq) == HERS_OK &&
              (in.mode == HERS_MODE_PLAIN_GALLERY ||
               (hers_search_noise_bound_form(p, in.mode, hers_query_d(hq), 1,
                                             hers_query_get_form(hq), &wb, &hb) == HERS_OK &&
                hb >= 4.0));
    hers_query_free(hq);
    return yes;
}

static hers_status search_body(hers_cluster *cl, const hers_server_backend *be, void *user)
{
    search_ctx *x = user;
    uint8_t *q = NULL, *resp = NULL;
    size_t ql = 0, rl = 0;
    void *g = NULL;
    double t0 = cli_now();
    if (cli_read_all("search", x->query, &q, &ql))
        return hers_error(HERS_ERR_IO, "%s: cannot read the query", x->query);
    hers_status st = be->open(be->user, x->root, x->gallery, 0, &g);
    double t1 = cli_now();
    if (st == HERS_OK && x->automatic && compact_by_default(be->db(g), q, ql))
        x->compact = 1;
    if (st == HERS_OK)
        st = be->search(g, q, ql, x->shrink, x->compact, &resp, &rl);
    if (st == HERS_OK && cli_write_all("search", x->out, resp, rl))
        st = hers_error(HERS_ERR_IO, "%s: write failed", x->out);
    if (st == HERS_OK)
        fprintf(stderr, "hers search: %s answered from %s/%s (%u shards) into %s (%zu bytes): "
                        "open %.3f s, search %.3f s\n", x->query, x->root, x->gallery,
                hers_cluster_size(cl), x->out, rl, t1 - t0, cli_now() - t1);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hers_last_error());
    if (g)
        be->close(be->user, x->root, x->gallery, g, 0);
    hers_free(resp);
    free(q);
    return st == HERS_OK ? st : hers_error(st, "%s", msg);
}

int cli_cluster_search(int argc, char **argv)
{
    static const char *const with_value[] = {"--root", "--gallery", "--query", "--out",
                                             "--threads", "--result", NULL};
    static const char *const flags[] = {NULL};
    const char *cmd = "search";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    search_ctx x = {cli_opt(argc, argv, "--root"), cli_opt(argc, argv, "--gallery"),
                    cli_opt(argc, argv, "--query"), cli_opt(argc, argv, "--out"),
                    HERS_RESULT_FULL, 0, 0};
    const char *form = cli_opt(argc, argv, "--result");
    x.automatic = !form;
    if (!x.root || !x.gallery || !x.query || !x.out)
        return cli_usage(cmd, "--root, --gallery, --query and --out are required (under mpirun)");
    if (form && !strcmp(form, "switched"))
        x.shrink = HERS_RESULT_SWITCHED;
    else if (form && !strcmp(form, "relinearized"))
        x.shrink = HERS_RESULT_RELINEARIZED;
    else if (form && !strcmp(form, "compact"))
        x.compact = 1;
    else if (form && strcmp(form, "full"))
        return cli_usage(cmd, "--result must be full, switched, relinearized or compact, got '%s'",
                         form);
    uint64_t threads;
    if (cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 256, &threads))
        return 2;
    if (!hers_cluster_launched())
        return cli_fail(cmd, "--root searches a sharded gallery: run it under mpirun -np K "
                             "(K = the gallery's shards)");
    hers_cluster *cl = NULL;
    if (hers_cluster_init(NULL, NULL, &cl) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    hers_status st = hers_cluster_run(cl, x.root, (unsigned)threads, search_body, &x);
    int rc = 0;
    if (st != HERS_OK)
        rc = cli_fail(cmd, "rank %u: %s", hers_cluster_rank(cl), hers_last_error());
    hers_cluster_finalize(cl);
    return rc;
}

typedef struct info_ctx {
    int json;
    unsigned n;
    uint64_t live, slots, payload, file;
} info_ctx;

static void info_shard(void *user, unsigned shard, const char *dir, const hers_store_info *in)
{
    info_ctx *x = user;
    if (x->json) {
        printf("%s{\"shard\": %u, \"dir\": \"%s\", \"live\": %llu, \"slots\": %llu, "
               "\"blocks\": %llu, \"segments\": %llu, \"payload_bytes\": %llu, "
               "\"file_bytes\": %llu}", x->n ? ", " : "", shard, dir,
               (unsigned long long)in->live, (unsigned long long)in->next_slot,
               (unsigned long long)in->blocks, (unsigned long long)in->segments,
               (unsigned long long)in->payload_bytes, (unsigned long long)in->file_bytes);
    } else {
        printf("shard %-4u %s: %llu live, %llu slots in %llu blocks, %llu bytes of segments, "
               "data.mdb %llu bytes\n", shard, dir, (unsigned long long)in->live,
               (unsigned long long)in->next_slot, (unsigned long long)in->blocks,
               (unsigned long long)in->payload_bytes, (unsigned long long)in->file_bytes);
    }
    x->n++;
    x->live += in->live;
    x->slots += in->next_slot;
    x->payload += in->payload_bytes;
    x->file += in->file_bytes;
}

int cli_cluster_info(int argc, char **argv)
{
    static const char *const with_value[] = {"--root", "--gallery", NULL};
    static const char *const flags[] = {"--json", NULL};
    const char *cmd = "info";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    const char *root = cli_opt(argc, argv, "--root"), *name = cli_opt(argc, argv, "--gallery");
    if (!root || !name)
        return cli_usage(cmd, "--root DIR and --gallery NAME are required (a cluster gallery)");
    info_ctx x = {cli_flag(argc, argv, "--json"), 0, 0, 0, 0, 0};
    unsigned k = 0;
    if (x.json)
        printf("{\"gallery\": \"%s\", \"root\": \"%s\", \"per_shard\": [", name, root);
    hers_status st = hers_cluster_gallery_info(root, name, &k, info_shard, &x);
    if (st != HERS_OK) {
        if (x.json)
            printf("]}\n");
        fflush(stdout);
        return cli_fail(cmd, "%s", hers_last_error());
    }
    if (x.json)
        printf("], \"shards\": %u, \"live\": %llu, \"slots\": %llu, \"payload_bytes\": %llu, "
               "\"file_bytes\": %llu}\n", k, (unsigned long long)x.live,
               (unsigned long long)x.slots, (unsigned long long)x.payload,
               (unsigned long long)x.file);
    else
        printf("cluster gallery %s under %s: %u shards, %llu live templates, %llu bytes of "
               "segments, %llu bytes of data.mdb files\n", name, root, k,
               (unsigned long long)x.live, (unsigned long long)x.payload,
               (unsigned long long)x.file);
    return 0;
}
