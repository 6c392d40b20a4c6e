/* test_ntt_oop.c - hers_ntt_inverse_to (out of place, and in place) equals
 * a copy followed by hers_ntt_inverse, on every SIMD level, for 50-bit
 * primes (the AVX2 path) and a 61-bit prime (portable fallback). */
#include <stdlib.h>
#include <string.h>

#include "hers/hers_modarith.h"
#include "hers/hers_ntt.h"
#include "support/check.h"

static void one(size_t n, int bits)
{
    uint64_t q = 0;
    CHECK_OK(hers_primes_below(bits, 2 * n, 1, NULL, 0, &q));
    hers_ntt_table *t = NULL;
    CHECK_OK(hers_ntt_table_create(&t, n, q));
    uint64_t *a = calloc(n, 8), *ref = calloc(n, 8), *out = calloc(n, 8);
    CHECK(t && a && ref && out);
    if (t && a && ref && out) {
        for (size_t i = 0; i < n; i++)
            a[i] = test_rand() % q;
        FOR_EACH_SIMD(level) {
            memcpy(ref, a, n * 8);
            hers_ntt_inverse(t, ref);
            hers_ntt_inverse_to(t, a, out);
            CHECK(memcmp(out, ref, n * 8) == 0);
            memcpy(out, a, n * 8);
            hers_ntt_inverse_to(t, out, out);
            CHECK(memcmp(out, ref, n * 8) == 0);
        }
    }
    free(a);
    free(ref);
    free(out);
    hers_ntt_table_free(t);
}

int main(void)
{
    test_rand_seed(test_seed());
    for (size_t n = 16; n <= 4096; n *= 4)
        one(n, 50);
    one(1024, 61);
    return test_finish();
}
