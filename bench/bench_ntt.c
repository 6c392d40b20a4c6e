/*
 * bench_ntt.c - `hers bench ntt [--json] [--n N] [--bits B] [--simd LEVEL] [--reps R]`:
 * median time of one forward / inverse negacyclic NTT and of the pointwise
 * multiply(-accumulate) for N = 1024 ... 32768 on one prime of 30, 50 (the
 * largest with the SIMD kernels) and 60 bits, at every SIMD level the CPU
 * has (or only --simd). Single thread. Units: microseconds per call, median
 * of --reps samples; wall time (median_us) and thread CPU time (cpu_us).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_ntt.h"

struct ntt_ctx {
    const hers_ntt_table *t;
    uint64_t *a, *b, *c;
};

static void run_forward(void *p)
{
    struct ntt_ctx *c = p;
    hers_ntt_forward(c->t, c->a);
}

static void run_inverse(void *p)
{
    struct ntt_ctx *c = p;
    hers_ntt_inverse(c->t, c->a);
}

static void run_mul(void *p)
{
    struct ntt_ctx *c = p;
    hers_poly_mul(c->c, c->a, c->b, c->t->n, &c->t->q);
}

static void run_mul_acc(void *p)
{
    struct ntt_ctx *c = p;
    hers_poly_mul_acc(c->c, c->a, c->b, c->t->n, &c->t->q);
}

int hers_bench_ntt(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--bits", "--simd", "--reps", NULL};
    static const char *const flags[] = {"--json", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers bench ntt [--json] [--n N] [--bits B] [--simd LEVEL] [--reps R]\n"
               "  median time of forward/inverse NTT and pointwise multiply per prime,\n"
               "  N = 1024..32768 (or --n), primes of 30/50/60 bits (or --bits),\n"
               "  every SIMD level of this CPU (or --simd portable|avx2|avx512).\n"
               "  Figures: median of --reps samples (wall time, us per call); the table's\n"
               "  last columns and --json cpu_us give thread CPU time of forward/inverse\n"
               "  (steadier on a shared machine).\n");
        return 0;
    }
    if (cli_check_opts("bench ntt", argc, argv, with_value, flags))
        return 1;
    int json = cli_flag(argc, argv, "--json");
    uint64_t only_n, only_bits, reps;
    if (cli_opt_u64("bench ntt", argc, argv, "--n", 0, 0, 32768, &only_n) ||
        cli_opt_u64("bench ntt", argc, argv, "--bits", 0, 0, 61, &only_bits) ||
        cli_opt_u64("bench ntt", argc, argv, "--reps", 21, 1, 64, &reps))
        return 1;
    if (only_n && (only_n < 1024 || (only_n & (only_n - 1))))
        return cli_fail("bench ntt", "--n must be a power of two in [1024, 32768], got %llu",
                        (unsigned long long)only_n);
    if (only_bits && only_bits < 30)
        return cli_fail("bench ntt", "--bits must be in [30, 61], got %llu",
                        (unsigned long long)only_bits);
    hers_simd lo = HERS_SIMD_PORTABLE, hi = hers_cpu_max_simd();
    const char *sv = cli_opt(argc, argv, "--simd");
    if (sv) {
        if (hers_simd_parse(sv, &lo) != HERS_OK)
            return cli_fail("bench ntt", "unknown --simd level '%s'", sv);
        if (lo > hers_cpu_max_simd())
            return cli_fail("bench ntt", "this CPU does not support --simd %s", sv);
        hi = lo;
    }
    hers_simd saved = hers_simd_active();
    bench_print_env(stdout, "ntt", 1);
    if (!json)
        printf("%-6s %-6s %-11s %12s %12s %12s %12s\n", "N", "q_bits", "simd", "forward_us",
               "inverse_us", "mul_us", "mul_acc_us");
    static const int bits_list[] = {30, 50, 60};
    int rc = 0;
    for (size_t n = 1024; n <= 32768 && !rc; n <<= 1) {
        if (only_n && n != only_n)
            continue;
        for (size_t bi = 0; bi < 3 && !rc; bi++) {
            int bits = only_bits ? (int)only_bits : bits_list[bi];
            if (only_bits && bi > 0)
                break;
            uint64_t q;
            hers_ntt_table *t = NULL;
            if (hers_primes_below(bits, 2 * n, 1, NULL, 0, &q) != HERS_OK ||
                hers_ntt_table_create(&t, n, q) != HERS_OK) {
                rc = cli_fail_lib("bench ntt", "prime/table set-up");
                break;
            }
            struct ntt_ctx c = {t, hers_alloc_array(n, 8), hers_alloc_array(n, 8),
                                hers_alloc_array(n, 8)};
            if (!c.a || !c.b || !c.c) {
                rc = cli_fail("bench ntt", "out of memory");
            } else {
                uint64_t s = 0x1234567 + n;
                for (size_t i = 0; i < n; i++) {
                    s = s * 6364136223846793005ull + 1442695040888963407ull;
                    c.a[i] = (s >> 11) % q;
                    c.b[i] = (s >> 7) % q;
                }
                for (int lv = (int)lo; lv <= (int)hi; lv++) {
                    hers_simd_set((hers_simd)lv);
                    static void (*const fns[4])(void *) = {run_forward, run_inverse, run_mul,
                                                           run_mul_acc};
                    static const char *const ops[4] = {"ntt_forward", "ntt_inverse",
                                                       "mul_pointwise", "mul_acc_pointwise"};
                    double v[4], cv[4];
                    for (int k = 0; k < 4; k++) {
                        bench_median_wall_cpu(fns[k], &c, (int)reps, 2e-4, &v[k], &cv[k]);
                        v[k] *= 1e6;
                        cv[k] *= 1e6;
                    }
                    const char *name = hers_simd_name((hers_simd)lv);
                    if (json) {
                        for (int k = 0; k < 4; k++)
                            printf("{\"bench\":\"ntt\",\"op\":\"%s\",\"N\":%zu,\"q_bits\":%d,"
                                   "\"simd\":\"%s\",\"threads\":1,\"median_us\":%.3f,"
                                   "\"cpu_us\":%.3f}\n",
                                   ops[k], n, bits, name, v[k], cv[k]);
                    } else {
                        printf("%-6zu %-6d %-11s %12.3f %12.3f %12.3f %12.3f   (cpu %.3f %.3f)\n",
                               n, bits, name, v[0], v[1], v[2], v[3], cv[0], cv[1]);
                    }
                    fflush(stdout);
                }
            }
            hers_free(c.a);
            hers_free(c.b);
            hers_free(c.c);
            hers_ntt_table_free(t);
        }
    }
    hers_simd_set(saved);
    return rc;
}
