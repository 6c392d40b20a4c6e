/*
 * cluster_mpi.c - the cluster on Open MPI (hers_cluster.h): the dispatcher,
 * the operations every rank runs on its shard, and rank 0's backend for the
 * server and the batch search.
 *
 * One operation = one collective exchange, in this order on every rank:
 * the header (MPI_Bcast), the broadcast payload (the query, the public
 * material), the per-rank payloads (point-to-point from rank 0: each shard's
 * enrolment blocks, its ids to delete), the local work, then every rank's
 * reply header (MPI_Gather) and payload (point-to-point to rank 0, in rank
 * order). Only the dispatcher thread calls MPI (MPI_THREAD_FUNNELED); rank
 * 0's HTTP threads queue their operations and wait for the replies. One
 * operation is in flight at a time; the merging of replies (joining search
 * responses) runs in the requesting thread, beside the next operation.
 */
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster_internal.h"
#include "hers/hers_mem.h"

enum { OP_STOP = 1, OP_CREATE, OP_OPEN, OP_CLOSE, OP_SEARCH, OP_ENROLL, OP_DELETE, OP_INFO,
       OP_COMPACT, OP_SEARCH_MANY, OP_CATALOG };

/* OP_SEARCH flags: bits 0-7 the result shrink, then: */
#define SF_COMPACT (1u << 8)   /* compact result records */
#define SF_V2 (1u << 9)        /* HERSRSP version 2 (hers_service_search_ex) */
#define SF_WITH_CAT (1u << 10) /* version 2 with the catalog inside */

#define TAG_SCATTER 11
#define TAG_GATHER 12
#define CHUNK ((size_t)1 << 30)

typedef struct op_hdr {
    uint32_t kind, flags, scatter, pad;
    uint64_t bc_len;
    char name[88];
} op_hdr;

/* What every rank says about its shard after an operation. */
typedef struct shard_state {
    hers_store_info info;
    hers_service_stats ss;
    uint64_t first_slot, count;   /* enrolment */
    hers_store_compact_stats cs;     /* compaction */
} shard_state;

typedef struct reply {
    int32_t st;
    char msg[256];
    uint8_t *data;
    size_t len;
    int pooled;            /* data from the service's pool: hers_net_free */
} reply;

typedef struct call {
    op_hdr h;
    const uint8_t *bc;
    uint8_t **sc;          /* rank 0: per-rank payloads (NULL: none) */
    size_t *sc_len;
    reply *rep;            /* rank 0: size replies */
    int done;
    struct call *next;
} call;

typedef struct shard {
    char name[88];
    hers_service *svc;
    struct shard *next;
} shard;

struct hers_cluster {
    int rank, size;
    pthread_t main;
    char *root;
    unsigned threads;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    call *head, *tail;
    int stop;
    shard *shards;         /* this rank's open shards */
    hers_server_backend be;
    uint64_t searches, search_ops;   /* rank 0: searches and the operations that ran them */
    /* rank 0: the last operation's costs (hers_cluster_last_op) */
    double op_bcast_s, op_wait_s, op_total_s;
    uint64_t op_bcast_bytes;
    double *op_exec_s, *op_cpu_s;    /* per rank */
    uint64_t *op_reply_bytes;
};

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int hers_cluster_built(void) { return 1; }

int hers_cluster_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

hers_status hers_cluster_init(int *argc, char ***argv, hers_cluster **out)
{
    *out = NULL;
    int prov = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS)
        return hers_error(HERS_ERR_IO, "cluster: MPI_Init_thread failed");
    if (prov < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return hers_error(HERS_ERR_UNSUPPORTED, "cluster: MPI lacks MPI_THREAD_FUNNELED");
    }
    hers_cluster *c = calloc(1, sizeof *c);
    if (!c) {
        MPI_Finalize();
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->op_exec_s = calloc((size_t)c->size, sizeof *c->op_exec_s);
    c->op_cpu_s = calloc((size_t)c->size, sizeof *c->op_cpu_s);
    c->op_reply_bytes = calloc((size_t)c->size, sizeof *c->op_reply_bytes);
    if (!c->op_exec_s || !c->op_cpu_s || !c->op_reply_bytes) {
        free(c->op_exec_s);
        free(c->op_cpu_s);
        free(c->op_reply_bytes);
        free(c);
        MPI_Finalize();
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    c->main = pthread_self();
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return HERS_OK;
}

unsigned hers_cluster_rank(const hers_cluster *c) { return (unsigned)c->rank; }
unsigned hers_cluster_size(const hers_cluster *c) { return (unsigned)c->size; }

void hers_cluster_finalize(hers_cluster *c)
{
    if (!c)
        return;
    MPI_Finalize();
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->lock);
    free(c->op_exec_s);
    free(c->op_cpu_s);
    free(c->op_reply_bytes);
    free(c->root);
    free(c);
}

void hers_cluster_abort(hers_cluster *c, int code)
{
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code);
}

/* ------------------------------------------------------------ transport */

static void bcast_big(uint8_t *p, size_t n)
{
    for (size_t o = 0; o < n; o += CHUNK)
        MPI_Bcast(p + o, (int)(n - o < CHUNK ? n - o : CHUNK), MPI_BYTE, 0, MPI_COMM_WORLD);
}

static void send_big(const uint8_t *p, size_t n, int to, int tag)
{
    for (size_t o = 0; o < n; o += CHUNK)
        MPI_Send(p + o, (int)(n - o < CHUNK ? n - o : CHUNK), MPI_BYTE, to, tag, MPI_COMM_WORLD);
}

static void recv_big(uint8_t *p, size_t n, int from, int tag)
{
    for (size_t o = 0; o < n; o += CHUNK)
        MPI_Recv(p + o, (int)(n - o < CHUNK ? n - o : CHUNK), MPI_BYTE, from, tag,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

static shard *shard_find(hers_cluster *c, const char *name)
{
    shard *s = c->shards;
    while (s && strcmp(s->name, name))
        s = s->next;
    return s;
}

/* ------------------------------------------------------------ shard work */

static hers_status state_of(hers_service *svc, shard_state *ss)
{
    return hers_service_info(svc, &ss->info, &ss->ss);
}

static hers_status reply_state(const shard_state *ss, reply *rp)
{
    if (!(rp->data = hers_alloc(sizeof *ss)))
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    memcpy(rp->data, ss, sizeof *ss);
    rp->len = sizeof *ss;
    return HERS_OK;
}

static hers_status do_create(hers_cluster *c, const op_hdr *h, const uint8_t *bc)
{
    if (h->bc_len < sizeof(cl_desc))
        return hers_error(HERS_ERR_FORMAT, "cluster: short create message");
    cl_desc d;
    memcpy(&d, bc, sizeof d);
    hers_net_init in;
    hers_status st = hers_net_init_decode(bc + sizeof d, h->bc_len - sizeof d, &in);
    if (st != HERS_OK)
        return st;
    char *gdir = cl_path(c->root, h->name, NULL), *dir = cl_shard_dir(c->root, h->name,
                                                                       (unsigned)c->rank);
    if (!gdir || !dir)
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    else if (mkdir(gdir, 0700) != 0 && errno != EEXIST)
        st = hers_error(HERS_ERR_IO, "%s: %s", gdir, strerror(errno));
    if (st == HERS_OK)
        st = hers_store_create(dir, in.p, in.pk, in.rk, in.model_id_len ? in.model_id : NULL,
                            in.model_id_len);
    if (st == HERS_OK && (in.gk || in.packing != HERS_PACK_SLOT)) {
        hers_store *db = NULL;
        if ((st = hers_store_open(dir, 0, &db)) == HERS_OK)
            st = hers_store_set_packing(db, in.packing);
        if (st == HERS_OK && in.gk)
            st = hers_store_put_galois_key(db, in.gk);
        hers_store_close(db);
    }
    if (st == HERS_OK)
        st = cl_tag_write(c->root, h->name, (unsigned)c->rank, &d);
    hers_net_init_free(&in);
    free(gdir);
    free(dir);
    return st;
}

/* Opens this rank's shard; replies its state, then its live ids (NUL-separated). */
static hers_status do_open(hers_cluster *c, const op_hdr *h, const uint8_t *bc, reply *rp)
{
    if (h->bc_len != sizeof(cl_desc))
        return hers_error(HERS_ERR_FORMAT, "cluster: bad open message");
    if (shard_find(c, h->name))
        return hers_error(HERS_ERR_STATE, "cluster: gallery %s is open already", h->name);
    cl_desc d;
    memcpy(&d, bc, sizeof d);
    hers_status st = cl_tag_check(c->root, h->name, (unsigned)c->rank, &d);
    if (st != HERS_OK)
        return st;
    char *dir = cl_shard_dir(c->root, h->name, (unsigned)c->rank);
    shard *s = calloc(1, sizeof *s);
    if (!dir || !s)
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    if (st == HERS_OK && (st = hers_service_open(dir, c->threads, &s->svc)) != HERS_OK)
        st = hers_error(st, "shard %d (%s): %s", c->rank, dir, hers_last_error());
    if (st == HERS_OK &&
        memcmp(hers_params_id(hers_store_params(hers_service_db(s->svc))), d.params_id, 32))
        st = hers_error(HERS_ERR_MISMATCH, "gallery %s: shard %d (%s) has another parameter set",
                        h->name, c->rank, dir);
    shard_state ss;
    memset(&ss, 0, sizeof ss);
    if (st == HERS_OK)
        st = state_of(s->svc, &ss);
    /* the live ids: the durable id -> shard map is the union of the catalogs */
    size_t bytes = sizeof ss;
    hers_store_snapshot *snap = NULL;
    uint8_t *live = NULL;
    uint64_t n = ss.info.next_slot;
    if (st == HERS_OK && (st = hers_store_snapshot_open(hers_service_db(s->svc), &snap)) == HERS_OK) {
        n = hers_store_snapshot_slots(snap);
        live = malloc(n ? (size_t)n : 1);
        st = !live ? hers_error(HERS_ERR_NOMEM, "cluster: out of memory")
             : n   ? hers_store_snapshot_live_map(snap, 0, n, live)
                   : HERS_OK;
        for (uint64_t i = 0; st == HERS_OK && i < n; i++)
            if (live[i])
                bytes += strlen(hers_store_snapshot_id(snap, i)) + 1;
        if (st == HERS_OK && !(rp->data = hers_alloc(bytes)))
            st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
        if (st == HERS_OK) {
            memcpy(rp->data, &ss, sizeof ss);
            size_t o = sizeof ss;
            for (uint64_t i = 0; i < n; i++)
                if (live[i]) {
                    const char *id = hers_store_snapshot_id(snap, i);
                    size_t l = strlen(id) + 1;
                    memcpy(rp->data + o, id, l);
                    o += l;
                }
            rp->len = bytes;
        }
        free(live);
        hers_store_snapshot_close(snap);
    }
    if (st == HERS_OK) {
        snprintf(s->name, sizeof s->name, "%s", h->name);
        s->next = c->shards;
        c->shards = s;
    } else if (s) {
        hers_service_close(s->svc);
        free(s);
    }
    free(dir);
    return st;
}

static void do_close(hers_cluster *c, const op_hdr *h)
{
    shard **pp = &c->shards;
    while (*pp && strcmp((*pp)->name, h->name))
        pp = &(*pp)->next;
    if (*pp) {
        shard *s = *pp;
        *pp = s->next;
        hers_service_close(s->svc);
        free(s);
    }
    if (h->flags & 1) {   /* drop */
        cl_remove_shard(c->root, h->name, (unsigned)c->rank);
        char *gdir = cl_path(c->root, h->name, NULL), *desc = cl_path(c->root, h->name,
                                                                       CL_DESC_FILE);
        char *jp = cl_path(c->root, h->name, CL_JOURNAL_FILE);
        if (c->rank == 0 && desc)
            unlink(desc);
        if (c->rank == 0 && jp)
            unlink(jp);
        free(jp);
        if (gdir)
            rmdir(gdir);   /* empty once every rank sharing it removed its shard */
        free(gdir);
        free(desc);
    }
}

/* ------------------------------------------------------------ coalesced searches
 *
 * Searches queued for the dispatcher back to back (one gallery) go to the
 * ranks as ONE operation: one broadcast carrying every query, each rank
 * runs them concurrently through its shard's service (which coalesces
 * concurrent searches into shared passes, as on one node), and one gather
 * in shard order brings back each rank's answers to all of them.
 *   broadcast: u32 n, u32 0, n x {u32 flags, u32 0, u64 len}, the queries
 *   reply:     u32 n, u32 0, n x batch_ans, the responses back to back */
#define BATCH_MAX 64
#define BATCH_BYTES ((size_t)1 << 30)

typedef struct batch_ans {
    int32_t st;
    uint32_t pad;
    uint64_t len;
    char msg[240];
} batch_ans;

typedef struct batch_job {
    hers_service *svc;
    const uint8_t *q;
    size_t len;
    uint32_t flags;
    batch_ans ans;
    uint8_t *resp;
    int pooled;
} batch_job;

/* One search on this rank's shard as the flags ask (SF_*): version 1 in
 * hers_alloc'ed memory, version 2 (*pooled = 1) from the service's pool. */
static hers_status shard_search(hers_service *svc, const uint8_t *q, size_t len, uint32_t flags,
                                uint8_t **resp, size_t *rl, int *pooled)
{
    hers_result_shrink sh = (hers_result_shrink)(flags & 0xff);
    int compact = (flags & SF_COMPACT) != 0;
    *pooled = (flags & SF_V2) != 0;
    if (!*pooled)
        return hers_service_search(svc, q, len, sh, compact, resp, rl);
    hers_service_search_opts o = {sh, compact, (flags & SF_WITH_CAT) != 0};
    uint64_t cv = 0;
    return hers_service_search_ex(svc, q, len, &o, resp, rl, &cv);
}

static void *batch_run(void *arg)
{
    batch_job *b = arg;
    size_t rl = 0;
    hers_status st = shard_search(b->svc, b->q, b->len, b->flags, &b->resp, &rl, &b->pooled);
    b->ans.st = st;
    b->ans.len = st == HERS_OK ? rl : 0;
    if (st != HERS_OK)
        snprintf(b->ans.msg, sizeof b->ans.msg, "%s", hers_last_error());
    return NULL;
}

static hers_status do_search_many(shard *s, const op_hdr *h, const uint8_t *bc, reply *rp)
{
    if (h->bc_len < 8)
        return hers_error(HERS_ERR_FORMAT, "cluster: short search batch");
    uint32_t n;
    memcpy(&n, bc, 4);
    if (n == 0 || n > BATCH_MAX || h->bc_len < 8 + (uint64_t)n * 16)
        return hers_error(HERS_ERR_FORMAT, "cluster: bad search batch of %u", n);
    batch_job *jb = calloc(n, sizeof *jb);
    pthread_t *th = calloc(n, sizeof *th);
    if (!jb || !th) {
        free(jb);
        free(th);
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    hers_status st = HERS_OK;
    uint64_t off = 8 + (uint64_t)n * 16;
    for (uint32_t i = 0; i < n && st == HERS_OK; i++) {
        uint64_t l;
        memcpy(&jb[i].flags, bc + 8 + 16 * (size_t)i, 4);
        memcpy(&l, bc + 8 + 16 * (size_t)i + 8, 8);
        if (l > h->bc_len - off)
            st = hers_error(HERS_ERR_FORMAT, "cluster: search batch: query %u overruns", i);
        jb[i].svc = s->svc;
        jb[i].q = bc + off;
        jb[i].len = (size_t)l;
        off += l;
    }
    shard_state ss;
    memset(&ss, 0, sizeof ss);
    if (st == HERS_OK)
        st = state_of(s->svc, &ss);
    int empty = ss.info.next_slot == 0;   /* no templates here: empty answers */
    uint32_t started = 0;
    for (uint32_t i = 1; st == HERS_OK && !empty && i < n; i++, started++)
        if (pthread_create(&th[i], NULL, batch_run, &jb[i]) != 0)
            break;
    if (st == HERS_OK && !empty)
        batch_run(&jb[0]);
    for (uint32_t i = 1; i <= started; i++)
        pthread_join(th[i], NULL);
    for (uint32_t i = started + 1; st == HERS_OK && !empty && i < n; i++)
        batch_run(&jb[i]);   /* no thread for it: in turn */
    size_t bytes = 8 + (size_t)n * sizeof(batch_ans);
    for (uint32_t i = 0; i < n; i++)
        bytes += (size_t)jb[i].ans.len;
    if (st == HERS_OK && !(rp->data = hers_alloc(bytes)))
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory for the batch's answers");
    if (st == HERS_OK) {
        memset(rp->data, 0, 8);
        memcpy(rp->data, &n, 4);
        size_t o = 8 + (size_t)n * sizeof(batch_ans);
        for (uint32_t i = 0; i < n; i++) {
            memcpy(rp->data + 8 + i * sizeof(batch_ans), &jb[i].ans, sizeof(batch_ans));
            if (jb[i].ans.len)
                memcpy(rp->data + o, jb[i].resp, (size_t)jb[i].ans.len);
            o += (size_t)jb[i].ans.len;
        }
        rp->len = bytes;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (jb[i].pooled)
            hers_net_free(jb[i].resp);
        else
            hers_free(jb[i].resp);
    }
    free(jb);
    free(th);
    return st;
}

/* This rank's catalog for rank 0 (cluster_internal.h): the broadcast holds
 * rank 0's cached version of every shard (u64 each, 0: none); the reply is
 * the shard's version (0: no templates), then its HERSCAT unless rank 0's
 * copy is current. */
static hers_status do_catalog(shard *s, const op_hdr *h, const uint8_t *bc, reply *rp)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (h->bc_len < 8 * ((uint64_t)rank + 1))
        return hers_error(HERS_ERR_FORMAT, "cluster: short catalog message");
    shard_state ss;
    memset(&ss, 0, sizeof ss);
    hers_status st = state_of(s->svc, &ss);
    uint64_t have, ver = 0;
    memcpy(&have, bc + 8 * (size_t)rank, 8);
    uint8_t *rec = NULL;
    size_t len = 0;
    if (st == HERS_OK && ss.info.next_slot)
        st = hers_service_catalog(s->svc, have, &ver, &rec, &len);
    if (st == HERS_OK && !(rp->data = hers_alloc(8 + len)))
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    if (st == HERS_OK) {
        memcpy(rp->data, &ver, 8);
        if (len)
            memcpy(rp->data + 8, rec, len);
        rp->len = 8 + len;
    }
    hers_free(rec);
    return st;
}

static hers_status exec_op(hers_cluster *c, const op_hdr *h, const uint8_t *bc, const uint8_t *sc,
                           size_t sc_len, reply *rp)
{
    if (h->kind == OP_CREATE)
        return do_create(c, h, bc);
    if (h->kind == OP_OPEN)
        return do_open(c, h, bc, rp);
    if (h->kind == OP_CLOSE) {
        do_close(c, h);
        return HERS_OK;
    }
    shard *s = shard_find(c, h->name);
    if (!s)
        return hers_error(HERS_ERR_NOTFOUND, "cluster: gallery %s is not open on rank %d",
                          h->name, c->rank);
    shard_state ss;
    memset(&ss, 0, sizeof ss);
    hers_status st = HERS_OK;
    switch (h->kind) {
    case OP_SEARCH: {
        if ((st = state_of(s->svc, &ss)) != HERS_OK || ss.info.next_slot == 0)
            return st;   /* no templates here: an empty reply */
        return shard_search(s->svc, bc, h->bc_len, h->flags, &rp->data, &rp->len, &rp->pooled);
    }
    case OP_CATALOG:
        return do_catalog(s, h, bc, rp);
    case OP_SEARCH_MANY:
        return do_search_many(s, h, bc, rp);
    case OP_ENROLL:
        if (sc_len)
            st = hers_service_enroll(s->svc, sc, sc_len, &ss.first_slot, &ss.count);
        break;
    case OP_DELETE:
        if (sc_len) {   /* NUL-separated ids */
            size_t n = 0;
            for (size_t i = 0; i < sc_len; i++)
                n += sc[i] == 0;
            const char **ids = malloc((n ? n : 1) * sizeof *ids);
            if (!ids)
                return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
            for (size_t i = 0, k = 0; i < sc_len; i += strlen((const char *)sc + i) + 1)
                ids[k++] = (const char *)sc + i;
            st = hers_service_delete(s->svc, ids, n);
            free(ids);
        }
        break;
    case OP_COMPACT:
        st = hers_service_compact(s->svc, &ss.cs);
        break;
    case OP_INFO:
        break;
    default:
        return hers_error(HERS_ERR_ARG, "cluster: unknown operation %u", h->kind);
    }
    hers_status is = state_of(s->svc, &ss);
    if (st == HERS_OK)
        st = is;
    if (is == HERS_OK) {   /* the state even after a failure: rank 0 keeps its view right */
        char msg[256];
        snprintf(msg, sizeof msg, "%s", hers_last_error());
        if (reply_state(&ss, rp) != HERS_OK && st == HERS_OK)
            return HERS_ERR_NOMEM;
        if (st != HERS_OK)
            hers_error(st, "%s", msg);
    }
    return st;
}

/* One operation on every rank (rank 0 passes the header and payloads;
 * the others receive them). rep: rank 0's replies (size entries). */
static void collective(hers_cluster *c, op_hdr *h, const uint8_t *bc0, uint8_t **sc0,
                       size_t *sc_len0, reply *rep)
{
    /* the header without busy waiting: an idle worker sleeps 1 ms between
     * tests instead of spinning a core in MPI_Bcast while no request comes */
    MPI_Request hr;
    int got = 0;
    double t0 = now_s(CLOCK_MONOTONIC);
    MPI_Ibcast(h, sizeof *h, MPI_BYTE, 0, MPI_COMM_WORLD, &hr);
    if (c->rank == 0)
        MPI_Wait(&hr, MPI_STATUS_IGNORE);
    else
        while (MPI_Test(&hr, &got, MPI_STATUS_IGNORE) == MPI_SUCCESS && !got) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    if (h->kind == OP_STOP)
        return;
    uint8_t *bc = (uint8_t *)bc0, *mine = NULL;
    size_t mine_len = 0;
    if (c->rank != 0 && h->bc_len && !(bc = malloc(h->bc_len)))
        MPI_Abort(MPI_COMM_WORLD, 3);   /* cannot take part: end the job, never hang */
    if (h->bc_len)
        bcast_big(bc, h->bc_len);
    if (h->scatter) {
        uint64_t *lens = NULL, my = 0;
        if (c->rank == 0 && !(lens = calloc((size_t)c->size, sizeof *lens)))
            MPI_Abort(MPI_COMM_WORLD, 3);
        for (int r = 0; c->rank == 0 && r < c->size; r++)
            lens[r] = sc_len0[r];
        MPI_Scatter(lens, 1, MPI_UINT64_T, &my, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        if (c->rank == 0) {
            for (int r = 1; r < c->size; r++)
                send_big(sc0[r], sc_len0[r], r, TAG_SCATTER);
            mine = sc0[0];
        } else if (my) {
            if (!(mine = malloc(my)))
                MPI_Abort(MPI_COMM_WORLD, 3);
            recv_big(mine, my, 0, TAG_SCATTER);
        }
        mine_len = (size_t)my;
        free(lens);
    }
    reply me;
    memset(&me, 0, sizeof me);
    double t1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    hers_status st = exec_op(c, h, bc, mine, mine_len, &me);
    double t2 = now_s(CLOCK_MONOTONIC), c2 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    me.st = st;
    if (st != HERS_OK)
        snprintf(me.msg, sizeof me.msg, "%s", hers_last_error());
    if (c->rank != 0) {
        if (bc != bc0)
            free(bc);
        if (h->scatter)
            free(mine);
    }
    /* exec: this rank's work (wall, and the process's CPU time in it) */
    struct { int32_t st; uint32_t pad; uint64_t len; double exec_s, cpu_s; char msg[256]; }
        hd = {me.st, 0, me.len, t2 - t1, c2 - c1, {0}}, *all = NULL;
    memcpy(hd.msg, me.msg, sizeof hd.msg);
    if (c->rank == 0 && !(all = calloc((size_t)c->size, sizeof *all)))
        MPI_Abort(MPI_COMM_WORLD, 3);
    MPI_Gather(&hd, sizeof hd, MPI_BYTE, all, sizeof hd, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (c->rank != 0) {
        send_big(me.data, me.len, 0, TAG_GATHER);
        if (me.pooled)
            hers_net_free(me.data);
        else
            hers_free(me.data);
        return;
    }
    rep[0] = me;
    for (int r = 1; r < c->size; r++) {
        rep[r].st = all[r].st;
        memcpy(rep[r].msg, all[r].msg, sizeof rep[r].msg);
        rep[r].len = all[r].len;
        rep[r].data = all[r].len ? hers_alloc(all[r].len) : NULL;
        if (all[r].len && !rep[r].data)
            MPI_Abort(MPI_COMM_WORLD, 3);
        recv_big(rep[r].data, all[r].len, r, TAG_GATHER);
    }
    double t3 = now_s(CLOCK_MONOTONIC);
    c->op_bcast_s = t1 - t0;
    c->op_wait_s = t3 - t2;
    c->op_total_s = t3 - t0;
    c->op_bcast_bytes = sizeof *h + h->bc_len;
    for (int r = 0; r < c->size; r++) {
        c->op_exec_s[r] = all[r].exec_s;
        c->op_cpu_s[r] = all[r].cpu_s;
        c->op_reply_bytes[r] = sizeof hd + all[r].len;
    }
    free(all);
}

void hers_cluster_last_op(const hers_cluster *c, hers_cluster_op_stats *o)
{
    o->ranks = (unsigned)c->size;
    o->bcast_s = c->op_bcast_s;
    o->wait_s = c->op_wait_s;
    o->total_s = c->op_total_s;
    o->bcast_bytes = c->op_bcast_bytes;
    o->exec_s = c->op_exec_s;
    o->cpu_s = c->op_cpu_s;
    o->reply_bytes = c->op_reply_bytes;
}

/* ------------------------------------------------------------ rank 0 */

static void reply_free(reply *rep, int n)
{
    for (int r = 0; rep && r < n; r++) {
        if (rep[r].pooled)
            hers_net_free(rep[r].data);
        else
            hers_free(rep[r].data);
    }
    free(rep);
}

/* Runs op on every rank: inline on the dispatcher thread, else queued for
 * it. *out: the replies (reply_free). HERS_OK when every rank succeeded,
 * else the first failing rank's status and message. */
static hers_status submit(hers_cluster *c, call *k, reply **out)
{
    k->rep = calloc((size_t)c->size, sizeof *k->rep);
    if (!k->rep)
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    if (pthread_equal(pthread_self(), c->main)) {
        collective(c, &k->h, k->bc, k->sc, k->sc_len, k->rep);
    } else {
        pthread_mutex_lock(&c->lock);
        if (c->tail)
            c->tail->next = k;
        else
            c->head = k;
        c->tail = k;
        pthread_cond_broadcast(&c->cv);
        while (!k->done)
            pthread_cond_wait(&c->cv, &c->lock);
        pthread_mutex_unlock(&c->lock);
    }
    *out = k->rep;
    for (int r = 0; r < c->size; r++)
        if (k->rep[r].st != HERS_OK)
            return hers_error((hers_status)k->rep[r].st, "%s%s", r ? "" : "",
                              k->rep[r].msg[0] ? k->rep[r].msg : "shard failed");
    return HERS_OK;
}

/* Searches ks[0..n) (one gallery) as one operation (OP_SEARCH_MANY): each
 * call gets its replies as if it had run alone. */
static void run_batch(hers_cluster *c, call **ks, uint32_t n)
{
    size_t bytes = 8 + 16 * (size_t)n;
    for (uint32_t i = 0; i < n; i++)
        bytes += (size_t)ks[i]->h.bc_len;
    uint8_t *bc = malloc(bytes);
    reply *rep = calloc((size_t)c->size, sizeof *rep);
    if (!bc || !rep) {
        for (uint32_t i = 0; i < n; i++) {
            ks[i]->rep[0].st = HERS_ERR_NOMEM;
            snprintf(ks[i]->rep[0].msg, sizeof ks[i]->rep[0].msg, "cluster: out of memory");
        }
        free(bc);
        free(rep);
        return;
    }
    op_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = OP_SEARCH_MANY;
    memcpy(h.name, ks[0]->h.name, sizeof h.name);
    h.bc_len = bytes;
    memset(bc, 0, 8 + 16 * (size_t)n);
    memcpy(bc, &n, 4);
    size_t o = 8 + 16 * (size_t)n;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(bc + 8 + 16 * (size_t)i, &ks[i]->h.flags, 4);
        memcpy(bc + 8 + 16 * (size_t)i + 8, &ks[i]->h.bc_len, 8);
        memcpy(bc + o, ks[i]->bc, (size_t)ks[i]->h.bc_len);
        o += (size_t)ks[i]->h.bc_len;
    }
    collective(c, &h, bc, NULL, NULL, rep);
    free(bc);
    for (int r = 0; r < c->size; r++) {
        const uint8_t *d = rep[r].data;
        uint32_t m = 0;
        if (rep[r].st == HERS_OK && (rep[r].len < 8 + (size_t)n * sizeof(batch_ans) ||
                                     (memcpy(&m, d, 4), m != n))) {
            rep[r].st = HERS_ERR_FORMAT;
            snprintf(rep[r].msg, sizeof rep[r].msg, "cluster: rank %d: bad batch answer", r);
        }
        size_t at = 8 + (size_t)n * sizeof(batch_ans);
        for (uint32_t i = 0; i < n; i++) {
            reply *x = &ks[i]->rep[r];
            if (rep[r].st != HERS_OK) {
                x->st = rep[r].st;
                memcpy(x->msg, rep[r].msg, sizeof x->msg);
                continue;
            }
            batch_ans a;
            memcpy(&a, d + 8 + i * sizeof a, sizeof a);
            x->st = a.st;
            snprintf(x->msg, sizeof x->msg, "%.*s", (int)sizeof a.msg, a.msg);
            if (a.len > rep[r].len - at) {
                x->st = HERS_ERR_FORMAT;
                snprintf(x->msg, sizeof x->msg, "cluster: rank %d: batch answer overruns", r);
                at = rep[r].len;
                continue;
            }
            if (a.st == HERS_OK && a.len && !(x->data = hers_alloc((size_t)a.len))) {
                x->st = HERS_ERR_NOMEM;
                snprintf(x->msg, sizeof x->msg, "cluster: out of memory");
            } else if (x->data) {
                memcpy(x->data, d + at, (size_t)a.len);
                x->len = (size_t)a.len;
            }
            at += (size_t)a.len;
        }
    }
    reply_free(rep, c->size);
}

void hers_cluster_dispatch(hers_cluster *c)
{
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->head && !c->stop)
            pthread_cond_wait(&c->cv, &c->lock);
        if (!c->head)
            break;
        /* a search takes the searches of its gallery queued right behind it
         * (never past another operation: a write stays ordered) */
        call *ks[BATCH_MAX];
        uint32_t n = 0;
        size_t bytes = 0;
        do {
            call *k = c->head;
            c->head = k->next;
            ks[n++] = k;
            bytes += (size_t)k->h.bc_len;
        } while (ks[0]->h.kind == OP_SEARCH && c->head && c->head->h.kind == OP_SEARCH &&
                 n < BATCH_MAX && !strcmp(c->head->h.name, ks[0]->h.name) &&
                 bytes + c->head->h.bc_len <= BATCH_BYTES);
        if (!c->head)
            c->tail = NULL;
        if (ks[0]->h.kind == OP_SEARCH) {
            c->searches += n;
            c->search_ops++;
        }
        pthread_mutex_unlock(&c->lock);
        if (n == 1)
            collective(c, &ks[0]->h, ks[0]->bc, ks[0]->sc, ks[0]->sc_len, ks[0]->rep);
        else
            run_batch(c, ks, n);
        pthread_mutex_lock(&c->lock);
        for (uint32_t i = 0; i < n; i++)
            ks[i]->done = 1;
        pthread_cond_broadcast(&c->cv);
    }
    c->stop = 0;
    pthread_mutex_unlock(&c->lock);
}

void hers_cluster_search_counts(hers_cluster *c, uint64_t *searches, uint64_t *operations)
{
    pthread_mutex_lock(&c->lock);
    *searches = c->searches;
    *operations = c->search_ops;
    pthread_mutex_unlock(&c->lock);
}

void hers_cluster_dispatch_stop(hers_cluster *c)
{
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->lock);
}

/* A decimal id below 2^63 (as default ids are): its value, else -1. */
static int64_t numeric_id(const char *id)
{
    uint64_t v = 0;
    if (!*id || strlen(id) > 18 || (id[0] == '0' && id[1]))
        return -1;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return (int64_t)v;
}

/* Rank 0's handle of an open cluster gallery. */
typedef struct cgal {
    hers_cluster *c;
    char name[88];
    cl_desc desc;
    hers_service *local;      /* rank 0's own shard: parameters and keys */
    pthread_mutex_t wl;       /* writes: planning needs the shards' current fill */
    pthread_mutex_t sl;       /* st, map */
    shard_state *st;          /* per shard, after the last operation */
    cl_idmap *map;
    cl_journal *journal;      /* enrolments planned and done (retries apply once) */
    uint64_t next_id;         /* the next default id (under wl): above every decimal id in
                               * the shards and every default id a plan ever took */
    pthread_mutex_t cl;       /* the catalogs below */
    uint64_t *cat_ver;        /* per shard: the version of cat_rec[r] (0: none) */
    uint8_t **cat_rec;        /* per shard: its HERSCAT (NULL: none, or no templates) */
    size_t *cat_len;
} cgal;

static void call_init(call *k, uint32_t kind, const char *name)
{
    memset(k, 0, sizeof *k);
    k->h.kind = kind;
    snprintf(k->h.name, sizeof k->h.name, "%s", name ? name : "");
}

/* Keeps the shards' states from replies that carry one. */
static void take_states(cgal *g, const reply *rep)
{
    pthread_mutex_lock(&g->sl);
    for (int r = 0; r < g->c->size; r++)
        if (rep[r].len >= sizeof(shard_state))
            memcpy(&g->st[r], rep[r].data, sizeof(shard_state));
    pthread_mutex_unlock(&g->sl);
}

static size_t blocks_of(uint64_t slots, size_t N) { return (size_t)((slots + N - 1) / N); }

/* The shard the next block goes to: the fewest slots (lowest rank on ties). */
static unsigned emptiest(const uint64_t *slots, unsigned k)
{
    unsigned t = 0;
    for (unsigned r = 1; r < k; r++)
        if (slots[r] < slots[t])
            t = r;
    return t;
}

static hers_status be_create(void *user, const char *root, const char *name,
                             const hers_net_init *in)
{
    hers_cluster *c = user;
    (void)root;
    cl_desc d;
    memset(&d, 0, sizeof d);
    randombytes_buf(d.uuid, sizeof d.uuid);
    memcpy(d.params_id, hers_params_id(in->p), 32);
    d.shards = (unsigned)c->size;
    uint8_t *rec = NULL, *bc = NULL;
    size_t rl = 0;
    hers_status st = hers_net_init_encode_ex(in, &rec, &rl);   /* the packing too */
    if (st == HERS_OK && !(bc = malloc(sizeof d + rl)))
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    reply *rep = NULL;
    if (st == HERS_OK) {
        memcpy(bc, &d, sizeof d);
        memcpy(bc + sizeof d, rec, rl);
        call k;
        call_init(&k, OP_CREATE, name);
        k.bc = bc;
        k.h.bc_len = sizeof d + rl;
        st = submit(c, &k, &rep);
    }
    if (st == HERS_OK)   /* the descriptor last: a gallery without one is not served */
        st = cl_desc_write(c->root, name, &d);
    reply_free(rep, c->size);
    hers_free(rec);
    free(bc);
    return st;
}

static void cgal_free(cgal *g)
{
    if (!g)
        return;
    cl_idmap_free(g->map);
    cl_journal_free(g->journal);
    free(g->st);
    for (int r = 0; g->cat_rec && r < g->c->size; r++)
        hers_free(g->cat_rec[r]);
    free(g->cat_rec);
    free(g->cat_len);
    free(g->cat_ver);
    pthread_mutex_destroy(&g->wl);
    pthread_mutex_destroy(&g->sl);
    pthread_mutex_destroy(&g->cl);
    free(g);
}

static hers_status be_open(void *user, const char *root, const char *name, unsigned threads,
                           void **out)
{
    hers_cluster *c = user;
    (void)root;
    (void)threads;
    *out = NULL;
    cgal *g = calloc(1, sizeof *g);
    if (!g)
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    g->c = c;
    snprintf(g->name, sizeof g->name, "%s", name);
    pthread_mutex_init(&g->wl, NULL);
    pthread_mutex_init(&g->sl, NULL);
    pthread_mutex_init(&g->cl, NULL);
    g->st = calloc((size_t)c->size, sizeof *g->st);
    g->cat_ver = calloc((size_t)c->size, sizeof *g->cat_ver);
    g->cat_rec = calloc((size_t)c->size, sizeof *g->cat_rec);
    g->cat_len = calloc((size_t)c->size, sizeof *g->cat_len);
    g->map = cl_idmap_new();
    hers_status st = g->st && g->map && g->cat_ver && g->cat_rec && g->cat_len ? cl_desc_read(c->root, name, &g->desc)
                                     : hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    if (st == HERS_OK && g->desc.shards != (unsigned)c->size)
        st = hers_error(HERS_ERR_MISMATCH, "%u shards on disk, this job has %d ranks (run "
                                           "mpirun -np %u, or move it with hers reshard)",
                        g->desc.shards, c->size, g->desc.shards);
    reply *rep = NULL;
    if (st == HERS_OK) {
        call k;
        call_init(&k, OP_OPEN, name);
        k.bc = (const uint8_t *)&g->desc;
        k.h.bc_len = sizeof g->desc;
        st = submit(c, &k, &rep);
        if (st != HERS_OK) {   /* close what did open */
            reply *r2 = NULL;
            call k2;
            call_init(&k2, OP_CLOSE, name);
            hers_status keep = st;
            char msg[256];
            snprintf(msg, sizeof msg, "%s", hers_last_error());
            submit(c, &k2, &r2);
            reply_free(r2, c->size);
            st = hers_error(keep, "%s", msg);
        }
    }
    for (int r = 0; st == HERS_OK && r < c->size; r++) {
        memcpy(&g->st[r], rep[r].data, sizeof(shard_state));
        for (size_t o = sizeof(shard_state); o < rep[r].len;) {
            const char *id = (const char *)rep[r].data + o;
            int prev = cl_idmap_get(g->map, id);
            if (prev >= 0) {
                st = hers_error(HERS_ERR_FORMAT, "gallery %s: id '%s' is in shards %d and %d",
                                name, id, prev, r);
                break;
            }
            if (cl_idmap_put(g->map, id, (unsigned)r)) {
                st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory for the id map");
                break;
            }
            int64_t v = numeric_id(id);
            if (v >= 0 && (uint64_t)v >= g->next_id)
                g->next_id = (uint64_t)v + 1;
            o += strlen(id) + 1;
        }
    }
    reply_free(rep, c->size);
    if (st == HERS_OK) {
        shard *s = shard_find(c, name);
        g->local = s ? s->svc : NULL;
        char *jp = cl_path(c->root, name, CL_JOURNAL_FILE);
        st = jp ? cl_journal_open(jp, &g->journal) : hers_error(HERS_ERR_NOMEM, "out of memory");
        free(jp);
        if (st == HERS_OK && cl_journal_next_id(g->journal) > g->next_id)
            g->next_id = cl_journal_next_id(g->journal);
    }
    if (st != HERS_OK || !g->local) {
        cgal_free(g);
        return st != HERS_OK ? st : hers_error(HERS_ERR_STATE, "cluster: shard 0 not open");
    }
    *out = g;
    return HERS_OK;
}

static void be_close(void *user, const char *root, const char *name, void *gal, int drop)
{
    hers_cluster *c = user;
    (void)root;
    call k;
    call_init(&k, OP_CLOSE, name);
    k.h.flags = drop ? 1 : 0;
    reply *rep = NULL;
    submit(c, &k, &rep);
    reply_free(rep, c->size);
    cgal_free(gal);
}

static hers_store *be_db(void *gal) { return hers_service_db(((cgal *)gal)->local); }

/* The cluster's view: sums, and next_slot such that next_slot mod N is the
 * fill of the shard the next block goes to (the client's next_offset). */
static void aggregate(const cgal *g, hers_store_info *in, hers_service_stats *ss)
{
    unsigned K = (unsigned)g->c->size;
    *in = g->st[0].info;
    memset(ss, 0, sizeof *ss);
    size_t N = in->N ? in->N : 1;
    uint64_t *slots = calloc(K, sizeof *slots);
    in->live = in->enrolled = in->segments = in->blocks = 0;
    in->payload_bytes = in->file_bytes = in->used_bytes = 0;
    in->has_gallery = 0;
    for (unsigned r = 0; r < K; r++) {
        const hers_store_info *x = &g->st[r].info;
        if (x->has_gallery && !in->has_gallery) {
            in->has_gallery = 1;
            in->d = x->d;
            in->scale = x->scale;
            in->mode = x->mode;
            in->packing = x->packing;   /* resolved (auto shards: by the same rule) */
        }
        if (x->model_id_len && !in->model_id_len) {
            in->model_id_len = x->model_id_len;
            memcpy(in->model_id, x->model_id, x->model_id_len);
        }
        in->live += x->live;
        in->enrolled += x->enrolled;
        in->segments += x->segments;
        in->blocks += blocks_of(x->next_slot, N);
        in->payload_bytes += x->payload_bytes;
        in->file_bytes += x->file_bytes;
        in->used_bytes += x->used_bytes;
        ss->index_bytes += g->st[r].ss.index_bytes;
        ss->chunks += g->st[r].ss.chunks;
        ss->passes += g->st[r].ss.passes;
        ss->probes += g->st[r].ss.probes;
        ss->queries += g->st[r].ss.queries;
        if (slots)
            slots[r] = x->next_slot;
    }
    unsigned t = slots ? emptiest(slots, K) : 0;
    in->next_slot = (in->blocks - blocks_of(g->st[t].info.next_slot, N)) * N +
                    g->st[t].info.next_slot;
    free(slots);
}

static hers_status be_info(void *gal, hers_store_info *in, hers_service_stats *ss)
{
    cgal *g = gal;
    call k;
    call_init(&k, OP_INFO, g->name);
    reply *rep = NULL;
    hers_status st = submit(g->c, &k, &rep);
    if (st == HERS_OK) {
        take_states(g, rep);
        pthread_mutex_lock(&g->sl);
        aggregate(g, in, ss);
        pthread_mutex_unlock(&g->sl);
    }
    reply_free(rep, g->c->size);
    return st;
}

static hers_status be_shards(void *gal, hers_store_info *per, size_t cap, size_t *count)
{
    cgal *g = gal;
    call k;
    call_init(&k, OP_INFO, g->name);
    reply *rep = NULL;
    hers_status st = submit(g->c, &k, &rep);
    if (st == HERS_OK) {
        take_states(g, rep);
        pthread_mutex_lock(&g->sl);
        for (int r = 0; r < g->c->size && (size_t)r < cap; r++)
            per[r] = g->st[r].info;
        pthread_mutex_unlock(&g->sl);
        *count = (size_t)g->c->size;
    }
    reply_free(rep, g->c->size);
    return st;
}

static hers_status search_flags(cgal *g, const void *q, size_t len, uint32_t flags,
                                uint8_t **resp, size_t *rl, uint64_t *cat_version)
{
    call k;
    call_init(&k, OP_SEARCH, g->name);
    k.bc = q;
    k.h.bc_len = len;
    k.h.flags = flags;
    reply *rep = NULL;
    hers_status st = submit(g->c, &k, &rep);
    if (st == HERS_OK) {
        const uint8_t **bufs = calloc((size_t)g->c->size, sizeof *bufs);
        size_t *lens = calloc((size_t)g->c->size, sizeof *lens);
        if (!bufs || !lens)
            st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
        for (int r = 0; st == HERS_OK && r < g->c->size; r++) {
            bufs[r] = rep[r].data;
            lens[r] = rep[r].len;
        }
        if (st == HERS_OK)
            st = cl_join_responses(hers_store_params(hers_service_db(g->local)), bufs, lens,
                                   (size_t)g->c->size, resp, rl, cat_version);
        free(bufs);
        free(lens);
    }
    reply_free(rep, g->c->size);
    return st;
}

static hers_status be_search(void *gal, const void *q, size_t len, hers_result_shrink sh,
                             int compact, uint8_t **resp, size_t *rl)
{
    return search_flags(gal, q, len, (uint32_t)sh | (compact ? SF_COMPACT : 0), resp, rl, NULL);
}

/* Version 2: the shards answer version 2 (without their catalogs unless
 * o->with_catalog), joined under the cluster's catalog version. */
static hers_status be_search_ex(void *gal, const void *q, size_t len,
                                const hers_service_search_opts *o, uint8_t **resp, size_t *rl,
                                uint64_t *cat_version)
{
    uint32_t f = (uint32_t)o->shrink | (o->compact ? SF_COMPACT : 0) | SF_V2 |
                 (o->with_catalog ? SF_WITH_CAT : 0);
    return search_flags(gal, q, len, f, resp, rl, cat_version);
}

/* The cluster gallery's catalog: every shard's current version in one
 * collective, the HERSCAT only from shards whose version rank 0 has not
 * cached; joined in shard order (cl_join_catalogs). */
static hers_status be_catalog(void *gal, uint64_t if_none_match, uint64_t *version, uint8_t **rec,
                              size_t *rec_len)
{
    cgal *g = gal;
    size_t K = (size_t)g->c->size;
    *rec = NULL;
    *rec_len = 0;
    call k;
    call_init(&k, OP_CATALOG, g->name);
    uint64_t *have = calloc(K, sizeof *have);
    if (!have)
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    pthread_mutex_lock(&g->cl);
    memcpy(have, g->cat_ver, K * sizeof *have);
    pthread_mutex_unlock(&g->cl);
    k.bc = (const uint8_t *)have;
    k.h.bc_len = K * sizeof *have;
    reply *rep = NULL;
    hers_status st = submit(g->c, &k, &rep);
    for (size_t r = 0; st == HERS_OK && r < K; r++)
        if (rep[r].len < 8)
            st = hers_error(HERS_ERR_FORMAT, "cluster: shard %zu: bad catalog answer", r);
    pthread_mutex_lock(&g->cl);
    for (size_t r = 0; st == HERS_OK && r < K; r++) {
        uint64_t v;
        memcpy(&v, rep[r].data, 8);
        if (v == g->cat_ver[r] && (v == 0 || g->cat_rec[r]))
            continue;   /* the cached one is current */
        if (v && rep[r].len == 8) {
            st = hers_error(HERS_ERR_FORMAT, "cluster: shard %zu sent version %016llx without "
                                             "its catalog", r, (unsigned long long)v);
            break;
        }
        hers_free(g->cat_rec[r]);
        g->cat_rec[r] = NULL;
        g->cat_len[r] = 0;
        g->cat_ver[r] = v;
        if (v) {   /* take the record over from the reply */
            if (!(g->cat_rec[r] = hers_alloc(rep[r].len - 8))) {
                g->cat_ver[r] = 0;
                st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
                break;
            }
            memcpy(g->cat_rec[r], rep[r].data + 8, rep[r].len - 8);
            g->cat_len[r] = rep[r].len - 8;
        }
    }
    if (st == HERS_OK) {
        *version = cl_catalog_version(g->cat_ver, K);
        if (*version != if_none_match)
            st = cl_join_catalogs(hers_params_n(hers_store_params(hers_service_db(g->local))),
                                  (const uint8_t *const *)g->cat_rec, g->cat_len, g->cat_ver, K,
                                  rec, rec_len);
    }
    pthread_mutex_unlock(&g->cl);
    reply_free(rep, g->c->size);
    free(have);
    return st;
}

/* Global slot of shard r's slot 0: the blocks of the shards before it. */
static uint64_t base_of(const cgal *g, unsigned r, size_t N)
{
    uint64_t b = 0;
    for (unsigned q = 0; q < r; q++)
        b += blocks_of(g->st[q].info.next_slot, N) * N;
    return b;
}

/* Checks the request against the gallery the shards hold (an empty shard
 * would take anything: the cluster must refuse what a single node refuses). */
static hers_status check_shape(const cgal *g, const hers_net_enroll *e, size_t d)
{
    for (int r = 0; r < g->c->size; r++) {
        const hers_store_info *x = &g->st[r].info;
        if (x->has_gallery && (x->d != d || x->scale != e->scale || x->mode != e->mode))
            return hers_error(HERS_ERR_MISMATCH, "enrol: templates of dimension %zu, scale %u, "
                                                 "mode %s; the gallery has %zu, %u, %s", d,
                              e->scale, hers_search_mode_name(e->mode), x->d, x->scale,
                              hers_search_mode_name(x->mode));
        if (x->model_id_len && (x->model_id_len != e->model_id_len ||
                                memcmp(x->model_id, e->model_id, x->model_id_len)))
            return hers_error(HERS_ERR_MISMATCH, "enrol: the model id differs from the "
                                                 "gallery's");
    }
    return HERS_OK;
}

/* Deletes ids on the shards that hold them (one collective; the caller
 * holds g->wl). Every id must be in the map. The map follows what each
 * shard committed, also when another failed. */
static hers_status del_locked(cgal *g, const char *const *ids, size_t count)
{
    unsigned K = (unsigned)g->c->size;
    uint8_t **sc = calloc(K, sizeof *sc);
    size_t *sc_len = calloc(K, sizeof *sc_len), *fill = calloc(K, sizeof *fill);
    int *at = calloc(count ? count : 1, sizeof *at);
    hers_status st = sc && sc_len && fill && at ? HERS_OK
                                                : hers_error(HERS_ERR_NOMEM, "out of memory");
    reply *rep = NULL;
    pthread_mutex_lock(&g->sl);
    for (size_t i = 0; st == HERS_OK && i < count; i++) {
        if ((at[i] = cl_idmap_get(g->map, ids[i])) < 0)
            st = hers_error(HERS_ERR_NOTFOUND, "delete: no id '%s' in the gallery", ids[i]);
        else
            sc_len[at[i]] += strlen(ids[i]) + 1;
    }
    pthread_mutex_unlock(&g->sl);
    for (unsigned r = 0; st == HERS_OK && r < K; r++)
        if (sc_len[r] && !(sc[r] = hers_alloc(sc_len[r])))
            st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    for (size_t i = 0; st == HERS_OK && i < count; i++) {
        size_t l = strlen(ids[i]) + 1;
        memcpy(sc[at[i]] + fill[at[i]], ids[i], l);
        fill[at[i]] += l;
    }
    if (st == HERS_OK) {
        call k;
        call_init(&k, OP_DELETE, g->name);
        k.h.scatter = 1;
        k.sc = sc;
        k.sc_len = sc_len;
        st = submit(g->c, &k, &rep);
        take_states(g, rep);
        pthread_mutex_lock(&g->sl);
        for (size_t i = 0; i < count; i++)
            if (rep[at[i]].st == HERS_OK)
                cl_idmap_del(g->map, ids[i]);
        pthread_mutex_unlock(&g->sl);
    }
    reply_free(rep, (int)K);
    for (unsigned r = 0; sc && r < K; r++)
        hers_free(sc[r]);
    free(sc);
    free(sc_len);
    free(fill);
    free(at);
    return st;
}

/*
 * Enrolment (hers_cluster.h, journal.c). Under g->wl:
 *  1. a request acknowledged before is answered from the journal;
 *  2. ids: given, or default ones from the cluster's durable counter
 *     (a retry keeps the ones its plan took); clashes are refused unless
 *     replace;
 *  3. placement: each whole block to the shard with the fewest slots (a
 *     retry keeps its plan); the plan is journaled before any shard writes;
 *  4. replace: the request's ids that exist anywhere are deleted first, on
 *     the shards that hold them (one collective), then "clear" is journaled:
 *     an id never lives on two shards, even when the job dies in between
 *     (then it is absent until the retry completes the request);
 *  5. each shard that takes blocks commits them in one transaction (one
 *     collective); a retry skips the shards that hold theirs already;
 *  6. "done" is journaled and the request acknowledged.
 */
static hers_status be_enroll(void *gal, const void *body, size_t len, uint64_t *first_slot,
                             size_t *count)
{
    cgal *g = gal;
    unsigned K = (unsigned)g->c->size;
    const hers_params *p = hers_store_params(hers_service_db(g->local));
    size_t N = hers_params_n(p);
    hers_net_enroll e;
    hers_status st = hers_net_enroll_decode(body, len, &e);
    if (st != HERS_OK)
        return st;
    uint8_t rid[32];   /* the request id: a retry sends the same bytes */
    crypto_generichash(rid, sizeof rid, body, len, NULL, 0);
    hers_gallery *gl = NULL;
    uint8_t **sc = calloc(K, sizeof *sc);
    size_t *sc_len = calloc(K, sizeof *sc_len), *assign = NULL, *list = NULL;
    uint64_t *cnt = calloc(K, sizeof *cnt);
    char **ids = NULL, (*defid)[24] = NULL;
    const char **sub_ids = NULL, **old = NULL;
    size_t nold = 0;
    reply *rep = NULL;
    cl_idmap *seen = cl_idmap_new();
    pthread_mutex_lock(&g->wl);
    const cl_jentry *je = cl_journal_find(g->journal, rid);
    int jstate = je ? je->state : 0;
    if (jstate == 2) {   /* acknowledged before: answer as then, apply nothing */
        if (first_slot)
            *first_slot = je->first;
        if (count)
            *count = (size_t)je->count;
        pthread_mutex_unlock(&g->wl);
        free(sc);
        free(sc_len);
        free(cnt);
        cl_idmap_free(seen);
        hers_net_enroll_free(&e);
        return HERS_OK;
    }
    if (!sc || !sc_len || !cnt || !seen)
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    if (st == HERS_OK)
        st = hers_gallery_deserialize(p, e.record, e.record_len, &gl);
    if (st == HERS_OK && hers_gallery_n(gl) != e.offset + e.m)
        st = hers_error(HERS_ERR_FORMAT, "enrol: the record holds %zu rows, expected %zu",
                        hers_gallery_n(gl), e.offset + e.m);
    pthread_mutex_lock(&g->sl);
    if (st == HERS_OK)
        st = check_shape(g, &e, hers_gallery_d(gl));
    size_t B = st == HERS_OK ? hers_gallery_blocks(gl) : 0;
    if (st == HERS_OK && jstate == 1 && je->nb != B)
        st = hers_error(HERS_ERR_FORMAT, "enrol: journal plan of %zu blocks for a request of "
                                         "%zu", je->nb, B);
    /* ids: given, or the cluster's next default ids (a retry: its plan's) */
    ids = e.ids;
    uint64_t id0 = jstate == 1 && je->ids_count ? je->ids_first : g->next_id;
    if (st == HERS_OK && !ids) {
        if (jstate == 1 && je->ids_count != e.m)
            st = hers_error(HERS_ERR_FORMAT, "enrol: the journal's plan gave this request "
                                             "%llu default ids, it has %zu templates",
                            (unsigned long long)je->ids_count, e.m);
        defid = calloc(e.m ? e.m : 1, sizeof *defid);
        ids = calloc(e.m ? e.m : 1, sizeof *ids);
        if (st == HERS_OK && (!defid || !ids))
            st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
        for (size_t i = 0; st == HERS_OK && i < e.m; i++) {
            snprintf(defid[i], sizeof defid[i], "%llu", (unsigned long long)(id0 + i));
            ids[i] = defid[i];
        }
    }
    if (st == HERS_OK && e.replace && !(old = calloc(e.m ? e.m : 1, sizeof *old)))
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    for (size_t i = 0; st == HERS_OK && i < e.m; i++) {
        int at = cl_idmap_get(g->map, ids[i]);
        if (cl_idmap_get(seen, ids[i]) >= 0)
            st = hers_error(HERS_ERR_ARG, "enrol: id '%s' appears twice", ids[i]);
        else if (at >= 0 && !e.replace &&   /* not this request's own, committed before */
                 !(jstate == 1 && (size_t)at == je->assign[(e.offset + i) / N]))
            st = hers_error(HERS_ERR_EXISTS, "enrol: id '%s' exists (shard %d)", ids[i], at);
        else if (cl_idmap_put(seen, ids[i], 0))
            st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
        else if (at >= 0 && e.replace && !(jstate == 1 && je->cleared))
            old[nold++] = ids[i];   /* an old template: deleted before the new one is written */
    }
    /* placement: each whole block to the shard with the fewest slots */
    if (st == HERS_OK && (!(assign = calloc(B ? B : 1, sizeof *assign)) ||
                          !(list = calloc(B ? B : 1, sizeof *list)) ||
                          !(sub_ids = calloc(e.m ? e.m : 1, sizeof *sub_ids))))
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    for (unsigned r = 0; st == HERS_OK && r < K; r++)
        cnt[r] = g->st[r].info.next_slot;
    pthread_mutex_unlock(&g->sl);
    size_t n = e.offset + e.m;
    for (size_t j = 0; st == HERS_OK && jstate == 1 && j < B; j++)
        assign[j] = je->assign[j];   /* a retry keeps its plan */
    for (size_t j = 0; st == HERS_OK && jstate != 1 && j < B; j++) {
        size_t rows = j + 1 < B ? N : n - j * N, off = j ? 0 : e.offset;
        unsigned t = emptiest(cnt, K);
        uint64_t b = cnt[t] <= off ? 0 : (cnt[t] - off + N - 1) / N;
        assign[j] = t;
        cnt[t] = b * N + rows;
    }
    if (st == HERS_OK && jstate != 1) {   /* durable before any shard writes */
        st = cl_journal_plan(g->journal, rid, assign, B, e.ids ? 0 : id0, e.ids ? 0 : e.m);
        if (st == HERS_OK && !e.ids && id0 + e.m > g->next_id)
            g->next_id = id0 + e.m;
    }
    /* replace: the old templates go first, wherever they are */
    if (st == HERS_OK && e.replace && !(jstate == 1 && je->cleared)) {
        if (nold && (st = del_locked(g, old, nold)) != HERS_OK)
            st = hers_error(st, "enrol: replace: deleting the old templates failed (retrying the "
                                "same request completes it): %s", hers_last_error());
        if (st == HERS_OK)
            st = cl_journal_clear(g->journal, rid);
    }
    for (unsigned r = 0; st == HERS_OK && r < K; r++) {
        size_t nl = 0, m = 0;
        for (size_t j = 0; j < B; j++)
            if (assign[j] == r)
                list[nl++] = j;
        if (!nl)
            continue;
        for (size_t a = 0; a < nl; a++) {   /* the templates of these blocks, in order */
            size_t j = list[a], lo = j * N, hi = j + 1 < B ? lo + N : n;
            for (size_t row = lo < e.offset ? e.offset : lo; row < hi; row++)
                sub_ids[m++] = ids[row - e.offset];
        }
        /* a retry: this shard committed its blocks before the job died (with
         * replace, the old templates were deleted before: what is there is new) */
        pthread_mutex_lock(&g->sl);
        int done_before = jstate == 1 && cl_idmap_get(g->map, sub_ids[0]) == (int)r;
        pthread_mutex_unlock(&g->sl);
        if (done_before)
            continue;
        hers_gallery *sub = NULL;
        size_t off = list[0] == 0 ? e.offset : 0;
        st = hers_gallery_take_blocks(p, gl, list, nl, &sub);
        if (st == HERS_OK)
            st = hers_net_enroll_encode(p, sub, off, sub_ids, m, e.replace, e.model_id,
                                        e.model_id_len, &sc[r], &sc_len[r]);
        hers_gallery_free(sub);
    }
    if (st == HERS_OK) {
        call k;
        call_init(&k, OP_ENROLL, g->name);
        k.h.scatter = 1;
        k.sc = sc;
        k.sc_len = sc_len;
        hers_status cs = submit(g->c, &k, &rep);
        char msg[300];
        snprintf(msg, sizeof msg, "%s", hers_last_error());
        take_states(g, rep);
        /* the map follows what each shard committed */
        pthread_mutex_lock(&g->sl);
        unsigned failed = K, committed = 0;
        for (unsigned r = 0; r < K; r++) {
            if (!sc_len[r])
                continue;
            if (rep[r].st != HERS_OK) {
                failed = failed == K ? r : failed;
                continue;
            }
            committed++;
            for (size_t j = 0; j < B; j++)
                if (assign[j] == r) {
                    size_t lo = j * N, hi = j + 1 < B ? lo + N : n;
                    for (size_t row = lo < e.offset ? e.offset : lo; row < hi; row++)
                        if (cl_idmap_put(g->map, ids[row - e.offset], r))
                            cs = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
                }
        }
        for (size_t i = 0; e.ids && i < e.m; i++) {   /* given decimal ids: default ones above */
            int64_t v = numeric_id(ids[i]);
            if (v >= 0 && (uint64_t)v >= g->next_id)
                g->next_id = (uint64_t)v + 1;
        }
        uint64_t first = 0;
        if (cs == HERS_OK) {   /* block 0's shard: where it was placed (now or before) */
            unsigned r0 = (unsigned)assign[0];
            first = base_of(g, r0, N) + (sc_len[r0] ? g->st[r0].first_slot : 0);
        }
        pthread_mutex_unlock(&g->sl);
        if (cs != HERS_OK && committed)
            st = hers_error(cs, "enrol: partly applied (%u shard(s) committed their blocks; "
                                "retrying the same request completes it); shard %u: %s",
                            committed, failed, msg);
        else if (cs != HERS_OK)
            st = hers_error(cs, "%s", msg);
        if (st == HERS_OK)
            st = cl_journal_done(g->journal, rid, e.m, first);
        if (st == HERS_OK && first_slot)
            *first_slot = first;
    }
    pthread_mutex_unlock(&g->wl);
    if (st == HERS_OK && count)
        *count = e.m;
    reply_free(rep, (int)K);
    for (unsigned r = 0; sc && r < K; r++)
        hers_free(sc[r]);
    free(sc);
    free(sc_len);
    free(cnt);
    free(assign);
    free(list);
    free(sub_ids);
    free(old);
    if (ids != e.ids)
        free(ids);
    free(defid);
    cl_idmap_free(seen);
    hers_gallery_free(gl);
    hers_net_enroll_free(&e);
    return st;
}

static hers_status be_del(void *gal, const char *const *ids, size_t count)
{
    cgal *g = gal;
    pthread_mutex_lock(&g->wl);
    hers_status st = del_locked(g, ids, count);
    pthread_mutex_unlock(&g->wl);
    return st;
}

static hers_status be_compact(void *gal, hers_store_compact_stats *cs)
{
    cgal *g = gal;
    call k;
    call_init(&k, OP_COMPACT, g->name);
    reply *rep = NULL;
    pthread_mutex_lock(&g->wl);
    hers_status st = submit(g->c, &k, &rep);
    take_states(g, rep);
    pthread_mutex_unlock(&g->wl);
    memset(cs, 0, sizeof *cs);
    cs->shrunk = 1;
    for (int r = 0; st == HERS_OK && r < g->c->size; r++) {
        const hers_store_compact_stats *x = &g->st[r].cs;
        cs->segments_before += x->segments_before;
        cs->segments_after += x->segments_after;
        cs->slots_before += x->slots_before;
        cs->slots_after += x->slots_after;
        cs->file_before += x->file_before;
        cs->file_after += x->file_after;
        if (!x->shrunk && cs->shrunk) {
            cs->shrunk = 0;
            snprintf(cs->not_shrunk, sizeof cs->not_shrunk, "shard %d: %.200s", r, x->not_shrunk);
        }
    }
    reply_free(rep, g->c->size);
    return st;
}

hers_status hers_cluster_run(hers_cluster *c, const char *root, unsigned threads,
                             hers_cluster_body body, void *user)
{
    free(c->root);
    if (!(c->root = strdup(root)))
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    c->threads = threads;
    hers_status st = HERS_OK;
    if (c->rank == 0) {
        hers_server_backend be = {c, be_create, be_open, be_close, be_db, be_info,
                                  be_search, be_enroll, be_del, be_compact,
                                  be_search_ex, be_catalog, be_shards, NULL};
        c->be = be;
        st = body(c, &c->be, user);
        op_hdr h;
        memset(&h, 0, sizeof h);
        h.kind = OP_STOP;
        collective(c, &h, NULL, NULL, NULL, NULL);
    } else {
        for (;;) {
            op_hdr h;
            memset(&h, 0, sizeof h);
            collective(c, &h, NULL, NULL, NULL, NULL);
            if (h.kind == OP_STOP)
                break;
        }
    }
    while (c->shards) {   /* whatever rank 0 left open */
        shard *s = c->shards;
        c->shards = s->next;
        hers_service_close(s->svc);
        free(s);
    }
    return st;
}
