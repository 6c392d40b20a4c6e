/*
 * index_merge.c - indexes summed from several galleries, block-range views,
 * result assembly and gallery decryption (search_merge.h), for the store.
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"
#include "search/search_merge.h"

hers_status hers_index_add_gallery(const hers_params *p, hers_index *ix, size_t dst_block,
                                   const hers_gallery *g, size_t src_block, size_t nb,
                                   unsigned threads)
{
    if (!p || !ix || !g)
        return hers_error(HERS_ERR_ARG, "index: NULL argument");
    if (nb == 0)
        return HERS_OK;
    if (g->mode != ix->mode || g->d != ix->d || g->packing != ix->packing ||
        src_block + nb > g->blocks || dst_block + nb > ix->blocks)
        return hers_error(HERS_ERR_MISMATCH,
                          "index: segment (mode %d, d %zu, blocks %zu, %s packing) does not fit "
                          "the index (mode %d, d %zu, blocks %zu, %s packing) at block %zu",
                          (int)g->mode, g->d, g->blocks, hers_packing_name(g->packing),
                          (int)ix->mode, ix->d, ix->blocks, hers_packing_name(ix->packing),
                          dst_block);
    /* A view of the block range: same records, fewer blocks. Index building
     * reads only the records, never the ids. */
    hers_gallery view = *g;
    view.recs = g->recs + src_block * g->d * g->rec_bytes;
    view.blocks = nb;
    view.n = nb * g->N;
    hers_index *part = NULL;
    hers_status st = hers_index_build(p, &view, threads, &part);
    if (st != HERS_OK)
        return st;
    size_t per_prime = ix->tile_words / ix->k;
    for (size_t s = 0; s < ix->tiles; s++)
        for (size_t b = 0; b < nb; b++) {
            uint64_t *dst = ix->data + (s * ix->blocks + dst_block + b) * ix->tile_words;
            const uint64_t *src = part->data + (s * part->blocks + b) * part->tile_words;
            for (size_t w = 0; w < ix->tile_words; w++) {
                uint64_t q = ix->kmod[w / per_prime].q;
                if (!ix->narrow) {
                    dst[w] = hers_add_mod(dst[w], src[w], q);
                    continue;
                }
                uint64_t lo = hers_add_mod(dst[w] & 0xffffffffu, src[w] & 0xffffffffu, q);
                dst[w] = lo | hers_add_mod(dst[w] >> 32, src[w] >> 32, q) << 32;
            }
        }
    hers_index_free(part);
    return HERS_OK;
}

void hers_result_set_packing(hers_result *r, hers_packing k, uint32_t scale)
{
    if (r) {
        r->packing = k;
        r->scale = scale;
    }
}

hers_status hers_result_zero(const hers_params *p, hers_search_mode mode, size_t count, size_t n,
                             size_t d, hers_result **out)
{
    hers_status st = hers_result_alloc(p, mode, count, n, d, out);
    if (st != HERS_OK)
        return st;
    /* Every ciphertext's residues in one arena (huge pages where allocated
     * fresh, hers_alloc): placing a chunk's result is then a copy into
     * memory backed 2 MiB at a time, not one 4 KiB-faulting allocation per
     * ciphertext (100M templates: 24k blocks, 5-7 GB). */
    hers_result *r = *out;
    int ee = mode == HERS_MODE_BOTH_ENCRYPTED;
    size_t parts = ee ? 3 : 2, per = parts * hers_params_num_primes(p) * hers_params_n(p);
    r->arena = hers_alloc_array(count * r->blocks, per * sizeof(uint64_t));
    if (!r->arena)
        st = hers_error(HERS_ERR_NOMEM, "result: out of memory for %zu ciphertexts",
                        count * r->blocks);
    for (size_t i = 0; i < count * r->blocks && st == HERS_OK; i++) {
        st = hers_ciphertext_init_borrowed(p, parts, r->arena + i * per, &r->cts[i]);
        r->cts[i].form = ee ? HERS_FORM_BGV : HERS_FORM_BFV;
    }
    if (st != HERS_OK) {
        hers_result_free(r);
        *out = NULL;
    }
    return st;
}

hers_status hers_result_place(hers_result *dst, size_t dst_block, const hers_result *src)
{
    if (!dst || !src)
        return hers_error(HERS_ERR_ARG, "result: NULL argument");
    if (src->count != dst->count || src->mode != dst->mode || src->packing != dst->packing ||
        src->win || dst->win ||
        memcmp(src->params_id, dst->params_id, HERS_PARAMS_ID_BYTES) != 0 ||
        dst_block + src->blocks > dst->blocks)
        return hers_error(HERS_ERR_MISMATCH, "result: partial result does not fit at block %zu",
                          dst_block);
    for (size_t q = 0; q < src->count; q++)
        for (size_t b = 0; b < src->blocks; b++) {
            hers_ciphertext *d = &dst->cts[q * dst->blocks + dst_block + b];
            const hers_ciphertext *sc = &src->cts[q * src->blocks + b];
            if (d->borrowed && d->data && sc->data && d->n == sc->n && d->parts == sc->parts &&
                d->num_primes == sc->num_primes) {   /* same shape: into the arena */
                uint64_t *data = d->data;
                memcpy(data, sc->data, sc->parts * sc->num_primes * sc->n * sizeof *data);
                *d = *sc;
                d->data = data;
                d->borrowed = 1;
                continue;
            }
            hers_ciphertext_free(d);
            hers_status st = hers_ciphertext_copy(sc, d);
            if (st != HERS_OK)
                return st;
        }
    return HERS_OK;
}

int hers_gallery_kind(const hers_gallery *g) { return (int)g->kind; }

hers_status hers_gallery_decrypt(const hers_params *p, const hers_secret_key *sk,
                                 const hers_gallery *g, int32_t *values)
{
    if (!p || !g || !values || (g->kind != GAL_PLAIN && !sk))
        return hers_error(HERS_ERR_ARG, "gallery decrypt: NULL argument");
    hers_status st = hers_search_check_id(p, g->params_id, "gallery decrypt: gallery");
    if (st != HERS_OK)
        return st;
    size_t N = hers_params_n(p), k = hers_params_num_primes(p), kn = k * N;
    int64_t *slots = hers_alloc_array(N, sizeof *slots);
    hers_ciphertext ct = {0};
    hers_plaintext pt = {0};
    if (!slots) {
        st = hers_error(HERS_ERR_NOMEM, "gallery decrypt: out of memory");
        goto done;
    }
    if (g->kind != GAL_PLAIN) {
        if ((st = hers_ciphertext_init(p, 2, &ct)) != HERS_OK ||
            (st = hers_plaintext_init(p, &pt)) != HERS_OK)
            goto done;
    }
    for (size_t b = 0; b < g->blocks; b++)
        for (size_t i = 0; i < g->d; i++) {
            const uint8_t *rec = g->recs + (b * g->d + i) * g->rec_bytes;
            if (g->kind == GAL_PLAIN) {
                for (size_t x = 0; x < N; x++)
                    slots[x] = (int16_t)(uint16_t)(rec[2 * x] | (rec[2 * x + 1] << 8));
            } else {
                int ok;
                ct.ntt_form = 1;
                ct.form = HERS_FORM_BFV;
                ct.parts = 2;
                ct.num_primes = k;
                ct.has_seed = 0;
                if (g->kind == GAL_SEEDED) {
                    ok = se_unpack_poly(p, rec + HERS_SEED_BYTES, k, ct.data);
                    hers_bfv_kernel_expand_a_with(p, gal_expander(g->version), rec, k, ct.data + kn);
                } else {
                    ok = se_unpack_poly(p, rec, k, ct.data);
                    ok &= se_unpack_poly(p, rec + gal_poly_bytes(p), k, ct.data + kn);
                }
                if (!ok) {
                    st = hers_error(HERS_ERR_FORMAT, "gallery decrypt: residue out of range");
                    goto done;
                }
                if ((st = hers_decrypt(p, sk, &ct, &pt)) != HERS_OK ||
                    (st = g->packing == HERS_PACK_COEFF ? hers_decode_coeff(p, &pt, slots)
                                                        : hers_decode_batch(p, &pt, slots)) != HERS_OK)
                    goto done;
            }
            for (size_t x = 0; x < N; x++) {
                size_t row = b * N + x;
                if (row < g->n)
                    values[row * g->d + i] = (int32_t)slots[x];
            }
        }
done:
    hers_free_secret(slots, N * sizeof *slots);
    hers_ciphertext_free(&ct);
    hers_plaintext_free(&pt);
    return st;
}
