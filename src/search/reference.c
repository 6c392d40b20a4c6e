/*
 * reference.c - the generic path the fused kernel is checked and measured
 * against: per block and dimension a BFV ct x ct multiplication (tensor
 * product, scale by t/Q and round), relinearisation and addition, as the
 * authors' SEAL code does; ct x pt per dimension for plain galleries.
 * Single thread, slow by design.
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

/* Rebuilds ciphertext (b, i) of an encrypted gallery. */
static hers_status gallery_ct(const hers_params *p, const hers_gallery *g, size_t b, size_t i,
                              hers_ciphertext *ct)
{
    hers_status st = hers_ciphertext_init(p, 2, ct);
    if (st != HERS_OK)
        return st;
    ct->ntt_form = 1;
    ct->form = HERS_FORM_BFV;
    const uint8_t *rec = g->recs + (b * g->d + i) * g->rec_bytes;
    size_t k = hers_params_num_primes(p);
    int ok;
    if (g->kind == GAL_SEEDED) {
        ok = se_unpack_poly(p, rec + HERS_SEED_BYTES, k, hers_ct_poly(ct, 0, 0));
        hers_bfv_kernel_expand_a_with(p, gal_expander(g->version), rec, k, hers_ct_poly(ct, 1, 0));
    } else {
        ok = se_unpack_poly(p, rec, k, hers_ct_poly(ct, 0, 0)) &&
             se_unpack_poly(p, rec + se_poly_bytes(p, k), k, hers_ct_poly(ct, 1, 0));
    }
    return ok ? HERS_OK : hers_error(HERS_ERR_FORMAT, "reference: residue out of range");
}

static hers_status gallery_pt(const hers_params *p, const hers_gallery *g, size_t b, size_t i,
                              int64_t *slots, hers_plaintext *pt)
{
    const uint8_t *rec = g->recs + (b * g->d + i) * g->rec_bytes;
    size_t N = hers_params_n(p);
    for (size_t x = 0; x < N; x++)
        slots[x] = (int16_t)(uint16_t)(rec[2 * x] | (rec[2 * x + 1] << 8));
    hers_status st = g->packing == HERS_PACK_COEFF ? hers_encode_coeff(p, slots, N, pt)
                                                   : hers_encode_batch(p, slots, N, pt);
    return st == HERS_OK ? hers_plaintext_to_ntt(p, pt) : st;
}

hers_status hers_search_reference(const hers_params *p, const hers_gallery *g,
                                  const hers_query *q, const hers_relin_key *rk,
                                  hers_result **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "reference search: out is NULL");
    *out = NULL;
    if (!p || !g || !q)
        return hers_error(HERS_ERR_ARG, "reference search: NULL argument");
    hers_status st = hers_search_check_id(p, g->params_id, "reference search: gallery");
    if (st == HERS_OK)
        st = hers_search_check_id(p, q->params_id, "reference search: query");
    if (st != HERS_OK)
        return st;
    if (q->compact)
        return hers_error(HERS_ERR_ARG, "reference search: compact query: expand it first");
    if (q->d != g->d)
        return hers_error(HERS_ERR_MISMATCH, "reference search: d differs (%zu vs %zu)", q->d, g->d);
    int ee = g->mode == HERS_MODE_BOTH_ENCRYPTED;
    if (ee && !rk)
        return hers_error(HERS_ERR_ARG, "reference search: needs the relinearisation key");
    hers_result *res = NULL;
    if ((st = hers_result_alloc(p, g->mode, q->count, g->n, g->d, &res)) != HERS_OK)
        return st;
    res->packing = g->packing;
    res->scale = g->scale;
    hers_ciphertext gc, prod, lin;
    hers_plaintext pt;
    memset(&gc, 0, sizeof gc);
    memset(&prod, 0, sizeof prod);
    memset(&lin, 0, sizeof lin);
    memset(&pt, 0, sizeof pt);
    int64_t *slots = hers_alloc_array(hers_params_n(p), sizeof(int64_t));
    if (!slots)
        st = hers_error(HERS_ERR_NOMEM, "reference search: out of memory");
    for (size_t r = 0; r < q->count && st == HERS_OK; r++)
        for (size_t b = 0; b < g->blocks && st == HERS_OK; b++) {
            hers_ciphertext *acc = &res->cts[r * g->blocks + b];
            for (size_t i = 0; i < g->d && st == HERS_OK; i++) {
                const hers_ciphertext *pc = &q->cts[r * q->d + i];
                if (ee) {
                    hers_ciphertext_free(&gc);
                    st = gallery_ct(p, g, b, i, &gc);
                    if (st == HERS_OK)
                        st = hers_mul(p, pc, &gc, &prod);
                    if (st == HERS_OK)
                        st = hers_relinearize(p, rk, &prod, &lin);
                } else {
                    st = gallery_pt(p, g, b, i, slots, &pt);
                    if (st == HERS_OK)
                        st = hers_mul_plain(p, pc, &pt, &lin);
                }
                if (st == HERS_OK)
                    st = i == 0 ? hers_ciphertext_copy(&lin, acc) : hers_add(p, acc, &lin, acc);
            }
        }
    hers_ciphertext_free(&gc);
    hers_ciphertext_free(&prod);
    hers_ciphertext_free(&lin);
    hers_plaintext_free(&pt);
    hers_free(slots);
    if (st != HERS_OK) {
        hers_result_free(res);
        return st;
    }
    *out = res;
    return HERS_OK;
}
