/*
 * hers_cpu.h - run-time SIMD level detection and selection.
 *
 * Levels are ordered: a CPU that supports a level supports every lower one.
 *   HERS_SIMD_PORTABLE  plain C (64-bit integers, unsigned __int128)
 *   HERS_SIMD_AVX2      AVX2 + BMI2 (+ FMA)
 *   HERS_SIMD_AVX512    AVX-512 F/DQ/VL/BW + IFMA52
 *
 * Detection (cpuid + xgetbv, so OS support of the register state is checked)
 * runs once, thread-safely. The active level is the highest the CPU has,
 * lowered by the environment variable HERS_SIMD=portable|avx2|avx512 if set,
 * or by hers_simd_set(). Every kernel produces bit-identical results at every
 * level; the level only changes speed.
 */
#ifndef HERS_CPU_H
#define HERS_CPU_H

#include "hers/hers_api.h"

#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hers_simd {
    HERS_SIMD_PORTABLE = 0,
    HERS_SIMD_AVX2 = 1,
    HERS_SIMD_AVX512 = 2
} hers_simd;

#define HERS_SIMD_LEVELS 3

/* Highest level this CPU and OS support. */
HERS_API hers_simd hers_cpu_max_simd(void);

/* Level kernels use now. */
HERS_API hers_simd hers_simd_active(void);

/* Forces the active level (tests, benchmarks). Fails with
 * HERS_ERR_UNSUPPORTED if the CPU lacks it. Affects all threads; do not call
 * while other threads run kernels. */
HERS_API hers_status hers_simd_set(hers_simd level);

/* "portable", "avx2", "avx512ifma". */
HERS_API const char *hers_simd_name(hers_simd level);

/* Parses a name accepted by HERS_SIMD ("portable", "avx2", "avx512",
 * "avx512ifma"). Returns HERS_ERR_ARG on an unknown name. */
HERS_API hers_status hers_simd_parse(const char *name, hers_simd *out);

/* CPU model string from cpuid (e.g. "AMD EPYC"), trimmed; never NULL. */
HERS_API const char *hers_cpu_model(void);

#ifdef __cplusplus
}
#endif
#endif /* HERS_CPU_H */
