/* mem.c - aligned allocation and wiping (libsodium). */
#include "hers/hers_mem.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Buffers from 4 MiB up (galleries, indexes, probe tiles, search results)
 * are aligned to 2 MiB and marked MADV_HUGEPAGE, so that transparent huge
 * pages back them where the system allows it (Debian's default is
 * "madvise"): one page fault and one page clear per 2 MiB instead of per
 * 4 KiB when the memset below first touches them. On this machine
 * allocating and zeroing 18 MiB took 14 ms with 4 KiB pages and 2.2 ms with
 * huge pages (docs/benchmarks.md). Without THP nothing changes. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

static void *alloc_huge(size_t *rounded)
{
    size_t r = (*rounded + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    if (r < *rounded)
        return NULL;
    void *p = aligned_alloc(HUGE_ALIGN, r);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p)
        (void)madvise(p, r, MADV_HUGEPAGE);
#endif
    *rounded = r;
    return p;
}

void *hers_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    size_t rounded = (size + HERS_ALIGN - 1) & ~(size_t)(HERS_ALIGN - 1);
    if (rounded < size)
        return NULL;
    void *p = rounded >= HUGE_MIN ? alloc_huge(&rounded) : aligned_alloc(HERS_ALIGN, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void *hers_alloc_array(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return hers_alloc(count * size);
}

void hers_free(void *p) { free(p); }

void hers_wipe(void *p, size_t size)
{
    if (p && size)
        sodium_memzero(p, size);
}

void hers_free_secret(void *p, size_t size)
{
    if (!p)
        return;
    sodium_memzero(p, size);
    free(p);
}

int hers_consttime_equal(const void *a, const void *b, size_t size)
{
    return sodium_memcmp(a, b, size) == 0;
}
