/*
 * search_internal.h - private definitions of the search layer: the gallery
 * (at-rest form), the index (kernel form), queries, results, the thread pool.
 */
#ifndef HERS_SEARCH_INTERNAL_H
#define HERS_SEARCH_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bfv/bfv_kernel.h"
#include "core/bitpack.h"
#include "core/pool.h"
#include "hers/hers_bfv.h"
#include "hers/hers_modarith.h"
#include "hers/hers_search.h"
#include "search/search_kernel.h"

/* How a gallery's payload is stored, per (block, dimension) record. */
typedef enum gal_kind {
    GAL_PLAIN = 0,   /* N int16 LE values (plain-gallery mode) */
    GAL_SEEDED = 1,  /* 32-byte seed, then c0 bit-packed (secret-key encryption) */
    GAL_PUBLIC = 2   /* c0 then c1, bit-packed (public-key encryption) */
} gal_kind;

struct hers_gallery {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    size_t N, k;
    uint64_t t;
    uint64_t primes[HERS_MAX_PRIMES];
    hers_search_mode mode;
    gal_kind kind;
    uint32_t version;      /* record format: 1 ChaCha20 + BLAKE2b, 2 AES-256-CTR + CRC-32 */
    hers_packing packing;  /* template x in slot x or in coefficient x */
    size_t n, d, blocks;
    uint32_t scale;
    size_t rec_bytes;      /* bytes per record */
    uint8_t *recs;         /* blocks * d records, record (b, i) at (b*d + i)*rec_bytes */
    char *ids;             /* n NUL-terminated ids, back to back */
    size_t ids_bytes;      /* sum of (len + 1) */
    size_t *id_off;        /* n offsets into ids */
};

/* A gallery's header fields for p (ids and records not allocated); NULL
 * when out of memory. */
hers_gallery *gal_new(const hers_params *p, hers_search_mode mode, gal_kind kind, size_t n,
                      size_t d, uint32_t scale);
/* Bytes of one packed polynomial over all k primes. */
size_t gal_poly_bytes(const hers_params *p);
/* Record size for a kind. */
size_t gal_rec_bytes(const hers_params *p, gal_kind kind);
/* hers_gallery_enroll writing the records into recs (blocks * d *
 * rec_bytes bytes, borrowed: set g->recs = NULL before freeing g) when recs
 * is not NULL. */
hers_status gal_enroll(const hers_params *p, const hers_secret_key *sk, const hers_public_key *pk,
                       const int32_t *values, size_t n, size_t d, const hers_enroll_opts *opts,
                       uint8_t *recs, hers_gallery **out);
/* Default ids "0".."n-1". */
hers_status gal_default_ids(hers_gallery *g);
/* Validates an id (1..255 bytes, no tab/CR/LF/NUL). */
int gal_id_valid(const char *s, size_t len);

struct hers_index {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    hers_search_mode mode;
    size_t N, k, n, d, blocks, tiles;
    int narrow;            /* 1: narrow form (every q_j < 2^30), search_kernel.h */
    hers_packing packing;  /* the gallery's (slot for indexes built by the store) */
    uint32_t scale;        /* the gallery's quantisation scale (0 if unknown) */
    size_t tile_words;     /* words of one (tile, block) gallery tile */
    hers_kmod kmod[HERS_MAX_PRIMES];
    uint64_t *data;        /* tiles * blocks * tile_words, [s][b] order */
};

/* Allocates a zero-filled index of n templates x d dimensions (no checks of
 * n and d beyond allocation; callers validate). */
hers_status hers_index_alloc(const hers_params *p, hers_search_mode mode, size_t n, size_t d,
                             hers_index **out);

/* One probe ciphertext (BFV, NTT form, 2 parts, k primes) per (probe, dim). */
struct hers_query {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    size_t count, d;
    uint32_t scale;
    hers_ciphertext *cts;  /* count * d (full form); NULL when compact */
    /* compact form (query_compact.c): per (probe, chunk) a seed and the N
     * compressed c0 values; chunks = ceil(d / N) */
    int compact;
    size_t chunks;
    uint64_t *y;           /* count * chunks * 2N (hers_c0_compress layout) */
    uint8_t *seeds;        /* count * chunks * 32 */
    uint64_t *arena;       /* NULL, or the residues of every cts[i] (borrowed) */
};
#define HERS_QUERY_MAX_COUNT ((size_t)1 << 20)
/* A full-form query of count x d empty ciphertexts (query.c). */
hers_status hers_query_alloc(const hers_params *p, size_t count, size_t d, uint32_t scale,
                             hers_query **out);
hers_status hers_query_compact_alloc(const hers_params *p, size_t count, size_t d, uint32_t scale,
                                     hers_query **out);
/* Record body of a compact query (query_compact.c). */
size_t hers_query_compact_record_bytes(const hers_params *p, size_t count, size_t d);
uint8_t *hers_query_compact_pack(const hers_params *p, const hers_query *q, uint8_t *o);
hers_status hers_query_compact_unpack(const hers_params *p, const uint8_t *in, hers_query *q);

struct hers_result {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    hers_search_mode mode;
    size_t count, n, d, blocks;
    hers_ciphertext *cts;  /* count * blocks, (probe, block) at probe*blocks + block */
    uint64_t *arena;       /* NULL, or one block (hers_alloc) holding the residues
                              of every ciphertext (borrowed by them) */
    /* or (hers_search) one slab per probe, slabs[r] holding the residues of
     * probe r's blocks, each from the result pool (search.c), nslabs = count */
    struct hers_slab {
        uint64_t *a;
        size_t bytes;
    } *slabs;
    size_t nslabs;
    int compact;           /* read from a compact record: serialises as one */
    hers_packing packing;  /* the gallery's: how scores are decoded */
    uint32_t scale;        /* the gallery's scale (window record; 0 if unknown) */
    /* read from a window record (version 3, coefficient packing): per
     * (probe, block) N values Y0 mod 2^w0 then N values Y1 mod 2^w1; cts
     * hold no residues then */
    unsigned w0, w1;
    size_t win_primes;     /* L of the record's header */
    uint64_t *win;
    /* HERS_RESULT_COMPACT (hers_search): per (probe, block) the compact
     * record's body bytes, already rounded and packed: block b of probe c at
     * body + c * body_pstride + b * body_rec; cts hold no residues then.
     * body_mem: the allocation (NULL in a view, which borrows body). */
    uint8_t *body, *body_mem;
    size_t body_rec, body_pstride, body_bytes;
    size_t body_primes;    /* L of the record's header */
    uint32_t body_form;    /* the header's field at 84 (rounded or window, bits) */
    /* coefficient packing: the CRC-32 of each block's body bytes (probe c,
     * block b at body_crc[c * (body_pstride / body_rec) + b], offset like
     * body in a view), computed by the pass while the block is in cache;
     * owned with body_mem, borrowed by views. NULL: none. */
    uint32_t *body_crc;
};

/* The compact body of one result block (hers_result_serialize_compact's
 * bytes for it): setup once per result, then per block. */
typedef struct res_compact_plan {
    unsigned b0, b1, k0, k1;   /* rounding bits, kept bits per part */
    int window;
    size_t rec;                /* body bytes per block */
    uint32_t form;             /* header field 84 */
} res_compact_plan;
hers_status res_compact_plan_make(const hers_params *p, hers_packing packing, size_t d,
                                  uint32_t scale, res_compact_plan *pl);
/* ct: 2 parts x L primes in coefficient form; y: 2N words of scratch;
 * writes pl->rec bytes at o. */
hers_status res_compact_block(const hers_params *p, const res_compact_plan *pl, const hers_ciphertext *ct,
                              size_t L, uint64_t *y, uint8_t *o);
/* The 88-byte header of a result record (result.c's layout, also the range
 * records'): version, r's mode, probe count and d, n templates, then the
 * body's ciphertext shape (parts, primes, form, ntt_form) and body form. */
void res_put_header(const hers_params *p, const hers_result *r, uint32_t version, uint64_t n,
                    uint32_t parts, uint32_t primes, uint32_t form, uint32_t ntt_form,
                    uint32_t body, uint8_t *b);
/* The 88-byte header of a compact record (version 2 slot, 3 coefficient
 * packing) of r's probes, n templates, L primes, body form `form`. */
void res_compact_header(const hers_params *p, const hers_result *r, uint64_t n, size_t L,
                        uint32_t form, uint8_t *b);
/* The result pool (search.c): pieces of at least 4 MiB are kept for reuse. */
void *res_pool_get(size_t bytes, size_t *got);
void res_pool_put(void *a, size_t bytes);
/* Pieces of pooled size (from 4 MiB) the pool had to make fresh so far
 * (for tests: a pass that reuses kept memory makes none). */
size_t res_pool_fresh(void);

hers_status hers_result_alloc(const hers_params *p, hers_search_mode mode, size_t count, size_t n,
                              size_t d, hers_result **out);

/* The worker pool, hers_task_error and the thread-count rule: core/pool.h. */

struct hers_searcher {
    hers_pool *pool;
    uint64_t *probe;        /* probe-tile scratch, reused across searches */
    size_t probe_words;     /* its capacity */
    uint64_t *untile;       /* staged passes: a result ciphertext per worker, reused */
    size_t untile_words;    /* its capacity */
    hers_search_phases last; /* the last search's parts (hers_searcher_phases) */
};

/* Shared checks: params usable for search (batching, primes < 2^50). */
hers_status hers_search_check_params(const hers_params *p, hers_search_mode mode);

/* Bits a shrunk result keeps above t: modulus switching leaves a noise of
 * ~13 bits above t (rounding times the 3-part key, docs/design.md), so 28
 * keeps >= 15 bits of budget. */
#define HERS_RESULT_HEADROOM_BITS 28.0
/* Primes of a shrunk (modulus-switched) result: the fewest leading primes
 * whose product Q_L has log2 Q_L >= log2 t + HERS_RESULT_HEADROOM_BITS
 * (n4096: 1 prime of 50 bits; s4096: 2 of 30), at most k. */
size_t hers_search_result_primes(const hers_params *p);
/* Value checks of a row-major int32 matrix against (d, scale): range and
 * ||v||^2 <= hers_quant_score_bound(d, scale). */
hers_status hers_search_check_values(const int32_t *v, size_t rows, size_t d, uint32_t scale,
                                     const char *what);
hers_status hers_search_check_id(const hers_params *p, const uint8_t *id, const char *what);
/* A key's params id (hers_*_key_params_id) against p: HERS_ERR_MISMATCH
 * "WHAT belongs to a different parameter set" otherwise (constant time). */
hers_status hers_search_check_key(const hers_params *p, const uint8_t *key_id, const char *what);

/* Little-endian fields and residue bit-packing: core/bitpack.h. */
/* Packs without a bound check (core/bitpack.h, hers_bitpack). */
static inline void se_pack(uint8_t *out, const uint64_t *v, size_t n, int bits)
{
    (void)hers_bitpack(out, v, n, bits, UINT64_MAX);
}


/* Records (gallery file, query, result): BLAKE2b-256 of everything before
 * the last 32 bytes. */
#define SE_CHECKSUM_BYTES 32
void se_checksum(const uint8_t *buf, size_t len, uint8_t out[SE_CHECKSUM_BYTES]);
/* 1 if the last 32 bytes of buf[0, len) are the checksum of the rest. */
int se_checksum_ok(const uint8_t *buf, size_t len);
/* Gallery records: the trailer of format version 1 is se_checksum's
 * BLAKE2b-256; version 2 has the CRC-32 (zlib) of the preceding bytes in
 * its first 4 bytes (little-endian) and 28 zero bytes (docs/security.md:
 * both detect corruption only; neither is keyed). The expander of the
 * seeded c1: ChaCha20 (version 1) or AES-256-CTR (version 2). */
void gal_checksum(uint32_t version, const uint8_t *buf, size_t len,
                  uint8_t out[SE_CHECKSUM_BYTES]);
int gal_checksum_ok(uint32_t version, const uint8_t *buf, size_t len);
/* Result records (result.c): the trailer by the version at offset 8:
 * version 3 (coefficient packing) the gallery's CRC-32 trailer, versions 1
 * and 2 BLAKE2b-256 (docs/security.md). len includes the 32-byte trailer. */
void res_seal(uint8_t *buf, size_t len);
int res_checksum_ok(const uint8_t *buf, size_t len);
static inline hers_expander gal_expander(uint32_t version)
{
    return version >= 2 ? HERS_EXPAND_AES256 : HERS_EXPAND_CHACHA20;
}
/* Bytes of a packed polynomial over the first num_primes primes. */
size_t se_poly_bytes(const hers_params *p, size_t num_primes);
/* Packs / unpacks num_primes residue blocks; pack returns the end pointer,
 * unpack returns 1 if every residue is < its prime. */
uint8_t *se_pack_poly(const hers_params *p, const uint64_t *poly, size_t num_primes, uint8_t *out);
int se_unpack_poly(const hers_params *p, const uint8_t *in, size_t num_primes, uint64_t *poly);

#endif
