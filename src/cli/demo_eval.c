/* demo_eval.c - `hers demo`: accuracy helpers and the busy indicator. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "hers/hers_mem.h"

hers_status demo_eval_topk(const hers_topk *t, const hers_labels *gl, const hers_labels *pl,
                           demo_acc *out)
{
    out->rank1 = NAN;
    out->map = NAN;
    /* The probe labels must match the list's probe count: view a prefix. */
    hers_labels view = {t->probes, pl->data};
    if (t->probes > pl->count)
        return hers_error(HERS_ERR_ARG, "demo: %zu probes but %zu labels", t->probes, pl->count);
    hers_ident id = {0};
    hers_retrieval rt;
    hers_status st = hers_ident_eval(t, gl, &view, &id);
    if (st != HERS_OK)
        return st;
    out->rank1 = id.cmc[0];
    hers_ident_free(&id);
    st = hers_retrieval_eval(t, t->k < DEMO_K ? t->k : DEMO_K, gl, &view, &rt);
    if (st != HERS_OK)
        return st;
    out->map = rt.map;
    return HERS_OK;
}

hers_status demo_eval_float(const hers_matrix *gallery, const hers_labels *gl,
                            const hers_matrix *probes, const hers_labels *pl, size_t n_sub,
                            unsigned threads, demo_acc *all, demo_acc *sub)
{
    hers_scan_opts so = {threads, 0, 0};
    hers_topk t = {0};
    hers_status st = hers_topk_search(gallery, probes, DEMO_K, &so, &t);
    if (st != HERS_OK)
        return st;
    st = demo_eval_topk(&t, gl, pl, all);
    if (st == HERS_OK && sub) {
        hers_topk view = t;
        view.probes = n_sub < t.probes ? n_sub : t.probes;
        st = demo_eval_topk(&view, gl, pl, sub);
    }
    hers_topk_free(&t);
    return st;
}

hers_status demo_truncate(const hers_matrix *in, size_t k, hers_matrix *out)
{
    if (k == 0 || k > in->cols)
        return hers_error(HERS_ERR_ARG, "demo: cannot keep %zu of %zu columns", k, in->cols);
    hers_status st = hers_matrix_alloc(out, in->rows, k);
    if (st != HERS_OK)
        return st;
    for (size_t r = 0; r < in->rows; r++)
        memcpy(out->data + r * k, in->data + r * in->cols, k * sizeof(float));
    hers_matrix_normalize_rows(out);
    return HERS_OK;
}

/* ---- busy indicator: a thread redraws "label [t s]" every 0.2 s ---- */

static struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, stop;
    char label[64];
    double t0;
} busy = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *busy_main(void *arg)
{
    (void)arg;
    static const char spin[] = "|/-\\";
    unsigned i = 0;
    pthread_mutex_lock(&busy.mu);
    while (!busy.stop) {
        fprintf(stderr, "\r%-24.24s [%c] %6.1f s", busy.label, spin[i++ % 4],
                cli_now() - busy.t0);
        fflush(stderr);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&busy.cv, &busy.mu, &ts);
    }
    pthread_mutex_unlock(&busy.mu);
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    return NULL;
}

void demo_busy_begin(const char *label)
{
    if (!cli_is_tty() || busy.running)
        return;
    snprintf(busy.label, sizeof busy.label, "%s", label);
    busy.t0 = cli_now();
    busy.stop = 0;
    if (pthread_create(&busy.th, NULL, busy_main, NULL) == 0)
        busy.running = 1;
}

void demo_busy_end(void)
{
    if (!busy.running)
        return;
    pthread_mutex_lock(&busy.mu);
    busy.stop = 1;
    pthread_cond_signal(&busy.cv);
    pthread_mutex_unlock(&busy.mu);
    pthread_join(busy.th, NULL);
    busy.running = 0;
}
