/*
 * hers_store.h - the durable encrypted gallery database ("store"): an LMDB
 * environment in a directory holding the public parameters and keys, the
 * encrypted gallery as append-only segments, and the catalog (ids <-> slots,
 * deletions). Layout: docs/formats.md, "Gallery database (LMDB)"; design and
 * measurements: docs/design.md, "The store".
 *
 * Slots. Every enrolled template gets a slot number, 0.. next_slot - 1, in
 * enrolment order; slot x lives in block x / N, SIMD slot x mod N. A
 * segment is one enrolment: the gallery (hers_gallery) of its rows,
 * preceded by o = first_slot mod N zero rows so that it starts at a block
 * boundary; in the kernel's form a block is the sum of the blocks of every
 * segment covering it (linearity: each encryption is zero outside its own
 * slots), so an append never re-encrypts stored data. To bound the noise of
 * such sums, a block takes at most hers_store_max_overlap() segments; the next
 * append then starts at a fresh block (the rest of the block stays empty).
 *
 * Deletion removes the id <-> slot pair: search reports only slots present
 * in the catalog, so a deleted template is never returned again, from the
 * next snapshot on. The ciphertext stays until hers_store_compact.
 *
 * Secrets: nothing secret is ever written into the database. Enrolment
 * takes a secret key (seed-compressed secret-key encryption) or a public
 * key (anyone can enrol); compaction with a secret key (the key holder)
 * decrypts and re-encrypts in memory.
 *
 * Thread-safety and processes: LMDB semantics. Any number of processes may
 * open the same database; there is one writer at a time (write calls
 * serialise on LMDB's writer lock) and any number of readers, which never
 * block and never see a half-applied write (snapshots). A hers_store handle
 * may be used by several threads for reads (snapshots); write calls
 * (enroll, delete, compact) must not run concurrently on one handle. Use
 * one hers_store handle per process per database (LMDB forbids opening the
 * same environment twice in one process). Every write is one transaction,
 * durable when the call returns HERS_OK (fsync'ed); on any error nothing
 * has changed.
 *
 * Errors: HERS_ERR_IO (file system, LMDB), HERS_ERR_FORMAT / VERSION /
 * CHECKSUM (corrupt or foreign database), HERS_ERR_MISMATCH (keys, model,
 * dimension, scale or mode differ from the database's), HERS_ERR_EXISTS
 * (id clash, init over a non-empty directory), HERS_ERR_NOTFOUND (unknown
 * id, not a database), HERS_ERR_ARG, HERS_ERR_NOMEM. The library never
 * prints; messages name the directory.
 */
#ifndef HERS_STORE_H
#define HERS_STORE_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_search.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_STORE_FORMAT_VERSION 1
#define HERS_STORE_MAX_MODEL_ID 32   /* bytes of a recorded model id */

typedef struct hers_store hers_store;

/* Creates the database in dir (created with mode 0700 if missing; refused
 * if it exists and is not empty: HERS_ERR_EXISTS) from public material
 * only. rk may be NULL. model_id (model_id_len bytes, 0..32) may be NULL: it
 * then gets recorded at the first enrolment that names a model. */
HERS_API hers_status hers_store_create(const char *dir, const hers_params *p, const hers_public_key *pk,
                                    const hers_relin_key *rk, const uint8_t *model_id,
                                    size_t model_id_len);

/* Opens an existing database (validates the format, the meta records and
 * their checksums, that the file is not truncated). readonly: no writes
 * through this handle (and the directory may be read-only). */
HERS_API hers_status hers_store_open(const char *dir, int readonly, hers_store **out);
HERS_API void hers_store_close(hers_store *db);

/* The database's parameters and keys (owned by the handle). */
HERS_API const hers_params *hers_store_params(const hers_store *db);
HERS_API const hers_public_key *hers_store_public_key(const hers_store *db);
HERS_API const hers_relin_key *hers_store_relin_key(const hers_store *db);   /* NULL if none */
/* The gallery's Galois keys (public material for compact queries, uploaded
 * once per gallery): NULL if none stored. */
HERS_API const hers_galois_key *hers_store_galois_key(const hers_store *db);
/* Stores (replaces) them in one transaction; the handle then serves them.
 * HERS_ERR_MISMATCH for keys of another parameter set, HERS_ERR_STATE on a
 * read-only handle. */
HERS_API hers_status hers_store_put_galois_key(hers_store *db, const hers_galois_key *gk);

/* HERS_OK if sk is the secret key behind the database's public key (an
 * encryption under the public key decrypts correctly with sk), else
 * HERS_ERR_MISMATCH ("the secret key does not belong to ..."). Enrolment
 * and compaction with a secret key call it. */
HERS_API hers_status hers_store_check_secret_key(hers_store *db, const hers_secret_key *sk);

/* Largest number of segments that may share one block (noise bound of the
 * summed encryptions: docs/design.md), >= 1. */
HERS_API size_t hers_store_max_overlap(const hers_store *db);

typedef struct hers_store_info {
    uint32_t format;           /* HERS_STORE_FORMAT_VERSION */
    size_t N;                  /* slots per block */
    uint64_t t;
    size_t num_primes;
    double log_q;
    char params_name[32];      /* "" for a custom set */
    int has_gallery;           /* 0 until the first enrolment fixes d, scale, mode */
    size_t d;
    uint32_t scale;
    hers_search_mode mode;
    size_t model_id_len;       /* 0: no model recorded */
    uint8_t model_id[HERS_STORE_MAX_MODEL_ID];
    uint64_t next_slot;        /* slots used so far (live, deleted, padding) */
    uint64_t live;             /* templates that search can return */
    uint64_t enrolled;         /* rows stored in segments (live + deleted, not yet compacted) */
    uint64_t segments;
    uint64_t blocks;           /* ceil(next_slot / N): blocks a search scans */
    uint64_t payload_bytes;    /* bytes of the stored segments */
    uint64_t file_bytes;       /* size of data.mdb + the blocks segments.dat takes on disk */
    uint64_t used_bytes;       /* pages in use inside data.mdb */
    hers_packing packing;      /* slot or coeff; auto until the first enrolment of a
                                  database made with hers_store_set_packing(AUTO) */
} hers_store_info;

HERS_API hers_status hers_store_get_info(hers_store *db, hers_store_info *info);

/* ------------------------------------------------------------ writes */

/* The packing of the database's gallery (docs/design.md, "Shrinking the
 * download"): HERS_PACK_SLOT (what hers_store_create records, and what
 * databases made before the field existed read as), HERS_PACK_COEFF, or
 * HERS_PACK_AUTO (hers_packing_default of the d and scale of the first
 * enrolment, then fixed). Every enrolment encrypts in it and every record
 * enrolled must carry it (HERS_ERR_MISMATCH otherwise). Settable only while
 * the database holds no gallery (HERS_ERR_STATE after, unless unchanged). */
HERS_API hers_status hers_store_set_packing(hers_store *db, hers_packing packing);

typedef struct hers_store_enroll_opts {
    hers_search_mode mode;     /* must equal the database's once it has a gallery */
    uint32_t scale;            /* ditto; 1..HERS_QUANT_MAX_SCALE */
    unsigned threads;          /* encryption workers, 0 = online CPUs */
    int replace;               /* 1: an existing id is re-enrolled (old slot deleted) */
    const uint8_t *model_id;   /* NULL / 0 bytes: vectors not compressed by a model */
    size_t model_id_len;
    const uint8_t *seed;       /* NULL: CSPRNG. 32 bytes: deterministic (tests only) */
    uint32_t format;           /* segment gallery format: 0 = newest, 1 = the old
                                  ChaCha20/BLAKE2b records (tests) */
} hers_store_enroll_opts;

/* {both-encrypted, 125, 0, 0, NULL, 0, NULL, 0} */
HERS_API void hers_store_enroll_opts_default(hers_store_enroll_opts *o);

/* Appends m templates (row-major int32 m x d, quantised as for
 * hers_gallery_enroll) in one transaction. Exactly one of sk / pk non-NULL
 * for both-encrypted mode (both NULL for plain-gallery): sk must be the
 * secret key behind the database's public key (checked:
 * HERS_ERR_MISMATCH), pk normally hers_store_public_key(db) (a third party). ids: m distinct ids (valid for hers_id_problem) or NULL for the slot numbers as decimal strings. An id already in the
 * database is an error (HERS_ERR_EXISTS) unless opts->replace. The model id
 * must equal the recorded one (if the database records a model, a call
 * without one is refused too). *first_slot (may be NULL) receives the slot of
 * row 0; rows get consecutive slots. */
HERS_API hers_status hers_store_enroll(hers_store *db, const hers_secret_key *sk, const hers_public_key *pk,
                                    const int32_t *values, size_t m, size_t d, const char *const *ids,
                                    const hers_store_enroll_opts *opts, uint64_t *first_slot);

/* Appends templates encrypted elsewhere (a server receiving them from the
 * key holder or a third party): record is a serialised hers_gallery
 * (hers_gallery_serialize) of offset + m rows whose first `offset` rows
 * (offset < N) are encryptions of zero, then the m templates. Fully
 * validated (parameters, sizes, residues, checksum, mode and scale against
 * opts, then as hers_store_enroll: dimension, model, ids), then stored as one
 * segment, unchanged, at the first block b with b N + offset >= the next
 * free slot (the slots skipped stay empty). A client that asks for
 * offset = next_slot mod N wastes no slot unless another enrolment came
 * first. The server cannot check that the offset rows and the slots after
 * the m templates encrypt zeros: an enroller is trusted with the block it
 * writes into (docs/security.md). Otherwise as hers_store_enroll. */
HERS_API hers_status hers_store_enroll_record(hers_store *db, const void *record, size_t len, size_t offset,
                                           size_t m, const char *const *ids,
                                           const hers_store_enroll_opts *opts, uint64_t *first_slot);

/* Deletes count ids in one transaction; every id must exist
 * (HERS_ERR_NOTFOUND naming the first missing one, nothing deleted) and
 * appear once. */
HERS_API hers_status hers_store_delete(hers_store *db, const char *const *ids, size_t count);

typedef struct hers_store_compact_stats {
    uint64_t segments_before, segments_after;
    uint64_t slots_before, slots_after;   /* next_slot */
    uint64_t file_before, file_after;     /* data.mdb bytes + segments.dat blocks on disk */
    int shrunk;                            /* 1 if data.mdb was rewritten compactly */
    char not_shrunk[256];                  /* why not, when shrunk = 0 ("" if nothing to say) */
} hers_store_compact_stats;

/* Reclaims space. sk NULL (anyone): drops the segments none of whose slots
 * is live. sk given (key holder): decrypts every live template and
 * re-encrypts them densely (slots 0..live-1, enrolment order kept, ids kept)
 * into fresh segments, replacing all ciphertext data: deleted templates
 * are then physically gone and the slot space shrinks. The compaction is
 * one LMDB write transaction: it commits whole or not at all, and is safe
 * beside readers and writers in other processes. Then data.mdb is replaced
 * by a compacted copy (LMDB compacting copy, fsync, atomic rename) only if
 * no other handle in any process has the database open (the open lock,
 * DIR/hers.lock); otherwise, or when the copy fails (e.g. no space for it),
 * the call still succeeds with stats->shrunk = 0 and stats->not_shrunk
 * saying why, and LMDB reuses the freed pages for later writes. */
HERS_API hers_status hers_store_compact(hers_store *db, const hers_secret_key *sk, unsigned threads,
                                     hers_store_compact_stats *stats);

typedef struct hers_store_backup_stats {
    uint64_t catalog_bytes;    /* data.mdb of the copy (compacted) */
    uint64_t payload_end;      /* size of the copy's segments.dat (dense; 0: none) */
    uint64_t payload_copied;   /* payload bytes copied (payload_end less the 4 KiB padding) */
} hers_store_backup_stats;

/* A consistent copy of the database in out (created with mode 0700, or an
 * existing empty directory; else HERS_ERR_EXISTS), while readers and
 * writers in other processes go on: the catalog from a read snapshot
 * (LMDB's compacting copy), then the payloads that snapshot references,
 * written densely into the copy's segments.dat (its segment headers and
 * payload end rewritten to the new offsets), each fsync'ed, then the
 * directory. The
 * copy holds every enrolment committed before the call began (and perhaps
 * later ones); open it with hers_store_open and hers_store_check it. Works
 * on a read-only handle. On an error the partial copy in out is left for
 * the caller to remove. */
HERS_API hers_status hers_store_backup(hers_store *db, const char *out, hers_store_backup_stats *stats);

/* ------------------------------------------------------------ reads */

/* A consistent read-only view (an LMDB read transaction): concurrent writes
 * are invisible to it. Usable from any thread, one thread at a time; close
 * it soon (a long-lived snapshot keeps old pages from being reused). */
typedef struct hers_store_snapshot hers_store_snapshot;

HERS_API hers_status hers_store_snapshot_open(hers_store *db, hers_store_snapshot **out);
HERS_API void hers_store_snapshot_close(hers_store_snapshot *s);
/* Gallery shape of the snapshot (d = 0 before the first enrolment). */
HERS_API uint64_t hers_store_snapshot_slots(const hers_store_snapshot *s);    /* next_slot */
HERS_API uint64_t hers_store_snapshot_live(const hers_store_snapshot *s);
HERS_API size_t hers_store_snapshot_blocks(const hers_store_snapshot *s);
HERS_API size_t hers_store_snapshot_d(const hers_store_snapshot *s);
HERS_API uint32_t hers_store_snapshot_scale(const hers_store_snapshot *s);
HERS_API hers_search_mode hers_store_snapshot_mode(const hers_store_snapshot *s);
HERS_API hers_packing hers_store_snapshot_packing(const hers_store_snapshot *s);
/* *out = 1 if any segment of a both-encrypted snapshot was encrypted with
 * the public key (a third party's enrolment), else 0 (reads every segment
 * header, no payload). The query-form rule takes it as gallery_public
 * (hers_query_default_form). */
HERS_API hers_status hers_store_snapshot_public_key_encrypted(hers_store_snapshot *s, int *out);

/* Builds the kernel form of blocks [first_block, first_block + blocks)
 * (all segments' contributions summed; the index covers
 * min(blocks * N, next_slot - first_block * N) templates). Whole gallery:
 * (0, hers_store_snapshot_blocks). Every segment read is checksum-verified
 * (HERS_ERR_CHECKSUM / FORMAT naming the segment). Peak memory: the index
 * plus one decoded segment. */
HERS_API hers_status hers_store_snapshot_index(hers_store_snapshot *s, size_t first_block, size_t blocks,
                                            unsigned threads, hers_index **out);

/* ------------------------------------------------------------ search */

/* Searching a snapshot's gallery (what `hers search --db` and the
 * benchmarks run). The kernel form of the whole gallery is built and
 * scanned in one pass when it fits the memory budget; otherwise the blocks
 * are built and scanned in chunks ("streaming") and each chunk's result
 * blocks are placed into one result over every slot: the same ciphertexts,
 * bit for bit, either way. */
typedef struct hers_store_search_opts {
    /* Budget for the kernel-form index, bytes. 0: automatic, half the
     * physical RAM. A both-encrypted gallery with a full result or
     * on_chunk streams in chunks of at most ~256 MiB whatever the budget
     * (docs/design.md, "Streaming at disk speed"). */
    uint64_t max_index_bytes;
    /* Blocks per chunk; 0: as many as max_index_bytes allows (at least 1).
     * A value >= the gallery's blocks searches in one pass. */
    size_t chunk_blocks;
    unsigned threads;          /* index build workers, 0 = online CPUs */
    /* Result form (hers_search_opts); a streamed search supports only
     * HERS_RESULT_FULL (the chunks' results are placed as they come). */
    hers_search_opts search;
    /* 0: every segment's checksum (CRC-32; BLAKE2b-256 in format 1) is
     * verified before it is used (the default). 1: streamed searches skip
     * it (residues are still range checked, so a damaged segment gives
     * wrong scores for its own blocks, never a crash); `hers check`
     * verifies everything. */
    int skip_checksums;
    /* NULL: one result over every slot (*out). Otherwise each chunk's
     * result (blocks first_block.. of the gallery, i.e. slots first_block N
     * ..) is handed to on_chunk as soon as it is computed, in block order,
     * and freed when it returns; no result over the whole gallery is kept
     * (*out is NULL): a 100M-template result would take 5-7 GB. A nonzero
     * return stops the search with HERS_ERR_STATE. A search with on_chunk
     * may use any result form (opts->search), streamed or not. */
    int (*on_chunk)(void *user, size_t first_block, const hers_result *part);
    void *user;
    /* How a streamed search of a both-encrypted gallery reads the segments
     * (hers_store_io; 0 = HERS_STORE_IO_AUTO). Results never depend on it. */
    int io;
} hers_store_search_opts;

/* Streamed reads (docs/design.md, "Streaming at disk speed"): a reader
 * thread fetches the next chunk's segments into two reused buffers with
 * pread from the value's offset in data.mdb, on two threads (the checksum
 * of one segment overlaps the read of the next), while the workers build
 * and scan the current chunk. AUTO: O_DIRECT for a segment not wholly in
 * the page cache (mincore), a buffered read otherwise; DIRECT: O_DIRECT
 * always (buffered where the file system refuses it); BUFFERED: pread
 * through the page cache; MAP: the values read where LMDB maps them (page
 * faults, madvise WILLNEED ahead; the session-4 path, kept for comparison). */
typedef enum hers_store_io {
    HERS_STORE_IO_AUTO = 0,
    HERS_STORE_IO_DIRECT = 1,
    HERS_STORE_IO_BUFFERED = 2,
    HERS_STORE_IO_MAP = 3
} hers_store_io;

typedef struct hers_store_search_stats {
    size_t chunks;             /* 1: one pass over an index of the whole gallery */
    size_t chunk_blocks;       /* blocks per chunk */
    uint64_t index_bytes;      /* kernel-form bytes of the largest chunk */
    double build_seconds;      /* building kernel forms from the segments (wall) */
    double scan_seconds;       /* the fused kernel (wall) */
    double read_wait_seconds;  /* waiting for the reader thread (streamed, both-encrypted) */
    double total_seconds;      /* the whole call (wall) */
    uint64_t bytes_read;       /* segment bytes the search read (streamed, both-encrypted) */
    double chunk_cb_seconds;   /* inside on_chunk (counted in total_seconds too) */
    /* streamed, both-encrypted: */
    double list_seconds;       /* listing the segments (their headers) */
    double read_seconds;       /* the reader thread at work, summed over chunks (wall) */
    uint64_t bytes_direct;     /* segment bytes read with O_DIRECT */
    uint64_t bytes_buffered;   /* ... read through the page cache (pread or the map) */
    uint64_t bytes_reused;     /* ... of segments spanning two chunks, copied, not read again */
    uint64_t buffer_bytes;     /* the two read buffers */
} hers_store_search_stats;

/* {0, 0, 0, {HERS_RESULT_FULL, NULL}}. */
HERS_API void hers_store_search_opts_default(hers_store_search_opts *o);

/* Scores every probe of q against every slot of the snapshot (deleted and
 * padding slots included: hers_store_snapshot_live_map tells which to keep).
 * sr: a searcher (NULL: one is made with opts->threads). opts and stats may
 * be NULL. *out has hers_store_snapshot_slots(s) templates. */
HERS_API hers_status hers_store_search(hers_store_snapshot *s, hers_searcher *sr, const hers_query *q,
                                    const hers_store_search_opts *opts, hers_result **out,
                                    hers_store_search_stats *stats);

/* The id of a live slot (NUL-terminated, valid until the snapshot closes),
 * NULL if the slot is deleted, padding or out of range. */
HERS_API const char *hers_store_snapshot_id(hers_store_snapshot *s, uint64_t slot);

/* live[x] = 1 if slot first + x is live, else 0, for x < count. */
HERS_API hers_status hers_store_snapshot_live_map(hers_store_snapshot *s, uint64_t first, uint64_t count,
                                               uint8_t *live);

/* ------------------------------------------------------------ check */

/* One stored segment, verbatim (store_export.c): `rows` templates at slots
 * first_slot.. (deleted ones included: hers_store_snapshot_id gives NULL
 * for them), after `offset` = first_slot mod N zero rows; record is the
 * serialised hers_gallery of offset + rows rows exactly as stored, valid
 * while the snapshot is open. hers_store_enroll_record(other, record,
 * record_len, offset, rows, ids, ...) puts it into another database
 * unchanged (no key needed). */
typedef struct hers_store_segment {
    uint64_t key;          /* enrolment order */
    uint64_t first_slot;
    size_t offset;
    size_t rows;
    const uint8_t *record;
    size_t record_len;
} hers_store_segment;
typedef hers_status (*hers_store_segment_fn)(void *user, const hers_store_segment *seg);
/* Calls fn for every segment in key order; stops at fn's first error (returned). */
HERS_API hers_status hers_store_snapshot_segments(hers_store_snapshot *s, hers_store_segment_fn fn,
                                                  void *user);

/* Takes the database's open lock (DIR/hers.lock) exclusively for an offline
 * tool: HERS_ERR_STATE, naming the directory, while any other handle in any
 * process has it open (a running server). Kept until hers_store_close. */
HERS_API hers_status hers_store_claim(hers_store *db);

/* Called once per problem found, with one line of text (no newline). */
typedef void (*hers_store_problem_fn)(void *user, const char *problem);

/* Verifies every checksum and invariant (docs/formats.md): meta records,
 * every segment header and gallery (deserialised), segment geometry
 * (contiguous, within next_slot, mode / d / scale / params), ids <-> slots
 * bijection, slots < next_slot and covered by a segment, live count,
 * per-block overlap. *problems = number found (0: healthy). Returns an
 * error only if the check itself cannot run. */
HERS_API hers_status hers_store_check(hers_store *db, hers_store_problem_fn fn, void *user, uint64_t *problems);

#ifdef __cplusplus
}
#endif
#endif /* HERS_STORE_H */
