/* test_core.c - status messages, CPU dispatch, PRG determinism, memory. */
#include <string.h>

#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "support/check.h"

int main(void)
{
    (void)test_seed();
    CHECK(hers_error(HERS_ERR_FORMAT, "bad %d", 7) == HERS_ERR_FORMAT);
    CHECK(strcmp(hers_last_error(), "bad 7") == 0);
    CHECK(strcmp(hers_status_name(HERS_ERR_IO), "HERS_ERR_IO") == 0);

    hers_simd s;
    CHECK_OK(hers_simd_parse("avx2", &s));
    CHECK(s == HERS_SIMD_AVX2);
    CHECK(hers_simd_parse("sse9", &s) == HERS_ERR_ARG);
    CHECK(hers_simd_active() <= hers_cpu_max_simd());
    int levels = 0;
    FOR_EACH_SIMD(level) {
        CHECK(hers_simd_active() == level);
        levels++;
    }
    CHECK(levels == (int)hers_cpu_max_simd() + 1);
    if (hers_cpu_max_simd() < HERS_SIMD_AVX512)
        CHECK(hers_simd_set(HERS_SIMD_AVX512) == HERS_ERR_UNSUPPORTED);

    /* PRG: deterministic per (seed, stream), streams differ, chunking irrelevant. */
    uint8_t seed[32] = {1, 2, 3};
    hers_prg a, b;
    uint8_t x[200], y[200];
    hers_prg_init(&a, seed, 5);
    hers_prg_init(&b, seed, 5);
    hers_prg_bytes(&a, x, 200);
    hers_prg_bytes(&b, y, 7);
    hers_prg_bytes(&b, y + 7, 130);
    hers_prg_bytes(&b, y + 137, 63);
    CHECK(memcmp(x, y, 200) == 0);
    hers_prg_init(&b, seed, 6);
    hers_prg_bytes(&b, y, 200);
    CHECK(memcmp(x, y, 200) != 0);
    for (int i = 0; i < 1000; i++)
        CHECK(hers_prg_uniform(&a, 12289) < 12289);
    hers_prg_wipe(&a);
    hers_prg_wipe(&b);

    uint8_t *p = hers_alloc(100);
    CHECK(p && ((uintptr_t)p % HERS_ALIGN) == 0);
    CHECK(hers_alloc_array(SIZE_MAX / 2, 4) == NULL);
    hers_free_secret(p, 100);
    return test_finish();
}
