/*
 * pool.h - the one worker pool of hers and its one thread-count rule.
 * Shared with: io, bfv, reduce, search, store, net, cluster, cli
 * (scripts/check-layers: library-internal, not part of libhers.so's ABI).
 *
 * Thread counts: every "threads" option of the library and the CLI means
 * hers_threads_resolve(threads): 0 is the number of online CPUs, and the
 * result is clamped to [1, HERS_MAX_THREADS]. Results never depend on the
 * count (work items write only their own outputs).
 */
#ifndef HERS_CORE_POOL_H
#define HERS_CORE_POOL_H

#include <pthread.h>
#include <stddef.h>

#include "hers/hers_status.h"

#define HERS_MAX_THREADS 256u

/* 0 -> online CPUs (sysconf, read once), then clamped to [1, HERS_MAX_THREADS]. */
unsigned hers_threads_resolve(unsigned threads);

/* Thread pool: run(fn, ctx, tasks) calls fn(ctx, task, worker) for every
 * task in [0, tasks) on the workers (the calling thread takes part, as
 * worker 0; worker < hers_pool_threads). Tasks are claimed one at a time
 * from an atomic counter, so uneven tasks balance themselves. */
typedef void (*hers_pool_fn)(void *ctx, size_t task, unsigned worker);
typedef struct hers_pool hers_pool;
/* threads as hers_threads_resolve. */
hers_status hers_pool_create(unsigned threads, hers_pool **out);
void hers_pool_free(hers_pool *pl);
unsigned hers_pool_threads(const hers_pool *pl);
void hers_pool_run(hers_pool *pl, hers_pool_fn fn, void *ctx, size_t tasks);

/* One-shot form for code without a long-lived pool: min(resolved threads,
 * tasks) threads run the tasks, then stop. If threads cannot be started the
 * calling thread runs every task (same results, slower). Returns the number
 * of threads that ran. */
unsigned hers_parallel_for(unsigned threads, size_t tasks, hers_pool_fn fn, void *ctx);

/* The first error of a pool job's tasks: a failing task records its status
 * and message (tasks check `st` to stop early), the caller raises it again
 * in its own thread after the run (error messages are per thread). */
typedef struct hers_task_error {
    pthread_mutex_t mu;
    hers_status st;        /* HERS_OK until a task fails */
    char msg[512];
} hers_task_error;
void hers_task_error_init(hers_task_error *e);
/* Records st and msg (NULL: this thread's hers_last_error()) unless an
 * error is already recorded. */
void hers_task_error_set(hers_task_error *e, hers_status st, const char *msg);
/* HERS_OK, or the recorded error raised in the calling thread. */
hers_status hers_task_error_raise(const hers_task_error *e);
void hers_task_error_destroy(hers_task_error *e);

#endif
