/*
 * eval.c - ciphertext storage, add / sub / negate, ciphertext x plaintext,
 * NTT form conversion and modulus switching.
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "arithmetic/rns_internal.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"

hers_status hers_ciphertext_init(const hers_params *p, size_t parts, hers_ciphertext *ct)
{
    if (!p || !ct)
        return hers_error(HERS_ERR_ARG, "ciphertext: NULL argument");
    if (parts < 2 || parts > 3)
        return hers_error(HERS_ERR_ARG, "ciphertext: %zu parts (2 or 3 allowed)", parts);
    memset(ct, 0, sizeof *ct);
    hers_status st = hers_ct_reserve(p, ct, parts, p->k, 1);
    if (st != HERS_OK)
        return st;
    ct->ntt_form = 1;   /* zero is zero in both domains; NTT form is the default */
    ct->form = HERS_FORM_BFV;
    return HERS_OK;
}

hers_status hers_ciphertext_init_borrowed(const hers_params *p, size_t parts, uint64_t *data,
                                          hers_ciphertext *ct)
{
    if (!p || !ct || !data)
        return hers_error(HERS_ERR_ARG, "ciphertext: NULL argument");
    if (parts < 2 || parts > 3)
        return hers_error(HERS_ERR_ARG, "ciphertext: %zu parts (2 or 3 allowed)", parts);
    memset(ct, 0, sizeof *ct);
    ct->n = p->n;
    ct->parts = parts;
    ct->num_primes = p->k;
    ct->ntt_form = 1;
    ct->form = HERS_FORM_BFV;
    ct->data = data;
    ct->borrowed = 1;
    return HERS_OK;
}

void hers_ciphertext_free(hers_ciphertext *ct)
{
    if (!ct)
        return;
    hers_ct_drop_data(ct);
    memset(ct, 0, sizeof *ct);
}

hers_status hers_ciphertext_copy(const hers_ciphertext *src, hers_ciphertext *dst)
{
    if (!src || !dst || !src->data)
        return hers_error(HERS_ERR_ARG, "ciphertext copy: NULL argument");
    if (src == dst)
        return HERS_OK;
    size_t cnt = src->parts * src->num_primes * src->n;
    size_t have = dst->data ? dst->parts * dst->num_primes * dst->n : 0;
    if (!dst->data || have != cnt) {
        uint64_t *d = hers_alloc_array(cnt, sizeof(uint64_t));
        if (!d)
            return hers_error(HERS_ERR_NOMEM, "ciphertext copy: out of memory");
        hers_ct_drop_data(dst);
        dst->data = d;
    }
    uint64_t *d = dst->data;
    int borrowed = dst->borrowed;   /* the storage stays dst's */
    *dst = *src;
    dst->data = d;
    dst->borrowed = borrowed;
    memcpy(d, src->data, cnt * sizeof(uint64_t));
    return HERS_OK;
}

static hers_status compat(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                          const char *what)
{
    hers_status st = hers_ct_check(p, a, what);
    if (st == HERS_OK)
        st = hers_ct_check(p, b, what);
    if (st != HERS_OK)
        return st;
    if (a->num_primes != b->num_primes)
        return hers_error(HERS_ERR_MISMATCH, "%s: operands have %zu and %zu primes", what, a->num_primes,
                          b->num_primes);
    if (a->ntt_form != b->ntt_form)
        return hers_error(HERS_ERR_MISMATCH, "%s: one operand is in NTT form, the other not", what);
    if (a->form != b->form)
        return hers_error(HERS_ERR_MISMATCH, "%s: operands in different forms (BFV / BGV)", what);
    return HERS_OK;
}

/* Output ciphertext with `parts` x a->num_primes, using a temporary when
 * `out` aliases an input whose storage would be reallocated. */
static hers_status out_begin(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                             hers_ciphertext *out, size_t parts, hers_ciphertext *tmp,
                             hers_ciphertext **dst)
{
    memset(tmp, 0, sizeof *tmp);
    *dst = out;
    int alias = out == a || (b && out == b);
    if (alias && (out->parts != parts || out->num_primes != a->num_primes))
        *dst = tmp;
    hers_status st = hers_ct_reserve(p, *dst, parts, a->num_primes, 0);
    if (st != HERS_OK)
        return st;
    return HERS_OK;
}

static hers_status addsub(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                          hers_ciphertext *out, int sub, const char *what)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "%s: NULL output", what);
    hers_status st = compat(p, a, b, what);
    if (st != HERS_OK)
        return st;
    size_t parts = a->parts > b->parts ? a->parts : b->parts, L = a->num_primes;
    hers_ciphertext tmp, *dst;
    if ((st = out_begin(p, a, b, out, parts, &tmp, &dst)) != HERS_OK)
        return st;
    size_t bytes = L * p->n * sizeof(uint64_t);
    for (size_t part = 0; part < parts; part++) {
        uint64_t *o = hers_ct_poly(dst, part, 0);
        int ha = part < a->parts, hb = part < b->parts;
        if (ha && hb) {
            if (sub)
                hers_rns_sub(p, o, hers_ct_poly(a, part, 0), hers_ct_poly(b, part, 0), L);
            else
                hers_rns_add(p, o, hers_ct_poly(a, part, 0), hers_ct_poly(b, part, 0), L);
        } else if (ha) {
            if (o != hers_ct_poly(a, part, 0))
                memmove(o, hers_ct_poly(a, part, 0), bytes);
        } else if (sub) {
            hers_rns_neg(p, o, hers_ct_poly(b, part, 0), L);
        } else if (o != hers_ct_poly(b, part, 0)) {
            memmove(o, hers_ct_poly(b, part, 0), bytes);
        }
    }
    hers_ct_out_end(out, &tmp, dst, a->ntt_form, a->form);
    return HERS_OK;
}

hers_status hers_add(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                     hers_ciphertext *out)
{
    return addsub(p, a, b, out, 0, "add");
}

hers_status hers_sub(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                     hers_ciphertext *out)
{
    return addsub(p, a, b, out, 1, "sub");
}

hers_status hers_negate(const hers_params *p, const hers_ciphertext *a, hers_ciphertext *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "negate: NULL output");
    hers_status st = hers_ct_check(p, a, "negate");
    if (st != HERS_OK)
        return st;
    hers_ciphertext tmp, *dst;
    if ((st = out_begin(p, a, NULL, out, a->parts, &tmp, &dst)) != HERS_OK)
        return st;
    for (size_t part = 0; part < a->parts; part++)
        hers_rns_neg(p, hers_ct_poly(dst, part, 0), hers_ct_poly(a, part, 0), a->num_primes);
    hers_ct_out_end(out, &tmp, dst, a->ntt_form, a->form);
    return HERS_OK;
}

hers_status hers_mul_plain(const hers_params *p, const hers_ciphertext *a, const hers_plaintext *pt,
                           hers_ciphertext *out)
{
    if (!out || !pt)
        return hers_error(HERS_ERR_ARG, "mul_plain: NULL argument");
    hers_status st = hers_ct_check(p, a, "mul_plain");
    if (st != HERS_OK)
        return st;
    if (!pt->ntt || pt->ntt_primes != p->k) {
        /* Documented const-cast: the cache is filled on first use. */
        if ((st = hers_plaintext_to_ntt(p, (hers_plaintext *)(uintptr_t)pt)) != HERS_OK)
            return st;
    }
    size_t L = a->num_primes;
    hers_ciphertext tmp, *dst;
    if ((st = out_begin(p, a, NULL, out, a->parts, &tmp, &dst)) != HERS_OK)
        return st;
    for (size_t part = 0; part < a->parts; part++) {
        uint64_t *o = hers_ct_poly(dst, part, 0);
        if (a->ntt_form) {
            hers_rns_mul(p, o, hers_ct_poly(a, part, 0), pt->ntt, L);
        } else {
            if (o != hers_ct_poly(a, part, 0))
                memcpy(o, hers_ct_poly(a, part, 0), L * p->n * sizeof(uint64_t));
            hers_rns_ntt(p, o, L);
            hers_rns_mul(p, o, o, pt->ntt, L);
            hers_rns_intt(p, o, L);
        }
    }
    hers_ct_out_end(out, &tmp, dst, a->ntt_form, a->form);
    return HERS_OK;
}

hers_status hers_ciphertext_to_ntt(const hers_params *p, hers_ciphertext *ct)
{
    hers_status st = hers_ct_check(p, ct, "to_ntt");
    if (st != HERS_OK)
        return st;
    if (ct->ntt_form)
        return HERS_OK;
    for (size_t part = 0; part < ct->parts; part++)
        hers_rns_ntt(p, hers_ct_poly(ct, part, 0), ct->num_primes);
    ct->ntt_form = 1;
    return HERS_OK;
}

hers_status hers_ciphertext_from_ntt(const hers_params *p, hers_ciphertext *ct)
{
    hers_status st = hers_ct_check(p, ct, "from_ntt");
    if (st != HERS_OK)
        return st;
    if (!ct->ntt_form)
        return HERS_OK;
    for (size_t part = 0; part < ct->parts; part++)
        hers_rns_intt(p, hers_ct_poly(ct, part, 0), ct->num_primes);
    ct->ntt_form = 0;
    return HERS_OK;
}

/* ------------------------------------------------------------ modulus switching */

/* Drops the last prime of src (L primes) into the residues at dst (parts x
 * (L-1) x n words, part-major like a ciphertext's). dst may be src->data:
 * the result then overwrites the input in place, which is safe because
 * output (part, i) lands at part (L-1) n + i n, never on an input residue
 * not yet read: the last prime of a part is copied to tmp first, and the
 * only input it can meet is (part, i - part), read before. tmp, corr: n
 * scratch words each. */
static void drop_last(const hers_params *p, const hers_ciphertext *src, uint64_t *dst, uint64_t *tmp,
                      uint64_t *corr)
{
    size_t L = src->num_primes, n = p->n;
    const hers_bfv_level *lv = &p->pre->lv[L - 1];
    const hers_modulus *ql = &p->q[L - 1];
    uint64_t qv = ql->value, half = qv >> 1;
    int bgv = src->form == HERS_FORM_BGV;
    int use_avx2 = n % 4 == 0 && hers_simd_active() >= HERS_SIMD_AVX2;
    for (size_t part = 0; part < src->parts; part++) {
        memcpy(tmp, hers_ct_poly(src, part, L - 1), n * sizeof(uint64_t));
        if (src->ntt_form)
            hers_ntt_inverse(p->ntt[L - 1], tmp);
        if (bgv)   /* delta = t * [c * t^-1]_{q_l} (centred): delta = c (q_l), 0 (t) */
            for (size_t j = 0; j < n; j++)
                tmp[j] = hers_mul_shoup(tmp[j], lv->t_inv_last, lv->t_inv_last_shoup, qv);
        for (size_t i = 0; i + 1 < L; i++) {
            const hers_modulus *qi = &p->q[i];
            uint64_t tq = p->pre->t_mod_q[i];
            /* BFV: corr = the centred c mod q_i; |c| <= q_l/2 < 2 q_i takes one
             * conditional subtraction (the vector lift of relinearisation;
             * same residues as the general loop below) */
            if (!bgv && half < 2 * qi->value && use_avx2)
                hers_rns_lift_centred_avx2(tmp, corr, n, qv, qi->value);
            for (size_t j = 0; (bgv || half >= 2 * qi->value || !use_avx2) && j < n; j++) {
                uint64_t c = tmp[j];
                uint64_t neg = 0 - (uint64_t)(c > half);
                uint64_t mag = hers_consttime_select(neg, qv - c, c);   /* |centred c| */
                uint64_t r = hers_reduce64(mag, qi);
                r = hers_consttime_select(neg, hers_neg_mod(r, qi->value), r);
                if (bgv)
                    r = hers_mul_mod(r, tq, qi);
                corr[j] = r;
            }
            if (src->ntt_form)
                hers_ntt_forward(p->ntt[i], corr);
            const uint64_t *in = hers_ct_poly(src, part, i);
            uint64_t *o = dst + (part * (L - 1) + i) * n;
            /* (in - corr) q_l^-1 mod q_i, canonical: the dispatched vector loops */
            hers_poly_sub(o, in, corr, n, qi);
            hers_poly_mul_scalar(o, o, lv->inv_last[i], n, qi);
        }
    }
}

static hers_status mod_switch(const hers_params *p, const hers_ciphertext *in, size_t num_primes,
                              hers_ciphertext *out, int in_place)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "mod_switch: NULL output");
    hers_status st = hers_ct_check(p, in, "mod_switch");
    if (st != HERS_OK)
        return st;
    if (num_primes < 1 || num_primes > in->num_primes)
        return hers_error(HERS_ERR_ARG, "mod_switch: cannot go from %zu to %zu primes", in->num_primes,
                          num_primes);
    /* BGV form: dropping q_l scales the plaintext by q_l^-1 (mod t);
     * hers_decrypt multiplies by lv[L-1].bgv_fix to undo it. */
    if (num_primes == in->num_primes) {
        st = hers_ciphertext_copy(in, out);
        if (st == HERS_OK)
            out->has_seed = 0;
        return st;
    }
    /* per-thread, reused (hers_bfv_scratch): a server switches 256 blocks
     * per probe at 2^20 templates, each an allocation and zero-fill here */
    uint64_t *scratch = hers_bfv_scratch(2 * p->n);
    if (!scratch)
        return hers_error(HERS_ERR_NOMEM, "mod_switch: out of memory");
    if (out == in && (in_place || !in->borrowed)) {
        /* in place: the storage stays, its first parts x num_primes x n
         * words hold the result (a borrowed block only when asked) */
        for (size_t L = in->num_primes; L > num_primes; L--) {
            drop_last(p, out, out->data, scratch, scratch + p->n);
            out->num_primes = L - 1;
        }
        out->has_seed = 0;
        return HERS_OK;
    }
    hers_ciphertext cur, next;
    const hers_ciphertext *src = in;
    memset(&cur, 0, sizeof cur);
    for (size_t L = in->num_primes; L > num_primes; L--) {
        memset(&next, 0, sizeof next);
        st = hers_ct_reserve(p, &next, src->parts, L - 1, 0);
        if (st == HERS_OK) {
            drop_last(p, src, next.data, scratch, scratch + p->n);
            next.ntt_form = src->ntt_form;
            next.form = src->form;
        }
        if (src == &cur)
            hers_ciphertext_free(&cur);
        if (st != HERS_OK)
            return st;
        cur = next;
        src = &cur;
    }
    if (out != in)
        hers_ciphertext_free(out);
    else
        hers_ct_drop_data(out);
    *out = cur;
    return HERS_OK;
}

hers_status hers_mod_switch(const hers_params *p, const hers_ciphertext *in, size_t num_primes,
                            hers_ciphertext *out)
{
    return mod_switch(p, in, num_primes, out, 0);
}

hers_status hers_mod_switch_in_place(const hers_params *p, hers_ciphertext *ct, size_t num_primes)
{
    return mod_switch(p, ct, num_primes, ct, 1);
}
