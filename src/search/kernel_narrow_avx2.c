/*
 * kernel_narrow_avx2.c - the fused search kernels over the narrow gallery
 * form (every q_j < 2^30; layout and contract: search_kernel.h) with AVX2.
 *
 * A narrow row is one register: word w holds lanes w (low half) and w + 4
 * (high half). vpmuludq multiplies the low 32 bits of each 64-bit word, so
 * the even products take the row as it is and the odd ones the row shifted
 * right by 32; the probe rows (one residue per word) need no split. Per 8
 * lanes, prime and dimension: 2 gallery + 4 probe loads, 2 shifts, 8
 * multiplies, 8 adds (a quarter of the instructions of the wide kernel's
 * 26-bit limbs), so the scan is bound by the gallery stream.
 *
 * Ranges: residues < 2^30, products < 2^60. A chunk of HERS_NARROW_CHUNK = 8
 * dimensions sums at most 16 products per lane (S1): < 2^64, exact. Each
 * chunk sum is split into its low and high 32 bits, added to two 64-bit
 * sums: after d <= 1024 dimensions (128 chunks) each is < 2^39.
 */
#include <immintrin.h>

#include "arithmetic/fma_avx2.h"
#include "search/search_kernel.h"

#define LD(ptr) _mm256_load_si256((const __m256i *)(ptr))

/* Constants of the vector fold for one prime q < 2^30. */
struct fold_consts {
    __m256i r32, r64, mask;
    __m256d q, qinv, r32d;
};

static inline struct fold_consts fold_consts_make(const hers_kmod *m)
{
    struct fold_consts f;
    f.r32 = _mm256_set1_epi64x((long long)m->r32);
    f.r64 = _mm256_set1_epi64x((long long)m->r64);
    f.mask = _mm256_set1_epi64x(0xffffffff);
    f.q = _mm256_set1_pd((double)m->q);
    f.qinv = _mm256_set1_pd(1.0 / (double)m->q);
    f.r32d = hers_fma_from_u52(f.r32);
    return f;
}

/* The 4 lanes' exact sums lo + 2^32 hi (lo, hi < 2^39: d <= 1024) mod q in
 * [0, q), in vector registers (the scalar fold of hers_kernel_fold was a
 * quarter of the kernel's instructions at d = 64):
 *   x = lo + (hi mod 2^32) r32 + (hi >> 32) r64           < 2^63, = sum (q)
 *   x = xh 2^32 + xl,  sum = xh r32 + xl                  (q)
 * xh r32 (xh < 2^31, r32 < 2^30) is reduced with an exact FMA product
 * (h + l = xh r32 exactly, h - round(h / q) q is exact: its true value is
 * below 2^31), xl (< 2^32) with one rounding division; both results are
 * within q/2 + 2^-19 q, and their sum is reduced once more and lifted into
 * [0, q). Every step is exact integer arithmetic in doubles (< 2^53), so
 * the result equals the scalar reduction bit for bit. */
static inline __m256i fold_vec(__m256i lo, __m256i hi, const struct fold_consts *f)
{
    __m256i x = _mm256_add_epi64(lo, _mm256_mul_epu32(_mm256_and_si256(hi, f->mask), f->r32));
    x = _mm256_add_epi64(x, _mm256_mul_epu32(_mm256_srli_epi64(hi, 32), f->r64));
    __m256d xh = hers_fma_from_u52(_mm256_srli_epi64(x, 32));
    __m256d xl = hers_fma_from_u52(_mm256_and_si256(x, f->mask));
    __m256d r1 = hers_fma_mulmod_lazy(xh, f->r32d, f->q, f->qinv);
    __m256d r = hers_fma_reduce(_mm256_add_pd(r1, hers_fma_reduce(xl, f->q, f->qinv)), f->q, f->qinv);
    return hers_fma_to_u52(hers_fma_add_q_if_neg(r, f->q));
}

/* One output row (8 lanes, one cache line: lanes 0-3 from the even sums,
 * 4-7 from the odd ones) written with non-temporal stores: the rows of a
 * tile go to 2k or 3k different result polynomials (other pages, not in
 * cache) and need no read for ownership. out must be 32-byte aligned
 * (result rows are 64-byte aligned, tiles 64 bytes). Callers fence
 * (hers_kernel_fence, at the end of each scan task) before other threads
 * read. */
static inline void stream_row(uint64_t *out, __m256i even, __m256i odd)
{
    _mm256_stream_si256((__m256i *)out, even);
    _mm256_stream_si256((__m256i *)(out + 4), odd);
}

struct split {
    __m256i lo, hi;
};

static inline void split_add(struct split *s, __m256i chunk, __m256i mask)
{
    s->lo = _mm256_add_epi64(s->lo, _mm256_and_si256(chunk, mask));
    s->hi = _mm256_add_epi64(s->hi, _mm256_srli_epi64(chunk, 32));
}

void hers_kernel_ee_narrow_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const __m256i mask = _mm256_set1_epi64x(0xffffffff);
    /* one line (this dimension's two rows) of the tile two tiles ahead */
    const size_t pf = 2 * k * d * 2 * HERS_NROW;
    for (size_t j = 0; j < k; j++) {
        const __m256i zero = _mm256_setzero_si256();
        struct split s[6] = {{zero, zero}, {zero, zero}, {zero, zero},
                             {zero, zero}, {zero, zero}, {zero, zero}};
        const uint64_t *gj = g + HERS_NTILE_EE(d, j, 0, 0), *pj = p + HERS_TILE_EE(d, j, 0, 0);
        for (size_t i0 = 0; i0 < d; i0 += HERS_NARROW_CHUNK) {
            size_t i1 = i0 + HERS_NARROW_CHUNK < d ? i0 + HERS_NARROW_CHUNK : d;
            __m256i e0 = zero, e1 = zero, e2 = zero, o0 = zero, o1 = zero, o2 = zero;
            for (size_t i = i0; i < i1; i++) {
                const uint64_t *gr = gj + i * 2 * HERS_NROW, *pr = pj + i * 2 * HERS_TILE;
                _mm_prefetch((const char *)(gr + pf), _MM_HINT_T0);
                __m256i x0 = LD(gr), x1 = LD(gr + HERS_NROW);
                __m256i y0e = LD(pr), y0o = LD(pr + 4);
                __m256i y1e = LD(pr + HERS_TILE), y1o = LD(pr + HERS_TILE + 4);
                __m256i x0o = _mm256_srli_epi64(x0, 32), x1o = _mm256_srli_epi64(x1, 32);
                e0 = _mm256_add_epi64(e0, _mm256_mul_epu32(x0, y0e));
                e1 = _mm256_add_epi64(e1, _mm256_add_epi64(_mm256_mul_epu32(x0, y1e),
                                                           _mm256_mul_epu32(x1, y0e)));
                e2 = _mm256_add_epi64(e2, _mm256_mul_epu32(x1, y1e));
                o0 = _mm256_add_epi64(o0, _mm256_mul_epu32(x0o, y0o));
                o1 = _mm256_add_epi64(o1, _mm256_add_epi64(_mm256_mul_epu32(x0o, y1o),
                                                           _mm256_mul_epu32(x1o, y0o)));
                o2 = _mm256_add_epi64(o2, _mm256_mul_epu32(x1o, y1o));
            }
            split_add(&s[0], e0, mask);
            split_add(&s[1], e1, mask);
            split_add(&s[2], e2, mask);
            split_add(&s[3], o0, mask);
            split_add(&s[4], o1, mask);
            split_add(&s[5], o2, mask);
        }
        const struct fold_consts f = fold_consts_make(&mods[j]);
        for (size_t part = 0; part < 3; part++)
            stream_row(out + (part * k + j) * stride, fold_vec(s[part].lo, s[part].hi, &f),
                       fold_vec(s[3 + part].lo, s[3 + part].hi, &f));
    }
}

void hers_kernel_pe_narrow_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const __m256i mask = _mm256_set1_epi64x(0xffffffff);
    const size_t pf = 2 * k * d * HERS_NROW;
    for (size_t j = 0; j < k; j++) {
        const __m256i zero = _mm256_setzero_si256();
        struct split s[4] = {{zero, zero}, {zero, zero}, {zero, zero}, {zero, zero}};
        const uint64_t *gj = g + HERS_NTILE_PG(d, j, 0), *pj = p + HERS_TILE_EE(d, j, 0, 0);
        for (size_t i0 = 0; i0 < d; i0 += HERS_NARROW_CHUNK) {
            size_t i1 = i0 + HERS_NARROW_CHUNK < d ? i0 + HERS_NARROW_CHUNK : d;
            __m256i e0 = zero, e1 = zero, o0 = zero, o1 = zero;
            for (size_t i = i0; i < i1; i++) {
                const uint64_t *gr = gj + i * HERS_NROW, *pr = pj + i * 2 * HERS_TILE;
                if (!(i & 1)) /* a line holds two dimensions' rows */
                    _mm_prefetch((const char *)(gr + pf), _MM_HINT_T0);
                __m256i x = LD(gr), xo = _mm256_srli_epi64(x, 32);
                e0 = _mm256_add_epi64(e0, _mm256_mul_epu32(x, LD(pr)));
                o0 = _mm256_add_epi64(o0, _mm256_mul_epu32(xo, LD(pr + 4)));
                e1 = _mm256_add_epi64(e1, _mm256_mul_epu32(x, LD(pr + HERS_TILE)));
                o1 = _mm256_add_epi64(o1, _mm256_mul_epu32(xo, LD(pr + HERS_TILE + 4)));
            }
            split_add(&s[0], e0, mask);
            split_add(&s[1], e1, mask);
            split_add(&s[2], o0, mask);
            split_add(&s[3], o1, mask);
        }
        const struct fold_consts f = fold_consts_make(&mods[j]);
        for (size_t part = 0; part < 2; part++)
            stream_row(out + (part * k + j) * stride, fold_vec(s[part].lo, s[part].hi, &f),
                       fold_vec(s[2 + part].lo, s[2 + part].hi, &f));
    }
}
