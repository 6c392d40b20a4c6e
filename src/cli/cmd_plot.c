/* cmd_plot.c - `hers plot`: a line chart (SVG) from a tab-separated table,
 * for the reports in docs/ (accuracy vs dimension, search time vs n). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hers/hers_mem.h"
#include "hers/hers_plot.h"

static const char *const plot_opts[] = {"--in", "--out", "--x", "--y", "--series", "--where",
                                        "--title", "--x-label", "--y-label", "--x-range",
                                        "--y-range", NULL};
static const char *const plot_flags[] = {"--log-x", "--log-y", "--markers", "--help", "-h",
                                         NULL};

#define MAX_COLS 64
#define MAX_SERIES 32
#define MAX_FILE (64u << 20)

static void plot_usage(void)
{
    printf("usage: hers plot --in TABLE.tsv --x COL --y COL[,COL...] --out F.svg\n"
           "                 [--series COL] [--where COL=VALUE] [--log-x] [--log-y]\n"
           "                 [--markers] [--title T] [--x-label T] [--y-label T]\n"
           "                 [--x-range LO:HI] [--y-range LO:HI]\n\n"
           "Draws a line chart from a tab-separated table whose first line names the\n"
           "columns (lines starting with '#' are skipped). One series per distinct value of\n"
           "--series (and per --y column), points sorted by x. Non-numeric cells are\n"
           "skipped. Written by hers itself (no external tools).\n");
}

struct series {
    char name[128];
    size_t n, cap;
    double *x, *y;
};

static int split_tabs(char *line, char **cols, int max)
{
    int n = 0;
    for (char *p = line;; ) {
        if (n == max)
            return -1;
        cols[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

static int col_index(char **hdr, int nh, const char *name)
{
    for (int i = 0; i < nh; i++)
        if (!strcmp(hdr[i], name))
            return i;
    return -1;
}

static int parse_range(const char *cmd, const char *opt, const char *v, double *lo, double *hi)
{
    if (!v)
        return 0;
    char *end;
    *lo = strtod(v, &end);
    if (*end != ':')
        return cli_fail(cmd, "%s must be LO:HI, got '%s'", opt, v);
    *hi = strtod(end + 1, &end);
    if (*end || !(*lo < *hi))
        return cli_fail(cmd, "%s must be LO:HI with LO < HI, got '%s'", opt, v);
    return 0;
}

static int push(struct series *s, double x, double y)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 64;
        double *nx = hers_alloc_array(nc, sizeof *nx), *ny = hers_alloc_array(nc, sizeof *ny);
        if (!nx || !ny) {
            hers_free(nx);
            hers_free(ny);
            return -1;
        }
        if (s->n) {
            memcpy(nx, s->x, s->n * sizeof *nx);
            memcpy(ny, s->y, s->n * sizeof *ny);
        }
        hers_free(s->x);
        hers_free(s->y);
        s->x = nx;
        s->y = ny;
        s->cap = nc;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 0;
}

static void sort_by_x(struct series *s)
{
    for (size_t i = 1; i < s->n; i++) { /* insertion sort: stable, small n */
        double x = s->x[i], y = s->y[i];
        size_t j = i;
        for (; j > 0 && s->x[j - 1] > x; j--) {
            s->x[j] = s->x[j - 1];
            s->y[j] = s->y[j - 1];
        }
        s->x[j] = x;
        s->y[j] = y;
    }
}

static int num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    while (*end == ' ' || *end == '\r')
        end++;
    return end != s && !*end && !errno;
}

int hers_cmd_plot(int argc, char **argv)
{
    const char *cmd = "plot";
    if (cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        plot_usage();
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, plot_opts, plot_flags))
        return 2;
    const char *in = cli_opt(argc, argv, "--in"), *out = cli_opt(argc, argv, "--out");
    const char *xc = cli_opt(argc, argv, "--x"), *yc = cli_opt(argc, argv, "--y");
    const char *sc = cli_opt(argc, argv, "--series"), *where = cli_opt(argc, argv, "--where");
    if (!in || !out || !xc || !yc)
        return cli_usage(cmd, "--in, --out, --x and --y are required (see hers plot --help)");
    hers_plot p = {0};
    if (parse_range(cmd, "--x-range", cli_opt(argc, argv, "--x-range"), &p.x_min, &p.x_max) ||
        parse_range(cmd, "--y-range", cli_opt(argc, argv, "--y-range"), &p.y_min, &p.y_max))
        return 1;
    char wcol[128] = "", wval[128] = "";
    if (where) {
        const char *eq = strchr(where, '=');
        if (!eq || eq == where || (size_t)(eq - where) >= sizeof wcol ||
            strlen(eq + 1) >= sizeof wval)
            return cli_fail(cmd, "--where must be COLUMN=VALUE, got '%s'", where);
        memcpy(wcol, where, (size_t)(eq - where));
        snprintf(wval, sizeof wval, "%s", eq + 1);
    }
    FILE *f = fopen(in, "rb");
    if (!f)
        return cli_fail(cmd, "%s: %s", in, strerror(errno));
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        fsize = ftell(f);
    if (fsize < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return cli_fail(cmd, "%s: cannot determine the file size", in);
    }
    if ((unsigned long)fsize > MAX_FILE) {
        fclose(f);
        return cli_fail(cmd, "%s: larger than %u MiB", in, MAX_FILE >> 20);
    }
    char *text = hers_alloc((size_t)fsize + 1);
    size_t len = text ? fread(text, 1, (size_t)fsize, f) : 0;
    fclose(f);
    if (!text)
        return cli_fail(cmd, "out of memory");
    text[len] = 0;

    /* Header: the first line not starting with '#'. */
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    while (line && line[0] == '#')
        line = strtok_r(NULL, "\n", &save);
    char *hdr[MAX_COLS];
    int nh = line ? split_tabs(line, hdr, MAX_COLS) : 0;
    int rc = 0;
    if (nh <= 0) {
        hers_free(text);
        return cli_fail(cmd, "%s: no header line (or more than %d columns)", in, MAX_COLS);
    }
    for (int i = 0; i < nh; i++) {
        size_t l = strlen(hdr[i]);
        if (l && hdr[i][l - 1] == '\r')
            hdr[i][l - 1] = 0;
    }
    int xi = col_index(hdr, nh, xc), si = sc ? col_index(hdr, nh, sc) : -1;
    int wi = where ? col_index(hdr, nh, wcol) : -1;
    int yi[MAX_SERIES], ny = 0;
    char ycols[512];
    snprintf(ycols, sizeof ycols, "%s", yc);
    char *ys = NULL;
    for (char *tok = strtok_r(ycols, ",", &ys); tok; tok = strtok_r(NULL, ",", &ys)) {
        if (ny == MAX_SERIES || (yi[ny] = col_index(hdr, nh, tok)) < 0) {
            hers_free(text);
            return cli_fail(cmd, "%s: no column '%s' (or too many --y columns)", in, tok);
        }
        ny++;
    }
    if (xi < 0 || (sc && si < 0) || (where && wi < 0)) {
        hers_free(text);
        return cli_fail(cmd, "%s: no column '%s'", in,
                        xi < 0 ? xc : (sc && si < 0) ? sc : wcol);
    }
    struct series *ser = hers_alloc_array(MAX_SERIES, sizeof *ser);
    size_t nser = 0;
    if (!ser) {
        hers_free(text);
        return cli_fail(cmd, "out of memory");
    }
    while (rc == 0 && (line = strtok_r(NULL, "\n", &save))) {
        if (line[0] == '#' || line[0] == 0 || line[0] == '\r')
            continue;
        char *cols[MAX_COLS];
        int nc = split_tabs(line, cols, MAX_COLS);
        if (nc < nh)
            continue;
        for (int i = 0; i < nc; i++) {
            size_t l = strlen(cols[i]);
            if (l && cols[i][l - 1] == '\r')
                cols[i][l - 1] = 0;
        }
        if (where && strcmp(cols[wi], wval))
            continue;
        double x;
        if (!num(cols[xi], &x))
            continue;
        for (int j = 0; j < ny && rc == 0; j++) {
            double y;
            if (!num(cols[yi[j]], &y))
                continue;
            char name[128];
            if (sc && ny > 1)
                snprintf(name, sizeof name, "%s %s", cols[si], hdr[yi[j]]);
            else if (sc)
                snprintf(name, sizeof name, "%s", cols[si]);
            else
                snprintf(name, sizeof name, "%s", hdr[yi[j]]);
            size_t k = 0;
            while (k < nser && strcmp(ser[k].name, name))
                k++;
            if (k == nser) {
                if (nser == MAX_SERIES) {
                    rc = cli_fail(cmd, "%s: more than %d series", in, MAX_SERIES);
                    break;
                }
                snprintf(ser[nser++].name, sizeof ser[0].name, "%s", name);
            }
            if (push(&ser[k], x, y))
                rc = cli_fail(cmd, "out of memory");
        }
    }
    hers_plot_series ps[MAX_SERIES];
    for (size_t k = 0; k < nser; k++) {
        sort_by_x(&ser[k]);
        ps[k] = (hers_plot_series){ser[k].name, ser[k].n, ser[k].x, ser[k].y};
    }
    if (rc == 0 && nser == 0)
        rc = cli_fail(cmd, "%s: no numeric (x, y) rows%s", in, where ? " matching --where" : "");
    if (rc == 0) {
        p.title = cli_opt(argc, argv, "--title");
        p.x_label = cli_opt(argc, argv, "--x-label") ? cli_opt(argc, argv, "--x-label") : xc;
        p.y_label = cli_opt(argc, argv, "--y-label") ? cli_opt(argc, argv, "--y-label") : yc;
        p.log_x = cli_flag(argc, argv, "--log-x");
        p.log_y = cli_flag(argc, argv, "--log-y");
        p.markers = cli_flag(argc, argv, "--markers");
        p.n_series = nser;
        p.series = ps;
        if (hers_plot_svg_write(out, &p) != HERS_OK)
            rc = cli_fail(cmd, "%s", hers_last_error());
    }
    for (size_t k = 0; k < nser; k++) {
        hers_free(ser[k].x);
        hers_free(ser[k].y);
    }
    hers_free(ser);
    hers_free(text);
    return rc;
}
