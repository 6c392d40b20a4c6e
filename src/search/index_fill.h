/*
 * index_fill.h - private: the rows of hers_index_fill (index_segment.c),
 * per SIMD level. rows: row of part 0 of tile 0 (part 1 follows at +
 * HERS_NROW words in the narrow form, + HERS_TILE in the wide one), tile s
 * at rows + s * stride; src0 / src1: N canonical residues of c0 / c1;
 * t2 = t^2 mod q; first: write, else add mod q.
 * Narrow (q < 2^30): w = floor(t2 2^32 / q). Wide, AVX-512 IFMA only
 * (q < 2^50): w = floor(t2 2^52 / q); the other levels use the scalar loop
 * of index_segment.c.
 */
#ifndef HERS_INDEX_FILL_H
#define HERS_INDEX_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "search/search_kernel.h"

typedef void hers_fill_narrow_fn(uint64_t *rows, size_t stride, size_t tiles,
                                 const uint64_t *src0, const uint64_t *src1, uint64_t t2,
                                 uint64_t w, uint64_t q, int first);
void hers_fill_narrow_portable(uint64_t *rows, size_t stride, size_t tiles, const uint64_t *src0,
                               const uint64_t *src1, uint64_t t2, uint64_t w, uint64_t q,
                               int first);
void hers_fill_narrow_avx2(uint64_t *rows, size_t stride, size_t tiles, const uint64_t *src0,
                           const uint64_t *src1, uint64_t t2, uint64_t w, uint64_t q, int first);

void hers_fill_wide_avx512(uint64_t *rows, size_t stride, size_t tiles, const uint64_t *src0,
                           const uint64_t *src1, uint64_t t2, uint64_t w, uint64_t q, int first);

#endif
