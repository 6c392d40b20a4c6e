/*
 * aes256_x86.c - AES-256 counter mode with AES-NI (8 blocks in flight: two
 * AES units of latency ~4 on recent x86) and with VAES on 512-bit vectors
 * (4 vectors of 4 blocks in flight). The round keys are FIPS-197's, in
 * byte order, as aesenc takes them. Counter block j = LE64(stream) ||
 * LE64(j): the low quadword of each 128-bit lane is the stream, the high
 * one the counter. Same bytes as the portable cipher (tests/test_aes.c).
 */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>

#include "core/aes256_x86.h"

/* cpuid once (it traps to the hypervisor in a VM: microseconds). */
static int has_aesni, has_vaes;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
    unsigned a, b, c, d;
    has_aesni = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_AES) && (c & bit_SSE4_1);
    if (has_aesni && __get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        has_vaes = (c & bit_VAES) && (b & bit_AVX512F);   /* OS state: hers_simd_active */
    }
}

int hers_cpu_has_aesni(void)
{
    pthread_once(&detect_once, detect);
    return has_aesni;
}

int hers_cpu_has_vaes(void)
{
    pthread_once(&detect_once, detect);
    return has_vaes;
}

#define ATTR_AESNI __attribute__((target("aes,sse4.1")))
#define ATTR_VAES __attribute__((target("aes,sse4.1,vaes,avx512f")))

ATTR_AESNI static inline __m128i enc1(const __m128i *rk, __m128i x)
{
    x = _mm_xor_si128(x, rk[0]);
    for (int r = 1; r < HERS_AES256_ROUNDS; r++)
        x = _mm_aesenc_si128(x, rk[r]);
    return _mm_aesenclast_si128(x, rk[HERS_AES256_ROUNDS]);
}

ATTR_AESNI void hers_aes256_ctr_aesni(const hers_aes256 *a, uint64_t stream, uint64_t first,
                                      size_t nblocks, uint8_t *out)
{
    __m128i rk[HERS_AES256_ROUNDS + 1];
    for (int r = 0; r <= HERS_AES256_ROUNDS; r++)
        rk[r] = _mm_loadu_si128((const __m128i *)a->rk[r]);
    size_t i = 0;
    for (; i + 8 <= nblocks; i += 8) {
        __m128i x[8];
        for (int l = 0; l < 8; l++)
            x[l] = _mm_xor_si128(_mm_set_epi64x((long long)(first + i + l), (long long)stream),
                                 rk[0]);
        for (int r = 1; r < HERS_AES256_ROUNDS; r++)
            for (int l = 0; l < 8; l++)
                x[l] = _mm_aesenc_si128(x[l], rk[r]);
        for (int l = 0; l < 8; l++)
            _mm_storeu_si128((__m128i *)(out + 16 * (i + l)),
                             _mm_aesenclast_si128(x[l], rk[HERS_AES256_ROUNDS]));
    }
    for (; i < nblocks; i++)
        _mm_storeu_si128((__m128i *)(out + 16 * i),
                         enc1(rk, _mm_set_epi64x((long long)(first + i), (long long)stream)));
}

ATTR_VAES void hers_aes256_ctr_vaes(const hers_aes256 *a, uint64_t stream, uint64_t first,
                                    size_t nblocks, uint8_t *out)
{
    __m512i rk[HERS_AES256_ROUNDS + 1];
    for (int r = 0; r <= HERS_AES256_ROUNDS; r++)
        rk[r] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->rk[r]));
    long long s = (long long)stream, j = (long long)first;
    __m512i ctr = _mm512_set_epi64(j + 3, s, j + 2, s, j + 1, s, j, s);
    const __m512i four = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
    size_t i = 0;
    for (; i + 16 <= nblocks; i += 16) {
        __m512i x[4];
        for (int l = 0; l < 4; l++) {
            x[l] = _mm512_xor_si512(ctr, rk[0]);
            ctr = _mm512_add_epi64(ctr, four);
        }
        for (int r = 1; r < HERS_AES256_ROUNDS; r++)
            for (int l = 0; l < 4; l++)
                x[l] = _mm512_aesenc_epi128(x[l], rk[r]);
        for (int l = 0; l < 4; l++)
            _mm512_storeu_si512(out + 16 * (i + 4 * l),
                                _mm512_aesenclast_epi128(x[l], rk[HERS_AES256_ROUNDS]));
    }
    for (; i + 4 <= nblocks; i += 4) {
        __m512i x = _mm512_xor_si512(ctr, rk[0]);
        ctr = _mm512_add_epi64(ctr, four);
        for (int r = 1; r < HERS_AES256_ROUNDS; r++)
            x = _mm512_aesenc_epi128(x, rk[r]);
        _mm512_storeu_si512(out + 16 * i, _mm512_aesenclast_epi128(x, rk[HERS_AES256_ROUNDS]));
    }
    if (i < nblocks)
        hers_aes256_ctr_aesni(a, stream, first + i, nblocks - i, out + 16 * i);
}
