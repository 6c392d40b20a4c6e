/* metrics_ident.c - identification (CMC) and class-level retrieval (mAP@k,
 * P@k) from top-k lists, and the gallery / probe split by identity.
 * Definitions in hers_metrics.h. */
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_metrics.h"

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted copy of the gallery labels: mate counts by binary search. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int32_t *sorted_labels(const hers_labels *l)
{
    int32_t *s = hers_alloc_array(l->count, sizeof *s);
    if (!s)
        return NULL;
    memcpy(s, l->data, l->count * sizeof *s);
    qsort(s, l->count, sizeof *s, cmp_i32);
    return s;
}

static size_t count_label(const int32_t *s, size_t n, int32_t v)
{
    size_t lo = 0, hi = n; /* first index with s[i] >= v */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo;
    hi = n; /* first index with s[i] > v */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - first;
}

static hers_status check_inputs(const hers_topk *t, const hers_labels *gl, const hers_labels *pl,
                                const char *what)
{
    if (!t || !gl || !pl || !t->ids || !gl->data || !pl->data || t->k == 0)
        return hers_error(HERS_ERR_ARG, "%s: NULL or empty input", what);
    if (pl->count != t->probes)
        return hers_error(HERS_ERR_ARG, "%s: %zu probe labels for %zu probes", what, pl->count,
                          t->probes);
    for (size_t i = 0; i < t->probes * t->k; i++)
        if (t->ids[i] >= gl->count)
            return hers_error(HERS_ERR_ARG, "%s: gallery id %u but only %zu gallery labels",
                              what, t->ids[i], gl->count);
    return HERS_OK;
}

void hers_ident_free(hers_ident *id)
{
    if (!id)
        return;
    hers_free(id->cmc);
    memset(id, 0, sizeof *id);
}

hers_status hers_ident_eval(const hers_topk *t, const hers_labels *gallery_labels,
                            const hers_labels *probe_labels, hers_ident *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "identification: NULL output");
    memset(out, 0, sizeof *out);
    hers_status st = check_inputs(t, gallery_labels, probe_labels, "identification");
    if (st != HERS_OK)
        return st;
    size_t k = t->k;
    int32_t *sl = sorted_labels(gallery_labels);
    uint64_t *first_hit = hers_alloc_array(k, sizeof *first_hit);
    double *cmc = hers_alloc_array(k, sizeof *cmc);
    if (!sl || !first_hit || !cmc) {
        hers_free(sl);
        hers_free(first_hit);
        hers_free(cmc);
        return hers_error(HERS_ERR_NOMEM, "identification: k = %zu", k);
    }
    for (size_t p = 0; p < t->probes; p++) {
        int32_t lab = probe_labels->data[p];
        if (count_label(sl, gallery_labels->count, lab) == 0) {
            out->no_mate++;
            continue;
        }
        out->evaluated++;
        for (size_t j = 0; j < k; j++)
            if (gallery_labels->data[t->ids[p * k + j]] == lab) {
                first_hit[j]++;
                break;
            }
    }
    uint64_t cum = 0;
    for (size_t r = 0; r < k; r++) {
        cum += first_hit[r];
        cmc[r] = out->evaluated ? (double)cum / (double)out->evaluated : 0.0;
    }
    hers_free(sl);
    hers_free(first_hit);
    out->max_rank = k;
    out->cmc = cmc;
    return HERS_OK;
}

hers_status hers_retrieval_eval(const hers_topk *t, size_t k, const hers_labels *gallery_labels,
                                const hers_labels *probe_labels, hers_retrieval *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "retrieval: NULL output");
    memset(out, 0, sizeof *out);
    hers_status st = check_inputs(t, gallery_labels, probe_labels, "retrieval");
    if (st != HERS_OK)
        return st;
    if (k < 1 || k > t->k)
        return hers_error(HERS_ERR_ARG, "retrieval: cut-off k = %zu outside 1..%zu", k, t->k);
    int32_t *sl = sorted_labels(gallery_labels);
    if (!sl)
        return hers_error(HERS_ERR_NOMEM, "retrieval: labels");
    double sum_ap = 0, sum_apr = 0, sum_p = 0, sum_r = 0;
    for (size_t p = 0; p < t->probes; p++) {
        int32_t lab = probe_labels->data[p];
        size_t r_all = count_label(sl, gallery_labels->count, lab);
        if (r_all == 0) {
            out->no_mate++;
            continue;
        }
        out->evaluated++;
        size_t hits = 0;
        double ap = 0;
        for (size_t j = 0; j < k; j++)
            if (gallery_labels->data[t->ids[p * t->k + j]] == lab) {
                hits++;
                ap += (double)hits / (double)(j + 1);
            }
        sum_ap += ap / (double)(k < r_all ? k : r_all);
        sum_apr += hits ? ap / (double)hits : 0.0;
        sum_p += (double)hits / (double)k;
        sum_r += (double)hits / (double)r_all;
    }
    hers_free(sl);
    out->k = k;
    if (out->evaluated) {
        double n = (double)out->evaluated;
        out->map = sum_ap / n;
        out->map_retrieved = sum_apr / n;
        out->precision = sum_p / n;
        out->recall = sum_r / n;
    }
    return HERS_OK;
}

hers_status hers_split_by_identity(const hers_labels *labels, size_t gallery_per_id,
                                   uint8_t *is_gallery)
{
    if (!labels || !is_gallery || (!labels->data && labels->count))
        return hers_error(HERS_ERR_ARG, "split: NULL argument");
    size_t n = labels->count;
    /* Sort row indices by (label, row) and walk the runs. */
    uint64_t *key = hers_alloc_array(n ? n : 1, sizeof *key);
    if (!key)
        return hers_error(HERS_ERR_NOMEM, "split: %zu labels", n);
    if (n > UINT32_MAX) {
        hers_free(key);
        return hers_error(HERS_ERR_ARG, "split: too many labels (%zu)", n);
    }
    for (size_t i = 0; i < n; i++) /* order-preserving map of int32 to uint32 */
        key[i] = ((uint64_t)((uint32_t)labels->data[i] ^ 0x80000000u) << 32) | i;
    qsort(key, n, sizeof *key, cmp_u64);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (key[i] >> 32) != (key[i - 1] >> 32))
            run = 0;
        is_gallery[key[i] & 0xffffffffu] = run < gallery_per_id;
        run++;
    }
    hers_free(key);
    return HERS_OK;
}

hers_status hers_select_rows(const hers_matrix *m, const hers_labels *l, const uint8_t *mask,
                             uint8_t want, hers_matrix *m_out, hers_labels *l_out)
{
    if (!mask || (!m && !l) || (m && !m_out) || (l && !l_out))
        return hers_error(HERS_ERR_ARG, "select rows: NULL argument");
    if (m && l && m->rows != l->count)
        return hers_error(HERS_ERR_ARG, "select rows: %zu rows but %zu labels", m->rows,
                          l->count);
    size_t n = m ? m->rows : l->count, sel = 0;
    for (size_t i = 0; i < n; i++)
        sel += mask[i] == want;
    if (sel == 0)
        return hers_error(HERS_ERR_ARG, "select rows: no row selected");
    hers_status st = HERS_OK;
    if (m) {
        st = hers_matrix_alloc(m_out, sel, m->cols);
        if (st != HERS_OK)
            return st;
        for (size_t i = 0, o = 0; i < n; i++)
            if (mask[i] == want)
                memcpy(m_out->data + (o++) * m->cols, m->data + i * m->cols,
                       m->cols * sizeof(float));
    }
    if (l) {
        st = hers_labels_alloc(l_out, sel);
        if (st != HERS_OK) {
            if (m)
                hers_matrix_free(m_out);
            return st;
        }
        for (size_t i = 0, o = 0; i < n; i++)
            if (mask[i] == want)
                l_out->data[o++] = l->data[i];
    }
    return HERS_OK;
}
