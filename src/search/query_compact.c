/*
 * query_compact.c - the one-ciphertext query form (docs/design.md, "Compact
 * queries"): per probe ceil(d/N) secret-key ciphertexts whose coefficients
 * are the probe components pre-multiplied by 2^-e_i mod t, sent as the
 * 32-byte seed and c0 compressed to K bits per coefficient
 * (hers_c0_compress). The server expands them (hers_query_expand) with the
 * gallery's Galois keys into the d constant-polynomial ciphertexts per probe
 * that hers_search consumes.
 *
 * Record (kind 3 of the query record, query.c):
 *   64-byte header as the other kinds (kind = 3), then count x chunks x
 *   [seed 32 | N x bits 0..31 | N x bits 32..K-1, each packed LSB first],
 *   chunks = ceil(d/N), K = hers_c0_bits(p); BLAKE2b-256 at the end.
 */
#include <math.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "search/search_internal.h"

#define STREAM_QUERY_COMPACT UINT64_C(0x5143504354000000)
#define COMPACT_MIN_BITS 4.0   /* default-form rule: heuristic margin kept */

const char *hers_query_form_name(hers_query_form f)
{
    return f == HERS_QUERY_COMPACT ? "compact" : f == HERS_QUERY_FULL ? "full" : "?";
}

hers_status hers_query_form_parse(const char *s, hers_query_form *out)
{
    if (s && out && strcmp(s, "full") == 0)
        *out = HERS_QUERY_FULL;
    else if (s && out && strcmp(s, "compact") == 0)
        *out = HERS_QUERY_COMPACT;
    else
        return hers_error(HERS_ERR_ARG, "query form \"%s\": use full or compact", s ? s : "(null)");
    return HERS_OK;
}

hers_query_form hers_query_get_form(const hers_query *q)
{
    return q && q->compact ? HERS_QUERY_COMPACT : HERS_QUERY_FULL;
}

static size_t chunks_of(const hers_params *p, size_t d)
{
    return (d + hers_params_n(p) - 1) / hers_params_n(p);
}

static size_t chunk_d(const hers_params *p, size_t d, size_t c)
{
    size_t rest = d - c * hers_params_n(p);
    return rest < hers_params_n(p) ? rest : hers_params_n(p);
}

hers_status hers_query_galois_elements(const hers_params *p, size_t d, uint32_t *el, size_t *count)
{
    if (!p || !el || !count)
        return hers_error(HERS_ERR_ARG, "query galois elements: NULL argument");
    if (d < 1 || d > HERS_SEARCH_MAX_D)
        return hers_error(HERS_ERR_ARG, "query galois elements: d = %zu (1..%d)", d, HERS_SEARCH_MAX_D);
    return hers_expand_elements(hers_params_n(p), d < hers_params_n(p) ? d : hers_params_n(p), el, count);
}

hers_status hers_query_galois_keygen(const hers_params *p, const hers_secret_key *sk, size_t d,
                                     const uint8_t *seed, hers_galois_key **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "query galois keygen: out is NULL");
    *out = NULL;
    uint32_t el[HERS_GALOIS_MAX_ELEMENTS];
    size_t cnt = 0;
    hers_status st = hers_query_galois_elements(p, d, el, &cnt);
    if (st != HERS_OK)
        return st;
    if (cnt == 0) /* d = 1: no key switch, but keep one key so the object exists */
        el[cnt++] = hers_expand_element(hers_params_n(p), 0);
    return seed ? hers_keygen_galois_seeded(p, sk, el, cnt, 0, seed, out)
                : hers_keygen_galois(p, sk, el, cnt, 0, out);
}

/* ------------------------------------------------------------ noise / rule */

hers_status hers_query_probe_noise(const hers_params *p, hers_query_form form, size_t d,
                                   int probe_public, double *worst, double *sd)
{
    if (!p || !worst || !sd)
        return hers_error(HERS_ERR_ARG, "query noise: NULL argument");
    double N = (double)hers_params_n(p);
    if (form == HERS_QUERY_FULL) {
        *worst = probe_public ? 21 * (2 * N + 1) : 21;
        *sd = sqrt(probe_public ? 10.5 * (1 + 4 * N / 3) : 10.5);
        return HERS_OK;
    }
    /* compressed c0: |error| <= Q/2^K + 1 (rounding both ways, one unit of
     * y), roughly uniform in +-Q/2^(K+1) */
    double r = exp2(hers_params_log_q(p) - (double)hers_c0_bits(p));
    size_t dd = d < hers_params_n(p) ? d : hers_params_n(p);
    return hers_expand_noise(p, 0, dd, 21 + r + 1, sqrt(10.5 + r * r / 12), worst, sd);
}

hers_status hers_search_noise_bound_form(const hers_params *p, hers_search_mode mode, size_t d,
                                         int gallery_public, hers_query_form form,
                                         double *worst_bits, double *heuristic_bits)
{
    double b2, s2;
    hers_status st = hers_query_probe_noise(p, form, d, 0, &b2, &s2);
    if (st != HERS_OK)
        return st;
    return hers_search_noise_bound_probe(p, mode, d, gallery_public, b2, s2 * s2, worst_bits,
                                         heuristic_bits);
}

hers_query_form hers_query_default_form(const hers_params *p, hers_search_mode mode, size_t d,
                                        int gallery_public)
{
    double w, h;
    if (!p || hers_search_noise_bound_form(p, mode, d, gallery_public, HERS_QUERY_COMPACT, &w, &h) !=
                  HERS_OK)
        return HERS_QUERY_FULL;
    return h >= COMPACT_MIN_BITS ? HERS_QUERY_COMPACT : HERS_QUERY_FULL;
}

/* ------------------------------------------------------------ key holder */

hers_status hers_query_compact_alloc(const hers_params *p, size_t count, size_t d, uint32_t scale,
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
    q->compact = 1;
    q->chunks = chunks_of(p, d);
    q->y = hers_alloc_array(count * q->chunks * 2 * hers_params_n(p), sizeof(uint64_t));
    q->seeds = hers_alloc_array(count * q->chunks, HERS_SEED_BYTES);
    if (!q->y || !q->seeds) {
        hers_query_free(q);
        return hers_error(HERS_ERR_NOMEM, "query: out of memory");
    }
    *out = q;
    return HERS_OK;
}

hers_status hers_query_encrypt_compact(const hers_params *p, const hers_secret_key *sk,
                                       const int32_t *probes, size_t count, size_t d, uint32_t scale,
                                       const uint8_t *seed, hers_query **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "compact query: out is NULL");
    *out = NULL;
    if (!p || !sk || !probes)
        return hers_error(HERS_ERR_ARG, "compact query: NULL argument (the secret key is required)");
    if (count == 0 || count > HERS_QUERY_MAX_COUNT)
        return hers_error(HERS_ERR_ARG, "compact query: %zu probes (1..%zu)", count,
                          (size_t)HERS_QUERY_MAX_COUNT);
    hers_status st = hers_search_check_params(p, HERS_MODE_PLAIN_GALLERY);
    if (st == HERS_OK)
        st = hers_search_check_values(probes, count, d, scale, "compact query");
    if (st == HERS_OK)
        st = hers_quant_check(d, scale, hers_params_t(p));
    if (st == HERS_OK)
        st = hers_search_check_key(p, hers_secret_key_params_id(sk), "compact query: key");
    if (st != HERS_OK)
        return st;
    hers_query *q = NULL;
    if ((st = hers_query_compact_alloc(p, count, d, scale, &q)) != HERS_OK)
        return st;
    uint8_t master[HERS_SEED_BYTES];
    if (seed)
        memcpy(master, seed, sizeof master);
    else if ((st = hers_random_bytes(master, sizeof master)) != HERS_OK) {
        hers_query_free(q);
        return st;
    }
    size_t n = hers_params_n(p);
    int64_t *v = hers_alloc_array(n, sizeof(int64_t));
    hers_plaintext pt = {0};
    hers_ciphertext ct = {0};
    if (!v)
        st = hers_error(HERS_ERR_NOMEM, "compact query: out of memory");
    hers_modulus tm;
    if (st == HERS_OK)
        st = hers_modulus_init(&tm, hers_params_t(p));
    uint64_t inv2 = st == HERS_OK ? hers_inv_mod(2, &tm) : 0;
    for (size_t r = 0; r < count && st == HERS_OK; r++) {
        for (size_t c = 0; c < q->chunks && st == HERS_OK; c++) {
            size_t dc = chunk_d(p, d, c), task = r * q->chunks + c;
            for (size_t i = 0; i < dc; i++) {
                int64_t x = probes[r * d + c * n + i];
                uint64_t t = hers_params_t(p);
                uint64_t u = x < 0 ? t - (uint64_t)(-x) % t : (uint64_t)x % t;
                uint64_t f = hers_pow_mod(inv2, hers_expand_doublings(dc, i), &tm);
                v[i] = (int64_t)hers_mul_mod(u, f, &tm);
            }
            uint8_t s[HERS_SEED_BYTES];
            hers_prg g;
            hers_prg_init(&g, master, STREAM_QUERY_COMPACT + task);
            hers_prg_bytes(&g, s, HERS_SEED_BYTES);
            hers_prg_wipe(&g);
            st = hers_encode_coeff(p, v, dc, &pt);
            if (st == HERS_OK)
                st = hers_encrypt_secret_seeded(p, sk, &pt, s, &ct);
            hers_wipe(s, sizeof s);
            /* the ciphertext's own (derived, public) a-seed travels */
            if (st == HERS_OK)
                memcpy(q->seeds + task * HERS_SEED_BYTES, ct.seed, HERS_SEED_BYTES);
            if (st == HERS_OK)
                st = hers_c0_compress(p, &ct, q->y + task * 2 * n);
        }
    }
    if (v)
        hers_wipe(v, n * sizeof(int64_t));
    hers_free(v);
    if (pt.coeffs)
        hers_wipe(pt.coeffs, n * sizeof(uint64_t));
    hers_plaintext_free(&pt);
    hers_ciphertext_free(&ct);
    hers_wipe(master, sizeof master);
    if (st != HERS_OK) {
        hers_query_free(q);
        return st;
    }
    *out = q;
    return HERS_OK;
}

/* ------------------------------------------------------------ server */

struct exp_ctx {
    const hers_params *p;
    const hers_galois_key *gk;
    const hers_query *in;
    hers_query *out;
    hers_task_error err;
};

static void exp_task(void *vctx, size_t task, unsigned w)
{
    (void)w;
    struct exp_ctx *c = vctx;
    if (c->err.st != HERS_OK)
        return;
    const hers_params *p = c->p;
    size_t r = task / c->in->chunks, ch = task % c->in->chunks;
    /* decompressed straight into the chunk's first output ciphertext (the
     * root of its expansion; hers_expand works in place from there): no
     * allocation per probe */
    hers_ciphertext *root = &c->out->cts[r * c->in->d + ch * hers_params_n(p)];
    hers_status st = hers_c0_decompress(p, c->in->y + task * 2 * hers_params_n(p),
                                        c->in->seeds + task * HERS_SEED_BYTES, root);
    if (st == HERS_OK)
        st = hers_expand(p, c->gk, root, chunk_d(p, c->in->d, ch), root);
    if (st != HERS_OK)
        hers_task_error_set(&c->err, st, NULL);
}

static hers_status expand_check(const hers_params *p, const hers_galois_key *gk,
                                const hers_query *in)
{
    if (!p || !gk || !in)
        return hers_error(HERS_ERR_ARG, "query expand: NULL argument");
    hers_status st = hers_search_check_id(p, in->params_id, "query expand");
    if (st != HERS_OK)
        return st;
    if (!in->compact)
        return hers_error(HERS_ERR_ARG, "query expand: the query is already in the full form");
    uint32_t el[HERS_GALOIS_MAX_ELEMENTS];
    size_t cnt = 0;
    if ((st = hers_query_galois_elements(p, in->d, el, &cnt)) != HERS_OK)
        return st;
    for (size_t j = 0; j < cnt; j++)
        if (!hers_galois_key_has(gk, el[j]))
            return hers_error(HERS_ERR_MISMATCH,
                              "query expand: the Galois keys lack element %u (d = %zu needs %zu keys)",
                              el[j], in->d, cnt);
    return HERS_OK;
}

static hers_status expand_run(const hers_params *p, const hers_galois_key *gk, const hers_query *in,
                              unsigned threads, hers_query *q)
{
    struct exp_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.gk = gk;
    c.in = in;
    c.out = q;
    size_t tasks = in->count * in->chunks;
    unsigned nt = hers_threads_resolve(threads);
    if (nt > tasks)
        nt = (unsigned)tasks;
    hers_pool *pool = NULL;
    hers_status st = hers_pool_create(nt, &pool);
    if (st == HERS_OK) {
        hers_task_error_init(&c.err);
        hers_pool_run(pool, exp_task, &c, tasks);
        hers_pool_free(pool);
        hers_task_error_destroy(&c.err);
        st = hers_task_error_raise(&c.err);
    }
    return st;
}

hers_status hers_query_expand(const hers_params *p, const hers_galois_key *gk, const hers_query *in,
                              unsigned threads, hers_query **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "query expand: out is NULL");
    *out = NULL;
    hers_status st = expand_check(p, gk, in);
    if (st != HERS_OK)
        return st;
    hers_query *q = NULL;
    if ((st = hers_query_alloc(p, in->count, in->d, in->scale, &q)) != HERS_OK)
        return st;
    /* every output ciphertext's residues in one block (huge pages where
     * available): one allocation instead of count x d */
    size_t per = 2 * hers_params_num_primes(p) * hers_params_n(p);
    q->arena = hers_alloc_array(in->count * in->d, per * sizeof(uint64_t));
    if (!q->arena) {
        hers_query_free(q);
        return hers_error(HERS_ERR_NOMEM, "query expand: out of memory");
    }
    for (size_t i = 0; i < in->count * in->d; i++)
        (void)hers_ciphertext_init_borrowed(p, 2, q->arena + i * per, &q->cts[i]);
    if ((st = expand_run(p, gk, in, threads, q)) != HERS_OK) {
        hers_query_free(q);
        return st;
    }
    *out = q;
    return HERS_OK;
}

hers_status hers_query_expand_into(const hers_params *p, const hers_galois_key *gk,
                                   const hers_query *in, unsigned threads, hers_query *out)
{
    hers_status st = expand_check(p, gk, in);
    if (st != HERS_OK)
        return st;
    if (!out || out->compact || !out->arena || out->count != in->count || out->d != in->d ||
        hers_search_check_id(p, out->params_id, "query expand into") != HERS_OK)
        return hers_error(HERS_ERR_ARG,
                          "query expand into: the output must come from hers_query_expand with the "
                          "same parameters, probe count and d");
    out->scale = in->scale;
    return expand_run(p, gk, in, threads, out);
}

/* ------------------------------------------------------------ record */

size_t hers_query_compact_record_bytes(const hers_params *p, size_t count, size_t d)
{
    size_t per = HERS_SEED_BYTES + hers_params_n(p) / 8 * hers_c0_bits(p);
    return count * chunks_of(p, d) * per;
}

/* N values of K bits in two planes: bits 0..min(K,32)-1, then bits 32..K-1. */
uint8_t *hers_query_compact_pack(const hers_params *p, const hers_query *q, uint8_t *o)
{
    unsigned K = hers_c0_bits(p), lo = K < 32 ? K : 32;
    size_t n = hers_params_n(p);
    for (size_t i = 0; i < q->count * q->chunks; i++) {
        const uint64_t *y = q->y + i * 2 * n;
        memcpy(o, q->seeds + i * HERS_SEED_BYTES, HERS_SEED_BYTES);
        o += HERS_SEED_BYTES;
        se_pack(o, y, n, (int)lo);
        o += n / 8 * lo;
        if (K > 32) {
            se_pack(o, y + n, n, (int)K - 32);
            o += n / 8 * (K - 32);
        }
    }
    return o;
}

hers_status hers_query_compact_unpack(const hers_params *p, const uint8_t *in, hers_query *q)
{
    unsigned K = hers_c0_bits(p), lo = K < 32 ? K : 32;
    size_t n = hers_params_n(p);
    for (size_t i = 0; i < q->count * q->chunks; i++) {
        uint64_t *y = q->y + i * 2 * n;
        memcpy(q->seeds + i * HERS_SEED_BYTES, in, HERS_SEED_BYTES);
        in += HERS_SEED_BYTES;
        int ok = hers_bitunpack(y, in, n, (int)lo, (uint64_t)1 << lo);
        in += n / 8 * lo;
        if (K > 32) {
            ok &= hers_bitunpack(y + n, in, n, (int)K - 32, (uint64_t)1 << (K - 32));
            in += n / 8 * (K - 32);
        } else {
            memset(y + n, 0, n * sizeof(uint64_t));
        }
        if (!ok)
            return hers_error(HERS_ERR_FORMAT, "query: compressed value out of range");
    }
    return HERS_OK;
}
