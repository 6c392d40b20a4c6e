/*
 * response.c - the search response record HERSRSP version 2 (docs/formats.md
 * "Service records"): written once into one buffer of its exact size from
 * the service's buffer pool, its parts (block ranges of the chunks' results)
 * packed and checksummed in parallel straight into it.
 *
 * Checksum of version 2: BLAKE2b-256 of the record in which every part's
 * result record is replaced by that record's own trailing checksum (a
 * BLAKE2b-256 of the rest of it). This binds every byte as the version-1
 * rule did, but hashes each result byte once instead of twice: hashing is
 * sequential at ~1 GB/s and a 2^20-template full result is ~39 MB.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitpack.h"
#include "core/pool.h"
#include "hers/hers_mem.h"
#include "net/net_internal.h"

#define RSP2_HEADER 60

int net_rsp2_digest(const uint8_t *b, size_t len, uint8_t out[NET_HASH])
{
    if (len < RSP2_HEADER)
        return -1;
    uint32_t parts = hers_le_get_u32(b + 20);
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, NET_HASH);
    crypto_generichash_update(&hs, b, RSP2_HEADER);
    size_t pos = RSP2_HEADER;
    for (uint32_t i = 0; i < parts; i++) {
        if (len - pos < 16)
            return -1;
        uint64_t rl = hers_le_get_u64(b + pos + 8);
        if (rl < NET_HASH || rl > len - pos - 16)
            return -1;
        crypto_generichash_update(&hs, b + pos, 16);
        crypto_generichash_update(&hs, b + pos + 16 + rl - NET_HASH, NET_HASH);
        pos += 16 + (size_t)rl;
    }
    crypto_generichash_update(&hs, b + pos, len - pos);   /* the catalog, if any */
    crypto_generichash_final(&hs, out, NET_HASH);
    return 0;
}

hers_status hers_net_response_seal(uint8_t *rec, size_t len)
{
    if (!rec || len < 48 + NET_HASH || memcmp(rec, "HERSRSP", 8))
        return hers_error(HERS_ERR_FORMAT, "search response: no HERSRSP record to seal");
    uint32_t v = hers_le_get_u32(rec + 8);
    if (v == 1) {
        crypto_generichash(rec + len - NET_HASH, NET_HASH, rec, len - NET_HASH, NULL, 0);
        return HERS_OK;
    }
    if (v != 2 || net_rsp2_digest(rec, len - NET_HASH, rec + len - NET_HASH) != 0)
        return hers_error(HERS_ERR_FORMAT, "search response: version %u record does not fit "
                                           "in %zu bytes", v, len);
    return HERS_OK;
}

typedef struct part {
    const hers_result *res;
    size_t b0, nb;      /* blocks of res */
    uint64_t fb;        /* first block in the response */
    size_t at, len;     /* offset of its record in the buffer, its length */
    uint8_t *tmp;       /* compact: its record, serialised apart */
} part;

typedef struct enc {
    const hers_params *p;
    part *pt;
    uint8_t *buf;
    hers_task_error err;
} enc;

/* Compact parts: each block range serialised apart (its size is the
 * record's business), in parallel; copied in by enc_task. */
static void compact_task(void *ctx, size_t i, unsigned worker)
{
    (void)worker;
    enc *e = ctx;
    if (e->err.st != HERS_OK)
        return;
    part *x = &e->pt[i];
    hers_result *v = NULL;
    hers_status st = hers_result_view_blocks(x->res, x->b0, x->nb, &v);
    if (st == HERS_OK)
        st = hers_result_serialize_compact(e->p, v, &x->tmp, &x->len);
    hers_result_free(v);
    if (st != HERS_OK)
        hers_task_error_set(&e->err, st, NULL);
}

static void enc_task(void *ctx, size_t i, unsigned worker)
{
    (void)worker;
    enc *e = ctx;
    if (e->err.st != HERS_OK)
        return;
    part *x = &e->pt[i];
    hers_status st;
    if (x->tmp) {
        memcpy(e->buf + x->at, x->tmp, x->len);
        st = HERS_OK;
    } else {
        st = hers_result_range_serialize(e->p, x->res, x->b0, x->nb, e->buf + x->at, x->len,
                                         NULL);
    }
    if (st != HERS_OK)
        hers_task_error_set(&e->err, st, NULL);
}

hers_status net_response_encode2(const hers_params *p, unsigned threads, int compact,
                                 uint32_t scale, size_t d, size_t count, uint64_t slots,
                                 size_t chunks, const size_t *first_block,
                                 const hers_result *const *res, size_t live, const uint8_t *cat,
                                 size_t cat_len, uint64_t cat_version, int with_cat,
                                 uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    unsigned th = hers_threads_resolve(threads);
    size_t blocks = 0;
    for (size_t i = 0; i < chunks; i++)
        blocks += hers_result_blocks(res[i]);
    /* parts of at most `per` blocks (about 4 per thread, so that they
     * balance), never across a chunk; a compact part is its own compact
     * record of its blocks (hers_result_view_blocks) */
    size_t want = 4 * (size_t)th, per = blocks / want + (blocks % want != 0);
    if (per == 0)
        per = 1;
    size_t np = 0;
    for (size_t i = 0; i < chunks; i++) {
        size_t nb = hers_result_blocks(res[i]);
        np += nb / per + (nb % per != 0);
    }
    part *pt = calloc(np ? np : 1, sizeof *pt);
    if (!pt)
        return hers_error(HERS_ERR_NOMEM, "search response: out of memory");
    hers_status st = HERS_OK;
    int packed_all = 1;
    size_t k = 0, total = RSP2_HEADER + (with_cat ? cat_len : 0) + NET_HASH;
    for (size_t i = 0; i < chunks && st == HERS_OK; i++) {
        size_t nb = hers_result_blocks(res[i]);
        for (size_t b = 0; b < nb && st == HERS_OK; b += per) {
            part *x = &pt[k++];
            x->res = res[i];
            x->b0 = b;
            x->nb = nb - b < per ? nb - b : per;
            x->fb = first_block[i] + b;
            /* full forms, and compact results packed by the search: sized
             * here, written straight into the response (enc_task) */
            if (!compact || hers_result_packed(res[i]))
                st = hers_result_range_size(p, res[i], x->b0, x->nb, &x->len);
            else
                packed_all = 0;
        }
    }
    if (st == HERS_OK && compact && !packed_all) {
        enc e;
        memset(&e, 0, sizeof e);
        e.p = p;
        e.pt = pt;
        hers_task_error_init(&e.err);
        hers_parallel_for(np > 1 ? th : 1, np, compact_task, &e);
        st = hers_task_error_raise(&e.err);
        hers_task_error_destroy(&e.err);
    }
    for (size_t i = 0; i < np && st == HERS_OK; i++)
        total += 16 + pt[i].len;
    uint8_t *b = st == HERS_OK ? net_pool_alloc(total) : NULL;
    if (st == HERS_OK && !b)
        st = hers_error(HERS_ERR_NOMEM, "search response: out of memory for %zu bytes", total);
    if (st == HERS_OK) {
        memcpy(b, "HERSRSP", 8);
        hers_le_put_u32(b + 8, 2);
        hers_le_put_u32(b + 12, scale);
        hers_le_put_u32(b + 16, (uint32_t)d);
        hers_le_put_u32(b + 20, (uint32_t)np);
        hers_le_put_u64(b + 24, count);
        hers_le_put_u64(b + 32, slots);
        hers_le_put_u64(b + 40, live);
        hers_le_put_u64(b + 48, cat_version);
        hers_le_put_u32(b + 56, with_cat ? 1u : 0u);
        size_t pos = RSP2_HEADER;
        for (size_t i = 0; i < np; i++) {
            hers_le_put_u64(b + pos, pt[i].fb);
            hers_le_put_u64(b + pos + 8, pt[i].len);
            pt[i].at = pos + 16;
            pos += 16 + pt[i].len;
        }
        if (with_cat)
            memcpy(b + pos, cat, cat_len);
        enc e;
        e.p = p;
        e.pt = pt;
        e.buf = b;
        hers_task_error_init(&e.err);
        hers_parallel_for(np > 1 ? th : 1, np, enc_task, &e);
        st = hers_task_error_raise(&e.err);
        hers_task_error_destroy(&e.err);
        if (st == HERS_OK && net_rsp2_digest(b, total - NET_HASH, b + total - NET_HASH) != 0)
            st = hers_error(HERS_ERR_INTERNAL, "search response: malformed record written");
    }
    for (size_t i = 0; i < np; i++)
        hers_free(pt[i].tmp);
    free(pt);
    if (st != HERS_OK) {
        net_pool_free(b);
        return st;
    }
    *buf = b;
    *len = total;
    return HERS_OK;
}
