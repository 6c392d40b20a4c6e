/*
 * ntt.c - NTT tables and the dispatching transforms (hers_ntt.h).
 *
 * Table layout (n a power of two in [16, 32768], q prime, q = 1 mod 2n):
 *   roots[k]  = psi^brv(k) for k in [0, n) (brv over log2 n bits); the
 *               forward stage with m blocks uses roots[m .. 2m).
 *   iroots[k] for k in [0, n-1): psi^-brv(m + i) in the order the inverse
 *               consumes them (stages m = n/2, ..., 1; blocks i = 0..m-1);
 *   iroots[n-1] = psi^-brv(1) * n^-1 mod q, the twiddle of the last inverse
 *               stage fused with the 1/n scaling.
 *   *_shoup   = floor(w * 2^64 / q) for each w above.
 * psi is the canonical (minimal) primitive 2n-th root (hers_primitive_root).
 * All entries are in [0, q). See ntt_portable.c for the butterflies and
 * their lazy ranges.
 */
#include <string.h>

#include "hers/hers_ntt.h"

#include "arithmetic/arith_internal.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"

static void table_free_simd(hers_ntt_simd *s)
{
    if (!s)
        return;
    double *d[] = {s->fw, s->fwq, s->fw2, s->fwq2, s->iw, s->iwq, s->iw1p, s->iwq1p, s->iw2, s->iwq2};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        hers_free(d[i]);
    uint64_t *u[] = {s->f4w, s->f4s, s->f2w, s->f2s, s->i2w, s->i2s, s->i4w, s->i4s,
                     s->f1w, s->f1s, s->i1w, s->i1s};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        hers_free(u[i]);
    hers_free(s->roots_shoup52);
    hers_free(s->iroots_shoup52);
    hers_free(s);
}

void hers_ntt_table_free(hers_ntt_table *t)
{
    if (!t)
        return;
    hers_free(t->roots);
    hers_free(t->roots_shoup);
    hers_free(t->iroots);
    hers_free(t->iroots_shoup);
    table_free_simd((hers_ntt_simd *)t->simd);
    hers_free(t);
}

static uint64_t shoup52(uint64_t w, uint64_t q)
{
    return (uint64_t)(((unsigned __int128)w << 52) / q);
}

/* w in [0, q) as the double of its centred representative in (-q/2, q/2]. */
static double centred(uint64_t w, uint64_t q)
{
    return w > q / 2 ? -(double)(q - w) : (double)w;
}

static hers_status build_simd(hers_ntt_table *t)
{
    hers_ntt_simd *s = hers_alloc(sizeof *s);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "NTT table: out of memory");
    t->simd = s;
    const uint64_t q = t->q.value;
    s->avx2_ok = q < HERS_NTT_AVX2_MAX_Q;
    s->avx512_ok = q < HERS_NTT_IFMA_MAX_Q;
    if (s->avx2_ok) {
        const size_t n = t->n, h = n / 2;
        s->fw = hers_alloc_array(n, sizeof(double));
        s->fwq = hers_alloc_array(n, sizeof(double));
        s->iw = hers_alloc_array(n, sizeof(double));
        s->iwq = hers_alloc_array(n, sizeof(double));
        s->fw2 = hers_alloc_array(h, sizeof(double));
        s->fwq2 = hers_alloc_array(h, sizeof(double));
        s->iw1p = hers_alloc_array(h, sizeof(double));
        s->iwq1p = hers_alloc_array(h, sizeof(double));
        s->iw2 = hers_alloc_array(h, sizeof(double));
        s->iwq2 = hers_alloc_array(h, sizeof(double));
        if (!s->fw || !s->fwq || !s->iw || !s->iwq || !s->fw2 || !s->fwq2 || !s->iw1p ||
            !s->iwq1p || !s->iw2 || !s->iwq2)
            return hers_error(HERS_ERR_NOMEM, "NTT table: out of memory");
        for (size_t k = 0; k < n; k++) {
            s->fw[k] = centred(t->roots[k], q);
            s->fwq[k] = s->fw[k] / (double)q;
            s->iw[k] = centred(t->iroots[k], q);
            s->iwq[k] = s->iw[k] / (double)q;
        }
        for (size_t k = 0; k < n / 8; k++) {
            static const int p1[4] = {0, 2, 1, 3};
            for (int l = 0; l < 4; l++) {
                size_t f2 = n / 4 + 2 * k + (size_t)(l >> 1); /* forward stage m = n/4 */
                size_t i1 = 4 * k + (size_t)p1[l];             /* inverse stage m = n/2 */
                size_t i2 = n / 2 + 2 * k + (size_t)(l >> 1);  /* inverse stage m = n/4 */
                s->fw2[4 * k + l] = s->fw[f2];
                s->fwq2[4 * k + l] = s->fwq[f2];
                s->iw1p[4 * k + l] = s->iw[i1];
                s->iwq1p[4 * k + l] = s->iwq[i1];
                s->iw2[4 * k + l] = s->iw[i2];
                s->iwq2[4 * k + l] = s->iwq[i2];
            }
        }
        s->n_inv_c = centred(t->n_inv, q);
        s->n_inv_cq = s->n_inv_c / (double)q;
    }
    if (s->avx512_ok) {
        s->roots_shoup52 = hers_alloc_array(t->n, sizeof(uint64_t));
        s->iroots_shoup52 = hers_alloc_array(t->n, sizeof(uint64_t));
        if (!s->roots_shoup52 || !s->iroots_shoup52)
            return hers_error(HERS_ERR_NOMEM, "NTT table: out of memory");
        for (size_t k = 0; k < t->n; k++) {
            s->roots_shoup52[k] = shoup52(t->roots[k], q);
            s->iroots_shoup52[k] = shoup52(t->iroots[k], q);
        }
        s->n_inv_shoup52 = shoup52(t->n_inv, q);
        const size_t n = t->n, h = n / 2;
        uint64_t **arr[] = {&s->f4w, &s->f4s, &s->f2w, &s->f2s, &s->i2w, &s->i2s,
                            &s->i4w, &s->i4s, &s->f1w, &s->f1s, &s->i1w, &s->i1s};
        for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++) {
            *arr[i] = hers_alloc_array(h, sizeof(uint64_t));
            if (!*arr[i])
                return hers_error(HERS_ERR_NOMEM, "NTT table: out of memory");
        }
        /* lane l of group k: the blocks of the layouts in ntt_ifma_kernel.h */
        static const size_t b2[8] = {0, 0, 2, 2, 1, 1, 3, 3}, b1[8] = {0, 1, 4, 5, 2, 3, 6, 7};
        for (size_t k = 0; k < n / 16; k++) {
            for (size_t l = 0; l < 8; l++) {
                size_t f4 = n / 8 + 2 * k + l / 4, f2 = n / 4 + 4 * k + b2[l];
                size_t f1 = n / 2 + 8 * k + b1[l], i1 = 8 * k + b1[l];
                size_t i2 = n / 2 + 4 * k + b2[l], i4 = 3 * n / 4 + 2 * k + (l / 2) % 2;
                s->f1w[8 * k + l] = t->roots[f1];
                s->f1s[8 * k + l] = s->roots_shoup52[f1];
                s->i1w[8 * k + l] = t->iroots[i1];
                s->i1s[8 * k + l] = s->iroots_shoup52[i1];
                s->f4w[8 * k + l] = t->roots[f4];
                s->f4s[8 * k + l] = s->roots_shoup52[f4];
                s->f2w[8 * k + l] = t->roots[f2];
                s->f2s[8 * k + l] = s->roots_shoup52[f2];
                s->i2w[8 * k + l] = t->iroots[i2];
                s->i2s[8 * k + l] = s->iroots_shoup52[i2];
                s->i4w[8 * k + l] = t->iroots[i4];
                s->i4s[8 * k + l] = s->iroots_shoup52[i4];
            }
        }
    }
    return HERS_OK;
}

hers_status hers_ntt_table_create(hers_ntt_table **out, size_t n, uint64_t q)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "hers_ntt_table_create: NULL output");
    *out = NULL;
    if (n < 16 || n > 32768 || (n & (n - 1)))
        return hers_error(HERS_ERR_ARG, "NTT: n=%zu is not a power of two in [16, 32768]", n);
    if (q >= (UINT64_C(1) << 62) || q % (2 * n) != 1 || !hers_is_prime(q))
        return hers_error(HERS_ERR_ARG, "NTT: q=%llu is not a prime < 2^62 with q = 1 mod %zu",
                          (unsigned long long)q, 2 * n);
    hers_ntt_table *t = hers_alloc(sizeof *t);
    if (!t)
        return hers_error(HERS_ERR_NOMEM, "NTT table: out of memory");
    hers_status st = hers_modulus_init(&t->q, q);
    if (st != HERS_OK)
        goto fail;
    t->n = n;
    t->log_n = 0;
    while (((size_t)1 << t->log_n) < n)
        t->log_n++;
    st = hers_primitive_root(q, 2 * n, &t->psi);
    if (st != HERS_OK)
        goto fail;
    t->roots = hers_alloc_array(n, sizeof(uint64_t));
    t->roots_shoup = hers_alloc_array(n, sizeof(uint64_t));
    t->iroots = hers_alloc_array(n, sizeof(uint64_t));
    t->iroots_shoup = hers_alloc_array(n, sizeof(uint64_t));
    uint64_t *ipow = hers_alloc_array(n, sizeof(uint64_t));
    if (!t->roots || !t->roots_shoup || !t->iroots || !t->iroots_shoup || !ipow) {
        hers_free(ipow);
        st = hers_error(HERS_ERR_NOMEM, "NTT table: out of memory");
        goto fail;
    }
    const hers_modulus *m = &t->q;
    const uint64_t psi_inv = hers_inv_mod(t->psi, m);
    /* powers psi^k and psi^-k, k < n, then scatter to bit-reversed slots */
    uint64_t p = 1, pi = 1;
    for (size_t k = 0; k < n; k++) {
        t->roots[hers_bitrev((uint32_t)k, t->log_n)] = p;
        ipow[hers_bitrev((uint32_t)k, t->log_n)] = pi;
        p = hers_mul_mod(p, t->psi, m);
        pi = hers_mul_mod(pi, psi_inv, m);
    }
    size_t idx = 0;
    for (size_t mm = n >> 1; mm >= 1; mm >>= 1)
        for (size_t i = 0; i < mm; i++)
            t->iroots[idx++] = ipow[mm + i];
    hers_free(ipow);
    t->n_inv = hers_inv_mod((uint64_t)n, m);
    t->iroots[n - 1] = hers_mul_mod(t->iroots[n - 2], t->n_inv, m);
    for (size_t k = 0; k < n; k++) {
        t->roots_shoup[k] = hers_shoup_precompute(t->roots[k], q);
        t->iroots_shoup[k] = hers_shoup_precompute(t->iroots[k], q);
    }
    t->n_inv_shoup = hers_shoup_precompute(t->n_inv, q);
    st = build_simd(t);
    if (st != HERS_OK)
        goto fail;
    *out = t;
    return HERS_OK;
fail:
    hers_ntt_table_free(t);
    return st;
}

void hers_ntt_forward(const hers_ntt_table *t, uint64_t *a)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512 && s->avx512_ok)
        hers_ntt_forward_avx512(t, a);
    else if (level >= HERS_SIMD_AVX2 && s->avx2_ok)
        hers_ntt_forward_avx2(t, a);
    else
        hers_ntt_forward_portable(t, a);
}

void hers_ntt_inverse_to(const hers_ntt_table *t, const uint64_t *src, uint64_t *dst)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    hers_simd level = hers_simd_active();
    /* the copy is fused into the first pass */
    if (level >= HERS_SIMD_AVX512 && s->avx512_ok) {
        hers_ntt_inverse_to_avx512(t, src, dst);
        return;
    }
    if (level >= HERS_SIMD_AVX2 && s->avx2_ok) {
        hers_ntt_inverse_to_avx2(t, src, dst);
        return;
    }
    if (src != dst)
        memcpy(dst, src, t->n * sizeof(uint64_t));
    hers_ntt_inverse(t, dst);
}

void hers_ntt_inverse(const hers_ntt_table *t, uint64_t *a)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512 && s->avx512_ok)
        hers_ntt_inverse_avx512(t, a);
    else if (level >= HERS_SIMD_AVX2 && s->avx2_ok)
        hers_ntt_inverse_avx2(t, a);
    else
        hers_ntt_inverse_portable(t, a);
}
