/* test_search_pool.c - the result pool (src/search/search.c): hers_search
 * takes one slab of result memory per probe from a pool of freed ones
 * (from 4 MiB up) without zeroing it, so a search whose slabs held another
 * search's results, or garbage, must give the same bytes as the first
 * search of the process: full, switched and relinearised results, passes of
 * different sizes, results kept alive across later searches, and
 * concurrent searches from several threads (each against the exact
 * plaintext scores and the first search's bytes). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "search/search_internal.h"
#include "support/check.h"
#include "support/search_sets.h"

/* N = 1024, 2 x 50-bit primes: a probe's 3-part result is 48 KiB per
 * block, so 90 blocks make a 4.2 MiB slab (pooled). */
#define N_TEMPLATES (90 * 1024 - 100)   /* a partial last block */
#define D 2
#define PROBES 3

static hers_params *p;
static hers_secret_key *sk;
static hers_relin_key *rk;
static hers_index *ix;
static int32_t g[N_TEMPLATES * D], probes[PROBES * D];
static uint8_t *want[3];   /* per result form: the first search's record of probe 0 */
static size_t want_len[3];

static uint8_t *record(const hers_result *r, size_t *len)
{
    uint8_t *b = NULL;
    *len = 0;
    CHECK_OK(hers_result_serialize(p, r, &b, len));
    return b;
}

static int exact(const hers_result *r, size_t probe, const int32_t *x)
{
    int64_t *got = malloc(N_TEMPLATES * sizeof *got);
    int ok = got && hers_result_decrypt(p, sk, r, probe, got) == HERS_OK;
    for (size_t t = 0; ok && t < N_TEMPLATES; t++) {
        int64_t s = 0;
        for (size_t i = 0; i < D; i++)
            s += (int64_t)g[t * D + i] * x[i];
        ok = got[t] == s;
    }
    free(got);
    return ok;
}

/* Garbage in every word of r's ciphertexts, then r back to the pool. */
static void poison_free(hers_result *r)
{
    for (size_t i = 0; r && i < r->count * r->blocks; i++) {
        hers_ciphertext *ct = &r->cts[i];
        memset(ct->data, 0xa5, ct->parts * ct->num_primes * ct->n * sizeof(uint64_t));
    }
    hers_result_free(r);
}

/* A search of probe 0 alone in form f: same bytes as want[f], exact. */
static int search_one(hers_searcher *s, const hers_query *q1, int f)
{
    hers_search_opts o = {(hers_result_shrink)f, rk};
    hers_result *r = NULL;
    int ok = hers_search(s, p, ix, q1, &o, &r) == HERS_OK;
    size_t len = 0;
    uint8_t *b = ok ? record(r, &len) : NULL;
    ok = ok && b && len == want_len[f] && memcmp(b, want[f], len) == 0 && exact(r, 0, probes);
    hers_free(b);
    hers_result_free(r);
    return ok;
}

typedef struct worker {
    const hers_query *q1, *q3;
    int ok;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    hers_searcher *s = NULL;
    w->ok = hers_searcher_create(1, &s) == HERS_OK;
    for (int i = 0; w->ok && i < 3; i++) {
        hers_result *r = NULL;
        w->ok = hers_search(s, p, ix, w->q3, NULL, &r) == HERS_OK;
        poison_free(r);
        w->ok = w->ok && search_one(s, w->q1, i % 3);
    }
    hers_searcher_free(s);
    return NULL;
}

int main(void)
{
    (void)test_seed();
    if (!(p = test_search_params(1024, 0)))
        return test_finish();
    CHECK_OK(hers_keygen_secret(p, &sk));
    CHECK_OK(hers_keygen_relin(p, sk, &rk));
    for (size_t i = 0; i < N_TEMPLATES * D; i++)
        g[i] = (int32_t)(test_rand() % 177) - 88;   /* norm <= 125 */
    for (size_t i = 0; i < PROBES * D; i++)
        probes[i] = (int32_t)(test_rand() % 177) - 88;   /* norm <= 125 */
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.scale = 125;
    eo.threads = 2;
    hers_gallery *gal = NULL;
    hers_query *q1 = NULL, *q3 = NULL;
    hers_searcher *s = NULL;
    CHECK_OK(hers_gallery_enroll(p, sk, NULL, g, N_TEMPLATES, D, &eo, &gal));
    CHECK_OK(hers_index_build(p, gal, 2, &ix));
    CHECK_OK(hers_query_encrypt(p, sk, NULL, probes, 1, D, 125, NULL, &q1));
    CHECK_OK(hers_query_encrypt(p, sk, NULL, probes, PROBES, D, 125, NULL, &q3));
    CHECK_OK(hers_searcher_create(2, &s));
    if (!ix || !q1 || !q3 || !s)
        return test_finish();
    /* the first searches of the process: fresh, zeroed memory */
    for (int f = 0; f < 3; f++) {
        hers_search_opts o = {(hers_result_shrink)f, rk};
        hers_result *r = NULL;
        CHECK_OK(hers_search(s, p, ix, q1, &o, &r));
        CHECK(r && r->slabs && r->slabs[0].bytes >= ((size_t)4 << 20));   /* pooled size */
        CHECK(r && exact(r, 0, probes));
        want[f] = r ? record(r, &want_len[f]) : NULL;
        hers_result_free(r);
    }
    /* slabs that held garbage: passes of 3 then 1 probes, in every form */
    for (int f = 0; f < 3; f++) {
        hers_result *r3 = NULL;
        CHECK_OK(hers_search(s, p, ix, q3, NULL, &r3));
        for (size_t r = 0; r3 && r < PROBES; r++)
            CHECK(exact(r3, r, probes + r * D));
        poison_free(r3);
        CHECK(search_one(s, q1, f));
    }
    /* a result kept alive while others come and go, then checked */
    hers_result *kept = NULL, *mid = NULL;
    CHECK_OK(hers_search(s, p, ix, q3, NULL, &kept));
    CHECK_OK(hers_search(s, p, ix, q1, NULL, &mid));
    poison_free(mid);
    CHECK(search_one(s, q1, HERS_RESULT_RELINEARIZED));
    for (size_t r = 0; kept && r < PROBES; r++)
        CHECK(exact(kept, r, probes + r * D));
    hers_result_free(kept);
    /* compact bodies (HERS_RESULT_COMPACT) come in power-of-two probe
     * classes, and the pool's bound has a quarter of slack, so that a
     * server's passes of varying sizes reuse kept memory: after a pass of
     * 13, one of 9 makes no fresh piece, and one of 14 (a probe more than
     * any before) exactly one, its 14th slab (exact-size bodies made a fresh
     * 14-probe body; a bound of the old peak dropped the kept body to make
     * room for that slab, and made the body fresh). Every body is written
     * over a poisoned one and must give the bytes of the relinearised
     * result's record. (Class 16 is over twice a slab: no slab takes it.) */
    int32_t pr[14 * D];
    for (size_t i = 0; i < 14 * D; i++)
        pr[i] = (int32_t)(test_rand() % 177) - 88;
    hers_query *qs[3] = {NULL, NULL, NULL};
    const size_t counts[3] = {13, 9, 14}, fresh_want[3] = {0, 0, 1};
    hers_search_opts co = {HERS_RESULT_COMPACT, rk}, ro = {HERS_RESULT_RELINEARIZED, rk};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(hers_query_encrypt(p, sk, NULL, pr, counts[k], D, 125, NULL, &qs[k]));
        hers_result *c = NULL, *r = NULL;
        uint8_t *ca = NULL, *cb = NULL;
        size_t la = 0, lb = 0, f0 = res_pool_fresh();
        CHECK_OK(hers_search(s, p, ix, qs[k], &co, &c));
        CHECK(c && c->body_bytes >= 16 * c->body_pstride &&
              16 * c->body_pstride > 2 * c->blocks * 3 * 2 * 1024 * sizeof(uint64_t));
        CHECK(k == 0 || res_pool_fresh() - f0 == fresh_want[k]);
        CHECK_OK(hers_search(s, p, ix, qs[k], &ro, &r));
        CHECK_OK(hers_result_serialize_compact(p, c, &ca, &la));
        CHECK_OK(hers_result_serialize_compact(p, r, &cb, &lb));
        CHECK(ca && cb && la == lb && memcmp(ca, cb, la) == 0);
        if (c)
            memset(c->body_mem, 0xa5, c->body_bytes);
        hers_free(ca);
        hers_free(cb);
        hers_result_free(c);
        hers_result_free(r);
        hers_query_free(qs[k]);
    }
    /* concurrent searches share the pool */
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){q1, q3, 0};
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].ok);
    }
    for (int f = 0; f < 3; f++)
        hers_free(want[f]);
    hers_searcher_free(s);
    hers_query_free(q1);
    hers_query_free(q3);
    hers_index_free(ix);
    hers_gallery_free(gal);
    hers_relin_key_free(rk);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return test_finish();
}
