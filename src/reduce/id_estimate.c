/* id_estimate.c - hers_id_estimate: sample, kNN, then one estimator. */
#include <math.h>
#include <string.h>

#include "hers/hers_id.h"
#include "reduce/id_internal.h"

void hers_id_params_default(hers_id_params *p)
{
    memset(p, 0, sizeof *p);
    p->method = HERS_ID_GEODESIC;
    p->k = HERS_ID_DEFAULT_K;
    p->sample = HERS_ID_DEFAULT_SAMPLE;
    p->sources = 0;
    p->candidates = HERS_ID_DEFAULT_CANDIDATES;
    p->mle_k1 = 10;
    p->mle_k2 = 20;
    p->twonn_discard = 0.1;
    p->edge = HERS_ID_EDGE_COSINE;
    p->edge_quantile = 1.0;
    p->threads = 0;
}

const char *hers_id_method_name(hers_id_method m)
{
    switch (m) {
    case HERS_ID_GEODESIC: return "geodesic";
    case HERS_ID_TWONN: return "twonn";
    case HERS_ID_MLE: return "mle";
    }
    return "unknown";
}

hers_status hers_id_method_parse(const char *s, hers_id_method *out)
{
    static const hers_id_method all[] = {HERS_ID_GEODESIC, HERS_ID_TWONN, HERS_ID_MLE};
    for (size_t i = 0; s && out && i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, hers_id_method_name(all[i]))) {
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

hers_status hers_id_estimate(const hers_matrix *x, const hers_id_params *p,
                             hers_id_result *out)
{
    if (!x || !out)
        return hers_error(HERS_ERR_ARG, "id: NULL argument");
    hers_id_params def;
    if (!p) {
        hers_id_params_default(&def);
        p = &def;
    }
    memset(out, 0, sizeof *out);
    if (p->method != HERS_ID_GEODESIC && p->method != HERS_ID_TWONN && p->method != HERS_ID_MLE)
        return hers_error(HERS_ERR_ARG, "id: unknown method %d", (int)p->method);
    if (x->cols > UINT32_MAX)
        return hers_error(HERS_ERR_ARG, "id: dimension %zu too large", x->cols);

    hers_matrix unit;
    hers_status st = hers_id_sample(x, p->sample, p->seed, &unit, &out->zero_rows);
    if (st != HERS_OK)
        return st;
    size_t n = unit.rows, need;
    out->method = p->method;
    out->n = n;
    out->dim = x->cols;
    if (n < HERS_ID_MIN_POINTS) {
        hers_matrix_free(&unit);
        return hers_error(HERS_ERR_ARG, "id: only %zu usable (non-zero) points, need at least %d",
                          n, HERS_ID_MIN_POINTS);
    }
    switch (p->method) {
    case HERS_ID_GEODESIC: need = p->k; break;
    case HERS_ID_TWONN: need = 2; break;
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

    hers_id_knn knn;
    st = hers_id_knn_build(&unit, need, p->candidates, p->threads, &knn);
    hers_matrix_free(&unit);
    if (st != HERS_OK)
        return st;
    if (p->method == HERS_ID_GEODESIC) {
        double mean, std;
        st = hers_id_geodesic_hist(&knn, p->k, p->edge, p->edge_quantile, p->sources,
                                   p->threads, out, &mean, &std);
        if (st == HERS_OK)
            st = hers_id_fit_hist(out, std, x->cols);
    } else if (p->method == HERS_ID_TWONN) {
        st = hers_id_twonn(&knn, p->twonn_discard, &out->id_fit, &out->rmse);
        out->id = round_id(out->id_fit, x->cols);
    } else {
        st = hers_id_mle(&knn, p->mle_k1, p->mle_k2, &out->id_fit, &out->rmse);
        out->id = round_id(out->id_fit, x->cols);
    }
    hers_id_knn_free(&knn);
    return st;
}
