/*
 * bench.h - shared benchmark support: the header line (machine, SIMD level,
 * commit), timing by median of repeated runs, JSON output helpers.
 */
#ifndef HERS_BENCH_H
#define HERS_BENCH_H

#include <stddef.h>
#include <stdio.h>

#define HERS_BENCH(name, fn, summary) int fn(int argc, char **argv);
#include "benches.def"
#undef HERS_BENCH

/* Prints "# hers bench <what>: cpu=..., simd=..., commit=..., threads=..." to
 * `f` (a comment line, so JSON consumers can skip lines starting with '#'). */
void bench_print_env(FILE *f, const char *what, int threads);

/* Runs fn(ctx) `reps` times after one warm-up call and returns the median
 * wall time in seconds. If a single call takes < min_time seconds, calls are
 * batched so each sample lasts >= min_time (the result is per call). */
double bench_median(void (*fn)(void *), void *ctx, int reps, double min_time);
/* The same samples, with the median thread CPU time per call too (cpu may be
 * NULL): on a loaded machine the wall time counts the time other processes
 * ran, the CPU time does not. Both in seconds. */
void bench_median_wall_cpu(void (*fn)(void *), void *ctx, int reps, double min_time,
                           double *wall, double *cpu);
/* This thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID). */
double bench_thread_cpu_now(void);

/* Seconds since an arbitrary point (CLOCK_MONOTONIC). */
double bench_now(void);

/* Peak resident set size of this process in MiB (getrusage). */
double bench_peak_rss_mb(void);

/* Median of an array of doubles (sorts a copy). */
double bench_median_of(const double *v, size_t n);

#endif
