/* idim_fit.c - steps 4-5 of the geodesic ID estimator on the histogram of
 * the r_ij (Granata & Carnevale 2016, as used by Gong et al. 2019).
 *
 * Peak: r_max starts at the centre of the fullest bin and sigma at the
 * standard deviation of all r_ij. A parabola a r^2 + b r + c fitted to
 * log p(r) on the bins within [r_max - sigma, r_max + sigma] gives
 * r_max = -b / 2a, sigma = sqrt(|1 / 2a|) and log p(r_max) = c - b^2 / 4a
 * (a Gaussian peak); the fit is repeated once on the refined interval and
 * the refit kept only if it moves r_max by at most sigma / 4. A fit needs
 * 3 non-empty bins and a < 0; if the first fails the fullest bin is used.
 *
 * Hypersphere model: on S^D the geodesic distances have density
 * ~ sin^(D-1)(pi r / (2 r_max)), so with x = r / r_max and
 * y = log(p(r) / p(r_max)): y = (D - 1) log sin(pi x / 2). It is fitted on
 * the left flank [r_min, r_M], r_min = max(r_max - 2 sigma, 0, longest kNN
 * edge) (shorter paths are single edges, not geodesics), r_M = r_max + dx/4;
 * only non-empty bins whose centre lies in the window count. */
#include <math.h>

#include "reduce/idim_internal.h"

/* Least-squares parabola through (r, log p) for bin centres in [lo, hi];
 * coordinates are centred on `mid` for conditioning. Returns 1 on success
 * with a < 0. */
static int quad_fit(const hers_idim_result *res, double lo, double hi, double *r_peak,
                    double *width, double *logp_peak)
{
    double dx = res->hist_dx, mid = 0.5 * (lo + hi);
    double m[3][4] = {{0}};
    int pts = 0;
    for (int b = 0; b < HERS_IDIM_BINS; b++) {
        double r = (b + 0.5) * dx;
        if (r < lo || r > hi || res->hist[b] == 0)
            continue;
        double t = r - mid, v = log((double)res->hist[b] / ((double)res->pairs * dx));
        double f[3] = {t * t, t, 1};
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++)
                m[i][j] += f[i] * f[j];
            m[i][3] += f[i] * v;
        }
        pts++;
    }
    if (pts < 3)
        return 0;
    /* Gaussian elimination with partial pivoting on the 3x3 normal equations */
    for (int c = 0; c < 3; c++) {
        int piv = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(m[r][c]) > fabs(m[piv][c]))
                piv = r;
        if (fabs(m[piv][c]) < 1e-300)
            return 0;
        for (int j = 0; j < 4; j++) {
            double tmp = m[c][j];
            m[c][j] = m[piv][j];
            m[piv][j] = tmp;
        }
        for (int r = 0; r < 3; r++) {
            if (r == c)
                continue;
            double f = m[r][c] / m[c][c];
            for (int j = c; j < 4; j++)
                m[r][j] -= f * m[c][j];
        }
    }
    double a = m[0][3] / m[0][0], b = m[1][3] / m[1][1], c = m[2][3] / m[2][2];
    if (!(a < 0) || !isfinite(b) || !isfinite(c))
        return 0;
    double tp = -b / (2 * a);
    *r_peak = mid + tp;
    *width = sqrt(fabs(1 / (2 * a)));
    *logp_peak = c - b * b / (4 * a);
    return *r_peak > 0 && *r_peak < HERS_IDIM_BINS * dx && isfinite(*width);
}

hers_status hers_idim_fit_hist(hers_idim_result *res, double std, size_t dim)
{
    if (!res || dim < 1 || !(res->hist_dx > 0) || res->pairs == 0)
        return hers_error(HERS_ERR_ARG, "id fit: empty histogram");
    double dx = res->hist_dx;
    int top = 0;
    for (int b = 1; b < HERS_IDIM_BINS; b++)
        if (res->hist[b] > res->hist[top])
            top = b;
    double r_max = (top + 0.5) * dx, sigma = std > 0 ? std : dx;
    double logp = log((double)res->hist[top] / ((double)res->pairs * dx));
    res->refit_used = 0;

    double r1, s1, l1, r2, s2, l2;
    if (quad_fit(res, r_max - sigma, r_max + sigma, &r1, &s1, &l1)) {
        r_max = r1;
        sigma = s1;
        logp = l1;
        if (quad_fit(res, r1 - s1, r1 + s1, &r2, &s2, &l2) && fabs(r2 - r1) <= s1 / 4) {
            r_max = r2;
            sigma = s2;
            logp = l2;
            res->refit_used = 1;
        }
    }
    res->r_max = r_max;
    res->sigma = sigma;

    double lo = r_max - 2 * sigma;
    if (lo < 0)
        lo = 0;
    if (lo < res->max_edge)
        lo = res->max_edge;
    double hi = r_max + dx / 4;
    res->fit_lo = lo;
    res->fit_hi = hi;

    double xs[HERS_IDIM_BINS], ys[HERS_IDIM_BINS], sll = 0, sly = 0;
    size_t m = 0;
    for (int b = 0; b < HERS_IDIM_BINS; b++) {
        double r = (b + 0.5) * dx, x = r / r_max;
        if (r < lo || r > hi || res->hist[b] == 0 || !(x > 0 && x < 2))
            continue;
        xs[m] = log(sin(M_PI * x / 2));
        ys[m] = log((double)res->hist[b] / ((double)res->pairs * dx)) - logp;
        sll += xs[m] * xs[m];
        sly += xs[m] * ys[m];
        m++;
    }
    res->fit_bins = m;
    if (m < 2 || !(sll > 0))
        return hers_error(HERS_ERR_NUMERIC,
                          "id: only %zu histogram bins in the fit window [%.4g, %.4g] "
                          "(peak %.4g, longest kNN edge %.4g): the geodesic distances are "
                          "too short for the kNN graph; use a larger sample", m, lo, hi,
                          r_max, res->max_edge);
    res->id_fit = 1 + sly / sll;
    double best = INFINITY;
    unsigned best_d = 1;
    for (size_t D = 1; D <= dim; D++) {
        double e = 0;
        for (size_t i = 0; i < m; i++) {
            double t = ys[i] - (double)(D - 1) * xs[i];
            e += t * t;
        }
        e = sqrt(e / (double)m);
        if (e < best) {
            best = e;
            best_d = (unsigned)D;
        }
    }
    res->id = best_d;
    res->rmse = best;
    return HERS_OK;
}
