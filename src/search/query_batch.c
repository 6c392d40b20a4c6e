/* query_batch.c - several queries scanned as one batch and the views of
 * the batch's result: what a server needs to coalesce concurrent searches
 * into one pass.
 *   hers_query_concat: the probes copied into one query;
 *   hers_query_concat_view: the same batch without copying (its
 *     ciphertexts borrow the queries' residues: a server coalescing 32
 *     one-probe queries of 3 MB each, n4096 d = 64, skips allocating,
 *     zeroing and copying ~100 MB per pass);
 *   hers_result_view: one query's probes of the batch's result;
 *   hers_result_view_blocks: a block range of a result (a server encodes
 *     the ranges of one result in parallel). */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

/* The checks both concatenations make; *count: the probes of the batch. */
static hers_status concat_check(const hers_query *const *qs, size_t n, hers_query **out,
                                size_t *count)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "query concat: out is NULL");
    *out = NULL;
    if (!qs || n == 0 || !qs[0])
        return hers_error(HERS_ERR_ARG, "query concat: no queries");
    size_t c = 0, d = qs[0]->d;
    for (size_t i = 0; i < n; i++) {
        if (qs[i] && qs[i]->compact)
            return hers_error(HERS_ERR_ARG, "query concat: query %zu is compact (expand it "
                                            "first)", i);
        if (!qs[i] || qs[i]->d != d || qs[i]->scale != qs[0]->scale ||
            memcmp(qs[i]->params_id, qs[0]->params_id, HERS_PARAMS_ID_BYTES) != 0)
            return hers_error(HERS_ERR_MISMATCH,
                              "query concat: query %zu differs in parameters, d or scale", i);
        c += qs[i]->count;
    }
    *count = c;
    return HERS_OK;
}

/* An empty batch of count probes shaped like qs[0] (its cts zeroed). */
static hers_status batch_alloc(const hers_query *q0, size_t count, hers_query **out)
{
    hers_query *q = hers_alloc(sizeof *q);
    if (!q)
        return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
    memcpy(q->params_id, q0->params_id, HERS_PARAMS_ID_BYTES);
    q->d = q0->d;
    q->scale = q0->scale;
    q->cts = hers_alloc_array(count * q0->d, sizeof *q->cts);
    if (!q->cts) {
        hers_free(q);
        return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
    }
    *out = q;
    return HERS_OK;
}

/* The batch of every probe of qs, in order: the ciphertexts copied, or
 * (borrow) their headers only, pointing at qs's residues. */
static hers_status concat(const hers_query *const *qs, size_t n, int borrow, hers_query **out)
{
    size_t count = 0;
    hers_query *q = NULL;
    hers_status st = concat_check(qs, n, out, &count);
    if (st == HERS_OK)
        st = batch_alloc(qs[0], count, &q);
    if (st != HERS_OK)
        return st;
    size_t d = q->d;
    for (size_t i = 0, at = 0; i < n; i++)
        for (size_t j = 0; j < qs[i]->count * d; j++, at++) {
            if (borrow) {
                q->cts[at] = qs[i]->cts[j];   /* shape, seed, residues pointer */
                q->cts[at].borrowed = 1;      /* never freed through the batch */
            } else if (hers_ciphertext_copy(&qs[i]->cts[j], &q->cts[at]) != HERS_OK) {
                q->count = count;
                hers_query_free(q);
                return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
            }
        }
    q->count = count;
    *out = q;
    return HERS_OK;
}

hers_status hers_query_concat(const hers_query *const *qs, size_t n, hers_query **out)
{
    return concat(qs, n, 0, out);
}

hers_status hers_query_concat_view(const hers_query *const *qs, size_t n, hers_query **out)
{
    return concat(qs, n, 1, out);
}

hers_status hers_result_view(const hers_result *r, size_t first, size_t count, hers_result **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "result view: out is NULL");
    *out = NULL;
    if (!r || count == 0 || first > r->count || count > r->count - first)
        return hers_error(HERS_ERR_ARG, "result view: probes %zu..+%zu outside 0..%zu", first,
                          count, r ? r->count : 0);
    hers_result *v = hers_alloc(sizeof *v);
    if (!v)
        return hers_error(HERS_ERR_NOMEM, "result view: out of memory");
    *v = *r;
    v->count = count;
    v->arena = NULL;
    v->slabs = NULL;   /* the residues stay r's */
    v->nslabs = 0;
    v->cts = hers_alloc_array(count * r->blocks, sizeof *v->cts);
    if (!v->cts) {
        hers_free(v);
        return hers_error(HERS_ERR_NOMEM, "result view: out of memory");
    }
    memcpy(v->cts, r->cts + first * r->blocks, count * r->blocks * sizeof *v->cts);
    for (size_t i = 0; i < count * r->blocks; i++)
        v->cts[i].borrowed = 1;   /* the residues stay r's */
    v->body_mem = NULL;   /* a packed body (HERS_RESULT_COMPACT) too */
    if (r->body)
        v->body = r->body + first * r->body_pstride;
    if (r->body_crc)
        v->body_crc = r->body_crc + first * (r->body_pstride / r->body_rec);
    *out = v;
    return HERS_OK;
}

hers_status hers_result_view_blocks(const hers_result *r, size_t b0, size_t nb, hers_result **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "result view: out is NULL");
    *out = NULL;
    if (!r || nb == 0 || b0 > r->blocks || nb > r->blocks - b0)
        return hers_error(HERS_ERR_ARG, "result view: blocks %zu..+%zu outside 0..%zu", b0, nb,
                          r ? r->blocks : 0);
    if (r->win)   /* a window record's values are not ciphertexts to borrow */
        return hers_error(HERS_ERR_UNSUPPORTED, "result view: a result read from a window record");
    hers_result *v = hers_alloc(sizeof *v);
    if (!v)
        return hers_error(HERS_ERR_NOMEM, "result view: out of memory");
    *v = *r;
    size_t per = r->cts[0].n;   /* N templates per block; only the last may be partial */
    v->blocks = nb;
    v->n = b0 + nb < r->blocks ? nb * per : r->n - b0 * per;
    v->arena = NULL;
    v->slabs = NULL;   /* the residues stay r's */
    v->nslabs = 0;
    v->body_mem = NULL;   /* a packed body (HERS_RESULT_COMPACT) too */
    if (r->body)
        v->body = r->body + b0 * r->body_rec;
    if (r->body_crc)
        v->body_crc = r->body_crc + b0;
    v->cts = hers_alloc_array(r->count * nb, sizeof *v->cts);
    if (!v->cts) {
        hers_free(v);
        return hers_error(HERS_ERR_NOMEM, "result view: out of memory");
    }
    for (size_t c = 0; c < r->count; c++)
        for (size_t b = 0; b < nb; b++) {
            v->cts[c * nb + b] = r->cts[c * r->blocks + b0 + b];
            v->cts[c * nb + b].borrowed = 1;
        }
    *out = v;
    return HERS_OK;
}

uint32_t hers_query_scale(const hers_query *q) { return q ? q->scale : 0; }
