/* check.c - the test harness (see check.h). */
#include "support/check.h"

#include <stdlib.h>
#include <time.h>

long test_checks_passed;
long test_checks_failed;
static uint64_t rng_state;
static int seeded;

void test_fail(const char *file, int line, const char *expr)
{
    test_checks_failed++;
    if (test_checks_failed <= 50)
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, expr);
}

uint64_t test_seed(void)
{
    static uint64_t seed;
    static int have;
    if (!have) {
        const char *env = getenv("HERS_TEST_SEED");
        seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
        have = 1;
        fprintf(stderr, "seed: %" PRIu64 " (replay with HERS_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    }
    return seed;
}

void test_rand_seed(uint64_t seed)
{
    rng_state = seed;
    seeded = 1;
}

uint64_t test_rand(void)
{
    if (!seeded)
        test_rand_seed(test_seed());
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int test_finish(void)
{
    printf("%ld passed, %ld failed\n", test_checks_passed, test_checks_failed);
    return test_checks_failed == 0 ? 0 : 1;
}

int test_simd_enter(hers_simd level)
{
    if (hers_simd_set(level) != HERS_OK)
        return 0;
    fprintf(stderr, "  [simd %s]\n", hers_simd_name(level));
    return 1;
}
