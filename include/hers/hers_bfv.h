/*
 * hers_bfv.h - RNS-BFV: parameters, keys, encoding, encryption, evaluation.
 *
 * Ring R_q = Z_Q[X]/(X^N + 1), Q = q_0 * ... * q_{k-1} (word-size primes,
 * q_j = 1 mod 2N). Plaintext modulus t: a prime t = 1 (mod 2N) enables
 * batching (N slots); any t >= 2 allows coefficient encoding.
 *
 * Default parameter sets (hers_params_create_named): see docs/design.md.
 * All of them have Q = 1 (mod t): the HERS search kernel (hers_search.h)
 * relies on this (Delta*t = Q - 1 = -1 mod Q turns a BFV ciphertext times t
 * into a BGV-form one). The "n*" sets get it from q_j = 1 (mod 2N*t) for
 * every prime; "s4096" (primes < 2^30, where 2N*t > 2^30) from the product
 * only (HERS_Q_PRODUCT_ONE_MOD_T).
 *
 * Representation: a polynomial in RNS form is num_primes blocks of N
 * residues, prime-major: residue j of prime i at [i*N + j]. A ciphertext of
 * `parts` polynomials stores part p at data + p*num_primes*N.
 *
 * Ciphertext forms:
 *   HERS_FORM_BFV: c0 + c1 s (+ c2 s^2) = Delta*m + e (mod Q), Delta = floor(Q/t)
 *   HERS_FORM_BGV: c0 + c1 s (+ c2 s^2) = m + t*e (mod Q)
 *     (at L < k primes: = m * (q_L*...*q_{k-1})^-1 + t*e (mod Q_L), see
 *     hers_mod_switch; hers_decrypt returns m)
 * hers_decrypt handles both, with 2 or 3 parts, and any prefix of the primes
 * (after modulus switching).
 *
 * Randomness: every randomised function draws from libsodium's CSPRNG and
 * has a `_seeded` twin taking a 32-byte seed (deterministic: tests, KATs).
 * Secret material (secret key, encryption randomness) is wiped after use.
 *
 * Output objects (hers_plaintext, hers_ciphertext) passed to a function
 * must be zero-initialised ({0}) or previously initialised by hers; their
 * buffers are (re)allocated as needed. Fresh ciphertexts (encryption,
 * hers_ciphertext_init) are in NTT form (ntt_form = 1) over all k primes.
 *
 * Thread-safety: params and keys are immutable after creation and may be
 * shared by threads; a ciphertext or plaintext must not be written by two
 * threads at once. No function keeps global mutable state.
 */
#ifndef HERS_BFV_H
#define HERS_BFV_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_ntt.h"
#include "hers/hers_random.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_MAX_PRIMES 16

typedef enum hers_security {
    HERS_SEC_NONE = 0,   /* no check: tests with toy N only */
    HERS_SEC_128 = 128,
    HERS_SEC_192 = 192,
    HERS_SEC_256 = 256
} hers_security;

typedef enum hers_form { HERS_FORM_BFV = 0, HERS_FORM_BGV = 1 } hers_form;

/* ------------------------------------------------------------ parameters */

/* hers_params_spec.q_one_mod_t:
 *   0: generated primes are only = 1 (mod 2N), Q mod t is whatever it is.
 *   HERS_Q_EACH_ONE_MOD_T: every generated prime is = 1 (mod 2N*t) (the
 *     largest such unused primes of their sizes); explicit primes are not
 *     checked. Needs 2N*t <= 2^46.
 *   HERS_Q_PRODUCT_ONE_MOD_T: every prime is = 1 (mod 2N) and the product
 *     Q = 1 (mod t). Needs t odd (gcd(2N, t) = 1) and coprime to every
 *     prime. The generated primes but the last one are the largest unused
 *     primes = 1 (mod 2N) of their sizes (excluding t); the last generated
 *     one is the largest prime in [2^(b-1), 2^b) (b = its prime_bits) that
 *     is = 1 (mod 2N) and = (product of the others)^-1 (mod t). When no such
 *     prime exists, the previous generated prime steps down to the next
 *     smaller prime = 1 (mod 2N) of its size and the search repeats (at most
 *     4096 times). Deterministic. With all primes explicit, Q = 1 (mod t)
 *     is only checked. Errors: HERS_ERR_PARAMS with a message. */
#define HERS_Q_EACH_ONE_MOD_T 1
#define HERS_Q_PRODUCT_ONE_MOD_T 2

typedef struct hers_params_spec {
    size_t n;                       /* ring degree, power of two, 16..32768 */
    uint64_t t;                     /* plaintext modulus, 2 <= t < 2^40 */
    size_t num_primes;              /* k, 1..HERS_MAX_PRIMES */
    int prime_bits[HERS_MAX_PRIMES];/* bit size of each generated prime (20..61) */
    uint64_t primes[HERS_MAX_PRIMES];/* explicit primes; 0 entries are generated */
    int q_one_mod_t;                /* 0, HERS_Q_EACH_ONE_MOD_T or
                                       HERS_Q_PRODUCT_ONE_MOD_T (below) */
    hers_security security;         /* checked against the HE Standard table */
} hers_params_spec;

typedef struct hers_params hers_params;   /* opaque, immutable */

/* Validates (primality, q_j = 1 mod 2N, distinct primes, t range, Q/t large
 * enough, HE Standard max log Q for N and the security level) and
 * precomputes NTT tables and RNS constants. Errors: HERS_ERR_PARAMS (invalid)
 * or HERS_ERR_INSECURE (log Q too large for the requested security). */
HERS_API hers_status hers_params_create(hers_params **out, const hers_params_spec *spec);
/* Named default sets: "n2048", "n4096" (= "default"), "n8192", "n16384",
 * "n32768" (50-bit primes, each = 1 mod 2N*t), and "s4096" (N = 4096,
 * t = 1032193, three primes below 2^30, product mode, 128-bit security: for
 * the narrow 32-bit-lane search kernel). All are HE Standard 128-bit. */
HERS_API hers_status hers_params_create_named(hers_params **out, const char *name);
/* NULL-terminated list of the names above. */
HERS_API const char *const *hers_params_names(void);
HERS_API void hers_params_free(hers_params *p);

HERS_API size_t hers_params_n(const hers_params *p);
HERS_API uint64_t hers_params_t(const hers_params *p);
HERS_API size_t hers_params_num_primes(const hers_params *p);
HERS_API uint64_t hers_params_prime(const hers_params *p, size_t i); /* q_i; 0 for i >= k */
HERS_API const hers_ntt_table *hers_params_ntt(const hers_params *p, size_t i);
HERS_API double hers_params_log_q(const hers_params *p);     /* log2 Q */
HERS_API int hers_params_can_batch(const hers_params *p);    /* t prime, t = 1 mod 2N */
HERS_API int hers_params_q_one_mod_t(const hers_params *p);  /* Q = 1 (mod t) */
HERS_API hers_security hers_params_security(const hers_params *p);
HERS_API const char *hers_params_name(const hers_params *p); /* "" if custom */
/* HERS_PARAMS_ID_BYTES-byte identifier: a hash of (N, t, primes); objects
 * carry it so that mixing objects of different parameter sets is detected. */
#define HERS_PARAMS_ID_BYTES 32
HERS_API const uint8_t *hers_params_id(const hers_params *p);

/* Largest log2 Q allowed by the Homomorphic Encryption Standard (2018),
 * ternary secret, classical attacks, for n in 1024..32768. */
HERS_API hers_status hers_he_standard_max_log_q(size_t n, hers_security sec, int *max_bits);

/* ------------------------------------------------------------ keys */

typedef struct hers_secret_key hers_secret_key;  /* opaque; wiped on free */
typedef struct hers_public_key hers_public_key;  /* opaque */
typedef struct hers_relin_key hers_relin_key;    /* opaque */

HERS_API hers_status hers_keygen_secret(const hers_params *p, hers_secret_key **sk);
HERS_API hers_status hers_keygen_secret_seeded(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                                               hers_secret_key **sk);
HERS_API hers_status hers_keygen_public(const hers_params *p, const hers_secret_key *sk, hers_public_key **pk);
HERS_API hers_status hers_keygen_public_seeded(const hers_params *p, const hers_secret_key *sk,
                                               const uint8_t seed[HERS_SEED_BYTES], hers_public_key **pk);
HERS_API hers_status hers_keygen_relin(const hers_params *p, const hers_secret_key *sk, hers_relin_key **rk);
HERS_API hers_status hers_keygen_relin_seeded(const hers_params *p, const hers_secret_key *sk,
                                              const uint8_t seed[HERS_SEED_BYTES], hers_relin_key **rk);
HERS_API void hers_secret_key_free(hers_secret_key *sk);
HERS_API void hers_public_key_free(hers_public_key *pk);
HERS_API void hers_relin_key_free(hers_relin_key *rk);
/* The hers_params_id (HERS_PARAMS_ID_BYTES bytes) of the parameter set a key
 * was made for: a key is used only with those parameters. */
HERS_API const uint8_t *hers_secret_key_params_id(const hers_secret_key *sk);
HERS_API const uint8_t *hers_public_key_params_id(const hers_public_key *pk);
HERS_API const uint8_t *hers_relin_key_params_id(const hers_relin_key *rk);

/* ------------------------------------------------------------ plaintexts */

typedef struct hers_plaintext {
    size_t n;
    uint64_t *coeffs;     /* n coefficients in [0, t) */
    /* Optional cache for ct x pt: the coefficients lifted to [-t/2, t/2),
     * reduced mod each q_i and NTT-transformed (num_primes x n), or NULL. */
    uint64_t *ntt;
    size_t ntt_primes;
} hers_plaintext;

HERS_API hers_status hers_plaintext_init(const hers_params *p, hers_plaintext *pt);
HERS_API void hers_plaintext_free(hers_plaintext *pt);
/* Computes pt->ntt (idempotent). */
HERS_API hers_status hers_plaintext_to_ntt(const hers_params *p, hers_plaintext *pt);

/* Batch encoding: slot i holds values[i] mod t (count <= N; the remaining
 * slots are 0). Values may be negative. Needs hers_params_can_batch. */
HERS_API hers_status hers_encode_batch(const hers_params *p, const int64_t *values, size_t count,
                                       hers_plaintext *pt);
/* Decodes all N slots, centred: each in (-t/2, t/2]. */
HERS_API hers_status hers_decode_batch(const hers_params *p, const hers_plaintext *pt, int64_t *values);
/* Coefficient encoding: coefficient i = values[i] mod t. */
HERS_API hers_status hers_encode_coeff(const hers_params *p, const int64_t *values, size_t count,
                                       hers_plaintext *pt);
HERS_API hers_status hers_decode_coeff(const hers_params *p, const hers_plaintext *pt, int64_t *values);

/* ------------------------------------------------------------ ciphertexts */

typedef struct hers_ciphertext {
    size_t n;
    size_t parts;        /* 2 or 3 */
    size_t num_primes;   /* k, or fewer after modulus switching (a prefix) */
    int ntt_form;        /* 1: residues are NTT evaluations */
    hers_form form;
    int has_seed;        /* 1: part 1 was expanded from `seed` (symmetric) */
    uint8_t seed[HERS_SEED_BYTES];
    uint64_t *data;      /* parts * num_primes * n residues */
    int borrowed;        /* 1: data lives in a containing object's block (a
                            search result's); hers_ciphertext_free and the
                            operations that reallocate data leave it alone */
} hers_ciphertext;

/* Allocates a zero ciphertext with `parts` parts over all k primes, NTT
 * form, HERS_FORM_BFV (overwrites *ct without freeing it). */
HERS_API hers_status hers_ciphertext_init(const hers_params *p, size_t parts, hers_ciphertext *ct);
/* The same shape (parts x k primes x N, NTT form, HERS_FORM_BFV) over
 * caller-owned residues `data` (parts * k * N words, contents kept), marked
 * borrowed: the data must outlive ct and is never freed through it. */
HERS_API hers_status hers_ciphertext_init_borrowed(const hers_params *p, size_t parts, uint64_t *data,
                                                   hers_ciphertext *ct);
HERS_API void hers_ciphertext_free(hers_ciphertext *ct);
HERS_API hers_status hers_ciphertext_copy(const hers_ciphertext *src, hers_ciphertext *dst);
/* Pointer to part `part`, prime `prime` (n residues). */
static inline uint64_t *hers_ct_poly(const hers_ciphertext *ct, size_t part, size_t prime)
{
    return ct->data + (part * ct->num_primes + prime) * ct->n;
}

/* Public-key encryption: (c0, c1) = (pk0 u + e0 + Delta m, pk1 u + e1). */
HERS_API hers_status hers_encrypt_public(const hers_params *p, const hers_public_key *pk,
                                         const hers_plaintext *pt, hers_ciphertext *ct);
HERS_API hers_status hers_encrypt_public_seeded(const hers_params *p, const hers_public_key *pk,
                                                const hers_plaintext *pt, const uint8_t seed[HERS_SEED_BYTES],
                                                hers_ciphertext *ct);
/* Secret-key encryption: c1 = a expanded from a fresh 32-byte seed (stored in
 * ct->seed, has_seed = 1), c0 = -a s + e + Delta m. The serialised form omits
 * c1 (about half the size). */
HERS_API hers_status hers_encrypt_secret(const hers_params *p, const hers_secret_key *sk,
                                         const hers_plaintext *pt, hers_ciphertext *ct);
HERS_API hers_status hers_encrypt_secret_seeded(const hers_params *p, const hers_secret_key *sk,
                                                const hers_plaintext *pt, const uint8_t seed[HERS_SEED_BYTES],
                                                hers_ciphertext *ct);
/* Re-creates part 1 from ct->seed (after deserialising a seeded ciphertext). */
HERS_API hers_status hers_ciphertext_expand_seed(const hers_params *p, hers_ciphertext *ct);

/* ------------------------------------------------------------ seed expansion */

/* The expander of a seed-compressed ciphertext's uniform part 1 (a):
 * ChaCha20 (libsodium; every record of gallery format 1, keys, ciphertext
 * records) or AES-256 in counter mode (gallery format 2: ~10x cheaper with
 * AES-NI/VAES; our own FIPS-197 code with a portable fallback). Both
 * sample every residue exactly uniformly mod q_j by rejection; the seed
 * is public. */
typedef enum hers_expander {
    HERS_EXPAND_CHACHA20 = 0,
    HERS_EXPAND_AES256 = 1
} hers_expander;

/* The uniform polynomial of (seed, stream) over the first num_primes primes
 * into out (num_primes N residues, NTT form). Same residues at every SIMD
 * level. */
HERS_API void hers_expand_uniform(const hers_params *p, hers_expander x,
                                  const uint8_t seed[HERS_SEED_BYTES], uint64_t stream,
                                  size_t num_primes, uint64_t *out);

/* ------------------------------------------------------------ batch encryption */

/* Allocation-free encryption of `count` batch messages into caller buffers
 * (the enrolment path). Message m has slot values values[m * stride + x] for
 * x < slots (slots <= N; the other slots are 0), each |v| <= t/2, and is
 * encrypted under seeds[m] exactly as hers_encode_batch followed by
 * hers_encrypt_secret_seeded / hers_encrypt_public_seeded with that seed
 * would (bit-identical), in NTT form over all k primes:
 *   secret key: a_seeds[m] gets the 32-byte seed of part 1 (a) and
 *               c0 + m k N the k N residues of part 0 (the seed-compressed form);
 *   public key: c + 2 m k N gets part 0, then part 1 (2 k N residues).
 * scratch: hers_encrypt_batch_scratch_words(p) words, reused across calls;
 * it holds secret intermediates: wipe it (hers_wipe) before freeing.
 * Errors: HERS_ERR_ARG (NULL, slots > N, a value out of range: nothing is
 * written), HERS_ERR_PARAMS (t does not allow batching), HERS_ERR_MISMATCH
 * (key of other parameters). Thread-safe for distinct scratch and outputs. */
HERS_API size_t hers_encrypt_batch_scratch_words(const hers_params *p);
HERS_API hers_status hers_encrypt_batch_secret(const hers_params *p, const hers_secret_key *sk,
                                               const int32_t *values, size_t stride, size_t slots,
                                               size_t count, const uint8_t (*seeds)[HERS_SEED_BYTES],
                                               uint64_t *scratch, uint8_t (*a_seeds)[HERS_SEED_BYTES],
                                               uint64_t *c0);
/* hers_encrypt_batch_secret with part 1 expanded by x (the function above
 * is x = HERS_EXPAND_CHACHA20). */
HERS_API hers_status hers_encrypt_batch_secret_with(const hers_params *p, const hers_secret_key *sk,
                                                    hers_expander x, const int32_t *values,
                                                    size_t stride, size_t slots, size_t count,
                                                    const uint8_t (*seeds)[HERS_SEED_BYTES],
                                                    uint64_t *scratch,
                                                    uint8_t (*a_seeds)[HERS_SEED_BYTES],
                                                    uint64_t *c0);
HERS_API hers_status hers_encrypt_batch_public(const hers_params *p, const hers_public_key *pk,
                                               const int32_t *values, size_t stride, size_t slots,
                                               size_t count, const uint8_t (*seeds)[HERS_SEED_BYTES],
                                               uint64_t *scratch, uint64_t *c);
/* The two functions above with the values placed in the message's
 * COEFFICIENTS when coeff is nonzero (value x in coefficient x: exactly
 * hers_encode_coeff, no NTT mod t, t need not allow batching), in its slots
 * when coeff is 0 (the functions above). */
HERS_API hers_status hers_encrypt_batch_secret_packed(const hers_params *p, const hers_secret_key *sk,
                                                      hers_expander x, int coeff,
                                                      const int32_t *values, size_t stride,
                                                      size_t slots, size_t count,
                                                      const uint8_t (*seeds)[HERS_SEED_BYTES],
                                                      uint64_t *scratch,
                                                      uint8_t (*a_seeds)[HERS_SEED_BYTES],
                                                      uint64_t *c0);
HERS_API hers_status hers_encrypt_batch_public_packed(const hers_params *p, const hers_public_key *pk,
                                                      int coeff, const int32_t *values,
                                                      size_t stride, size_t slots, size_t count,
                                                      const uint8_t (*seeds)[HERS_SEED_BYTES],
                                                      uint64_t *scratch, uint64_t *c);

/* Decrypts 2- or 3-part ciphertexts in either form, full or switched modulus. */
HERS_API hers_status hers_decrypt(const hers_params *p, const hers_secret_key *sk,
                                  const hers_ciphertext *ct, hers_plaintext *pt);
/* The message of a 2-part BFV ciphertext known only by low bits of its
 * parts rounded to b0 / b1 bits of Q_L (src/bfv/decrypt_window.c): y0[c] =
 * Y0 mod 2^(w - shift), y1[c] = Y1 mod 2^w, shift = b1 - b0, b = b1; m[c] =
 * round(t P / 2^b) with P the centred (Y0 2^shift + Y1 s) mod 2^w, i.e. the
 * message coefficient as a signed integer when |m| <= B and 2^b (2B + 1) <=
 * t 2^w (docs/design.md, "Shrinking the download"). N coefficients each.
 * HERS_ERR_UNSUPPORTED unless q_0 > N 2^(w+1) (Y1 s is computed mod q_0),
 * HERS_ERR_FORMAT for a value outside its window. */
HERS_API hers_status hers_decrypt_window(const hers_params *p, const hers_secret_key *sk,
                                         const uint64_t *y0, const uint64_t *y1, unsigned shift,
                                         unsigned w, unsigned b, int64_t *m);
/* Remaining noise budget in bits: log2(Q'/(2*|noise|)) - where decryption is
 * correct while it is > 0. Key holder only: never send it to the server. */
HERS_API hers_status hers_noise_budget(const hers_params *p, const hers_secret_key *sk,
                                       const hers_ciphertext *ct, double *bits);

/* ------------------------------------------------------------ evaluation */
/* Operands must share parameters, form, prime count and NTT state (add and
 * sub accept a 2-part and a 3-part operand: the result has 3 parts); `out`
 * may alias an input and is (re)allocated as needed. */

HERS_API hers_status hers_add(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                              hers_ciphertext *out);
HERS_API hers_status hers_sub(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                              hers_ciphertext *out);
HERS_API hers_status hers_negate(const hers_params *p, const hers_ciphertext *a, hers_ciphertext *out);
/* ct x pt (pt->ntt is computed if missing; pt is const-cast internally only
 * through hers_plaintext_to_ntt, so call that first when sharing pt). */
HERS_API hers_status hers_mul_plain(const hers_params *p, const hers_ciphertext *a, const hers_plaintext *pt,
                                    hers_ciphertext *out);
/* ct x ct, BFV: tensor product, then scale by t/Q and round (3 parts out),
 * exactly (Halevi-Polyakov-Shoup; see docs/design.md). Inputs: 2-part,
 * HERS_FORM_BFV, over all k primes, both in NTT form or both not; the output
 * has the inputs' NTT state. */
HERS_API hers_status hers_mul(const hers_params *p, const hers_ciphertext *a, const hers_ciphertext *b,
                              hers_ciphertext *out);
/* 3 parts -> 2 parts with the relinearisation key (any prime prefix; a
 * 2-part input is copied). HERS_FORM_BGV inputs are refused
 * (HERS_ERR_UNSUPPORTED): decrypt them as 3-part ciphertexts instead. */
HERS_API hers_status hers_relinearize(const hers_params *p, const hers_relin_key *rk,
                                      const hers_ciphertext *in, hers_ciphertext *out);
/* Drops primes: keeps the first `num_primes` (>= 1), rescaling so the result
 * still decrypts (BFV: round(Q'/Q * c); BGV: c' = (c - delta)/q_last with
 * delta = c mod q_last, delta = 0 mod t). Dropping q_l from a BGV-form
 * ciphertext scales its plaintext by q_l^-1 (mod t); hers_decrypt undoes
 * this (it multiplies BGV plaintexts at L primes by prod_{j >= L} q_j mod t,
 * which is 1 when every prime is = 1 mod t), so a BGV ciphertext decrypts
 * to the same message at every level. The result has no seed; `out` may
 * alias `in`. */
HERS_API hers_status hers_mod_switch(const hers_params *p, const hers_ciphertext *in, size_t num_primes,
                                     hers_ciphertext *out);
/* The same two steps in place, in ct's storage even when it is borrowed
 * (hers_ciphertext_init_borrowed: the caller's block is overwritten, no new
 * storage; with out == in the functions above give a borrowed ciphertext
 * storage of its own and leave the block alone). The storage keeps its
 * size: the result occupies its first parts x num_primes x N words. Results
 * equal the out-of-place ones bit for bit. */
HERS_API hers_status hers_relinearize_in_place(const hers_params *p, const hers_relin_key *rk,
                                               hers_ciphertext *ct);
HERS_API hers_status hers_mod_switch_in_place(const hers_params *p, hers_ciphertext *ct,
                                              size_t num_primes);
/* Converts a ciphertext to / from NTT form (in place). */
HERS_API hers_status hers_ciphertext_to_ntt(const hers_params *p, hers_ciphertext *ct);
HERS_API hers_status hers_ciphertext_from_ntt(const hers_params *p, hers_ciphertext *ct);


/* ------------------------------------------------------------ Galois automorphisms */
/* The automorphism tau_g: m(x) -> m(x^g) of R = Z[x]/(x^N + 1), for odd g in
 * [3, 2N). On NTT-form residues it is a permutation of the evaluation points
 * (free); on a ciphertext it gives an encryption of tau_g(m) under tau_g(s),
 * which key switching with a Galois key brings back to s.
 *
 * Key switching (docs/design.md, "Galois automorphisms and key switching")
 * uses the relinearisation's RNS digits, each residue further cut into
 * w-bit digits (w = digit_bits, default ceil(max bitlen(q_i) / 2): two digits
 * per prime): digit (i, j) = bits [wj, wj + w) of [c]_{q_i}, key entry (i, j)
 * = (-a s + e + 2^(wj) [1 mod q_i, 0 mod the others] tau_g(s), a). Smaller w
 * means less noise, larger keys and more NTTs (hers_galois_noise). */
#define HERS_GALOIS_MAX_ELEMENTS 64

typedef struct hers_galois_key hers_galois_key;  /* opaque, immutable */

/* Keys for `count` (1..HERS_GALOIS_MAX_ELEMENTS) distinct odd elements g in
 * [3, 2N); digit_bits 0 = the default, else 8..32 (and >= ceil(bitlen(q_i)/16)
 * so a prime has at most 16 digits). Seed: as the other keys. */
HERS_API hers_status hers_keygen_galois(const hers_params *p, const hers_secret_key *sk,
                                        const uint32_t *elements, size_t count, unsigned digit_bits,
                                        hers_galois_key **gk);
HERS_API hers_status hers_keygen_galois_seeded(const hers_params *p, const hers_secret_key *sk,
                                               const uint32_t *elements, size_t count, unsigned digit_bits,
                                               const uint8_t seed[HERS_SEED_BYTES], hers_galois_key **gk);
HERS_API void hers_galois_key_free(hers_galois_key *gk);
HERS_API size_t hers_galois_key_count(const hers_galois_key *gk);
HERS_API uint32_t hers_galois_key_element(const hers_galois_key *gk, size_t i);
HERS_API int hers_galois_key_has(const hers_galois_key *gk, uint32_t g);
HERS_API unsigned hers_galois_key_digit_bits(const hers_galois_key *gk);

/* Applies tau_g to plaintext coefficients (coefficient encoding; oracle for
 * tests): coefficient i goes to i*g mod 2N, negated when that is >= N. */
HERS_API hers_status hers_plaintext_galois(const hers_params *p, uint32_t g, const hers_plaintext *in,
                                           hers_plaintext *out);
/* out = KeySwitch(tau_g(in)): a 2-part HERS_FORM_BFV ciphertext over all k
 * primes (NTT form or not; out gets the same), encrypting tau_g(m) under s.
 * HERS_ERR_ARG when gk has no key for g; BGV form and 3 parts are refused.
 * out may alias in. */
HERS_API hers_status hers_apply_galois(const hers_params *p, const hers_galois_key *gk, uint32_t g,
                                       const hers_ciphertext *in, hers_ciphertext *out);
/* Noise added by one key switch with w-bit digits (digit_bits 0 = default):
 * *worst = sum over digits of N (2^w_ij - 1) * 21 (infinity-norm bound),
 * *sd = its standard deviation (digits uniform, errors of variance 10.5). */
HERS_API hers_status hers_galois_noise(const hers_params *p, unsigned digit_bits, double *worst,
                                       double *sd);

/* ------------------------------------------------------------ coefficient expansion */
/* SealPIR-style expansion, one substitution per tree node (Angel et al.
 * 2018; the variant with d - 1 key switches): a ciphertext of
 * m(x) = sum_{i<d} m_i x^i (d <= N) becomes d ciphertexts out[i] of the
 * constant 2^(e_i) m_i, e_i = hers_expand_doublings(d, i) <= ceil(log2 d).
 * Level j (0 <= j < ceil(log2 d)) uses g_j = N/2^j + 1; the keys needed are
 * hers_expand_elements(). Callers pre-multiply m_i by 2^-(e_i) mod t. */
HERS_API size_t hers_expand_levels(size_t d);                       /* ceil(log2 d) */
HERS_API uint32_t hers_expand_element(size_t n, size_t level);      /* N/2^level + 1 */
/* Writes the hers_expand_levels(d) elements; d in 1..N. */
HERS_API hers_status hers_expand_elements(size_t n, size_t d, uint32_t *elements, size_t *count);
HERS_API unsigned hers_expand_doublings(size_t d, size_t i);
/* in: 2-part BFV, all primes, NTT form; out: array of d zero-initialised (or
 * previously used) ciphertexts, NTT form; in may be &out[0] (in place). */
HERS_API hers_status hers_expand(const hers_params *p, const hers_galois_key *gk, const hers_ciphertext *in,
                                 size_t d, hers_ciphertext *out);
/* Worst-case and standard-deviation bounds on the noise of every expanded
 * output, from the input noise (worst, sd) and the key switches. */
HERS_API hers_status hers_expand_noise(const hers_params *p, unsigned digit_bits, size_t d, double in_worst,
                                       double in_sd, double *worst, double *sd);

/* ------------------------------------------------------------ compressed c0 */
/* Upload form of a seeded ciphertext's c0: each coefficient (as an integer
 * mod Q, coefficient form) is sent as y = round(2^K c0 / Q) mod 2^K, K bits;
 * the receiver takes round(y Q / 2^K). Added noise |.| <= Q/2^K + 1
 * (docs/design.md). K = hers_c0_bits(p) = min(95, ceil(log2 Q),
 * 2 bitlen(t) + 28): the kernel needs probe noise below ~Q / (t^2 2^13).
 * y: 2N words, y[c] = bits 0..31 of value c, y[N + c] = bits 32..K-1. */
HERS_API unsigned hers_c0_bits(const hers_params *p);
/* ct: 2-part, all primes, seeded (c1 from the seed), NTT form. */
HERS_API hers_status hers_c0_compress(const hers_params *p, const hers_ciphertext *ct, uint64_t *y);
/* Rebuilds ct (NTT form, seeded, part 1 expanded from seed) from y
 * (HERS_ERR_FORMAT when a value is >= 2^K). */
HERS_API hers_status hers_c0_decompress(const hers_params *p, const uint64_t *y,
                                        const uint8_t seed[HERS_SEED_BYTES], hers_ciphertext *ct);
/* The same rounding for any polynomial over the first L primes (coefficient
 * form, L x N residues): y = round(2^K x / Q_L) mod 2^K, K in 1..95, y as
 * above (2N words); unround: x = round(y Q_L / 2^K) mod q_i (HERS_ERR_FORMAT
 * for values >= 2^K). |x' - x| <= Q_L / 2^K + 1 (mod Q_L). Compact results
 * use it (hers_search.h). */
HERS_API hers_status hers_poly_round_bits(const hers_params *p, size_t L, const uint64_t *x, unsigned K,
                                          uint64_t *y);
HERS_API hers_status hers_poly_unround_bits(const hers_params *p, size_t L, unsigned K, const uint64_t *y,
                                            uint64_t *x);

#ifdef __cplusplus
}
#endif
#endif /* HERS_BFV_H */
