/*
 * store_internal.h - private definitions of the store layer: the LMDB
 * handles, the fixed-size records (state, segment header) and helpers.
 * Record layouts: docs/formats.md, "Gallery database (LMDB)".
 */
#ifndef HERS_STORE_INTERNAL_H
#define HERS_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bitpack.h"
#include "hers/hers_store.h"
#include "search/search_merge.h"

/* Virtual map size: the file only grows as pages are used. */
#define STORE_MAP_SIZE ((size_t)1 << 40)
/* A segment holds at most this many payload bytes (bounds the memory of
 * decoding one segment and the waste of streaming); at least one block. */
#define STORE_SEGMENT_BYTES ((uint64_t)8 << 20)
#define STORE_MAX_OVERLAP 64

#define STORE_STATE_BYTES 128
#define STORE_STATE_BODY 96
#define STORE_SEG_HEADER 80
#define STORE_SEG_BODY 48
#define STORE_HASH 32
/* Segment header versions: 1 = the payload follows the header in the LMDB
 * value (databases before session 9), 2 = the value is the header alone and
 * the payload lives in DIR/segments.dat at the offset of bytes 40..47. */
#define STORE_SEG_V_INLINE 1u
#define STORE_SEG_V_FILE 2u
#define STORE_PAYLOAD_FILE "segments.dat"
/* Payloads start at multiples of this (O_DIRECT's offset, length and buffer
 * alignment: the largest logical block size in use). */
#define STORE_PAYLOAD_ALIGN ((uint64_t)4096)

/* The "state" record of the meta database. */
typedef struct store_state {
    uint32_t has_gallery;    /* 0 until the first enrolment */
    uint32_t mode;           /* hers_search_mode */
    uint32_t scale;
    uint32_t d;
    uint64_t next_slot;
    uint64_t next_segment;   /* key of the next segment */
    uint64_t live;
    uint64_t enrolled;       /* rows held by segments */
    uint32_t model_len;
    uint32_t packing;        /* hers_packing: slot, coeff, or auto (only while
                                has_gallery = 0); offset 60, 0 in databases
                                made before the field existed */
    uint8_t model_id[HERS_STORE_MAX_MODEL_ID];
} store_state;

/* Decoded header of a segment value. */
typedef struct store_seg {
    uint64_t first_block;
    uint64_t first_slot;     /* slot of row 0 (after the o padding rows) */
    uint32_t offset;         /* o = first_slot - first_block * N */
    uint32_t rows;           /* m */
    uint64_t gallery_len;
    const uint8_t *gallery;  /* serialised hers_gallery (points into LMDB's map,
                                or into the map of segments.dat if external) */
    int external;            /* 1: header version 2, payload in segments.dat */
    uint64_t payload_off;    /* external: offset in segments.dat (aligned) */
} store_seg;

/* The payload file of a handle (store_payload.c). */
typedef struct store_payload {
    pthread_mutex_t mu;      /* guards opening and mapping */
    int fd;                  /* buffered descriptor (O_RDWR unless read-only), -1 */
    int fd_direct;           /* writer's O_DIRECT descriptor, -1 */
    int no_direct;           /* the file system refused O_DIRECT: buffered writes */
    int inline_writes;       /* HERS_STORE_PAYLOADS=lmdb: write version 1 segments */
    const uint8_t *map;      /* PROT_READ map of STORE_MAP_SIZE bytes, NULL */
    atomic_int mapped;
    _Atomic uint64_t size;   /* the file's size as last seen */
    /* the write transaction's appends (writers are serialised by LMDB) */
    int active, dirty;
    uint64_t wpos;           /* next payload offset */
    uint8_t *stage;          /* aligned staging buffer, NULL */
    /* the background syncer (store_payload.c): fdatasyncs the payloads
     * written so far while the transaction goes on (encryption of the next
     * segment, catalog), so the commit's own fdatasync finds little left */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    pthread_t sync_tid;
    int sync_started, sync_stop, sync_err;   /* sync_err: errno of a failed sync */
    uint64_t sync_req, sync_done;            /* requests made, requests served */
    uint64_t syncs_background;               /* fdatasyncs the syncer made */
    int sync_covered;        /* the transaction's last append asked for a sync */
    double t_commit_sync;    /* of t_commit: waiting for the syncer + the final fdatasync */
    uint64_t bytes_direct, bytes_buffered;
    /* where the last hers_store_enroll spent its wall time, seconds (read
     * by `hers bench store`): waiting for the encryption, writing the
     * payloads, the catalog (headers, ids, slots), the commit (fdatasync of
     * segments.dat, then LMDB's commit) */
    double t_wait, t_payload, t_catalog, t_commit;
} store_payload;

/* Free space under which a failed write (EIO from LMDB) is reported as a
 * full disk: LMDB needs at least a transaction's dirty pages. */
#define STORE_LOW_SPACE_BYTES ((uint64_t)4 << 20)

struct hers_store {
    MDB_env *env;
    MDB_dbi meta, ids, slots, segs;
    hers_params *p;
    hers_public_key *pk;
    hers_relin_key *rk;
    hers_galois_key *gk;   /* NULL if none */
    char *dir;
    int readonly;
    int lock_fd;           /* DIR/hers.lock, read-locked while open; -1 if none */
    store_payload *pay;    /* DIR/segments.dat */
};

struct hers_store_snapshot {
    hers_store *db;
    MDB_txn *txn;
    store_state st;
    MDB_cursor *slot_cur;
};

/* ---- the payload file (store_payload.c) */
hers_status store_payload_init(hers_store *db);
void store_payload_free(hers_store *db);
/* A view of [off, off + len) of segments.dat, checked against the file's
 * size (HERS_ERR_FORMAT naming segment `key` when it lies past the end). */
hers_status store_payload_view(const hers_store *db, uint64_t key, uint64_t off, uint64_t len,
                               const uint8_t **out);
int store_payload_fd(const hers_store *db);             /* -1 until a view or append */
const uint8_t *store_payload_map(const hers_store *db); /* file offset 0, NULL */
/* The committed end of the payloads (meta record "payload_end"; 0 if none). */
hers_status store_payload_end_read(hers_store *db, MDB_txn *txn, uint64_t *end);
/* Decodes the "payload_end" record's value (HERS_ERR_FORMAT naming dir). */
#define STORE_META_PAYLOAD_END "payload_end"
hers_status store_payload_end_decode(const char *dir, const MDB_val *v, uint64_t *end);
void store_payload_end_encode(uint8_t b[16], uint64_t end);
/* Call after beginning a write transaction that may append payloads. */
void store_payload_begin(hers_store *db);
int store_payload_inline(const hers_store *db);
/* Appends a payload (O_DIRECT where the file system allows it) at the next
 * aligned offset past the committed end (the first append of a transaction
 * truncates an uncommitted tail). *off: where it starts. */
hers_status store_payload_append(hers_store *db, MDB_txn *txn, const uint8_t *buf, size_t len,
                                 uint64_t *off);
/* fdatasync + the new end into txn, if the transaction appended. */
hers_status store_payload_commit(hers_store *db, MDB_txn *txn);
/* store_payload_commit, then mdb_txn_commit (aborts txn on a payload error). */
hers_status store_txn_commit(hers_store *db, MDB_txn *txn);
/* Punches holes where no committed segment points (the caller holds the
 * exclusive open lock: no snapshot anywhere references dropped payloads). */
hers_status store_payload_punch(hers_store *db, uint64_t *punched);
/* CLOCK_MONOTONIC seconds. */
double store_now(void);
/* Bytes segments.dat takes on disk (allocated blocks; 0 if absent). */
uint64_t store_payload_disk_bytes(const hers_store *db);

/* The checks liblmdb does not make (store_lmdb_check.c). check_file: both
 * meta pages of data.mdb (magic, version, page size, last page within the
 * file, free-list and main table roots), before LMDB maps the file;
 * *last_pg = the newest meta page's last page. check_tables: the MDB_db
 * records of the named tables (NULL-terminated names) in the main table,
 * before any of them is used. HERS_ERR_FORMAT naming dir on a bad value. */
hers_status store_lmdb_check_file(const char *dir, const char *data_path, uint64_t *last_pg);
hers_status store_lmdb_check_tables(const hers_store *db, MDB_txn *txn, uint64_t last_pg,
                                    const char *const *names);

/* Cross-process open lock (DIR/hers.lock, open-file-description record
 * locks, so two handles in one process exclude each other too): every open
 * handle holds a read lock; replacing data.mdb by a compacted copy needs the
 * write lock, i.e. no other handle anywhere. store_lock_open waits while a
 * compaction replaces the file. */
hers_status store_lock_open(hers_store *db, int readonly);
int store_lock_try_exclusive(hers_store *db);   /* 1 if taken (read lock kept otherwise) */
void store_lock_shared(hers_store *db);         /* write lock back to the read lock */
void store_lock_close(hers_store *db);

/* An LMDB error as a hers_status (HERS_ERR_IO, or FORMAT for MDB_CORRUPTED
 * and friends) with "dir: what: mdb message". */
hers_status store_mdb_error(const hers_store *db, int rc, const char *what);

void store_state_encode(const store_state *s, uint8_t out[STORE_STATE_BYTES]);
hers_status store_state_decode(const hers_store *db, const void *buf, size_t len, store_state *s);
hers_status store_state_read(hers_store *db, MDB_txn *txn, store_state *s);
hers_status store_state_write(hers_store *db, MDB_txn *txn, const store_state *s);

void store_seg_encode(const store_seg *s, uint8_t out[STORE_SEG_HEADER]);
/* Decodes and checks the header (magic, version, header checksum, geometry
 * against N); s->gallery points into val. Does not verify the gallery. */
hers_status store_seg_decode(const hers_store *db, uint64_t key, const MDB_val *val, store_seg *s);
/* The same for a cursor entry of the segments table: checks the key's
 * length (8, big-endian block key), gives the key (if key != NULL). */
hers_status store_seg_decode_entry(const hers_store *db, const MDB_val *k, const MDB_val *v,
                                   uint64_t *key, store_seg *s);
/* Blocks spanned by a segment: ceil((offset + rows) / N). */
uint64_t store_seg_blocks(const hers_store *db, const store_seg *s);

/* Segment keys are big-endian u64 (they sort numerically under memcmp):
 * hers_be_put_u64 / hers_be_get_u64, and every other field little-endian,
 * both from core/bitpack.h. */

/* Largest number of segments one block may take for dimension d. */
size_t store_max_overlap(const hers_params *p, size_t d);

/* 1 if the id (len bytes) is valid: 1..HERS_SEARCH_MAX_ID bytes, no tab,
 * CR, LF, NUL. */
int store_id_valid(const char *id, size_t len);

/* Writes one segment (rows m of d values starting at slot first_slot,
 * o = first_slot mod N zero rows first) and its catalog entries. ids[i]:
 * id of row i. Used by enrolment and compaction. */
hers_status store_put_segment(hers_store *db, MDB_txn *txn, store_state *st, const hers_secret_key *sk,
                              const hers_public_key *pk, const int32_t *values, size_t m,
                              size_t d, uint64_t first_slot, const char *const *ids,
                              const hers_enroll_opts *eo);

/* Writes a serialised gallery record (o = first_slot mod N zero rows, then
 * m templates) as the next segment, with its catalog entries (none if ids
 * is NULL: the caller writes them with store_put_catalog). */
hers_status store_put_record(hers_store *db, MDB_txn *txn, store_state *st, const uint8_t *ser,
                             size_t len, uint64_t first_slot, size_t m, const char *const *ids);

/* The catalog entries (ids -> slots, slots -> ids) of rows [0, m) at slots
 * first_slot + i. order: the ids' key order (store_sort_ids), NULL to
 * compute it; ids are inserted in it, appended when all sort after the
 * stored ones. */
hers_status store_put_catalog(hers_store *db, MDB_txn *txn, const char *const *ids,
                              const size_t *order, size_t m, uint64_t first_slot);
/* *order: the permutation putting ids in key order (free()), NULL when
 * they already ascend; HERS_ERR_EXISTS if one appears twice. */
hers_status store_sort_ids(const hers_store *db, const char *const *ids, size_t m, size_t **order);

/* Catalog helpers of enrolment and deletion (store_write.c): ids valid and
 * distinct; remove the pair of an id at `slot`; look an id up (1 found, 0
 * absent, -1 error in *err); segments already covering `block`. */
hers_status store_check_ids(const hers_store *db, const char *const *ids, size_t m);
hers_status store_unlink_id(hers_store *db, MDB_txn *txn, const char *id, uint64_t slot,
                            store_state *st);
int store_lookup_id(hers_store *db, MDB_txn *txn, const char *id, uint64_t *slot, hers_status *err);
hers_status store_count_overlap(hers_store *db, MDB_txn *txn, uint64_t block, size_t *count);

/* Blocks per segment for dimension d (>= 1). */
uint64_t store_segment_blocks(const hers_params *p, size_t d);

/* ---- segments as in-place views (store_segments.c) */
typedef struct store_segref {
    uint64_t key;
    store_seg h;
    hers_gallery_ref g;      /* both-encrypted only (plain: zeroed) */
    int ready;               /* bytes read (and checksum verified if asked) */
} store_segref;

/* Every segment of the snapshot in key (= slot) order, headers decoded and
 * checked against the state. *out: free(). */
hers_status store_segments_list(hers_store_snapshot *s, store_segref **out, size_t *count);
/* The run [*a, *b) of segments overlapping blocks [lo, hi). */
void store_segments_range(const hers_store *db, const store_segref *segs, size_t n, uint64_t lo,
                          uint64_t hi, size_t *a, size_t *b);
/* Reads segments [a, b) not yet ready into memory on `threads` threads
 * (madvise WILLNEED, then the checksum if verify, else a touch per page)
 * and marks them ready. HERS_ERR_CHECKSUM naming a bad segment. */
hers_status store_segments_read(const hers_store *db, store_segref *segs, size_t a, size_t b,
                                int verify, unsigned threads);
/* Marks a segment's pages as the first to evict (MADV_COLD). */
void store_segment_cold(const store_segref *r);
/* Both-encrypted: fills ix (blocks [first_block, first_block + blocks) of
 * the gallery, ix already shaped for them) from the segments. */
hers_status store_segments_index(hers_store_snapshot *s, store_segref *segs, size_t nseg,
                                 size_t first_block, size_t blocks, unsigned threads,
                                 int verify, hers_index *ix);

/* ---- the streamed search of a both-encrypted gallery (store_stream.c) */
/* Receives each chunk's result in block order (into the full result, or
 * the caller's on_chunk). */
typedef hers_status (*store_deliver_fn)(void *ctx, size_t first_block, const hers_result *part);
/* Blocks [0, blocks) in chunks of `chunk` blocks, read ahead by a reader
 * thread as opts->io says (hers_store_io), stats filled. */
hers_status store_stream_encrypted(hers_store_snapshot *s, hers_searcher *sr, const hers_query *q,
                                   const hers_store_search_opts *opts, size_t blocks, size_t chunk,
                                   store_deliver_fn deliver, void *dctx,
                                   hers_store_search_stats *stats);

/* dir + '/' + name, malloc'ed (NULL when out of memory; store_env.c). */
char *store_path_join(const char *dir, const char *name);

#endif
