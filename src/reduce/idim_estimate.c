/* idim_estimate.c - hers_idim_estimate: sample, kNN, then one estimator. */
#include <math.h>
#include <string.h>

#include "hers/hers_idim.h"
#include "reduce/idim_internal.h"

void hers_idim_params_default(hers_idim_params *p)
{
    memset(p, 0, sizeof *p);
    p->method = HERS_IDIM_GEODESIC;
    p->k = HERS_IDIM_DEFAULT_K;
    p->sample = HERS_IDIM_DEFAULT_SAMPLE;
    p->sources = 0;
    p->candidates = HERS_IDIM_DEFAULT_CANDIDATES;
    p->mle_k1 = 10;
    p->mle_k2 = 20;
    p->twonn_discard = 0.1;
    p->edge = HERS_IDIM_EDGE_COSINE;
    p->edge_quantile = 1.0;
    p->threads = 0;
}

const char *hers_idim_method_name(hers_idim_method m)
{
    switch (m) {
    case HERS_IDIM_GEODESIC: return "geodesic";
    case HERS_IDIM_TWONN: return "twonn";
    case HERS_IDIM_MLE: return "mle";
    }
    return "unknown";
}

hers_status hers_idim_method_parse(const char *s, hers_idim_method *out)
{
    static const hers_idim_method all[] = {HERS_IDIM_GEODESIC, HERS_IDIM_TWONN, HERS_IDIM_MLE};
    for (size_t i = 0; s && out && i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, hers_idim_method_name(all[i]))) {
            *out = all[i];
            return HERS_OK;
        }
    return hers_error(HERS_ERR_ARG, "unknown ID method '%s' (geodesic, twonn, mle)",
                      s ? s : "(null)");
}

static unsigned round_id(double v, size_t dim)
{
    if (!(v >= 1))
        return 1;
    double r = floor(v + 0.5);
    return r > (double)dim ? (unsigned)dim : (unsigned)r;
}

hers_status hers_idim_estimate(const hers_matrix *x, const hers_idim_params *p,
                             hers_idim_result *out)
{
    if (!x || !out)
        return hers_error(HERS_ERR_ARG, "id: NULL argument");
    hers_idim_params def;
    if (!p) {
        hers_idim_params_default(&def);
        p = &def;
    }
    memset(out, 0, sizeof *out);
    if (p->method != HERS_IDIM_GEODESIC && p->method != HERS_IDIM_TWONN && p->method != HERS_IDIM_MLE)
        return hers_error(HERS_ERR_ARG, "id: unknown method %d", (int)p->method);
    if (x->cols > UINT32_MAX)
        return hers_error(HERS_ERR_ARG, "id: dimension %zu too large", x->cols);

    hers_matrix unit;
    hers_status st = hers_idim_sample(x, p->sample, p->seed, &unit, &out->zero_rows);
    if (st != HERS_OK)
        return st;
    size_t n = unit.rows, need;
    out->method = p->method;
    out->n = n;
    out->dim = x->cols;
    if (n < HERS_IDIM_MIN_POINTS) {
        hers_matrix_free(&unit);
        return hers_error(HERS_ERR_ARG, "id: only %zu usable (non-zero) points, need at least %d",
                          n, HERS_IDIM_MIN_POINTS);
    }
    switch (p->method) {
    case HERS_IDIM_GEODESIC: need = p->k; break;
    case HERS_IDIM_TWONN: need = 2; break;
    default:
        if (p->mle_k1 < 2 || p->mle_k1 > p->mle_k2) {
            hers_matrix_free(&unit);
            return hers_error(HERS_ERR_ARG, "id: MLE needs 2 <= k1 <= k2, got %zu..%zu",
                              p->mle_k1, p->mle_k2);
        }
        need = p->mle_k2;
        break;
    }
    if (need < 1 || need >= n) {
        hers_matrix_free(&unit);
        return hers_error(HERS_ERR_ARG, "id: k = %zu must be in [1, n - 1] for n = %zu points",
                          need, n);
    }

    hers_idim_knn knn;
    st = hers_idim_knn_build(&unit, need, p->candidates, p->threads, &knn);
    hers_matrix_free(&unit);
    if (st != HERS_OK)
        return st;
    if (p->method == HERS_IDIM_GEODESIC) {
        double mean, std;
        st = hers_idim_geodesic_hist(&knn, p->k, p->edge, p->edge_quantile, p->sources,
                                   p->threads, out, &mean, &std);
        if (st == HERS_OK)
            st = hers_idim_fit_hist(out, std, x->cols);
    } else if (p->method == HERS_IDIM_TWONN) {
        st = hers_idim_twonn(&knn, p->twonn_discard, &out->id_fit, &out->rmse);
        out->id = round_id(out->id_fit, x->cols);
    } else {
        st = hers_idim_mle(&knn, p->mle_k1, p->mle_k2, &out->id_fit, &out->rmse);
        out->id = round_id(out->id_fit, x->cols);
    }
    hers_idim_knn_free(&knn);
    return st;
}
