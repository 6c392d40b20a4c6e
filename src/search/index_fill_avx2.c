/*
 * index_fill_avx2.c - the narrow form's inner loop of hers_index_fill
 * (index_segment.c) with AVX2: for every tile of one (prime, dimension),
 * the 8 lanes of c0 and c1 times t^2 mod q (32-bit Shoup: q < 2^30, so
 * every product fits a 64-bit lane of vpmuludq) packed two residues per
 * word into the rows of part 0 and part 1, written or added. Same words as
 * the portable loop (index_segment.c), which the tests compare.
 */
#include <immintrin.h>

#include "search/index_fill.h"

static inline __m256i mulmod(__m256i x, __m256i t2, __m256i w, __m256i q, __m256i qm1)
{
    __m256i hi = _mm256_srli_epi64(_mm256_mul_epu32(x, w), 32);
    __m256i r = _mm256_sub_epi64(_mm256_mul_epu32(x, t2), _mm256_mul_epu32(hi, q));
    return _mm256_sub_epi64(r, _mm256_and_si256(q, _mm256_cmpgt_epi64(r, qm1)));
}

static inline __m256i addmod(__m256i a, __m256i b, __m256i q, __m256i qm1)
{
    __m256i s = _mm256_add_epi64(a, b);
    return _mm256_sub_epi64(s, _mm256_and_si256(q, _mm256_cmpgt_epi64(s, qm1)));
}

static inline __m256i one_row(const uint64_t *src, __m256i old, int first, __m256i t2, __m256i w,
                              __m256i q, __m256i qm1)
{
    __m256i lo = mulmod(_mm256_loadu_si256((const __m256i *)src), t2, w, q, qm1);
    __m256i hi = mulmod(_mm256_loadu_si256((const __m256i *)(src + 4)), t2, w, q, qm1);
    if (!first) {
        __m256i mask = _mm256_set1_epi64x(0xffffffff);
        lo = addmod(lo, _mm256_and_si256(old, mask), q, qm1);
        hi = addmod(hi, _mm256_srli_epi64(old, 32), q, qm1);
    }
    return _mm256_or_si256(lo, _mm256_slli_epi64(hi, 32));
}

void hers_fill_narrow_avx2(uint64_t *rows, size_t stride, size_t tiles, const uint64_t *src0,
                           const uint64_t *src1, uint64_t t2, uint64_t w, uint64_t q, int first)
{
    __m256i vt2 = _mm256_set1_epi64x((long long)t2), vw = _mm256_set1_epi64x((long long)w);
    __m256i vq = _mm256_set1_epi64x((long long)q), vqm1 = _mm256_set1_epi64x((long long)(q - 1));
    for (size_t s = 0; s < tiles; s++) {
        uint64_t *row = rows + s * stride;
        __m256i o0 = first ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)row);
        __m256i o1 = first ? _mm256_setzero_si256()
                           : _mm256_loadu_si256((const __m256i *)(row + HERS_NROW));
        __m256i r0 = one_row(src0 + s * 8, o0, first, vt2, vw, vq, vqm1);
        __m256i r1 = one_row(src1 + s * 8, o1, first, vt2, vw, vq, vqm1);
        if (first) {   /* whole rows written: no read for ownership (rows are 32-byte aligned) */
            _mm256_stream_si256((__m256i *)row, r0);
            _mm256_stream_si256((__m256i *)(row + HERS_NROW), r1);
        } else {
            _mm256_storeu_si256((__m256i *)row, r0);
            _mm256_storeu_si256((__m256i *)(row + HERS_NROW), r1);
        }
    }
    _mm_sfence();   /* the streamed rows are visible before the pool's join */
}
