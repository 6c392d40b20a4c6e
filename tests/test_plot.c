/* test_plot.c - SVG line charts: structure, escaping, log axes, skipped
 * points, determinism, argument errors, file output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_plot.h"
#include "support/check.h"

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

int main(void)
{
    (void)test_seed();
    double x[] = {1e3, 1e4, 1e5, 1e6}, y1[] = {0.01, 0.1, 1, 10}, y2[] = {0.02, NAN, 2, 20};
    hers_plot_series s[2] = {{"d = 64 <fast> & \"x\"", 4, x, y1}, {"d = 512", 4, x, y2}};
    hers_plot p = {0};
    p.title = "search time vs gallery size";
    p.x_label = "gallery size n";
    p.y_label = "seconds";
    p.log_x = p.log_y = 1;
    p.markers = 1;
    p.n_series = 2;
    p.series = s;
    char *a, *b;
    size_t la, lb;
    CHECK_OK(hers_plot_svg_render(&p, &a, &la));
    CHECK(la == strlen(a));
    CHECK(strstr(a, "<svg") && strstr(a, "</svg>"));
    CHECK(strstr(a, "&lt;fast&gt; &amp; &quot;x&quot;") != NULL);
    CHECK(strstr(a, "<fast>") == NULL);
    /* The NaN breaks series 2 into two polylines: 1 + 2 = 3. */
    CHECK(count(a, "<polyline") == 3);
    CHECK(count(a, "<circle") == 7);
    CHECK(strstr(a, ">1000<") && strstr(a, ">1e+06<"));
    CHECK_OK(hers_plot_svg_render(&p, &b, &lb));
    CHECK(la == lb && memcmp(a, b, la) == 0);
    hers_free(a);
    hers_free(b);

    /* Linear axes, fixed range, a single point, a series without name. */
    double fx[] = {0, 0.25, 1}, fy[] = {0, 0.9, 1}, px[] = {0.5}, py[] = {0.5};
    hers_plot_series r[2] = {{"ROC", 3, fx, fy}, {NULL, 1, px, py}};
    hers_plot q = {0};
    q.n_series = 2;
    q.series = r;
    q.x_min = 0;
    q.x_max = 1;
    q.y_min = 0;
    q.y_max = 1;
    CHECK_OK(hers_plot_svg_render(&q, &a, &la));
    CHECK(strstr(a, ">0.2<") && strstr(a, ">1<"));
    hers_free(a);
    /* Log axis with non-positive values only: still renders. */
    double zx[] = {-1, 0}, zy[] = {1, 2};
    hers_plot_series z = {"none", 2, zx, zy};
    hers_plot zp = {0};
    zp.log_x = 1;
    zp.n_series = 1;
    zp.series = &z;
    CHECK_OK(hers_plot_svg_render(&zp, &a, &la));
    CHECK(count(a, "<polyline") == 0);
    hers_free(a);

    /* Errors. */
    hers_plot e = {0};
    CHECK(hers_plot_svg_render(&e, &a, &la) == HERS_ERR_ARG);
    hers_plot_series bad = {"x", 3, NULL, fy};
    e.n_series = 1;
    e.series = &bad;
    CHECK(hers_plot_svg_render(&e, &a, &la) == HERS_ERR_ARG);
    q.width = 50;
    CHECK(hers_plot_svg_render(&q, &a, &la) == HERS_ERR_ARG);
    q.width = 0;

    /* File output. */
    char path[256];
    snprintf(path, sizeof path, "/tmp/hers_test_plot_%d.svg", (int)(test_rand() % 100000));
    CHECK_OK(hers_plot_svg_write(path, &p));
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        char head[6] = {0};
        CHECK(fread(head, 1, 5, f) == 5 && memcmp(head, "<?xml", 5) == 0);
        fclose(f);
    }
    remove(path);
    CHECK(hers_plot_svg_write("/nonexistent-dir/x.svg", &p) == HERS_ERR_IO);
    return test_finish();
}
