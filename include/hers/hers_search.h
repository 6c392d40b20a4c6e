/*
 * hers_search.h - the HERS encrypted search engine: enrol a gallery packed
 * dimension-major, encrypt probes, search with the fused kernel, decrypt and
 * rank the scores.
 *
 * Roles and objects
 *   key holder  creates the keys (hers_bfv.h), enrols the gallery
 *               (hers_gallery_enroll), encrypts probes (hers_query_encrypt),
 *               decrypts results (hers_result_decrypt) and ranks them
 *               (hers_top_k, hers_threshold). A third party may enrol with
 *               the public key only.
 *   server      holds the gallery (file, hers_gallery_write/read), builds
 *               its in-memory kernel form (hers_index_build) and searches
 *               (hers_search). It never sees a secret key, a decrypted
 *               score or a noise budget: never send those back to it.
 *
 * Packing (dimension-major). Gallery rows 0..n-1 (templates, d integer
 * components each) are cut into blocks of N = hers_params_n() rows; block b
 * holds rows b*N .. b*N+N-1 (the last block is partial: its empty slots are
 * zero and never reported). Ciphertext C[b][i] batch-encodes component i of
 * the block's N rows, one per slot. A probe p is d ciphertexts P[i], each
 * encrypting the constant p_i (the same value in every slot). The result of
 * block b decrypts, slot x, to the integer inner product <g_{bN+x}, p>.
 *
 * Modes
 *   HERS_MODE_BOTH_ENCRYPTED: gallery and probe encrypted (the HERS
 *     protocol). Needs parameters with Q = 1 (mod t) (every named set).
 *     Multiplying a BFV ciphertext by t gives a BGV-form ciphertext of -m
 *     (t*Delta = Q - 1 = -1 mod Q); the server sums the plain tensor products
 *     (t P[i]) x (t C[b][i]) = P[i] x (t^2 C[b][i]) in the NTT domain (the
 *     index stores t^2 C): no base extension, no scale-and-round, no
 *     relinearisation. Result: a 3-part HERS_FORM_BGV
 *     ciphertext per block (docs/design.md, "Encrypted search: the fused
 *     kernel and its noise").
 *   HERS_MODE_PLAIN_GALLERY: the gallery is plaintext on the server (encoded
 *     and lifted into NTT form mod Q); only the probe is encrypted.
 *     Result: a 2-part HERS_FORM_BFV ciphertext per block.
 *
 * Exactness. Scores are exact integers when every |<g, p>| <= (t-1)/2.
 * Enrolment and probe encryption check this: the quantisation scale s must
 * pass hers_quant_check(d, s, t) (hers_quant.h: the one no-wrap bound), every gallery
 * row and probe must satisfy ||v||^2 <= hers_quant_score_bound(d, s) (true
 * for hers_quant outputs), so |<g, p>| <= ||g|| ||p|| <= bound < t/2
 * (Cauchy-Schwarz). The noise bound
 * (docs/design.md) holds for d <= HERS_SEARCH_MAX_D.
 *
 * Ranges: d in 1..HERS_SEARCH_MAX_D (1024); n in 1..HERS_SEARCH_MAX_N;
 * components |v_i| <= s <= HERS_QUANT_MAX_SCALE; the parameter set's primes
 * must be < 2^50 and t must allow batching.
 *
 * Ownership: every hers_*_create/enroll/encrypt/build/search/read function
 * returns a new object owned by the caller, freed with the matching *_free
 * (which accept NULL). Objects keep no pointer to the hers_params they were
 * made with, but every function that takes both checks that they match
 * (HERS_ERR_MISMATCH); the params must outlive no object.
 *
 * Thread-safety: galleries, indexes, queries and results are immutable after
 * creation and may be read by many threads at once. A hers_searcher (thread
 * pool) runs one hers_search at a time: use one searcher per concurrent
 * caller. Functions taking `threads` start their own workers (0 = all online
 * CPUs). Results do not depend on the thread count or the SIMD level.
 */
#ifndef HERS_SEARCH_H
#define HERS_SEARCH_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_quant.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_SEARCH_MAX_D 1024
#define HERS_SEARCH_MAX_N ((size_t)1 << 32)
#define HERS_SEARCH_MAX_ID 255        /* bytes per template id */

/* Versions of the records this module writes (docs/formats.md); readers of
 * the result record accept versions 1 (full) and 2 (compact) of slot-packed
 * results and version 3 (every body form) of coefficient-packed ones. */
/* Gallery file / record: version 2 (AES-256-CTR expander of the seeded c1,
 * CRC-32 trailer) is written; version 1 (ChaCha20, BLAKE2b-256) is read. */
#define HERS_GALLERY_FILE_VERSION 2
#define HERS_QUERY_RECORD_VERSION 1
#define HERS_RESULT_RECORD_VERSION 3

/* The no-wrap bound, its check and the default scale are hers_quant.h's
 * (hers_quant_score_bound, hers_quant_check, hers_quant_default_scale):
 * one implementation, one set of constants (HERS_QUANT_MAX_SCALE). */

typedef enum hers_search_mode {
    HERS_MODE_BOTH_ENCRYPTED = 0,
    HERS_MODE_PLAIN_GALLERY = 1
} hers_search_mode;

/* Where a gallery plaintext puts template x of a block (docs/design.md,
 * "Shrinking the download"): in slot x (batch encoding through the NTT mod
 * t; a result's plaintext coefficients are then uniform mod t), or in
 * coefficient x (no NTT mod t; the probe encrypts constant polynomials, so
 * result coefficient x is score x, a small signed integer, and the compact
 * result record needs only a low-bit window of each coefficient). */
typedef enum hers_packing {
    HERS_PACK_SLOT = 0,
    HERS_PACK_COEFF = 1,
    HERS_PACK_AUTO = 2   /* a database's choice before its first enrolment:
                            hers_packing_default of the d and scale it brings */
} hers_packing;
/* "slot", "coeff", "auto" (the parser takes the three; enrolment of a
 * gallery takes slot or coeff only). */
HERS_API const char *hers_packing_name(hers_packing k);
HERS_API hers_status hers_packing_parse(const char *s, hers_packing *out);
/* The packing rule (docs/design.md, "Shrinking the download"): coefficient
 * where the compact result's low-bit window applies for d and the scale
 * (hers_result_window_bits: narrower than b1, q_0 > N 2^(w1+1)), i.e. where
 * it shrinks the download; slot otherwise. A gallery database records its
 * packing in its state (hers_store_set_packing, hers init --packing). */
HERS_API hers_packing hers_packing_default(const hers_params *p, size_t d, uint32_t scale);

/* "both-encrypted", "plain-gallery". */
HERS_API const char *hers_search_mode_name(hers_search_mode m);
HERS_API hers_status hers_search_mode_parse(const char *s, hers_search_mode *out);

/* Predicted remaining noise budget (bits, as hers_noise_budget measures it:
 * log2(Q/2) - log2 of the noise magnitude) of a full (unshrunk) search
 * result for dimension d: *worst_bits from the worst-case (infinity-norm)
 * bound, *heuristic_bits from the central-limit estimate at 6 standard
 * deviations; gallery_public / probe_public: 1 if that side was encrypted
 * with the public key (secret-key encryption otherwise; ignored for the
 * plain gallery). Derivation: docs/design.md, "Encrypted search: the fused
 * kernel and its noise". Enrolment refuses a d whose worst case is < 1 bit. */
HERS_API hers_status hers_search_noise_bound(const hers_params *p, hers_search_mode mode, size_t d,
                                             int gallery_public, int probe_public, double *worst_bits,
                                             double *heuristic_bits);

/* Template ids: 1..HERS_SEARCH_MAX_ID bytes of valid UTF-8 (shortest
 * forms, no surrogates, <= U+10FFFF) without control characters (U+0000..
 * U+001F, U+007F: tab, CR, LF, NUL among them), so an id can always be
 * printed as one TSV field. NULL if id[0..len) is valid, else a short
 * reason ("empty", "longer than 255 bytes", "control character",
 * "invalid UTF-8"). */
HERS_API const char *hers_id_problem(const char *id, size_t len);

/* ------------------------------------------------------------ gallery */

typedef struct hers_gallery hers_gallery;  /* opaque, immutable once built */

typedef struct hers_enroll_opts {
    hers_search_mode mode;
    uint32_t scale;          /* quantisation scale s of the values (1..32767) */
    unsigned threads;        /* encryption workers, 0 = online CPUs */
    const uint8_t *seed;     /* NULL: fresh CSPRNG randomness. Else a 32-byte
                                master seed: deterministic output (tests only) */
    uint32_t format;         /* gallery format to write: 0 = the newest
                                (HERS_GALLERY_FILE_VERSION), 1 = version 1
                                (ChaCha20 expander, BLAKE2b: tests of old
                                databases and files) */
    hers_packing packing;    /* HERS_PACK_SLOT (default) or HERS_PACK_COEFF */
} hers_enroll_opts;

/* Fills {both-encrypted, 125, 0, NULL, 0}. */
HERS_API void hers_enroll_opts_default(hers_enroll_opts *o);

/* Enrols n templates of d quantised components (row-major int32, values in
 * [-scale, scale], each row with ||v||^2 <= hers_quant_score_bound(d, s)).
 * Both-encrypted mode: exactly one of sk (secret-key encryption, seed-
 * compressed: at rest c0 and a 32-byte seed per ciphertext, ~12.5 bytes per
 * template x dimension for two 50-bit primes) and pk (public-key encryption,
 * for a third party: c0 and c1, twice that) must be non-NULL. Plain-gallery
 * mode: both NULL (values kept as int16). Template ids default to the row
 * numbers "0".."n-1" (hers_gallery_set_ids to change them).
 * Errors: HERS_ERR_ARG (ranges, row norms, keys), HERS_ERR_PARAMS (t too
 * small for d and s, no batching, primes >= 2^50, Q != 1 mod t),
 * HERS_ERR_MISMATCH (key of other parameters), HERS_ERR_NOMEM. */
HERS_API hers_status hers_gallery_enroll(const hers_params *p, const hers_secret_key *sk,
                                         const hers_public_key *pk, const int32_t *values, size_t n,
                                         size_t d, const hers_enroll_opts *opts, hers_gallery **out);
HERS_API void hers_gallery_free(hers_gallery *g);

/* Replaces the ids: n strings valid for hers_id_problem; all distinct.
 * Copied. */
HERS_API hers_status hers_gallery_set_ids(hers_gallery *g, const char *const *ids, size_t n);
HERS_API const char *hers_gallery_id(const hers_gallery *g, size_t index);  /* NULL if out of range */

HERS_API size_t hers_gallery_n(const hers_gallery *g);
HERS_API size_t hers_gallery_d(const hers_gallery *g);
HERS_API size_t hers_gallery_blocks(const hers_gallery *g);        /* ceil(n / N) */
HERS_API hers_search_mode hers_gallery_mode(const hers_gallery *g);
HERS_API uint32_t hers_gallery_scale(const hers_gallery *g);
HERS_API int hers_gallery_public_key_encrypted(const hers_gallery *g);
HERS_API hers_packing hers_gallery_packing(const hers_gallery *g);
/* Bytes of the encrypted (or plain) payload at rest, ids and headers excluded. */
HERS_API uint64_t hers_gallery_payload_bytes(const hers_gallery *g);

/* Gallery file (docs/formats.md, "Gallery file"): versioned, explicit
 * little-endian, residues bit-packed, BLAKE2b-256 checksum. The reader
 * validates everything (sizes against the file length before allocating,
 * parameters, ranges, ids, checksum) and never crashes on malformed input:
 * HERS_ERR_FORMAT / VERSION / CHECKSUM / MISMATCH / IO / NOMEM. Writing is
 * atomic (temporary file + rename). */
HERS_API hers_status hers_gallery_write(const char *path, const hers_params *p, const hers_gallery *g);
HERS_API hers_status hers_gallery_read(const char *path, const hers_params *p, hers_gallery **out);
/* The same record in memory (for tests, fuzzing and transport). *buf is
 * allocated with hers_alloc (hers_free it). */
HERS_API hers_status hers_gallery_serialize(const hers_params *p, const hers_gallery *g, uint8_t **buf,
                                            size_t *len);
HERS_API hers_status hers_gallery_deserialize(const hers_params *p, const void *buf, size_t len,
                                              hers_gallery **out);
/* A new gallery of the listed blocks of g (ascending; g's last block, which
 * may be partial, only last), their records copied unchanged, ids "0".."n-1".
 * The cluster (hers_cluster.h) sends each shard its blocks of an enrolment. */
HERS_API hers_status hers_gallery_take_blocks(const hers_params *p, const hers_gallery *g,
                                              const size_t *blocks, size_t count,
                                              hers_gallery **out);

/* ------------------------------------------------------------ server index */

/* The gallery in the kernel's form: t^2 C[b][i] (or the lifted plaintext), NTT
 * form mod every q_j, tiled for the kernel. 32 bytes per template x dimension
 * both-encrypted with two primes (16 plain-gallery). */
typedef struct hers_index hers_index;

HERS_API hers_status hers_index_build(const hers_params *p, const hers_gallery *g, unsigned threads,
                                      hers_index **out);
HERS_API void hers_index_free(hers_index *ix);
HERS_API uint64_t hers_index_bytes(const hers_index *ix);
HERS_API size_t hers_index_n(const hers_index *ix);
HERS_API size_t hers_index_d(const hers_index *ix);
HERS_API hers_search_mode hers_index_mode(const hers_index *ix);

/* Benchmarks only: an index of n x d uniformly random residues (no
 * encryption, nothing decrypts), to time the kernel on galleries too large
 * to enrol in a benchmark run. */
HERS_API hers_status hers_index_random(const hers_params *p, hers_search_mode mode, size_t n, size_t d,
                                       uint64_t seed, hers_index **out);

/* ------------------------------------------------------------ queries */

/* `count` encrypted probes of d components each (d ciphertexts per probe,
 * seed-compressed when secret-key encrypted). */
typedef struct hers_query hers_query;

/* Encrypts count probes (row-major int32 count x d, same value rules as the
 * gallery, scale s). Exactly one of sk, pk non-NULL. seed: NULL for fresh
 * randomness, or a 32-byte seed (tests). The count * d ciphertexts are
 * encrypted on a pool of one worker per online CPU; each has its own PRG
 * stream of the seed, so a seeded output does not depend on the schedule. */
HERS_API hers_status hers_query_encrypt(const hers_params *p, const hers_secret_key *sk,
                                        const hers_public_key *pk, const int32_t *probes, size_t count,
                                        size_t d, uint32_t scale, const uint8_t *seed, hers_query **out);
HERS_API void hers_query_free(hers_query *q);
HERS_API size_t hers_query_count(const hers_query *q);
HERS_API size_t hers_query_d(const hers_query *q);
HERS_API uint32_t hers_query_scale(const hers_query *q);
/* One query holding the probes of qs[0..n-1] in order (same parameters, d
 * and scale, expanded form; the ciphertexts are copied): a server scans
 * concurrent queries in one pass (each gallery tile read once for all
 * their probes). */
HERS_API hers_status hers_query_concat(const hers_query *const *qs, size_t n, hers_query **out);
/* The same batch without copying: its ciphertexts borrow the residues of
 * qs[i], which must outlive it and stay unchanged (free it first). */
HERS_API hers_status hers_query_concat_view(const hers_query *const *qs, size_t n,
                                            hers_query **out);
/* Upload record (versioned, checksummed; docs/formats.md "Query and result");
 * either form (the kind field). hers_search refuses a compact query. */
HERS_API hers_status hers_query_serialize(const hers_params *p, const hers_query *q, uint8_t **buf,
                                          size_t *len);
HERS_API hers_status hers_query_deserialize(const hers_params *p, const void *buf, size_t len,
                                            hers_query **out);
/* The same into *q's buffers when *q (from an earlier call, or NULL) has
 * the record's form, probe count and d: a server worker reuses them, with no
 * allocation, zero-filling or page faults per query; otherwise *q is freed
 * and replaced. On error *q is freed and set to NULL. */
HERS_API hers_status hers_query_deserialize_into(const hers_params *p, const void *buf, size_t len,
                                                 hers_query **q);

/* ------------------------------------------------------------ compact queries */
/* Query forms (the record's kind field carries it):
 *   HERS_QUERY_FULL: d ciphertexts per probe (hers_query_encrypt): no
 *     Galois keys, the most noise margin, ~51 KB per dimension at n4096.
 *   HERS_QUERY_COMPACT: one ciphertext per N components (coefficient i =
 *     p_i 2^-e_i mod t), secret-key encrypted and sent as its 32-byte seed
 *     plus c0 compressed to K = hers_c0_bits bits per coefficient (~32 KB
 *     per probe at n4096 for any d <= N). The server expands it
 *     (hers_query_expand) with the gallery's Galois keys (uploaded once with
 *     the public material, hers_query_galois_keygen) into the full form.
 * hers_query_default_form: compact when the predicted heuristic margin of
 * the search with an expanded probe (hers_search_noise_bound_form) is >= 4
 * bits, else full (docs/design.md, "Compact queries"). */
typedef enum hers_query_form { HERS_QUERY_FULL = 0, HERS_QUERY_COMPACT = 1 } hers_query_form;

HERS_API const char *hers_query_form_name(hers_query_form f);          /* "full", "compact" */
HERS_API hers_status hers_query_form_parse(const char *s, hers_query_form *out);
HERS_API hers_query_form hers_query_get_form(const hers_query *q);

/* The Galois elements a compact query of dimension d needs (ceil(log2
 * min(d, N)) of them), and keys for them (seed NULL: fresh randomness). Keys
 * made for d also serve every smaller d. */
HERS_API hers_status hers_query_galois_elements(const hers_params *p, size_t d, uint32_t *elements,
                                                size_t *count);
HERS_API hers_status hers_query_galois_keygen(const hers_params *p, const hers_secret_key *sk, size_t d,
                                              const uint8_t *seed, hers_galois_key **out);
/* Key holder: count probes (as hers_query_encrypt) in the compact form. */
HERS_API hers_status hers_query_encrypt_compact(const hers_params *p, const hers_secret_key *sk,
                                                const int32_t *probes, size_t count, size_t d, uint32_t scale,
                                                const uint8_t *seed, hers_query **out);
/* Server: compact -> full (d constant-polynomial ciphertexts per probe, what
 * hers_search consumes); one task per (probe, chunk) on `threads` workers
 * (0 = online CPUs). HERS_ERR_MISMATCH when gk lacks an element. */
HERS_API hers_status hers_query_expand(const hers_params *p, const hers_galois_key *gk, const hers_query *in,
                                       unsigned threads, hers_query **out);
/* The same into an earlier output of hers_query_expand with the same
 * parameters, count and d (a server worker reuses its buffers: no allocation,
 * zero-filling or page faults per query). On error out's contents are
 * undefined (but it can be freed or reused). */
HERS_API hers_status hers_query_expand_into(const hers_params *p, const hers_galois_key *gk,
                                            const hers_query *in, unsigned threads, hers_query *out);
/* Noise of one probe component as the kernel sees it (worst case and
 * standard deviation), for a fresh (full; probe_public as in
 * hers_search_noise_bound) or an expanded compact probe. */
HERS_API hers_status hers_query_probe_noise(const hers_params *p, hers_query_form form, size_t d,
                                            int probe_public, double *worst, double *sd);
/* hers_search_noise_bound with a probe noise of worst case b2 and variance v2. */
HERS_API hers_status hers_search_noise_bound_probe(const hers_params *p, hers_search_mode mode, size_t d,
                                                   int gallery_public, double b2, double v2,
                                                   double *worst_bits, double *heuristic_bits);
/* The same for secret-key probes of the given form. */
HERS_API hers_status hers_search_noise_bound_form(const hers_params *p, hers_search_mode mode, size_t d,
                                                  int gallery_public, hers_query_form form,
                                                  double *worst_bits, double *heuristic_bits);
HERS_API hers_query_form hers_query_default_form(const hers_params *p, hers_search_mode mode, size_t d,
                                                 int gallery_public);

/* ------------------------------------------------------------ search */

typedef enum hers_result_shrink {
    /* The kernel's output: 3-part BGV (both-encrypted) or 2-part BFV
     * (plain-gallery) over all primes. */
    HERS_RESULT_FULL = 0,
    /* Modulus-switched to the first prime (BGV switching for 3-part results,
     * exact because q_j = 1 mod t). */
    HERS_RESULT_SWITCHED = 1,
    /* Both-encrypted: converted to BFV form (times Delta), relinearised with
     * the relinearisation key, then switched to one prime: 2 parts x 1 prime.
     * Plain-gallery: same as SWITCHED. */
    HERS_RESULT_RELINEARIZED = 2,
    /* RELINEARIZED, then every block rounded and packed at once into the
     * compact record's body (the bytes hers_result_serialize_compact
     * writes for it: version 2 slot, version 3 coefficient packing), while
     * the block is in cache; the ciphertexts' memory goes back to the
     * result pool before hers_search returns (1.5 MB per probe kept at
     * n = 2^20 coeff instead of 50 MB). Such a result serialises (compact
     * record, byte for byte the RELINEARIZED one's) and gives views
     * (hers_result_view, hers_result_view_blocks); it holds no ciphertexts:
     * hers_result_ciphertext gives NULL, decryption and the noise budget
     * HERS_ERR_UNSUPPORTED (read the record back to decrypt). A server's
     * form. */
    HERS_RESULT_COMPACT = 3
} hers_result_shrink;

typedef struct hers_search_opts {
    hers_result_shrink shrink;
    const hers_relin_key *rk;   /* needed for HERS_RESULT_RELINEARIZED */
} hers_search_opts;

typedef struct hers_searcher hers_searcher;   /* thread pool */

/* threads: 0 = online CPUs, at most 256. */
HERS_API hers_status hers_searcher_create(unsigned threads, hers_searcher **out);
HERS_API void hers_searcher_free(hers_searcher *s);
HERS_API unsigned hers_searcher_threads(const hers_searcher *s);
/* Wall seconds (monotonic clock) of the parts of the searcher's last
 * hers_search: probe_s rearranging the probes into the kernel's tiles,
 * scan_s the pass over the index (the kernels), shrink_s modulus switching
 * and relinearisation (0 for full results; for HERS_RESULT_COMPACT the
 * whole compaction: relinearisation, switching, rounding and packing of
 * every block), total_s the whole call (the
 * rest: checks, result memory). All 0 before the first search; a failed
 * search leaves what it measured. For benchmarks: where a search's time goes. */
typedef struct hers_search_phases {
    double probe_s, scan_s, shrink_s, total_s;
} hers_search_phases;
HERS_API void hers_searcher_phases(const hers_searcher *s, hers_search_phases *out);

/* One ciphertext per (probe, block). */
typedef struct hers_result hers_result;

/* Scores every probe of q against every template of ix, in one pass over the
 * index (probes share each gallery tile while it is in cache). opts may be
 * NULL (HERS_RESULT_FULL). */
HERS_API hers_status hers_search(hers_searcher *s, const hers_params *p, const hers_index *ix,
                                 const hers_query *q, const hers_search_opts *opts, hers_result **out);

/* Reference path, slow: per dimension a generic BFV ct x ct multiplication
 * (tensor + scale-and-round), relinearisation and addition (the authors'
 * method), or ct x pt for plain-gallery indexes; single thread. Result in
 * BFV form, 2 parts. For tests and benchmarks. */
HERS_API hers_status hers_search_reference(const hers_params *p, const hers_gallery *g,
                                           const hers_query *q, const hers_relin_key *rk,
                                           hers_result **out);

HERS_API void hers_result_free(hers_result *r);
HERS_API size_t hers_result_count(const hers_result *r);   /* probes */
HERS_API size_t hers_result_n(const hers_result *r);
HERS_API size_t hers_result_blocks(const hers_result *r);
/* The ciphertext of (probe, block) (read-only view), NULL if out of range. */
HERS_API const hers_ciphertext *hers_result_ciphertext(const hers_result *r, size_t probe, size_t block);
/* A read-only view of probes [first, first + count) of r: shares r's
 * residues, so r must outlive it (free both with hers_result_free). */
HERS_API hers_status hers_result_view(const hers_result *r, size_t first, size_t count, hers_result **out);
/* Blocks b0 .. b0 + nb - 1 of every probe of r, as a result of nb blocks
 * (the templates of those blocks): borrows r's residues like
 * hers_result_view (a server serialises the ranges of one result in
 * parallel, each its own record). */
HERS_API hers_status hers_result_view_blocks(const hers_result *r, size_t b0, size_t nb,
                                             hers_result **out);
/* 1 if r was packed for the download by the search (HERS_RESULT_COMPACT). */
HERS_API int hers_result_packed(const hers_result *r);
/* Download record (versioned, checksummed, residues bit-packed). */
HERS_API hers_status hers_result_serialize(const hers_params *p, const hers_result *r, uint8_t **buf,
                                           size_t *len);
HERS_API hers_status hers_result_deserialize(const hers_params *p, const void *buf, size_t len,
                                             hers_result **out);
/* The download record of blocks [b0, b0 + nb) of r alone (every probe; n =
 * nb x N, or what the last block holds), written into buf (cap bytes, at
 * least hers_result_range_size): the bytes hers_result_serialize gives for
 * a result of those blocks, without allocating (for a result of
 * HERS_RESULT_COMPACT: the compact record, its packed bodies copied).
 * HERS_ERR_UNSUPPORTED for a result read from a compact record. */
HERS_API hers_status hers_result_range_size(const hers_params *p, const hers_result *r, size_t b0,
                                            size_t nb, size_t *size);
HERS_API hers_status hers_result_range_serialize(const hers_params *p, const hers_result *r,
                                                 size_t b0, size_t nb, uint8_t *buf, size_t cap,
                                                 size_t *len);
/* The same record of blocks [b0, b0 + nb) as pieces, without copying the
 * body: for a result packed by the search in coefficient packing (version-3
 * compact record, CRC-32 trailer), the record is head (88 bytes, written),
 * then for each probe q of r its body bytes body[q] (body_len[q] bytes,
 * pointing into r's packed body: valid while the result that owns it is),
 * then tail (32 bytes, written: the CRC-32 joined from the per-block CRCs
 * the search computed, no pass over the body). body and body_len hold
 * hers_result_count(r) entries. The concatenation equals
 * hers_result_range_serialize's bytes. HERS_ERR_UNSUPPORTED for any other
 * result (slot packing: a BLAKE2b trailer needs every byte). */
#define HERS_RESULT_RANGE_HEAD 88
#define HERS_RESULT_RANGE_TAIL 32
HERS_API hers_status hers_result_range_pieces(const hers_params *p, const hers_result *r,
                                              size_t b0, size_t nb, uint8_t *head,
                                              const uint8_t **body, size_t *body_len,
                                              uint8_t *tail);
/* Sets the template count n (header offset 56) of the download record rec
 * (len bytes, any version) and re-seals it with its version's checksum
 * (BLAKE2b-256 for versions 1 and 2, CRC-32 for 3): a cluster joining
 * shards pads a shard's last partial block to whole blocks this way. Checks
 * the magic, version and length only; the caller knows the record. */
HERS_API hers_status hers_result_record_set_n(uint8_t *rec, size_t len, uint64_t n);
/* Compact download record (version 2; hers_result_deserialize reads both) of
 * 2-part BFV results (HERS_RESULT_RELINEARIZED, or plain-gallery): every
 * coefficient of part 0 rounded to b0 = bitlen(t) + 2 bits and of part 1 to
 * b1 = bitlen(t) + log2 N + 2 bits of Q_L (hers_poly_round_bits). The reader
 * rebuilds ciphertexts whose added error e' satisfies t |e'| / Q_L < 1/4
 * (|d0| <= Q_L/2^(b0+1), |d1 s| <= N Q_L/2^(b1+1), s ternary), so the scores
 * stay exact whenever the result had >= 2 bits of noise budget
 * (docs/design.md, "Shrinking the download"). n4096: 7.0 bytes per template
 * (12.5 with residues). HERS_ERR_UNSUPPORTED for 3-part or BGV results.
 * A result read from a compact record serialises compactly again
 * (hers_result_serialize gives the same bytes). */
HERS_API hers_status hers_result_serialize_compact(const hers_params *p, const hers_result *r, uint8_t **buf,
                                                   size_t *len);
HERS_API void hers_result_compact_bits(const hers_params *p, unsigned *b0, unsigned *b1);
/* Coefficient-packed results (hers_gallery_packing = HERS_PACK_COEFF): the
 * compact record is version 3 with a low-bit window instead: Y0 mod 2^w0
 * and Y1 mod 2^w1 of the rounded parts above, w1 the smallest width with
 * 2^b1 (2B + 1) <= t 2^w1 (B = hers_quant_score_bound(d, scale)), w0 = w1 -
 * (b1 - b0); the key holder rebuilds the centred (Y0 2^(b1-b0) + Y1 s) mod
 * 2^w1 and rounds t P / 2^b1 (hers_decrypt_window), exact under the same
 * noise condition (docs/design.md, "Shrinking the download"). n4096, d =
 * 64, scale 125: w0 = 18, w1 = 30, 6.0 bytes per template.
 * HERS_ERR_UNSUPPORTED when no window is narrower than b1 or q_0 <= N
 * 2^(w1+1): hers_result_serialize_compact then writes the rounded body
 * (version 3, body 1). */
HERS_API hers_status hers_result_window_bits(const hers_params *p, size_t d, uint32_t scale,
                                             unsigned *w0, unsigned *w1);
/* The packing of the gallery the result was searched in (records carry it). */
HERS_API hers_packing hers_result_packing(const hers_result *r);

/* ------------------------------------------------------------ key holder */

/* Decrypts the scores of probe `probe`: scores[x] = <g_x, p> for x < n
 * (exact integers in (-t/2, t/2]). scores has hers_result_n(r) entries. */
HERS_API hers_status hers_result_decrypt(const hers_params *p, const hers_secret_key *sk,
                                         const hers_result *r, size_t probe, int64_t *scores);
/* Smallest remaining noise budget (bits) over the probe's blocks. Key
 * holder only: never send it to the server. */
HERS_API hers_status hers_result_noise_budget(const hers_params *p, const hers_secret_key *sk,
                                              const hers_result *r, size_t probe, double *bits);

typedef struct hers_match {
    size_t index;     /* gallery row */
    int64_t score;    /* integer inner product; cosine ~ score / s^2 */
} hers_match;

/* The min(k, n) best entries, by score descending then index ascending,
 * into out (capacity k). *count = entries written. */
HERS_API hers_status hers_top_k(const int64_t *scores, size_t n, size_t k, hers_match *out, size_t *count);
/* Every entry with score >= min_score, same order; *out allocated with
 * hers_alloc (NULL when none), free with hers_free. */
HERS_API hers_status hers_threshold(const int64_t *scores, size_t n, int64_t min_score, hers_match **out,
                                    size_t *count);
/* The smallest integer score whose cosine estimate score / s^2 is >= c. */
HERS_API int64_t hers_score_from_cosine(double c, uint32_t scale);

#ifdef __cplusplus
}
#endif
#endif /* HERS_SEARCH_H */
