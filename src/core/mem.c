/* mem.c - aligned allocation and wiping (libsodium). */
#include "hers/hers_mem.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *hers_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    size_t rounded = (size + HERS_ALIGN - 1) & ~(size_t)(HERS_ALIGN - 1);
    if (rounded < size)
        return NULL;
    void *p = aligned_alloc(HERS_ALIGN, rounded);
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

int hers_ct_equal(const void *a, const void *b, size_t size)
{
    return sodium_memcmp(a, b, size) == 0;
}
