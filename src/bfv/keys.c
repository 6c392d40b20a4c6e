/*
 * keys.c - key generation: ternary secret key, public key, relinearisation
 * key (RNS digit decomposition, one digit per ciphertext prime, no special
 * prime). See bfv_internal.h for the layouts and PRG streams.
 */
#include <string.h>

#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

void hers_secret_key_free(hers_secret_key *sk)
{
    if (!sk)
        return;
    hers_free_secret(sk->s, sk->n);
    hers_free_secret(sk->s_ntt, sk->num_primes * sk->n * sizeof(uint64_t));
    hers_free_secret(sk, sizeof *sk);
}

void hers_public_key_free(hers_public_key *pk)
{
    if (!pk)
        return;
    hers_free(pk->data);
    hers_free(pk);
}

void hers_relin_key_free(hers_relin_key *rk)
{
    if (!rk)
        return;
    hers_free(rk->data);
    hers_free(rk);
}

hers_status hers_secret_key_from_coeffs(const hers_params *p, const int8_t *s, hers_secret_key **out)
{
    if (!p || !s || !out)
        return hers_error(HERS_ERR_ARG, "secret key: NULL argument");
    *out = NULL;
    /* Validate without branching on individual values. */
    unsigned bad = 0;
    for (size_t j = 0; j < p->n; j++)
        bad |= (unsigned)((uint8_t)(s[j] + 1) > 2);
    if (bad)
        return hers_error(HERS_ERR_FORMAT, "secret key: coefficient outside {-1, 0, 1}");
    hers_secret_key *sk = hers_alloc(sizeof *sk);
    if (!sk)
        return hers_error(HERS_ERR_NOMEM, "secret key: out of memory");
    memcpy(sk->params_id, p->id, HERS_PARAMS_ID_BYTES);
    sk->n = p->n;
    sk->num_primes = p->k;
    sk->s = hers_alloc(p->n);
    sk->s_ntt = hers_alloc_array(p->k * p->n, sizeof(uint64_t));
    if (!sk->s || !sk->s_ntt) {
        hers_secret_key_free(sk);
        return hers_error(HERS_ERR_NOMEM, "secret key: out of memory");
    }
    memcpy(sk->s, s, p->n);
    hers_rns_from_small(p, sk->s, p->k, sk->s_ntt);
    hers_rns_ntt(p, sk->s_ntt, p->k);
    *out = sk;
    return HERS_OK;
}

hers_status hers_keygen_secret_seeded(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                                      hers_secret_key **out)
{
    if (!p || !seed || !out)
        return hers_error(HERS_ERR_ARG, "keygen: NULL argument");
    int8_t *s = hers_alloc(p->n);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "keygen: out of memory");
    hers_prg g;
    hers_prg_init(&g, seed, HERS_STREAM_SK);
    hers_sample_ternary(&g, s, p->n);
    hers_prg_wipe(&g);
    hers_status st = hers_secret_key_from_coeffs(p, s, out);
    hers_free_secret(s, p->n);
    return st;
}

hers_status hers_keygen_secret(const hers_params *p, hers_secret_key **out)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st == HERS_OK)
        st = hers_keygen_secret_seeded(p, seed, out);
    hers_wipe(seed, sizeof seed);
    return st;
}

hers_status hers_public_key_alloc(const hers_params *p, hers_public_key **out)
{
    *out = NULL;
    hers_public_key *pk = hers_alloc(sizeof *pk);
    if (!pk)
        return hers_error(HERS_ERR_NOMEM, "public key: out of memory");
    memcpy(pk->params_id, p->id, HERS_PARAMS_ID_BYTES);
    pk->n = p->n;
    pk->num_primes = p->k;
    pk->data = hers_alloc_array(2 * p->k * p->n, sizeof(uint64_t));
    if (!pk->data) {
        hers_free(pk);
        return hers_error(HERS_ERR_NOMEM, "public key: out of memory");
    }
    *out = pk;
    return HERS_OK;
}

hers_status hers_relin_key_alloc(const hers_params *p, hers_relin_key **out)
{
    *out = NULL;
    hers_relin_key *rk = hers_alloc(sizeof *rk);
    if (!rk)
        return hers_error(HERS_ERR_NOMEM, "relinearisation key: out of memory");
    memcpy(rk->params_id, p->id, HERS_PARAMS_ID_BYTES);
    rk->n = p->n;
    rk->num_primes = p->k;
    rk->digits = p->k;
    rk->data = hers_alloc_array(rk->digits * 2 * p->k * p->n, sizeof(uint64_t));
    if (!rk->data) {
        hers_free(rk);
        return hers_error(HERS_ERR_NOMEM, "relinearisation key: out of memory");
    }
    *out = rk;
    return HERS_OK;
}

/* out (k*n, NTT form) = -(a*s) + e with e fresh from g. tmp: k*n scratch,
 * e8: n bytes scratch (both secret, wiped by the caller). */
static void rlwe_sample(const hers_params *p, const hers_secret_key *sk, const uint64_t *a, hers_prg *g,
                        uint64_t *out, uint64_t *tmp, int8_t *e8)
{
    size_t k = p->k;
    hers_sample_cbd(g, e8, p->n);
    hers_rns_from_small(p, e8, k, tmp);
    hers_rns_ntt(p, tmp, k);
    hers_rns_mul(p, out, a, sk->s_ntt, k);
    hers_rns_sub(p, out, tmp, out, k);
}

static hers_status keygen_check(const hers_params *p, const hers_secret_key *sk, const void *out)
{
    if (!p || !sk || !out)
        return hers_error(HERS_ERR_ARG, "keygen: NULL argument");
    return hers_bfv_check_id(p, sk->params_id, "keygen: secret key");
}

hers_status hers_keygen_public_seeded(const hers_params *p, const hers_secret_key *sk,
                                      const uint8_t seed[HERS_SEED_BYTES], hers_public_key **out)
{
    hers_status st = keygen_check(p, sk, out);
    if (st != HERS_OK)
        return st;
    *out = NULL;
    size_t kn = p->k * p->n;
    hers_public_key *pk;
    if ((st = hers_public_key_alloc(p, &pk)) != HERS_OK)
        return st;
    uint64_t *tmp = hers_alloc_array(kn, sizeof(uint64_t));
    int8_t *e8 = hers_alloc(p->n);
    if (!tmp || !e8) {
        hers_free(tmp);
        hers_free(e8);
        hers_public_key_free(pk);
        return hers_error(HERS_ERR_NOMEM, "keygen: out of memory");
    }
    hers_prg g;
    hers_prg_init(&g, seed, HERS_STREAM_PK_SEED);
    hers_prg_bytes(&g, pk->seed, HERS_SEED_BYTES);
    pk->has_seed = 1;
    hers_bfv_expand_uniform(p, pk->seed, HERS_STREAM_PK_A, p->k, pk->data + kn);
    hers_prg_init(&g, seed, HERS_STREAM_PK_E);
    rlwe_sample(p, sk, pk->data + kn, &g, pk->data, tmp, e8);
    hers_prg_wipe(&g);
    hers_free_secret(tmp, kn * sizeof(uint64_t));
    hers_free_secret(e8, p->n);
    *out = pk;
    return HERS_OK;
}

hers_status hers_keygen_public(const hers_params *p, const hers_secret_key *sk, hers_public_key **out)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st == HERS_OK)
        st = hers_keygen_public_seeded(p, sk, seed, out);
    hers_wipe(seed, sizeof seed);
    return st;
}

hers_status hers_keygen_relin_seeded(const hers_params *p, const hers_secret_key *sk,
                                     const uint8_t seed[HERS_SEED_BYTES], hers_relin_key **out)
{
    hers_status st = keygen_check(p, sk, out);
    if (st != HERS_OK)
        return st;
    *out = NULL;
    size_t k = p->k, n = p->n, kn = k * n;
    hers_relin_key *rk;
    if ((st = hers_relin_key_alloc(p, &rk)) != HERS_OK)
        return st;
    uint64_t *tmp = hers_alloc_array(kn, sizeof(uint64_t));
    uint64_t *s2 = hers_alloc_array(kn, sizeof(uint64_t));
    int8_t *e8 = hers_alloc(n);
    if (!tmp || !s2 || !e8) {
        hers_free(tmp);
        hers_free(s2);
        hers_free(e8);
        hers_relin_key_free(rk);
        return hers_error(HERS_ERR_NOMEM, "keygen: out of memory");
    }
    hers_rns_mul(p, s2, sk->s_ntt, sk->s_ntt, k);
    hers_prg g;
    hers_prg_init(&g, seed, HERS_STREAM_RK_SEED);
    hers_prg_bytes(&g, rk->seed, HERS_SEED_BYTES);
    rk->has_seed = 1;
    hers_prg_init(&g, seed, HERS_STREAM_RK_E);
    for (size_t d = 0; d < rk->digits; d++) {
        uint64_t *b = rk->data + (d * 2) * kn;
        uint64_t *a = rk->data + (d * 2 + 1) * kn;
        hers_bfv_expand_uniform(p, rk->seed, HERS_STREAM_RK_A + d, k, a);
        rlwe_sample(p, sk, a, &g, b, tmp, e8);
        /* + g_d * s^2: only the block of prime d is non-zero */
        hers_poly_add(b + d * n, b + d * n, s2 + d * n, n, &p->q[d]);
    }
    hers_prg_wipe(&g);
    hers_free_secret(tmp, kn * sizeof(uint64_t));
    hers_free_secret(s2, kn * sizeof(uint64_t));
    hers_free_secret(e8, n);
    *out = rk;
    return HERS_OK;
}

hers_status hers_keygen_relin(const hers_params *p, const hers_secret_key *sk, hers_relin_key **out)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st == HERS_OK)
        st = hers_keygen_relin_seeded(p, sk, seed, out);
    hers_wipe(seed, sizeof seed);
    return st;
}

const uint8_t *hers_secret_key_params_id(const hers_secret_key *sk) { return sk->params_id; }
const uint8_t *hers_public_key_params_id(const hers_public_key *pk) { return pk->params_id; }
const uint8_t *hers_relin_key_params_id(const hers_relin_key *rk) { return rk->params_id; }
