/*
 * store_check.c - hers_store_check: verifies every checksum and invariant of a
 * gallery database and reports each problem as one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "store/store_internal.h"

typedef struct checker {
    hers_store_problem_fn fn;
    void *user;
    uint64_t problems;
} checker;

static void problem(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(checker *c, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->problems++;
    if (c->fn)
        c->fn(c->user, line);
}

typedef struct seg_range {
    uint64_t first, end;   /* slots [first, end) */
} seg_range;

/* Index of the segment holding slot x, or -1. */
static long find_seg(const seg_range *r, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r[mid].end <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && r[lo].first <= x ? (long)lo : -1;
}

static uint64_t get_le(const uint8_t *b)
{
    uint64_t v = 0;
    for (int j = 0; j < 8; j++)
        v |= (uint64_t)b[j] << (8 * j);
    return v;
}

hers_status hers_store_check(hers_store *db, hers_store_problem_fn fn, void *user, uint64_t *problems)
{
    if (!db)
        return hers_error(HERS_ERR_ARG, "db check: NULL argument");
    checker c = {fn, user, 0};
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_state st;
    hers_status s = store_state_read(db, txn, &st);
    if (s != HERS_OK) {
        problem(&c, "%s", hers_last_error());
        mdb_txn_abort(txn);
        if (problems)
            *problems = c.problems;
        return HERS_OK;
    }
    size_t N = hers_params_n(db->p);
    size_t maxov = st.mode == HERS_MODE_PLAIN_GALLERY ? STORE_MAX_OVERLAP
                                                      : store_max_overlap(db->p, st.d);
    seg_range *segs = NULL;
    size_t nseg = 0, cap = 0;
    uint64_t enrolled = 0, prev_end = 0, cur_block = UINT64_MAX;
    size_t block_count = 0;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    /* ---- segments */
    if ((rc = mdb_cursor_open(txn, db->segs, &cur)) != 0) {
        s = store_mdb_error(db, rc, "segments");
        goto done;
    }
    uint64_t prev_key = 0, pay_end = 0, pay_prev = 0;
    int first = 1;
    if (store_payload_end_read(db, txn, &pay_end) != HERS_OK)
        problem(&c, "%s", hers_last_error());
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            problem(&c, "segments: key of %zu bytes (want 8)", k.mv_size);
            continue;
        }
        uint64_t key = hers_be_get_u64(k.mv_data);
        if (!first && key <= prev_key)
            problem(&c, "segment %llu: keys out of order", (unsigned long long)key);
        if (key >= st.next_segment)
            problem(&c, "segment %llu: key >= next_segment %llu", (unsigned long long)key,
                    (unsigned long long)st.next_segment);
        prev_key = key;
        store_seg sg;
        if (store_seg_decode(db, key, &v, &sg) != HERS_OK) {
            problem(&c, "%s", hers_last_error());
            first = 0;
            continue;
        }
        /* payloads in segments.dat: below the committed end, appended in
         * key order (so they cannot overlap) */
        if (sg.external) {
            uint64_t pe = sg.payload_off + sg.gallery_len;
            if (pe > pay_end)
                problem(&c, "segment %llu: payload ends at %llu, past the committed end %llu of "
                        "%s", (unsigned long long)key, (unsigned long long)pe,
                        (unsigned long long)pay_end, STORE_PAYLOAD_FILE);
            if (sg.payload_off < pay_prev)
                problem(&c, "segment %llu: payload at %llu overlaps the previous one (ends at "
                        "%llu)", (unsigned long long)key, (unsigned long long)sg.payload_off,
                        (unsigned long long)pay_prev);
            pay_prev = pe;
        }
        if (!first && sg.first_slot < prev_end)
            problem(&c, "segment %llu: slots %llu.. overlap the previous segment (ends at %llu)",
                    (unsigned long long)key, (unsigned long long)sg.first_slot,
                    (unsigned long long)prev_end);
        first = 0;
        if (sg.first_slot + sg.rows > st.next_slot)
            problem(&c, "segment %llu: slots %llu..%llu past next_slot %llu",
                    (unsigned long long)key, (unsigned long long)sg.first_slot,
                    (unsigned long long)(sg.first_slot + sg.rows - 1),
                    (unsigned long long)st.next_slot);
        prev_end = sg.first_slot + sg.rows;
        enrolled += sg.rows;
        /* blocks shared by consecutive segments */
        uint64_t fb = sg.first_block, lb = (sg.first_slot + sg.rows - 1) / N;
        block_count = fb == cur_block ? block_count + 1 : 1;
        if (block_count > maxov)
            problem(&c, "block %llu: %zu segments (noise bound allows %zu)",
                    (unsigned long long)fb, block_count, maxov);
        if (lb != fb)
            block_count = 1;
        cur_block = lb;
        hers_gallery *g = NULL;
        if (hers_gallery_deserialize(db->p, sg.gallery, (size_t)sg.gallery_len, &g) != HERS_OK) {
            problem(&c, "segment %llu: gallery: %s", (unsigned long long)key, hers_last_error());
        } else {
            if (!st.has_gallery || hers_gallery_n(g) != (size_t)sg.offset + sg.rows ||
                hers_gallery_d(g) != st.d || hers_gallery_scale(g) != st.scale ||
                hers_gallery_mode(g) != (hers_search_mode)st.mode ||
                hers_gallery_packing(g) != (hers_packing)st.packing)
                problem(&c,
                        "segment %llu: gallery shape (n %zu, d %zu, scale %u, %s, %s packing) "
                        "differs from its header / the database (n %u, d %u, scale %u, %s, %s "
                        "packing)",
                        (unsigned long long)key, hers_gallery_n(g), hers_gallery_d(g),
                        hers_gallery_scale(g), hers_search_mode_name(hers_gallery_mode(g)),
                        hers_packing_name(hers_gallery_packing(g)), sg.offset + sg.rows, st.d,
                        st.scale, hers_search_mode_name((hers_search_mode)st.mode),
                        hers_packing_name((hers_packing)st.packing));
            hers_gallery_free(g);
        }
        if (nseg == cap) {
            size_t nc = cap ? 2 * cap : 64;
            seg_range *ns = realloc(segs, nc * sizeof *ns);
            if (!ns) {
                s = hers_error(HERS_ERR_NOMEM, "db check: out of memory");
                goto done;
            }
            segs = ns;
            cap = nc;
        }
        segs[nseg].first = sg.first_slot;
        segs[nseg].end = sg.first_slot + sg.rows;
        nseg++;
    }
    if (rc != MDB_NOTFOUND)
        problem(&c, "segments: %s", mdb_strerror(rc));
    mdb_cursor_close(cur);
    cur = NULL;
    if (enrolled != st.enrolled)
        problem(&c, "state: enrolled = %llu but the segments hold %llu rows",
                (unsigned long long)st.enrolled, (unsigned long long)enrolled);
    /* ---- ids -> slots */
    uint64_t nids = 0;
    if ((rc = mdb_cursor_open(txn, db->ids, &cur)) != 0) {
        s = store_mdb_error(db, rc, "ids");
        goto done;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        nids++;
        char id[HERS_SEARCH_MAX_ID + 1];
        size_t il = k.mv_size <= HERS_SEARCH_MAX_ID ? k.mv_size : HERS_SEARCH_MAX_ID;
        memcpy(id, k.mv_data, il);
        id[il] = '\0';
        if (!store_id_valid(k.mv_data, k.mv_size)) {
            problem(&c, "ids: invalid id '%s' (%zu bytes)", id, k.mv_size);
            continue;
        }
        if (v.mv_size != 8) {
            problem(&c, "ids: '%s': slot record of %zu bytes (want 8)", id, v.mv_size);
            continue;
        }
        uint64_t slot = get_le(v.mv_data);
        if (slot >= st.next_slot)
            problem(&c, "ids: '%s' -> slot %llu >= next_slot %llu", id, (unsigned long long)slot,
                    (unsigned long long)st.next_slot);
        if (find_seg(segs, nseg, slot) < 0)
            problem(&c, "ids: '%s' -> slot %llu is in no segment", id, (unsigned long long)slot);
        uint8_t kb[8];
        hers_be_put_u64(kb, slot);
        MDB_val sk = {8, kb}, sv;
        int r2 = mdb_get(txn, db->slots, &sk, &sv);
        if (r2 != 0)
            problem(&c, "ids: '%s' -> slot %llu, but slots has no entry %llu", id,
                    (unsigned long long)slot, (unsigned long long)slot);
        else if (sv.mv_size != k.mv_size + 1 || memcmp(sv.mv_data, k.mv_data, k.mv_size) != 0 ||
                 ((const char *)sv.mv_data)[k.mv_size] != '\0')
            problem(&c, "ids: '%s' -> slot %llu, but slot %llu names another id", id,
                    (unsigned long long)slot, (unsigned long long)slot);
    }
    if (rc != MDB_NOTFOUND)
        problem(&c, "ids: %s", mdb_strerror(rc));
    mdb_cursor_close(cur);
    cur = NULL;
    /* ---- slots -> ids */
    uint64_t nslots = 0;
    if ((rc = mdb_cursor_open(txn, db->slots, &cur)) != 0) {
        s = store_mdb_error(db, rc, "slots");
        goto done;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        nslots++;
        if (k.mv_size != 8) {
            problem(&c, "slots: key of %zu bytes (want 8)", k.mv_size);
            continue;
        }
        uint64_t slot = hers_be_get_u64(k.mv_data);
        if (slot >= st.next_slot)
            problem(&c, "slots: slot %llu >= next_slot %llu", (unsigned long long)slot,
                    (unsigned long long)st.next_slot);
        else if (find_seg(segs, nseg, slot) < 0)
            problem(&c, "slots: slot %llu is in no segment", (unsigned long long)slot);
        if (v.mv_size < 2 || ((const char *)v.mv_data)[v.mv_size - 1] != '\0') {
            problem(&c, "slots: slot %llu: malformed id record", (unsigned long long)slot);
            continue;
        }
        MDB_val ik = {v.mv_size - 1, v.mv_data}, iv;
        int r2 = mdb_get(txn, db->ids, &ik, &iv);
        if (r2 != 0 || iv.mv_size != 8 || get_le(iv.mv_data) != slot)
            problem(&c, "slots: slot %llu -> '%s', but ids does not map it back",
                    (unsigned long long)slot, (const char *)v.mv_data);
    }
    if (rc != MDB_NOTFOUND)
        problem(&c, "slots: %s", mdb_strerror(rc));
    if (nids != st.live || nslots != st.live)
        problem(&c, "state: live = %llu, but ids has %llu and slots %llu entries",
                (unsigned long long)st.live, (unsigned long long)nids,
                (unsigned long long)nslots);
done:
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    free(segs);
    if (problems)
        *problems = c.problems;
    return s;
}
