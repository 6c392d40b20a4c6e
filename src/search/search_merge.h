/*
 * search_merge.h - private plumbing for the store layer (src/store): indexes
 * summed from several galleries ("segments" enrolled at different times),
 * block-range views, result assembly, and gallery decryption for
 * compaction by the key holder. Shared with: store (scripts/check-layers).
 *
 * Everything here relies on linearity: the kernel form of a block is
 * t^2*C[b][i] in NTT form (or the lifted plaintext), so the kernel form of
 * C1 + C2 (two encryptions filling disjoint slots, zero elsewhere) is the
 * sum of their kernel forms, mod each prime.
 */
#ifndef HERS_SEARCH_MERGE_H
#define HERS_SEARCH_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_search.h"

/* An all-zero index of n templates (ceil(n/N) blocks) and d dimensions. */
hers_status hers_index_zero(const hers_params *p, hers_search_mode mode, size_t n, size_t d,
                            hers_index **out);

/* Sets the packing (and the quantisation scale the compact result needs)
 * an index built by the store (hers_index_zero) or a
 * result assembled from chunks (hers_result_zero) carries: the database's
 * (HERS_PACK_SLOT or HERS_PACK_COEFF; both start as slot). */
void hers_index_set_packing(hers_index *ix, hers_packing k, uint32_t scale);
void hers_result_set_packing(hers_result *r, hers_packing k, uint32_t scale);

/* Adds the kernel form of blocks [src_block, src_block + nb) of gallery g
 * into blocks [dst_block, dst_block + nb) of ix (same params, mode, d).
 * threads as in hers_index_build. */
hers_status hers_index_add_gallery(const hers_params *p, hers_index *ix, size_t dst_block,
                                   const hers_gallery *g, size_t src_block, size_t nb,
                                   unsigned threads);

/* A result of count probes over n templates, every ciphertext zero (3-part
 * BGV both-encrypted, 2-part BFV plain-gallery, all primes, NTT form as the
 * kernel emits). */
hers_status hers_result_zero(const hers_params *p, hers_search_mode mode, size_t count, size_t n,
                             size_t d, hers_result **out);

/* Copies the (probe, block) ciphertexts of src (blocks 0..B'-1) into dst at
 * blocks dst_block.. (same probes, params, mode). */
hers_status hers_result_place(hers_result *dst, size_t dst_block, const hers_result *src);

/* Key holder: decrypts every template of g into values (n x d, row-major,
 * centred integers). Used to compact a store (re-encrypting live rows). */
hers_status hers_gallery_decrypt(const hers_params *p, const hers_secret_key *sk,
                                 const hers_gallery *g, int32_t *values);

/* The gallery's at-rest kind is seed-compressed secret-key (1), public-key
 * (2) or plain (0). */
int hers_gallery_kind(const hers_gallery *g);

/* A gallery record read in place (a store segment mapped by LMDB): the
 * header checks of hers_gallery_deserialize, nothing copied, ids not parsed
 * (a segment's ids are unused); recs points into buf. The checksum is a
 * separate call so that a reader thread can verify ahead of the decoding;
 * residues are range-checked while the kernel form is built. */
typedef struct hers_gallery_ref {
    hers_search_mode mode;
    int kind;                  /* hers_gallery_kind */
    uint32_t version;          /* record format (1, 2) */
    size_t n, d, blocks;
    uint32_t scale;
    hers_packing packing;      /* slot or coeff (the record's field at 212) */
    size_t rec_bytes;
    const uint8_t *recs;       /* record (b, i) at (b d + i) rec_bytes */
    const uint8_t *buf;        /* the whole record, len bytes */
    size_t len;
} hers_gallery_ref;
hers_status hers_gallery_ref_parse(const hers_params *p, const void *buf, size_t len,
                                   hers_gallery_ref *out);
/* 1 if the record's checksum (BLAKE2b-256 or CRC-32, by version) matches. */
int hers_gallery_ref_checksum_ok(const hers_gallery_ref *g);

/* Blocks [src_block, src_block + nb) of a both-encrypted record feed blocks
 * [dst_block, dst_block + nb) of an index. */
typedef struct hers_index_part {
    const hers_gallery_ref *g;
    size_t src_block, dst_block, nb;
} hers_index_part;

/* Overwrites every block of a both-encrypted ix with the sum of the parts'
 * kernel forms (blocks no part covers become zero): the words
 * hers_index_zero + hers_index_add_gallery of each part would give, bit for
 * bit, decoded in place with `threads` workers (0 = online CPUs). Any
 * residue >= its prime: HERS_ERR_FORMAT. */
hers_status hers_index_fill(const hers_params *p, hers_index *ix, const hers_index_part *parts,
                            size_t nparts, unsigned threads);

/* Reuses ix for n templates (ceil(n / N) <= its current blocks): the tiles
 * are re-laid for the smaller block count (contents undefined until
 * filled). */
hers_status hers_index_reshape(hers_index *ix, size_t n);

/* The serialised gallery record (hers_gallery_serialize's bytes, default
 * ids) of an enrolment, encrypted straight into a caller-owned buffer that
 * is reused across calls (*buf / *cap grown with hers_alloc when too
 * small; hers_free it at the end): *len bytes, all but the trailing
 * checksum, which hers_gallery_record_seal writes (so that another thread
 * can hash one record while the next one is being encrypted). */
hers_status hers_gallery_enroll_record(const hers_params *p, const hers_secret_key *sk,
                                       const hers_public_key *pk, const int32_t *values, size_t n,
                                       size_t d, const hers_enroll_opts *opts, uint8_t **buf,
                                       size_t *cap, size_t *len);
void hers_gallery_record_seal(uint8_t *buf, size_t len);

#endif
