/* bench_util.c - timing, medians and the environment header line. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <hers_commit.h>   /* HERS_GIT_COMMIT, generated at build time (cmake/commit.cmake) */
#include "bench.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_net.h"
#include "hers/hers_search.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_print_env(FILE *f, const char *what, int threads)
{
    fprintf(f, "# hers bench %s: cpu=\"%s\" simd=%s commit=%s threads=%d\n", what,
            hers_cpu_model(), hers_simd_name(hers_simd_active()), HERS_GIT_COMMIT, threads);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median_of(const double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return v[0];
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = (n & 1) ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

double bench_thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_median_wall_cpu(void (*fn)(void *), void *ctx, int reps, double min_time,
                           double *wall, double *cpu)
{
    if (reps < 1)
        reps = 1;
    double t0 = bench_now();
    fn(ctx); /* warm-up, and a first estimate of the cost */
    double one = bench_now() - t0;
    long batch = 1;
    if (one < min_time)
        batch = (long)(min_time / (one > 1e-9 ? one : 1e-9)) + 1;
    if (batch > 1000000)
        batch = 1000000;
    double ws[64], cs[64];
    if (reps > 64)
        reps = 64;
    for (int r = 0; r < reps; r++) {
        double w = bench_now(), c = bench_thread_cpu_now();
        for (long b = 0; b < batch; b++)
            fn(ctx);
        cs[r] = (bench_thread_cpu_now() - c) / (double)batch;
        ws[r] = (bench_now() - w) / (double)batch;
    }
    *wall = bench_median_of(ws, (size_t)reps);
    if (cpu)
        *cpu = bench_median_of(cs, (size_t)reps);
}

double bench_median(void (*fn)(void *), void *ctx, int reps, double min_time)
{
    double wall;
    bench_median_wall_cpu(fn, ctx, reps, min_time, &wall, NULL);
    return wall;
}

double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

int32_t *bench_rows(size_t n, size_t d, uint64_t seed)
{
    int32_t *q = hers_alloc_array(n ? n : 1, d * sizeof *q);
    uint64_t x = seed | 1;
    for (size_t i = 0; q && i < n * d; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        q[i] = (int32_t)(x % 9) - 4;
    }
    return q;
}

hers_status bench_enroll_record(const hers_params *p, const hers_secret_key *sk, size_t off, size_t m,
                        size_t d, uint64_t seed, unsigned threads, hers_packing packing,
                        uint8_t **rec, size_t *len)
{
    *rec = NULL;
    int32_t *v = hers_alloc_array(off + m ? off + m : 1, d * sizeof *v);
    int32_t *src = bench_rows(m, d, seed);
    hers_gallery *g = NULL;
    hers_status st = v && src ? HERS_OK : hers_error(HERS_ERR_NOMEM, "out of memory");
    if (st == HERS_OK) {
        memset(v, 0, off * d * sizeof *v);
        memcpy(v + off * d, src, m * d * sizeof *v);
        hers_enroll_opts go;
        hers_enroll_opts_default(&go);
        go.threads = threads;
        go.packing = packing;
        st = hers_gallery_enroll(p, sk, NULL, v, off + m, d, &go, &g);
    }
    if (st == HERS_OK)
        st = hers_net_enroll_encode(p, g, off, NULL, m, 0, NULL, 0, rec, len);
    hers_gallery_free(g);
    hers_free(src);
    hers_free(v);
    return st;
}
