/*
 * query.c - encrypted probes: P[i] = Enc(p_i), the constant polynomial p_i
 * (which batch-decodes to p_i in every slot), one ciphertext per dimension;
 * secret-key (seed-compressed) or public-key encryption. The upload record
 * (docs/formats.md, "Query and result records"):
 *
 *   0   8   magic "HERSQRY\0"
 *   8   4   version (1)
 *   12  4   kind (the query-form field): 1 = seed-compressed (seed + c0),
 *           2 = full (c0 + c1), 3 = compact (one ciphertext per N
 *           components, query_compact.c)
 *   16  32  parameter-set id
 *   48  8   count (probes, 1..2^20)
 *   56  4   d (1..1024)
 *   60  4   scale (1..32767)
 *   64  ..  kinds 1, 2: count*d ciphertexts, probe-major: [seed 32] c0 packed
 *           [c1 packed]; kind 3: count*ceil(d/N) x [seed 32 | N K-bit values]
 *   end 32  BLAKE2b-256 of all preceding bytes
 */
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

#define STREAM_QUERY UINT64_C(0x5155455259000000)
#define QUERY_MAGIC "HERSQRY"
#define QUERY_VERSION HERS_QUERY_RECORD_VERSION
#define QUERY_HEADER 64
#define QUERY_MAX_COUNT HERS_QUERY_MAX_COUNT

void hers_query_free(hers_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; q->cts && i < q->count * q->d; i++)
        hers_ciphertext_free(&q->cts[i]);
    hers_free(q->cts);
    hers_free(q->y);
    hers_free(q->seeds);
    hers_free(q->arena);
    hers_free(q);
}

size_t hers_query_count(const hers_query *q) { return q->count; }
size_t hers_query_d(const hers_query *q) { return q->d; }

hers_status hers_query_alloc(const hers_params *p, size_t count, size_t d, uint32_t scale,
                             hers_query **out)
{
    hers_query *q = hers_alloc(sizeof *q);
    if (!q)
        return hers_error(HERS_ERR_NOMEM, "query: out of memory");
    memset(q, 0, sizeof *q);
    memcpy(q->params_id, hers_params_id(p), HERS_PARAMS_ID_BYTES);
    q->count = count;
    q->d = d;
    q->scale = scale;
    q->cts = hers_alloc_array(count * d, sizeof *q->cts);
    if (!q->cts) {
        hers_free(q);
        return hers_error(HERS_ERR_NOMEM, "query: out of memory");
    }
    *out = q;
    return HERS_OK;
}

struct enc_ctx {
    const hers_params *p;
    const hers_secret_key *sk;
    const hers_public_key *pk;
    const int32_t *probes;
    hers_query *q;
    uint8_t master[HERS_SEED_BYTES];
    hers_plaintext *pts;   /* per worker */
    hers_task_error err;
};

/* Task: ciphertext (probe r, dimension i) = task r * d + i. */
static void enc_task(void *vctx, size_t task, unsigned w)
{
    struct enc_ctx *c = vctx;
    if (c->err.st != HERS_OK)
        return;
    const hers_params *p = c->p;
    uint8_t s[HERS_SEED_BYTES];
    int64_t v = c->probes[task];
    hers_status st = hers_encode_coeff(p, &v, 1, &c->pts[w]);
    hers_prg g;
    hers_prg_init(&g, c->master, STREAM_QUERY + task);
    hers_prg_bytes(&g, s, sizeof s);
    hers_prg_wipe(&g);
    hers_ciphertext *ct = &c->q->cts[task];
    if (st == HERS_OK)
        st = c->sk ? hers_encrypt_secret_seeded(p, c->sk, &c->pts[w], s, ct)
                   : hers_encrypt_public_seeded(p, c->pk, &c->pts[w], s, ct);
    hers_wipe(s, sizeof s);
    if (st != HERS_OK)
        hers_task_error_set(&c->err, st, NULL);
}

hers_status hers_query_encrypt(const hers_params *p, const hers_secret_key *sk,
                               const hers_public_key *pk, const int32_t *probes, size_t count,
                               size_t d, uint32_t scale, const uint8_t *seed, hers_query **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "query: out is NULL");
    *out = NULL;
    if (!p || !probes)
        return hers_error(HERS_ERR_ARG, "query: NULL argument");
    if (!!sk == !!pk)
        return hers_error(HERS_ERR_ARG, "query: give exactly one of the secret and public key");
    if (count == 0 || count > QUERY_MAX_COUNT)
        return hers_error(HERS_ERR_ARG, "query: %zu probes (1..%zu)", count, QUERY_MAX_COUNT);
    hers_status st = hers_search_check_params(p, HERS_MODE_PLAIN_GALLERY);
    if (st != HERS_OK)
        return st;
    if ((st = hers_search_check_values(probes, count, d, scale, "query")) != HERS_OK)
        return st;
    if ((st = hers_quant_check(d, scale, hers_params_t(p))) != HERS_OK)
        return st;
    const uint8_t *key_id = sk ? hers_secret_key_params_id(sk) : hers_public_key_params_id(pk);
    if ((st = hers_search_check_key(p, key_id, "query: key")) != HERS_OK)
        return st;
    hers_query *q = NULL;
    if ((st = hers_query_alloc(p, count, d, scale, &q)) != HERS_OK)
        return st;
    struct enc_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.sk = sk;
    c.pk = pk;
    c.probes = probes;
    c.q = q;
    if (seed)
        memcpy(c.master, seed, sizeof c.master);
    else if ((st = hers_random_bytes(c.master, sizeof c.master)) != HERS_OK) {
        hers_query_free(q);
        return st;
    }
    /* one task per (probe, dimension): each ciphertext's randomness comes
     * from its own stream of the master seed, so the output does not depend
     * on the number of workers */
    unsigned threads = hers_threads_resolve(0);
    if (threads > count * d)
        threads = (unsigned)(count * d);
    hers_pool *pool = NULL;
    c.pts = hers_alloc_array(threads, sizeof *c.pts);
    if (!c.pts)
        st = hers_error(HERS_ERR_NOMEM, "query: out of memory");
    else
        st = hers_pool_create(threads, &pool);
    if (st == HERS_OK) {
        hers_task_error_init(&c.err);
        hers_pool_run(pool, enc_task, &c, count * d);
        hers_pool_free(pool);
        hers_task_error_destroy(&c.err);
        st = hers_task_error_raise(&c.err);
    }
    for (unsigned w = 0; c.pts && w < threads; w++) {
        if (c.pts[w].coeffs)
            hers_wipe(c.pts[w].coeffs, hers_params_n(p) * sizeof(uint64_t));
        hers_plaintext_free(&c.pts[w]);
    }
    hers_free(c.pts);
    hers_wipe(c.master, sizeof c.master);
    if (st != HERS_OK) {
        hers_query_free(q);
        return st;
    }
    *out = q;
    return HERS_OK;
}

static int query_seeded(const hers_query *q)
{
    if (q->compact)
        return 0;
    for (size_t i = 0; i < q->count * q->d; i++)
        if (!q->cts[i].has_seed)
            return 0;
    return 1;
}

hers_status hers_query_serialize(const hers_params *p, const hers_query *q, uint8_t **buf,
                                 size_t *len)
{
    if (!p || !q || !buf || !len)
        return hers_error(HERS_ERR_ARG, "query serialize: NULL argument");
    *buf = NULL;
    *len = 0;
    hers_status st = hers_search_check_id(p, q->params_id, "query serialize");
    if (st != HERS_OK)
        return st;
    int seeded = query_seeded(q);
    size_t k = hers_params_num_primes(p), pb = se_poly_bytes(p, k);
    size_t rec = seeded ? HERS_SEED_BYTES + pb : 2 * pb;
    size_t payload = q->compact ? hers_query_compact_record_bytes(p, q->count, q->d)
                                : q->count * q->d * rec;
    size_t total = QUERY_HEADER + payload + SE_CHECKSUM_BYTES;
    uint8_t *b = hers_alloc(total);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "query serialize: out of memory");
    memcpy(b, QUERY_MAGIC, 8);
    hers_le_put_u32(b + 8, QUERY_VERSION);
    hers_le_put_u32(b + 12, q->compact ? 3 : seeded ? 1 : 2);
    memcpy(b + 16, hers_params_id(p), HERS_PARAMS_ID_BYTES);
    hers_le_put_u64(b + 48, q->count);
    hers_le_put_u32(b + 56, (uint32_t)q->d);
    hers_le_put_u32(b + 60, q->scale);
    uint8_t *o = b + QUERY_HEADER;
    if (q->compact)
        o = hers_query_compact_pack(p, q, o);
    for (size_t i = 0; !q->compact && i < q->count * q->d; i++) {
        const hers_ciphertext *ct = &q->cts[i];
        if (seeded) {
            memcpy(o, ct->seed, HERS_SEED_BYTES);
            o += HERS_SEED_BYTES;
        }
        o = se_pack_poly(p, hers_ct_poly(ct, 0, 0), k, o);
        if (!seeded)
            o = se_pack_poly(p, hers_ct_poly(ct, 1, 0), k, o);
    }
    se_checksum(b, total - SE_CHECKSUM_BYTES, o);
    *buf = b;
    *len = total;
    return HERS_OK;
}

/* Can q take a record of this kind, count and d without reallocating? */
static int query_fits(const hers_params *p, const hers_query *q, uint32_t kind, uint64_t count,
                      uint32_t d)
{
    if (!q || q->count != count || q->d != d ||
        memcmp(q->params_id, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        return 0;
    return kind == 3 ? q->compact && q->y && q->seeds : !q->compact && q->arena != NULL;
}

/* A full-form query whose ciphertexts borrow one arena (hers_alloc: huge
 * pages where available; one allocation instead of count x d). */
static hers_status query_alloc_arena(const hers_params *p, size_t count, size_t d, uint32_t scale,
                                     hers_query **out)
{
    hers_query *q = NULL;
    hers_status st = hers_query_alloc(p, count, d, scale, &q);
    if (st != HERS_OK)
        return st;
    size_t per = 2 * hers_params_num_primes(p) * hers_params_n(p);
    q->arena = hers_alloc_array(count * d, per * sizeof(uint64_t));
    if (!q->arena) {
        hers_query_free(q);
        return hers_error(HERS_ERR_NOMEM, "query: out of memory");
    }
    for (size_t i = 0; i < count * d; i++)
        (void)hers_ciphertext_init_borrowed(p, 2, q->arena + i * per, &q->cts[i]);
    *out = q;
    return HERS_OK;
}

hers_status hers_query_deserialize_into(const hers_params *p, const void *vbuf, size_t len,
                                        hers_query **io)
{
    if (!io)
        return hers_error(HERS_ERR_ARG, "query: out is NULL");
    const uint8_t *b = vbuf;
    hers_status st = HERS_OK;
    if (!p || (!b && len))
        st = hers_error(HERS_ERR_ARG, "query: NULL argument");
    else if (len < QUERY_HEADER + SE_CHECKSUM_BYTES)
        st = hers_error(HERS_ERR_FORMAT, "query: truncated (%zu bytes)", len);
    else if (memcmp(b, QUERY_MAGIC, 8) != 0)
        st = hers_error(HERS_ERR_FORMAT, "query: bad magic (not a hers query)");
    else if (hers_le_get_u32(b + 8) != QUERY_VERSION)
        st = hers_error(HERS_ERR_VERSION, "query: unsupported version %u", hers_le_get_u32(b + 8));
    uint32_t kind = st == HERS_OK ? hers_le_get_u32(b + 12) : 0;
    if (st == HERS_OK && (kind < 1 || kind > 3))
        st = hers_error(HERS_ERR_FORMAT, "query: bad kind %u", kind);
    if (st == HERS_OK && memcmp(b + 16, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        st = hers_error(HERS_ERR_MISMATCH, "query: made with another parameter set");
    uint64_t count = st == HERS_OK ? hers_le_get_u64(b + 48) : 0;
    uint32_t d = st == HERS_OK ? hers_le_get_u32(b + 56) : 0;
    uint32_t scale = st == HERS_OK ? hers_le_get_u32(b + 60) : 0;
    if (st == HERS_OK && (count == 0 || count > QUERY_MAX_COUNT || d == 0 ||
                          d > HERS_SEARCH_MAX_D || scale == 0 || scale > HERS_QUANT_MAX_SCALE))
        st = hers_error(HERS_ERR_FORMAT, "query: count %llu, d %u or scale %u out of range",
                        (unsigned long long)count, d, scale);
    size_t k = hers_params_num_primes(p), pb = st == HERS_OK ? se_poly_bytes(p, k) : 1;
    size_t rec = kind == 1 ? HERS_SEED_BYTES + pb : 2 * pb;
    if (st == HERS_OK && kind == 3 &&
        len - QUERY_HEADER - SE_CHECKSUM_BYTES != hers_query_compact_record_bytes(p, count, d))
        st = hers_error(HERS_ERR_FORMAT, "query: %zu bytes do not match a compact query of %llu x %u",
                        len, (unsigned long long)count, d);
    if (st == HERS_OK && kind != 3 &&
        ((len - QUERY_HEADER - SE_CHECKSUM_BYTES) / rec != count * d ||
         (len - QUERY_HEADER - SE_CHECKSUM_BYTES) % rec != 0))
        st = hers_error(HERS_ERR_FORMAT, "query: %zu bytes do not match %llu x %u ciphertexts", len,
                        (unsigned long long)count, d);
    if (st == HERS_OK && !se_checksum_ok(b, len))
        st = hers_error(HERS_ERR_CHECKSUM, "query: checksum mismatch (corrupted)");
    hers_query *q = *io;
    if (st == HERS_OK && !query_fits(p, q, kind, count, d)) {
        hers_query_free(q);
        q = *io = NULL;
        st = kind == 3 ? hers_query_compact_alloc(p, count, d, scale, &q)
                       : query_alloc_arena(p, count, d, scale, &q);
        *io = q;
    }
    if (st != HERS_OK) {
        hers_query_free(*io);
        *io = NULL;
        return st;
    }
    /* every word below is overwritten: the buffers need no clearing */
    q->scale = scale;
    if (kind == 3)
        st = hers_query_compact_unpack(p, b + QUERY_HEADER, q);
    const uint8_t *in = b + QUERY_HEADER;
    for (size_t i = 0; kind != 3 && i < count * d && st == HERS_OK; i++) {
        hers_ciphertext *ct = &q->cts[i];
        ct->ntt_form = 1;
        ct->form = HERS_FORM_BFV;
        ct->has_seed = kind == 1;
        if (kind == 1) {
            memcpy(ct->seed, in, HERS_SEED_BYTES);
            in += HERS_SEED_BYTES;
        }
        if (!se_unpack_poly(p, in, k, hers_ct_poly(ct, 0, 0)))
            st = hers_error(HERS_ERR_FORMAT, "query: residue out of range in ciphertext %zu", i);
        in += pb;
        if (kind == 2) {
            if (st == HERS_OK && !se_unpack_poly(p, in, k, hers_ct_poly(ct, 1, 0)))
                st = hers_error(HERS_ERR_FORMAT, "query: residue out of range in ciphertext %zu", i);
            in += pb;
        } else if (st == HERS_OK) {
            st = hers_ciphertext_expand_seed(p, ct);
        }
    }
    if (st != HERS_OK) {
        hers_query_free(*io);
        *io = NULL;
    }
    return st;
}

hers_status hers_query_deserialize(const hers_params *p, const void *buf, size_t len,
                                   hers_query **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "query: out is NULL");
    *out = NULL;
    return hers_query_deserialize_into(p, buf, len, out);
}
