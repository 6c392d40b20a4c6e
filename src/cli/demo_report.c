/* demo_report.c - `hers demo`: the JSON object and DIR/report.html (one
 * self-contained, well-formed XHTML file with inline SVG charts: accuracy vs
 * dimension, time per stage), plus the charts as separate .svg files and
 * DIR/report.json. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "hers/hers_mem.h"
#include "hers/hers_plot.h"

#define CMD "demo"

/* JSON number, or null for NaN / infinity. */
static void jnum(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.10g%s", key, v, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static void jacc(FILE *f, const char *key, demo_acc a, int last)
{
    fprintf(f, "\"%s\": {", key);
    jnum(f, "rank1", a.rank1, 0);
    jnum(f, "map100", a.map, 1);
    fprintf(f, "}%s", last ? "" : ", ");
}

static void jsweep(FILE *f, const char *key, const demo_sweep *s)
{
    fprintf(f, "\"%s\": [", key);
    for (size_t i = 0; i < s->n; i++) {
        fprintf(f, "%s{\"dim\": %zu, ", i ? ", " : "", s->dim[i]);
        jnum(f, "rank1", s->acc[i].rank1, 0);
        jnum(f, "map100", s->acc[i].map, 1);
        fputc('}', f);
    }
    fputs("], ", f);
}

/* Row names are plain ASCII without quotes or backslashes. */
void demo_print_json(FILE *f, const demo_cfg *cfg, const demo_results *r)
{
    fprintf(f, "{\"demo\": \"hers\", \"source\": \"%s\", \"quick\": %s, ", r->source,
            cfg->quick ? "true" : "false");
    fprintf(f, "\"gallery\": %zu, \"probes_all\": %zu, \"probes_searched\": %zu, "
               "\"input_dim\": %zu, \"dim\": %zu, ",
            r->n_gallery, r->n_probes_all, r->n_probes, r->in_dim, r->dim);
    fprintf(f, "\"id\": {\"method\": \"%s\", \"ok\": %s, \"id\": %u, ", r->id_method,
            r->id_ok ? "true" : "false", r->id);
    jnum(f, "id_fit", r->id_fit, 0);
    fprintf(f, "\"sample\": %zu}, ", r->id_sample);
    fputs("\"accuracy\": [", f);
    for (size_t i = 0; i < r->n_rows; i++) {
        const demo_row *row = &r->rows[i];
        fprintf(f, "%s{\"name\": \"%s\", \"dim\": %zu, ", i ? ", " : "", row->name, row->dim);
        jacc(f, "searched", row->sub, 0);
        jacc(f, "all", row->all, 1);
        fputc('}', f);
    }
    fputs("], ", f);
    jsweep(f, "sweep_pca", &r->sweep_pca);
    jsweep(f, "sweep_deepmds", &r->sweep_dmds);
    fprintf(f, "\"encrypted_equals_quantised\": %s, \"scores_checked\": %llu, "
               "\"scores_wrong\": %llu, \"topk_wrong\": %llu, ",
            (r->scores_wrong == 0 && r->topk_wrong == 0) ? "true" : "false",
            (unsigned long long)r->scores_checked, (unsigned long long)r->scores_wrong,
            (unsigned long long)r->topk_wrong);
    fprintf(f, "\"params\": \"%s\", \"N\": %zu, \"t\": %llu, \"scale\": %u, \"threads\": %u, "
               "\"batch\": %zu, \"deepmds_steps\": %llu, ",
            r->params_name ? r->params_name : "", r->ring_n, (unsigned long long)r->plain_t,
            r->scale, r->threads, r->batch, (unsigned long long)r->dmds_steps);
    fputs("\"seconds\": {", f);
    jnum(f, "load", r->load_s, 0);
    jnum(f, "id", r->id_s, 0);
    jnum(f, "fit_deepmds", r->fit_dmds_s, 0);
    jnum(f, "fit_pca", r->fit_pca_s, 0);
    jnum(f, "compress", r->compress_s, 0);
    jnum(f, "plain_eval", r->eval_s, 0);
    jnum(f, "keygen", r->keygen_s, 0);
    jnum(f, "enroll", r->enroll_s, 0);
    jnum(f, "index_build", r->index_s, 0);
    jnum(f, "encrypt", r->encrypt_s, 0);
    jnum(f, "search", r->search_s, 0);
    jnum(f, "decrypt_rank", r->decrypt_s, 0);
    jnum(f, "total", r->total_s, 1);
    fputs("}, ", f);
    double np = r->n_probes ? (double)r->n_probes : NAN;
    jnum(f, "search_ms_per_probe", 1e3 * r->search_s / np, 0);
    jnum(f, "search_ns_per_template_dim",
         1e9 * r->search_s / np / ((double)r->n_gallery * (double)r->dim), 0);
    jnum(f, "encrypt_ms_per_probe", 1e3 * r->encrypt_s / np, 0);
    jnum(f, "decrypt_ms_per_probe", 1e3 * r->decrypt_s / np, 0);
    jnum(f, "enroll_us_per_template", 1e6 * r->enroll_s / (double)r->n_gallery, 0);
    jnum(f, "bytes_at_rest_per_template", r->bytes_rest, 0);
    jnum(f, "bytes_kernel_per_template", r->bytes_kernel, 0);
    jnum(f, "query_bytes_per_probe", r->query_bytes, 0);
    jnum(f, "result_bytes_per_probe", r->result_bytes, 0);
    jnum(f, "noise_budget_bits", r->noise_bits, 1);
    fputc('}', f);
}

/* ---------------------------------------------------------------- HTML */

static void pct(FILE *f, double v)
{
    if (isnan(v))
        fputs("<td>-</td>", f);
    else
        fprintf(f, "<td>%.2f%%</td>", 100.0 * v);
}

/* Writes an SVG document inline (without its XML declaration). */
static void inline_svg(FILE *f, const char *svg)
{
    const char *s = strstr(svg, "<svg");
    fputs(s ? s : svg, f);
    fputc('\n', f);
}

/* Accuracy vs dimension: PCA and DeepMDS++ sweeps, input features flat. */
static int acc_chart(const demo_results *r, int map, char **svg)
{
    const demo_sweep *sw[2] = {&r->sweep_pca, &r->sweep_dmds};
    double x[2][DEMO_MAX_SWEEP], y[2][DEMO_MAX_SWEEP], fx[2], fy[2];
    hers_plot_series ser[3];
    size_t ns = 0;
    double lo = 1e9, hi = 0;
    const char *names[2] = {"PCA", "DeepMDS++"};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sw[k]->n; i++) {
            x[k][i] = (double)sw[k]->dim[i];
            y[k][i] = 100.0 * (map ? sw[k]->acc[i].map : sw[k]->acc[i].rank1);
            lo = x[k][i] < lo ? x[k][i] : lo;
            hi = x[k][i] > hi ? x[k][i] : hi;
        }
        if (sw[k]->n)
            ser[ns++] = (hers_plot_series){names[k], sw[k]->n, x[k], y[k]};
    }
    if (ns == 0 || hi <= lo)
        return 0;
    fx[0] = lo;
    fx[1] = hi;
    fy[0] = fy[1] = 100.0 * (map ? r->float_all_map : r->float_all_r1);
    char fname[48];
    snprintf(fname, sizeof fname, "input %zu-d (float)", r->in_dim);
    ser[ns++] = (hers_plot_series){fname, 2, fx, fy};
    hers_plot p = {0};
    p.title = map ? "mAP@100 vs dimension (all test probes)"
                  : "rank-1 vs dimension (all test probes)";
    p.x_label = "dimension";
    p.y_label = map ? "mAP@100 (%)" : "rank-1 (%)";
    p.log_x = 1;
    p.x_min = lo / 1.25;   /* fixed range: no empty decades around the data */
    p.x_max = hi * 1.25;
    p.markers = 1;
    p.n_series = ns;
    p.series = ser;
    size_t len;
    if (hers_plot_svg_render(&p, svg, &len) != HERS_OK)
        return -1;
    return 1;
}

/* Horizontal bar chart of the stage times (hand-written SVG). */
static void time_chart(FILE *f, const demo_results *r)
{
    struct {
        const char *name;
        double s;
    } st[] = {{"load data", r->load_s},
              {"intrinsic dimension", r->id_s},
              {"DeepMDS++ training", r->fit_dmds_s},
              {"PCA", r->fit_pca_s},
              {"plaintext evaluation", r->eval_s},
              {"keygen", r->keygen_s},
              {"enrol (encrypt gallery)", r->enroll_s},
              {"index build (server)", r->index_s},
              {"encrypt probes", r->encrypt_s},
              {"search (server)", r->search_s},
              {"decrypt + rank", r->decrypt_s}};
    size_t n = sizeof st / sizeof *st;
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = st[i].s > mx ? st[i].s : mx;
    if (!(mx > 0))
        mx = 1;
    int W = 760, left = 190, bh = 22, top = 40, H = top + (int)n * (bh + 6) + 20;
    double scale = (W - left - 90) / mx;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Wall time "
               "per stage (s; encrypted search of %zu probes)</text>\n",
            W / 2, r->n_probes);
    for (size_t i = 0; i < n; i++) {
        int y = top + (int)i * (bh + 6);
        int enc = i >= 5;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8,
                y + bh - 6, st[i].name);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left,
                y, st[i].s * scale + 1, bh, enc ? "#d62728" : "#1f77b4");
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">%.2f s</text>\n", left + st[i].s * scale + 6,
                y + bh - 6, st[i].s);
    }
    fputs("</svg>\n", f);
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Every report file is written atomically (cli_out, core/atomic_file.h). */
static int write_html(const demo_cfg *cfg, const demo_results *r, const char *path)
{
    cli_out o;
    int orc = cli_out_open(CMD, path, &o);
    if (orc)
        return orc;
    FILE *f = o.f;
    double np = (double)r->n_probes;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
          "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
          "<meta charset=\"UTF-8\"/>\n<title>hers demo report</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0}\n"
          "td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}\n"
          "td:first-child,th:first-child{text-align:left}\n"
          ".ok{color:#080;font-weight:bold}.bad{color:#c00;font-weight:bold}\n"
          "</style>\n</head>\n<body>\n<h1>hers demo: encrypted search on ",
          f);
    fprintf(f, "%s</h1>\n", r->source);
    fprintf(f, "<p>Gallery: %zu images (%zu-d, L2-normalised). Probes: %zu test images, "
               "%zu of them searched encrypted. ",
            r->n_gallery, r->in_dim, r->n_probes_all, r->n_probes);
    if (r->id_ok)
        fprintf(f, "Estimated intrinsic dimension (%s estimator, %zu images): <b>%u</b> "
                   "(free fit %.2f); compressed to <b>%zu</b> dimensions.",
                r->id_method, r->id_sample, r->id, r->id_fit, r->dim);
    else
        fprintf(f, "Compressed to <b>%zu</b> dimensions.", r->dim);
    fprintf(f, " DeepMDS++: %llu training steps. Encryption: BFV %s (N = %zu, t = %llu), "
               "quantisation scale %u.</p>\n",
            (unsigned long long)r->dmds_steps, r->params_name ? r->params_name : "", r->ring_n,
            (unsigned long long)r->plain_t, r->scale);
    fputs("<h2>Accuracy</h2>\n<table>\n<tr><th>representation</th><th>dim</th>"
          "<th>rank-1 (searched)</th><th>mAP@100 (searched)</th>"
          "<th>rank-1 (all)</th><th>mAP@100 (all)</th></tr>\n",
          f);
    for (size_t i = 0; i < r->n_rows; i++) {
        const demo_row *row = &r->rows[i];
        fprintf(f, "<tr><td>%s</td><td>%zu</td>", row->name, row->dim);
        pct(f, row->sub.rank1);
        pct(f, row->sub.map);
        pct(f, row->all.rank1);
        pct(f, row->all.map);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (r->scores_wrong == 0 && r->topk_wrong == 0)
        fprintf(f, "<p class=\"ok\">encrypted == quantised: yes (%llu scores checked one by "
                   "one)</p>\n",
                (unsigned long long)r->scores_checked);
    else
        fprintf(f, "<p class=\"bad\">encrypted == quantised: NO (%llu of %llu scores "
                   "differ)</p>\n",
                (unsigned long long)r->scores_wrong, (unsigned long long)r->scores_checked);
    for (int map = 0; map < 2; map++) {
        char *svg = NULL;
        int rc = acc_chart(r, map, &svg);
        if (rc > 0) {
            inline_svg(f, svg);
            char p2[4096];
            snprintf(p2, sizeof p2, "%s/%s", cfg->out_dir,
                     map ? "map_vs_dim.svg" : "rank1_vs_dim.svg");
            if (hers_atomic_write_file(p2, svg, strlen(svg), 0644) != HERS_OK)
                hers_clear_error();   /* the chart is also inside report.html */
        }
        hers_free(svg);
    }
    fputs("<h2>Encrypted search: time and sizes</h2>\n", f);
    time_chart(f, r);
    fputs("<table>\n<tr><th>stage</th><th>seconds</th><th>per unit</th></tr>\n", f);
    fprintf(f, "<tr><td>keygen</td><td>%.2f</td><td></td></tr>\n", r->keygen_s);
    fprintf(f, "<tr><td>enrol %zu templates (key holder)</td><td>%.2f</td>"
               "<td>%.2f us per template</td></tr>\n",
            r->n_gallery, r->enroll_s, 1e6 * r->enroll_s / (double)r->n_gallery);
    fprintf(f, "<tr><td>index build (server)</td><td>%.2f</td><td></td></tr>\n", r->index_s);
    fprintf(f, "<tr><td>encrypt probes (key holder)</td><td>%.2f</td>"
               "<td>%.2f ms per probe</td></tr>\n",
            r->encrypt_s, 1e3 * r->encrypt_s / np);
    fprintf(f, "<tr><td>search (server)</td><td>%.2f</td><td>%.2f ms per probe, %.2f ns per "
               "template x dim</td></tr>\n",
            r->search_s, 1e3 * r->search_s / np,
            1e9 * r->search_s / np / ((double)r->n_gallery * (double)r->dim));
    fprintf(f, "<tr><td>decrypt + rank (key holder)</td><td>%.2f</td>"
               "<td>%.2f ms per probe</td></tr>\n",
            r->decrypt_s, 1e3 * r->decrypt_s / np);
    fprintf(f, "<tr><td>whole demo</td><td>%.1f</td><td></td></tr>\n</table>\n", r->total_s);
    fputs("<table>\n<tr><th>size</th><th>bytes</th></tr>\n", f);
    fprintf(f, "<tr><td>template at rest (seed-compressed gallery record)</td><td>%.1f</td></tr>\n",
            r->bytes_rest);
    fprintf(f, "<tr><td>template in the kernel's form (server memory)</td><td>%.1f</td></tr>\n",
            r->bytes_kernel);
    fprintf(f, "<tr><td>query upload per probe</td><td>%.0f</td></tr>\n", r->query_bytes);
    fprintf(f, "<tr><td>result download per probe</td><td>%.0f</td></tr>\n</table>\n",
            r->result_bytes);
    fputs("<p>Written by <code>hers demo</code>; every number is also in "
          "<code>report.json</code>.</p>\n</body>\n</html>\n",
          f);
    return cli_out_close(CMD, &o, 0);
}

int demo_write_report(const demo_cfg *cfg, const demo_results *r)
{
    if (mkdir_p(cfg->out_dir) != 0)
        return cli_fail(CMD, "%s: cannot create the report directory (%s)", cfg->out_dir,
                        strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", cfg->out_dir);
    cli_out o;
    int rc = cli_out_open(CMD, path, &o);
    if (rc)
        return rc;
    demo_print_json(o.f, cfg, r);
    fputc('\n', o.f);
    if ((rc = cli_out_close(CMD, &o, 0)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/report.html", cfg->out_dir);
    if (write_html(cfg, r, path))
        return 1;
    fprintf(cfg->json ? stderr : stdout, "report: %s\n", path);
    return 0;
}
