/*
 * index_fill_avx512.c - the wide form's inner loop of hers_index_fill
 * (index_segment.c) with AVX-512 IFMA: for every tile of one (prime,
 * dimension), the 8 residues of c0 and of c1 times t^2 mod q (52-bit
 * Shoup: q < 2^50, w = floor(t2 2^52 / q); x t2 - floor(x w / 2^52) q
 * lies in [0, 2q) and is exact in the low 52 bits) written or added mod q
 * into the rows of part 0 and part 1 (8 words each; written with
 * non-temporal stores: no read for ownership of lines that are entirely
 * overwritten, measured 25-45% faster on Zen 5). Same words as the
 * portable loop (index_segment.c), which the tests compare.
 */
#include <immintrin.h>

#include "search/index_fill.h"

static inline __m512i mulmod52(__m512i x, __m512i t2, __m512i w, __m512i q)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i hi = _mm512_madd52hi_epu64(zero, x, w);
    __m512i r = _mm512_sub_epi64(_mm512_madd52lo_epu64(zero, x, t2),
                                 _mm512_madd52lo_epu64(zero, hi, q));
    r = _mm512_and_si512(r, _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - 1)));
    return _mm512_min_epu64(r, _mm512_sub_epi64(r, q));   /* r - q wraps when r < q */
}

static inline __m512i addmod(__m512i a, __m512i b, __m512i q)
{
    __m512i s = _mm512_add_epi64(a, b);
    return _mm512_min_epu64(s, _mm512_sub_epi64(s, q));
}

void hers_fill_wide_avx512(uint64_t *rows, size_t stride, size_t tiles, const uint64_t *src0,
                           const uint64_t *src1, uint64_t t2, uint64_t w, uint64_t q, int first)
{
    __m512i vt2 = _mm512_set1_epi64((long long)t2), vw = _mm512_set1_epi64((long long)w);
    __m512i vq = _mm512_set1_epi64((long long)q);
    for (size_t s = 0; s < tiles; s++) {
        uint64_t *row = rows + s * stride;
        __m512i v0 = mulmod52(_mm512_loadu_si512(src0 + 8 * s), vt2, vw, vq);
        __m512i v1 = mulmod52(_mm512_loadu_si512(src1 + 8 * s), vt2, vw, vq);
        if (!first) {
            v0 = addmod(v0, _mm512_loadu_si512(row), vq);
            v1 = addmod(v1, _mm512_loadu_si512(row + HERS_TILE), vq);
        }
        if (first) {
            _mm512_stream_si512((void *)row, v0);
            _mm512_stream_si512((void *)(row + HERS_TILE), v1);
        } else {
            _mm512_storeu_si512(row, v0);
            _mm512_storeu_si512(row + HERS_TILE, v1);
        }
    }
    _mm_sfence();   /* the streamed rows are visible before the pool's join */
}
