/* plot_svg.c - line charts as standalone SVG (see hers_plot.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/atomic_file.h"
#include "hers/hers_mem.h"
#include "hers/hers_plot.h"

#define MAX_SERIES 32
#define MAX_TICKS 64

/* ---- growable output buffer ---- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = 2 * b->cap + (size_t)n + 1;
        char *np = hers_alloc(ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        memcpy(np, b->p, b->len + 1);
        hers_free(b->p);
        b->p = np;
        b->cap = ncap;
    }
}

static void put_text(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                put(b, "%c", *s);
        }
    }
}

/* ---- axes ---- */

struct axis {
    int log;
    double lo, hi;      /* data range (log10 of it on log axes) */
    double px0, px1;    /* pixel positions of lo and hi */
    double ticks[MAX_TICKS];
    int nticks;
};

static double ax_t(const struct axis *a, double v) /* value -> transformed */
{
    return a->log ? log10(v) : v;
}

static double ax_px(const struct axis *a, double v)
{
    double t = ax_t(a, v);
    return a->px0 + (t - a->lo) / (a->hi - a->lo) * (a->px1 - a->px0);
}

static int usable(const struct axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

/* Usable and inside the axis range (after setup; small tolerance). */
static int inside(const struct axis *a, double v)
{
    if (!usable(a, v))
        return 0;
    double t = ax_t(a, v), eps = 1e-9 * (a->hi - a->lo);
    return t >= a->lo - eps && t <= a->hi + eps;
}

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* Sets lo/hi (transformed) from the data range and picks ticks (values). */
static void ax_setup(struct axis *a, double dmin, double dmax, double fmin, double fmax)
{
    if (fmin < fmax && (!a->log || fmin > 0)) {
        dmin = fmin;
        dmax = fmax;
    } else if (!(dmin < dmax)) { /* no data or a single value */
        if (!isfinite(dmin)) {
            dmin = a->log ? 1 : 0;
            dmax = a->log ? 10 : 1;
        } else if (a->log) {
            dmin /= 2;
            dmax = 2 * dmax;
        } else {
            double w = fabs(dmin) > 0 ? fabs(dmin) * 0.1 : 1;
            dmin -= w;
            dmax += w;
        }
    }
    a->nticks = 0;
    if (a->log) {
        double l0 = floor(log10(dmin) + 1e-9), l1 = ceil(log10(dmax) - 1e-9);
        if (!(fmin < fmax)) { /* auto range: whole decades */
            dmin = pow(10.0, l0);
            dmax = pow(10.0, l1);
        }
        if (l1 <= l0)
            l1 = l0 + 1;
        a->lo = log10(dmin);
        a->hi = log10(dmax);
        int decades = (int)(l1 - l0);
        int stride = decades > 12 ? (decades + 11) / 12 : 1;
        for (double e = l0; e <= l1 + 1e-9 && a->nticks < MAX_TICKS; e++) {
            static const double mult[] = {1, 2, 5};
            for (int m = 0; m < (decades <= 3 ? 3 : 1); m++) {
                double v = mult[m] * pow(10.0, e);
                if (((long)(e - l0)) % stride == 0 && log10(v) >= a->lo - 1e-9 &&
                    log10(v) <= a->hi + 1e-9 && a->nticks < MAX_TICKS)
                    a->ticks[a->nticks++] = v;
            }
        }
    } else {
        double step = nice_step(dmax - dmin, 6);
        if (!(fmin < fmax)) {
            dmin = floor(dmin / step + 1e-9) * step;
            dmax = ceil(dmax / step - 1e-9) * step;
        }
        a->lo = dmin;
        a->hi = dmax;
        for (double v = ceil(dmin / step - 1e-9) * step; v <= dmax + step * 1e-9 &&
                                                        a->nticks < MAX_TICKS;
             v += step)
            a->ticks[a->nticks++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    }
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                      "#7f7f7f", "#bcbd22"};

hers_status hers_plot_svg_render(const hers_plot *p, char **svg, size_t *len)
{
    if (!p || !svg)
        return hers_error(HERS_ERR_ARG, "plot: NULL argument");
    *svg = NULL;
    if (len)
        *len = 0;
    if (p->n_series < 1 || p->n_series > MAX_SERIES || !p->series)
        return hers_error(HERS_ERR_ARG, "plot: %zu series (1..%d)", p->n_series, MAX_SERIES);
    for (size_t s = 0; s < p->n_series; s++)
        if (p->series[s].n && (!p->series[s].x || !p->series[s].y))
            return hers_error(HERS_ERR_ARG, "plot: series %zu has no data arrays", s);
    double W = p->width > 0 ? p->width : 760, H = p->height > 0 ? p->height : 480;
    if (W < 200 || H < 150 || W > 10000 || H > 10000)
        return hers_error(HERS_ERR_ARG, "plot: size %gx%g outside 200x150..10000x10000", W, H);
    struct axis ax = {0}, ay = {0};
    ax.log = p->log_x != 0;
    ay.log = p->log_y != 0;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!usable(&ax, x) || !usable(&ay, y))
                continue;
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            ymin = fmin(ymin, y);
            ymax = fmax(ymax, y);
        }
    double left = 78, right = W - 190, top = 44, bottom = H - 58;
    ax.px0 = left;
    ax.px1 = right;
    ay.px0 = bottom;
    ay.px1 = top;
    ax_setup(&ax, xmin, xmax, p->x_min, p->x_max);
    ax_setup(&ay, ymin, ymax, p->y_min, p->y_max);

    struct buf b = {hers_alloc(4096), 0, 4096, 0};
    if (!b.p)
        return hers_error(HERS_ERR_NOMEM, "plot: buffer");
    b.p[0] = 0;
    put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
        W, H, W, H);
    put(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    if (p->title) {
        put(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">",
            (left + right) / 2);
        put_text(&b, p->title);
        put(&b, "</text>\n");
    }
    /* Grid and ticks. */
    put(&b, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
    for (int i = 0; i < ax.nticks; i++) {
        double x = ax_px(&ax, ax.ticks[i]);
        put(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, top, x, bottom);
    }
    for (int i = 0; i < ay.nticks; i++) {
        double y = ax_px(&ay, ay.ticks[i]);
        put(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", left, y, right, y);
    }
    put(&b, "</g>\n<g fill=\"#333\">\n");
    for (int i = 0; i < ax.nticks; i++)
        put(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
            ax_px(&ax, ax.ticks[i]), bottom + 16, ax.ticks[i]);
    for (int i = 0; i < ay.nticks; i++)
        put(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", left - 6,
            ax_px(&ay, ay.ticks[i]) + 4, ay.ticks[i]);
    put(&b, "</g>\n");
    put(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
        left, top, right - left, bottom - top);
    if (p->x_label) {
        put(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (left + right) / 2,
            H - 18);
        put_text(&b, p->x_label);
        put(&b, "</text>\n");
    }
    if (p->y_label) {
        put(&b, "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\">",
            (top + bottom) / 2);
        put_text(&b, p->y_label);
        put(&b, "</text>\n");
    }
    /* Series. No clipPath (some SVG renderers ignore or mishandle it):
     * points outside a fixed axis range are skipped instead. */
    put(&b, "<g fill=\"none\" stroke-width=\"2\">\n");
    for (size_t s = 0; s < p->n_series; s++) {
        const hers_plot_series *se = &p->series[s];
        const char *col = palette[s % (sizeof palette / sizeof palette[0])];
        int open = 0;
        for (size_t i = 0; i < se->n; i++) {
            if (!inside(&ax, se->x[i]) || !inside(&ay, se->y[i])) {
                if (open)
                    put(&b, "\"/>\n");
                open = 0;
                continue;
            }
            double x = ax_px(&ax, se->x[i]), y = ax_px(&ay, se->y[i]);
            if (!open)
                put(&b, "<polyline stroke=\"%s\" points=\"", col);
            put(&b, "%s%.2f,%.2f", open ? " " : "", x, y);
            open = 1;
        }
        if (open)
            put(&b, "\"/>\n");
        if (p->markers)
            for (size_t i = 0; i < se->n; i++)
                if (inside(&ax, se->x[i]) && inside(&ay, se->y[i]))
                    put(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\" stroke=\"none\"/>\n",
                        ax_px(&ax, se->x[i]), ax_px(&ay, se->y[i]), col);
    }
    put(&b, "</g>\n");
    /* Legend. */
    double ly = top + 8;
    for (size_t s = 0; s < p->n_series; s++) {
        if (!p->series[s].name)
            continue;
        const char *col = palette[s % (sizeof palette / sizeof palette[0])];
        put(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">",
            right + 14, ly, right + 36, ly, col, right + 42, ly + 4);
        put_text(&b, p->series[s].name);
        put(&b, "</text>\n");
        ly += 18;
    }
    put(&b, "</svg>\n");
    if (b.oom) {
        hers_free(b.p);
        return hers_error(HERS_ERR_NOMEM, "plot: rendering buffer");
    }
    *svg = b.p;
    if (len)
        *len = b.len;
    return HERS_OK;
}

hers_status hers_plot_svg_write(const char *path, const hers_plot *p)
{
    if (!path)
        return hers_error(HERS_ERR_ARG, "plot: NULL path");
    char *svg;
    size_t len;
    hers_status st = hers_plot_svg_render(p, &svg, &len);
    if (st != HERS_OK)
        return st;
    st = hers_atomic_write_file(path, svg, len, 0644);
    hers_free(svg);
    return st;
}
