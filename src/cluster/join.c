/*
 * join.c - one search response (HERSRSP, docs/formats.md "Service records")
 * from the responses of the shards, in shard order (hers_cluster.h).
 *
 * Shard r's slots become base_r + slot, base_r = N x the blocks of the
 * shards before it, so its parts start at block base_r / N. A part is
 * copied unchanged except when it ends a shard whose last block is partial
 * and another shard follows: the response format wants every part but the
 * last to cover whole blocks, so its result record's template count n
 * (offset 56 of the HERSRES header) becomes blocks x N and its checksum is
 * recomputed; the padding slots are in no catalog, like padding on one node.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitpack.h"
#include "hers/hers_cluster.h"
#include "hers/hers_mem.h"

#define HASH 32
#define RES_N_AT 56   /* HERSRES: magic 8, version 4, mode 4, params id 32, count 8 */

typedef struct shard_rsp {
    uint32_t scale, d, parts;
    uint64_t count, slots, live;
    const uint8_t *parts_at;   /* first part */
    size_t parts_len;          /* bytes of all parts */
    const uint8_t *cat_at;     /* first catalog entry */
    size_t cat_len;
} shard_rsp;

static hers_status parse(const uint8_t *b, size_t len, unsigned r, shard_rsp *o)
{
    if (len < 48 + HASH || memcmp(b, "HERSRSP", 8) || hers_le_get_u32(b + 8) != 1)
        return hers_error(HERS_ERR_FORMAT, "cluster: shard %u sent no search response", r);
    o->scale = hers_le_get_u32(b + 12);
    o->d = hers_le_get_u32(b + 16);
    o->parts = hers_le_get_u32(b + 20);
    o->count = hers_le_get_u64(b + 24);
    o->slots = hers_le_get_u64(b + 32);
    o->live = hers_le_get_u64(b + 40);
    size_t pos = 48, end = len - HASH;
    o->parts_at = b + pos;
    for (uint32_t i = 0; i < o->parts; i++) {
        if (end - pos < 16 || hers_le_get_u64(b + pos + 8) > end - pos - 16)
            return hers_error(HERS_ERR_FORMAT, "cluster: shard %u: truncated part %u", r, i);
        pos += 16 + (size_t)hers_le_get_u64(b + pos + 8);
    }
    o->parts_len = (size_t)(b + pos - o->parts_at);
    o->cat_at = b + pos;
    o->cat_len = end - pos;
    return HERS_OK;
}

hers_status hers_cluster_join_responses(const hers_params *p, const uint8_t *const *resp,
                                        const size_t *len, size_t shards, uint8_t **out,
                                        size_t *out_len)
{
    if (!p || !resp || !len || !out || !out_len)
        return hers_error(HERS_ERR_ARG, "cluster: NULL argument");
    *out = NULL;
    size_t N = hers_params_n(p);
    shard_rsp *sr = calloc(shards ? shards : 1, sizeof *sr);
    if (!sr)
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    hers_status st = HERS_OK;
    size_t last = shards, first = shards, total = 48 + HASH;
    uint64_t parts = 0, live = 0, slots = 0, base = 0;
    for (size_t r = 0; r < shards && st == HERS_OK; r++) {
        if (!resp[r] || !len[r])
            continue;
        if ((st = parse(resp[r], len[r], (unsigned)r, &sr[r])) != HERS_OK)
            break;
        if (first == shards)
            first = r;
        else if (sr[r].scale != sr[first].scale || sr[r].d != sr[first].d ||
                 sr[r].count != sr[first].count)
            st = hers_error(HERS_ERR_MISMATCH, "cluster: shard %zu answered with scale %u, d %u, "
                                               "%llu probes; shard %zu with %u, %u, %llu", r,
                            sr[r].scale, sr[r].d, (unsigned long long)sr[r].count, first,
                            sr[first].scale, sr[first].d, (unsigned long long)sr[first].count);
        last = r;
        parts += sr[r].parts;
        live += sr[r].live;
        total += sr[r].parts_len + sr[r].cat_len;
    }
    if (st == HERS_OK && first == shards)
        st = hers_error(HERS_ERR_STATE, "search: the gallery is empty");
    uint8_t *o = st == HERS_OK ? hers_alloc(total) : NULL;
    if (st == HERS_OK && !o)
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory for the response");
    size_t pos = 48;
    for (size_t r = 0; st == HERS_OK && r < shards; r++) {
        if (!resp[r] || !len[r])
            continue;
        const shard_rsp *s = &sr[r];
        uint64_t sblocks = (s->slots + N - 1) / N, b0 = base / N;
        const uint8_t *q = s->parts_at;
        for (uint32_t i = 0; i < s->parts; i++) {
            uint64_t fb = hers_le_get_u64(q), rl = hers_le_get_u64(q + 8);
            const uint8_t *rec = q + 16;
            hers_le_put_u64(o + pos, fb + b0);
            hers_le_put_u64(o + pos + 8, rl);
            memcpy(o + pos + 16, rec, (size_t)rl);
            if (r != last && i + 1 == s->parts && s->slots % N) {   /* pad to whole blocks */
                uint8_t *nr = o + pos + 16;
                if (rl < RES_N_AT + 8 + HASH || hers_le_get_u64(nr + RES_N_AT) != s->slots - fb * N) {
                    st = hers_error(HERS_ERR_FORMAT, "cluster: shard %zu: unexpected result "
                                                     "record in part %u", r, i);
                    break;
                }
                hers_le_put_u64(nr + RES_N_AT, (sblocks - fb) * N);
                crypto_generichash(nr + rl - HASH, HASH, nr, (size_t)rl - HASH, NULL, 0);
            }
            pos += 16 + (size_t)rl;
            q += 16 + rl;
        }
        if (r == last)
            slots = base + s->slots;
        base += sblocks * N;
    }
    base = 0;   /* then every catalog, slots shifted alike */
    for (size_t r = 0; st == HERS_OK && r < shards; r++) {
        if (!resp[r] || !len[r])
            continue;
        const shard_rsp *s = &sr[r];
        for (size_t c = 0; st == HERS_OK && c < s->cat_len;) {   /* slot u64, len u8, id */
            if (s->cat_len - c < 9 || s->cat_len - c - 9 < s->cat_at[c + 8]) {
                st = hers_error(HERS_ERR_FORMAT, "cluster: shard %zu: truncated catalog", r);
                break;
            }
            size_t el = 9 + s->cat_at[c + 8];
            memcpy(o + pos, s->cat_at + c, el);
            hers_le_put_u64(o + pos, hers_le_get_u64(s->cat_at + c) + base);
            pos += el;
            c += el;
        }
        base += (s->slots + N - 1) / N * N;
    }
    if (st == HERS_OK) {
        memcpy(o, "HERSRSP", 8);
        hers_le_put_u32(o + 8, 1);
        hers_le_put_u32(o + 12, sr[first].scale);
        hers_le_put_u32(o + 16, sr[first].d);
        hers_le_put_u32(o + 20, (uint32_t)parts);
        hers_le_put_u64(o + 24, sr[first].count);
        hers_le_put_u64(o + 32, slots);
        hers_le_put_u64(o + 40, live);
        crypto_generichash(o + pos, HASH, o, pos, NULL, 0);
        *out = o;
        *out_len = pos + HASH;
    } else {
        hers_free(o);
    }
    free(sr);
    return st;
}
