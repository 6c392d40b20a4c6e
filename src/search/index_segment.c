/*
 * index_segment.c - the kernel form built straight from gallery records
 * read in place (the store's segments, mapped by LMDB): no copy of the
 * records, no intermediate index, no fresh memory per call. One task per
 * (block, dimension) of the destination decodes that record of every
 * segment covering the block (bit-unpacked c0 in NTT form, c1 expanded from
 * its seed, already in NTT form), multiplies by t^2 (search_kernel.h: the
 * gallery carries both factors t) and writes or adds the residues into the
 * block's tiles. Same words as hers_index_build + hers_index_add_gallery,
 * bit for bit (tests/test_store.c compares them).
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"
#include "search/search_merge.h"
#include "search/index_fill.h"

/* Mirrors the header checks of hers_gallery_deserialize (gallery_file.c),
 * without copying anything and without the checksum (separate call, so a
 * reader thread can verify ahead of the decoding). */
hers_status hers_gallery_ref_parse(const hers_params *p, const void *vbuf, size_t len,
                                   hers_gallery_ref *out)
{
    const uint8_t *b = vbuf;
    memset(out, 0, sizeof *out);
    if (!p || !b)
        return hers_error(HERS_ERR_ARG, "gallery: NULL argument");
    enum { HDR = 232 };
    if (len < HDR + SE_CHECKSUM_BYTES)
        return hers_error(HERS_ERR_FORMAT, "gallery: truncated (%zu bytes)", len);
    if (memcmp(b, "HERSGAL\0", 8) != 0)
        return hers_error(HERS_ERR_FORMAT, "gallery: bad magic (not a hers gallery record)");
    uint32_t version = hers_le_get_u32(b + 8);
    if (version < 1 || version > HERS_GALLERY_FILE_VERSION)
        return hers_error(HERS_ERR_VERSION, "gallery: unsupported format version %u", version);
    if (memcmp(b + 16, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        return hers_error(HERS_ERR_MISMATCH, "gallery: enrolled with another parameter set");
    size_t N = hers_params_n(p), k = hers_params_num_primes(p);
    if (hers_le_get_u32(b + 48) != N || hers_le_get_u32(b + 52) != k || hers_le_get_u64(b + 56) != hers_params_t(p))
        return hers_error(HERS_ERR_MISMATCH, "gallery: N, k or t differ from the parameters");
    for (size_t j = 0; j < HERS_MAX_PRIMES; j++)
        if (hers_le_get_u64(b + 64 + 8 * j) != hers_params_prime(p, j)) /* 0 for j >= k */
            return hers_error(HERS_ERR_MISMATCH, "gallery: prime %zu differs from the parameters",
                              j);
    uint32_t mode = hers_le_get_u32(b + 12), kind = hers_le_get_u32(b + 192), d = hers_le_get_u32(b + 196);
    uint32_t scale = hers_le_get_u32(b + 208);
    uint64_t n = hers_le_get_u64(b + 200), R = hers_le_get_u64(b + 216), I = hers_le_get_u64(b + 224);
    if (mode > 1 || kind > 2 || (mode == HERS_MODE_PLAIN_GALLERY) != (kind == GAL_PLAIN))
        return hers_error(HERS_ERR_FORMAT, "gallery: bad mode %u / kind %u", mode, kind);
    uint32_t packing = hers_le_get_u32(b + 212);   /* gallery_file.c */
    if (packing > HERS_PACK_COEFF)
        return hers_error(HERS_ERR_FORMAT, "gallery: packing %u unknown (0 slot, 1 coefficient)",
                          packing);
    if (d == 0 || d > HERS_SEARCH_MAX_D || n == 0 || n > HERS_SEARCH_MAX_N || scale == 0 ||
        scale > HERS_QUANT_MAX_SCALE)
        return hers_error(HERS_ERR_FORMAT, "gallery: d = %u, n = %llu or scale = %u out of range",
                          d, (unsigned long long)n, scale);
    if (R != gal_rec_bytes(p, (gal_kind)kind))
        return hers_error(HERS_ERR_FORMAT, "gallery: record size %llu, expected %zu",
                          (unsigned long long)R, gal_rec_bytes(p, (gal_kind)kind));
    if (I < 2 * n || I > (HERS_SEARCH_MAX_ID + 1) * n)
        return hers_error(HERS_ERR_FORMAT, "gallery: id table size %llu impossible for %llu ids",
                          (unsigned long long)I, (unsigned long long)n);
    uint64_t blocks = (n + N - 1) / N;
    if (HDR + I + blocks * d * R + SE_CHECKSUM_BYTES != len)
        return hers_error(HERS_ERR_FORMAT, "gallery: %zu bytes, not what the header implies",
                          len);
    out->mode = (hers_search_mode)mode;
    out->kind = (int)kind;
    out->version = version;
    out->n = (size_t)n;
    out->d = d;
    out->blocks = (size_t)blocks;
    out->scale = scale;
    out->packing = (hers_packing)packing;
    out->rec_bytes = (size_t)R;
    out->recs = b + HDR + I;
    out->buf = b;
    out->len = len;
    return HERS_OK;
}

int hers_gallery_ref_checksum_ok(const hers_gallery_ref *g)
{
    return gal_checksum_ok(g->version, g->buf, g->len);
}

hers_status hers_index_reshape(hers_index *ix, size_t n)
{
    size_t blocks = (n + ix->N - 1) / ix->N;
    if (n == 0 || blocks > ix->blocks)
        return hers_error(HERS_ERR_ARG, "index: reshape to %zu templates exceeds %zu blocks", n,
                          ix->blocks);
    ix->n = n;
    ix->blocks = blocks;
    return HERS_OK;
}

struct fill_ctx {
    const hers_params *p;
    hers_index *ix;
    const hers_index_part *parts;
    size_t nparts;
    uint64_t **uni;                 /* per worker: k*N residues of c1, then N of c0 */
    uint64_t t2[HERS_MAX_PRIMES], t2s[HERS_MAX_PRIMES];
    uint64_t w32[HERS_MAX_PRIMES];  /* floor(t2 2^32 / q), narrow form */
    uint64_t w52[HERS_MAX_PRIMES];  /* floor(t2 2^52 / q), wide form with IFMA */
    hers_fill_narrow_fn *narrow;
    int wide_ifma;                  /* AVX-512 IFMA rows for the wide form */
    hers_task_error err;
};

/* 8 residues of `bits` bits starting at residue r of a packed block; the
 * record is followed by at least 7 readable bytes (another record or the
 * 32-byte checksum), so every load is one unaligned 64-bit word. Returns
 * nonzero if a residue is >= q. */
static inline uint64_t unpack8(const uint8_t *in, size_t r, int bits, uint64_t q,
                               uint64_t out[HERS_TILE])
{
    uint64_t mask = (UINT64_C(1) << bits) - 1, bad = 0;
    size_t bit = r * (size_t)bits;
    for (int l = 0; l < HERS_TILE; l++, bit += (size_t)bits) {
        uint64_t w;
        memcpy(&w, in + (bit >> 3), 8);
        uint64_t x = (w >> (bit & 7)) & mask;
        bad |= (uint64_t)(x >= q);
        out[l] = x;
    }
    return bad;
}

static inline void times_t2(uint64_t v[HERS_TILE], uint64_t t2, uint64_t t2s, uint64_t q)
{
    for (int l = 0; l < HERS_TILE; l++)
        v[l] = hers_mul_shoup(v[l], t2, t2s, q);
}

/* Writes (first) or adds 8 lanes into a tile row. */
static inline void put_wide(uint64_t *row, const uint64_t v[HERS_TILE], int first, uint64_t q)
{
    if (first) {
        memcpy(row, v, HERS_TILE * sizeof *v);
        return;
    }
    for (int l = 0; l < HERS_TILE; l++)
        row[l] = hers_add_mod(row[l], v[l], q);
}
static inline void put_narrow(uint64_t *row, const uint64_t v[HERS_TILE], int first, uint64_t q)
{
    for (int w = 0; w < HERS_NROW; w++) {
        uint64_t lo = v[w], hi = v[w + HERS_NROW];
        if (!first) {
            lo = hers_add_mod(row[w] & 0xffffffffu, lo, q);
            hi = hers_add_mod(row[w] >> 32, hi, q);
        }
        row[w] = lo | hi << 32;
    }
}

/* n residues of `bits` bits (same read-ahead guarantee as unpack8);
 * nonzero if one is >= q. */
static uint64_t unpack_all(const uint8_t *in, size_t n, int bits, uint64_t q, uint64_t *out)
{
    uint64_t bad = 0;
    for (size_t r = 0; r < n; r += HERS_TILE)
        bad |= unpack8(in, r, bits, q, out + r);
    return bad;
}

void hers_fill_narrow_portable(uint64_t *rows, size_t stride, size_t tiles, const uint64_t *src0,
                               const uint64_t *src1, uint64_t t2, uint64_t w, uint64_t q, int first)
{
    for (size_t s = 0; s < tiles; s++)
        for (int part = 0; part < 2; part++) {
            const uint64_t *src = (part ? src1 : src0) + s * HERS_TILE;
            uint64_t *row = rows + s * stride + part * HERS_NROW;
            for (int l = 0; l < HERS_NROW; l++) {
                uint64_t v[2];
                for (int h = 0; h < 2; h++) {
                    uint64_t x = src[l + h * HERS_NROW];
                    uint64_t r = x * t2 - ((x * w) >> 32) * q;   /* [0, 2q): 32-bit Shoup */
                    r -= r >= q ? q : 0;
                    if (!first) {
                        r += h ? row[l] >> 32 : row[l] & 0xffffffffu;
                        r -= r >= q ? q : 0;
                    }
                    v[h] = r;
                }
                row[l] = v[0] | v[1] << 32;
            }
        }
}

static void fill_task(void *vctx, size_t task, unsigned w)
{
    struct fill_ctx *c = vctx;
    if (c->err.st != HERS_OK)
        return;
    const hers_params *p = c->p;
    hers_index *ix = c->ix;
    size_t d = ix->d, N = ix->N, k = ix->k, B = ix->blocks, tw = ix->tile_words;
    size_t b = task / d, i = task % d;
    uint64_t *uni = c->uni[w];
    int first = 1;
    for (size_t pi = 0; pi < c->nparts; pi++) {
        const hers_index_part *pt = &c->parts[pi];
        if (b < pt->dst_block || b >= pt->dst_block + pt->nb)
            continue;
        const hers_gallery_ref *g = pt->g;
        const uint8_t *rec = g->recs + ((b - pt->dst_block + pt->src_block) * d + i) * g->rec_bytes;
        const uint8_t *c0 = rec, *c1 = NULL;
        if (g->kind == GAL_SEEDED) {
            hers_bfv_kernel_expand_a_with(p, gal_expander(g->version), rec, k, uni);
            c0 = rec + HERS_SEED_BYTES;
        } else {
            c1 = rec + gal_poly_bytes(p);
        }
        uint64_t bad = 0;
        for (size_t j = 0; j < k && ix->narrow; j++) {
            uint64_t q = hers_params_prime(p, j), *u0 = uni + k * N;
            int bits = hers_bitlen(q - 1);
            bad |= unpack_all(c0, N, bits, q, u0);
            const uint64_t *u1 = uni + j * N;
            if (c1) {
                u1 = u0 + N;
                bad |= unpack_all(c1, N, bits, q, u0 + N);
                c1 += N / 8 * (size_t)bits;
            }
            c->narrow(ix->data + b * tw + HERS_NTILE_EE(d, j, i, 0), B * tw, ix->tiles, u0, u1,
                      c->t2[j], c->w32[j], q, first);
            c0 += N / 8 * (size_t)bits;
        }
        for (size_t j = 0; j < k && !ix->narrow && c->wide_ifma; j++) {
            uint64_t q = hers_params_prime(p, j), *u0 = uni + k * N;
            int bits = hers_bitlen(q - 1);
            bad |= unpack_all(c0, N, bits, q, u0);
            const uint64_t *u1 = uni + j * N;
            if (c1) {
                u1 = u0 + N;
                bad |= unpack_all(c1, N, bits, q, u0 + N);
                c1 += N / 8 * (size_t)bits;
            }
            hers_fill_wide_avx512(ix->data + b * tw + HERS_TILE_EE(d, j, i, 0), B * tw, ix->tiles,
                                  u0, u1, c->t2[j], c->w52[j], q, first);
            c0 += N / 8 * (size_t)bits;
        }
        for (size_t j = 0; j < k && !ix->narrow && !c->wide_ifma; j++) {
            uint64_t q = hers_params_prime(p, j);
            int bits = hers_bitlen(q - 1);
            size_t off0 = ix->narrow ? HERS_NTILE_EE(d, j, i, 0) : HERS_TILE_EE(d, j, i, 0);
            size_t off1 = ix->narrow ? HERS_NTILE_EE(d, j, i, 1) : HERS_TILE_EE(d, j, i, 1);
            for (size_t s = 0; s < ix->tiles; s++) {
                uint64_t v0[HERS_TILE], v1[HERS_TILE];
                bad |= unpack8(c0, s * HERS_TILE, bits, q, v0);
                if (c1)
                    bad |= unpack8(c1, s * HERS_TILE, bits, q, v1);
                else
                    memcpy(v1, uni + j * N + s * HERS_TILE, sizeof v1);
                times_t2(v0, c->t2[j], c->t2s[j], q);
                times_t2(v1, c->t2[j], c->t2s[j], q);
                uint64_t *tile = ix->data + (s * B + b) * tw;
                if (ix->narrow) {
                    put_narrow(tile + off0, v0, first, q);
                    put_narrow(tile + off1, v1, first, q);
                } else {
                    put_wide(tile + off0, v0, first, q);
                    put_wide(tile + off1, v1, first, q);
                }
            }
            c0 += N / 8 * (size_t)bits;
            if (c1)
                c1 += N / 8 * (size_t)bits;
        }
        if (bad) {
            hers_task_error_set(&c->err, HERS_ERR_FORMAT, "index: gallery residue out of range");
            return;
        }
        first = 0;
    }
    if (first) {   /* no segment covers this block: encryptions of nothing */
        for (size_t j = 0; j < k; j++) {
            size_t off = ix->narrow ? HERS_NTILE_EE(d, j, i, 0) : HERS_TILE_EE(d, j, i, 0);
            size_t words = 2 * (ix->narrow ? HERS_NROW : HERS_TILE);
            for (size_t s = 0; s < ix->tiles; s++)
                memset(ix->data + (s * B + b) * tw + off, 0, words * sizeof(uint64_t));
        }
    }
}

hers_status hers_index_fill(const hers_params *p, hers_index *ix, const hers_index_part *parts,
                            size_t nparts, unsigned threads)
{
    if (!p || !ix || (!parts && nparts))
        return hers_error(HERS_ERR_ARG, "index fill: NULL argument");
    if (ix->mode != HERS_MODE_BOTH_ENCRYPTED ||
        memcmp(ix->params_id, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        return hers_error(HERS_ERR_MISMATCH, "index fill: both-encrypted index of these parameters "
                                             "only");
    for (size_t i = 0; i < nparts; i++) {
        const hers_index_part *pt = &parts[i];
        if (pt->g->mode != ix->mode || pt->g->d != ix->d || pt->g->kind == GAL_PLAIN ||
            pt->g->packing != ix->packing ||
            pt->src_block + pt->nb > pt->g->blocks || pt->dst_block + pt->nb > ix->blocks)
            return hers_error(HERS_ERR_MISMATCH,
                              "index fill: segment (d %zu, blocks %zu, %s packing) does not fit "
                              "the index (d %zu, blocks %zu, %s packing) at block %zu",
                              pt->g->d, pt->g->blocks, hers_packing_name(pt->g->packing), ix->d,
                              ix->blocks, hers_packing_name(ix->packing), pt->dst_block);
    }
    struct fill_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.ix = ix;
    c.parts = parts;
    c.nparts = nparts;
    const hers_modulus *q = hers_bfv_kernel_moduli(p);
    uint64_t t = hers_params_t(p);
    for (size_t j = 0; j < ix->k; j++) {
        c.t2[j] = hers_mul_mod(t, t, &q[j]);
        c.t2s[j] = hers_shoup_precompute(c.t2[j], q[j].value);
        c.w32[j] = (c.t2[j] << 32) / q[j].value;   /* narrow only: t2 < q < 2^30 */
        c.w52[j] = (uint64_t)(((unsigned __int128)c.t2[j] << 52) / q[j].value);
    }
    /* IFMA needs q < 2^50 (hers_search_check_params refuses larger primes) */
    c.wide_ifma = hers_simd_active() >= HERS_SIMD_AVX512;
    for (size_t j = 0; j < ix->k; j++)
        c.wide_ifma &= q[j].value < (UINT64_C(1) << 50);
    c.narrow = hers_simd_active() >= HERS_SIMD_AVX2 ? hers_fill_narrow_avx2
                                                    : hers_fill_narrow_portable;
    hers_task_error_init(&c.err);
    size_t tasks = ix->blocks * ix->d;
    threads = hers_threads_resolve(threads);
    if (threads > tasks)
        threads = (unsigned)tasks;
    hers_status st = HERS_OK;
    hers_pool *pool = NULL;
    c.uni = hers_alloc_array(threads, sizeof *c.uni);
    if (!c.uni) {
        st = hers_error(HERS_ERR_NOMEM, "index fill: out of memory");
        goto done;
    }
    for (unsigned w = 0; w < threads; w++)
        if (!(c.uni[w] = hers_alloc_array((ix->k + 2) * ix->N, sizeof(uint64_t)))) {
            st = hers_error(HERS_ERR_NOMEM, "index fill: out of memory");
            goto done;
        }
    if ((st = hers_pool_create(threads, &pool)) != HERS_OK)
        goto done;
    hers_pool_run(pool, fill_task, &c, tasks);
    hers_pool_free(pool);
    st = hers_task_error_raise(&c.err);
done:
    for (unsigned w = 0; c.uni && w < threads; w++)
        hers_free(c.uni[w]);
    hers_free(c.uni);
    hers_task_error_destroy(&c.err);
    return st;
}
