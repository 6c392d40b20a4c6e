/* demo_search.c - `hers demo`: the encrypted part. The key holder makes the
 * keys, enrols the quantised gallery (secret-key, seed-compressed) and
 * encrypts the probes; the server builds the kernel form and searches a
 * batch of probes per pass; the key holder decrypts and ranks. Every
 * decrypted score is then compared with the plaintext integer inner product
 * (hers_quant_dot), outside the timed phases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "core/pool.h"
#include "hers/hers_mem.h"
#include "hers/hers_search.h"

#define CMD "demo"

/* Work shared by the decrypt threads of one batch. */
typedef struct dec_job {
    const hers_params *p;
    const hers_secret_key *sk;
    const hers_result *res;
    const hers_qmatrix *gq, *pq;
    size_t first, count, n, k;
    int64_t *scores;        /* count x n */
    hers_topk *enc;         /* ids / scores of all probes */
    unsigned threads;
    hers_status st;
    uint64_t wrong;
} dec_job;

typedef struct dec_arg {
    dec_job *job;
    unsigned w;
    int phase;              /* 0: decrypt + rank, 1: check */
    hers_status st;
    uint64_t wrong;
} dec_arg;

static void dec_worker(void *argp, size_t task, unsigned worker)
{
    (void)worker;
    dec_arg *a = (dec_arg *)argp + task;
    dec_job *j = a->job;
    hers_match *m = NULL;
    if (a->phase == 0) {
        m = hers_alloc_array(j->k, sizeof *m);
        if (!m) {
            a->st = HERS_ERR_NOMEM;
            return;
        }
    }
    for (size_t i = a->w; i < j->count; i += j->threads) {
        int64_t *sc = j->scores + i * j->n;
        size_t probe = j->first + i;
        if (a->phase == 0) {
            size_t c = 0;
            hers_status st = hers_result_decrypt(j->p, j->sk, j->res, i, sc);
            if (st == HERS_OK)
                st = hers_top_k(sc, j->n, j->k, m, &c);
            if (st != HERS_OK) {
                a->st = st;
                break;
            }
            for (size_t r = 0; r < c; r++) {
                j->enc->ids[probe * j->k + r] = (uint32_t)m[r].index;
                j->enc->scores[probe * j->k + r] = (float)m[r].score;
            }
        } else {
            const int32_t *pv = j->pq->data + probe * j->pq->cols;
            for (size_t g = 0; g < j->n; g++)
                a->wrong += sc[g] != hers_quant_dot(j->gq->data + g * j->gq->cols, pv,
                                                    j->gq->cols);
        }
    }
    hers_free(m);
}

/* Runs one phase as j->threads strided shares on the worker pool. */
static hers_status dec_run(dec_job *j, int phase)
{
    dec_arg args[HERS_MAX_THREADS];
    unsigned T = j->threads;
    for (unsigned w = 0; w < T; w++)
        args[w] = (dec_arg){j, w, phase, HERS_OK, 0};
    hers_parallel_for(T, T, dec_worker, args);
    hers_status st = HERS_OK;
    for (unsigned w = 0; w < T; w++) {
        if (args[w].st != HERS_OK && st == HERS_OK)
            st = args[w].st;
        j->wrong += args[w].wrong;
    }
    return st;
}

int demo_encrypted(const demo_cfg *cfg, const hers_qmatrix *gq, const hers_qmatrix *pq,
                   const hers_labels *gl, const hers_labels *pl, const hers_topk *quant_topk,
                   demo_results *r, demo_acc *enc_acc)
{
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_gallery *g = NULL;
    hers_index *ix = NULL;
    hers_searcher *sr = NULL;
    hers_query *q = NULL;
    hers_result *res = NULL;
    int64_t *scores = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    hers_topk enc = {0};
    int rc = 1;
    size_t n = gq->rows, d = gq->cols, np = cfg->probes < pq->rows ? cfg->probes : pq->rows;
    size_t batch = cfg->batch ? cfg->batch : 32;
    size_t k = DEMO_K < n ? DEMO_K : n;
    unsigned T = hers_threads_resolve(cfg->threads ? cfg->threads : (unsigned)r->threads);
    uint32_t s = gq->scale;
    double t0;

    t0 = cli_now();
    if (hers_params_create_named(&p, cfg->params) != HERS_OK) {
        cli_fail_lib(CMD, cfg->params);
        goto done;
    }
    r->params_name = cfg->params;
    r->ring_n = hers_params_n(p);
    r->plain_t = hers_params_t(p);
    r->scale = s;
    if (hers_quant_check(d, s, r->plain_t) != HERS_OK) {
        cli_fail_lib(CMD, "quantisation scale");
        goto done;
    }
    if (hers_keygen_secret(p, &sk) != HERS_OK) {
        cli_fail_lib(CMD, "keygen");
        goto done;
    }
    r->keygen_s = cli_now() - t0;

    /* Enrol (key holder): seed-compressed secret-key encryption. */
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.scale = s;
    eo.threads = cfg->threads;
    demo_busy_begin("enrol (encrypt)");
    t0 = cli_now();
    hers_status st = hers_gallery_enroll(p, sk, NULL, gq->data, n, d, &eo, &g);
    r->enroll_s = cli_now() - t0;
    demo_busy_end();
    if (st != HERS_OK) {
        cli_fail_lib(CMD, "enrol");
        goto done;
    }
    if (hers_gallery_serialize(p, g, &buf, &len) != HERS_OK) {
        cli_fail_lib(CMD, "gallery size");
        goto done;
    }
    r->bytes_rest = (double)len / (double)n;
    hers_free(buf);
    buf = NULL;

    /* Server: the kernel's form. */
    demo_busy_begin("index (kernel form)");
    t0 = cli_now();
    st = hers_index_build(p, g, cfg->threads, &ix);
    r->index_s = cli_now() - t0;
    demo_busy_end();
    if (st != HERS_OK || hers_searcher_create(cfg->threads, &sr) != HERS_OK) {
        cli_fail_lib(CMD, "index");
        goto done;
    }
    r->bytes_kernel = (double)hers_index_bytes(ix) / (double)n;

    scores = hers_alloc_array(batch * n, sizeof *scores);
    enc.ids = hers_alloc_array(np * k, sizeof *enc.ids);
    enc.scores = hers_alloc_array(np * k, sizeof *enc.scores);
    if (!scores || !enc.ids || !enc.scores) {
        cli_fail(CMD, "out of memory (%zu probes x %zu scores)", batch, n);
        goto done;
    }
    enc.probes = np;
    enc.k = k;
    r->noise_bits = NAN;
    r->batch = batch;
    uint64_t wrong = 0;
    for (size_t b0 = 0; b0 < np; b0 += batch) {
        size_t cnt = np - b0 < batch ? np - b0 : batch;
        cli_progress("encrypted search", b0, np);
        t0 = cli_now();
        if (hers_query_encrypt(p, sk, NULL, pq->data + b0 * d, cnt, d, s, NULL, &q) != HERS_OK) {
            cli_fail_lib(CMD, "encrypt probes");
            goto done;
        }
        r->encrypt_s += cli_now() - t0;
        t0 = cli_now();
        if (hers_search(sr, p, ix, q, NULL, &res) != HERS_OK) {
            cli_fail_lib(CMD, "search");
            goto done;
        }
        r->search_s += cli_now() - t0;
        if (b0 == 0) {
            if (hers_query_serialize(p, q, &buf, &len) != HERS_OK) {
                cli_fail_lib(CMD, "query size");
                goto done;
            }
            r->query_bytes = (double)len / (double)cnt;
            hers_free(buf);
            buf = NULL;
            if (hers_result_serialize(p, res, &buf, &len) != HERS_OK) {
                cli_fail_lib(CMD, "result size");
                goto done;
            }
            r->result_bytes = (double)len / (double)cnt;
            hers_free(buf);
            buf = NULL;
            double bits;
            if (hers_result_noise_budget(p, sk, res, 0, &bits) == HERS_OK)
                r->noise_bits = bits;
        }
        dec_job job = {p, sk, res, gq, pq, b0, cnt, n, k, scores, &enc, T, HERS_OK, 0};
        t0 = cli_now();
        st = dec_run(&job, 0);
        r->decrypt_s += cli_now() - t0;
        if (st != HERS_OK) {
            cli_fail_lib(CMD, "decrypt");
            goto done;
        }
        /* The check (not timed): every score against the plaintext. */
        dec_run(&job, 1);
        wrong += job.wrong;
        hers_query_free(q);
        q = NULL;
        hers_result_free(res);
        res = NULL;
    }
    cli_progress("encrypted search", np, np);
    cli_progress_end();
    r->n_probes = np;
    r->scores_checked = (uint64_t)np * n;
    r->scores_wrong = wrong;
    /* The decrypted ranking must be the plaintext quantised ranking. */
    r->topk_wrong = 0;
    for (size_t i = 0; i < np; i++)
        if (quant_topk->k != k ||
            memcmp(quant_topk->ids + i * k, enc.ids + i * k, k * sizeof *enc.ids) != 0)
            r->topk_wrong++;
    if (demo_eval_topk(&enc, gl, pl, enc_acc) != HERS_OK) {
        cli_fail_lib(CMD, "metrics");
        goto done;
    }
    rc = 0;
done:
    hers_free(buf);
    hers_topk_free(&enc);
    hers_free_secret(scores, scores ? batch * n * sizeof *scores : 0);
    hers_result_free(res);
    hers_query_free(q);
    hers_searcher_free(sr);
    hers_index_free(ix);
    hers_gallery_free(g);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return rc;
}
