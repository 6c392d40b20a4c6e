/* cpu.c - cpuid/xgetbv detection, once, and the active SIMD level. */
#include "hers/hers_cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HERS_X86 1
#endif

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static hers_simd detected_max = HERS_SIMD_PORTABLE;
static _Atomic int active_level = -1;
static char cpu_model[64] = "unknown";

#ifdef HERS_X86
static unsigned long long read_xcr0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void read_model(void)
{
    unsigned int regs[12];
    unsigned int max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext < 0x80000004u)
        return;
    for (unsigned int i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1],
                    &regs[4 * i + 2], &regs[4 * i + 3]);
    char raw[49];
    memcpy(raw, regs, 48);
    raw[48] = '\0';
    char *s = raw;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    if (n > 0) {
        strncpy(cpu_model, s, sizeof cpu_model - 1);
        cpu_model[sizeof cpu_model - 1] = '\0';
    }
}
#endif

static void detect(void)
{
    hers_simd level = HERS_SIMD_PORTABLE;
#ifdef HERS_X86
    unsigned int a, b, c, d;
    read_model();
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
        unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
        int ymm_ok = (xcr0 & 0x6) == 0x6;
        int zmm_ok = (xcr0 & 0xe6) == 0xe6;
        if (__get_cpuid_max(0, NULL) >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            int avx2 = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
            int f512 = (b >> 16) & 1, dq = (b >> 17) & 1, ifma = (b >> 21) & 1;
            int bw = (b >> 30) & 1, vl = (b >> 31) & 1;
            if (avx && fma && avx2 && bmi2 && ymm_ok)
                level = HERS_SIMD_AVX2;
            if (level == HERS_SIMD_AVX2 && f512 && dq && ifma && bw && vl && zmm_ok)
                level = HERS_SIMD_AVX512;
        }
    }
#endif
    detected_max = level;
    hers_simd want = level;
    const char *env = getenv("HERS_SIMD");
    hers_simd forced;
    if (env && *env && hers_simd_parse(env, &forced) == HERS_OK && forced < want)
        want = forced;
    atomic_store(&active_level, (int)want);
}

hers_simd hers_cpu_max_simd(void)
{
    pthread_once(&detect_once, detect);
    return detected_max;
}

hers_simd hers_simd_active(void)
{
    int v = atomic_load_explicit(&active_level, memory_order_relaxed);
    if (v < 0) {
        pthread_once(&detect_once, detect);
        v = atomic_load(&active_level);
    }
    return (hers_simd)v;
}

hers_status hers_simd_set(hers_simd level)
{
    if ((int)level < 0 || (int)level >= HERS_SIMD_LEVELS)
        return hers_error(HERS_ERR_ARG, "unknown SIMD level %d", (int)level);
    if (level > hers_cpu_max_simd())
        return hers_error(HERS_ERR_UNSUPPORTED, "this CPU does not support SIMD level %s",
                          hers_simd_name(level));
    atomic_store(&active_level, (int)level);
    return HERS_OK;
}

const char *hers_simd_name(hers_simd level)
{
    switch (level) {
    case HERS_SIMD_PORTABLE: return "portable";
    case HERS_SIMD_AVX2: return "avx2";
    case HERS_SIMD_AVX512: return "avx512ifma";
    }
    return "unknown";
}

hers_status hers_simd_parse(const char *name, hers_simd *out)
{
    if (!name || !out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    if (!strcmp(name, "portable")) *out = HERS_SIMD_PORTABLE;
    else if (!strcmp(name, "avx2")) *out = HERS_SIMD_AVX2;
    else if (!strcmp(name, "avx512") || !strcmp(name, "avx512ifma")) *out = HERS_SIMD_AVX512;
    else return hers_error(HERS_ERR_ARG, "unknown SIMD level '%s' (portable|avx2|avx512)", name);
    return HERS_OK;
}

const char *hers_cpu_model(void)
{
    pthread_once(&detect_once, detect);
    return cpu_model;
}
