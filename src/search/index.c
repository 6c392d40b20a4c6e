/*
 * index.c - the server's in-memory gallery in the kernel's form
 * (search_kernel.h): for both-encrypted galleries G = t^2 C[b][i] (NTT form,
 * both parts, every prime), for plain galleries the batch-encoded values
 * lifted to [-t/2, t/2) and NTT-transformed mod every prime. Tiles of 8
 * evaluation indices (one residue per word, or two in the narrow form when
 * every prime is below 2^30), ordered [tile s][block b] so that one worker's scan
 * over its blocks of a tile is a single sequential stream.
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"
#include "search/search_merge.h"

struct build_ctx {
    const hers_params *p;
    const hers_gallery *g;
    hers_index *ix;
    uint64_t **poly;        /* per worker: 2*k*N */
    int64_t **slots;        /* per worker: N */
    hers_plaintext *pts;    /* per worker */
    uint64_t t_shoup[HERS_MAX_PRIMES];
    hers_task_error err;
};

static int unpack_poly(const hers_params *p, const uint8_t *in, uint64_t *poly)
{
    return se_unpack_poly(p, in, hers_params_num_primes(p), poly);
}

/* Writes part `part` (k*N residues, prime-major) of record (b, i). */
static void scatter(hers_index *ix, size_t b, size_t i, size_t part, const uint64_t *poly)
{
    size_t N = ix->N, d = ix->d, B = ix->blocks, tw = ix->tile_words;
    int ee = ix->mode == HERS_MODE_BOTH_ENCRYPTED;
    for (size_t j = 0; j < ix->k; j++) {
        const uint64_t *src = poly + j * N;
        if (ix->narrow) {
            size_t off = ee ? HERS_NTILE_EE(d, j, i, part) : HERS_NTILE_PG(d, j, i);
            for (size_t s = 0; s < ix->tiles; s++)
                hers_narrow_pack(ix->data + (s * B + b) * tw + off, src + s * HERS_TILE);
            continue;
        }
        size_t off = ee ? HERS_TILE_EE(d, j, i, part) : HERS_TILE_PG(d, j, i);
        for (size_t s = 0; s < ix->tiles; s++)
            memcpy(ix->data + (s * B + b) * tw + off, src + s * HERS_TILE,
                   HERS_TILE * sizeof(uint64_t));
    }
}

static void build_task(void *vctx, size_t b, unsigned w)
{
    struct build_ctx *c = vctx;
    const hers_params *p = c->p;
    const hers_gallery *g = c->g;
    size_t N = hers_params_n(p), k = hers_params_num_primes(p), kn = k * N;
    const hers_modulus *q = hers_bfv_kernel_moduli(p);
    uint64_t t = hers_params_t(p);
    uint64_t *poly = c->poly[w];
    for (size_t i = 0; i < g->d; i++) {
        if (c->err.st != HERS_OK)
            return;
        const uint8_t *rec = g->recs + (b * g->d + i) * g->rec_bytes;
        if (g->kind == GAL_PLAIN) {
            int64_t *slots = c->slots[w];
            for (size_t x = 0; x < N; x++)
                slots[x] = (int16_t)(uint16_t)(rec[2 * x] | (rec[2 * x + 1] << 8));
            hers_status st = g->packing == HERS_PACK_COEFF
                                 ? hers_encode_coeff(p, slots, N, &c->pts[w])
                                 : hers_encode_batch(p, slots, N, &c->pts[w]);
            if (st == HERS_OK)
                st = hers_plaintext_to_ntt(p, &c->pts[w]);
            if (st != HERS_OK) {
                hers_task_error_set(&c->err, st, NULL);
                return;
            }
            scatter(c->ix, b, i, 0, c->pts[w].ntt);
            continue;
        }
        int ok;
        if (g->kind == GAL_SEEDED) {
            ok = unpack_poly(p, rec + HERS_SEED_BYTES, poly);
            hers_bfv_kernel_expand_a_with(p, gal_expander(g->version), rec, k, poly + kn);
        } else {
            ok = unpack_poly(p, rec, poly);
            ok &= unpack_poly(p, rec + gal_poly_bytes(p), poly + kn);
        }
        if (!ok) {
            hers_task_error_set(&c->err, HERS_ERR_FORMAT, "index: gallery residue out of range");
            return;
        }
        /* BFV -> BGV form: the tensor product needs (t P) x (t C) = P x (t^2 C),
         * so the gallery carries both factors t and the probe is used as
         * encrypted (no per-query multiplication). */
        for (size_t part = 0; part < 2; part++)
            for (size_t j = 0; j < k; j++)
                hers_poly_mul_scalar(poly + part * kn + j * N, poly + part * kn + j * N,
                                     hers_mul_mod(t, t, &q[j]), N, &q[j]);
        scatter(c->ix, b, i, 0, poly);
        scatter(c->ix, b, i, 1, poly + kn);
    }
}

hers_status hers_index_alloc(const hers_params *p, hers_search_mode mode, size_t n, size_t d,
                             hers_index **out)
{
    hers_index *ix = hers_alloc(sizeof *ix);
    if (!ix)
        return hers_error(HERS_ERR_NOMEM, "index: out of memory");
    memcpy(ix->params_id, hers_params_id(p), HERS_PARAMS_ID_BYTES);
    ix->mode = mode;
    ix->N = hers_params_n(p);
    ix->k = hers_params_num_primes(p);
    ix->n = n;
    ix->d = d;
    ix->blocks = (n + ix->N - 1) / ix->N;
    ix->tiles = ix->N / HERS_TILE;
    ix->narrow = 1;
    for (size_t j = 0; j < ix->k; j++) {
        uint64_t q = hers_params_prime(p, j);
        hers_kmod_init(&ix->kmod[j], q);
        ix->narrow &= q < HERS_NARROW_MAX_Q;
    }
    ix->tile_words = ix->k * d * (mode == HERS_MODE_BOTH_ENCRYPTED ? 2 : 1) *
                     (ix->narrow ? HERS_NROW : HERS_TILE);
    ix->data = hers_alloc_array(ix->tiles * ix->blocks, ix->tile_words * sizeof(uint64_t));
    if (!ix->data) {
        hers_free(ix);
        return hers_error(HERS_ERR_NOMEM, "index: out of memory for %zu templates x %zu dimensions",
                          n, d);
    }
    *out = ix;
    return HERS_OK;
}

hers_status hers_index_build(const hers_params *p, const hers_gallery *g, unsigned threads,
                             hers_index **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "index: out is NULL");
    *out = NULL;
    if (!p || !g)
        return hers_error(HERS_ERR_ARG, "index: NULL argument");
    hers_status st = hers_search_check_id(p, g->params_id, "index: gallery");
    if (st != HERS_OK || (st = hers_search_check_params(p, g->mode)) != HERS_OK)
        return st;
    hers_index *ix = NULL;
    if ((st = hers_index_alloc(p, g->mode, g->n, g->d, &ix)) != HERS_OK)
        return st;
    ix->packing = g->packing;
    ix->scale = g->scale;
    struct build_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.g = g;
    c.ix = ix;
    hers_task_error_init(&c.err);
    threads = hers_threads_resolve(threads);
    if (threads > g->blocks)
        threads = (unsigned)g->blocks;
    hers_pool *pool = NULL;
    c.poly = hers_alloc_array(threads, sizeof *c.poly);
    c.slots = hers_alloc_array(threads, sizeof *c.slots);
    c.pts = hers_alloc_array(threads, sizeof *c.pts);
    if (!c.poly || !c.slots || !c.pts) {
        st = hers_error(HERS_ERR_NOMEM, "index: out of memory");
        goto done;
    }
    for (unsigned w = 0; w < threads; w++) {
        c.poly[w] = hers_alloc_array(2 * ix->k * ix->N, sizeof(uint64_t));
        c.slots[w] = hers_alloc_array(ix->N, sizeof(int64_t));
        if (!c.poly[w] || !c.slots[w] || (st = hers_plaintext_init(p, &c.pts[w])) != HERS_OK) {
            st = hers_error(HERS_ERR_NOMEM, "index: out of memory");
            goto done;
        }
    }
    if ((st = hers_pool_create(threads, &pool)) != HERS_OK)
        goto done;
    hers_pool_run(pool, build_task, &c, g->blocks);
    hers_pool_free(pool);
    st = hers_task_error_raise(&c.err);
done:
    for (unsigned w = 0; c.poly && c.slots && c.pts && w < threads; w++) {
        hers_free(c.poly[w]);
        hers_free(c.slots[w]);
        hers_plaintext_free(&c.pts[w]);
    }
    hers_free(c.poly);
    hers_free(c.slots);
    hers_free(c.pts);
    hers_task_error_destroy(&c.err);
    if (st != HERS_OK) {
        hers_index_free(ix);
        return st;
    }
    *out = ix;
    return HERS_OK;
}

/* Declared in search_merge.h (the store builds indexes from segments); here
 * so that index_merge.c depends on index.c and not the other way round. */
hers_status hers_index_zero(const hers_params *p, hers_search_mode mode, size_t n, size_t d,
                            hers_index **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "index: out is NULL");
    *out = NULL;
    hers_status st = hers_search_check_params(p, mode);
    if (st != HERS_OK)
        return st;
    if (n == 0 || n > HERS_SEARCH_MAX_N || d == 0 || d > HERS_SEARCH_MAX_D)
        return hers_error(HERS_ERR_ARG, "index: n = %zu or d = %zu out of range", n, d);
    return hers_index_alloc(p, mode, n, d, out);
}

void hers_index_set_packing(hers_index *ix, hers_packing k, uint32_t scale)
{
    if (ix) {
        ix->packing = k;
        ix->scale = scale;
    }
}

hers_status hers_index_random(const hers_params *p, hers_search_mode mode, size_t n, size_t d,
                              uint64_t seed, hers_index **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "index: out is NULL");
    *out = NULL;
    hers_index *ix = NULL;
    hers_status st = hers_index_zero(p, mode, n, d, &ix); /* validates n, d and p */
    if (st != HERS_OK)
        return st;
    /* splitmix64 residues; the layout position decides the prime */
    size_t per_prime = ix->tile_words / ix->k;
    uint64_t z = seed;
    for (size_t t = 0; t < ix->tiles * ix->blocks; t++)
        for (size_t w = 0; w < ix->tile_words; w++) {
            uint64_t x = (z += 0x9e3779b97f4a7c15ull);
            x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
            x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
            x ^= x >> 31;
            uint64_t q = hers_params_prime(p, w / per_prime);
            ix->data[t * ix->tile_words + w] =
                ix->narrow ? (x & 0xffffffffu) % q | ((x >> 32) % q) << 32 : x % q;
        }
    *out = ix;
    return HERS_OK;
}

void hers_index_free(hers_index *ix)
{
    if (!ix)
        return;
    hers_free(ix->data);
    hers_free(ix);
}

uint64_t hers_index_bytes(const hers_index *ix)
{
    return (uint64_t)ix->tiles * ix->blocks * ix->tile_words * sizeof(uint64_t);
}
size_t hers_index_n(const hers_index *ix) { return ix->n; }
size_t hers_index_d(const hers_index *ix) { return ix->d; }
hers_search_mode hers_index_mode(const hers_index *ix) { return ix->mode; }
