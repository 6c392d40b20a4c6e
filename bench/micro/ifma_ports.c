/*
 * ifma_ports.c - micro-benchmark of the AVX-512 IFMA batch kernel's inner
 * loops with every operand in L1 (one gallery tile of one prime, d = 64, and
 * the probes' rows), to separate the kernel's compute from its memory side,
 * plus the port rates those loops are made of. Not part of the build or the
 * library (docs/benchmarks.md, "Session 10: batch kernel (k14b)"):
 *
 *   gcc -O2 -march=native -o /tmp/ifma_ports bench/micro/ifma_ports.c && /tmp/ifma_ports
 *
 * Times are thread CPU time (the shared machine's wall time is not), per
 * probe x template x dimension for both primes (loops) or per instruction
 * (port rates). The loops' sums are not reduced: only their speed is
 * measured (the kernels' exactness is tests/test_search_kernel.c's).
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define D 64
#define T 8
#define LD(p) _mm512_load_si512((const void *)(p))
#define LO _mm512_madd52lo_epu64
#define HI _mm512_madd52hi_epu64
#define AD _mm512_add_epi64
#define PIN(x) __asm__("" : "+v"(x))

static uint64_t G[D * 2 * T] __attribute__((aligned(64)));    /* [i][part][lane] */
static uint64_t P[4][D * 3 * T] __attribute__((aligned(64))); /* [i][P0 P1 Ps][lane] */
__m512i sink[64];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Karatsuba, 4 probes per gallery row (the main kernel's ifma_ee_group):
 * per dimension 10 loads, 5 adds, 24 IFMA. */
__attribute__((noinline, noipa)) static void kara4(void)
{
    __m512i l0[4], h0[4], l1[4], h1[4], l2[4], h2[4];
    for (int r = 0; r < 4; r++)
        l0[r] = h0[r] = l1[r] = h1[r] = l2[r] = h2[r] = _mm512_setzero_si512();
    for (size_t i = 0; i < D; i++) {
        __m512i x0 = LD(G + i * 16), x1 = LD(G + i * 16 + 8), xs = AD(x0, x1);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const uint64_t *pr = P[r] + i * 16;
            __m512i y0 = LD(pr), y1 = LD(pr + 8), ys = AD(y0, y1);
            l0[r] = LO(l0[r], x0, y0);
            h0[r] = HI(h0[r], x0, y0);
            l2[r] = LO(l2[r], x1, y1);
            h2[r] = HI(h2[r], x1, y1);
            l1[r] = LO(l1[r], xs, ys);
            h1[r] = HI(h1[r], xs, ys);
        }
    }
    for (int r = 0; r < 4; r++) {
        sink[r * 6] = l0[r], sink[r * 6 + 1] = h0[r], sink[r * 6 + 2] = l1[r];
        sink[r * 6 + 3] = h1[r], sink[r * 6 + 4] = l2[r], sink[r * 6 + 5] = h2[r];
    }
}

/* Winograd, NPW probes per group, probe rows P0 P1 Ps per dimension: per
 * pair of dimensions 4 gallery loads + 2 adds, and per probe 6 loads, 6
 * adds, 6 IFMA; PINNED keeps the gallery vectors in registers (GCC
 * otherwise re-loads them per probe). */
#define WINO(NPW, name, PINNED)                                                                   \
    __attribute__((noinline, noipa)) static void name(void)                                       \
    {                                                                                             \
        __m512i a0[NPW], b0[NPW], a1[NPW], b1[NPW], a2[NPW], b2[NPW];                             \
        for (int r = 0; r < NPW; r++)                                                             \
            a0[r] = b0[r] = a1[r] = b1[r] = a2[r] = b2[r] = _mm512_setzero_si512();               \
        for (size_t i = 0; i < D; i += 2) {                                                       \
            __m512i x0e = LD(G + i * 16), x1e = LD(G + i * 16 + 8);                               \
            __m512i x0o = LD(G + i * 16 + 16), x1o = LD(G + i * 16 + 24);                         \
            __m512i xse = AD(x0e, x1e), xso = AD(x0o, x1o);                                       \
            if (PINNED) {                                                                         \
                PIN(x0e); PIN(x1e); PIN(x0o); PIN(x1o); PIN(xse); PIN(xso);                       \
            }                                                                                     \
            _Pragma("GCC unroll 4") for (int r = 0; r < NPW; r++)                                 \
            {                                                                                     \
                const uint64_t *pr = P[r] + i * 24;                                               \
                __m512i u, v;                                                                     \
                u = AD(LD(pr), x0o), v = AD(LD(pr + 24), x0e);                                    \
                a0[r] = LO(a0[r], u, v), b0[r] = HI(b0[r], u, v);                                 \
                u = AD(LD(pr + 8), x1o), v = AD(LD(pr + 32), x1e);                                \
                a2[r] = LO(a2[r], u, v), b2[r] = HI(b2[r], u, v);                                 \
                u = AD(LD(pr + 16), xso), v = AD(LD(pr + 40), xse);                               \
                a1[r] = LO(a1[r], u, v), b1[r] = HI(b1[r], u, v);                                 \
            }                                                                                     \
        }                                                                                         \
        for (int r = 0; r < NPW; r++) {                                                           \
            sink[r * 6] = a0[r], sink[r * 6 + 1] = b0[r], sink[r * 6 + 2] = a1[r];                \
            sink[r * 6 + 3] = b1[r], sink[r * 6 + 4] = a2[r], sink[r * 6 + 5] = b2[r];            \
        }                                                                                         \
    }
WINO(4, wino4, 0)
WINO(3, wino3, 0)
WINO(2, wino2, 0)
WINO(4, wino4_pinned, 1)
WINO(3, wino3_pinned, 1)
WINO(2, wino2_pinned, 1)

/* Port rates: 24 independent chains per iteration. */
__attribute__((noinline, noipa)) static void ifma_only(void)
{
    __m512i a[24], x = LD(G), y = LD(G + 8);
    for (int r = 0; r < 24; r++)
        a[r] = _mm512_setzero_si512();
    for (size_t i = 0; i < D; i++) {
#pragma GCC unroll 24
        for (int r = 0; r < 24; r++)
            a[r] = LO(a[r], x, y);
        PIN(x);
    }
    for (int r = 0; r < 24; r++)
        sink[r] = a[r];
}

__attribute__((noinline, noipa)) static void add_only(void)
{
    __m512i a[24], x = LD(G);
    for (int r = 0; r < 24; r++)
        a[r] = _mm512_setzero_si512();
    for (size_t i = 0; i < D; i++) {
#pragma GCC unroll 24
        for (int r = 0; r < 24; r++)
            a[r] = AD(a[r], x);
        PIN(x);
    }
    for (int r = 0; r < 24; r++)
        sink[r] = a[r];
}

__attribute__((noinline, noipa)) static void ifma_add(void) /* 12 IFMA + 12 adds */
{
    __m512i a[12], b[12], x = LD(G), y = LD(G + 8);
    for (int r = 0; r < 12; r++)
        a[r] = b[r] = _mm512_setzero_si512();
    for (size_t i = 0; i < D; i++) {
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++)
            a[r] = LO(a[r], x, y), b[r] = AD(b[r], x);
        PIN(x);
    }
    for (int r = 0; r < 12; r++)
        sink[r] = a[r], sink[12 + r] = b[r];
}

__attribute__((noinline, noipa)) static void load_add(void) /* 24 x (load + add) */
{
    __m512i a[24];
    for (int r = 0; r < 24; r++)
        a[r] = _mm512_setzero_si512();
    for (size_t i = 0; i < D; i++) {
        const uint64_t *pr = P[0] + (i % 32) * 24;
#pragma GCC unroll 24
        for (int r = 0; r < 24; r++)
            a[r] = AD(a[r], LD(pr + r * 8));
    }
    for (int r = 0; r < 24; r++)
        sink[r] = a[r];
}

__attribute__((noinline, noipa)) static void load_ifma(void) /* 24 x (load + IFMA) */
{
    __m512i a[24], x = LD(G);
    for (int r = 0; r < 24; r++)
        a[r] = _mm512_setzero_si512();
    for (size_t i = 0; i < D; i++) {
        const uint64_t *pr = P[0] + (i % 32) * 24;
#pragma GCC unroll 24
        for (int r = 0; r < 24; r++)
            a[r] = LO(a[r], x, LD(pr + r * 8));
    }
    for (int r = 0; r < 24; r++)
        sink[r] = a[r];
}

int main(int argc, char **argv)
{
    long reps = argc > 1 ? atol(argv[1]) : 100000;
    for (int i = 0; i < D * 2 * T; i++)
        G[i] = (uint64_t)rand() & ((UINT64_C(1) << 50) - 1);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < D * 3 * T; i++)
            P[r][i] = (uint64_t)rand() & ((UINT64_C(1) << 50) - 1);
    struct {
        void (*f)(void);
        const char *name;
        int probes, ops; /* probes: a loop; else ops per iteration */
    } t[] = {
        {kara4, "karatsuba, 4 probes", 4, 0},
        {wino4, "winograd, 4 probes", 4, 0},
        {wino3, "winograd, 3 probes", 3, 0},
        {wino2, "winograd, 2 probes", 2, 0},
        {wino4_pinned, "winograd pinned, 4 probes", 4, 0},
        {wino3_pinned, "winograd pinned, 3 probes", 3, 0},
        {wino2_pinned, "winograd pinned, 2 probes", 2, 0},
        {ifma_only, "ifma", 0, 24},
        {add_only, "vpaddq", 0, 24},
        {ifma_add, "ifma + vpaddq (1:1)", 0, 24},
        {load_add, "load + vpaddq", 0, 24},
        {load_ifma, "load + ifma", 0, 24},
    };
    for (size_t x = 0; x < sizeof t / sizeof t[0]; x++) {
        double s = now();
        for (long k = 0; k < reps; k++) {
            __asm__ volatile("" ::: "memory");
            t[x].f();
        }
        s = now() - s;
        if (t[x].probes) /* one prime per call: x 2 for n4096's two primes */
            printf("%-28s %.4f ns per probe x template x dim\n", t[x].name,
                   s / reps / t[x].probes / D / T * 2 * 1e9);
        else
            printf("%-28s %.4f ns per instruction (pair)\n", t[x].name,
                   s / reps / D / t[x].ops * 1e9);
    }
    return 0;
}
