/*
 * bfv_kernel.h - the kernel-facing view of the BFV parameters: the little the
 * search layer's scan kernels, index fill and result conversion need beyond
 * the public API (hers/hers_bfv.h), and nothing of the BFV struct layouts.
 * Shared with: search (scripts/check-layers).
 *
 * Everything here is read-only and valid while p lives. The accessors are
 * out-of-line calls: hot loops take them once, into locals, before the loop.
 */
#ifndef HERS_BFV_KERNEL_H
#define HERS_BFV_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_bfv.h"
#include "hers/hers_modarith.h"

/* The k ciphertext primes q_0 .. q_{k-1} with their Barrett constants
 * (k = hers_params_num_primes(p)): the moduli of every residue block. */
const hers_modulus *hers_bfv_kernel_moduli(const hers_params *p);

/* Delta = floor(Q/t) mod q_i, i < k: a BGV-form ciphertext times Delta is a
 * BFV-form one (Q = 1 mod t; the search's relinearised results). */
const uint64_t *hers_bfv_kernel_delta(const hers_params *p);

/* Part 1 (a) of a seeded secret-key ciphertext over the first num_primes
 * (<= k) primes, NTT form, expanded from its 32-byte seed exactly as
 * hers_ciphertext_expand_seed does (num_primes * N words into out). */
void hers_bfv_kernel_expand_a(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                              size_t num_primes, uint64_t *out);
/* The same with expander x (gallery format 2: HERS_EXPAND_AES256;
 * HERS_EXPAND_CHACHA20 is hers_bfv_kernel_expand_a). */
void hers_bfv_kernel_expand_a_with(const hers_params *p, hers_expander x,
                                   const uint8_t seed[HERS_SEED_BYTES], size_t num_primes,
                                   uint64_t *out);

#endif /* HERS_BFV_KERNEL_H */
