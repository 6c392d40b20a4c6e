/*
 * hers_plot.h - line charts as standalone SVG files, written by hers itself
 * (no gnuplot, no fonts to embed): ROC curves, accuracy vs dimension,
 * search time vs gallery size (log-log), ...
 *
 * A chart is a set of series (name, n points x[i], y[i]) drawn as polylines
 * with optional point markers, axes with "nice" ticks (1-2-5 steps on
 * linear axes; decades, plus 2 and 5 within a decade on short log ranges),
 * a title, axis labels and a legend to the right of the plot area.
 * Points with a non-finite coordinate (or <= 0 on a log axis) are skipped
 * and break the line. Axis limits: x_min < x_max (resp. y) fixes them;
 * otherwise (e.g. both 0) they are computed from the data.
 * Text is XML-escaped. Output is deterministic (same input, same bytes).
 *
 * Ownership: the caller owns every array; nothing is retained.
 * Thread-safety: reentrant.
 */
#ifndef HERS_PLOT_H
#define HERS_PLOT_H

#include "hers/hers_api.h"

#include <stddef.h>

#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hers_plot_series {
    const char *name;   /* legend text (NULL: no legend entry) */
    size_t n;           /* number of points */
    const double *x;
    const double *y;
} hers_plot_series;

typedef struct hers_plot {
    const char *title;
    const char *x_label;
    const char *y_label;
    int log_x, log_y;           /* logarithmic axes (base 10) */
    double x_min, x_max;        /* fixed range if x_min < x_max, else auto */
    double y_min, y_max;
    int markers;                /* draw a dot at every point */
    int width, height;          /* pixels; 0 = 760 x 480 */
    size_t n_series;            /* 1..32 */
    const hers_plot_series *series;
} hers_plot;

/* Renders the chart into a new NUL-terminated buffer (hers_free). */
HERS_API hers_status hers_plot_svg_render(const hers_plot *p, char **svg, size_t *len);

/* Renders and writes `path` (via "<path>.tmp" and rename). */
HERS_API hers_status hers_plot_svg_write(const char *path, const hers_plot *p);

#ifdef __cplusplus
}
#endif
#endif /* HERS_PLOT_H */
