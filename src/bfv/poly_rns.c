/*
 * poly_rns.c - polynomial helpers over several primes, ciphertext storage
 * helpers (bfv_precomp.h).
 */
#include <pthread.h>
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

/* Per-thread scratch of hers_bfv_scratch (public ciphertext data only). The
 * buffer grows and is kept, so the multiply does not allocate and zero-fill
 * ~0.8 MB per call; a pthread key frees it when its thread exits (the main
 * thread's buffer stays reachable until process exit). */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;
static _Thread_local uint64_t *scratch_buf;
static _Thread_local size_t scratch_words;

static void scratch_free(void *v) { hers_free(v); }

static void scratch_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

uint64_t *hers_bfv_scratch(size_t words)
{
    if (scratch_buf && pthread_getspecific(scratch_key) != scratch_buf) {
        /* the key's destructor already freed it (a call from another
         * thread-exit destructor): start afresh, do not free twice */
        scratch_buf = NULL;
        scratch_words = 0;
    }
    if (scratch_words >= words && scratch_buf)
        return scratch_buf;
    (void)pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok)
        return NULL;
    uint64_t *b = hers_alloc_array(words, sizeof(uint64_t));
    if (!b)
        return NULL;
    if (pthread_setspecific(scratch_key, b) != 0) {
        hers_free(b);
        return NULL;
    }
    hers_free(scratch_buf);
    scratch_buf = b;
    scratch_words = words;
    return b;
}

void hers_rns_from_small(const hers_params *p, const int8_t *s, size_t np, uint64_t *out)
{
    size_t n = p->n;
    for (size_t i = 0; i < np; i++) {
        uint64_t q = p->q[i].value;
        uint64_t *o = out + i * n;
        for (size_t j = 0; j < n; j++) {
            int64_t v = s[j];
            /* v + q if v < 0, without a branch */
            o[j] = (uint64_t)v + (q & (0 - ((uint64_t)v >> 63)));
        }
    }
}

void hers_rns_ntt(const hers_params *p, uint64_t *a, size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_ntt_forward(p->ntt[i], a + i * p->n);
}

void hers_rns_intt(const hers_params *p, uint64_t *a, size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_ntt_inverse(p->ntt[i], a + i * p->n);
}

void hers_rns_add(const hers_params *p, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_poly_add(out + i * p->n, a + i * p->n, b + i * p->n, p->n, &p->q[i]);
}

void hers_rns_sub(const hers_params *p, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_poly_sub(out + i * p->n, a + i * p->n, b + i * p->n, p->n, &p->q[i]);
}

void hers_rns_neg(const hers_params *p, uint64_t *out, const uint64_t *a, size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_poly_neg(out + i * p->n, a + i * p->n, p->n, &p->q[i]);
}

void hers_rns_mul(const hers_params *p, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_poly_mul(out + i * p->n, a + i * p->n, b + i * p->n, p->n, &p->q[i]);
}

void hers_rns_mul_acc(const hers_params *p, uint64_t *acc, const uint64_t *a, const uint64_t *b,
                      size_t np)
{
    for (size_t i = 0; i < np; i++)
        hers_poly_mul_acc(acc + i * p->n, a + i * p->n, b + i * p->n, p->n, &p->q[i]);
}

void hers_ct_out_end(hers_ciphertext *out, hers_ciphertext *tmp, const hers_ciphertext *dst,
                     int ntt_form, hers_form form)
{
    if (dst == tmp) {
        hers_ct_drop_data(out);
        *out = *tmp;
    }
    out->ntt_form = ntt_form;
    out->form = form;
    out->has_seed = 0;
    memset(out->seed, 0, sizeof out->seed);
}

hers_status hers_ct_reserve(const hers_params *p, hers_ciphertext *ct, size_t parts, size_t np, int zero)
{
    size_t want = parts * np * p->n;
    size_t have = ct->data ? ct->parts * ct->num_primes * ct->n : 0;
    if (!ct->data || have != want) {
        uint64_t *d = hers_alloc_array(want, sizeof(uint64_t));
        if (!d)
            return hers_error(HERS_ERR_NOMEM, "ciphertext: out of memory (%zu residues)", want);
        hers_ct_drop_data(ct);
        ct->data = d;
    } else if (zero) {
        memset(ct->data, 0, want * sizeof(uint64_t));
    }
    ct->n = p->n;
    ct->parts = parts;
    ct->num_primes = np;
    return HERS_OK;
}

hers_status hers_ct_check(const hers_params *p, const hers_ciphertext *ct, const char *what)
{
    if (!ct || !ct->data)
        return hers_error(HERS_ERR_ARG, "%s: empty ciphertext", what);
    if (ct->n != p->n)
        return hers_error(HERS_ERR_MISMATCH, "%s: ciphertext N=%zu, parameters N=%zu", what, ct->n, p->n);
    if (ct->parts < 2 || ct->parts > 3)
        return hers_error(HERS_ERR_ARG, "%s: ciphertext has %zu parts (2 or 3 expected)", what, ct->parts);
    if (ct->num_primes < 1 || ct->num_primes > p->k)
        return hers_error(HERS_ERR_MISMATCH, "%s: ciphertext has %zu primes, parameters %zu", what,
                          ct->num_primes, p->k);
    if (ct->form != HERS_FORM_BFV && ct->form != HERS_FORM_BGV)
        return hers_error(HERS_ERR_ARG, "%s: unknown ciphertext form %d", what, (int)ct->form);
    return HERS_OK;
}

void hers_add_scaled_plain(const hers_params *p, const hers_plaintext *pt, uint64_t *c0)
{
    size_t n = p->n;
    for (size_t i = 0; i < p->k; i++) {
        uint64_t q = p->q[i].value, d = p->delta[i], ds = p->delta_shoup[i];
        uint64_t *c = c0 + i * n;
        for (size_t j = 0; j < n; j++)
            c[j] = hers_add_mod(c[j], hers_mul_shoup(pt->coeffs[j], d, ds, q), q);
    }
}
