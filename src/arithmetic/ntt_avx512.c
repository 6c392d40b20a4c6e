/*
 * ntt_avx512.c - the AVX-512 IFMA kernels (q < 2^50): the code lives in
 * ntt_ifma_kernel.h so that tests/test_ntt_ifma_emul.c can compile the very
 * same source against a scalar model of the intrinsics. See that header for
 * the arithmetic, the lazy ranges and the lane layouts.
 */
#include <immintrin.h>

#define HERS_IFMA_FN(x) x##_avx512
#include "arithmetic/ntt_ifma_kernel.h"
