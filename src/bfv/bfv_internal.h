/*
 * bfv_internal.h - full definitions of the opaque BFV objects of hers_bfv.h,
 * private to the bfv layer (src/bfv/ sources: engine and serialisation). The
 * search layer sees the public API and bfv_kernel.h only. Field layout is
 * stable: add fields at the end of a struct only.
 *
 * Conventions (see also hers_bfv.h):
 *   - polynomials in RNS form are prime-major: residue j of prime i at
 *     [i*n + j], every residue fully reduced in [0, q_i);
 *   - keys are stored in NTT form (hers_ntt_forward order of hers_ntt.h);
 *   - "k" is the number of ciphertext primes of the parameter set.
 *
 * Seed expansion (the serialisation of seed-compressed objects relies on it):
 * a uniform polynomial over the first `num_primes` primes is expanded from a
 * 32-byte seed by hers_bfv_expand_uniform(): one hers_prg per
 * (seed, stream), primes in order 0, 1, ...; for each prime q_i and each of
 * the n residues in storage order: read 8 PRG bytes little-endian (4 bytes
 * when q_i < 2^32), keep the low bits(q_i) bits, accept if < q_i, else read
 * again (rejection). The
 * accepted values ARE the NTT-form residues (no transform is applied: a
 * uniform polynomial is uniform in either domain).
 *   ciphertext part 1:        stream HERS_STREAM_CT_A
 *   public key part 1:        stream HERS_STREAM_PK_A
 *   relin key digit d part 1: stream HERS_STREAM_RK_A + d
 * Expansion always uses the full prime count k of the parameter set, then
 * keeps the first num_primes blocks (so a modulus-switched seeded ciphertext
 * is not possible: hers_mod_switch clears has_seed).
 */
#ifndef HERS_BFV_INTERNAL_H
#define HERS_BFV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_modarith.h"
#include "hers/hers_ntt.h"

/* PRG stream ids (domain separation of one seed). */
#define HERS_STREAM_SK        UINT64_C(0x5345435245540000) /* secret key coefficients */
#define HERS_STREAM_PK_A      UINT64_C(0x504b5f4100000000) /* public key uniform part */
#define HERS_STREAM_PK_E      UINT64_C(0x504b5f4500000000) /* public key error */
#define HERS_STREAM_PK_SEED   UINT64_C(0x504b5f5300000000) /* derives the pk a-seed */
#define HERS_STREAM_RK_A      UINT64_C(0x524b5f4100000000) /* + digit */
#define HERS_STREAM_RK_E      UINT64_C(0x524b5f4500000000)
#define HERS_STREAM_RK_SEED   UINT64_C(0x524b5f5300000000)
#define HERS_STREAM_CT_A      UINT64_C(0x43545f4100000000) /* ciphertext part 1 */
#define HERS_STREAM_CT_SEED   UINT64_C(0x43545f5300000000) /* derives the ct a-seed */
#define HERS_STREAM_ENC       UINT64_C(0x454e430000000000) /* u, e0, e1 */
#define HERS_STREAM_GK_A      UINT64_C(0x474b5f4100000000) /* + (g << 8) + digit */
#define HERS_STREAM_GK_E      UINT64_C(0x474b5f4500000000)
#define HERS_STREAM_GK_SEED   UINT64_C(0x474b5f5300000000)

struct hers_bfv_precomp; /* RNS / multiplication constants (bfv_precomp.h) */

struct hers_params {
    size_t n;                        /* ring degree N, power of two */
    int log_n;
    uint64_t t;                      /* plaintext modulus */
    hers_modulus t_mod;
    size_t k;                        /* number of ciphertext primes */
    hers_modulus q[HERS_MAX_PRIMES]; /* q_0 .. q_{k-1} */
    hers_ntt_table *ntt[HERS_MAX_PRIMES];
    hers_ntt_table *ntt_t;           /* NTT mod t (batching), NULL if !can_batch */
    int can_batch;                   /* t prime, t = 1 (mod 2N), t >= 2N+1 */
    int q_one_mod_t;                 /* Q = 1 (mod t) */
    hers_security security;
    char name[16];                   /* "n4096", ... or "" (custom) */
    uint8_t id[HERS_PARAMS_ID_BYTES];/* BLAKE2b-256 of "hers-params-v1", N, t, primes (LE64) */
    double log_q;                    /* log2 Q */
    /* Delta = floor(Q/t) mod q_i and its Shoup constant (encryption). */
    uint64_t delta[HERS_MAX_PRIMES];
    uint64_t delta_shoup[HERS_MAX_PRIMES];
    struct hers_bfv_precomp *pre;    /* everything else (private to src/bfv) */
};

struct hers_secret_key {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    size_t n;
    size_t num_primes;   /* k */
    int8_t *s;           /* n coefficients in {-1, 0, 1} (hers_alloc; wiped) */
    uint64_t *s_ntt;     /* k*n: s mod q_i, NTT form (wiped) */
};

struct hers_public_key {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    size_t n;
    size_t num_primes;   /* k */
    /* 2*k*n residues, NTT form: part 0 (at data) = -(a*s) + e,
     * part 1 (at data + k*n) = a. */
    uint64_t *data;
    int has_seed;        /* 1: part 1 = hers_bfv_expand_uniform(seed, HERS_STREAM_PK_A) */
    uint8_t seed[HERS_SEED_BYTES];
};

struct hers_relin_key {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    size_t n;
    size_t num_primes;   /* k */
    size_t digits;       /* = k: one digit per ciphertext prime (no special prime) */
    /* digits*2*k*n residues, NTT form. Digit d, part p, prime i at
     * data + ((d*2 + p)*k + i)*n.  part 0 = -(a_d*s) + e_d + g_d*s^2,
     * part 1 = a_d, where g_d = (Q/q_d)*[(Q/q_d)^-1]_{q_d} (= 1 mod q_d,
     * 0 mod q_i for i != d). */
    uint64_t *data;
    int has_seed;        /* 1: a_d = hers_bfv_expand_uniform(seed, HERS_STREAM_RK_A + d) */
    uint8_t seed[HERS_SEED_BYTES];
};


struct hers_galois_key {
    uint8_t params_id[HERS_PARAMS_ID_BYTES];
    size_t n;
    size_t num_primes;   /* k */
    unsigned digit_bits; /* w */
    size_t digits;       /* D = sum_i ceil(bitlen(q_i) / w); digit t = (i, j) in
                            order of i, then j */
    size_t count;
    uint32_t elements[HERS_GALOIS_MAX_ELEMENTS];
    /* count*D*2*k*n residues, NTT form: element e, digit t, part p, prime i at
     * data + (((e*D + t)*2 + p)*k + i)*n. part 0 = -(a s) + e + 2^(wj)
     * [1 mod q_i] tau_g(s), part 1 = a. */
    uint64_t *data;
    int has_seed;        /* 1: a = expand_uniform(seed, HERS_STREAM_GK_A + (g << 8) + t) */
    uint8_t seed[HERS_SEED_BYTES];
    uint32_t *perm;      /* count*n: NTT-domain permutation of each element
                            (derived, not serialised) */
};

/* Digits per prime and total for digit width w (galois.c). */
size_t hers_galois_digits(const hers_params *p, unsigned w);
unsigned hers_galois_default_bits(const hers_params *p);
hers_status hers_galois_key_alloc(const hers_params *p, size_t count, unsigned w,
                                  hers_galois_key **gk);
/* Fills gk->perm from gk->elements (after they are set). */
void hers_galois_key_finish(const hers_params *p, hers_galois_key *gk);

/* ------------------------------------------------------------------ helpers
 * for serialisation and the search kernel. */

/* Expands the uniform polynomial of (seed, stream) over the first
 * `num_primes` primes into out (num_primes*n residues, NTT form). */
void hers_bfv_expand_uniform(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                             uint64_t stream, size_t num_primes, uint64_t *out);

/* Allocates empty keys with buffers sized for p (data zeroed, has_seed 0),
 * params_id/n/num_primes filled. For deserialisation. */
hers_status hers_public_key_alloc(const hers_params *p, hers_public_key **pk);
hers_status hers_relin_key_alloc(const hers_params *p, hers_relin_key **rk);
/* Builds a secret key from n ternary coefficients (each -1, 0 or 1; other
 * values: HERS_ERR_FORMAT). Computes s_ntt. */
hers_status hers_secret_key_from_coeffs(const hers_params *p, const int8_t *s, hers_secret_key **sk);

/* Checks an object's params id against p: HERS_ERR_MISMATCH otherwise. */
hers_status hers_bfv_check_id(const hers_params *p, const uint8_t id[HERS_PARAMS_ID_BYTES],
                              const char *what);

#endif /* HERS_BFV_INTERNAL_H */
