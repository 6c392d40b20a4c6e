/*
 * kernel_avx512.c - the fused search kernels with AVX-512 IFMA (52-bit
 * multiply-add, 8 lanes). The kernel bodies live in kernel_avx512_body.h so
 * that the test suite can also run them on a scalar emulation of the
 * intrinsics (this code cannot be executed on CPUs without IFMA; the
 * dispatcher only selects it when hers_cpu_max_simd() >= HERS_SIMD_AVX512).
 */
#include <immintrin.h>

#include "search/search_kernel.h"

#define HERS_IFMA_PREFETCH(ptr) _mm_prefetch((const char *)(ptr), _MM_HINT_T0)
#define HERS_IFMA_PREFETCH_FAR(ptr) _mm_prefetch((const char *)(ptr), _MM_HINT_T1)
/* result rows: 64-byte aligned; non-temporal (no read for ownership of lines
 * the kernel overwrites whole; hers_kernel_fence orders them) */
#ifndef HERS_IFMA_STORE
#define HERS_IFMA_STORE(ptr, v) _mm512_stream_si512((void *)(ptr), (v))
#endif
#include "search/kernel_avx512_body.h"
#include "search/kernel_avx512_streams.h"

void hers_kernel_ee_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                           const hers_kmod *mods, uint64_t *out, size_t stride)
{
    ifma_kernel_ee(g, p, d, k, mods, out, stride);
}

void hers_kernel_pe_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                           const hers_kmod *mods, uint64_t *out, size_t stride)
{
    ifma_kernel_pe(g, p, d, k, mods, out, stride);
}

void hers_kernel_ee_multi_avx512(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d,
                                 size_t k, const hers_kmod *mods, uint64_t *const *out,
                                 size_t stride)
{
    ifma_kernel_ee_multi(g, p, np, d, k, mods, out, stride);
}

void hers_kernel_pe_multi_avx512(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d,
                                 size_t k, const hers_kmod *mods, uint64_t *const *out,
                                 size_t stride)
{
    ifma_kernel_pe_multi(g, p, np, d, k, mods, out, stride);
}

void hers_kernel_ee_tiles_avx512(const uint64_t *g, size_t ng, size_t gstride,
                                 const uint64_t *const *p, size_t np, size_t d, size_t k,
                                 const hers_kmod *mods, uint64_t *const *out, size_t stride)
{
    ifma_kernel_ee_tiles(g, ng, gstride, p, np, d, k, mods, out, stride);
}

void hers_kernel_pe_tiles_avx512(const uint64_t *g, size_t ng, size_t gstride,
                                 const uint64_t *const *p, size_t np, size_t d, size_t k,
                                 const hers_kmod *mods, uint64_t *const *out, size_t stride)
{
    ifma_kernel_pe_tiles(g, ng, gstride, p, np, d, k, mods, out, stride);
}

void hers_kernel_ee_streams_avx512(const uint64_t *const *g, size_t ns, const uint64_t *p, size_t d,
                                   size_t k, const hers_kmod *mods, uint64_t *const *out,
                                   size_t stride)
{
    ifma_kernel_ee_streams(g, ns, p, d, k, mods, out, stride);
}

void hers_kernel_pe_streams_avx512(const uint64_t *const *g, size_t ns, const uint64_t *p, size_t d,
                                   size_t k, const hers_kmod *mods, uint64_t *const *out,
                                   size_t stride)
{
    ifma_kernel_pe_streams(g, ns, p, d, k, mods, out, stride);
}
