/*
 * ntt_portable.c - portable negacyclic NTT kernels (Harvey lazy butterflies
 * with Shoup twiddles), the reference every SIMD level must match bit for bit.
 *
 * Forward (Cooley-Tukey, decimation in time, standard -> bit-reversed order):
 *   for stage m = 1, 2, 4, ..., n/2 with gap g = n / (2m), for block i < m:
 *     W = roots[m + i] = psi^brv(m + i)    (brv over log2(n) bits)
 *     (X, Y) -> (X + W*Y, X - W*Y)
 *   Lazy ranges: values enter a stage in [0, 4q); X is first brought into
 *   [0, 2q), W*Y (Shoup, any 64-bit Y) is in [0, 2q), so both outputs are in
 *   [0, 4q) (X - W*Y + 2q > 0). q < 2^62 keeps 4q < 2^64. A final pass maps
 *   [0, 4q) to [0, q). Output index j holds a(psi^(2 brv(j) + 1)).
 *
 * Inverse (Gentleman-Sande, bit-reversed -> standard order):
 *   stages m = n/2, ..., 2, 1 with gap g = n / (2m), for block i < m:
 *     W = psi^-brv(m + i), stored consecutively in iroots in this use order
 *     (X, Y) -> (X + Y, W * (X - Y))
 *   Lazy ranges: values stay in [0, 2q): X + Y is reduced from [0, 4q) to
 *   [0, 2q), and W * (X - Y + 2q) is a Shoup product in [0, 2q). The last
 *   stage (m = 1) is fused with the 1/n scaling: outputs n^-1 (X + Y) and
 *   n^-1 W (X - Y), reduced into [0, q).
 *
 * Every operation is branch-free in the data (masks), so transforms of secret
 * polynomials are constant-time.
 */
#include "arithmetic/arith_internal.h"

/* x in [0, 2r) -> [0, r), branch-free. */
static inline uint64_t reduce_once(uint64_t x, uint64_t r)
{
    return x - (r & (0 - (uint64_t)(x >= r)));
}

void hers_ntt_forward_portable(const hers_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    const uint64_t q = t->q.value, q2 = 2 * q;
    size_t gap = n;
    for (size_t m = 1; m < n; m <<= 1) {
        gap >>= 1;
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = t->roots[m + i], ws = t->roots_shoup[m + i];
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            for (size_t j = 0; j < gap; j++) {
                uint64_t u = reduce_once(x[j], q2);
                uint64_t v = hers_mul_shoup_lazy(y[j], w, ws, q);
                x[j] = u + v;
                y[j] = u - v + q2;
            }
        }
    }
    for (size_t j = 0; j < n; j++)
        a[j] = reduce_once(reduce_once(a[j], q2), q);
}

void hers_ntt_inverse_portable(const hers_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    const uint64_t q = t->q.value, q2 = 2 * q;
    const uint64_t *w = t->iroots, *ws = t->iroots_shoup;
    size_t gap = 1;
    for (size_t m = n >> 1; m > 1; m >>= 1) {
        for (size_t i = 0; i < m; i++) {
            const uint64_t wi = *w++, wsi = *ws++;
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            for (size_t j = 0; j < gap; j++) {
                uint64_t u = x[j], v = y[j];
                x[j] = reduce_once(u + v, q2);
                y[j] = hers_mul_shoup_lazy(u - v + q2, wi, wsi, q);
            }
        }
        gap <<= 1;
    }
    /* Last stage fused with 1/n: W' = W * n^-1 is precomputed. */
    const uint64_t ni = t->n_inv, nis = t->n_inv_shoup;
    const uint64_t wl = t->iroots[n - 1], wls = t->iroots_shoup[n - 1];
    uint64_t *x = a, *y = a + gap;
    for (size_t j = 0; j < gap; j++) {
        uint64_t u = x[j], v = y[j];
        x[j] = reduce_once(hers_mul_shoup_lazy(u + v, ni, nis, q), q);
        y[j] = reduce_once(hers_mul_shoup_lazy(u - v + q2, wl, wls, q), q);
    }
}
