/*
 * query_view.c - several queries as one batch without copying their
 * ciphertexts (hers_query_concat_view): the batch's ciphertexts borrow the
 * residues of the queries. A server coalescing 32 one-probe queries of 3 MB
 * each (n4096, d = 64) skipped allocating, zeroing and copying ~100 MB per
 * pass this way.
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

hers_status hers_query_concat_view(const hers_query *const *qs, size_t n, hers_query **out)
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
    memcpy(q->params_id, qs[0]->params_id, HERS_PARAMS_ID_BYTES);
    q->d = d;
    q->scale = qs[0]->scale;
    q->cts = hers_alloc_array(count * d, sizeof *q->cts);
    if (!q->cts) {
        hers_free(q);
        return hers_error(HERS_ERR_NOMEM, "query concat: out of memory");
    }
    for (size_t i = 0, at = 0; i < n; i++)
        for (size_t j = 0; j < qs[i]->count * d; j++, at++) {
            q->cts[at] = qs[i]->cts[j];   /* shape, seed, residues pointer */
            q->cts[at].borrowed = 1;      /* never freed through the batch */
        }
    q->count = count;
    *out = q;
    return HERS_OK;
}
