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

/* n x d small pseudo-random template values in -4..4 (xorshift from seed;
 * every row within the norm bound); hers_alloc'ed, NULL when out of memory. */
#include <stdint.h>
int32_t *bench_rows(size_t n, size_t d, uint64_t seed);
/* The enrolment record (HERSENR, default ids) of m rows bench_rows(m, d, seed)
 * placed after `off` zero rows (the block's fill on the server), encrypted
 * with sk on `threads` threads in `packing` (the gallery's); *rec from hers_alloc. The set-up bench serve
 * and bench cluster share. */
#include "hers/hers_bfv.h"
#include "hers/hers_search.h"
hers_status bench_enroll_record(const hers_params *p, const hers_secret_key *sk, size_t off, size_t m,
                        size_t d, uint64_t seed, unsigned threads, hers_packing packing,
                        uint8_t **rec, size_t *len);

#endif
