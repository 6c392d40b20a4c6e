/* metrics_roc.c - verification: genuine / impostor score sets, the ROC,
 * TAR at a target FAR with the exact threshold, and the EER.
 * Definitions in hers_metrics.h. */
#include <math.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_metrics.h"

/* ---- genuine / impostor collection ---- */

struct pairs_ctx {
    const int32_t *gl, *pl;
    hers_pairs *out;
    size_t cap_gen, cap_imp;
};

static hers_status pairs_tile(void *ctx, size_t p0, size_t pn, size_t g0, size_t gn,
                              const float *tile)
{
    struct pairs_ctx *c = ctx;
    hers_pairs *o = c->out;
    for (size_t i = 0; i < pn; i++) {
        int32_t lab = c->pl[p0 + i];
        const float *row = tile + i * gn;
        for (size_t j = 0; j < gn; j++) {
            if (c->gl[g0 + j] == lab) {
                if (o->n_gen >= c->cap_gen)
                    return hers_error(HERS_ERR_INTERNAL, "pairs: genuine count overflow");
                o->gen[o->n_gen++] = row[j];
            } else {
                if (o->n_imp >= c->cap_imp)
                    return hers_error(HERS_ERR_INTERNAL, "pairs: impostor count overflow");
                o->imp[o->n_imp++] = row[j];
            }
        }
    }
    return HERS_OK;
}

void hers_pairs_free(hers_pairs *p)
{
    if (!p)
        return;
    hers_free(p->gen);
    hers_free(p->imp);
    memset(p, 0, sizeof *p);
}

hers_status hers_pairs_collect(const hers_matrix *gallery, const hers_labels *gallery_labels,
                               const hers_matrix *probes, const hers_labels *probe_labels,
                               const hers_scan_opts *opts, hers_pairs *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "pairs: NULL output");
    memset(out, 0, sizeof *out);
    if (!gallery || !probes || !gallery_labels || !probe_labels || !gallery_labels->data ||
        !probe_labels->data)
        return hers_error(HERS_ERR_ARG, "pairs: NULL input");
    if (gallery_labels->count != gallery->rows || probe_labels->count != probes->rows)
        return hers_error(HERS_ERR_ARG, "pairs: label counts (%zu, %zu) do not match rows "
                                        "(%zu, %zu)",
                          gallery_labels->count, probe_labels->count, gallery->rows,
                          probes->rows);
    if (probes->rows && gallery->rows > SIZE_MAX / probes->rows)
        return hers_error(HERS_ERR_ARG, "pairs: too many pairs");
    /* Exact counts first (per label, via a sort-free double loop over the
     * probe labels would be quadratic): count genuine pairs by matching. */
    size_t total = gallery->rows * probes->rows, n_gen = 0;
    for (size_t i = 0; i < probes->rows; i++)
        for (size_t j = 0; j < gallery->rows; j++)
            n_gen += gallery_labels->data[j] == probe_labels->data[i];
    struct pairs_ctx c = {gallery_labels->data, probe_labels->data, out, n_gen, total - n_gen};
    out->gen = hers_alloc_array(n_gen ? n_gen : 1, sizeof(float));
    out->imp = hers_alloc_array(total - n_gen ? total - n_gen : 1, sizeof(float));
    if (!out->gen || !out->imp) {
        hers_pairs_free(out);
        return hers_error(HERS_ERR_NOMEM, "pairs: %zu genuine + %zu impostor scores", n_gen,
                          total - n_gen);
    }
    hers_status st = hers_score_scan(gallery, probes, opts, pairs_tile, &c);
    if (st != HERS_OK)
        hers_pairs_free(out);
    return st;
}

/* ---- sorting: LSD radix sort of float keys, descending ---- */

/* Order-preserving map float -> uint32 (ascending), then inverted so that
 * an ascending radix sort yields descending scores. */
static inline uint32_t desc_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

static hers_status sort_desc(float *v, size_t n)
{
    if (n < 2)
        return HERS_OK;
    uint32_t *a = hers_alloc_array(n, sizeof *a), *b = hers_alloc_array(n, sizeof *b);
    if (!a || !b) {
        hers_free(a);
        hers_free(b);
        return hers_error(HERS_ERR_NOMEM, "sort: %zu scores", n);
    }
    for (size_t i = 0; i < n; i++)
        a[i] = desc_key(v[i]);
    for (int shift = 0; shift < 32; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[((a[i] >> shift) & 0xff) + 1]++;
        for (int r = 0; r < 256; r++)
            cnt[r + 1] += cnt[r];
        for (size_t i = 0; i < n; i++)
            b[cnt[(a[i] >> shift) & 0xff]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = ~a[i];
        u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
        memcpy(&v[i], &u, sizeof u);
    }
    hers_free(a);
    hers_free(b);
    return HERS_OK;
}

/* Number of entries of a descending array strictly greater than x. */
static size_t count_above(const float *v, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((double)v[mid] > x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void hers_roc_free(hers_roc *r)
{
    if (!r)
        return;
    hers_free(r->gen);
    hers_free(r->imp);
    memset(r, 0, sizeof *r);
}

hers_status hers_roc_build(const float *gen, size_t n_gen, const float *imp, size_t n_imp,
                           hers_roc *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "roc: NULL output");
    memset(out, 0, sizeof *out);
    if (!gen || !imp || n_gen == 0 || n_imp == 0)
        return hers_error(HERS_ERR_ARG, "roc: need at least one genuine and one impostor score "
                                        "(got %zu and %zu)",
                          n_gen, n_imp);
    for (size_t i = 0; i < n_gen; i++)
        if (!isfinite(gen[i]))
            return hers_error(HERS_ERR_ARG, "roc: genuine score %zu is not finite", i);
    for (size_t i = 0; i < n_imp; i++)
        if (!isfinite(imp[i]))
            return hers_error(HERS_ERR_ARG, "roc: impostor score %zu is not finite", i);
    out->gen = hers_alloc_array(n_gen, sizeof(float));
    out->imp = hers_alloc_array(n_imp, sizeof(float));
    if (!out->gen || !out->imp) {
        hers_roc_free(out);
        return hers_error(HERS_ERR_NOMEM, "roc: %zu + %zu scores", n_gen, n_imp);
    }
    memcpy(out->gen, gen, n_gen * sizeof(float));
    memcpy(out->imp, imp, n_imp * sizeof(float));
    out->n_gen = n_gen;
    out->n_imp = n_imp;
    hers_status st = sort_desc(out->gen, n_gen);
    if (st == HERS_OK)
        st = sort_desc(out->imp, n_imp);
    if (st != HERS_OK)
        hers_roc_free(out);
    return st;
}

hers_status hers_roc_tar_at_far(const hers_roc *r, double far, hers_roc_point *out)
{
    if (!r || !out || !r->gen || !r->imp || !(far >= 0.0 && far <= 1.0))
        return hers_error(HERS_ERR_ARG, "roc: bad argument (FAR must be in [0, 1])");
    /* m = floor(far * n_imp) false accepts allowed; the relative slack
     * absorbs the representation error of decimal targets like 1e-3. */
    double mf = floor(far * (double)r->n_imp * (1.0 + 1e-12));
    size_t m = mf >= (double)r->n_imp ? r->n_imp : (size_t)mf;
    if (m >= r->n_imp) {
        out->threshold = -INFINITY;
        out->false_accepts = r->n_imp;
        out->far = 1.0;
        out->tar = 1.0;
        return HERS_OK;
    }
    double th = r->imp[m]; /* the (m+1)-th largest impostor score */
    out->threshold = th;
    out->false_accepts = count_above(r->imp, r->n_imp, th);
    out->far = (double)out->false_accepts / (double)r->n_imp;
    out->tar = (double)count_above(r->gen, r->n_gen, th) / (double)r->n_gen;
    return HERS_OK;
}

size_t hers_roc_curve(const hers_roc *r, hers_roc_point *pts, size_t max_pts)
{
    if (!r || !pts || max_pts < 2 || !r->imp)
        return 0;
    double lo = log10(1.0 / (double)r->n_imp);
    size_t n = 0;
    for (size_t i = 0; i < max_pts; i++) {
        double f = i + 1 == max_pts ? 1.0 : pow(10.0, lo - lo * (double)i / (double)(max_pts - 1));
        hers_roc_point p;
        if (hers_roc_tar_at_far(r, f, &p) != HERS_OK)
            return n;
        if (n > 0 && p.false_accepts == pts[n - 1].false_accepts)
            continue; /* same operating point */
        pts[n++] = p;
    }
    return n;
}

double hers_roc_eer(const hers_roc *r)
{
    if (!r || !r->gen || !r->imp)
        return NAN;
    /* Thresholds at the impostor scores, descending index m: FAR(m) rises,
     * FRR(m) falls, so max(FAR, FRR) is minimal next to the first m with
     * FAR >= FRR (binary search), at m or m - 1. */
    size_t lo = 0, hi = r->n_imp;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        double th = r->imp[m];
        double far = (double)count_above(r->imp, r->n_imp, th) / (double)r->n_imp;
        double frr = 1.0 - (double)count_above(r->gen, r->n_gen, th) / (double)r->n_gen;
        if (far >= frr)
            hi = m;
        else
            lo = m + 1;
    }
    double best = 1.0; /* threshold -inf: FAR 1, FRR 0 */
    for (size_t m = lo > 0 ? lo - 1 : 0; m <= lo && m < r->n_imp; m++) {
        double th = r->imp[m];
        double far = (double)count_above(r->imp, r->n_imp, th) / (double)r->n_imp;
        double frr = 1.0 - (double)count_above(r->gen, r->n_gen, th) / (double)r->n_gen;
        double e = far > frr ? far : frr;
        if (e < best)
            best = e;
    }
    return best;
}
