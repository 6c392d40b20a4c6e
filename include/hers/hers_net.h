/*
 * hers_net.h - the HERS service: wire records of the protocol (also used
 * over files), bearer-token files, the gallery service (an in-memory index
 * per gallery database, updated incrementally, searches coalesced), the
 * HTTP(S) server on libmicrohttpd and the HTTP client on libcurl.
 * Layer: above store, below cli. The server side never holds a secret key:
 * every decoder here refuses a record that carries one.
 *
 * Records (little-endian, exact length, BLAKE2b-256 of every preceding byte
 * at the end; docs/formats.md "Service records"):
 *   HERSINI  gallery creation: model id, parameter set, public key, optional
 *            relinearisation key, optional Galois keys (compact queries);
 *            also the answer of GET .../keys.
 *   HERSENR  enrolment: mode, scale, offset o, m ids, model id, one gallery
 *            record of o zero rows then the m templates.
 *   HERSRSP  search response: the result records of the index chunks (their
 *            first blocks) and the catalog (live slot, id) of the snapshot
 *            searched, so the key holder ranks without telling the server
 *            which ids it looks at. Version 2 also carries the 64-bit
 *            catalog version of the snapshot and may leave the catalog out:
 *            the key holder then uses the HERSCAT of that version, fetched
 *            once and cached (GET .../catalog, ETag / If-None-Match).
 *   HERSCAT  a gallery's catalog: its version, slots and live (slot, id)
 *            entries.
 * Every decoder validates sizes before allocating and returns an error,
 * never crashes (fuzz/fuzz_net.c).
 */
#ifndef HERS_NET_H
#define HERS_NET_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_search.h"
#include "hers/hers_status.h"
#include "hers/hers_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_NET_VERSION 1            /* HERSINI, HERSENR */
#define HERS_NET_RESPONSE_VERSION 2   /* HERSRSP written by hers_service_search_ex (1 still read) */
#define HERS_NET_CATALOG_VERSION 1    /* HERSCAT */
#define HERS_NET_MAX_MODEL_ID 32

/* ------------------------------------------------------------ records */

/* Gallery creation / public material. */
typedef struct hers_net_init {
    hers_params *p;
    hers_public_key *pk;
    hers_relin_key *rk;          /* may be NULL */
    hers_galois_key *gk;         /* may be NULL: Galois keys for compact queries */
    uint8_t model_id[HERS_NET_MAX_MODEL_ID];
    size_t model_id_len;         /* 0: none */
    hers_packing packing;        /* the new database's (hers_store_set_packing):
                                    slot (what older clients send), coeff or auto */
} hers_net_init;

HERS_API hers_status hers_net_init_encode(const hers_params *p, const hers_public_key *pk,
                                          const hers_relin_key *rk, const hers_galois_key *gk,
                                          const uint8_t *model_id,
                                          size_t model_id_len, uint8_t **buf, size_t *len);
/* The same from a filled record (in->packing included; hers_net_init_encode
 * writes slot). */
HERS_API hers_status hers_net_init_encode_ex(const hers_net_init *in, uint8_t **buf, size_t *len);
/* Fills *out (free with hers_net_init_free). A secret-key record or a
 * passphrase-protected key anywhere is refused (HERS_ERR_ARG). */
HERS_API hers_status hers_net_init_decode(const void *buf, size_t len, hers_net_init *out);
HERS_API void hers_net_init_free(hers_net_init *in);

/* Enrolment. */
typedef struct hers_net_enroll {
    hers_search_mode mode;
    uint32_t scale;
    int replace;
    size_t offset;               /* zero rows before the templates, < N */
    size_t m;                    /* templates */
    char **ids;                  /* m ids (NUL-terminated), NULL: the slot numbers */
    uint8_t model_id[HERS_NET_MAX_MODEL_ID];
    size_t model_id_len;
    const uint8_t *record;       /* the gallery record, inside the decoded buffer */
    size_t record_len;
} hers_net_enroll;

/* g: the gallery of offset + m rows (offset zero rows first); ids: m ids,
 * or NULL for the default ids (the slot numbers the server assigns). */
HERS_API hers_status hers_net_enroll_encode(const hers_params *p, const hers_gallery *g, size_t offset,
                                            const char *const *ids, size_t m, int replace,
                                            const uint8_t *model_id, size_t model_id_len, uint8_t **buf,
                                            size_t *len);
/* Checks the framing, ids and checksum; the gallery record itself is
 * validated by the store when it is appended (hers_store_enroll_record).
 * out->record points into buf. */
HERS_API hers_status hers_net_enroll_decode(const void *buf, size_t len, hers_net_enroll *out);
HERS_API void hers_net_enroll_free(hers_net_enroll *e);

/* Search response (decoded by the key holder). */
typedef struct hers_net_response hers_net_response;

HERS_API hers_status hers_net_response_decode(const hers_params *p, const void *buf, size_t len,
                                              hers_net_response **out);
HERS_API void hers_net_response_free(hers_net_response *r);
HERS_API size_t hers_net_response_count(const hers_net_response *r);   /* probes */
HERS_API size_t hers_net_response_slots(const hers_net_response *r);
HERS_API size_t hers_net_response_live(const hers_net_response *r);
HERS_API uint32_t hers_net_response_scale(const hers_net_response *r);
HERS_API size_t hers_net_response_d(const hers_net_response *r);
/* Id of live entry i (live slots in slot order), NULL if out of range. */
HERS_API const char *hers_net_response_id(const hers_net_response *r, size_t i);
/* Key holder: scores[i] = <g, p> of live entry i for probe `probe`
 * (hers_net_response_live(r) entries). A response without its catalog needs
 * hers_net_response_attach_catalog first (HERS_ERR_STATE otherwise). */
HERS_API hers_status hers_net_response_decrypt(const hers_params *p, const hers_secret_key *sk,
                                               const hers_net_response *r, size_t probe, int64_t *scores);
/* Record version read (1 or 2). */
HERS_API unsigned hers_net_response_version(const hers_net_response *r);
/* Catalog version of the snapshot searched (0 for a version-1 record, which
 * has none). */
HERS_API uint64_t hers_net_response_catalog_version(const hers_net_response *r);
/* 1 if the record carried its catalog or one is attached (ids and decrypt
 * work), 0 if it needs hers_net_response_attach_catalog. */
HERS_API int hers_net_response_has_catalog(const hers_net_response *r);

/* A gallery's catalog (HERSCAT, GET /v1/galleries/NAME/catalog). */
typedef struct hers_net_catalog hers_net_catalog;

/* Validates the framing, the checksum, the entries (slots ascending below
 * the slot count, valid ids) before and while allocating. */
HERS_API hers_status hers_net_catalog_decode(const void *buf, size_t len, hers_net_catalog **out);
HERS_API void hers_net_catalog_free(hers_net_catalog *c);
HERS_API uint64_t hers_net_catalog_version(const hers_net_catalog *c);
HERS_API size_t hers_net_catalog_slots(const hers_net_catalog *c);
HERS_API size_t hers_net_catalog_live(const hers_net_catalog *c);
/* The HERSCAT record of c again (e.g. to cache it in a file; malloc'ed,
 * free with hers_free). */
HERS_API hers_status hers_net_catalog_encode(const hers_net_catalog *c, uint8_t **buf, size_t *len);
/* Id of live entry i, NULL if out of range. */
HERS_API const char *hers_net_catalog_id(const hers_net_catalog *c, size_t i);
/* Lends c to a response that came without its catalog: c must be the one of
 * the snapshot searched (same version, slots and live count: otherwise
 * HERS_ERR_STATE, the gallery changed in between, fetch it again) and must
 * outlive r. A response that carries its own catalog keeps it (HERS_OK if
 * the versions agree). */
HERS_API hers_status hers_net_response_attach_catalog(hers_net_response *r,
                                                      const hers_net_catalog *c);

/* ------------------------------------------------------------ tokens */

typedef enum hers_scope {
    HERS_SCOPE_SEARCH = 1,   /* describe, search */
    HERS_SCOPE_ENROLL = 2,   /* describe, enrol, delete */
    HERS_SCOPE_ADMIN = 3     /* everything: create, drop, compact, metrics too */
} hers_scope;

HERS_API const char *hers_scope_name(hers_scope s);
HERS_API hers_status hers_scope_parse(const char *s, hers_scope *out);

typedef struct hers_tokens hers_tokens;

/* Token file: one entry per line, "<64 hex: BLAKE2b-256 of the token>
 * <gallery name or *> <scope> [label]"; '#' comments and blank lines
 * skipped. Strict: any malformed line is an error naming the line. */
HERS_API hers_status hers_tokens_load(const char *path, hers_tokens **out);
HERS_API void hers_tokens_free(hers_tokens *t);
HERS_API size_t hers_tokens_count(const hers_tokens *t);
/* Makes a new random token ("hers_" + 64 hex digits, 256 bits from the
 * CSPRNG) into token (capacity >= 70) and appends its hash line to path
 * (created with mode 0600 if missing). */
HERS_API hers_status hers_tokens_add(const char *path, const char *gallery, hers_scope scope,
                                     const char *label, char *token, size_t cap);

/* Result of an authorisation check. */
typedef enum hers_auth {
    HERS_AUTH_OK = 0,
    HERS_AUTH_UNAUTHENTICATED = 1,   /* no token or an unknown one: 401 */
    HERS_AUTH_FORBIDDEN = 2          /* valid token, wrong gallery or scope: 403 */
} hers_auth;

/* token: the presented bearer token (may be NULL); gallery NULL: a route
 * that concerns every gallery (needs '*'). The token's hash is compared with
 * every entry in constant time (sodium_memcmp, no early exit). */
HERS_API hers_auth hers_tokens_check(const hers_tokens *t, const char *token, const char *gallery,
                                     hers_scope need);
/* 1 if the token may see the gallery at all (any scope): listing. */
HERS_API int hers_tokens_sees(const hers_tokens *t, const char *token, const char *gallery);

/* ------------------------------------------------------------ service */

/* One gallery database held open with its kernel-form index in memory.
 * The database's Galois keys (hers_store_galois_key, optional) let the
 * service expand compact queries (hers_query_expand). */
typedef struct hers_service hers_service;

/* Opens the database at dir and builds its index. threads: workers of
 * index building and scans (0 = online CPUs). */
HERS_API hers_status hers_service_open(const char *dir, unsigned threads, hers_service **out);
HERS_API void hers_service_close(hers_service *s);
HERS_API hers_store *hers_service_db(hers_service *s);

/* Searches a query record (HERSQRY) against one consistent snapshot.
 * Queries that arrive while a scan of this gallery runs wait and are
 * scanned together in the next pass (one read of the index for all). The
 * response record (HERSRSP) is allocated with hers_alloc. A compact query is
 * expanded first (HERS_ERR_MISMATCH when the gallery has no Galois keys). shrink: result
 * form (HERS_RESULT_FULL or HERS_RESULT_SWITCHED). */
HERS_API hers_status hers_service_search(hers_service *s, const void *query, size_t len,
                                         hers_result_shrink shrink, int compact, uint8_t **resp,
                                         size_t *resp_len);
/* Version-2 search (HERSRSP v2): as hers_service_search, the record also
 * carries the catalog version of the snapshot searched (*cat_version too)
 * and carries the catalog itself only if with_catalog. *resp comes from a
 * small pool of reused buffers: free it with hers_net_free. */
typedef struct hers_service_search_opts {
    hers_result_shrink shrink;   /* HERS_RESULT_FULL, _SWITCHED or _RELINEARIZED */
    int compact;                 /* compact result records (relinearized) */
    int with_catalog;            /* 1: the catalog in the record (files, fallback) */
} hers_service_search_opts;
HERS_API hers_status hers_service_search_ex(hers_service *s, const void *query, size_t len,
                                            const hers_service_search_opts *o, uint8_t **resp,
                                            size_t *resp_len, uint64_t *cat_version);
/* The same answer without copying the results into it: the record as
 * pieces (consecutive byte ranges whose concatenation equals
 * hers_service_search_ex's record for the same pass), for a sender that
 * writes them with scatter-gather I/O. Compact results in coefficient
 * packing point into the pass's packed bodies (their CRC-32 trailers joined
 * from per-block CRCs the pass computed): the pass's result memory stays
 * out of the result pool until hers_net_answer_free. Other forms: one piece
 * holding the record (as hers_service_search_ex writes it). */
typedef struct hers_net_piece {
    const void *base;
    size_t len;
} hers_net_piece;
typedef struct hers_net_answer hers_net_answer;
HERS_API hers_status hers_service_search_pieces(hers_service *s, const void *query, size_t len,
                                                const hers_service_search_opts *o,
                                                hers_net_answer **out, uint64_t *cat_version);
/* The pieces (*count of them, *total bytes in all; either pointer may be NULL). */
HERS_API const hers_net_piece *hers_net_answer_pieces(const hers_net_answer *a, size_t *count,
                                                      size_t *total);
/* Releases the answer (and the pass's results when it was their last user);
 * from any thread. NULL is ignored. */
HERS_API void hers_net_answer_free(hers_net_answer *a);
/* Frees a record of hers_service_search_ex (its buffer may be kept for the
 * next response: its pages are then already mapped). NULL is ignored. */
HERS_API void hers_net_free(void *rec);
/* A buffer that hers_net_free takes back (for a record built outside the
 * service, e.g. the cluster's joined response): at least n bytes, not zeroed;
 * NULL when out of memory. */
HERS_API void *hers_net_alloc(size_t n);
/* Writes the trailing BLAKE2b-256 of a HERSRSP record of version 1 or 2 (the
 * rule of its version, docs/formats.md) into its last 32 of len bytes.
 * HERS_ERR_FORMAT if the header or the parts do not fit in len. */
HERS_API hers_status hers_net_response_seal(uint8_t *rec, size_t len);
/* The current catalog: *version always; *rec (HERSCAT, hers_alloc) only if
 * the version differs from if_none_match (else *rec = NULL: not modified).
 * Every committed enrolment, deletion and compaction changes the version
 * (a fresh random one; at open: a hash of the catalog's content). */
HERS_API hers_status hers_service_catalog(hers_service *s, uint64_t if_none_match,
                                          uint64_t *version, uint8_t **rec, size_t *rec_len);
/* Appends an enrolment record (HERSENR); 201 semantics: returns after the
 * LMDB commit, then updates the index. */
HERS_API hers_status hers_service_enroll(hers_service *s, const void *req, size_t len,
                                         uint64_t *first_slot, size_t *count);
HERS_API hers_status hers_service_delete(hers_service *s, const char *const *ids, size_t count);
/* Keyless compaction (drops fully deleted segments), then rebuilds. */
HERS_API hers_status hers_service_compact(hers_service *s, hers_store_compact_stats *stats);
/* Info of the database plus the service's view. */
typedef struct hers_service_stats {
    uint64_t index_bytes;      /* kernel-form bytes in memory */
    size_t chunks;             /* index chunks */
    uint64_t passes;           /* scans run */
    uint64_t probes;           /* probes scanned */
    uint64_t queries;          /* queries answered */
} hers_service_stats;
HERS_API hers_status hers_service_info(hers_service *s, hers_store_info *info, hers_service_stats *st);

/* ------------------------------------------------------------ server */

/* What the server does with one gallery. NULL in the config: the gallery
 * service above (one database DIR/NAME per gallery). The cluster
 * (hers_cluster.h) supplies one whose galleries are sharded over MPI ranks.
 * gal is the backend's handle of an open gallery. */
typedef struct hers_server_backend {
    void *user;
    /* creates gallery `name` under root from decoded public material */
    hers_status (*create)(void *user, const char *root, const char *name,
                          const hers_net_init *in);
    hers_status (*open)(void *user, const char *root, const char *name, unsigned threads,
                        void **gal);
    /* drop: also removes the gallery's data */
    void (*close)(void *user, const char *root, const char *name, void *gal, int drop);
    hers_store *(*db)(void *gal);   /* parameters and public keys */
    hers_status (*info)(void *gal, hers_store_info *info, hers_service_stats *st);
    hers_status (*search)(void *gal, const void *query, size_t len, hers_result_shrink shrink,
                          int compact, uint8_t **resp, size_t *resp_len);
    hers_status (*enroll)(void *gal, const void *req, size_t len, uint64_t *first_slot,
                          size_t *count);
    hers_status (*del)(void *gal, const char *const *ids, size_t count);
    hers_status (*compact)(void *gal, hers_store_compact_stats *stats);
    /* optional, both or neither (NULL: searches answer HERSRSP version 1
     * with the catalog inside and GET .../catalog answers 404) */
    hers_status (*search_ex)(void *gal, const void *query, size_t len,
                             const hers_service_search_opts *o, uint8_t **resp, size_t *resp_len,
                             uint64_t *cat_version);
    hers_status (*catalog)(void *gal, uint64_t if_none_match, uint64_t *version, uint8_t **rec,
                           size_t *rec_len);
    /* Optional (NULL on one node): a sharded gallery's shard count (at most
     * 4096) and, in per[0..min(count, cap)), each shard's info; the gallery
     * description then lists them ("shards", "per_shard"). */
    hers_status (*shards)(void *gal, hers_store_info *per, size_t cap, size_t *count);
    /* Optional (NULL: search_ex): search_ex's answer as pieces sent without
     * a copy (hers_service_search_pieces); needs search_ex and catalog. */
    hers_status (*search_pieces)(void *gal, const void *query, size_t len,
                                 const hers_service_search_opts *o, hers_net_answer **out,
                                 uint64_t *cat_version);
} hers_server_backend;

typedef void (*hers_log_fn)(void *user, const char *line);

typedef struct hers_server_config {
    const char *root;            /* galleries: subdirectories of root */
    const char *host;            /* listen address (numeric IPv4 or IPv6) */
    unsigned port;               /* 0: ephemeral */
    const char *tokens_path;
    const char *tls_cert, *tls_key;   /* both or neither (PEM) */
    int insecure;                /* allow plain HTTP on a non-loopback address */
    int log_json;                /* request logs as JSON lines */
    hers_log_fn log;             /* NULL: no logs */
    void *log_user;
    unsigned threads;            /* scan workers per gallery, 0 = online CPUs */
    unsigned max_connections;    /* default 64 */
    unsigned max_per_ip;         /* default 32 */
    unsigned timeout_s;          /* idle connection timeout, default 30 */
    uint64_t max_body_search;    /* bytes; default 64 MiB */
    uint64_t max_body_enroll;    /* default 256 MiB */
    uint64_t max_body_admin;     /* create (keys): default 64 MiB; delete: same */
    const hers_server_backend *backend;   /* NULL: the local gallery service */
} hers_server_config;

HERS_API void hers_server_config_default(hers_server_config *c);

typedef struct hers_server hers_server;

/* Loads the tokens, opens every gallery under root, starts listening. */
HERS_API hers_status hers_server_start(const hers_server_config *c, hers_server **out);
HERS_API unsigned hers_server_port(const hers_server *s);
/* Re-reads the token file (SIGHUP); on error the old tokens stay. */
HERS_API hers_status hers_server_reload_tokens(hers_server *s);
/* Stops accepting, waits for in-flight requests (at most timeout_s more),
 * closes every gallery (all writes are committed when acknowledged). */
HERS_API void hers_server_stop(hers_server *s);

/* The routes served, "METHOD /v1/path" with {name} placeholders, NULL
 * terminated (docs/api.md must describe each: tests/cli_serve_api.sh). */
HERS_API const char *const *hers_server_routes(void);

/* ------------------------------------------------------------ client */

typedef struct hers_client hers_client;

/* url: http(s)://host:port (no trailing path); token may be NULL;
 * cacert: PEM file of the CA to trust for https (NULL: system store).
 * A client keeps its connection open between calls (HTTP keep-alive) and
 * makes one call at a time: use one client per thread. */
HERS_API hers_status hers_client_create(const char *url, const char *token, const char *cacert,
                                        hers_client **out);
HERS_API void hers_client_free(hers_client *c);
/* One request. body may be NULL. *resp allocated with malloc (NUL
 * terminated, *resp_len excludes it); *http_status the HTTP code. A
 * transport failure (refused, TLS, timeout) is HERS_ERR_IO with curl's
 * message; any HTTP status returns HERS_OK. */
HERS_API hers_status hers_client_call(hers_client *c, const char *method, const char *path,
                                      const void *body, size_t len, const char *content_type,
                                      uint8_t **resp, size_t *resp_len, long *http_status);

/* The same into the client's own receive buffer, kept between calls (what
 * hers_client_search uses: no allocation or page faults per response):
 * *resp points into it (NUL terminated) and stays valid until the client's
 * next call or hers_client_free. */
HERS_API hers_status hers_client_call_buf(hers_client *c, const char *method, const char *path,
                                          const void *body, size_t len, const char *content_type,
                                          const uint8_t **resp, size_t *resp_len,
                                          long *http_status);

/* The same with extra request headers ("Name: value" lines, NULL
 * terminated, may be NULL) and the value of one response header captured
 * (want_header, case-insensitive; got "" when absent). */
HERS_API hers_status hers_client_call_ex(hers_client *c, const char *method, const char *path,
                                         const void *body, size_t len, const char *content_type,
                                         const char *const *headers, const char *want_header,
                                         char *got, size_t got_cap, uint8_t **resp,
                                         size_t *resp_len, long *http_status);

/* Key holder's search of gallery `gallery` with the catalog cache: posts
 * the query record asking for a response without the catalog (HERSRSP
 * v2), and fetches the catalog (GET .../catalog with If-None-Match: the
 * cached version; 304 keeps it) only when the response's version is not
 * the cached one. *cache (may hold NULL) is replaced by the fetched catalog
 * and attached to *out: free *out before the next call with this cache
 * (which may replace it) and before the cache. A write between the
 * search and the fetch is seen (versions differ) and the search repeated;
 * after 3 such races the catalog is asked for inside the response. A server
 * that answers version 1 (with the catalog) is accepted as it is.
 * result: "full", "switched", "relinearized", "compact" or NULL (full).
 * An HTTP error is HERS_ERR_IO with "HTTP <code>: <server's message>" and
 * *http_status set. stats may be NULL. */
typedef struct hers_client_search_stats {
    size_t requests;           /* HTTP requests made */
    size_t bytes_down;         /* response bytes received */
    int catalog_fetched;       /* 1: a new catalog was downloaded */
    int not_modified;          /* 1: the server answered 304 to the catalog request */
} hers_client_search_stats;
HERS_API hers_status hers_client_search(hers_client *c, const char *gallery, const hers_params *p,
                                        const void *query, size_t len, const char *result,
                                        hers_net_catalog **cache, hers_net_response **out,
                                        long *http_status, hers_client_search_stats *stats);

/* ------------------------------------------------------------ JSON */

/* Flat JSON object lookup for the client and tests: finds "key" at the top
 * level of obj (len bytes) and returns its string value (unescaped into
 * out, cap bytes) or its number / literal text. 0 found, -1 absent or
 * malformed. */
HERS_API int hers_json_get(const char *obj, size_t len, const char *key, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* HERS_NET_H */
