/*
 * store_search.c - hers_store_search: the encrypted search of a gallery
 * database, in one pass or streamed in chunks of blocks when the kernel form
 * of the whole gallery exceeds the memory budget (hers_store.h).
 */
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

/* Automatic streamed chunks: at most this many kernel-form bytes (on
 * block_bytes' scale), whatever the budget. */
#define STREAM_CHUNK_BYTES ((uint64_t)256 << 20)

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
    /* A both-encrypted gallery whose result can be streamed is searched in
     * chunks of at most STREAM_CHUNK_BYTES even when the whole index would
     * fit: bigger chunks gain nothing (the reader keeps one chunk ahead of
     * the build whatever its size) and cost fresh memory (the index and two
     * read buffers, first touched at 0.2-0.8 GB/s on this VM) and peak RSS;
     * a cold one-pass build of 1M x 32 took twice as long (docs/benchmarks.md). */
    if (hers_store_snapshot_mode(s) == HERS_MODE_BOTH_ENCRYPTED &&
        (o->search.shrink == HERS_RESULT_FULL || o->on_chunk)) {
        uint64_t cap = per ? STREAM_CHUNK_BYTES / per : fit;
        if (fit > cap)
            fit = cap;
    }
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

/* deliver() as a store_deliver_fn for the streamed path. */
struct deliver_ctx {
    const hers_store_search_opts *opts;
    hers_store_search_stats *stats;
    hers_result *full;
};

static hers_status deliver_chunk(void *vc, size_t first_block, const hers_result *part)
{
    struct deliver_ctx *c = vc;
    return deliver(c->opts, c->stats, c->full, first_block, part);
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
    if (opts->io < HERS_STORE_IO_AUTO || opts->io > HERS_STORE_IO_MAP)
        return hers_error(HERS_ERR_ARG, "db search: unknown read mode %d", opts->io);
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
    if (full)
        hers_result_set_packing(full, hers_store_snapshot_packing(s), hers_store_snapshot_scale(s));
    if (st == HERS_OK && hers_store_snapshot_mode(s) == HERS_MODE_BOTH_ENCRYPTED) {
        struct deliver_ctx dc = {opts, stats, full};
        st = store_stream_encrypted(s, sr, q, opts, blocks, chunk, deliver_chunk, &dc, stats);
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
