/*
 * store_segments.c - the segments of a snapshot as an array of in-place
 * views (read once per search, in key order = slot order), their checksums
 * verified on several threads or by a reader thread ahead of the decoding,
 * and the kernel form of a block range built from them without copying
 * (hers_index_fill). Plain-gallery segments take the general path
 * (deserialise + hers_index_add_gallery).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/pool.h"
#include "hers/hers_mem.h"
#include "search/search_merge.h"
#include "store/store_internal.h"

hers_status store_segments_list(hers_store_snapshot *s, store_segref **out, size_t *count)
{
    hers_store *db = s->db;
    *out = NULL;
    *count = 0;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(s->txn, db->segs, &c);
    if (rc)
        return store_mdb_error(db, rc, "segments");
    size_t n = 0, cap = 0;
    store_segref *arr = NULL;
    hers_status st = HERS_OK;
    /* A cold gallery: ask for every value's first page at once (LMDB
     * returns overflow values without touching them), so the headers
     * arrive in parallel instead of one page fault at a time. */
    long pg = sysconf(_SC_PAGESIZE);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && pg > 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *at = v.mv_data;
        size_t head = v.mv_size < 512 ? v.mv_size : 512;   /* both headers: 312 bytes */
        store_seg sg;
        /* a version 2 header: the gallery header is in segments.dat */
        if (k.mv_size == 8 && v.mv_size == STORE_SEG_HEADER &&
            store_seg_decode(db, hers_be_get_u64(k.mv_data), &v, &sg) == HERS_OK && sg.external) {
            at = sg.gallery;
            head = sg.gallery_len < 512 ? (size_t)sg.gallery_len : 512;
        }
        uintptr_t a = (uintptr_t)at & ~(uintptr_t)(pg - 1);
        madvise((void *)a, (uintptr_t)at + head - a, MADV_WILLNEED);
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && st == HERS_OK;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            st = hers_error(HERS_ERR_FORMAT, "%s: malformed segment key", db->dir);
            break;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            store_segref *na = realloc(arr, nc * sizeof *na);
            if (!na) {
                st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
                break;
            }
            arr = na;
            cap = nc;
        }
        store_segref *r = &arr[n];
        memset(r, 0, sizeof *r);
        r->key = hers_be_get_u64(k.mv_data);
        if ((st = store_seg_decode(db, r->key, &v, &r->h)) != HERS_OK)
            break;
        if (r->h.first_slot + r->h.rows > s->st.next_slot) {
            st = hers_error(HERS_ERR_FORMAT, "%s: segment %llu ends past the last slot", db->dir,
                            (unsigned long long)r->key);
            break;
        }
        if (s->st.mode == HERS_MODE_BOTH_ENCRYPTED) {
            st = hers_gallery_ref_parse(db->p, r->h.gallery, (size_t)r->h.gallery_len, &r->g);
            if (st != HERS_OK) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", hers_last_error());
                st = hers_error(st, "%s: segment %llu: %s", db->dir, (unsigned long long)r->key,
                                msg);
                break;
            }
            if (r->g.n != (size_t)r->h.offset + r->h.rows || r->g.d != s->st.d ||
                r->g.mode != (hers_search_mode)s->st.mode || r->g.scale != s->st.scale ||
                r->g.packing != (hers_packing)s->st.packing) {
                st = hers_error(HERS_ERR_FORMAT,
                                "%s: segment %llu: gallery shape differs from its header / the "
                                "database",
                                db->dir, (unsigned long long)r->key);
                break;
            }
        }
        n++;
    }
    if (st == HERS_OK && rc != 0 && rc != MDB_NOTFOUND)
        st = store_mdb_error(db, rc, "segments");
    mdb_cursor_close(c);
    if (st != HERS_OK) {
        free(arr);
        return st;
    }
    *out = arr;
    *count = n;
    return HERS_OK;
}

/* Segments overlapping blocks [lo, hi): indexes [*a, *b) of the array
 * (slot ranges ascend with the key, so the overlapping ones are a run). */
void store_segments_range(const hers_store *db, const store_segref *segs, size_t n, uint64_t lo,
                          uint64_t hi, size_t *a, size_t *b)
{
    size_t i = 0;
    while (i < n && segs[i].h.first_block + store_seg_blocks(db, &segs[i].h) <= lo)
        i++;
    size_t j = i;
    while (j < n && segs[j].h.first_block < hi)
        j++;
    *a = i;
    *b = j;
}

/* ---------------------------------------------------------- read ahead */

static void advise(const void *p, size_t len, int advice)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1), e = (uintptr_t)p + len;
    madvise((void *)a, e - a, advice);
}

/* Reads one segment's bytes into memory: the checksum when verifying
 * (that reads every byte), else one byte per page after asking the kernel
 * to read the whole value ahead. 0 on a checksum mismatch. */
static int read_segment(const store_segref *r, int verify)
{
    const uint8_t *b = r->h.gallery;
    size_t len = (size_t)r->h.gallery_len;
    advise(b, len, MADV_WILLNEED);
    if (verify)
        return r->h.gallery_len == 0 || hers_gallery_ref_checksum_ok(&r->g);
    long pg = sysconf(_SC_PAGESIZE);
    volatile uint8_t sink = 0;
    for (size_t o = 0; o < len; o += (size_t)pg)
        sink ^= b[o];
    sink ^= b[len - 1];
    (void)sink;
    return 1;
}

void store_segment_cold(const store_segref *r)
{
#ifdef MADV_COLD
    advise(r->h.gallery, (size_t)r->h.gallery_len, MADV_COLD);
#else
    (void)r;
#endif
}

struct verify_job {
    store_segref *segs;
    size_t a;
    int verify;
    atomic_size_t bad;      /* index + 1 of a failing segment, 0 if none */
};

/* One task per segment a + task (core/pool.h hers_parallel_for). */
static void verify_task(void *vj, size_t task, unsigned worker)
{
    struct verify_job *j = vj;
    (void)worker;
    size_t i = j->a + task;
    store_segref *r = &j->segs[i];
    if (r->ready)
        return;
    if (!read_segment(r, j->verify)) {
        size_t zero = 0;
        atomic_compare_exchange_strong(&j->bad, &zero, i + 1);
        return;
    }
    r->ready = 1;
}

hers_status store_segments_read(const hers_store *db, store_segref *segs, size_t a, size_t b,
                                int verify, unsigned threads)
{
    if (a >= b)
        return HERS_OK;
    struct verify_job j;
    j.segs = segs;
    j.a = a;
    j.verify = verify;
    atomic_init(&j.bad, 0);
    /* threads: hers_threads_resolve (0 = online CPUs), at most one per
     * segment; the caller's thread reads alone when no worker starts */
    hers_parallel_for(threads, b - a, verify_task, &j);
    size_t bad = atomic_load(&j.bad);
    if (bad)
        return hers_error(HERS_ERR_CHECKSUM, "%s: segment %llu: gallery: checksum mismatch "
                                             "(corrupted file)",
                          db->dir, (unsigned long long)segs[bad - 1].key);
    return HERS_OK;
}

/* ---------------------------------------------------------- building */

hers_status store_segments_index(hers_store_snapshot *s, store_segref *segs, size_t nseg,
                                 size_t first_block, size_t blocks, unsigned threads,
                                 int verify, hers_index *ix)
{
    hers_store *db = s->db;
    uint64_t lo = first_block, hi = (uint64_t)first_block + blocks;
    size_t a, b;
    store_segments_range(db, segs, nseg, lo, hi, &a, &b);
    hers_status st = store_segments_read(db, segs, a, b, verify, threads);
    if (st != HERS_OK)
        return st;
    hers_index_part *parts = malloc((b - a + 1) * sizeof *parts);
    if (!parts)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    size_t np = 0;
    for (size_t i = a; i < b; i++) {
        uint64_t sb = segs[i].h.first_block, se = sb + store_seg_blocks(db, &segs[i].h);
        uint64_t x = sb > lo ? sb : lo, y = se < hi ? se : hi;
        if (x >= y)
            continue;
        parts[np].g = &segs[i].g;
        parts[np].src_block = (size_t)(x - sb);
        parts[np].dst_block = (size_t)(x - lo);
        parts[np].nb = (size_t)(y - x);
        np++;
    }
    st = hers_index_fill(db->p, ix, parts, np, threads);
    if (st != HERS_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hers_last_error());
        st = hers_error(st, "%s: %s", db->dir, msg);
    }
    free(parts);
    return st;
}
