/*
 * check.h - the minimal test harness every tests/test_*.c uses.
 *
 *   CHECK(cond)            records a failure (file:line, expression), goes on
 *   CHECK_OK(status_expr)  CHECK that a hers call returned HERS_OK, prints
 *                          hers_last_error() otherwise
 *   CHECK_EQ_U64(a, b)     with both values printed
 *   test_seed()            the run's seed: HERS_TEST_SEED env var or time;
 *                          printed once so a failing run can be replayed
 *   FOR_EACH_SIMD(level)   loops over every level the CPU has, activating it
 *   test_finish()          prints "N passed, N failed" and returns the exit code
 */
#ifndef HERS_TEST_CHECK_H
#define HERS_TEST_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "hers/hers_cpu.h"
#include "hers/hers_status.h"

extern long test_checks_passed;
extern long test_checks_failed;

void test_fail(const char *file, int line, const char *expr);
uint64_t test_seed(void);
int test_finish(void);
/* Deterministic test PRNG (splitmix64), seeded from test_seed() by default. */
uint64_t test_rand(void);
void test_rand_seed(uint64_t seed);

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (cond) test_checks_passed++;                                     \
        else test_fail(__FILE__, __LINE__, #cond);                          \
    } while (0)

#define CHECK_OK(expr)                                                      \
    do {                                                                    \
        hers_status check_st_ = (expr);                                     \
        if (check_st_ == HERS_OK) test_checks_passed++;                     \
        else {                                                              \
            fprintf(stderr, "  status %s: %s\n", hers_status_name(check_st_), \
                    hers_last_error());                                     \
            test_fail(__FILE__, __LINE__, #expr);                           \
        }                                                                   \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                  \
    do {                                                                    \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);        \
        if (check_a_ == check_b_) test_checks_passed++;                     \
        else {                                                              \
            fprintf(stderr, "  %" PRIu64 " != %" PRIu64 "\n", check_a_, check_b_); \
            test_fail(__FILE__, __LINE__, #a " == " #b);                    \
        }                                                                   \
    } while (0)

/* Activates `level` (prints it) and returns 1; 0 if the CPU lacks it. */
int test_simd_enter(hers_simd level);

#define FOR_EACH_SIMD(level)                                                \
    for (hers_simd level = HERS_SIMD_PORTABLE;                              \
         (int)level <= (int)hers_cpu_max_simd() && test_simd_enter(level);  \
         level = (hers_simd)((int)level + 1))

#endif
