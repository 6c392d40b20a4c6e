/*
 * batch_floors.c - the machine's floors under issue 14's batch target, in
 * the target's unit (ns per probe x template x dimension, a batch of 8
 * probes, n = 2^18, d = 64, n4096: 32 bytes of gallery per template x dim,
 * 48 bytes of result per probe x template): one core's sequential read of
 * the gallery (512 MiB), its non-temporal write of the batch's results
 * (96 MiB), and the throughput of independent vpmadd52luq (12 chains).
 * Thread CPU time, 9 repetitions, min and median. Not part of the build
 * (docs/benchmarks.md, "Session 12: the floors under the two open targets"):
 *
 *   gcc -O2 -march=native -o /tmp/batch_floors bench/micro/batch_floors.c
 *   /tmp/batch_floors
 *
 * Needs AVX-512 IFMA.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define REPS 9

int main(void)
{
    const size_t gallery = (size_t)512 << 20, results = (size_t)96 << 20;
    uint64_t *g = aligned_alloc(64, gallery), *r = aligned_alloc(64, results);
    if (!g || !r)
        return 1;
    memset(g, 1, gallery);
    memset(r, 1, results);
    const double ptd = (double)(1 << 18) * 64 * 8; /* probe x template x dim of one batch */
    double tr[REPS], tw[REPS], ti[REPS];
    __m512i acc = _mm512_setzero_si512();
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = cpu();
        for (size_t i = 0; i < gallery / 8; i += 8)
            acc = _mm512_add_epi64(acc, _mm512_load_si512(g + i));
        tr[rep] = (cpu() - t0) / ptd * 1e9;

        t0 = cpu();
        __m512i v = _mm512_set1_epi64(rep);
        for (size_t i = 0; i < results / 8; i += 8)
            _mm512_stream_si512((void *)(r + i), v);
        _mm_sfence();
        tw[rep] = (cpu() - t0) / ptd * 1e9;

        __m512i a[12];
        for (int k = 0; k < 12; k++)
            a[k] = _mm512_set1_epi64(k);
        __m512i x = _mm512_set1_epi64(3), y = _mm512_set1_epi64(5);
        const long it = 20000000;
        t0 = cpu();
        for (long i = 0; i < it; i++) {
#pragma GCC unroll 12
            for (int k = 0; k < 12; k++)
                a[k] = _mm512_madd52lo_epu64(a[k], x, y);
            __asm__ volatile("" : "+v"(x));
        }
        ti[rep] = (cpu() - t0) / (it * 12.0) * 1e9;
        for (int k = 0; k < 12; k++)
            acc = _mm512_add_epi64(acc, a[k]);
    }
    qsort(tr, REPS, sizeof(double), cmpd);
    qsort(tw, REPS, sizeof(double), cmpd);
    qsort(ti, REPS, sizeof(double), cmpd);
    printf("gallery sequential read, ns per ptd (batch 8):  min %.4f med %.4f (%.1f GB/s)\n", tr[0],
           tr[REPS / 2], gallery / (tr[REPS / 2] * ptd));
    printf("results non-temporal write, ns per ptd:         min %.4f med %.4f (%.1f GB/s)\n", tw[0],
           tw[REPS / 2], results / (tw[REPS / 2] * ptd));
    printf("vpmadd52luq, ns each (12 independent chains):   min %.4f med %.4f\n", ti[0],
           ti[REPS / 2]);
    long long s[8];
    _mm512_storeu_si512((void *)s, acc);
    free(g);
    free(r);
    return (int)(s[0] & 1);
}
