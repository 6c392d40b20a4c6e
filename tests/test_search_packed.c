/* test_search_packed.c - HERS_RESULT_COMPACT (src/search/search.c): the
 * search relinearises, switches, rounds and packs every block into the
 * compact record's body inside the pass (in coefficient form, a different
 * order of the same exact operations) and gives the ciphertexts' memory
 * back to the result pool. Its records must equal, byte for byte, those of
 * HERS_RESULT_RELINEARIZED + hers_result_serialize_compact: slot packing
 * (version 2), coefficient packing with the window (version 3, body 2) and
 * rounded (scale too large for the window: version 3, body 1), secret-key,
 * public-key and plain galleries, 1 and 3 probes, views of probes and of
 * block ranges and range records written in place (what the server
 * encodes), slabs reused with garbage in
 * them, at every SIMD level; and read back, the scores are exactly the
 * plaintext inner products. The packed result holds no ciphertexts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "search/search_internal.h"
#include "support/check.h"
#include "support/search_sets.h"

/* N = 1024, 2 primes: 5 blocks, the last partial; a 3-part result of one
 * probe is 48 KiB per block, 3 probes x 30 blocks make pooled slabs */
#define D 4
#define PROBES 3

static hers_params *p;
static hers_secret_key *sk;
static hers_public_key *pk;
static hers_relin_key *rk;

static uint8_t *compact_record(const hers_result *r, size_t *len)
{
    uint8_t *b = NULL;
    *len = 0;
    if (hers_result_serialize_compact(p, r, &b, len) != HERS_OK)
        return NULL;
    return b;
}

/* a's and b's compact records are equal */
static int same_record(const hers_result *a, const hers_result *b)
{
    size_t la = 0, lb = 0;
    uint8_t *ra = compact_record(a, &la), *rb = compact_record(b, &lb);
    int ok = ra && rb && la == lb && memcmp(ra, rb, la) == 0;
    hers_free(ra);
    hers_free(rb);
    return ok;
}

/* The record of r read back and decrypted: exact scores for every probe. */
static int exact(const hers_result *r, const int32_t *g, size_t n, const int32_t *pr)
{
    size_t len = 0;
    uint8_t *b = compact_record(r, &len);
    hers_result *back = NULL;
    int64_t *got = malloc(n * sizeof *got);
    int ok = b && got && hers_result_deserialize(p, b, len, &back) == HERS_OK;
    for (size_t q = 0; ok && q < hers_result_count(back); q++) {
        ok = hers_result_decrypt(p, sk, back, q, got) == HERS_OK;
        for (size_t t = 0; ok && t < n; t++) {
            int64_t s = 0;
            for (size_t i = 0; i < D; i++)
                s += (int64_t)g[t * D + i] * pr[q * D + i];
            ok = got[t] == s;
        }
    }
    free(got);
    hers_result_free(back);
    hers_free(b);
    return ok;
}

/* Garbage in every word of a full result's slabs, then back to the pool. */
static void poison_free(hers_result *r)
{
    for (size_t i = 0; r && i < r->nslabs; i++)
        memset(r->slabs[i].a, 0xa5, r->slabs[i].bytes);
    hers_result_free(r);
}

static void run_case(const char *name, size_t n, hers_packing packing, uint32_t scale, int pub,
                     int plain, uint32_t want_form)
{
    int32_t *g = malloc(n * D * sizeof *g), pr[PROBES * D];
    int lim = (int)(scale / 2);   /* |x|^2 <= 4 (s/2)^2 = s^2 */
    for (size_t i = 0; i < n * D; i++)
        g[i] = (int32_t)(test_rand() % (uint64_t)(2 * lim + 1)) - lim;
    for (size_t i = 0; i < PROBES * D; i++)
        pr[i] = (int32_t)(test_rand() % (uint64_t)(2 * lim + 1)) - lim;
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.scale = scale;
    eo.threads = 2;
    eo.packing = packing;
    if (plain)
        eo.mode = HERS_MODE_PLAIN_GALLERY;
    hers_gallery *gal = NULL;
    hers_index *ix = NULL;
    hers_query *q1 = NULL, *q3 = NULL;
    hers_searcher *s = NULL;
    CHECK_OK(hers_gallery_enroll(p, plain || pub ? NULL : sk, pub ? pk : NULL, g, n, D, &eo, &gal));
    if (gal)
        CHECK_OK(hers_index_build(p, gal, 2, &ix));
    CHECK_OK(hers_query_encrypt(p, sk, NULL, pr, 1, D, scale, NULL, &q1));
    CHECK_OK(hers_query_encrypt(p, sk, NULL, pr, PROBES, D, scale, NULL, &q3));
    CHECK_OK(hers_searcher_create(2, &s));
    int ok = ix && q1 && q3 && s;
    hers_search_opts rel = {HERS_RESULT_RELINEARIZED, rk}, cmp = {HERS_RESULT_COMPACT, rk};
    FOR_EACH_SIMD(level) {
        for (int round = 0; ok && round < 2; round++) {   /* fresh slabs, then poisoned ones */
            for (int qi = 0; ok && qi < 2; qi++) {
                const hers_query *q = qi ? q3 : q1;
                size_t count = qi ? PROBES : 1;
                hers_result *a = NULL, *b = NULL, *full = NULL;
                ok = hers_search(s, p, ix, q, &rel, &a) == HERS_OK &&
                     hers_search(s, p, ix, q, &cmp, &b) == HERS_OK;
                ok = ok && b->body && !b->slabs && b->nslabs == 0 && b->body_form == want_form;
                /* the compaction is timed as the shrink phase (benchmarks' per-block figure) */
                hers_search_phases ph;
                hers_searcher_phases(s, &ph);
                ok = ok && ph.shrink_s > 0 && ph.probe_s + ph.scan_s + ph.shrink_s <= ph.total_s;
                ok = ok && same_record(a, b) && exact(b, g, n, pr);
                /* the serialiser takes it as compact; no ciphertexts inside */
                size_t l1 = 0, l2 = 0;
                uint8_t *r1 = NULL, *r2 = compact_record(b, &l2);
                ok = ok && hers_result_serialize(p, b, &r1, &l1) == HERS_OK && r2 && l1 == l2 &&
                     memcmp(r1, r2, l1) == 0;
                hers_free(r1);
                hers_free(r2);
                int64_t sc[1];
                ok = ok && hers_result_ciphertext(b, 0, 0) == NULL &&
                     hers_result_decrypt(p, sk, b, 0, sc) == HERS_ERR_UNSUPPORTED;
                /* views: the last probes, and every block range the server cuts */
                hers_result *va = NULL, *vb = NULL;
                ok = ok && hers_result_view(a, count - 1, 1, &va) == HERS_OK &&
                     hers_result_view(b, count - 1, 1, &vb) == HERS_OK && same_record(va, vb) &&
                     exact(vb, g, n, pr + (count - 1) * D);
                hers_result_free(va);
                hers_result_free(vb);
                for (size_t b0 = 0; ok && b0 < a->blocks; b0++)
                    for (size_t nb = 1; ok && nb <= a->blocks - b0; nb++) {
                        va = vb = NULL;
                        ok = hers_result_view_blocks(a, b0, nb, &va) == HERS_OK &&
                             hers_result_view_blocks(b, b0, nb, &vb) == HERS_OK &&
                             same_record(va, vb);
                        /* the range record written in place (the server's
                         * encoder) is that record too */
                        size_t lr = 0, lw = 0, got = 0;
                        uint8_t *want = ok ? compact_record(va, &lw) : NULL, *rr = NULL;
                        ok = ok && want && hers_result_packed(b) && !hers_result_packed(a) &&
                             hers_result_range_size(p, b, b0, nb, &lr) == HERS_OK && lr == lw &&
                             (rr = malloc(lr)) != NULL &&
                             hers_result_range_serialize(p, b, b0, nb, rr, lr, &got) == HERS_OK &&
                             got == lw && memcmp(rr, want, lw) == 0;
                        free(rr);
                        hers_free(want);
                        hers_result_free(va);
                        hers_result_free(vb);
                    }
                hers_result_free(a);
                hers_result_free(b);
                /* garbage into the pool for the next round */
                ok = ok && hers_search(s, p, ix, q3, NULL, &full) == HERS_OK;
                poison_free(full);
            }
        }
    }
    CHECK(ok);
    printf("  %s: n = %zu, packed records equal the relinearised ones: %s\n", name, n,
           ok ? "yes" : "no");
    hers_searcher_free(s);
    hers_query_free(q1);
    hers_query_free(q3);
    hers_index_free(ix);
    hers_gallery_free(gal);
    free(g);
}

int main(void)
{
    (void)test_seed();
    if (!(p = test_search_params(1024, 0)))
        return test_finish();
    CHECK_OK(hers_keygen_secret(p, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    CHECK_OK(hers_keygen_relin(p, sk, &rk));
    unsigned b0, b1, w0 = 0, w1 = 0;
    hers_result_compact_bits(p, &b0, &b1);
    CHECK_OK(hers_result_window_bits(p, D, 125, &w0, &w1));
    uint32_t rounded = 1u | b0 << 8 | b1 << 16, window = 2u | w0 << 8 | w1 << 16;
    size_t small = 5 * 1024 - 300, big = 30 * 1024 - 7;
    run_case("slot, secret key", small, HERS_PACK_SLOT, 125, 0, 0, rounded);
    run_case("coeff window, secret key", small, HERS_PACK_COEFF, 125, 0, 0, window);
    run_case("coeff window, public key, pooled slabs", big, HERS_PACK_COEFF, 125, 1, 0, window);
    run_case("slot, plain gallery", small, HERS_PACK_SLOT, 125, 0, 1, rounded);
    /* a scale whose scores need every bit: the window does not apply */
    unsigned x0, x1;
    if (hers_result_window_bits(p, D, 714, &x0, &x1) != HERS_OK)
        run_case("coeff rounded, secret key", small, HERS_PACK_COEFF, 714, 0, 0,
                 rounded);
    else
        CHECK(!"scale 714 should leave no room for the window (t = 1032193)");
    hers_relin_key_free(rk);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return test_finish();
}
