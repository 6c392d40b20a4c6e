/*
 * join.c - one search response (HERSRSP, docs/formats.md "Service records")
 * from the responses of the shards, in shard order (hers_cluster.h), and one
 * catalog (HERSCAT) from the shards' catalogs (cluster_internal.h).
 *
 * Shard r's slots become base_r + slot, base_r = N x the blocks of the
 * shards before it, so its parts start at block base_r / N. A part is
 * copied unchanged except when it ends a shard whose last block is partial
 * and another shard follows: the response format wants every part but the
 * last to cover whole blocks, so its result record's template count n
 * (offset 56 of the HERSRES header) becomes blocks x N and the record is
 * re-sealed by its version's rule (hers_result_record_set_n: version 3, a
 * coefficient-packed gallery's, takes CRC-32); the padding slots are in no
 * catalog, like padding on one node.
 *
 * Version 2 (the shards answered hers_service_search_ex): the joined record
 * is version 2 too, with the catalog iff the shards sent theirs, and its
 * catalog version is cl_catalog_version of the shards' versions, the same
 * one the joined HERSCAT carries. Its checksum hashes each result record's
 * own checksum (32 bytes per part), not the parts: rank 0 does not hash the
 * whole answer again.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"
#include "core/bitpack.h"
#include "hers/hers_mem.h"
#include "hers/hers_net.h"

#define HASH 32
#define RES_N_AT 56   /* HERSRES: magic 8, version 4, mode 4, params id 32, count 8 */
#define CAT_HEADER 40

typedef struct shard_rsp {
    uint32_t version, scale, d, parts, with_cat;
    uint64_t count, slots, live, cat_version;
    const uint8_t *parts_at;   /* first part */
    size_t parts_len;          /* bytes of all parts */
    const uint8_t *cat_at;     /* first catalog entry */
    size_t cat_len;
} shard_rsp;

static hers_status parse(const uint8_t *b, size_t len, unsigned r, shard_rsp *o)
{
    uint32_t v = len >= 12 ? hers_le_get_u32(b + 8) : 0;
    size_t hdr = v == 2 ? 60 : 48;
    if (len < hdr + HASH || memcmp(b, "HERSRSP", 8) || (v != 1 && v != 2))
        return hers_error(HERS_ERR_FORMAT, "cluster: shard %u sent no search response", r);
    o->version = v;
    o->scale = hers_le_get_u32(b + 12);
    o->d = hers_le_get_u32(b + 16);
    o->parts = hers_le_get_u32(b + 20);
    o->count = hers_le_get_u64(b + 24);
    o->slots = hers_le_get_u64(b + 32);
    o->live = hers_le_get_u64(b + 40);
    o->cat_version = v == 2 ? hers_le_get_u64(b + 48) : 0;
    o->with_cat = v == 2 ? hers_le_get_u32(b + 56) & 1 : 1;
    size_t pos = hdr, end = len - HASH;
    o->parts_at = b + pos;
    for (uint32_t i = 0; i < o->parts; i++) {
        if (end - pos < 16 || hers_le_get_u64(b + pos + 8) > end - pos - 16)
            return hers_error(HERS_ERR_FORMAT, "cluster: shard %u: truncated part %u", r, i);
        pos += 16 + (size_t)hers_le_get_u64(b + pos + 8);
    }
    o->parts_len = (size_t)(b + pos - o->parts_at);
    o->cat_at = b + pos;
    o->cat_len = end - pos;
    if (!o->with_cat && o->cat_len)
        return hers_error(HERS_ERR_FORMAT, "cluster: shard %u: %zu bytes after the parts of a "
                                           "response without its catalog", r, o->cat_len);
    return HERS_OK;
}

uint64_t cl_catalog_version(const uint64_t *shard_versions, size_t shards)
{
    crypto_generichash_state hs;
    uint8_t h[8], le[8];
    crypto_generichash_init(&hs, NULL, 0, sizeof h);
    crypto_generichash_update(&hs, (const uint8_t *)"hers cluster catalog v1", 23);
    for (size_t r = 0; r < shards; r++) {
        hers_le_put_u64(le, shard_versions[r]);
        crypto_generichash_update(&hs, le, sizeof le);
    }
    crypto_generichash_final(&hs, h, sizeof h);
    uint64_t v = hers_le_get_u64(h);
    return v ? v : 1;   /* 0 means "no version" in HERSRSP / HERSCAT */
}

/* Copies the catalog entries cat (cat_len bytes: slot u64, length u8, id) to
 * o with every slot + base; returns the bytes written or (size_t)-1. */
static size_t copy_catalog(uint8_t *o, const uint8_t *cat, size_t cat_len, uint64_t base, size_t r)
{
    size_t c = 0;
    while (c < cat_len) {
        if (cat_len - c < 9 || cat_len - c - 9 < cat[c + 8]) {
            hers_error(HERS_ERR_FORMAT, "cluster: shard %zu: truncated catalog", r);
            return (size_t)-1;
        }
        size_t el = 9 + cat[c + 8];
        memcpy(o + c, cat + c, el);
        hers_le_put_u64(o + c, hers_le_get_u64(cat + c) + base);
        c += el;
    }
    return c;
}

hers_status cl_join_responses(const hers_params *p, const uint8_t *const *resp, const size_t *len,
                              size_t shards, uint8_t **out, size_t *out_len,
                              uint64_t *cat_version)
{
    if (!p || !resp || !len || !out || !out_len)
        return hers_error(HERS_ERR_ARG, "cluster: NULL argument");
    *out = NULL;
    size_t N = hers_params_n(p);
    shard_rsp *sr = calloc(shards ? shards : 1, sizeof *sr);
    uint64_t *ver = calloc(shards ? shards : 1, sizeof *ver);
    if (!sr || !ver) {
        free(sr);
        free(ver);
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    hers_status st = HERS_OK;
    size_t last = shards, first = shards, total = 0;
    uint64_t parts = 0, live = 0, slots = 0, base = 0;
    for (size_t r = 0; r < shards && st == HERS_OK; r++) {
        if (!resp[r] || !len[r])
            continue;
        if ((st = parse(resp[r], len[r], (unsigned)r, &sr[r])) != HERS_OK)
            break;
        ver[r] = sr[r].cat_version;
        if (first == shards)
            first = r;
        else if (sr[r].scale != sr[first].scale || sr[r].d != sr[first].d ||
                 sr[r].count != sr[first].count)
            st = hers_error(HERS_ERR_MISMATCH, "cluster: shard %zu answered with scale %u, d %u, "
                                               "%llu probes; shard %zu with %u, %u, %llu", r,
                            sr[r].scale, sr[r].d, (unsigned long long)sr[r].count, first,
                            sr[first].scale, sr[first].d, (unsigned long long)sr[first].count);
        else if (sr[r].version != sr[first].version || sr[r].with_cat != sr[first].with_cat)
            st = hers_error(HERS_ERR_MISMATCH, "cluster: shard %zu answered a version-%u record "
                                               "%s its catalog, shard %zu version %u %s", r,
                            sr[r].version, sr[r].with_cat ? "with" : "without", first,
                            sr[first].version, sr[first].with_cat ? "with" : "without");
        last = r;
        parts += sr[r].parts;
        live += sr[r].live;
        total += sr[r].parts_len + sr[r].cat_len;
    }
    if (st == HERS_OK && first == shards)
        st = hers_error(HERS_ERR_STATE, "search: the gallery is empty");
    uint32_t version = st == HERS_OK ? sr[first].version : 1;
    size_t hdr = version == 2 ? 60 : 48;
    total += hdr + HASH;
    uint8_t *o = NULL;
    if (st == HERS_OK && !(o = version == 2 ? hers_net_alloc(total) : hers_alloc(total)))
        st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory for the response");
    size_t pos = hdr;
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
                /* re-sealed by its version's rule (version 3: CRC-32) */
                if ((st = hers_result_record_set_n(nr, (size_t)rl, (sblocks - fb) * N)) != HERS_OK)
                    break;
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
        size_t w = copy_catalog(o + pos, sr[r].cat_at, sr[r].cat_len, base, r);
        if (w == (size_t)-1)
            st = HERS_ERR_FORMAT;
        else
            pos += w;
        base += (sr[r].slots + N - 1) / N * N;
    }
    uint64_t cv = version == 2 ? cl_catalog_version(ver, shards) : 0;
    if (st == HERS_OK) {
        memcpy(o, "HERSRSP", 8);
        hers_le_put_u32(o + 8, version);
        hers_le_put_u32(o + 12, sr[first].scale);
        hers_le_put_u32(o + 16, sr[first].d);
        hers_le_put_u32(o + 20, (uint32_t)parts);
        hers_le_put_u64(o + 24, sr[first].count);
        hers_le_put_u64(o + 32, slots);
        hers_le_put_u64(o + 40, live);
        if (version == 2) {
            hers_le_put_u64(o + 48, cv);
            hers_le_put_u32(o + 56, sr[first].with_cat);
        }
        st = hers_net_response_seal(o, pos + HASH);
    }
    if (st == HERS_OK) {
        *out = o;
        *out_len = pos + HASH;
        if (cat_version)
            *cat_version = cv;
    } else if (version == 2) {
        hers_net_free(o);
    } else {
        hers_free(o);
    }
    free(sr);
    free(ver);
    return st;
}

hers_status hers_cluster_join_responses(const hers_params *p, const uint8_t *const *resp,
                                        const size_t *len, size_t shards, uint8_t **out,
                                        size_t *out_len)
{
    for (size_t r = 0; resp && len && r < shards; r++)
        if (resp[r] && len[r] >= 12 && hers_le_get_u32(resp[r] + 8) != 1)
            return hers_error(HERS_ERR_FORMAT, "cluster: shard %zu sent a version-%u response "
                                               "(this join writes version 1)", r,
                              hers_le_get_u32(resp[r] + 8));
    return cl_join_responses(p, resp, len, shards, out, out_len, NULL);
}

hers_status cl_join_catalogs(size_t N, const uint8_t *const *rec, const size_t *len,
                             const uint64_t *ver, size_t shards, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t total = CAT_HEADER + HASH;
    uint64_t live = 0, slots = 0, base = 0;
    for (size_t r = 0; r < shards; r++) {
        if (!rec[r])
            continue;
        if (len[r] < CAT_HEADER + HASH || memcmp(rec[r], "HERSCAT", 8) ||
            hers_le_get_u32(rec[r] + 8) != 1)
            return hers_error(HERS_ERR_FORMAT, "cluster: shard %zu sent no catalog", r);
        total += len[r] - CAT_HEADER - HASH;
    }
    uint8_t *o = hers_alloc(total);
    if (!o)
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory for the catalog");
    size_t pos = CAT_HEADER;
    for (size_t r = 0; r < shards; r++) {
        if (!rec[r])
            continue;
        uint64_t ss = hers_le_get_u64(rec[r] + 24);
        size_t w = copy_catalog(o + pos, rec[r] + CAT_HEADER, len[r] - CAT_HEADER - HASH, base, r);
        if (w == (size_t)-1) {
            hers_free(o);
            return HERS_ERR_FORMAT;
        }
        pos += w;
        live += hers_le_get_u64(rec[r] + 32);
        slots = base + ss;
        base += (ss + N - 1) / N * N;
    }
    memcpy(o, "HERSCAT", 8);
    hers_le_put_u32(o + 8, 1);
    hers_le_put_u32(o + 12, 0);
    hers_le_put_u64(o + 16, cl_catalog_version(ver, shards));
    hers_le_put_u64(o + 24, slots);
    hers_le_put_u64(o + 32, live);
    crypto_generichash(o + pos, HASH, o, pos, NULL, 0);
    *out = o;
    *out_len = pos + HASH;
    return HERS_OK;
}
