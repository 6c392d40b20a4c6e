/*
 * gallery_blocks.c - a gallery made of some of another gallery's blocks
 * (hers_gallery_take_blocks): the cluster sends each shard the blocks of an
 * enrolment it holds, unchanged (the ciphertexts are copied, never
 * re-encrypted: a block's N slots stay where the enroller put them).
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

hers_status hers_gallery_take_blocks(const hers_params *p, const hers_gallery *g,
                                     const size_t *blocks, size_t count, hers_gallery **out)
{
    if (!p || !g || !blocks || !out || count == 0)
        return hers_error(HERS_ERR_ARG, "gallery blocks: invalid argument");
    *out = NULL;
    size_t N = g->N, n = 0;
    for (size_t i = 0; i < count; i++) {
        if (blocks[i] >= g->blocks || (i && blocks[i] <= blocks[i - 1]))
            return hers_error(HERS_ERR_ARG, "gallery blocks: block %zu of %zu out of range or "
                                            "not ascending", blocks[i], g->blocks);
        size_t rows = blocks[i] + 1 < g->blocks ? N : g->n - blocks[i] * N;
        n += rows;
    }
    hers_gallery *o = gal_new(p, g->mode, g->kind, n, g->d, g->scale);
    if (!o)
        return hers_error(HERS_ERR_NOMEM, "gallery blocks: out of memory");
    if (memcmp(o->params_id, g->params_id, sizeof o->params_id) || o->rec_bytes != g->rec_bytes) {
        hers_gallery_free(o);
        return hers_error(HERS_ERR_MISMATCH, "gallery blocks: the gallery has other parameters");
    }
    o->version = g->version;
    o->packing = g->packing;
    size_t per_block = g->d * g->rec_bytes;
    o->recs = hers_alloc(count * per_block);
    hers_status st = o->recs ? gal_default_ids(o)
                             : hers_error(HERS_ERR_NOMEM, "gallery blocks: out of memory");
    if (st != HERS_OK) {
        hers_gallery_free(o);
        return st;
    }
    for (size_t i = 0; i < count; i++)
        memcpy(o->recs + i * per_block, g->recs + blocks[i] * per_block, per_block);
    *out = o;
    return HERS_OK;
}
