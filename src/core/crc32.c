/*
 * crc32.c - CRC-32 by folding with carry-less multiplication (crc32.h).
 *
 * Raw CRC R(M, r): the reflected register r after message M (zlib's
 * crc32(c, M) = ~R(M, ~c)). R is linear, R(M, r) = R(M ^ r in the first 4
 * bytes, 0), and a 128-bit block X of M followed by D bits contributes
 * what X * x^D does: folding replaces X by the 96-bit product
 * X.lo * (x^(D+32) mod P) + X.hi * (x^(D-32) mod P) (both constants bit
 * reflected and shifted left once, for the reflected operands of
 * PCLMULQDQ), XORed into the block D bits further on. Folding the 16-byte
 * prefix of M down to one block F leaves R(prefix, 0) = R(F, 0), which
 * zlib computes with the rest of M. The constants are computed here from
 * P = 0x104C11DB7 (and checked against zlib on every path by the tests).
 */
#include "core/crc32.h"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <string.h>
#include <zlib.h>

#include "hers/hers_cpu.h"

/* ---------------------------------------------------------- constants */

/* reflect32(x^n mod P) << 1 */
static uint64_t fold_constant(unsigned n)
{
    uint64_t r = 1;
    for (unsigned i = 0; i < n; i++) {
        r <<= 1;
        if (r >> 32)
            r ^= 0x104C11DB7ull;
    }
    uint64_t f = 0;
    for (int b = 0; b < 32; b++)
        f |= ((r >> b) & 1) << (31 - b);
    return f << 1;
}

/* fold distances: 128 bits (one lane to the next), 512 (4 lanes, or one
 * 512-bit vector to the next), 2048 (4 x 512-bit accumulators) */
static uint64_t k128[2], k512[2], k2048[2];
static int has_pclmul, has_vpclmul;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
    k128[0] = fold_constant(128 + 32);
    k128[1] = fold_constant(128 - 32);
    k512[0] = fold_constant(512 + 32);
    k512[1] = fold_constant(512 - 32);
    k2048[0] = fold_constant(2048 + 32);
    k2048[1] = fold_constant(2048 - 32);
    unsigned a, b, c, d;
    has_pclmul = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_PCLMUL) && (c & bit_SSE4_1);
    if (has_pclmul && __get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        has_vpclmul = (c & bit_VPCLMULQDQ) && (b & bit_AVX512F);   /* OS: hers_simd_active */
    }
}

typedef enum { PATH_ZLIB, PATH_PCLMUL, PATH_VPCLMUL } crc_path;

static crc_path path_now(void)
{
    pthread_once(&init_once, init);
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512 && has_vpclmul)
        return PATH_VPCLMUL;
    if (level >= HERS_SIMD_AVX2 && has_pclmul)
        return PATH_PCLMUL;
    return PATH_ZLIB;
}

const char *hers_crc32_path(void)
{
    static const char *const names[] = {"zlib", "pclmulqdq", "vpclmulqdq"};
    return names[path_now()];
}

static uint32_t zlib_crc(uint32_t crc, const uint8_t *b, size_t len)
{
    uLong c = crc;
    while (len > 0) {   /* zlib takes uInt lengths */
        uInt part = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, b, part);
        b += part;
        len -= part;
    }
    return (uint32_t)c;
}

/* ---------------------------------------------------------- folding */

#define ATTR_PCLMUL __attribute__((target("pclmul,sse4.1")))
#define ATTR_VPCLMUL __attribute__((target("pclmul,sse4.1,avx512f,vpclmulqdq")))

ATTR_PCLMUL static inline __m128i fold128(__m128i x, __m128i k, __m128i next)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                       _mm_clmulepi64_si128(x, k, 0x11)),
                         next);
}

/* Folds b[0, n) (n >= 64, a multiple of 16; r XORed into its first 4
 * bytes) down to the block F: four 128-bit lanes 64 bytes a step. */
ATTR_PCLMUL static void fold_pclmul(const uint8_t *b, size_t n, uint32_t r, uint8_t out[16])
{
    const __m128i K512 = _mm_set_epi64x((long long)k512[1], (long long)k512[0]);
    const __m128i K128 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)b), _mm_cvtsi32_si128((int)r));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(b + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(b + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(b + 48));
    size_t o = 64;
    for (; o + 64 <= n; o += 64) {
        x0 = fold128(x0, K512, _mm_loadu_si128((const __m128i *)(b + o)));
        x1 = fold128(x1, K512, _mm_loadu_si128((const __m128i *)(b + o + 16)));
        x2 = fold128(x2, K512, _mm_loadu_si128((const __m128i *)(b + o + 32)));
        x3 = fold128(x3, K512, _mm_loadu_si128((const __m128i *)(b + o + 48)));
    }
    __m128i x = fold128(x0, K128, x1);
    x = fold128(x, K128, x2);
    x = fold128(x, K128, x3);
    for (; o + 16 <= n; o += 16)
        x = fold128(x, K128, _mm_loadu_si128((const __m128i *)(b + o)));
    _mm_storeu_si128((__m128i *)out, x);
}

ATTR_VPCLMUL static inline __m512i fold512(__m512i x, __m512i k, __m512i next)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                     _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

/* As fold_pclmul, n >= 256: four 512-bit accumulators 256 bytes a step. */
ATTR_VPCLMUL static void fold_vpclmul(const uint8_t *b, size_t n, uint32_t r, uint8_t out[16])
{
    const __m512i K2048 =
        _mm512_broadcast_i32x4(_mm_set_epi64x((long long)k2048[1], (long long)k2048[0]));
    const __m512i K512 =
        _mm512_broadcast_i32x4(_mm_set_epi64x((long long)k512[1], (long long)k512[0]));
    const __m128i K128 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
    __m512i z0 = _mm512_xor_si512(_mm512_loadu_si512(b),
                                  _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)r)));
    __m512i z1 = _mm512_loadu_si512(b + 64);
    __m512i z2 = _mm512_loadu_si512(b + 128);
    __m512i z3 = _mm512_loadu_si512(b + 192);
    size_t o = 256;
    for (; o + 256 <= n; o += 256) {
        z0 = fold512(z0, K2048, _mm512_loadu_si512(b + o));
        z1 = fold512(z1, K2048, _mm512_loadu_si512(b + o + 64));
        z2 = fold512(z2, K2048, _mm512_loadu_si512(b + o + 128));
        z3 = fold512(z3, K2048, _mm512_loadu_si512(b + o + 192));
    }
    __m512i z = fold512(z0, K512, z1);
    z = fold512(z, K512, z2);
    z = fold512(z, K512, z3);
    for (; o + 64 <= n; o += 64)
        z = fold512(z, K512, _mm512_loadu_si512(b + o));
    __m128i x = fold128(_mm512_extracti32x4_epi32(z, 0), K128, _mm512_extracti32x4_epi32(z, 1));
    x = fold128(x, K128, _mm512_extracti32x4_epi32(z, 2));
    x = fold128(x, K128, _mm512_extracti32x4_epi32(z, 3));
    for (; o + 16 <= n; o += 16)
        x = fold128(x, K128, _mm_loadu_si128((const __m128i *)(b + o)));
    _mm_storeu_si128((__m128i *)out, x);
}

uint32_t hers_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    crc_path path = path_now();
    if (path == PATH_ZLIB || len < 64)
        return zlib_crc(crc, b, len);
    size_t n = len & ~(size_t)15;
    uint8_t f[16];
    if (path == PATH_VPCLMUL && n >= 256)
        fold_vpclmul(b, n, ~crc, f);
    else
        fold_pclmul(b, n, ~crc, f);
    /* R(prefix, ~crc) = R(F, 0) = ~crc32(0xffffffff, F); then the tail */
    uint32_t c = zlib_crc(0xffffffffu, f, 16);
    return zlib_crc(c, b + n, len - n);
}

uint32_t hers_crc32_combine_gen(size_t len2)
{
    return (uint32_t)crc32_combine_gen((z_off_t)len2);   /* z_off_t: long */
}

uint32_t hers_crc32_combine_op(uint32_t crc1, uint32_t crc2, uint32_t op)
{
    return (uint32_t)crc32_combine_op(crc1, crc2, op);
}
