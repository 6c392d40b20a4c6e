/* test_search_coeff.c - coefficient-packed galleries (template x in
 * plaintext coefficient x, docs/design.md "Shrinking the download"): the
 * decrypted scores must be exactly the plaintext inner products for d in
 * {1, 16, 64, 128, 512}, partial blocks, secret-key and public-key
 * enrolment, the plain-gallery mode, both query forms (d ciphertexts and
 * the compact one-ciphertext query expanded by the server) and every SIMD
 * level, through every result record: the full residues (version 3, body
 * 0), the compact low-bit window (body 2: 6.0 bytes per template at n4096,
 * d = 64) and its fallback, the rounded body (body 1) when q_0 is too small
 * for the key holder's product. Also: the window widths, the gallery file's
 * packing field, the generic reference path, gallery decryption, the
 * store's refusal of coefficient-packed records, and a known-answer
 * transcript (tests/kat/coeff_kat.txt: seeded keys, gallery, query; the
 * gallery record, the window record and the scores, identical at every
 * SIMD level; regenerate with HERS_KAT_WRITE=1 after a deliberate format
 * change). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"
#include "core/bitpack.h"
#include "search/search_internal.h"
#include "search/search_merge.h"
#include "support/check.h"
#include "support/search_sets.h"
#include "support/kat.h"

static int32_t *make_data(size_t n, size_t d, uint32_t s)
{
    int32_t *q = malloc(n * d * sizeof *q);
    float *x = malloc(d * sizeof *x);
    for (size_t r = 0; r < n; r++) {
        double nn = 0;
        for (size_t i = 0; i < d; i++) {
            x[i] = (float)((double)(test_rand() % 2000001) / 1e6 - 1.0);
            nn += (double)x[i] * x[i];
        }
        nn = sqrt(nn);
        /* row 0 and 1: the same vector and its negation (the extreme scores
         * +-||v||^2 against each other) */
        for (size_t i = 0; i < d; i++)
            x[i] = (float)(x[i] / nn * 0.9999);
        CHECK_OK(hers_quant_vector(x, d, s, q + r * d));
    }
    if (n >= 2)
        for (size_t i = 0; i < d; i++)
            q[d + i] = -q[i];
    free(x);
    return q;
}

static int check_scores(const hers_params *p, const hers_secret_key *sk, const hers_result *res,
                        const int32_t *g, size_t n, const int32_t *probes, size_t count, size_t d)
{
    int64_t *got = malloc(n * sizeof *got);
    int ok = res != NULL;
    for (size_t r = 0; res && r < count; r++) {
        CHECK_OK(hers_result_decrypt(p, sk, res, r, got));
        for (size_t x = 0; x < n; x++) {
            int64_t want = 0;
            for (size_t i = 0; i < d; i++)
                want += (int64_t)g[x * d + i] * probes[r * d + i];
            if (got[x] != want) {
                if (ok)
                    fprintf(stderr, "  probe %zu template %zu: %lld != %lld\n", r, x,
                            (long long)got[x], (long long)want);
                ok = 0;
            }
        }
    }
    free(got);
    return ok;
}

/* Record round trip of res (compact or full); checks the version, the body
 * and the size, the scores after reading, re-serialisation to the same
 * bytes, and a flipped byte. Returns the record's bytes per template. */
static double round_trip(const hers_params *p, const hers_secret_key *sk, const hers_result *res,
                         int compact, const int32_t *g, size_t n, const int32_t *pr, size_t count,
                         size_t d, uint32_t s)
{
    uint8_t *rb = NULL;
    size_t rl = 0, rl2 = 0;
    hers_result *back = NULL;
    if (compact)
        CHECK_OK(hers_result_serialize_compact(p, res, &rb, &rl));
    else
        CHECK_OK(hers_result_serialize(p, res, &rb, &rl));
    if (!rb)
        return 0;
    CHECK(hers_le_get_u32(rb + 8) == 3);
    size_t N = hers_params_n(p), blocks = (n + N - 1) / N;
    unsigned b0, b1, w0, w1;
    hers_result_compact_bits(p, &b0, &b1);
    uint32_t body = hers_le_get_u32(rb + 84);
    if (compact && hers_result_window_bits(p, d, s, &w0, &w1) == HERS_OK) {
        CHECK(body == (2u | w0 << 8 | w1 << 16));
        CHECK(rl == 88 + count * blocks * (N / 8 * (w0 + w1)) + 32);
    } else if (compact) {
        CHECK(body == (1u | b0 << 8 | b1 << 16));
        CHECK(rl == 88 + count * blocks * (N / 8 * (b0 + b1)) + 32);
    } else {
        CHECK(body == 0);
        /* the server's block-range writer gives the same bytes (version 3) */
        size_t sz = 0;
        CHECK_OK(hers_result_range_size(p, res, 0, blocks, &sz));
        uint8_t *rr = sz == rl ? malloc(sz) : NULL;
        CHECK(rr && hers_result_range_serialize(p, res, 0, blocks, rr, sz, &rl2) == HERS_OK &&
              rl2 == rl && memcmp(rr, rb, rl) == 0);
        free(rr);
    }
    const char *seed_dir = getenv("HERS_WRITE_FUZZ_SEEDS");
    if (seed_dir && compact && N == 1024 && d == 16 && hers_params_num_primes(p) == 2) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz_result/coeff_window", seed_dir);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fputc(1, f);   /* fuzz/search_record_fuzz.h: the wide N = 1024 set */
            fwrite(rb, 1, rl, f);
            fclose(f);
        }
    }
    CHECK_OK(hers_result_deserialize(p, rb, rl, &back));
    CHECK(back && hers_result_packing(back) == HERS_PACK_COEFF);
    if (back && (body & 0xff) == 2) {   /* window values are not ciphertexts */
        hers_result *v = NULL;
        double bits;
        CHECK(hers_result_view_blocks(back, 0, 1, &v) == HERS_ERR_UNSUPPORTED && !v);
        CHECK(hers_result_noise_budget(p, sk, back, 0, &bits) == HERS_ERR_UNSUPPORTED);
        CHECK(hers_result_range_serialize(p, back, 0, 1, rb, rl, &rl2) == HERS_ERR_UNSUPPORTED);
    }
    CHECK(check_scores(p, sk, back, g, n, pr, count, d));
    if (back) {
        uint8_t *rb2 = NULL;
        CHECK_OK(hers_result_serialize(p, back, &rb2, &rl2));
        CHECK(rl2 == rl && rb2 && memcmp(rb2, rb, rl) == 0);
        hers_free(rb2);
    }
    hers_result_free(back);
    back = NULL;
    rb[rl / 2] ^= 1;
    CHECK(hers_result_deserialize(p, rb, rl, &back) == HERS_ERR_CHECKSUM && !back);
    rb[rl / 2] ^= 1;
    if (compact) {   /* a window field that does not fit the parameters */
        hers_le_put_u32(rb + 84, body + (1u << 16));
        CHECK(hers_result_deserialize(p, rb, rl, &back) == HERS_ERR_FORMAT && !back);
    }
    hers_free(rb);
    return (double)(rl - 120) / (double)(count * blocks * N);   /* per slot */
}

typedef struct keys {
    hers_secret_key *sk;
    hers_public_key *pk;
    hers_relin_key *rk;
    hers_galois_key *gk;
} keys;

/* Enrols n x d templates coefficient-packed (public key if pub, plain
 * gallery if plain) and searches 2 probes in the full and the compact form
 * at every SIMD level. */
static void run_case(const hers_params *p, const char *name, const keys *k, hers_searcher *sr,
                     size_t n, size_t d, int pub, int plain)
{
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    size_t count = 2;
    int32_t *g = make_data(n, d, s), *pr = make_data(count, d, s);
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.threads = 2;
    eo.packing = HERS_PACK_COEFF;
    if (plain)
        eo.mode = HERS_MODE_PLAIN_GALLERY;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    CHECK_OK(hers_gallery_enroll(p, plain || pub ? NULL : k->sk, pub ? k->pk : NULL, g, n, d, &eo,
                                 &gal));
    if (gal) {
        CHECK(hers_gallery_packing(gal) == HERS_PACK_COEFF);
        CHECK_OK(hers_index_build(p, gal, 2, &ix));
    }
    hers_query *fq = NULL, *cq = NULL, *eq = NULL;
    CHECK_OK(hers_query_encrypt(p, k->sk, NULL, pr, count, d, s, NULL, &fq));
    CHECK_OK(hers_query_encrypt_compact(p, k->sk, pr, count, d, s, NULL, &cq));
    if (cq)
        CHECK_OK(hers_query_expand(p, k->gk, cq, 1, &eq));
    double win = 0;
    int all_ok = 1;
    hers_search_opts so = {HERS_RESULT_RELINEARIZED, k->rk};
    FOR_EACH_SIMD(level) {
        for (int form = 0; ix && fq && eq && form < 2; form++) {
            const hers_query *q = form ? eq : fq;
            hers_result *res = NULL, *rr = NULL;
            CHECK_OK(hers_search(sr, p, ix, q, NULL, &res));
            CHECK(res && hers_result_packing(res) == HERS_PACK_COEFF);
            all_ok &= check_scores(p, k->sk, res, g, n, pr, count, d);
            CHECK_OK(hers_search(sr, p, ix, q, &so, &rr));
            all_ok &= check_scores(p, k->sk, rr, g, n, pr, count, d);
            if (rr && level == HERS_SIMD_PORTABLE) {
                /* the records (written the same at every level) */
                win = round_trip(p, k->sk, rr, 1, g, n, pr, count, d, s);
                round_trip(p, k->sk, res, 0, g, n, pr, count, d, s);
            }
            hers_result_free(res);
            hers_result_free(rr);
        }
        (void)level;
    }
    CHECK(all_ok);
    printf("  %s %s n = %zu d = %zu: exact (full and compact query, every level); compact record "
           "%.3f bytes per template slot\n", name,
           plain ? "plain-gallery" : pub ? "public-key" : "secret-key", n, d, win);
    if (hers_params_n(p) == 4096 && d == 64)
        CHECK(win == 6.0);
    hers_query_free(fq);
    hers_query_free(cq);
    hers_query_free(eq);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
    free(pr);
}

static void keys_make(const hers_params *p, uint8_t tag, keys *k)
{
    uint8_t seed[32] = {tag};
    memset(k, 0, sizeof *k);
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &k->sk));
    CHECK_OK(hers_keygen_public(p, k->sk, &k->pk));
    CHECK_OK(hers_keygen_relin(p, k->sk, &k->rk));
    CHECK_OK(hers_query_galois_keygen(p, k->sk, HERS_SEARCH_MAX_D, NULL, &k->gk));
}

static void keys_free(keys *k)
{
    hers_secret_key_free(k->sk);
    hers_public_key_free(k->pk);
    hers_relin_key_free(k->rk);
    hers_galois_key_free(k->gk);
}

static void search_db(hers_store *db, hers_searcher *sr, const hers_params *p, const keys *k,
                      size_t chunk, const int32_t *g, size_t n, const int32_t *pr, size_t d)
{
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    hers_store_snapshot *sn = NULL;
    hers_query *q = NULL;
    hers_result *res = NULL;
    CHECK_OK(hers_query_encrypt(p, k->sk, NULL, pr, 1, d, s, NULL, &q));
    CHECK_OK(hers_store_snapshot_open(db, &sn));
    CHECK(sn && hers_store_snapshot_packing(sn) == HERS_PACK_COEFF);
    hers_store_search_opts o;
    hers_store_search_opts_default(&o);
    o.chunk_blocks = chunk;   /* 1: streamed, block by block */
    hers_store_search_stats st;
    if (sn && q)
        CHECK_OK(hers_store_search(sn, sr, q, &o, &res, &st));
    CHECK(res && hers_result_packing(res) == HERS_PACK_COEFF);
    if (res)
        CHECK(check_scores(p, k->sk, res, g, n, pr, 1, d));
    hers_result_free(res);
    hers_store_snapshot_close(sn);
    hers_query_free(q);
}

/* A coefficient-packed database: a slot-packed one refuses the record; one
 * set to coeff (or auto, resolved at the first enrolment) takes it and
 * enrolments from the secret and the public key, searches exactly (one
 * pass and streamed), deletes, compacts, reopens and checks. */
static void check_store(const hers_params *p, const keys *k, hers_searcher *sr,
                        const uint8_t *rec, size_t len, const int32_t *g, size_t n, size_t d)
{
    char dir[] = "/tmp/hers-coeff-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64], path2[64];
    snprintf(path, sizeof path, "%s/db", dir);
    snprintf(path2, sizeof path2, "%s/db2", dir);
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    hers_store_enroll_opts so;
    hers_store_enroll_opts_default(&so);
    so.scale = s;
    hers_store *db = NULL;
    hers_store_info info;
    /* slot (hers_store_create's default, and old databases): refused */
    CHECK_OK(hers_store_create(path2, p, k->pk, NULL, NULL, 0));
    CHECK_OK(hers_store_open(path2, 0, &db));
    if (db) {
        CHECK_OK(hers_store_get_info(db, &info));
        CHECK(info.packing == HERS_PACK_SLOT);
        CHECK(hers_store_enroll_record(db, rec, len, 0, n, NULL, &so, NULL) == HERS_ERR_MISMATCH);
        CHECK(hers_store_set_packing(db, (hers_packing)5) == HERS_ERR_ARG);
        /* auto: the rule decides at the first enrolment (coeff here) */
        CHECK_OK(hers_store_set_packing(db, HERS_PACK_AUTO));
        CHECK_OK(hers_store_get_info(db, &info));
        CHECK(info.packing == HERS_PACK_AUTO);
        CHECK_OK(hers_store_enroll_record(db, rec, len, 0, n, NULL, &so, NULL));
        CHECK_OK(hers_store_get_info(db, &info));
        CHECK(info.packing == hers_packing_default(p, d, s) && info.packing == HERS_PACK_COEFF);
        CHECK(hers_store_set_packing(db, HERS_PACK_SLOT) == HERS_ERR_STATE);
        CHECK_OK(hers_store_set_packing(db, HERS_PACK_COEFF));   /* unchanged: fine */
    }
    hers_store_close(db);
    db = NULL;
    /* coeff: the record, then enrolments by the key holder and a third party */
    CHECK_OK(hers_store_create(path, p, k->pk, NULL, NULL, 0));
    CHECK_OK(hers_store_open(path, 0, &db));
    size_t m = 40, total = n + 2 * m;
    int32_t *all = make_data(total, d, s), *pr = make_data(1, d, s);
    memcpy(all, g, n * d * sizeof *all);
    char **ids = calloc(2 * m, sizeof *ids);
    for (size_t i = 0; i < 2 * m; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "%zu", n + i);
    }
    if (db) {
        CHECK_OK(hers_store_set_packing(db, HERS_PACK_COEFF));
        CHECK_OK(hers_store_enroll_record(db, rec, len, 0, n, NULL, &so, NULL));
        CHECK_OK(hers_store_enroll(db, k->sk, NULL, all + n * d, m, d, (const char *const *)ids,
                                   &so, NULL));
        CHECK_OK(hers_store_enroll(db, NULL, hers_store_public_key(db), all + (n + m) * d, m, d,
                                   (const char *const *)ids + m, &so, NULL));
        search_db(db, sr, p, k, 0, all, total, pr, d);
        search_db(db, sr, p, k, 1, all, total, pr, d);
        /* delete, compact (decrypts and re-encrypts in the same packing) */
        const char *del[] = {"0", "7"};
        CHECK_OK(hers_store_delete(db, del, 2));
        hers_store_compact_stats cs;
        CHECK_OK(hers_store_compact(db, k->sk, 1, &cs));
    }
    hers_store_close(db);
    db = NULL;
    CHECK_OK(hers_store_open(path, 0, &db));
    if (db) {
        uint64_t problems = 1;
        CHECK_OK(hers_store_check(db, NULL, NULL, &problems));
        CHECK(problems == 0);
        CHECK_OK(hers_store_get_info(db, &info));
        CHECK(info.packing == HERS_PACK_COEFF && info.live == total - 2);
        /* after compaction the live rows are packed in slot order: the two
         * deleted rows are gone, the others keep their order */
        int32_t *rest = malloc((total - 2) * d * sizeof *rest);
        size_t r = 0;
        for (size_t i = 0; i < total; i++)
            if (i != 0 && i != 7)
                memcpy(rest + d * r++, all + i * d, d * sizeof *rest);
        search_db(db, sr, p, k, 0, rest, total - 2, pr, d);
        free(rest);
        CHECK(hers_store_set_packing(db, HERS_PACK_SLOT) == HERS_ERR_STATE);
    }
    hers_store_close(db);
    for (size_t i = 0; i < 2 * m; i++)
        free(ids[i]);
    free(ids);
    free(all);
    free(pr);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* File round trip, reference path, gallery decryption, refusals. */
static void check_gallery(const hers_params *p, const keys *k, hers_searcher *sr)
{
    size_t n = hers_params_n(p) + 9, d = 16, count = 1;
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    int32_t *g = make_data(n, d, s), *pr = make_data(count, d, s);
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.packing = HERS_PACK_COEFF;
    hers_gallery *gal = NULL, *back = NULL, *slot = NULL;
    CHECK_OK(hers_gallery_enroll(p, k->sk, NULL, g, n, d, &eo, &gal));
    uint8_t *buf = NULL;
    size_t len = 0;
    if (gal)
        CHECK_OK(hers_gallery_serialize(p, gal, &buf, &len));
    if (buf) {
        CHECK(hers_le_get_u32(buf + 212) == 1);
        CHECK_OK(hers_gallery_deserialize(p, buf, len, &back));
        CHECK(back && hers_gallery_packing(back) == HERS_PACK_COEFF);
        check_store(p, k, sr, buf, len, g, n, d);
        /* an unknown packing value */
        hers_le_put_u32(buf + 212, 2);
        hers_gallery *bad = NULL;
        CHECK(hers_gallery_deserialize(p, buf, len, &bad) == HERS_ERR_FORMAT && !bad);
    }
    /* gallery decryption reads coefficients */
    int32_t *dec = malloc(n * d * sizeof *dec);
    if (back) {
        CHECK_OK(hers_gallery_decrypt(p, k->sk, back, dec));
        CHECK(memcmp(dec, g, n * d * sizeof *dec) == 0);
    }
    /* the generic path (ct x ct, relinearise, add) gives the same scores */
    hers_query *fq = NULL;
    hers_result *ref = NULL;
    CHECK_OK(hers_query_encrypt(p, k->sk, NULL, pr, count, d, s, NULL, &fq));
    if (back && fq) {
        CHECK_OK(hers_search_reference(p, back, fq, k->rk, &ref));
        CHECK(check_scores(p, k->sk, ref, g, n, pr, count, d));
    }
    /* a slot-packed index refuses a coefficient-packed segment */
    hers_enroll_opts_default(&eo);
    CHECK_OK(hers_gallery_enroll(p, k->sk, NULL, g, n, d, &eo, &slot));
    hers_index *ix = NULL;
    if (slot && back) {
        CHECK(hers_gallery_packing(slot) == HERS_PACK_SLOT);
        CHECK_OK(hers_index_build(p, slot, 1, &ix));
        CHECK(ix && hers_index_add_gallery(p, ix, 0, back, 0, 1, 1) == HERS_ERR_MISMATCH);
        hers_result *sres = NULL;
        CHECK_OK(hers_search(sr, p, ix, fq, NULL, &sres));
        CHECK(sres && hers_result_packing(sres) == HERS_PACK_SLOT);
        CHECK(check_scores(p, k->sk, sres, g, n, pr, count, d));
        hers_result_free(sres);
    }
    eo.packing = (hers_packing)7;
    hers_gallery *bad = NULL;
    CHECK(hers_gallery_enroll(p, k->sk, NULL, g, n, d, &eo, &bad) == HERS_ERR_ARG && !bad);
    hers_packing pk;
    CHECK(hers_packing_parse("coeff", &pk) == HERS_OK && pk == HERS_PACK_COEFF);
    CHECK(hers_packing_parse("slot", &pk) == HERS_OK && pk == HERS_PACK_SLOT);
    CHECK(hers_packing_parse("rows", &pk) == HERS_ERR_ARG);
    CHECK(strcmp(hers_packing_name(HERS_PACK_COEFF), "coeff") == 0);
    hers_index_free(ix);
    hers_result_free(ref);
    hers_query_free(fq);
    free(dec);
    hers_free(buf);
    hers_gallery_free(gal);
    hers_gallery_free(back);
    hers_gallery_free(slot);
    free(g);
    free(pr);
}

/* ------------------------------------------------------------ KAT */

#define KAT_LINES 16
static test_kat_line kat[KAT_LINES];
static size_t nkat;

static void kat_line(const char *label, const void *data, size_t len)
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, data, len, NULL, 0);
    if (nkat < KAT_LINES)
        test_kat_format(kat[nkat++], label, h, sizeof h);
}

/* Seeded keys, gallery (n templates, d dims, coefficient-packed) and
 * query: hashes of the gallery record, the compact window record and the
 * decrypted scores. */
static void kat_transcript(const hers_params *p, const char *name, size_t n, size_t d)
{
    uint8_t seed[32] = {0x4b, 0x41, 0x54}, gseed[32] = {0x47}, qseed[32] = {0x51};
    uint32_t s = HERS_QUANT_PAPER_SCALE;
    size_t count = 2;
    uint64_t saved = test_rand();   /* the run's own sequence resumes from here */
    test_rand_seed(1234);
    int32_t *g = make_data(n, d, s), *pr = make_data(count, d, s);
    test_rand_seed(saved);
    hers_secret_key *sk = NULL;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    CHECK_OK(hers_keygen_relin_seeded(p, sk, gseed, &rk));
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.seed = gseed;
    eo.packing = HERS_PACK_COEFF;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_query *q = NULL;
    hers_result *res = NULL, *back = NULL;
    hers_searcher *sr = NULL;
    uint8_t *gb = NULL, *rb = NULL;
    size_t gl = 0, rl = 0;
    char label[64];
    CHECK_OK(hers_searcher_create(1, &sr));
    CHECK_OK(hers_gallery_enroll(p, sk, NULL, g, n, d, &eo, &gal));
    if (gal) {
        CHECK_OK(hers_gallery_serialize(p, gal, &gb, &gl));
        CHECK_OK(hers_index_build(p, gal, 1, &ix));
    }
    CHECK_OK(hers_query_encrypt(p, sk, NULL, pr, count, d, s, qseed, &q));
    hers_search_opts so = {HERS_RESULT_RELINEARIZED, rk};
    if (ix && q)
        CHECK_OK(hers_search(sr, p, ix, q, &so, &res));
    if (res)
        CHECK_OK(hers_result_serialize_compact(p, res, &rb, &rl));
    if (rb)
        CHECK_OK(hers_result_deserialize(p, rb, rl, &back));
    if (gb && rb && back) {
        snprintf(label, sizeof label, "%s.gallery", name);
        kat_line(label, gb, gl);
        snprintf(label, sizeof label, "%s.window_record", name);
        kat_line(label, rb, rl);
        int64_t *sc = calloc(count * n, sizeof *sc);
        for (size_t r = 0; r < count; r++)
            CHECK_OK(hers_result_decrypt(p, sk, back, r, sc + r * n));
        CHECK(check_scores(p, sk, back, g, n, pr, count, d));
        snprintf(label, sizeof label, "%s.scores", name);
        kat_line(label, sc, count * n * sizeof *sc);
        free(sc);
    }
    const char *seed_dir = getenv("HERS_WRITE_FUZZ_SEEDS");
    if (seed_dir && gb && hers_params_n(p) == 1024 && d == 1) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz_gallery/coeff", seed_dir);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fputc(1, f);
            fwrite(gb, 1, gl, f);
            fclose(f);
        }
    }
    hers_free(gb);
    hers_free(rb);
    hers_result_free(res);
    hers_result_free(back);
    hers_query_free(q);
    hers_index_free(ix);
    hers_gallery_free(gal);
    hers_searcher_free(sr);
    hers_relin_key_free(rk);
    hers_secret_key_free(sk);
    free(g);
    free(pr);
}

static void kat_check(hers_params *wide, hers_params *pd)
{
    test_kat_line ref[KAT_LINES];
    size_t nref = 0;
    int have = 0;
    FOR_EACH_SIMD(level) {
        nkat = 0;
        if (wide)
            kat_transcript(wide, "wide1024_d1", 5, 1);
        if (pd)
            kat_transcript(pd, "n4096_d64", 300, 64);
        test_kat_same_level(ref, &nref, &have, kat, nkat);
    }
    test_kat_file("coeff_kat.txt",
                  "hers coefficient-packed search known answers (tests/test_search_coeff.c): label "
                  "BLAKE2b-256",
                  ref, nref);
}

int main(void)
{
    test_rand_seed(test_seed());
    int quick = getenv("HERS_TEST_QUICK") != NULL;
    hers_searcher *sr = NULL;
    CHECK_OK(hers_searcher_create(2, &sr));

    /* the window widths: n4096, d = 64, scale 125 -> 18 + 30 bits = 6 bytes */
    hers_params *pd = NULL;
    CHECK_OK(hers_params_create_named(&pd, "n4096"));
    unsigned w0 = 0, w1 = 0, b0, b1;
    if (pd) {
        hers_result_compact_bits(pd, &b0, &b1);
        CHECK(b0 == 22 && b1 == 34);
        CHECK_OK(hers_result_window_bits(pd, 64, 125, &w0, &w1));
        CHECK(w0 == 18 && w1 == 30);
        /* the definition: the smallest w1 with 2^b1 (2B + 1) <= t 2^w1 */
        for (size_t d = 1; d <= 1024; d *= 2) {
            uint64_t B = hers_quant_score_bound(d, 125), t = hers_params_t(pd);
            if (hers_result_window_bits(pd, d, 125, &w0, &w1) != HERS_OK)
                continue;
            CHECK(((unsigned __int128)(2 * B + 1) << b1) <= ((unsigned __int128)t << w1));
            CHECK(((unsigned __int128)(2 * B + 1) << b1) > ((unsigned __int128)t << (w1 - 1)));
            CHECK(w0 + b1 - b0 == w1);
        }
        CHECK(hers_result_window_bits(pd, 64, 0, &w0, &w1) == HERS_ERR_UNSUPPORTED);
    }
    hers_params *wide = test_search_params(1024, 0), *narrow = test_search_params(1024, 1);
    keys kw, kn, kd;
    memset(&kw, 0, sizeof kw);
    memset(&kn, 0, sizeof kn);
    memset(&kd, 0, sizeof kd);
    if (wide) {
        keys_make(wide, 21, &kw);
        size_t ds[] = {1, 16, 64, 128, 512};
        for (size_t i = 0; i < 5; i++)
            if (!quick || ds[i] != 128)
                run_case(wide, "wide1024", &kw, sr, 1024 + 37, ds[i], 0, 0);
        run_case(wide, "wide1024", &kw, sr, 1024 + 37, 16, 1, 0);
        run_case(wide, "wide1024", &kw, sr, 600, 64, 1, 0);
        run_case(wide, "wide1024", &kw, sr, 1024 + 37, 64, 0, 1);
        check_gallery(wide, &kw, sr);
    }
    if (narrow) {   /* q_0 < 2^30: the rounded body (no window) */
        keys_make(narrow, 22, &kn);
        CHECK(hers_result_window_bits(narrow, 16, 125, &w0, &w1) == HERS_ERR_UNSUPPORTED);
        run_case(narrow, "narrow1024", &kn, sr, 1024 + 5, 16, 0, 0);
    }
    kat_check(wide, pd);
    if (pd) {
        keys_make(pd, 23, &kd);
        run_case(pd, "n4096", &kd, sr, 4096 + 100, 64, 0, 0);
        run_case(pd, "n4096", &kd, sr, 300, 64, 1, 0);
    }
    keys_free(&kw);
    keys_free(&kn);
    keys_free(&kd);
    hers_params_free(pd);
    hers_params_free(wide);
    hers_params_free(narrow);
    hers_searcher_free(sr);
    return test_finish();
}
