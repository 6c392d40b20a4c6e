/*
 * service.c - one gallery database held open by the server, with its
 * kernel-form index in memory (hers_net.h "service").
 *
 * State. An immutable, reference-counted `gstate` is the view a search
 * uses: the index as a list of chunks (each a hers_index over a block range,
 * themselves reference-counted and shared between states), the shape and
 * the catalog (live slots ascending and their ids). Writes (enrol, delete,
 * compact) are serialised by `wlock`; each commits to LMDB first, then
 * builds the next state and swaps it in, so a search sees either the state
 * before or after a write, never a mix, and a 201 is only sent after the
 * commit.
 *
 * Incremental index. Blocks are only ever written at the end (appends), so
 * an enrolment rebuilds only the chunks covering its first block onwards:
 * the full blocks become one chunk, the partial last block another. Full
 * chunks are then merged like a binary counter (two neighbours of which
 * the older is not larger are rebuilt as one), so the chunk count stays
 * about log2(blocks) and each block is rebuilt O(log blocks) times in all.
 *
 * Coalescing. A search enqueues its query; if no scan of this gallery is
 * running, the caller becomes the scanner: it takes every queued query,
 * concatenates them (hers_query_concat), scans every chunk once for all of
 * them, hands each its view of the result and repeats while queries are
 * waiting. Others sleep until their answer is ready.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitpack.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "net/net_internal.h"

/* Query buffers kept for reuse per service (each ~8 MB per probe at n4096,
 * d = 64, full form; compact ones ~35 KB): room for a request's two (the
 * compact query and its expansion) from each of 32 concurrent clients, so
 * that the queries of a busy server do not page-fault fresh memory (slow on
 * this VM: docs/design.md "Enrolment: the fresh-page bound"). */
#define SPARE_QUERIES 64

typedef struct chunk {
    atomic_int refs;
    size_t b0, nb;
    hers_index *ix;
} chunk;

typedef struct gstate {
    atomic_int refs;
    size_t nchunks;
    chunk **chunks;
    uint64_t slots;
    size_t d;
    uint32_t scale;
    hers_search_mode mode;
    size_t live;
    uint64_t *live_slots;  /* ascending */
    size_t *id_off;        /* offsets into blob */
    char *blob;            /* NUL-terminated ids back to back */
    size_t blob_len;
    uint8_t *cat;          /* the catalog as HERSRSP carries it, built once */
    size_t cat_len;
    uint64_t version;      /* catalog version: random per write, content hash at a rebuild */
    uint8_t *catrec;       /* its HERSCAT record, built at the first GET (s->catlock) */
    size_t catrec_len;
} gstate;

typedef struct job {
    hers_query *q;
    size_t count;          /* its probes (q goes back to the spares after the pass) */
    hers_result_shrink shrink;
    int compact;           /* compact result records */
    unsigned rsp_version;  /* HERSRSP version to write */
    int with_cat;          /* version 2: the catalog inside */
    uint64_t cat_version;  /* out: the catalog version of the snapshot searched */
    int done;
    hers_status st;
    char err[256];
    uint8_t *resp;
    size_t resp_len;
    int pieces;            /* answer as pieces (ans) instead of resp */
    hers_net_answer *ans;
    struct pass *ps;       /* the pass that scanned this job (shared results) */
    size_t first;          /* its first probe in the pass */
    struct job *next;
} job;

struct hers_service {
    hers_store *db;
    unsigned threads;
    pthread_mutex_t wlock;     /* writers */
    pthread_mutex_t lock;      /* cur, queue, counters */
    pthread_mutex_t catlock;   /* building a state's HERSCAT record */
    pthread_cond_t cv;
    gstate *cur;
    job *head, *tail;
    int scanning;
    hers_searcher *sr;
    uint64_t passes, probes, queries;
    /* query buffers kept between searches (deserialised full and compact
     * queries, expanded ones), so that a search neither allocates nor
     * zero-fills nor page-faults its ~8 MB (n4096, d = 64) per probe */
    pthread_mutex_t sparelock;
    hers_query *spare[SPARE_QUERIES];
    size_t nspare;
};

static void chunk_unref(chunk *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        hers_index_free(c->ix);
        free(c);
    }
}

static void state_unref(gstate *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    for (size_t i = 0; i < g->nchunks; i++)
        chunk_unref(g->chunks[i]);
    free(g->chunks);
    free(g->live_slots);
    free(g->id_off);
    free(g->blob);
    free(g->cat);
    free(g->catrec);
    free(g);
}

static gstate *state_get(hers_service *s)
{
    pthread_mutex_lock(&s->lock);
    gstate *g = s->cur;
    if (g)
        atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return g;
}

static void state_set(hers_service *s, gstate *g)
{
    pthread_mutex_lock(&s->lock);
    gstate *old = s->cur;
    s->cur = g;
    pthread_mutex_unlock(&s->lock);
    state_unref(old);
}

static hers_status build_chunk(hers_store_snapshot *snap, size_t b0, size_t nb, unsigned threads,
                               chunk **out)
{
    chunk *c = calloc(1, sizeof *c);
    if (!c)
        return hers_error(HERS_ERR_NOMEM, "service: out of memory");
    hers_status st = hers_store_snapshot_index(snap, b0, nb, threads, &c->ix);
    if (st != HERS_OK) {
        free(c);
        return st;
    }
    atomic_init(&c->refs, 1);
    c->b0 = b0;
    c->nb = nb;
    *out = c;
    return HERS_OK;
}

/* Catalog helpers. */
static hers_status cat_reserve(gstate *g, size_t live, size_t blob)
{
    g->live_slots = malloc((live ? live : 1) * sizeof *g->live_slots);
    g->id_off = malloc((live ? live : 1) * sizeof *g->id_off);
    g->blob = malloc(blob ? blob : 1);
    g->cat = malloc(9 * live + blob + 1);   /* blob counts a NUL per id: room to spare */
    if (!g->live_slots || !g->id_off || !g->blob || !g->cat)
        return hers_error(HERS_ERR_NOMEM, "service: out of memory for the catalog");
    return HERS_OK;
}

static void cat_add(gstate *g, uint64_t slot, const char *id)
{
    size_t l = strlen(id) + 1;
    g->live_slots[g->live] = slot;
    g->id_off[g->live] = g->blob_len;
    memcpy(g->blob + g->blob_len, id, l);
    g->cat_len += net_catalog_put(g->cat + g->cat_len, slot, id, l - 1);
    g->blob_len += l;
    g->live++;
}

/* The catalog of a snapshot, read from LMDB (open, compaction). */
static hers_status cat_from_snapshot(gstate *g, hers_store_snapshot *snap)
{
    uint64_t n = g->slots;
    uint8_t *live = malloc(n ? (size_t)n : 1);
    if (!live)
        return hers_error(HERS_ERR_NOMEM, "service: out of memory");
    hers_status st = n ? hers_store_snapshot_live_map(snap, 0, n, live) : HERS_OK;
    size_t cnt = 0, bytes = 0;
    for (uint64_t i = 0; st == HERS_OK && i < n; i++)
        if (live[i]) {
            const char *id = hers_store_snapshot_id(snap, i);
            if (!id) {
                st = hers_error(HERS_ERR_FORMAT, "service: live slot %llu has no id",
                                (unsigned long long)i);
                break;
            }
            cnt++;
            bytes += strlen(id) + 1;
        }
    if (st == HERS_OK)
        st = cat_reserve(g, cnt, bytes);
    for (uint64_t i = 0; st == HERS_OK && i < n; i++)
        if (live[i])
            cat_add(g, i, hers_store_snapshot_id(snap, i));
    free(live);
    return st;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* next's catalog = old's minus the ids in `drop` (sorted), plus the m new
 * (first_slot + i, ids[i]). */
static hers_status cat_update(gstate *next, const gstate *old, const char **drop, size_t ndrop,
                              uint64_t first_slot, const char *const *ids, size_t m)
{
    size_t add = 0;
    for (size_t i = 0; i < m; i++)
        add += strlen(ids[i]) + 1;
    hers_status st = cat_reserve(next, old->live + m, old->blob_len + add);
    if (st != HERS_OK)
        return st;
    for (size_t i = 0; i < old->live; i++) {
        const char *id = old->blob + old->id_off[i];
        if (ndrop && bsearch(&id, drop, ndrop, sizeof *drop, cmp_cstr))
            continue;
        cat_add(next, old->live_slots[i], id);
    }
    for (size_t i = 0; i < m; i++)
        cat_add(next, first_slot + i, ids[i]);
    return HERS_OK;
}

/* Index chunks of next: old's chunks entirely before block `from` are
 * shared, blocks [from', blocks) rebuilt (from' = start of the first chunk
 * reaching `from`), then full chunks merged. */
static hers_status index_update(hers_service *s, gstate *next, const gstate *old, size_t from,
                                hers_store_snapshot *snap)
{
    size_t N = hers_params_n(hers_store_params(s->db));
    size_t blocks = (size_t)((next->slots + N - 1) / N), full = (size_t)(next->slots / N);
    next->chunks = calloc(blocks + 2, sizeof *next->chunks);
    if (!next->chunks)
        return hers_error(HERS_ERR_NOMEM, "service: out of memory");
    size_t start = 0;
    if (old)
        for (size_t i = 0; i < old->nchunks; i++) {
            chunk *c = old->chunks[i];
            /* shared only if untouched and built full (a chunk built when
             * its last block was partial covers fewer templates) */
            if (c->b0 + c->nb > from || c->b0 + c->nb > full ||
                hers_index_n(c->ix) != c->nb * N)
                break;
            atomic_fetch_add(&c->refs, 1);
            next->chunks[next->nchunks++] = c;
            start = c->b0 + c->nb;
        }
    hers_status st = HERS_OK;
    if (start < full)
        st = build_chunk(snap, start, full - start, s->threads, &next->chunks[next->nchunks++]);
    if (st != HERS_OK) {
        next->nchunks--;
        return st;
    }
    /* merge full chunks: binary counter */
    while (next->nchunks >= 2) {
        chunk *a = next->chunks[next->nchunks - 2], *b = next->chunks[next->nchunks - 1];
        if (a->nb > b->nb)
            break;
        chunk *c = NULL;
        if ((st = build_chunk(snap, a->b0, a->nb + b->nb, s->threads, &c)) != HERS_OK)
            return st;
        chunk_unref(a);
        chunk_unref(b);
        next->nchunks -= 2;
        next->chunks[next->nchunks++] = c;
    }
    if (full < blocks) {
        if ((st = build_chunk(snap, full, blocks - full, s->threads,
                              &next->chunks[next->nchunks])) != HERS_OK)
            return st;
        next->nchunks++;
    }
    return HERS_OK;
}

/* A fresh catalog version after a write: 64 random bits, so that a version
 * names one catalog across galleries, servers and restarts (a counter would
 * repeat after a restart or a restored backup and let a client keep a stale
 * catalog). */
static uint64_t version_fresh(uint64_t old)
{
    uint64_t v = old + 0x9e3779b97f4a7c15u;   /* only if the CSPRNG failed */
    do
        (void)hers_random_bytes(&v, sizeof v);
    while (v == 0 || v == old);   /* 0: "none" (version-1 records, empty caches) */
    return v;
}

/* The version of a state built from the database (open, compaction): a hash
 * of its catalog's content, so that a restart without writes keeps the
 * clients' cached catalogs valid. */
static uint64_t version_of_content(const gstate *g)
{
    uint8_t h[8], sl[8];
    crypto_generichash_state hs;
    for (int i = 0; i < 8; i++)
        sl[i] = (uint8_t)(g->slots >> (8 * i));
    crypto_generichash_init(&hs, NULL, 0, sizeof h);
    crypto_generichash_update(&hs, (const uint8_t *)"hers catalog v1", 15);
    crypto_generichash_update(&hs, sl, sizeof sl);
    crypto_generichash_update(&hs, g->cat, g->cat_len);
    crypto_generichash_final(&hs, h, sizeof h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)h[i] << (8 * i);
    return v ? v : 1;
}

static gstate *state_new(hers_store_snapshot *snap)
{
    gstate *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    atomic_init(&g->refs, 1);
    g->slots = hers_store_snapshot_slots(snap);
    g->d = hers_store_snapshot_d(snap);
    g->scale = hers_store_snapshot_scale(snap);
    g->mode = hers_store_snapshot_mode(snap);
    return g;
}

/* A fresh state of the whole database. */
static hers_status rebuild(hers_service *s)
{
    hers_store_snapshot *snap = NULL;
    hers_status st = hers_store_snapshot_open(s->db, &snap);
    if (st != HERS_OK)
        return st;
    gstate *g = state_new(snap);
    if (!g)
        st = hers_error(HERS_ERR_NOMEM, "service: out of memory");
    if (st == HERS_OK)
        st = cat_from_snapshot(g, snap);
    if (st == HERS_OK)
        g->version = version_of_content(g);
    if (st == HERS_OK && g->d)
        st = index_update(s, g, NULL, 0, snap);
    hers_store_snapshot_close(snap);
    if (st != HERS_OK) {
        state_unref(g);
        return st;
    }
    state_set(s, g);
    return HERS_OK;
}

hers_status hers_service_open(const char *dir, unsigned threads, hers_service **out)
{
    if (!dir || !out)
        return hers_error(HERS_ERR_ARG, "service: NULL argument");
    *out = NULL;
    hers_service *s = calloc(1, sizeof *s);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "service: out of memory");
    s->threads = threads;
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->catlock, NULL);
    pthread_mutex_init(&s->sparelock, NULL);
    pthread_cond_init(&s->cv, NULL);
    hers_status st = hers_store_open(dir, 0, &s->db);
    if (st == HERS_OK)
        st = hers_searcher_create(threads, &s->sr);
    if (st == HERS_OK)
        st = rebuild(s);
    if (st != HERS_OK) {
        hers_service_close(s);
        return st;
    }
    *out = s;
    return HERS_OK;
}

void hers_service_close(hers_service *s)
{
    if (!s)
        return;
    state_unref(s->cur);
    for (size_t i = 0; i < s->nspare; i++)
        hers_query_free(s->spare[i]);
    pthread_mutex_destroy(&s->sparelock);
    hers_searcher_free(s->sr);
    hers_store_close(s->db);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->catlock);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->wlock);
    free(s);
}

hers_store *hers_service_db(hers_service *s) { return s ? s->db : NULL; }

/* ------------------------------------------------------------ search */

/* A kept query buffer of this form, probe count and d, or NULL. */
static hers_query *spare_take(hers_service *s, int compact, size_t count, size_t d)
{
    hers_query *q = NULL;
    pthread_mutex_lock(&s->sparelock);
    for (size_t i = s->nspare; i-- > 0;)
        if ((hers_query_get_form(s->spare[i]) == HERS_QUERY_COMPACT) == compact &&
            hers_query_count(s->spare[i]) == count && hers_query_d(s->spare[i]) == d) {
            q = s->spare[i];
            s->spare[i] = s->spare[--s->nspare];
            break;
        }
    pthread_mutex_unlock(&s->sparelock);
    return q;
}

/* Keeps q for reuse (the oldest kept one goes when the list is full). */
static void spare_give(hers_service *s, hers_query *q)
{
    if (!q)
        return;
    hers_query *drop = NULL;
    pthread_mutex_lock(&s->sparelock);
    if (s->nspare == SPARE_QUERIES) {
        drop = s->spare[0];
        memmove(s->spare, s->spare + 1, (SPARE_QUERIES - 1) * sizeof *s->spare);
        s->nspare--;
    }
    s->spare[s->nspare++] = q;
    pthread_mutex_unlock(&s->sparelock);
    hers_query_free(drop);
}

/* The request's query in the full form, in kept buffers where they fit: a
 * compact one expanded with the gallery's Galois keys (on this caller's
 * thread: concurrent callers expand on every core). */
static hers_status query_read(hers_service *s, const void *query, size_t len, hers_query **out)
{
    const hers_params *p = hers_store_params(s->db);
    const uint8_t *b = query;
    hers_query *in = NULL;
    *out = NULL;
    if (len >= 64)   /* the record's header: kind, count, d (validated by the reader) */
        in = spare_take(s, hers_le_get_u32(b + 12) == 3, hers_le_get_u64(b + 48),
                        hers_le_get_u32(b + 56));
    hers_status st = hers_query_deserialize_into(p, query, len, &in);
    if (st != HERS_OK)
        return st;
    if (hers_query_get_form(in) != HERS_QUERY_COMPACT) {
        *out = in;
        return HERS_OK;
    }
    const hers_galois_key *gk = hers_store_galois_key(s->db);
    hers_query *full = NULL;
    if (!gk)
        st = hers_error(HERS_ERR_MISMATCH, "search: a compact query, but the gallery has no "
                                           "Galois keys: send a full query");
    else if ((full = spare_take(s, 0, hers_query_count(in), hers_query_d(in))) != NULL)
        st = hers_query_expand_into(p, gk, in, s->threads, full);
    else
        st = hers_query_expand(p, gk, in, s->threads, &full);
    spare_give(s, in);
    if (st != HERS_OK) {
        hers_query_free(full);
        return st;
    }
    *out = full;
    return HERS_OK;
}

/* Scans every chunk of g for the batch q; res[i] gets chunk i's result. */
static hers_status scan(hers_service *s, const gstate *g, const hers_query *q,
                        hers_result_shrink shrink, hers_result **res)
{
    const hers_params *p = hers_store_params(s->db);
    hers_search_opts so = {shrink, hers_store_relin_key(s->db)};
    for (size_t i = 0; i < g->nchunks; i++) {
        hers_status st = hers_search(s->sr, p, g->chunks[i]->ix, q, &so, &res[i]);
        if (st != HERS_OK)
            return st;
    }
    return HERS_OK;
}

/* The results of one pass, shared by its jobs: each caller encodes its own
 * response from views of them (in its own thread, while the next pass may
 * already scan), and the last one frees them. */
typedef struct pass {
    atomic_int refs;
    gstate *g;
    hers_result **res;   /* per chunk, every probe of the pass */
    size_t *fb;          /* first block per chunk */
    hers_status st;
    char err[256];
} pass;

static void pass_unref(pass *ps)
{
    if (!ps || atomic_fetch_sub(&ps->refs, 1) != 1)
        return;
    for (size_t i = 0; ps->res && ps->g && i < ps->g->nchunks; i++)
        hers_result_free(ps->res[i]);
    free(ps->res);
    free(ps->fb);
    state_unref(ps->g);
    free(ps);
}

static void pass_release(void *ps) { pass_unref(ps); }

/* One pass for the jobs of the list (same shrink): scans, then hands every
 * job the shared results (j->ps, j->first). */
static void run_pass(hers_service *s, job *jobs)
{
    size_t nj = 0, probes = 0;
    for (job *j = jobs; j; j = j->next) {
        nj++;
        probes += hers_query_count(j->q);
    }
    pass *ps = calloc(1, sizeof *ps);
    gstate *g = state_get(s);
    hers_query **qs = calloc(nj, sizeof *qs);
    hers_query *batch = NULL;
    hers_status st = HERS_OK;
    if (ps) {
        atomic_init(&ps->refs, 1);
        ps->g = g;
        ps->res = calloc(g->nchunks ? g->nchunks : 1, sizeof *ps->res);
        ps->fb = calloc(g->nchunks ? g->nchunks : 1, sizeof *ps->fb);
    } else {
        state_unref(g);
    }
    if (!ps || !qs || !ps->res || !ps->fb)
        st = hers_error(HERS_ERR_NOMEM, "search: out of memory");
    else if (!g->d || !g->slots)
        st = hers_error(HERS_ERR_STATE, "search: the gallery is empty");
    size_t k = 0;
    for (job *j = jobs; st == HERS_OK && j; j = j->next) {
        if (hers_query_d(j->q) != g->d)
            st = hers_error(HERS_ERR_MISMATCH, "search: probes have dimension %zu, the "
                                               "gallery %zu", hers_query_d(j->q), g->d);
        qs[k++] = j->q;
    }
    if (st == HERS_OK && nj > 1)
        st = hers_query_concat_view((const hers_query *const *)qs, nj, &batch);
    if (st == HERS_OK)
        st = scan(s, g, nj > 1 ? batch : qs[0], jobs->shrink, ps->res);
    hers_query_free(batch);
    free(qs);
    if (st == HERS_OK)
        for (size_t i = 0; i < g->nchunks; i++)
            ps->fb[i] = g->chunks[i]->b0;
    size_t first = 0;
    for (job *j = jobs; j; j = j->next) {
        j->st = st;
        if (st != HERS_OK) {
            snprintf(j->err, sizeof j->err, "%s", hers_last_error());
            continue;
        }
        atomic_fetch_add(&ps->refs, 1);
        j->ps = ps;
        j->first = first;
        first += hers_query_count(j->q);
    }
    pass_unref(ps);
    pthread_mutex_lock(&s->lock);
    s->passes++;
    s->probes += probes;
    s->queries += nj;
    pthread_mutex_unlock(&s->lock);
}

/* The caller's response from its share of a pass. */
static hers_status encode_job(hers_service *s, job *j)
{
    pass *ps = j->ps;
    const gstate *g = ps->g;
    size_t c = j->count;
    hers_result **views = calloc(g->nchunks ? g->nchunks : 1, sizeof *views);
    hers_status st = views ? HERS_OK : hers_error(HERS_ERR_NOMEM, "search: out of memory");
    for (size_t i = 0; st == HERS_OK && i < g->nchunks; i++)
        st = hers_result_view(ps->res[i], j->first, c, &views[i]);
    if (st == HERS_OK && j->pieces && j->compact && j->rsp_version >= 2) {
        /* without copying: the answer points into the pass's bodies and
         * holds the pass (its memory out of the result pool) until freed */
        st = net_response_pieces2(hers_store_params(s->db), s->threads, g->scale, g->d, c,
                                  g->slots, g->nchunks, ps->fb, (const hers_result *const *)views,
                                  g->live, g->cat, g->cat_len, g->version, j->with_cat, &j->ans);
        if (st == HERS_OK) {
            atomic_fetch_add(&ps->refs, 1);
            j->ans->release = pass_release;
            j->ans->owner = ps;
        } else if (st == HERS_ERR_UNSUPPORTED) {
            st = HERS_OK;   /* slot packing: the copying encoder below */
        }
    }
    if (st == HERS_OK && !j->ans)
        st = j->rsp_version >= 2
                 ? net_response_encode2(hers_store_params(s->db), s->threads, j->compact,
                                        g->scale, g->d, c, g->slots, g->nchunks, ps->fb,
                                        (const hers_result *const *)views, g->live, g->cat,
                                        g->cat_len, g->version, j->with_cat, &j->resp,
                                        &j->resp_len)
                 : net_response_encode(hers_store_params(s->db), j->compact, g->scale, g->d, c,
                                       g->slots, g->nchunks, ps->fb,
                                       (const hers_result *const *)views, g->live, g->cat,
                                       g->cat_len, 1, g->version, 1, &j->resp, &j->resp_len);
    if (st == HERS_OK && j->pieces && !j->ans)   /* one piece: the record */
        st = net_answer_flat(j->resp, j->resp_len,
                             j->rsp_version >= 2 ? net_pool_free : hers_free, &j->ans);
    j->cat_version = g->version;
    for (size_t i = 0; views && i < g->nchunks; i++)
        hers_result_free(views[i]);
    free(views);
    return st;
}

/* ans non-NULL: the answer as pieces (resp, resp_len unused) */
static hers_status search_any(hers_service *s, const void *query, size_t len,
                              hers_result_shrink shrink, int compact, unsigned rsp_version,
                              int with_cat, uint8_t **resp, size_t *resp_len,
                              uint64_t *cat_version, hers_net_answer **ans)
{
    if (ans)
        *ans = NULL;
    if (!s || !query || (!ans && (!resp || !resp_len)))
        return hers_error(HERS_ERR_ARG, "search: NULL argument");
    if (shrink > HERS_RESULT_RELINEARIZED)
        return hers_error(HERS_ERR_ARG, "search: unknown result form");
    /* compact records: relinearised, switched and packed per block inside
     * the pass (the pass's ciphertexts go back to the result pool before the
     * callers encode; their own passes: the full forms need ciphertexts) */
    if (compact)
        shrink = HERS_RESULT_COMPACT;
    if ((shrink == HERS_RESULT_RELINEARIZED || compact) && !hers_store_relin_key(s->db))
        return hers_error(HERS_ERR_MISMATCH, "search: relinearized and compact results need the "
                                             "gallery's relinearisation key (none stored)");
    if (resp)
        *resp = NULL;
    job j;
    memset(&j, 0, sizeof j);
    j.pieces = ans != NULL;
    j.shrink = shrink;
    j.compact = compact;
    j.rsp_version = rsp_version;
    j.with_cat = with_cat;
    hers_status st = query_read(s, query, len, &j.q);
    if (st != HERS_OK)
        return st;
    gstate *g = state_get(s);
    if (g && g->d && hers_query_scale(j.q) != g->scale)
        st = hers_error(HERS_ERR_MISMATCH, "search: the query uses scale %u, the gallery %u",
                        hers_query_scale(j.q), g->scale);
    state_unref(g);
    if (st != HERS_OK) {
        spare_give(s, j.q);
        return st;
    }
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = &j;
    else
        s->head = &j;
    s->tail = &j;
    while (!j.done) {
        if (!s->scanning) {
            /* become the scanner: take every waiting job of the first one's form */
            s->scanning = 1;
            job *take = NULL, **tt = &take, *keep = NULL, **kt = &keep;
            hers_result_shrink f = s->head->shrink;
            for (job *x = s->head, *nx; x; x = nx) {
                nx = x->next;
                x->next = NULL;
                if (x->shrink == f) {
                    *tt = x;
                    tt = &x->next;
                } else {
                    *kt = x;
                    kt = &x->next;
                }
            }
            s->head = keep;
            s->tail = NULL;
            for (job *x = keep; x; x = x->next)
                s->tail = x;
            pthread_mutex_unlock(&s->lock);
            run_pass(s, take);
            pthread_mutex_lock(&s->lock);
            for (job *x = take; x; x = x->next)
                x->done = 1;
            s->scanning = 0;
            pthread_cond_broadcast(&s->cv);
        } else {
            pthread_cond_wait(&s->cv, &s->lock);
        }
    }
    pthread_mutex_unlock(&s->lock);
    /* scanned: the query's buffers serve the next request while this one
     * encodes its response */
    j.count = hers_query_count(j.q);
    spare_give(s, j.q);
    j.q = NULL;
    if (j.st == HERS_OK) {
        j.st = encode_job(s, &j);
        if (j.st != HERS_OK)
            snprintf(j.err, sizeof j.err, "%s", hers_last_error());
    }
    pass_unref(j.ps);   /* an answer of pieces holds its own reference */
    if (j.st != HERS_OK)
        return hers_error(j.st, "%s", j.err);
    if (ans) {
        *ans = j.ans;
    } else {
        *resp = j.resp;
        *resp_len = j.resp_len;
    }
    if (cat_version)
        *cat_version = j.cat_version;
    return HERS_OK;
}

hers_status hers_service_search(hers_service *s, const void *query, size_t len,
                                hers_result_shrink shrink, int compact, uint8_t **resp,
                                size_t *resp_len)
{
    return search_any(s, query, len, shrink, compact, 1, 1, resp, resp_len, NULL, NULL);
}

hers_status hers_service_search_ex(hers_service *s, const void *query, size_t len,
                                   const hers_service_search_opts *o, uint8_t **resp,
                                   size_t *resp_len, uint64_t *cat_version)
{
    if (!o)
        return hers_error(HERS_ERR_ARG, "search: NULL options");
    return search_any(s, query, len, o->shrink, o->compact, HERS_NET_RESPONSE_VERSION,
                      o->with_catalog != 0, resp, resp_len, cat_version, NULL);
}

hers_status hers_service_search_pieces(hers_service *s, const void *query, size_t len,
                                       const hers_service_search_opts *o, hers_net_answer **out,
                                       uint64_t *cat_version)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "search: out is NULL");
    *out = NULL;
    if (!o)
        return hers_error(HERS_ERR_ARG, "search: NULL options");
    return search_any(s, query, len, o->shrink, o->compact, HERS_NET_RESPONSE_VERSION,
                      o->with_catalog != 0, NULL, NULL, cat_version, out);
}

hers_status hers_service_catalog(hers_service *s, uint64_t if_none_match, uint64_t *version,
                                 uint8_t **rec, size_t *rec_len)
{
    if (!s || !version || !rec || !rec_len)
        return hers_error(HERS_ERR_ARG, "catalog: NULL argument");
    *rec = NULL;
    *rec_len = 0;
    gstate *g = state_get(s);
    if (!g)
        return hers_error(HERS_ERR_STATE, "catalog: the service has no state");
    *version = g->version;
    hers_status st = HERS_OK;
    if (g->version != if_none_match) {
        /* built once per state (hashing a 2^20-id catalog takes ~15 ms),
         * then copied for each caller: the state may go while it is sent */
        pthread_mutex_lock(&s->catlock);
        if (!g->catrec)
            st = net_catalog_encode(g->version, g->slots, g->live, g->cat, g->cat_len, &g->catrec,
                                    &g->catrec_len);
        if (st == HERS_OK && !(*rec = hers_alloc(g->catrec_len)))
            st = hers_error(HERS_ERR_NOMEM, "catalog: out of memory for %zu bytes",
                            g->catrec_len);
        if (st == HERS_OK) {
            memcpy(*rec, g->catrec, g->catrec_len);
            *rec_len = g->catrec_len;
        }
        pthread_mutex_unlock(&s->catlock);
    }
    state_unref(g);
    return st;
}

/* ------------------------------------------------------------ writes */

/* After a committed write: installs next, or, when building it failed,
 * rebuilds the whole view from the database (the commit stands either way).
 * HERS_OK unless the rebuild fails too (then bs). */
static hers_status install(hers_service *s, gstate *next, hers_status bs)
{
    if (bs == HERS_OK) {
        state_set(s, next);
        return HERS_OK;
    }
    state_unref(next);
    return rebuild(s) == HERS_OK ? HERS_OK : bs;
}

/* A sorted copy of n ids (for cat_update's lookups), NULL when out of memory. */
static const char **sorted_ids(const char *const *ids, size_t n)
{
    const char **d = malloc((n ? n : 1) * sizeof *d);
    if (d) {
        memcpy(d, ids, n * sizeof *d);
        qsort(d, n, sizeof *d, cmp_cstr);
    }
    return d;
}

hers_status hers_service_enroll(hers_service *s, const void *req, size_t len,
                                uint64_t *first_slot, size_t *count)
{
    hers_net_enroll e;
    hers_status st = hers_net_enroll_decode(req, len, &e);
    if (st != HERS_OK)
        return st;
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.mode = e.mode;
    o.scale = e.scale;
    o.replace = e.replace;
    o.model_id = e.model_id;
    o.model_id_len = e.model_id_len;
    pthread_mutex_lock(&s->wlock);
    uint64_t s0 = 0;
    st = hers_store_enroll_record(s->db, e.record, e.record_len, e.offset, e.m,
                               (const char *const *)e.ids, &o, &s0);
    hers_status ds = HERS_OK;
    if (st == HERS_OK && !e.ids) {   /* the default ids the store gave: slot numbers */
        if (!(e.ids = calloc(e.m, sizeof *e.ids)))
            ds = hers_error(HERS_ERR_NOMEM, "service: out of memory");
        for (size_t i = 0; ds == HERS_OK && i < e.m; i++)
            if (!(e.ids[i] = malloc(24)))
                ds = hers_error(HERS_ERR_NOMEM, "service: out of memory");
            else
                snprintf(e.ids[i], 24, "%llu", (unsigned long long)(s0 + i));
        if (ds != HERS_OK && rebuild(s) != HERS_OK)
            st = ds;
    }
    if (st == HERS_OK && ds == HERS_OK) {
        /* committed: the next state */
        gstate *old = state_get(s), *next = NULL;
        hers_store_snapshot *snap = NULL;
        const char **drop = NULL;
        hers_status bs = hers_store_snapshot_open(s->db, &snap);
        if (bs == HERS_OK && !(next = state_new(snap)))
            bs = hers_error(HERS_ERR_NOMEM, "service: out of memory");
        if (bs == HERS_OK && e.replace &&
            !(drop = sorted_ids((const char *const *)e.ids, e.m)))
            bs = hers_error(HERS_ERR_NOMEM, "service: out of memory");
        if (bs == HERS_OK) {
            bs = cat_update(next, old, drop, e.replace ? e.m : 0, s0,
                            (const char *const *)e.ids, e.m);
            next->version = version_fresh(old->version);
        }
        if (bs == HERS_OK)
            bs = index_update(s, next, old, (size_t)(s0 / hers_params_n(hers_store_params(s->db))),
                              snap);
        hers_store_snapshot_close(snap);
        free(drop);
        state_unref(old);
        st = install(s, next, bs);
    }
    pthread_mutex_unlock(&s->wlock);
    if (st == HERS_OK) {
        if (first_slot)
            *first_slot = s0;
        if (count)
            *count = e.m;
    }
    hers_net_enroll_free(&e);
    return st;
}

hers_status hers_service_delete(hers_service *s, const char *const *ids, size_t count)
{
    pthread_mutex_lock(&s->wlock);
    hers_status st = hers_store_delete(s->db, ids, count);
    if (st == HERS_OK) {
        gstate *old = state_get(s);
        gstate *next = calloc(1, sizeof *next);
        const char **drop = sorted_ids(ids, count);
        hers_status bs = next && drop ? HERS_OK
                                      : hers_error(HERS_ERR_NOMEM, "service: out of memory");
        if (bs == HERS_OK) {   /* same shape and chunks, fewer live ids */
            atomic_init(&next->refs, 1);
            next->slots = old->slots;
            next->d = old->d;
            next->scale = old->scale;
            next->mode = old->mode;
            next->version = version_fresh(old->version);
            bs = cat_update(next, old, drop, count, 0, NULL, 0);
        }
        if (bs == HERS_OK && !(next->chunks = calloc(old->nchunks + 1, sizeof *next->chunks)))
            bs = hers_error(HERS_ERR_NOMEM, "service: out of memory");
        for (size_t i = 0; bs == HERS_OK && i < old->nchunks; i++) {
            atomic_fetch_add(&old->chunks[i]->refs, 1);
            next->chunks[next->nchunks++] = old->chunks[i];
        }
        free(drop);
        state_unref(old);
        st = install(s, next, bs);
    }
    pthread_mutex_unlock(&s->wlock);
    return st;
}

hers_status hers_service_compact(hers_service *s, hers_store_compact_stats *stats)
{
    pthread_mutex_lock(&s->wlock);
    hers_status st = hers_store_compact(s->db, NULL, s->threads, stats);
    if (st == HERS_OK)
        st = rebuild(s);
    pthread_mutex_unlock(&s->wlock);
    return st;
}

hers_status hers_service_info(hers_service *s, hers_store_info *info, hers_service_stats *out)
{
    /* compaction reopens the LMDB environment: never read beside it */
    pthread_mutex_lock(&s->wlock);
    hers_status st = hers_store_get_info(s->db, info);
    pthread_mutex_unlock(&s->wlock);
    if (st != HERS_OK || !out)
        return st;
    memset(out, 0, sizeof *out);
    gstate *g = state_get(s);
    for (size_t i = 0; g && i < g->nchunks; i++)
        out->index_bytes += hers_index_bytes(g->chunks[i]->ix);
    out->chunks = g ? g->nchunks : 0;
    state_unref(g);
    pthread_mutex_lock(&s->lock);
    out->passes = s->passes;
    out->probes = s->probes;
    out->queries = s->queries;
    pthread_mutex_unlock(&s->lock);
    return HERS_OK;
}
