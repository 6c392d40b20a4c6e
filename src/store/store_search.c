/*
 * store_search.c - hers_store_search: the encrypted search of a gallery
 * database, in one pass or streamed in chunks of blocks when the kernel form
 * of the whole gallery exceeds the memory budget (hers_store.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "search/search_merge.h"
#include "store/store_internal.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hers_store_search_opts_default(hers_store_search_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->search.shrink = HERS_RESULT_FULL;
}

/* Kernel-form bytes of one block, an upper bound: N x d residues per prime,
 * 8 bytes each, two polynomials per both-encrypted ciphertext (the narrow
 * s4096 form packs two residues per word and needs less). */
static uint64_t block_bytes(const hers_store_snapshot *s)
{
    const hers_params *p = s->db->p;
    return (uint64_t)hers_params_n(p) * hers_store_snapshot_d(s) * hers_params_num_primes(p) * 8u *
           (hers_store_snapshot_mode(s) == HERS_MODE_BOTH_ENCRYPTED ? 2u : 1u);
}

static size_t chunk_for(const hers_store_snapshot *s, const hers_store_search_opts *o, size_t blocks)
{
    if (o->chunk_blocks)
        return o->chunk_blocks < blocks ? o->chunk_blocks : blocks;
    uint64_t budget = o->max_index_bytes;
    if (!budget) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        budget = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 2 : UINT64_MAX;
    }
    uint64_t per = block_bytes(s), fit = per ? budget / per : blocks;
    if (fit >= blocks)
        return blocks;
    return fit ? (size_t)fit : 1;
}

/* A chunk's result: into the full result, or to the caller's on_chunk. */
static hers_status deliver(const hers_store_search_opts *opts, hers_store_search_stats *stats,
                           hers_result *full, size_t b0, const hers_result *part)
{
    if (!opts->on_chunk)
        return hers_result_place(full, b0, part);
    double t = now_seconds();
    int stop = opts->on_chunk(opts->user, b0, part);
    stats->chunk_cb_seconds += now_seconds() - t;
    return stop ? hers_error(HERS_ERR_STATE, "db search: stopped by the chunk callback") : HERS_OK;
}

/* The reader thread: brings segments [a, b) into memory (and verifies
 * them) while the workers build and scan the previous chunk. */
struct reader {
    pthread_t tid;
    int running;
    const hers_store *db;
    store_segref *segs;
    size_t a, b;
    int verify;
    hers_status st;
    char msg[512];
};

static void *reader_main(void *vr)
{
    struct reader *r = vr;
    r->st = store_segments_read(r->db, r->segs, r->a, r->b, r->verify, 1);
    if (r->st != HERS_OK)
        snprintf(r->msg, sizeof r->msg, "%s", hers_last_error());
    return NULL;
}

static void reader_start(struct reader *r, size_t a, size_t b)
{
    r->a = a;
    r->b = b;
    r->st = HERS_OK;
    r->running = pthread_create(&r->tid, NULL, reader_main, r) == 0;
    if (!r->running)   /* no thread: the build reads the segments itself */
        r->st = HERS_OK;
}

static hers_status reader_join(struct reader *r)
{
    if (!r->running)
        return HERS_OK;
    pthread_join(r->tid, NULL);
    r->running = 0;
    return r->st == HERS_OK ? HERS_OK : hers_error(r->st, "%s", r->msg);
}

/* Both-encrypted galleries in chunks: one kernel-form buffer reused for
 * every chunk (no fresh pages per chunk), the segments of chunk c + 1 read
 * (and verified) by a reader thread while chunk c is built and scanned. */
static hers_status stream_encrypted(hers_store_snapshot *s, hers_searcher *sr, const hers_query *q,
                                    const hers_store_search_opts *opts, size_t blocks, size_t chunk,
                                    hers_result *full, hers_store_search_stats *stats)
{
    const hers_params *p = s->db->p;
    size_t N = hers_params_n(p);
    int verify = !opts->skip_checksums;
    store_segref *segs = NULL;
    size_t nseg = 0;
    hers_index *ix = NULL;
    double t0 = now_seconds();
    hers_status st = store_segments_list(s, &segs, &nseg);
    uint64_t slots = hers_store_snapshot_slots(s);
    if (st == HERS_OK)
        st = hers_index_zero(p, HERS_MODE_BOTH_ENCRYPTED,
                             (size_t)((uint64_t)chunk * N < slots ? (uint64_t)chunk * N : slots),
                             hers_store_snapshot_d(s), &ix);
    if (st != HERS_OK) {
        free(segs);
        return st;
    }
    stats->index_bytes = hers_index_bytes(ix);
    struct reader rd;
    memset(&rd, 0, sizeof rd);
    rd.db = s->db;
    rd.segs = segs;
    rd.verify = verify;
    size_t a, b;
    store_segments_range(s->db, segs, nseg, 0, chunk, &a, &b);
    reader_start(&rd, a, b);
    for (size_t b0 = 0; b0 < blocks && st == HERS_OK; b0 += chunk) {
        size_t nb = blocks - b0 < chunk ? blocks - b0 : chunk;
        double tw = now_seconds();
        if ((st = reader_join(&rd)) != HERS_OK)
            break;
        stats->read_wait_seconds += now_seconds() - tw;
        if (b0 + nb < blocks) {   /* read the next chunk while this one runs */
            size_t nb2 = blocks - b0 - nb < chunk ? blocks - b0 - nb : chunk;
            store_segments_range(s->db, segs, nseg, b0 + nb, b0 + nb + nb2, &a, &b);
            reader_start(&rd, a, b);
        }
        uint64_t n = slots - (uint64_t)b0 * N;
        if (n > (uint64_t)nb * N)
            n = (uint64_t)nb * N;
        double t1 = now_seconds();
        if ((st = hers_index_reshape(ix, (size_t)n)) != HERS_OK ||
            (st = store_segments_index(s, segs, nseg, b0, nb, opts->threads, verify, ix)) !=
                HERS_OK)
            break;
        double t2 = now_seconds();
        hers_result *part = NULL;
        st = hers_search(sr, p, ix, q, &opts->search, &part);
        double t3 = now_seconds();
        if (st == HERS_OK)
            st = deliver(opts, stats, full, b0, part);
        hers_result_free(part);
        stats->build_seconds += t2 - t1;
        stats->scan_seconds += t3 - t2;
        /* segments wholly behind us: first in line for eviction, so a
         * gallery larger than memory pushes out its own pages, not the
         * index or the result */
        for (size_t i = 0; i < nseg && segs[i].h.first_block < b0 + nb; i++)
            if (segs[i].ready == 1 &&
                segs[i].h.first_block + store_seg_blocks(s->db, &segs[i].h) <= b0 + nb) {
                store_segment_cold(&segs[i]);
                segs[i].ready = 2;
            }
    }
    hers_status rj = reader_join(&rd);
    if (st == HERS_OK)
        st = rj;
    stats->bytes_read = 0;
    for (size_t i = 0; i < nseg; i++)
        stats->bytes_read += STORE_SEG_HEADER + segs[i].h.gallery_len;
    stats->total_seconds = now_seconds() - t0;
    hers_index_free(ix);
    free(segs);
    return st;
}

hers_status hers_store_search(hers_store_snapshot *s, hers_searcher *sr, const hers_query *q,
                           const hers_store_search_opts *opts, hers_result **out,
                           hers_store_search_stats *stats)
{
    hers_store_search_opts dflt;
    hers_store_search_stats dummy;
    if (!opts) {
        hers_store_search_opts_default(&dflt);
        opts = &dflt;
    }
    if (!stats)
        stats = &dummy;
    memset(stats, 0, sizeof *stats);
    if (!s || !q || !out)
        return hers_error(HERS_ERR_ARG, "db search: NULL argument");
    *out = NULL;
    size_t blocks = hers_store_snapshot_blocks(s);
    if (blocks == 0)
        return hers_error(HERS_ERR_STATE, "%s: the gallery is empty", s->db->dir);
    const hers_params *p = s->db->p;
    hers_searcher *own = NULL;
    hers_status st;
    if (!sr) {
        if ((st = hers_searcher_create(opts->threads, &own)) != HERS_OK)
            return st;
        sr = own;
    }
    size_t chunk = chunk_for(s, opts, blocks);
    stats->chunk_blocks = chunk;
    stats->chunks = (blocks + chunk - 1) / chunk;
    hers_index *ix = NULL;
    if (chunk == blocks) {
        double t0 = now_seconds();
        if ((st = hers_store_snapshot_index(s, 0, blocks, opts->threads, &ix)) == HERS_OK) {
            double t1 = now_seconds();
            stats->index_bytes = hers_index_bytes(ix);
            st = hers_search(sr, p, ix, q, &opts->search, out);
            stats->build_seconds = t1 - t0;
            stats->scan_seconds = now_seconds() - t1;
            if (st == HERS_OK && opts->on_chunk) {
                st = deliver(opts, stats, NULL, 0, *out);
                hers_result_free(*out);
                *out = NULL;
            }
        }
        stats->total_seconds = now_seconds() - t0;
        hers_index_free(ix);
        hers_searcher_free(own);
        return st;
    }
    if (opts->search.shrink != HERS_RESULT_FULL && !opts->on_chunk) {
        hers_searcher_free(own);
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "%s: a streamed search (%zu chunks) returns full results only",
                          s->db->dir, stats->chunks);
    }
    hers_result *full = NULL;
    st = opts->on_chunk ? HERS_OK
                        : hers_result_zero(p, hers_store_snapshot_mode(s), hers_query_count(q),
                                           (size_t)hers_store_snapshot_slots(s),
                                           hers_store_snapshot_d(s), &full);
    if (st == HERS_OK && hers_store_snapshot_mode(s) == HERS_MODE_BOTH_ENCRYPTED) {
        st = stream_encrypted(s, sr, q, opts, blocks, chunk, full, stats);
        blocks = 0;   /* done */
    }
    for (size_t b0 = 0; b0 < blocks && st == HERS_OK; b0 += chunk) {
        size_t nb = blocks - b0 < chunk ? blocks - b0 : chunk;
        hers_result *part = NULL;
        double t0 = now_seconds();
        if ((st = hers_store_snapshot_index(s, b0, nb, opts->threads, &ix)) != HERS_OK)
            break;
        double t1 = now_seconds();
        if (hers_index_bytes(ix) > stats->index_bytes)
            stats->index_bytes = hers_index_bytes(ix);
        st = hers_search(sr, p, ix, q, &opts->search, &part);
        stats->build_seconds += t1 - t0;
        stats->scan_seconds += now_seconds() - t1;
        hers_index_free(ix);
        ix = NULL;
        if (st == HERS_OK)
            st = deliver(opts, stats, full, b0, part);
        hers_result_free(part);
    }
    hers_searcher_free(own);
    if (st != HERS_OK) {
        hers_result_free(full);
        return st;
    }
    *out = full;
    return HERS_OK;
}
