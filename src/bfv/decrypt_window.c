/*
 * decrypt_window.c - decryption of a 2-part BFV ciphertext given only the
 * LOW bits of its parts rounded to b0 / b1 bits of Q_L (the coefficient-
 * packed compact result record, docs/design.md "Shrinking the download").
 *
 * With Y_p = round(2^b_p c_p / Q_L) (mod 2^b_p), the integer polynomial
 * P = Y0 2^(b1-b0) + Y1 s equals 2^b1 (c0 + c1 s) / Q_L plus an error of at
 * most (1/2 + 2^-47) (2^(b1-b0) + N) per coefficient (s ternary), modulo
 * 2^b1. When the message coefficient m is a small signed integer (|m| <= B)
 * and the noise is within the budget, |P| < 2^b1 (B + 1/2) / t, so P is
 * the centred representative of P mod 2^w as soon as 2^b1 (2B + 1) <= t 2^w,
 * and P mod 2^w needs only Y0 mod 2^(w - (b1 - b0)) and Y1 mod 2^w (s is
 * integral: the reduction commutes with the product). m = round(t P / 2^b1).
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

hers_status hers_decrypt_window(const hers_params *p, const hers_secret_key *sk, const uint64_t *y0,
                                const uint64_t *y1, unsigned shift, unsigned w, unsigned b,
                                int64_t *m)
{
    if (!p || !sk || !y0 || !y1 || !m)
        return hers_error(HERS_ERR_ARG, "window decrypt: NULL argument");
    hers_status st = hers_bfv_check_id(p, sk->params_id, "window decrypt: secret key");
    if (st != HERS_OK)
        return st;
    size_t n = p->n;
    const hers_modulus *q = &p->q[0];
    /* Y1 s is computed mod q_0 and lifted to (-q_0/2, q_0/2): exact when
     * every coefficient, a sum of N terms +-Y1 with Y1 < 2^w, is below
     * q_0 / 2 in absolute value. */
    if (w < 2 || w > 62 || shift >= w || b < w || b > 100 ||
        (unsigned __int128)q->value <= (unsigned __int128)n << (w + 1))
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "window decrypt: a %u-bit window (shift %u, %u bits) needs q_0 > N 2^%u",
                          w, shift, b, w + 1);
    uint64_t lim0 = (uint64_t)1 << (w - shift), lim1 = (uint64_t)1 << w;
    for (size_t c = 0; c < n; c++)
        if (y0[c] >= lim0 || y1[c] >= lim1)
            return hers_error(HERS_ERR_FORMAT, "window decrypt: value above its window");
    uint64_t *z = hers_alloc_array(n, sizeof *z);
    if (!z)
        return hers_error(HERS_ERR_NOMEM, "window decrypt: out of memory");
    memcpy(z, y1, n * sizeof *z);
    hers_ntt_forward(p->ntt[0], z);
    for (size_t c = 0; c < n; c++)
        z[c] = hers_mul_mod(z[c], sk->s_ntt[c], q);
    hers_ntt_inverse(p->ntt[0], z);
    uint64_t mask = lim1 - 1, half = lim1 >> 1, t = p->t;
    for (size_t c = 0; c < n; c++) {
        /* centred lift of Y1 s (constant time: s is secret), then P mod 2^w
         * centred in [-2^(w-1), 2^(w-1)) */
        uint64_t neg = 0 - (uint64_t)(z[c] > q->value / 2);
        uint64_t ys = z[c] - (q->value & neg);           /* two's complement */
        uint64_t pw = ((y0[c] << shift) + ys) & mask;
        int64_t pc = (int64_t)(pw ^ half) - (int64_t)half;
        __int128 num = (__int128)pc * (__int128)t + ((__int128)1 << (b - 1));
        m[c] = (int64_t)(num >> b);                       /* floor: round to nearest */
    }
    hers_free_secret(z, n * sizeof *z);
    return HERS_OK;
}
