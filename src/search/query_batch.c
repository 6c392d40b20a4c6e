/* query_batch.c - several queries scanned as one batch (hers_query_concat)
 * and the per-query views of the batch's result (hers_result_view): what a
 * server needs to coalesce concurrent searches into one pass. */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

hers_status hers_query_concat(const hers_query *const *qs, size_t n, hers_query **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "query concat: out is NULL");
    *out = NULL;
    if (!qs || n == 0 || !qs[0])
        return hers_error(HERS_ERR_ARG, "query concat: no queries");
    size_t count = 0, d = qs[0]->d;
    for (size_t i = 0; i < n; i++) {
        if (qs[i] && qs[i]->compact)
            return hers_error(HERS_ERR_ARG, "query concat: query %zu is compact (expand it "
                                            "first)", i);
        if (!qs[i] || qs[i]->d != d || qs[i]->scale != qs[0]->scale ||
            memcmp(qs[i]->params_id, qs[0]->params_id, HERS_PARAMS_ID_BYTES) != 0)
            return hers_error(HERS_ERR_MISMATCH,
                              "query concat: query %zu differs in parameters, d or scale", i);
        count += qs[i]->count;
    }
    hers_query *q = hers_alloc(sizeof *q);
    if (!q)
        return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
    memset(q, 0, sizeof *q);
    memcpy(q->params_id, qs[0]->params_id, HERS_PARAMS_ID_BYTES);
    q->d = d;
    q->scale = qs[0]->scale;
    q->cts = hers_alloc_array(count * d, sizeof *q->cts);
    if (!q->cts) {
        hers_free(q);
        return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
    }
    memset(q->cts, 0, count * d * sizeof *q->cts);
    for (size_t i = 0, at = 0; i < n; i++)
        for (size_t j = 0; j < qs[i]->count * d; j++, at++) {
            if (hers_ciphertext_copy(&qs[i]->cts[j], &q->cts[at]) != HERS_OK) {
                q->count = count;
                hers_query_free(q);
                return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
            }
        }
    q->count = count;
    *out = q;
    return HERS_OK;
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
    v->cts = hers_alloc_array(count * r->blocks, sizeof *v->cts);
    if (!v->cts) {
        hers_free(v);
        return hers_error(HERS_ERR_NOMEM, "result view: out of memory");
    }
    memcpy(v->cts, r->cts + first * r->blocks, count * r->blocks * sizeof *v->cts);
    for (size_t i = 0; i < count * r->blocks; i++)
        v->cts[i].borrowed = 1;   /* the residues stay r's */
    *out = v;
    return HERS_OK;
}

uint32_t hers_query_scale(const hers_query *q) { return q ? q->scale : 0; }
