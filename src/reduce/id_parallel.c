/* id_parallel.c - a minimal pthread parallel-for for the ID estimators.
 * Items are claimed one at a time from an atomic counter, so the work split
 * adapts to uneven items (Dijkstra sources); results must not depend on
 * which worker ran an item (each item writes only its own outputs). */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "reduce/id_internal.h"

#define ID_MAX_THREADS 64

struct pool {
    hers_id_task fn;
    void *ctx;
    size_t items;
    atomic_size_t next;
};

struct worker_arg {
    struct pool *pool;
    unsigned id;
};

static void run_worker(struct pool *p, unsigned id)
{
    for (;;) {
        size_t item = atomic_fetch_add(&p->next, 1);
        if (item >= p->items)
            return;
        p->fn(p->ctx, item, id);
    }
}

static void *worker_main(void *arg)
{
    struct worker_arg *a = arg;
    run_worker(a->pool, a->id);
    return NULL;
}

unsigned hers_id_threads(unsigned threads)
{
    if (threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    return threads > ID_MAX_THREADS ? ID_MAX_THREADS : threads;
}

unsigned hers_id_parallel_for(unsigned threads, size_t items, hers_id_task fn, void *ctx)
{
    threads = hers_id_threads(threads);
    if ((size_t)threads > items)
        threads = items ? (unsigned)items : 1;
    struct pool p = {.fn = fn, .ctx = ctx, .items = items};
    atomic_init(&p.next, 0);
    pthread_t tid[ID_MAX_THREADS];
    struct worker_arg args[ID_MAX_THREADS];
    unsigned started = 1;
    for (unsigned t = 1; t < threads; t++) {
        args[t].pool = &p;
        args[t].id = t;
        if (pthread_create(&tid[t], NULL, worker_main, &args[t]) != 0)
            break;      /* fewer workers: same results, just slower */
        started++;
    }
    run_worker(&p, 0);
    for (unsigned t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    return started;
}
