/*
 * result_range.c - the download record (HERSRES version 1, docs/formats.md
 * "Query and result records") of a range of a result's blocks, written into
 * a buffer the caller owns. The service answers a search with one
 * allocation: it sizes every part first, then packs and checksums the
 * parts in parallel straight into the response (no per-part record, no
 * copy). The bytes equal hers_result_serialize of the same blocks.
 */
#include <string.h>

#include "core/crc32.h"
#include "hers/hers_mem.h"
#include "search/search_internal.h"

#define RANGE_VERSION 1   /* residue records of slot-packed results (result.c RESULT_VERSION);
                             coefficient-packed: version 3, body 0 */
#define RANGE_HEADER 88

static hers_status range_check(const hers_params *p, const hers_result *r, size_t b0, size_t nb,
                               size_t *rec)
{
    if (!p || !r)
        return hers_error(HERS_ERR_ARG, "result range: NULL argument");
    if (r->compact || r->win)
        return hers_error(HERS_ERR_UNSUPPORTED, "result range: a compact result (use "
                                                "hers_result_serialize_compact)");
    if (nb == 0 || b0 >= r->blocks || nb > r->blocks - b0)
        return hers_error(HERS_ERR_ARG, "result range: blocks [%zu, %zu) outside [0, %zu)", b0,
                          b0 + nb, r->blocks);
    hers_status st = hers_search_check_id(p, r->params_id, "result range");
    if (st != HERS_OK)
        return st;
    if (r->body) {   /* packed by the search: the compact record's body */
        *rec = r->body_rec;
        return HERS_OK;
    }
    const hers_ciphertext *c0 = &r->cts[0];
    for (size_t i = 0; i < r->count * r->blocks; i++) {
        const hers_ciphertext *ct = &r->cts[i];
        if (ct->parts != c0->parts || ct->num_primes != c0->num_primes || ct->form != c0->form ||
            ct->ntt_form != c0->ntt_form)
            return hers_error(HERS_ERR_INTERNAL, "result range: mixed ciphertext shapes");
    }
    *rec = c0->parts * se_poly_bytes(p, c0->num_primes);
    return HERS_OK;
}

hers_status hers_result_range_size(const hers_params *p, const hers_result *r, size_t b0,
                                   size_t nb, size_t *size)
{
    size_t rec = 0;
    hers_status st = range_check(p, r, b0, nb, &rec);
    if (st == HERS_OK && size)
        *size = RANGE_HEADER + r->count * nb * rec + SE_CHECKSUM_BYTES;
    return st;
}

hers_status hers_result_range_serialize(const hers_params *p, const hers_result *r, size_t b0,
                                        size_t nb, uint8_t *buf, size_t cap, size_t *len)
{
    size_t rec = 0;
    hers_status st = range_check(p, r, b0, nb, &rec);
    if (st != HERS_OK)
        return st;
    size_t total = RANGE_HEADER + r->count * nb * rec + SE_CHECKSUM_BYTES;
    if (!buf || cap < total)
        return hers_error(HERS_ERR_ARG, "result range: %zu bytes needed, %zu given", total, cap);
    size_t N = hers_params_n(p);
    /* the last block may be partial: the record then covers n mod N slots of it */
    size_t n = b0 + nb < r->blocks ? nb * N : r->n - b0 * N;
    if (r->body) {   /* the compact record of the range: its blocks' bodies copied */
        res_compact_header(p, r, n, r->body_primes, r->body_form, buf);
        uint8_t *o = buf + RANGE_HEADER;
        for (size_t q = 0; q < r->count; q++, o += nb * rec)
            memcpy(o, r->body + q * r->body_pstride + b0 * rec, nb * rec);
        res_seal(buf, total);
        if (len)
            *len = total;
        return HERS_OK;
    }
    const hers_ciphertext *c0 = &r->cts[0];
    res_put_header(p, r, r->packing == HERS_PACK_COEFF ? HERS_RESULT_RECORD_VERSION : RANGE_VERSION,
                   n, (uint32_t)c0->parts, (uint32_t)c0->num_primes, (uint32_t)c0->form,
                   (uint32_t)c0->ntt_form, 0, buf);
    uint8_t *o = buf + RANGE_HEADER;
    for (size_t q = 0; q < r->count; q++)   /* probe-major, as the whole record */
        for (size_t b = b0; b < b0 + nb; b++)
            for (size_t part = 0; part < c0->parts; part++)
                o = se_pack_poly(p, hers_ct_poly(&r->cts[q * r->blocks + b], part, 0),
                                 c0->num_primes, o);
    (void)o;
    res_seal(buf, total);
    if (len)
        *len = total;
    return HERS_OK;
}

hers_status hers_result_range_pieces(const hers_params *p, const hers_result *r, size_t b0,
                                     size_t nb, uint8_t *head, const uint8_t **body,
                                     size_t *body_len, uint8_t *tail)
{
    size_t rec = 0;
    hers_status st = range_check(p, r, b0, nb, &rec);
    if (st != HERS_OK)
        return st;
    if (!head || !body || !body_len || !tail)
        return hers_error(HERS_ERR_ARG, "result range: NULL argument");
    if (!r->body || !r->body_crc || r->packing != HERS_PACK_COEFF)
        return hers_error(HERS_ERR_UNSUPPORTED, "result range: pieces need a result packed by the "
                                                "search in coefficient packing");
    size_t N = hers_params_n(p), stride = r->body_pstride / rec;
    size_t n = b0 + nb < r->blocks ? nb * N : r->n - b0 * N;
    res_compact_header(p, r, n, r->body_primes, r->body_form, head);
    /* the trailer (gal_checksum version 2): CRC-32 of header and body,
     * little-endian, then 28 zero bytes; the body's from its blocks' CRCs */
    uint32_t crc = hers_crc32(0, head, RANGE_HEADER), op = hers_crc32_combine_gen(rec);
    for (size_t q = 0; q < r->count; q++) {
        body[q] = r->body + q * r->body_pstride + b0 * rec;
        body_len[q] = nb * rec;
        for (size_t b = b0; b < b0 + nb; b++)
            crc = hers_crc32_combine_op(crc, r->body_crc[q * stride + b], op);
    }
    memset(tail, 0, SE_CHECKSUM_BYTES);
    hers_le_put_u32(tail, crc);
    return HERS_OK;
}
