/*
 * pool.c - the worker pool (pool.h): persistent workers that wait for a job
 * (fn, ctx, task count), take task indices from an atomic counter, and
 * signal completion. The calling thread works too, so a pool of T threads
 * has T - 1 workers. Moved from src/search (issue 12): every layer uses it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/pool.h"
#include "hers/hers_mem.h"

struct hers_pool {
    unsigned threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    uint64_t generation;   /* bumped per job */
    int quit;
    unsigned busy;         /* workers still in the current job */
    hers_pool_fn fn;
    void *ctx;
    size_t tasks;
    atomic_size_t next;
};

static long online_cpus;
static pthread_once_t online_once = PTHREAD_ONCE_INIT;

static void read_online(void)
{
    online_cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

unsigned hers_threads_resolve(unsigned threads)
{
    if (threads == 0) {
        pthread_once(&online_once, read_online);
        threads = online_cpus > 0 ? (unsigned)online_cpus : 1;
    }
    return threads > HERS_MAX_THREADS ? HERS_MAX_THREADS : threads;
}

static void work(hers_pool *pl, unsigned worker)
{
    for (;;) {
        size_t t = atomic_fetch_add(&pl->next, 1);
        if (t >= pl->tasks)
            break;
        pl->fn(pl->ctx, t, worker);
    }
}

struct worker_arg {
    hers_pool *pl;
    unsigned id;
};

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    hers_pool *pl = wa->pl;
    unsigned id = wa->id;
    free(wa);
    uint64_t seen = 0;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->quit && pl->generation == seen)
            pthread_cond_wait(&pl->start, &pl->mu);
        if (pl->quit)
            break;
        seen = pl->generation;
        pthread_mutex_unlock(&pl->mu);
        work(pl, id);
        pthread_mutex_lock(&pl->mu);
        if (--pl->busy == 0)
            pthread_cond_signal(&pl->done);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

hers_status hers_pool_create(unsigned threads, hers_pool **out)
{
    *out = NULL;
    threads = hers_threads_resolve(threads);
    hers_pool *pl = hers_alloc(sizeof *pl);
    if (!pl)
        return hers_error(HERS_ERR_NOMEM, "thread pool: out of memory");
    pl->threads = threads;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->start, NULL);
    pthread_cond_init(&pl->done, NULL);
    atomic_init(&pl->next, 0);
    if (threads > 1) {
        pl->tids = hers_alloc_array(threads - 1, sizeof *pl->tids);
        if (!pl->tids) {
            hers_pool_free(pl);
            return hers_error(HERS_ERR_NOMEM, "thread pool: out of memory");
        }
    }
    for (unsigned i = 1; i < threads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pl = pl;
            wa->id = i;
        }
        if (!wa || pthread_create(&pl->tids[i - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            pl->threads = i; /* workers 1..i-1 exist */
            hers_pool_free(pl);
            return hers_error(HERS_ERR_INTERNAL, "thread pool: cannot start thread %u", i);
        }
    }
    *out = pl;
    return HERS_OK;
}

void hers_pool_free(hers_pool *pl)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->mu);
    pl->quit = 1;
    pthread_cond_broadcast(&pl->start);
    pthread_mutex_unlock(&pl->mu);
    for (unsigned i = 1; i < pl->threads; i++)
        pthread_join(pl->tids[i - 1], NULL);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->start);
    pthread_cond_destroy(&pl->done);
    hers_free(pl->tids);
    hers_free(pl);
}

unsigned hers_pool_threads(const hers_pool *pl)
{
    return pl->threads;
}

void hers_pool_run(hers_pool *pl, hers_pool_fn fn, void *ctx, size_t tasks)
{
    if (tasks == 0)
        return;
    if (pl->threads == 1 || tasks == 1) {
        for (size_t t = 0; t < tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&pl->mu);
    pl->fn = fn;
    pl->ctx = ctx;
    pl->tasks = tasks;
    atomic_store(&pl->next, 0);
    pl->busy = pl->threads - 1;
    pl->generation++;
    pthread_cond_broadcast(&pl->start);
    pthread_mutex_unlock(&pl->mu);
    work(pl, 0);
    pthread_mutex_lock(&pl->mu);
    while (pl->busy > 0)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

unsigned hers_parallel_for(unsigned threads, size_t tasks, hers_pool_fn fn, void *ctx)
{
    threads = hers_threads_resolve(threads);
    if ((size_t)threads > tasks)
        threads = tasks ? (unsigned)tasks : 1;
    hers_pool *pl = NULL;
    if (threads > 1 && hers_pool_create(threads, &pl) == HERS_OK) {
        hers_pool_run(pl, fn, ctx, tasks);
        hers_pool_free(pl);
        return threads;
    }
    hers_clear_error(); /* no threads: the caller's thread does it all */
    for (size_t t = 0; t < tasks; t++)
        fn(ctx, t, 0);
    return 1;
}

void hers_task_error_init(hers_task_error *e)
{
    pthread_mutex_init(&e->mu, NULL);
    e->st = HERS_OK;
    e->msg[0] = 0;
}

void hers_task_error_set(hers_task_error *e, hers_status st, const char *msg)
{
    pthread_mutex_lock(&e->mu);
    if (e->st == HERS_OK) {
        e->st = st;
        snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : hers_last_error());
    }
    pthread_mutex_unlock(&e->mu);
}

hers_status hers_task_error_raise(const hers_task_error *e)
{
    return e->st == HERS_OK ? HERS_OK : hers_error(e->st, "%s", e->msg);
}

void hers_task_error_destroy(hers_task_error *e)
{
    pthread_mutex_destroy(&e->mu);
}
