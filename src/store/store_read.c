/*
 * store_read.c - snapshots (LMDB read transactions): the kernel-form index
 * of a block range, summed over every segment that covers it, and the
 * catalog lookups (slot -> id, live map).
 */
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_merge.h"
#include "store/store_internal.h"

hers_status hers_store_snapshot_open(hers_store *db, hers_store_snapshot **out)
{
    if (!db || !out)
        return hers_error(HERS_ERR_ARG, "db snapshot: NULL argument");
    *out = NULL;
    hers_store_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "db snapshot: out of memory");
    s->db = db;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &s->txn);
    if (rc) {
        free(s);
        return store_mdb_error(db, rc, "begin a read transaction");
    }
    hers_status st = store_state_read(db, s->txn, &s->st);
    if (st == HERS_OK && (rc = mdb_cursor_open(s->txn, db->slots, &s->slot_cur)) != 0)
        st = store_mdb_error(db, rc, "slots");
    if (st != HERS_OK) {
        hers_store_snapshot_close(s);
        return st;
    }
    *out = s;
    return HERS_OK;
}

void hers_store_snapshot_close(hers_store_snapshot *s)
{
    if (!s)
        return;
    if (s->slot_cur)
        mdb_cursor_close(s->slot_cur);
    if (s->txn)
        mdb_txn_abort(s->txn);
    free(s);
}

uint64_t hers_store_snapshot_slots(const hers_store_snapshot *s) { return s->st.next_slot; }
uint64_t hers_store_snapshot_live(const hers_store_snapshot *s) { return s->st.live; }
size_t hers_store_snapshot_blocks(const hers_store_snapshot *s)
{
    size_t N = hers_params_n(s->db->p);
    return (size_t)((s->st.next_slot + N - 1) / N);
}
size_t hers_store_snapshot_d(const hers_store_snapshot *s) { return s->st.has_gallery ? s->st.d : 0; }
uint32_t hers_store_snapshot_scale(const hers_store_snapshot *s) { return s->st.scale; }
hers_packing hers_store_snapshot_packing(const hers_store_snapshot *s)
{
    return (hers_packing)s->st.packing;
}
hers_search_mode hers_store_snapshot_mode(const hers_store_snapshot *s)
{
    return (hers_search_mode)s->st.mode;
}

hers_status hers_store_snapshot_public_key_encrypted(hers_store_snapshot *s, int *out)
{
    if (!s || !out)
        return hers_error(HERS_ERR_ARG, "snapshot: NULL argument");
    *out = 0;
    if (s->st.mode != HERS_MODE_BOTH_ENCRYPTED || !s->st.has_gallery)
        return HERS_OK;
    store_segref *segs = NULL;
    size_t nseg = 0;
    hers_status st = store_segments_list(s, &segs, &nseg);
    for (size_t i = 0; st == HERS_OK && i < nseg; i++)
        *out |= segs[i].g.kind == 2; /* public-key record (search_merge.h) */
    free(segs);
    return st;
}

hers_status hers_store_snapshot_index(hers_store_snapshot *s, size_t first_block, size_t blocks,
                                   unsigned threads, hers_index **out)
{
    if (!s || !out)
        return hers_error(HERS_ERR_ARG, "db index: NULL argument");
    *out = NULL;
    hers_store *db = s->db;
    size_t N = hers_params_n(db->p), total = hers_store_snapshot_blocks(s);
    if (!s->st.has_gallery || total == 0)
        return hers_error(HERS_ERR_STATE, "%s: the gallery is empty", db->dir);
    if (blocks == 0 || first_block >= total || blocks > total - first_block)
        return hers_error(HERS_ERR_ARG, "%s: block range %zu+%zu outside 0..%zu", db->dir,
                          first_block, blocks, total);
    uint64_t n = s->st.next_slot - (uint64_t)first_block * N;
    if (n > (uint64_t)blocks * N)
        n = (uint64_t)blocks * N;
    hers_index *ix = NULL;
    hers_status st = hers_index_zero(db->p, (hers_search_mode)s->st.mode, (size_t)n, s->st.d, &ix);
    if (st != HERS_OK)
        return st;
    hers_index_set_packing(ix, (hers_packing)s->st.packing, s->st.scale);
    if (s->st.mode == HERS_MODE_BOTH_ENCRYPTED) {
        /* in place, every checksum verified */
        store_segref *segs = NULL;
        size_t nseg = 0;
        if ((st = store_segments_list(s, &segs, &nseg)) == HERS_OK)
            st = store_segments_index(s, segs, nseg, first_block, blocks, threads, 1, ix);
        free(segs);
        if (st != HERS_OK) {
            hers_index_free(ix);
            return st;
        }
        *out = ix;
        return HERS_OK;
    }
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(s->txn, db->segs, &c);
    if (rc) {
        hers_index_free(ix);
        return store_mdb_error(db, rc, "segments");
    }
    uint64_t lo = first_block, hi = (uint64_t)first_block + blocks;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && st == HERS_OK;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_seg sg;
        uint64_t key;
        if ((st = store_seg_decode_entry(db, &k, &v, &key, &sg)) != HERS_OK)
            break;
        uint64_t sb = sg.first_block, se = sb + store_seg_blocks(db, &sg);
        if (se <= lo || sb >= hi)
            continue;
        if (sg.first_slot + sg.rows > s->st.next_slot) {
            st = hers_error(HERS_ERR_FORMAT, "%s: segment %llu ends past the last slot", db->dir,
                            (unsigned long long)key);
            break;
        }
        hers_gallery *g = NULL;
        st = hers_gallery_deserialize(db->p, sg.gallery, (size_t)sg.gallery_len, &g);
        if (st != HERS_OK) {
            char msg[512];
            strncpy(msg, hers_last_error(), sizeof msg - 1);
            msg[sizeof msg - 1] = '\0';
            st = hers_error(st, "%s: segment %llu: %s", db->dir, (unsigned long long)key, msg);
            break;
        }
        if (hers_gallery_n(g) != (size_t)sg.offset + sg.rows || hers_gallery_d(g) != s->st.d ||
            hers_gallery_mode(g) != (hers_search_mode)s->st.mode ||
            hers_gallery_scale(g) != s->st.scale ||
            hers_gallery_packing(g) != (hers_packing)s->st.packing) {
            st = hers_error(HERS_ERR_FORMAT,
                            "%s: segment %llu: gallery shape differs from its header / the "
                            "database",
                            db->dir, (unsigned long long)key);
        } else {
            uint64_t a = sb > lo ? sb : lo, b = se < hi ? se : hi;
            st = hers_index_add_gallery(db->p, ix, (size_t)(a - lo), g, (size_t)(a - sb),
                                        (size_t)(b - a), threads);
        }
        hers_gallery_free(g);
    }
    if (st == HERS_OK && rc != 0 && rc != MDB_NOTFOUND)
        st = store_mdb_error(db, rc, "segments");
    mdb_cursor_close(c);
    if (st != HERS_OK) {
        hers_index_free(ix);
        return st;
    }
    *out = ix;
    return HERS_OK;
}

const char *hers_store_snapshot_id(hers_store_snapshot *s, uint64_t slot)
{
    if (!s)
        return NULL;
    uint8_t kb[8];
    hers_be_put_u64(kb, slot);
    MDB_val k = {8, kb}, v;
    if (mdb_get(s->txn, s->db->slots, &k, &v) != 0 || v.mv_size < 2 ||
        ((const char *)v.mv_data)[v.mv_size - 1] != '\0')
        return NULL;
    return v.mv_data;
}

hers_status hers_store_snapshot_live_map(hers_store_snapshot *s, uint64_t first, uint64_t count,
                                      uint8_t *live)
{
    if (!s || (!live && count))
        return hers_error(HERS_ERR_ARG, "db live map: NULL argument");
    memset(live, 0, (size_t)count);
    if (count == 0)
        return HERS_OK;
    uint8_t kb[8];
    hers_be_put_u64(kb, first);
    MDB_val k = {8, kb}, v;
    int rc;
    for (rc = mdb_cursor_get(s->slot_cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(s->slot_cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8)
            return hers_error(HERS_ERR_FORMAT, "%s: malformed slot key", s->db->dir);
        uint64_t x = hers_be_get_u64(k.mv_data);
        if (x >= first + count)
            break;
        live[x - first] = 1;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store_mdb_error(s->db, rc, "slots");
    return HERS_OK;
}
