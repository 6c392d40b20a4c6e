/*
 * hers_mem.h - aligned allocation and secret wiping.
 *
 * hers_alloc returns 64-byte aligned memory (one cache line, one AVX-512
 * register), zero-filled, or NULL. Sizes that overflow return NULL.
 * hers_free releases memory that held public data; hers_free_secret wipes
 * `size` bytes first (libsodium's sodium_memzero, which the optimiser cannot
 * elide). Both accept NULL.
 */
#ifndef HERS_MEM_H
#define HERS_MEM_H

#include "hers/hers_api.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_ALIGN 64

HERS_API void *hers_alloc(size_t size);
/* count * size with overflow check. */
HERS_API void *hers_alloc_array(size_t count, size_t size);
HERS_API void hers_free(void *p);
HERS_API void hers_free_secret(void *p, size_t size);
/* Wipes a buffer that held secret data. */
HERS_API void hers_wipe(void *p, size_t size);
/* Constant-time equality of two buffers: 1 if equal, 0 otherwise. */
HERS_API int hers_consttime_equal(const void *a, const void *b, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* HERS_MEM_H */
