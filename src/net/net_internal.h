/* net_internal.h - private helpers of the net layer: a growable byte
 * buffer (writer), a bounds-checked reader, record checksums. */
#ifndef HERS_NET_INTERNAL_H
#define HERS_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_net.h"

#define NET_HASH 32

typedef struct net_buf {
    uint8_t *data;
    size_t len, cap;
    int failed;        /* an allocation failed: every later put is ignored */
} net_buf;

void net_buf_put(net_buf *b, const void *p, size_t n);
void net_buf_u32(net_buf *b, uint32_t v);
void net_buf_u64(net_buf *b, uint64_t v);
void net_buf_str(net_buf *b, const char *s);        /* no NUL */
void net_buf_printf(net_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON string literal with escapes. */
void net_buf_json_str(net_buf *b, const char *s);
/* Appends BLAKE2b-256 of the buffer so far; then moves it to *out (hers_alloc). */
hers_status net_buf_finish(net_buf *b, int checksum, uint8_t **out, size_t *len);
/* Grows the capacity to at least len + n bytes in one step (no zero-fill);
 * 0 ok, -1 out of memory (b->failed set). */
int net_buf_reserve(net_buf *b, size_t n);
void net_buf_free(net_buf *b);

typedef struct net_rd {
    const uint8_t *p;
    size_t len, pos;
} net_rd;

int net_rd_bytes(net_rd *r, const uint8_t **p, size_t n);   /* 0 ok, -1 short */
int net_rd_u32(net_rd *r, uint32_t *v);
int net_rd_u64(net_rd *r, uint64_t *v);

/* Checks magic (8 bytes), minimum length and the trailing checksum; on
 * success r covers the body between the magic and the checksum. */
hers_status net_rd_open(net_rd *r, const void *buf, size_t len, const char *magic,
                        const char *what);
/* The same for a record readable in versions vmin..vmax (*version: the one
 * read); the trailing checksum is verified for versions below plain_from
 * only (from it on, the caller checks its own rule). */
hers_status net_rd_open_v(net_rd *r, const void *buf, size_t len, const char *magic,
                          const char *what, uint32_t vmin, uint32_t vmax, uint32_t plain_from,
                          uint32_t *version);

/* Buffers kept for reuse (bufpool.c): net_pool_alloc(n) gives at least n
 * bytes (not zeroed), freed with net_pool_free (= hers_net_free). */
void *net_pool_alloc(size_t n);
void net_pool_free(void *p);
size_t net_pool_cap(const void *p);

/* HERSRSP version 2 (response.c): the parts (block ranges of res[i], whose
 * first block in the gallery is first_block[i]) packed and checksummed on
 * `threads` workers into one buffer from the pool (hers_net_free). */
hers_status net_response_encode2(const hers_params *p, unsigned threads, int compact,
                                 uint32_t scale, size_t d, size_t count, uint64_t slots,
                                 size_t chunks, const size_t *first_block,
                                 const hers_result *const *res, size_t live, const uint8_t *cat,
                                 size_t cat_len, uint64_t cat_version, int with_cat,
                                 uint8_t **buf, size_t *len);
/* A search answer as pieces (hers_service_search_pieces). */
struct hers_net_answer {
    hers_net_piece *pc;
    size_t npc, len;          /* pieces, bytes in all */
    uint8_t *own;             /* bytes the answer owns (the pieces point into it) */
    void (*own_free)(void *); /* how to free own */
    void (*release)(void *);  /* called with owner when the answer is freed */
    void *owner;              /* (the pass whose results the pieces point into) */
};
/* HERSRSP version 2 as pieces: the parts of net_response_encode2 (same
 * bytes), the compact bodies pointing into res (every result packed by the
 * search in coefficient packing, else HERS_ERR_UNSUPPORTED), the catalog
 * into cat (with_cat): res and cat must live as long as the answer. */
hers_status net_response_pieces2(const hers_params *p, unsigned threads, uint32_t scale, size_t d,
                                 size_t count, uint64_t slots, size_t chunks,
                                 const size_t *first_block, const hers_result *const *res,
                                 size_t live, const uint8_t *cat, size_t cat_len,
                                 uint64_t cat_version, int with_cat, hers_net_answer **out);
/* An answer of one piece owning rec (freed with fr, also on failure). */
hers_status net_answer_flat(uint8_t *rec, size_t len, void (*fr)(void *), hers_net_answer **out);
/* The version-2 checksum of the record's first len bytes (all but the
 * trailing checksum): 0, or -1 if its parts do not fit in len. */
int net_rsp2_digest(const uint8_t *b, size_t len, uint8_t out[NET_HASH]);

/* 1 if the id is valid (1..255 bytes, no tab, CR, LF, NUL). */
int net_id_valid(const char *s, size_t len);

/* Search response record (HERSRSP): parts results (part i covers blocks
 * from first_block[i]), then the catalog: live (slot, id) pairs, slots
 * ascending, given already encoded as the record carries it (cat, cat_len:
 * per entry u64 slot, u8 id length, id bytes; built once per gallery state).
 * rsp_version 1: the catalog always follows (no catalog version);
 * rsp_version 2: the catalog version, then the catalog only if with_cat.
 * The record is written into one buffer of its exact size (malloc, no
 * zero-fill; free with hers_free). */
hers_status net_response_encode(const hers_params *p, int compact, uint32_t scale, size_t d,
                                size_t count, uint64_t slots, size_t parts,
                                const size_t *first_block, const hers_result *const *res,
                                size_t live, const uint8_t *cat, size_t cat_len,
                                unsigned rsp_version, uint64_t cat_version, int with_cat,
                                uint8_t **buf, size_t *len);

/* Catalog record (HERSCAT) of a gallery state: header, the entries as
 * HERSRSP carries them (cat, cat_len), checksum; one exact-size malloc. */
hers_status net_catalog_encode(uint64_t cat_version, uint64_t slots, size_t live,
                               const uint8_t *cat, size_t cat_len, uint8_t **buf, size_t *len);

/* Appends one catalog entry in the HERSRSP form to cat (capacity checked by
 * the caller); returns the bytes written (9 + id length). */
size_t net_catalog_put(uint8_t *cat, uint64_t slot, const char *id, size_t id_len);

#endif
