/*
 * result.c - search results: accessors, the download record, decryption to
 * integer scores (key holder), noise budget, top-k and threshold ranking.
 *
 * Download record (docs/formats.md, "Query and result records"):
 *   0   8   magic "HERSRES\0"
 *   8   4   version (1)
 *   12  4   mode (0 both-encrypted, 1 plain-gallery)
 *   16  32  parameter-set id
 *   48  8   count (probes)
 *   56  8   n (templates)
 *   64  4   d
 *   68  4   parts (2 or 3)
 *   72  4   primes (1..k, a prefix)
 *   76  4   form (0 BFV, 1 BGV)
 *   80  4   NTT form (0 or 1)
 *   84  4   body: 0 residues (versions 1 and 3), 1 | b0 << 8 | b1 << 16
 *           rounded (versions 2 and 3), 2 | w0 << 8 | w1 << 16 low-bit
 *           window (version 3 only)
 *   88  ..  count * ceil(n/N) ciphertexts, probe-major, each parts x primes
 *           residue blocks bit-packed (ceil(log2 q_j) bits per residue);
 *           rounded: per ciphertext, part p (coefficient form) as N values
 *           round(2^bp c / Q_L) mod 2^bp in two planes (bits 0..31, then
 *           bits 32..bp-1; hers_poly_round_bits); window: the same values
 *           mod 2^w0 (part 0) and mod 2^w1 (part 1), in planes the same way
 *   end 32  BLAKE2b-256 of all preceding bytes
 * Versions 1 and 2 hold slot-packed results (scores in the slots), version
 * 3 coefficient-packed ones (score x in coefficient x).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

#define RESULT_MAGIC "HERSRES"
#define RESULT_VERSION 1
#define RESULT_VERSION_COMPACT 2
#define RESULT_VERSION_COEFF HERS_RESULT_RECORD_VERSION
enum { BODY_RESIDUES = 0, BODY_ROUNDED = 1, BODY_WINDOW = 2 };
#define RESULT_HEADER 88
#define RESULT_MAX_COUNT ((size_t)1 << 20)

/* Version 3 (new with coefficient packing) takes the gallery format 2
 * trailer: CRC-32 at ~6 GB/s instead of BLAKE2b at ~0.6, which was a third
 * of the server's CPU for a compact record (docs/security.md). */
void res_seal(uint8_t *buf, size_t len)
{
    if (hers_le_get_u32(buf + 8) == RESULT_VERSION_COEFF)
        gal_checksum(2, buf, len - SE_CHECKSUM_BYTES, buf + len - SE_CHECKSUM_BYTES);
    else
        se_checksum(buf, len - SE_CHECKSUM_BYTES, buf + len - SE_CHECKSUM_BYTES);
}

/* The length, magic and version of a download record (any version). */
static hers_status record_header_ok(const uint8_t *b, size_t len)
{
    if (len < RESULT_HEADER + SE_CHECKSUM_BYTES)
        return hers_error(HERS_ERR_FORMAT, "result: truncated (%zu bytes)", len);
    if (memcmp(b, RESULT_MAGIC, 8) != 0)
        return hers_error(HERS_ERR_FORMAT, "result: bad magic (not a hers result)");
    uint32_t version = hers_le_get_u32(b + 8);
    if (version < RESULT_VERSION || version > RESULT_VERSION_COEFF)
        return hers_error(HERS_ERR_VERSION, "result: unsupported version %u", version);
    return HERS_OK;
}

hers_status hers_result_record_set_n(uint8_t *rec, size_t len, uint64_t n)
{
    if (!rec)
        return hers_error(HERS_ERR_ARG, "result record: NULL argument");
    hers_status st = record_header_ok(rec, len);
    if (st != HERS_OK)
        return st;
    hers_le_put_u64(rec + 56, n);
    res_seal(rec, len);
    return HERS_OK;
}

int res_checksum_ok(const uint8_t *buf, size_t len)
{
    return hers_le_get_u32(buf + 8) == RESULT_VERSION_COEFF ? gal_checksum_ok(2, buf, len)
                                                            : se_checksum_ok(buf, len);
}

size_t hers_result_count(const hers_result *r) { return r->count; }
size_t hers_result_n(const hers_result *r) { return r->n; }
size_t hers_result_blocks(const hers_result *r) { return r->blocks; }
hers_packing hers_result_packing(const hers_result *r) { return r->packing; }
int hers_result_packed(const hers_result *r) { return r && r->body; }

const hers_ciphertext *hers_result_ciphertext(const hers_result *r, size_t probe, size_t block)
{
    if (!r || probe >= r->count || block >= r->blocks || r->win || r->body)
        return NULL;   /* a window record's values, a packed body: no ciphertexts */
    return &r->cts[probe * r->blocks + block];
}

hers_status hers_result_serialize(const hers_params *p, const hers_result *r, uint8_t **buf,
                                  size_t *len)
{
    if (!p || !r || !buf || !len)
        return hers_error(HERS_ERR_ARG, "result serialize: NULL argument");
    *buf = NULL;
    *len = 0;
    hers_status st = hers_search_check_id(p, r->params_id, "result serialize");
    if (st != HERS_OK)
        return st;
    if (r->compact || r->win || r->body)
        return hers_result_serialize_compact(p, r, buf, len);
    const hers_ciphertext *c0 = &r->cts[0];
    for (size_t i = 0; i < r->count * r->blocks; i++) {
        const hers_ciphertext *ct = &r->cts[i];
        if (ct->parts != c0->parts || ct->num_primes != c0->num_primes || ct->form != c0->form ||
            ct->ntt_form != c0->ntt_form)
            return hers_error(HERS_ERR_INTERNAL, "result serialize: mixed ciphertext shapes");
    }
    size_t rec = c0->parts * se_poly_bytes(p, c0->num_primes);
    size_t total = RESULT_HEADER + r->count * r->blocks * rec + SE_CHECKSUM_BYTES;
    uint8_t *b = hers_alloc(total);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "result serialize: out of memory");
    res_put_header(p, r, r->packing == HERS_PACK_COEFF ? RESULT_VERSION_COEFF : RESULT_VERSION,
                   r->n, (uint32_t)c0->parts, (uint32_t)c0->num_primes, (uint32_t)c0->form,
                   (uint32_t)c0->ntt_form, BODY_RESIDUES, b);
    uint8_t *o = b + RESULT_HEADER;
    for (size_t i = 0; i < r->count * r->blocks; i++)
        for (size_t part = 0; part < c0->parts; part++)
            o = se_pack_poly(p, hers_ct_poly(&r->cts[i], part, 0), c0->num_primes, o);
    (void)o;
    res_seal(b, total);
    *buf = b;
    *len = total;
    return HERS_OK;
}

void hers_result_compact_bits(const hers_params *p, unsigned *b0, unsigned *b1)
{
    unsigned tb = (unsigned)hers_bitlen(hers_params_t(p)), log_n = 0;
    while (((size_t)1 << log_n) < hers_params_n(p))
        log_n++;
    *b0 = tb + 2;
    *b1 = tb + log_n + 2;
}

hers_status hers_result_window_bits(const hers_params *p, size_t d, uint32_t scale, unsigned *w0,
                                   unsigned *w1)
{
    if (!p || !w0 || !w1)
        return hers_error(HERS_ERR_ARG, "result window: NULL argument");
    *w0 = *w1 = 0;
    if (d == 0 || d > HERS_SEARCH_MAX_D || scale == 0 || scale > HERS_QUANT_MAX_SCALE)
        return hers_error(HERS_ERR_UNSUPPORTED, "result window: d = %zu, scale = %u", d, scale);
    unsigned b0, b1;
    hers_result_compact_bits(p, &b0, &b1);
    /* scores |m| <= B; the smallest w with 2^b1 (2B + 1) <= t 2^w */
    unsigned __int128 span = ((unsigned __int128)(2 * hers_quant_score_bound(d, scale) + 1)) << b1;
    unsigned w = 1;
    while (w < b1 && ((unsigned __int128)hers_params_t(p) << w) < span)
        w++;
    if (w >= b1 || (double)b1 > hers_params_log_q(p))
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "result window: scores up to %llu need all %u bits (t = %llu)",
                          (unsigned long long)hers_quant_score_bound(d, scale), b1,
                          (unsigned long long)hers_params_t(p));
    /* the key holder computes Y1 s mod q_0 (hers_decrypt_window) */
    if ((unsigned __int128)hers_params_prime(p, 0) <= (unsigned __int128)hers_params_n(p) << (w + 1))
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "result window: q_0 = %llu is below N 2^%u (a %u-bit window)",
                          (unsigned long long)hers_params_prime(p, 0), w + 1, w);
    *w1 = w;
    *w0 = w - (b1 - b0);   /* >= bitlen(2B + 1) + 1: 2^b0 >= 4t */
    return HERS_OK;
}

/* The body after the header holds count x blocks records of rec bytes each
 * (compared by division: count * blocks may not fit), and the checksum
 * trailer matches. */
static hers_status body_ok(const uint8_t *b, size_t len, size_t rec, uint64_t count,
                           uint64_t blocks)
{
    size_t body = len - RESULT_HEADER - SE_CHECKSUM_BYTES;
    if (body % rec != 0 || body / rec / count != blocks || (body / rec) % count != 0)
        return hers_error(HERS_ERR_FORMAT, "result: %zu bytes do not match %llu probes x %llu blocks",
                          len, (unsigned long long)count, (unsigned long long)blocks);
    if (!res_checksum_ok(b, len))
        return hers_error(HERS_ERR_CHECKSUM, "result: checksum mismatch (corrupted)");
    return HERS_OK;
}

/* Bytes of one part rounded to b bits (two planes). */
static size_t plane_bytes(const hers_params *p, unsigned b)
{
    return hers_params_n(p) / 8 * b;
}

/* One plane of n values (n a multiple of 8) of `bits` <= 32 bits: the
 * LSB-first stream of se_pack (hers_bitpack), two values (<= 64 bits) at a
 * time into a 128-bit accumulator, 64 bits stored whenever it holds them:
 * half the iterations and branches of the one-value loop (the compact
 * record packs 2 N values per block this way). */
static void pack_plane(uint8_t *o, const uint64_t *v, size_t n, unsigned bits)
{
    if (n % 8 != 0 || bits < 1 || bits > 32) {
        se_pack(o, v, n, (int)bits);
        return;
    }
    const uint64_t mask = (UINT64_C(1) << bits) - 1;
    unsigned __int128 acc = 0;
    unsigned have = 0;
    for (size_t i = 0; i < n; i += 2) {
        uint64_t pair = (v[i] & mask) | (v[i + 1] & mask) << bits;
        acc |= (unsigned __int128)pair << have;
        have += 2 * bits;
        if (have >= 64) {
            hers_le_put_u64(o, (uint64_t)acc);
            o += 8;
            acc >>= 64;
            have -= 64;
        }
    }
    for (; have > 0; have -= 8, acc >>= 8)   /* n bits is a multiple of 8 */
        *o++ = (uint8_t)acc;
}

static uint8_t *pack_planes(const hers_params *p, const uint64_t *y, unsigned b, uint8_t *o)
{
    unsigned lo = b < 32 ? b : 32;
    pack_plane(o, y, hers_params_n(p), lo);
    o += hers_params_n(p) / 8 * lo;
    if (b > 32) {
        pack_plane(o, y + hers_params_n(p), hers_params_n(p), b - 32);
        o += hers_params_n(p) / 8 * (b - 32);
    }
    return o;
}

static int unpack_planes(const hers_params *p, const uint8_t *in, unsigned b, uint64_t *y)
{
    unsigned lo = b < 32 ? b : 32;
    int ok = hers_bitunpack(y, in, hers_params_n(p), (int)lo, (uint64_t)1 << lo);
    in += hers_params_n(p) / 8 * lo;
    if (b > 32)
        ok &= hers_bitunpack(y + hers_params_n(p), in, hers_params_n(p), (int)(b - 32), (uint64_t)1 << (b - 32));
    else
        memset(y + hers_params_n(p), 0, hers_params_n(p) * sizeof(uint64_t));
    return ok;
}

void res_put_header(const hers_params *p, const hers_result *r, uint32_t version, uint64_t n,
                    uint32_t parts, uint32_t primes, uint32_t form, uint32_t ntt_form,
                    uint32_t body, uint8_t *b)
{
    memcpy(b, RESULT_MAGIC, 8);
    hers_le_put_u32(b + 8, version);
    hers_le_put_u32(b + 12, (uint32_t)r->mode);
    memcpy(b + 16, hers_params_id(p), HERS_PARAMS_ID_BYTES);
    hers_le_put_u64(b + 48, r->count);
    hers_le_put_u64(b + 56, n);
    hers_le_put_u32(b + 64, (uint32_t)r->d);
    hers_le_put_u32(b + 68, parts);
    hers_le_put_u32(b + 72, primes);
    hers_le_put_u32(b + 76, form);
    hers_le_put_u32(b + 80, ntt_form);
    hers_le_put_u32(b + 84, body);
}

void res_compact_header(const hers_params *p, const hers_result *r, uint64_t n, size_t L,
                        uint32_t form, uint8_t *b)
{
    res_put_header(p, r,
                   r->packing == HERS_PACK_COEFF ? RESULT_VERSION_COEFF : RESULT_VERSION_COMPACT, n,
                   2, (uint32_t)L, (uint32_t)HERS_FORM_BFV, 0, form, b);
}

hers_status res_compact_plan_make(const hers_params *p, hers_packing packing, size_t d,
                                  uint32_t scale, res_compact_plan *pl)
{
    memset(pl, 0, sizeof *pl);
    hers_result_compact_bits(p, &pl->b0, &pl->b1);
    if ((double)pl->b1 > hers_params_log_q(p))
        return hers_error(HERS_ERR_UNSUPPORTED, "compact result: %u bits exceed log2 Q", pl->b1);
    /* coefficient packing: the low-bit window where it applies (else the
     * rounded body, version 3) */
    unsigned w0 = 0, w1 = 0;
    pl->window = packing == HERS_PACK_COEFF &&
                 hers_result_window_bits(p, d, scale, &w0, &w1) == HERS_OK;
    pl->k0 = pl->window ? w0 : pl->b0;
    pl->k1 = pl->window ? w1 : pl->b1;
    pl->rec = plane_bytes(p, pl->k0) + plane_bytes(p, pl->k1);
    pl->form = pl->window ? (uint32_t)BODY_WINDOW | w0 << 8 | w1 << 16
                          : (uint32_t)BODY_ROUNDED | pl->b0 << 8 | pl->b1 << 16;
    return HERS_OK;
}

/* One part (L residue polynomials in coefficient form) rounded to bp bits,
 * its low kp bits packed in planes at o. y: 2N words of scratch. */
static hers_status compact_part(const hers_params *p, size_t L, const uint64_t *x, unsigned bp,
                                unsigned kp, uint64_t *y, uint8_t *o)
{
    size_t N = hers_params_n(p);
    uint64_t q0 = hers_params_prime(p, 0);
    if (L == 1 && bp <= 52 && (q0 & 1) && q0 < (UINT64_C(1) << 63)) {
        /* one prime (the server's case): rounded and cut to the window in
         * one pass, the values hers_poly_round_bits and the mask below give */
        hers_poly_round_bits_q(y, x, N, q0, bp, kp);
        pack_planes(p, y, kp, o);
        return HERS_OK;
    }
    hers_status st = hers_poly_round_bits(p, L, x, bp, y);
    if (st != HERS_OK)
        return st;
    if (kp < bp) {   /* the window: the low kp bits */
        uint64_t lo = kp >= 32 ? 0xffffffffu : ((uint64_t)1 << kp) - 1;
        uint64_t hi = kp > 32 ? ((uint64_t)1 << (kp - 32)) - 1 : 0;
        for (size_t c = 0; c < N; c++) {
            y[c] &= lo;
            y[N + c] &= hi;
        }
    }
    pack_planes(p, y, kp, o);
    return HERS_OK;
}

hers_status res_compact_block(const hers_params *p, const res_compact_plan *pl, const hers_ciphertext *ct,
                              size_t L, uint64_t *y, uint8_t *o)
{
    hers_status st = compact_part(p, L, hers_ct_poly(ct, 0, 0), pl->b0, pl->k0, y, o);
    if (st == HERS_OK)
        st = compact_part(p, L, hers_ct_poly(ct, 1, 0), pl->b1, pl->k1, y,
                          o + plane_bytes(p, pl->k0));
    return st;
}

hers_status hers_result_serialize_compact(const hers_params *p, const hers_result *r, uint8_t **buf,
                                          size_t *len)
{
    if (!p || !r || !buf || !len)
        return hers_error(HERS_ERR_ARG, "compact result: NULL argument");
    *buf = NULL;
    *len = 0;
    hers_status st = hers_search_check_id(p, r->params_id, "compact result");
    if (st != HERS_OK)
        return st;
    size_t L = r->win ? r->win_primes : r->body ? r->body_primes : r->cts[0].num_primes;
    for (size_t i = 0; !r->win && !r->body && i < r->count * r->blocks; i++) {
        const hers_ciphertext *ct = &r->cts[i];
        if (ct->parts != 2 || ct->form != HERS_FORM_BFV || ct->num_primes != L)
            return hers_error(HERS_ERR_UNSUPPORTED,
                              "compact result: needs 2-part BFV results (search with "
                              "HERS_RESULT_RELINEARIZED)");
    }
    res_compact_plan pl;
    if ((st = res_compact_plan_make(p, r->packing, r->d, r->scale, &pl)) != HERS_OK)
        return st;
    if (r->win) {   /* read from a window record: the same bits again */
        pl.window = 1;
        pl.k0 = r->w0;
        pl.k1 = r->w1;
        pl.rec = plane_bytes(p, pl.k0) + plane_bytes(p, pl.k1);
        pl.form = (uint32_t)BODY_WINDOW | r->w0 << 8 | r->w1 << 16;
    } else if (r->body) {   /* packed by the search (HERS_RESULT_COMPACT) */
        if (pl.rec != r->body_rec || pl.form != r->body_form)
            return hers_error(HERS_ERR_INTERNAL, "compact result: the packed body's form differs");
    }
    size_t total = RESULT_HEADER + r->count * r->blocks * pl.rec + SE_CHECKSUM_BYTES;
    size_t N = hers_params_n(p);
    uint8_t *b = hers_alloc(total);
    uint64_t *x = r->body ? NULL : hers_alloc_array(L * N, sizeof(uint64_t));
    uint64_t *y = r->body ? NULL : hers_alloc_array(2 * N, sizeof(uint64_t));
    if (!b || (!r->body && (!x || !y))) {
        hers_free(b);
        hers_free(x);
        hers_free(y);
        return hers_error(HERS_ERR_NOMEM, "compact result: out of memory");
    }
    res_compact_header(p, r, r->n, L, pl.form, b);
    uint8_t *o = b + RESULT_HEADER;
    if (r->body) {
        for (size_t c = 0; c < r->count; c++, o += r->blocks * pl.rec)
            memcpy(o, r->body + c * r->body_pstride, r->blocks * pl.rec);
    }
    for (size_t i = 0; !r->body && i < r->count * r->blocks && st == HERS_OK; i++, o += pl.rec) {
        if (r->win) {
            for (size_t part = 0; part < 2; part++) {
                const uint64_t *v = r->win + (2 * i + part) * N;
                for (size_t c = 0; c < N; c++) {
                    y[c] = v[c] & 0xffffffffu;
                    y[N + c] = v[c] >> 32;
                }
                pack_planes(p, y, part ? pl.k1 : pl.k0, o + (part ? plane_bytes(p, pl.k0) : 0));
            }
            continue;
        }
        /* each part copied to coefficient form (the result stays as is) */
        const hers_ciphertext *ct = &r->cts[i];
        for (size_t part = 0; part < 2 && st == HERS_OK; part++) {
            memcpy(x, hers_ct_poly(ct, part, 0), L * N * sizeof(uint64_t));
            if (ct->ntt_form)
                for (size_t j = 0; j < L; j++)
                    hers_ntt_inverse(hers_params_ntt(p, j), x + j * N);
            st = compact_part(p, L, x, part ? pl.b1 : pl.b0, part ? pl.k1 : pl.k0, y,
                              o + (part ? plane_bytes(p, pl.k0) : 0));
        }
    }
    hers_free(x);
    hers_free(y);
    if (st != HERS_OK) {
        hers_free(b);
        return st;
    }
    res_seal(b, total);
    *buf = b;
    *len = total;
    return HERS_OK;
}

static hers_status deserialize_compact(const hers_params *p, const uint8_t *b, size_t len,
                                       hers_packing packing, hers_result **out)
{
    uint32_t mode = hers_le_get_u32(b + 12), d = hers_le_get_u32(b + 64), parts = hers_le_get_u32(b + 68);
    uint32_t primes = hers_le_get_u32(b + 72), form = hers_le_get_u32(b + 76), nttf = hers_le_get_u32(b + 80);
    uint32_t pack = hers_le_get_u32(b + 84);
    uint64_t count = hers_le_get_u64(b + 48), n = hers_le_get_u64(b + 56);
    unsigned b0, b1;
    hers_result_compact_bits(p, &b0, &b1);
    if (mode > 1 || d == 0 || d > HERS_SEARCH_MAX_D || parts != 2 || primes == 0 || primes > hers_params_num_primes(p) ||
        form != HERS_FORM_BFV || nttf != 0 || pack != (1u | b0 << 8 | b1 << 16) || count == 0 ||
        count > RESULT_MAX_COUNT || n == 0 || n > HERS_SEARCH_MAX_N)
        return hers_error(HERS_ERR_FORMAT, "result: compact header field out of range");
    uint64_t blocks = (n + hers_params_n(p) - 1) / hers_params_n(p);
    size_t rec = plane_bytes(p, b0) + plane_bytes(p, b1);
    hers_status st = body_ok(b, len, rec, count, blocks);
    if (st != HERS_OK)
        return st;
    hers_result *r = NULL;
    st = hers_result_alloc(p, (hers_search_mode)mode, count, n, d, &r);
    if (st != HERS_OK)
        return st;
    uint64_t *y = hers_alloc_array(2 * hers_params_n(p), sizeof(uint64_t));
    if (!y)
        st = hers_error(HERS_ERR_NOMEM, "result: out of memory");
    const uint8_t *in = b + RESULT_HEADER;
    for (size_t i = 0; i < count * blocks && st == HERS_OK; i++) {
        hers_ciphertext *ct = &r->cts[i];
        if ((st = hers_ciphertext_init(p, 2, ct)) != HERS_OK)
            break;
        ct->num_primes = primes;
        ct->form = HERS_FORM_BFV;
        ct->ntt_form = 0;
        for (size_t part = 0; part < 2 && st == HERS_OK; part++) {
            unsigned bp = part ? b1 : b0;
            if (!unpack_planes(p, in, bp, y))
                st = hers_error(HERS_ERR_FORMAT, "result: value out of range in ciphertext %zu", i);
            else
                st = hers_poly_unround_bits(p, primes, bp, y, hers_ct_poly(ct, part, 0));
            in += plane_bytes(p, bp);
        }
    }
    hers_free(y);
    if (st != HERS_OK) {
        hers_result_free(r);
        return st;
    }
    r->compact = 1;
    r->packing = packing;
    *out = r;
    return HERS_OK;
}

/* Version 3, body 2: the low-bit window (hers_result_window_bits). */
static hers_status deserialize_window(const hers_params *p, const uint8_t *b, size_t len,
                                      hers_result **out)
{
    uint32_t mode = hers_le_get_u32(b + 12), d = hers_le_get_u32(b + 64), parts = hers_le_get_u32(b + 68);
    uint32_t primes = hers_le_get_u32(b + 72), form = hers_le_get_u32(b + 76), nttf = hers_le_get_u32(b + 80);
    uint32_t body = hers_le_get_u32(b + 84);
    uint64_t count = hers_le_get_u64(b + 48), n = hers_le_get_u64(b + 56);
    unsigned b0, b1, w0 = (body >> 8) & 0xff, w1 = (body >> 16) & 0xff;
    hers_result_compact_bits(p, &b0, &b1);
    size_t N = hers_params_n(p);
    if (mode > 1 || d == 0 || d > HERS_SEARCH_MAX_D || parts != 2 || primes == 0 ||
        primes > hers_params_num_primes(p) || form != HERS_FORM_BFV || nttf != 0 ||
        (body >> 24) != 0 || w1 < 2 || w1 >= b1 || w0 + (b1 - b0) != w1 || count == 0 ||
        count > RESULT_MAX_COUNT || n == 0 || n > HERS_SEARCH_MAX_N)
        return hers_error(HERS_ERR_FORMAT, "result: window header field out of range");
    if ((unsigned __int128)hers_params_prime(p, 0) <= (unsigned __int128)N << (w1 + 1))
        return hers_error(HERS_ERR_FORMAT, "result: a %u-bit window is too wide for q_0", w1);
    uint64_t blocks = (n + N - 1) / N;
    size_t rec = plane_bytes(p, w0) + plane_bytes(p, w1);
    hers_status st = body_ok(b, len, rec, count, blocks);
    if (st != HERS_OK)
        return st;
    hers_result *r = NULL;
    st = hers_result_alloc(p, (hers_search_mode)mode, count, n, d, &r);
    if (st != HERS_OK)
        return st;
    r->win = hers_alloc_array(count * blocks, 2 * N * sizeof(uint64_t));
    uint64_t *y = hers_alloc_array(2 * N, sizeof(uint64_t));
    if (!r->win || !y)
        st = hers_error(HERS_ERR_NOMEM, "result: out of memory");
    const uint8_t *in = b + RESULT_HEADER;
    for (size_t i = 0; i < count * blocks && st == HERS_OK; i++)
        for (size_t part = 0; part < 2 && st == HERS_OK; part++) {
            unsigned wp = part ? w1 : w0;
            if (!unpack_planes(p, in, wp, y)) {
                st = hers_error(HERS_ERR_FORMAT, "result: value out of range in block %zu", i);
                break;
            }
            uint64_t *v = r->win + (2 * i + part) * N;
            for (size_t c = 0; c < N; c++)
                v[c] = y[c] | y[N + c] << 32;
            in += plane_bytes(p, wp);
        }
    hers_free(y);
    if (st != HERS_OK) {
        hers_result_free(r);
        return st;
    }
    r->compact = 1;
    r->packing = HERS_PACK_COEFF;
    r->w0 = w0;
    r->w1 = w1;
    r->win_primes = primes;
    *out = r;
    return HERS_OK;
}

hers_status hers_result_deserialize(const hers_params *p, const void *vbuf, size_t len,
                                    hers_result **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "result: out is NULL");
    *out = NULL;
    const uint8_t *b = vbuf;
    if (!p || (!b && len))
        return hers_error(HERS_ERR_ARG, "result: NULL argument");
    hers_status st = record_header_ok(b, len);
    if (st != HERS_OK)
        return st;
    uint32_t version = hers_le_get_u32(b + 8);
    if (memcmp(b + 16, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        return hers_error(HERS_ERR_MISMATCH, "result: made with another parameter set");
    uint32_t form84 = hers_le_get_u32(b + 84) & 0xff;
    hers_packing packing = version == RESULT_VERSION_COEFF ? HERS_PACK_COEFF : HERS_PACK_SLOT;
    if (version == RESULT_VERSION_COMPACT ||
        (version == RESULT_VERSION_COEFF && form84 == BODY_ROUNDED))
        return deserialize_compact(p, b, len, packing, out);
    if (version == RESULT_VERSION_COEFF && form84 == BODY_WINDOW)
        return deserialize_window(p, b, len, out);
    uint32_t mode = hers_le_get_u32(b + 12), d = hers_le_get_u32(b + 64), parts = hers_le_get_u32(b + 68);
    uint32_t primes = hers_le_get_u32(b + 72), form = hers_le_get_u32(b + 76), nttf = hers_le_get_u32(b + 80);
    uint64_t count = hers_le_get_u64(b + 48), n = hers_le_get_u64(b + 56);
    if (mode > 1 || d == 0 || d > HERS_SEARCH_MAX_D || (parts != 2 && parts != 3) || primes == 0 ||
        primes > hers_params_num_primes(p) || form > 1 || nttf > 1 || hers_le_get_u32(b + 84) != 0 ||
        count == 0 ||
        count > RESULT_MAX_COUNT || n == 0 || n > HERS_SEARCH_MAX_N)
        return hers_error(HERS_ERR_FORMAT, "result: header field out of range");
    uint64_t N = hers_params_n(p), blocks = (n + N - 1) / N;
    size_t rec = parts * se_poly_bytes(p, primes);
    /* count * blocks <= 2^20 * 2^32 / N: compared by division (no overflow) */
    st = body_ok(b, len, rec, count, blocks);
    if (st != HERS_OK)
        return st;
    hers_result *r = NULL;
    st = hers_result_alloc(p, (hers_search_mode)mode, count, n, d, &r);
    if (st != HERS_OK)
        return st;
    const uint8_t *in = b + RESULT_HEADER;
    for (size_t i = 0; i < count * blocks && st == HERS_OK; i++) {
        hers_ciphertext *ct = &r->cts[i];
        if ((st = hers_ciphertext_init(p, parts, ct)) != HERS_OK)
            break;
        ct->num_primes = primes;  /* a prefix: the buffer is large enough */
        ct->form = (hers_form)form;
        ct->ntt_form = (int)nttf;
        for (size_t part = 0; part < parts && st == HERS_OK; part++) {
            if (!se_unpack_poly(p, in, primes, hers_ct_poly(ct, part, 0)))
                st = hers_error(HERS_ERR_FORMAT, "result: residue out of range in ciphertext %zu", i);
            in += se_poly_bytes(p, primes);
        }
    }
    if (st != HERS_OK) {
        hers_result_free(r);
        return st;
    }
    r->packing = packing;
    *out = r;
    return HERS_OK;
}

/* ------------------------------------------------------------ key holder */

hers_status hers_result_decrypt(const hers_params *p, const hers_secret_key *sk,
                                const hers_result *r, size_t probe, int64_t *scores)
{
    if (!p || !sk || !r || !scores)
        return hers_error(HERS_ERR_ARG, "decrypt results: NULL argument");
    hers_status st = hers_search_check_id(p, r->params_id, "decrypt results");
    if (st != HERS_OK)
        return st;
    if (probe >= r->count)
        return hers_error(HERS_ERR_ARG, "decrypt results: probe %zu of %zu", probe, r->count);
    if (r->body)
        return hers_error(HERS_ERR_UNSUPPORTED, "decrypt results: a result packed for the download "
                                                "(HERS_RESULT_COMPACT): serialise it and read it back");
    size_t N = hers_params_n(p);
    int64_t *slots = hers_alloc_array(N, sizeof(int64_t));
    hers_plaintext pt;
    memset(&pt, 0, sizeof pt);
    if (!slots)
        return hers_error(HERS_ERR_NOMEM, "decrypt results: out of memory");
    unsigned b0, b1;
    hers_result_compact_bits(p, &b0, &b1);
    for (size_t b = 0; b < r->blocks && st == HERS_OK; b++) {
        size_t i = probe * r->blocks + b;
        if (r->win) {   /* coefficient packing, low-bit window */
            st = hers_decrypt_window(p, sk, r->win + 2 * i * N, r->win + (2 * i + 1) * N, b1 - b0,
                                     r->w1, b1, slots);
        } else {
            st = hers_decrypt(p, sk, &r->cts[i], &pt);
            if (st == HERS_OK)
                st = r->packing == HERS_PACK_COEFF ? hers_decode_coeff(p, &pt, slots)
                                                   : hers_decode_batch(p, &pt, slots);
        }
        if (st == HERS_OK) {
            size_t first = b * N, count = r->n - first < N ? r->n - first : N;
            memcpy(scores + first, slots, count * sizeof(int64_t));
        }
    }
    hers_free_secret(slots, N * sizeof(int64_t));
    if (pt.coeffs)
        hers_wipe(pt.coeffs, N * sizeof(uint64_t));
    hers_plaintext_free(&pt);
    return st;
}

hers_status hers_result_noise_budget(const hers_params *p, const hers_secret_key *sk,
                                     const hers_result *r, size_t probe, double *bits)
{
    if (!p || !sk || !r || !bits)
        return hers_error(HERS_ERR_ARG, "noise budget: NULL argument");
    if (probe >= r->count)
        return hers_error(HERS_ERR_ARG, "noise budget: probe %zu of %zu", probe, r->count);
    if (r->win)
        return hers_error(HERS_ERR_UNSUPPORTED,
                          "noise budget: a window record holds only the low bits of the result");
    if (r->body)
        return hers_error(HERS_ERR_UNSUPPORTED, "noise budget: a result packed for the download "
                                                "(HERS_RESULT_COMPACT)");
    double min = INFINITY;
    for (size_t b = 0; b < r->blocks; b++) {
        double v;
        hers_status st = hers_noise_budget(p, sk, &r->cts[probe * r->blocks + b], &v);
        if (st != HERS_OK)
            return st;
        if (v < min)
            min = v;
    }
    *bits = min;
    return HERS_OK;
}

/* ------------------------------------------------------------ ranking */

static int better(const hers_match *a, const hers_match *b)
{
    return a->score > b->score || (a->score == b->score && a->index < b->index);
}

static int cmp_match(const void *va, const void *vb)
{
    const hers_match *a = va, *b = vb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* min-heap on "better": the root is the worst of the kept entries */
static void sift_down(hers_match *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(&h[w], &h[l]))
            w = l;
        if (r < n && better(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        hers_match t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

hers_status hers_top_k(const int64_t *scores, size_t n, size_t k, hers_match *out, size_t *count)
{
    if (!scores || !count || (k && !out))
        return hers_error(HERS_ERR_ARG, "top-k: NULL argument");
    size_t m = k < n ? k : n;
    *count = m;
    if (m == 0)
        return HERS_OK;
    for (size_t i = 0; i < m; i++)
        out[i] = (hers_match){i, scores[i]};
    for (size_t i = m / 2; i-- > 0;)
        sift_down(out, m, i);
    for (size_t i = m; i < n; i++) {
        hers_match c = {i, scores[i]};
        if (better(&c, &out[0])) {
            out[0] = c;
            sift_down(out, m, 0);
        }
    }
    qsort(out, m, sizeof *out, cmp_match);
    return HERS_OK;
}

hers_status hers_threshold(const int64_t *scores, size_t n, int64_t min_score, hers_match **out,
                           size_t *count)
{
    if (!scores || !out || !count)
        return hers_error(HERS_ERR_ARG, "threshold: NULL argument");
    *out = NULL;
    *count = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += scores[i] >= min_score;
    if (m == 0)
        return HERS_OK;
    hers_match *v = hers_alloc_array(m, sizeof *v);
    if (!v)
        return hers_error(HERS_ERR_NOMEM, "threshold: out of memory for %zu matches", m);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (scores[i] >= min_score)
            v[o++] = (hers_match){i, scores[i]};
    qsort(v, m, sizeof *v, cmp_match);
    *out = v;
    *count = m;
    return HERS_OK;
}

int64_t hers_score_from_cosine(double c, uint32_t scale)
{
    double s2 = (double)scale * (double)scale;
    if (!(c == c))
        return INT64_MAX;
    double lim = 4.0 * s2 + 1.0; /* |scores| never exceed 4 s^2 */
    if (c * s2 > lim)
        return (int64_t)lim;
    if (c * s2 < -lim)
        return -(int64_t)lim;
    int64_t v = (int64_t)ceil(c * s2);
    /* guard against rounding in c * s2: smallest v with v / s2 >= c */
    while ((double)(v - 1) / s2 >= c)
        v--;
    while ((double)v / s2 < c)
        v++;
    return v;
}
