/*
 * gallery.c - enrolment: dimension-major packing of quantised templates into
 * blocks of N slots, encryption of every (block, dimension) ciphertext, and
 * the at-rest records (seed-compressed c0, public-key c0 + c1, or plain
 * int16 values). Ids. Workers encrypt records in parallel; each record's
 * randomness is derived from a master seed and the record number, so the
 * output does not depend on the thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_ntt.h"
#include "search/search_internal.h"

#define STREAM_ENROLL UINT64_C(0x454e524f4c4c0000) /* "ENROLL": per-record seeds */

size_t gal_poly_bytes(const hers_params *p)
{
    return se_poly_bytes(p, hers_params_num_primes(p));
}

hers_gallery *gal_new(const hers_params *p, hers_search_mode mode, gal_kind kind, size_t n,
                      size_t d, uint32_t scale)
{
    hers_gallery *g = hers_alloc(sizeof *g);
    if (!g)
        return NULL;
    memcpy(g->params_id, hers_params_id(p), HERS_PARAMS_ID_BYTES);
    g->N = hers_params_n(p);
    g->k = hers_params_num_primes(p);
    g->t = hers_params_t(p);
    for (size_t j = 0; j < g->k; j++)
        g->primes[j] = hers_params_prime(p, j);
    g->mode = mode;
    g->kind = kind;
    g->version = HERS_GALLERY_FILE_VERSION;
    g->n = n;
    g->d = d;
    g->blocks = (n + g->N - 1) / g->N;
    g->scale = scale;
    g->rec_bytes = gal_rec_bytes(p, kind);
    return g;
}

size_t gal_rec_bytes(const hers_params *p, gal_kind kind)
{
    switch (kind) {
    case GAL_PLAIN: return hers_params_n(p) * 2;
    case GAL_SEEDED: return HERS_SEED_BYTES + gal_poly_bytes(p);
    default: return 2 * gal_poly_bytes(p);
    }
}

int gal_id_valid(const char *s, size_t len)
{
    return hers_id_problem(s, len) == NULL;
}

static hers_status ids_alloc(hers_gallery *g, size_t bytes)
{
    hers_free(g->ids);
    hers_free(g->id_off);
    g->ids = hers_alloc(bytes ? bytes : 1);
    g->id_off = hers_alloc_array(g->n, sizeof *g->id_off);
    g->ids_bytes = bytes;
    if (!g->ids || !g->id_off)
        return hers_error(HERS_ERR_NOMEM, "gallery: out of memory for %zu ids", g->n);
    return HERS_OK;
}

/* Decimal digits of i into buf (no NUL), returns the length. snprintf per id
 * was ~70 instructions per template x dimension of enrolment at d = 64. */
static size_t dec_digits(size_t i, char *buf)
{
    char tmp[24];
    size_t len = 0;
    do {
        tmp[len++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    for (size_t a = 0; a < len; a++)
        buf[a] = tmp[len - 1 - a];
    return len;
}

hers_status gal_default_ids(hers_gallery *g)
{
    size_t bytes = 0;
    for (size_t i = 0, lim = 10, digits = 1; i < g->n; i++) {
        if (i == lim) {
            digits++;
            lim *= 10;
        }
        bytes += digits + 1;
    }
    hers_status st = ids_alloc(g, bytes);
    if (st != HERS_OK)
        return st;
    size_t o = 0;
    for (size_t i = 0; i < g->n; i++) {
        g->id_off[i] = o;
        o += dec_digits(i, g->ids + o);
        g->ids[o++] = '\0';
    }
    return HERS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

hers_status hers_gallery_set_ids(hers_gallery *g, const char *const *ids, size_t n)
{
    if (!g || !ids)
        return hers_error(HERS_ERR_ARG, "gallery ids: NULL argument");
    if (n != g->n)
        return hers_error(HERS_ERR_ARG, "gallery ids: %zu ids for %zu templates", n, g->n);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            return hers_error(HERS_ERR_ARG, "gallery ids: id %zu is NULL", i);
        size_t len = strlen(ids[i]);
        if (!gal_id_valid(ids[i], len))
            return hers_error(HERS_ERR_ARG,
                              "gallery ids: id %zu is empty, longer than %d bytes or contains a "
                              "tab or line break", i, HERS_SEARCH_MAX_ID);
        bytes += len + 1;
    }
    const char **sorted = hers_alloc_array(n, sizeof *sorted);
    if (!sorted)
        return hers_error(HERS_ERR_NOMEM, "gallery ids: out of memory");
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            hers_status st = hers_error(HERS_ERR_ARG, "gallery ids: duplicate id '%s'", sorted[i]);
            hers_free(sorted);
            return st;
        }
    hers_free(sorted);
    hers_status st = ids_alloc(g, bytes);
    if (st != HERS_OK)
        return st;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        g->id_off[i] = o;
        memcpy(g->ids + o, ids[i], len + 1);
        o += len + 1;
    }
    return HERS_OK;
}

const char *hers_gallery_id(const hers_gallery *g, size_t index)
{
    if (!g || index >= g->n || !g->ids)
        return NULL;
    return g->ids + g->id_off[index];
}

size_t hers_gallery_n(const hers_gallery *g) { return g->n; }
size_t hers_gallery_d(const hers_gallery *g) { return g->d; }
size_t hers_gallery_blocks(const hers_gallery *g) { return g->blocks; }
hers_search_mode hers_gallery_mode(const hers_gallery *g) { return g->mode; }
uint32_t hers_gallery_scale(const hers_gallery *g) { return g->scale; }
int hers_gallery_public_key_encrypted(const hers_gallery *g) { return g->kind == GAL_PUBLIC; }
hers_packing hers_gallery_packing(const hers_gallery *g) { return g->packing; }

const char *hers_packing_name(hers_packing k)
{
    return k == HERS_PACK_COEFF  ? "coeff"
           : k == HERS_PACK_SLOT ? "slot"
           : k == HERS_PACK_AUTO ? "auto"
                                 : "?";
}

hers_packing hers_packing_default(const hers_params *p, size_t d, uint32_t scale)
{
    unsigned w0, w1;
    return p && hers_result_window_bits(p, d, scale, &w0, &w1) == HERS_OK ? HERS_PACK_COEFF
                                                                          : HERS_PACK_SLOT;
}

hers_status hers_packing_parse(const char *s, hers_packing *out)
{
    if (!s || !out)
        return hers_error(HERS_ERR_ARG, "packing: NULL argument");
    if (!strcmp(s, "slot"))
        *out = HERS_PACK_SLOT;
    else if (!strcmp(s, "coeff") || !strcmp(s, "coefficient"))
        *out = HERS_PACK_COEFF;
    else if (!strcmp(s, "auto"))
        *out = HERS_PACK_AUTO;
    else
        return hers_error(HERS_ERR_ARG, "packing '%s': expected auto, slot or coeff", s);
    return HERS_OK;
}
uint64_t hers_gallery_payload_bytes(const hers_gallery *g)
{
    return (uint64_t)g->blocks * g->d * g->rec_bytes;
}

void hers_gallery_free(hers_gallery *g)
{
    if (!g)
        return;
    hers_free(g->recs);
    hers_free(g->ids);
    hers_free(g->id_off);
    hers_free(g);
}

void hers_enroll_opts_default(hers_enroll_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mode = HERS_MODE_BOTH_ENCRYPTED;
    o->scale = HERS_QUANT_PAPER_SCALE;
}

/* ------------------------------------------------------------ enrolment */

struct enroll_ctx {
    const hers_params *p;
    const hers_secret_key *sk;
    const hers_public_key *pk;
    const int32_t *values;
    hers_gallery *g;
    uint8_t master[HERS_SEED_BYTES];
    /* per worker scratch */
    int32_t **trans;        /* ENROLL_CHUNK x N transposed values */
    uint64_t **work;        /* work_words: the ciphertext (2 k N), then the
                               batch encryption's scratch */
    hers_task_error err;
};

/* Packs the k residue blocks of poly (k*N) into out. */
static void pack_poly(const hers_params *p, const uint64_t *poly, uint8_t *out)
{
    se_pack_poly(p, poly, hers_params_num_primes(p), out);
}

/* Dimensions per enrolment task: the task first transposes a block's rows
 * for these dimensions (16 int32 = one cache line per row), so the row-major
 * input is read sequentially once instead of once per dimension. */
#define ENROLL_CHUNK 16

/* Words of a worker's scratch: one ciphertext's residues (2 k N) and the
 * batch encryption's scratch (hers_encrypt_batch_scratch_words). */
static size_t work_words(const hers_params *p)
{
    return 2 * hers_params_num_primes(p) * hers_params_n(p) + hers_encrypt_batch_scratch_words(p);
}

/* Encrypts record (b, i) from the block's values of dimension i (count
 * values, the rest of the N slots zero). */
static void enroll_record(struct enroll_ctx *c, unsigned w, size_t b, size_t i,
                          const int32_t *vals, size_t count)
{
    hers_gallery *g = c->g;
    size_t N = g->N, task = b * g->d + i;
    uint8_t *rec = g->recs + task * g->rec_bytes;
    if (g->kind == GAL_PLAIN) {
        for (size_t x = 0; x < N; x++) {
            uint16_t u = (uint16_t)(int16_t)(x < count ? vals[x] : 0);
            rec[2 * x] = (uint8_t)u;
            rec[2 * x + 1] = (uint8_t)(u >> 8);
        }
        return;
    }
    uint8_t seed[HERS_SEED_BYTES];
    hers_prg prg;
    hers_prg_init(&prg, c->master, STREAM_ENROLL + task);
    hers_prg_bytes(&prg, seed, sizeof seed);
    hers_prg_wipe(&prg);
    /* one message through src/bfv's allocation-free batch encryption,
     * bit-identical to hers_encode_batch + hers_encrypt_*_seeded */
    const hers_params *p = c->p;
    size_t kn = hers_params_num_primes(p) * hers_params_n(p);
    uint64_t *ct = c->work[w], *scratch = ct + 2 * kn;
    const uint8_t (*seeds)[HERS_SEED_BYTES] = (const uint8_t (*)[HERS_SEED_BYTES])&seed;
    hers_status st;
    if (g->kind == GAL_SEEDED) {
        uint8_t (*a_seed)[HERS_SEED_BYTES] = (uint8_t (*)[HERS_SEED_BYTES])rec;
        st = hers_encrypt_batch_secret_packed(p, c->sk, gal_expander(g->version),
                                              g->packing == HERS_PACK_COEFF, vals, count, count, 1,
                                              seeds, scratch, a_seed, ct);
        if (st == HERS_OK)
            pack_poly(p, ct, rec + HERS_SEED_BYTES);
    } else {
        st = hers_encrypt_batch_public_packed(p, c->pk, g->packing == HERS_PACK_COEFF, vals, count,
                                              count, 1, seeds, scratch, ct);
        if (st == HERS_OK) {
            pack_poly(p, ct, rec);
            pack_poly(p, ct + kn, rec + gal_poly_bytes(p));
        }
    }
    hers_wipe(seed, sizeof seed);
    if (st != HERS_OK)
        hers_task_error_set(&c->err, st, NULL);
}

/* Task: block b, dimensions [i0, i0 + ENROLL_CHUNK). */
static void enroll_task(void *vctx, size_t task, unsigned w)
{
    struct enroll_ctx *c = vctx;
    hers_gallery *g = c->g;
    if (c->err.st != HERS_OK)
        return;
    size_t chunks = (g->d + ENROLL_CHUNK - 1) / ENROLL_CHUNK;
    size_t N = g->N, b = task / chunks, i0 = (task % chunks) * ENROLL_CHUNK;
    size_t i1 = i0 + ENROLL_CHUNK < g->d ? i0 + ENROLL_CHUNK : g->d;
    size_t first = b * N, count = g->n - first < N ? g->n - first : N;
    int32_t *tr = c->trans[w]; /* [ENROLL_CHUNK][N] */
    /* blocked: 256 rows' chunk (<= 16 KiB) stays in L1 while it is read once
     * per dimension; the writes are sequential (writing all dimensions of a
     * row at once would hit one L1 set 16 times: the rows of tr are 16 KiB
     * apart) */
    for (size_t x0 = 0; x0 < count; x0 += 256) {
        size_t x1 = x0 + 256 < count ? x0 + 256 : count;
        for (size_t i = i0; i < i1; i++) {
            const int32_t *src = c->values + (first + x0) * g->d + i;
            int32_t *dst = tr + (i - i0) * N;
            for (size_t x = x0; x < x1; x++, src += g->d)
                dst[x] = *src;
        }
    }
    for (size_t i = i0; i < i1 && c->err.st == HERS_OK; i++)
        enroll_record(c, w, b, i, tr + (i - i0) * N, count);
}

hers_status hers_gallery_enroll(const hers_params *p, const hers_secret_key *sk,
                                const hers_public_key *pk, const int32_t *values, size_t n,
                                size_t d, const hers_enroll_opts *opts, hers_gallery **out)
{
    return gal_enroll(p, sk, pk, values, n, d, opts, NULL, out);
}

hers_status gal_enroll(const hers_params *p, const hers_secret_key *sk, const hers_public_key *pk,
                       const int32_t *values, size_t n, size_t d, const hers_enroll_opts *opts,
                       uint8_t *recs, hers_gallery **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "enroll: out is NULL");
    *out = NULL;
    hers_enroll_opts def;
    if (!opts) {
        hers_enroll_opts_default(&def);
        opts = &def;
    }
    if (!p || !values)
        return hers_error(HERS_ERR_ARG, "enroll: NULL argument");
    if (opts->mode != HERS_MODE_BOTH_ENCRYPTED && opts->mode != HERS_MODE_PLAIN_GALLERY)
        return hers_error(HERS_ERR_ARG, "enroll: unknown mode %d", (int)opts->mode);
    hers_status st = hers_search_check_params(p, opts->mode);
    if (st != HERS_OK)
        return st;
    if (n == 0 || n > HERS_SEARCH_MAX_N)
        return hers_error(HERS_ERR_ARG, "enroll: n = %zu outside 1..2^32", n);
    if ((st = hers_search_check_values(values, n, d, opts->scale, "enroll")) != HERS_OK)
        return st;
    if ((st = hers_quant_check(d, opts->scale, hers_params_t(p))) != HERS_OK)
        return st;
    double worst, heur;
    if ((st = hers_search_noise_bound(p, opts->mode, d, pk != NULL, 1, &worst, &heur)) != HERS_OK)
        return st;
    if (worst < 1.0) {
        /* name a way out: the largest d these parameters and this key allow */
        size_t max_d = 0;
        for (size_t lo = 1, hi = d - 1; lo <= hi && hi >= 1;) {
            size_t mid = lo + (hi - lo) / 2;
            double w = 0, h = 0;
            if (hers_search_noise_bound(p, opts->mode, mid, pk != NULL, 1, &w, &h) == HERS_OK &&
                w >= 1.0) {
                max_d = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        const char *set = hers_params_name(p);
        char way[160];
        if (max_d)
            snprintf(way, sizeof way, "this set allows d <= %zu%s: compress to that d%s", max_d,
                     pk ? " with the public key" : "", pk ? ", enrol with the secret key," : "");
        else
            snprintf(way, sizeof way, "no d works with this set%s",
                     pk ? " and the public key: enrol with the secret key" : "");
        return hers_error(HERS_ERR_NOISE,
                          "enroll: d = %zu leaves a worst-case noise budget of %.1f bits with the "
                          "parameter set %s (need >= 1); %s or use a set with more noise room "
                          "(n4096)", d, worst, *set ? set : "(custom)", way);
    }
    gal_kind kind;
    if (opts->mode == HERS_MODE_PLAIN_GALLERY) {
        if (sk || pk)
            return hers_error(HERS_ERR_ARG, "enroll: plain-gallery mode takes no key");
        kind = GAL_PLAIN;
    } else {
        if (!!sk == !!pk)
            return hers_error(HERS_ERR_ARG,
                              "enroll: give exactly one of the secret key and the public key");
        kind = sk ? GAL_SEEDED : GAL_PUBLIC;
        const uint8_t *key_id = sk ? hers_secret_key_params_id(sk) : hers_public_key_params_id(pk);
        if ((st = hers_search_check_key(p, key_id, "enroll: key")) != HERS_OK)
            return st;
    }

    if (opts->packing != HERS_PACK_SLOT && opts->packing != HERS_PACK_COEFF)
        return hers_error(HERS_ERR_ARG, "enroll: unknown packing %d", (int)opts->packing);
    if (opts->format > HERS_GALLERY_FILE_VERSION)
        return hers_error(HERS_ERR_ARG, "enroll: gallery format %u unknown (1..%d)", opts->format,
                          HERS_GALLERY_FILE_VERSION);
    hers_gallery *g = gal_new(p, opts->mode, kind, n, d, opts->scale);
    if (!g)
        return hers_error(HERS_ERR_NOMEM, "enroll: out of memory");
    if (opts->format)
        g->version = opts->format;
    g->packing = opts->packing;
    g->recs = recs ? recs : hers_alloc_array(g->blocks * d, g->rec_bytes);
    if (!g->recs) {
        hers_gallery_free(g);
        return hers_error(HERS_ERR_NOMEM, "enroll: out of memory for %zu x %zu records of %zu bytes",
                          g->blocks, d, g->rec_bytes);
    }
    if ((st = gal_default_ids(g)) != HERS_OK) {
        if (recs)
            g->recs = NULL;   /* borrowed */
        hers_gallery_free(g);
        return st;
    }

    struct enroll_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.sk = sk;
    c.pk = pk;
    c.values = values;
    c.g = g;
    hers_task_error_init(&c.err);
    unsigned threads = 0;
    if (opts->seed)
        memcpy(c.master, opts->seed, HERS_SEED_BYTES);
    else if ((st = hers_random_bytes(c.master, HERS_SEED_BYTES)) != HERS_OK)
        goto done;
    size_t tasks = g->blocks * ((d + ENROLL_CHUNK - 1) / ENROLL_CHUNK);
    threads = hers_threads_resolve(opts->threads);
    if (threads > tasks)
        threads = (unsigned)tasks;
    c.trans = hers_alloc_array(threads, sizeof *c.trans);
    c.work = hers_alloc_array(threads, sizeof *c.work);
    if (!c.trans || !c.work) {
        st = hers_error(HERS_ERR_NOMEM, "enroll: out of memory");
        goto done;
    }
    for (unsigned w = 0; w < threads; w++) {
        c.trans[w] = hers_alloc_array((size_t)ENROLL_CHUNK * hers_params_n(p), sizeof(int32_t));
        c.work[w] = hers_alloc_array(work_words(p), sizeof(uint64_t));
        if (!c.trans[w] || !c.work[w]) {
            st = hers_error(HERS_ERR_NOMEM, "enroll: out of memory");
            goto done;
        }
    }
    hers_pool *pool = NULL;
    if ((st = hers_pool_create(threads, &pool)) != HERS_OK)
        goto done;
    hers_pool_run(pool, enroll_task, &c, tasks);
    hers_pool_free(pool);
    st = hers_task_error_raise(&c.err);
done:
    hers_wipe(c.master, sizeof c.master);
    for (unsigned w = 0; c.trans && c.work && w < threads; w++) {
        /* transposed values, messages, errors and e + Delta m: wipe */
        if (c.trans[w])
            hers_free_secret(c.trans[w], (size_t)ENROLL_CHUNK * hers_params_n(p) * sizeof(int32_t));
        if (c.work[w])
            hers_free_secret(c.work[w], work_words(p) * sizeof(uint64_t));
    }
    hers_free(c.trans);
    hers_free(c.work);
    hers_task_error_destroy(&c.err);
    if (st != HERS_OK) {
        if (recs)
            g->recs = NULL;   /* borrowed */
        hers_gallery_free(g);
        return st;
    }
    *out = g;
    return HERS_OK;
}
