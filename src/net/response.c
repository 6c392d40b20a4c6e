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

/* The parts of a version-2 record: block ranges of at most `per` blocks
 * (about 4 per thread, so that the copying encoder's tasks balance), never
 * across a chunk. Both encoders cut the same parts (the pieces' bytes equal
 * the copy's). *pt: calloc'ed, *np of them. */
static hers_status parts_plan(unsigned threads, size_t chunks, const size_t *first_block,
                              const hers_result *const *res, part **pt, size_t *np)
{
    unsigned th = hers_threads_resolve(threads);
    size_t blocks = 0;
    for (size_t i = 0; i < chunks; i++)
        blocks += hers_result_blocks(res[i]);
    size_t want = 4 * (size_t)th, per = blocks / want + (blocks % want != 0);
    if (per == 0)
        per = 1;
    size_t n = 0;
    for (size_t i = 0; i < chunks; i++) {
        size_t nb = hers_result_blocks(res[i]);
        n += nb / per + (nb % per != 0);
    }
    part *x = calloc(n ? n : 1, sizeof *x);
    if (!x)
        return hers_error(HERS_ERR_NOMEM, "search response: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < chunks; i++) {
        size_t nb = hers_result_blocks(res[i]);
        for (size_t b = 0; b < nb; b += per, k++) {
            x[k].res = res[i];
            x[k].b0 = b;
            x[k].nb = nb - b < per ? nb - b : per;
            x[k].fb = first_block[i] + b;
        }
    }
    *pt = x;
    *np = n;
    return HERS_OK;
}

static void rsp2_header(uint8_t *b, uint32_t scale, size_t d, size_t np, size_t count,
                        uint64_t slots, size_t live, uint64_t cat_version, int with_cat)
{
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
    /* a compact part is its own compact record of its blocks
     * (hers_result_view_blocks) */
    part *pt = NULL;
    size_t np = 0;
    hers_status st = parts_plan(threads, chunks, first_block, res, &pt, &np);
    if (st != HERS_OK)
        return st;
    int packed_all = 1;
    size_t total = RSP2_HEADER + (with_cat ? cat_len : 0) + NET_HASH;
    for (size_t k = 0; k < np && st == HERS_OK; k++) {
        part *x = &pt[k];
        /* full forms, and compact results packed by the search: sized
         * here, written straight into the response (enc_task) */
        if (!compact || hers_result_packed(x->res))
            st = hers_result_range_size(p, x->res, x->b0, x->nb, &x->len);
        else
            packed_all = 0;
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
        rsp2_header(b, scale, d, np, count, slots, live, cat_version, with_cat);
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

/* ------------------------------------------------------------ pieces */

/* join: 1 if base may extend the last piece (the next probe's body of the
 * same allocation) when it starts where that piece ends */
static void answer_add(hers_net_answer *a, const void *base, size_t len, int join)
{
    hers_net_piece *last = a->npc ? &a->pc[a->npc - 1] : NULL;
    if (join && last && (const uint8_t *)last->base + last->len == base)
        last->len += len;
    else
        a->pc[a->npc++] = (hers_net_piece){base, len};
    a->len += len;
}

hers_status net_answer_flat(uint8_t *rec, size_t len, void (*fr)(void *), hers_net_answer **out)
{
    hers_net_answer *a = calloc(1, sizeof *a);
    if (a)
        a->pc = calloc(1, sizeof *a->pc);
    if (!a || !a->pc) {
        free(a);
        fr(rec);
        return hers_error(HERS_ERR_NOMEM, "search response: out of memory");
    }
    a->own = rec;
    a->own_free = fr;
    answer_add(a, rec, len, 0);
    *out = a;
    return HERS_OK;
}

hers_status net_response_pieces2(const hers_params *p, unsigned threads, uint32_t scale, size_t d,
                                 size_t count, uint64_t slots, size_t chunks,
                                 const size_t *first_block, const hers_result *const *res,
                                 size_t live, const uint8_t *cat, size_t cat_len,
                                 uint64_t cat_version, int with_cat, hers_net_answer **out)
{
    *out = NULL;
    for (size_t i = 0; i < chunks; i++)
        if (!hers_result_packed(res[i]) || hers_result_packing(res[i]) != HERS_PACK_COEFF)
            return hers_error(HERS_ERR_UNSUPPORTED, "search response: pieces need compact results "
                                                    "packed in coefficient packing");
    part *pt = NULL;
    size_t np = 0;
    hers_status st = parts_plan(threads, chunks, first_block, res, &pt, &np);
    if (st != HERS_OK)
        return st;
    /* the written bytes: the record's header, per part its (first block,
     * length) and its record's head and tail, the record's checksum */
    size_t per = 16 + HERS_RESULT_RANGE_HEAD + HERS_RESULT_RANGE_TAIL;
    size_t small = RSP2_HEADER + np * per + NET_HASH;
    hers_net_answer *a = calloc(1, sizeof *a);
    const uint8_t **body = calloc(count ? count : 1, sizeof *body);
    size_t *blen = calloc(count ? count : 1, sizeof *blen);
    if (a) {
        a->own = malloc(small);
        a->own_free = free;
        a->pc = calloc(np * (count + 1) + 3, sizeof *a->pc);
    }
    if (!a || !a->own || !a->pc || !body || !blen) {
        st = hers_error(HERS_ERR_NOMEM, "search response: out of memory");
        goto out;
    }
    uint8_t *w = a->own;
    rsp2_header(w, scale, d, np, count, slots, live, cat_version, with_cat);
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, NET_HASH);
    crypto_generichash_update(&hs, w, RSP2_HEADER);
    uint8_t *run = w;   /* the written bytes not yet a piece: from run to w */
    w += RSP2_HEADER;
    for (size_t i = 0; i < np && st == HERS_OK; i++) {
        part *x = &pt[i];
        uint8_t *ph = w, *head = w + 16, *tail = head + HERS_RESULT_RANGE_HEAD;
        st = hers_result_range_pieces(p, x->res, x->b0, x->nb, head, body, blen, tail);
        if (st != HERS_OK)
            break;
        size_t rl = HERS_RESULT_RANGE_HEAD + HERS_RESULT_RANGE_TAIL;
        for (size_t q = 0; q < count; q++)
            rl += blen[q];
        hers_le_put_u64(ph, x->fb);
        hers_le_put_u64(ph + 8, rl);
        crypto_generichash_update(&hs, ph, 16);
        crypto_generichash_update(&hs, tail, HERS_RESULT_RANGE_TAIL);
        answer_add(a, run, (size_t)(tail - run), 0);   /* ... the part's (fb, len) and head */
        for (size_t q = 0; q < count; q++)
            answer_add(a, body[q], blen[q], q > 0);
        run = tail;
        w = tail + HERS_RESULT_RANGE_TAIL;
    }
    if (st != HERS_OK)
        goto out;
    if (with_cat) {
        answer_add(a, run, (size_t)(w - run), 0);
        if (cat_len)
            answer_add(a, cat, cat_len, 0);   /* the caller keeps it while the answer lives */
        crypto_generichash_update(&hs, cat, cat_len);
        run = w;
    }
    crypto_generichash_final(&hs, w, NET_HASH);
    w += NET_HASH;
    answer_add(a, run, (size_t)(w - run), 0);
out:
    free(body);
    free(blen);
    free(pt);
    if (st != HERS_OK) {
        hers_net_answer_free(a);
        return st;
    }
    *out = a;
    return HERS_OK;
}

const hers_net_piece *hers_net_answer_pieces(const hers_net_answer *a, size_t *count,
                                             size_t *total)
{
    if (count)
        *count = a ? a->npc : 0;
    if (total)
        *total = a ? a->len : 0;
    return a ? a->pc : NULL;
}

void hers_net_answer_free(hers_net_answer *a)
{
    if (!a)
        return;
    if (a->own && a->own_free)
        a->own_free(a->own);
    free(a->pc);
    if (a->release)
        a->release(a->owner);
    free(a);
}
