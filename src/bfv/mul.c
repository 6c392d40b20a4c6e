/*
 * mul.c - ciphertext x ciphertext multiplication (BFV, Halevi-Polyakov-Shoup
 * 2019 with exact fixed-point base conversion and scale-and-round) and
 * relinearisation (RNS digit decomposition).
 *
 * hers_mul, for 2-part BFV inputs over all k primes:
 *   1. each input polynomial in coefficient form mod Q (centred) is extended
 *      exactly to the auxiliary base P (hers_rns_convert, centred);
 *   2. the tensor product (d0, d1, d2) = (a0 b0, a0 b1 + a1 b0, a1 b1) is
 *      computed in the NTT domain mod every prime of Q*P; its exact integer
 *      value has |d| <= N Q^2 / 2 < Q P / 2, so the residues determine it;
 *   3. round(t*d/Q) is computed mod P (hers_rns_scale_round); its magnitude
 *      is at most t N Q / 2 + 1 < P / 2;
 *   4. that centred value is converted exactly from P back to Q.
 * The result equals the exact BFV product round(t/Q * (a x b)) coefficient by
 * coefficient (tests/test_bfv_mul.c checks it against GMP).
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "arithmetic/rns_internal.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"

static inline const hers_ntt_table *qp_ntt(const hers_params *p, size_t i)
{
    return i < p->k ? p->ntt[i] : p->pre->ntt_p[i - p->k];
}

/* P part (kp*n, NTT form) of one input polynomial `src` (k*n): exact
 * centred conversion of its coefficient form. qtmp: k*n scratch. */
static void extend_p(const hers_params *p, const uint64_t *src, int ntt_form, uint64_t *pext, uint64_t *qtmp)
{
    size_t n = p->n, k = p->k, kp = p->pre->kp;
    const uint64_t *coef = src;
    if (ntt_form) {
        for (size_t i = 0; i < k; i++)
            hers_ntt_inverse_to(p->ntt[i], src + i * n, qtmp + i * n);
        coef = qtmp;
    }
    hers_rns_convert(p->pre->q_to_p, coef, pext, n, 1);
    for (size_t j = 0; j < kp; j++)
        hers_ntt_forward(p->pre->ntt_p[j], pext + j * n);
}

hers_status hers_mul(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                     hers_ciphertext *out)
{
    if (!p || !a || !b || !out)
        return hers_error(HERS_ERR_ARG, "mul: NULL argument");
    hers_status st = hers_ct_check(p, a, "mul");
    if (st == HERS_OK)
        st = hers_ct_check(p, b, "mul");
    if (st != HERS_OK)
        return st;
    if (a->parts != 2 || b->parts != 2)
        return hers_error(HERS_ERR_ARG, "mul: operands must have 2 parts (relinearise first)");
    if (a->form != HERS_FORM_BFV || b->form != HERS_FORM_BFV)
        return hers_error(HERS_ERR_UNSUPPORTED, "mul: only BFV-form operands can be multiplied");
    if (a->num_primes != p->k || b->num_primes != p->k)
        return hers_error(HERS_ERR_UNSUPPORTED, "mul: operands must be over all %zu primes "
                          "(multiply before modulus switching)", p->k);
    if (a->ntt_form != b->ntt_form)
        return hers_error(HERS_ERR_MISMATCH, "mul: one operand is in NTT form, the other not");
    size_t n = p->n, k = p->k, kp = p->pre->kp, K = k + kp, Kn = K * n;
    int ntt_form = a->ntt_form;
    int square = a == b || (a->data == b->data);
    /* Scratch (words): the tensor parts D0, D1, D2 (K*n each, Q primes then
     * P primes, the layout hers_rns_scale_round reads); the P parts of a0 and
     * a1 are built directly in the P halves of D0 and D2 and multiplied in
     * place; b0, b1 P parts (kp*n each); qtmp (k*n); the scaled P result
     * (kp*n); for coefficient-form inputs the NTT of their Q parts (4*k*n). */
    size_t kn = k * n, kpn = kp * n;
    size_t words = 3 * Kn + 2 * kpn + kn + kpn + (ntt_form ? 0 : 4 * kn);
    uint64_t *buf = hers_bfv_scratch(words);   /* per-thread, reused: no zero-fill */
    if (!buf)
        return hers_error(HERS_ERR_NOMEM, "mul: out of memory");
    uint64_t *d0 = buf, *d1 = d0 + Kn, *d2 = d1 + Kn;
    uint64_t *pb0 = d2 + Kn, *pb1 = pb0 + kpn, *qtmp = pb1 + kpn, *pres = qtmp + kn;
    uint64_t *pa0 = d0 + kn, *pa1 = d2 + kn;
    const uint64_t *qa0 = hers_ct_poly(a, 0, 0), *qa1 = hers_ct_poly(a, 1, 0);
    const uint64_t *qb0 = hers_ct_poly(b, 0, 0), *qb1 = hers_ct_poly(b, 1, 0);
    extend_p(p, qa0, ntt_form, pa0, qtmp);
    extend_p(p, qa1, ntt_form, pa1, qtmp);
    if (!square) {
        extend_p(p, qb0, ntt_form, pb0, qtmp);
        extend_p(p, qb1, ntt_form, pb1, qtmp);
    }
    if (!ntt_form) {
        uint64_t *qn = pres + kpn;
        const uint64_t *src[4] = {qa0, qa1, qb0, qb1};
        for (int j = 0; j < 4; j++) {
            memcpy(qn + (size_t)j * kn, src[j], kn * sizeof(uint64_t));
            hers_rns_ntt(p, qn + (size_t)j * kn, k);
        }
        qa0 = qn;
        qa1 = qn + kn;
        qb0 = qn + 2 * kn;
        qb1 = qn + 3 * kn;
    }
    if (square) {
        qb0 = qa0;
        qb1 = qa1;
    }
    /* Q primes: inputs read in place */
    for (size_t i = 0; i < k; i++) {
        const hers_modulus *m = &p->q[i];
        size_t o = i * n;
        hers_poly_mul(d1 + o, qa0 + o, qb1 + o, n, m);
        if (square)
            hers_poly_add(d1 + o, d1 + o, d1 + o, n, m);
        else
            hers_poly_mul_acc(d1 + o, qa1 + o, qb0 + o, n, m);
        hers_poly_mul(d0 + o, qa0 + o, qb0 + o, n, m);
        hers_poly_mul(d2 + o, qa1 + o, qb1 + o, n, m);
    }
    /* P primes: a0, a1 live in the P halves of d0, d2; d1 first */
    const uint64_t *pbb0 = square ? pa0 : pb0, *pbb1 = square ? pa1 : pb1;
    for (size_t j = 0; j < kp; j++) {
        const hers_modulus *m = &p->pre->pm[j];
        size_t o = j * n, od = kn + o;
        hers_poly_mul(d1 + od, pa0 + o, pbb1 + o, n, m);
        if (square)
            hers_poly_add(d1 + od, d1 + od, d1 + od, n, m);
        else
            hers_poly_mul_acc(d1 + od, pa1 + o, pbb0 + o, n, m);
        hers_poly_mul(pa0 + o, pa0 + o, pbb0 + o, n, m);
        hers_poly_mul(pa1 + o, pa1 + o, pbb1 + o, n, m);
    }
    for (size_t i = 0; i < K; i++) {
        size_t o = i * n;
        hers_ntt_inverse(qp_ntt(p, i), d0 + o);
        hers_ntt_inverse(qp_ntt(p, i), d1 + o);
        hers_ntt_inverse(qp_ntt(p, i), d2 + o);
    }
    hers_ciphertext tmp, *dst = out;
    memset(&tmp, 0, sizeof tmp);
    if (out == a || out == b)
        dst = &tmp;
    if ((st = hers_ct_reserve(p, dst, 3, k, 0)) != HERS_OK)
        return st;
    uint64_t *d[3] = {d0, d1, d2};
    for (size_t part = 0; part < 3; part++) {
        hers_rns_scale_round(p->pre->mul_scale, d[part], pres, n);
        uint64_t *o = hers_ct_poly(dst, part, 0);
        hers_rns_convert(p->pre->p_to_q, pres, o, n, 1);
        if (ntt_form)
            hers_rns_ntt(p, o, k);
    }
    hers_ct_out_end(out, &tmp, dst, ntt_form, HERS_FORM_BFV);
    return HERS_OK;
}

/* in_place: out == in is written in its own storage, borrowed or not. */
static hers_status relinearize(const hers_params *p, const hers_relin_key *rk, const hers_ciphertext *in,
                               hers_ciphertext *out, int in_place)
{
    if (!p || !rk || !in || !out)
        return hers_error(HERS_ERR_ARG, "relinearize: NULL argument");
    hers_status st = hers_ct_check(p, in, "relinearize");
    if (st != HERS_OK)
        return st;
    if ((st = hers_bfv_check_id(p, rk->params_id, "relinearize: relinearisation key")) != HERS_OK)
        return st;
    if (in->parts == 2)
        return hers_ciphertext_copy(in, out);
    if (in->form != HERS_FORM_BFV)
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "relinearize: BGV-form ciphertexts are not relinearised (decrypt the 3 parts)");
    size_t n = p->n, k = p->k, L = in->num_primes, Ln = L * n, kn = k * n;
    int ntt_form = in->ntt_form;
    /* in place (also out == in with storage of its own): parts 0 and 1 of
     * the input's storage are overwritten and part 2 is only read, so no new
     * storage; a borrowed block is left alone unless in_place */
    in_place = out == in && (in_place || !in->borrowed);
    hers_ciphertext tmp, *dst = in_place ? out : out == in ? &tmp : out;
    memset(&tmp, 0, sizeof tmp);
    if (!in_place && (st = hers_ct_reserve(p, dst, 2, L, 0)) != HERS_OK)
        return st;
    /* scratch (per thread): c2 in coefficient form (L*n), the L digits'
     * residues mod one prime q_j (L*n), for the coefficient-form input the
     * two key-switched parts before their inverse NTT (2 L*n) */
    uint64_t *buf = hers_bfv_scratch(2 * Ln + (ntt_form ? 0 : 2 * Ln));
    if (!buf) {
        hers_ciphertext_free(&tmp);
        return hers_error(HERS_ERR_NOMEM, "relinearize: out of memory");
    }
    uint64_t *c2 = buf, *dg = c2 + Ln, *acc0 = dg + Ln, *acc1 = acc0 + Ln;
    const uint64_t *c2_in = hers_ct_poly(in, 2, 0);
    for (size_t i = 0; i < L; i++) {
        if (ntt_form)
            hers_ntt_inverse_to(p->ntt[i], c2_in + i * n, c2 + i * n);
        else
            memcpy(c2 + i * n, c2_in + i * n, n * sizeof(uint64_t));
    }
    int use_avx2 = n % 4 == 0 && hers_simd_active() >= HERS_SIMD_AVX2;
    for (size_t j = 0; j < L; j++) {
        /* digit i (i < L): [c2]_{q_i}, centred, reduced mod q_j, NTT form,
         * at dg + i n; then both parts mod q_j in one pass over the digits
         * and the key (hers_poly_dot2: one reduction per coefficient) */
        const hers_modulus *qj = &p->q[j];
        uint64_t qjv = qj->value;
        for (size_t i = 0; i < L; i++) {
            const uint64_t *ci = c2 + i * n;
            uint64_t *d = dg + i * n;
            uint64_t qv = p->q[i].value, half = qv >> 1;
            if (i == j) {
                /* the digit mod q_i is c2 mod q_i itself: in NTT form already
                 * when the input is (saves L of the L^2 transforms) */
                memcpy(d, ntt_form ? c2_in + i * n : ci, n * sizeof(uint64_t));
                if (!ntt_form)
                    hers_ntt_forward(p->ntt[j], d);
                continue;
            }
            if (half < 2 * qjv && use_avx2) {
                hers_rns_lift_centred_avx2(ci, d, n, qv, qjv);
            } else if (half < 2 * qjv) {
                /* |centred c| <= q_i/2 < 2 q_j: one conditional subtraction */
                for (size_t x = 0; x < n; x++) {
                    uint64_t c = ci[x];
                    uint64_t neg = 0 - (uint64_t)(c > half);
                    uint64_t mag = hers_consttime_select(neg, qv - c, c);
                    uint64_t r = mag - (qjv & (0 - (uint64_t)(mag >= qjv)));
                    d[x] = hers_consttime_select(neg, hers_neg_mod(r, qjv), r);
                }
            } else {
                for (size_t x = 0; x < n; x++) {
                    uint64_t c = ci[x];
                    uint64_t neg = 0 - (uint64_t)(c > half);
                    uint64_t r = hers_reduce64(hers_consttime_select(neg, qv - c, c), qj);
                    d[x] = hers_consttime_select(neg, hers_neg_mod(r, qjv), r);
                }
            }
            hers_ntt_forward(p->ntt[j], d);
        }
        /* key digit i, part 0 at rk->data + 2 i kn, part 1 kn after it */
        const uint64_t *k0 = rk->data + j * n, *k1 = k0 + kn;
        size_t o = j * n;
        if (ntt_form)   /* straight into the output, c0 and c1 added */
            hers_poly_dot2(hers_ct_poly(dst, 0, j), hers_ct_poly(in, 0, j), hers_ct_poly(dst, 1, j),
                           hers_ct_poly(in, 1, j), dg, n, k0, k1, 2 * kn, L, n, qj);
        else
            hers_poly_dot2(acc0 + o, NULL, acc1 + o, NULL, dg, n, k0, k1, 2 * kn, L, n, qj);
    }
    if (!ntt_form) {
        hers_rns_intt(p, acc0, L);
        hers_rns_intt(p, acc1, L);
        hers_rns_add(p, hers_ct_poly(dst, 0, 0), hers_ct_poly(in, 0, 0), acc0, L);
        hers_rns_add(p, hers_ct_poly(dst, 1, 0), hers_ct_poly(in, 1, 0), acc1, L);
    }
    if (in_place) {   /* the storage keeps its third part's words, unused */
        out->parts = 2;
        out->num_primes = L;
    }
    hers_ct_out_end(out, &tmp, dst, ntt_form, HERS_FORM_BFV);
    return HERS_OK;
}

hers_status hers_relinearize(const hers_params *p, const hers_relin_key *rk, const hers_ciphertext *in,
                             hers_ciphertext *out)
{
    return relinearize(p, rk, in, out, 0);
}

hers_status hers_relinearize_in_place(const hers_params *p, const hers_relin_key *rk,
                                      hers_ciphertext *ct)
{
    if (ct && ct->parts == 2)
        return p && rk && ct->data ? HERS_OK : hers_error(HERS_ERR_ARG, "relinearize: NULL argument");
    return relinearize(p, rk, ct, ct, 1);
}
