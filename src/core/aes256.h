/*
 * aes256.h - AES-256 (FIPS-197) in counter mode: the fast expander of the
 * public uniform half of seed-compressed gallery ciphertexts (format
 * version 2, docs/formats.md). Our own code from the FIPS-197 text: a
 * byte-oriented portable cipher (table S-box: the key is a PUBLIC seed,
 * stored in the clear beside the ciphertext, so its timing leaks nothing
 * secret; never use this code on secret keys), AES-NI (4 blocks in flight)
 * and VAES on 512-bit vectors (16 blocks in flight). Every path gives the
 * same bytes (tests/test_aes.c, KAT tests/kat/aes_kat.txt).
 * Shared with: bfv
 * (scripts/check-layers: library-internal, not part of libhers.so's ABI).
 */
#ifndef HERS_CORE_AES256_H
#define HERS_CORE_AES256_H

#include <stddef.h>
#include <stdint.h>

#define HERS_AES256_ROUNDS 14

/* The 15 round keys of FIPS-197's key expansion, in byte order (the
 * order AES-NI's aesenc takes them). */
typedef struct hers_aes256 {
    uint8_t rk[HERS_AES256_ROUNDS + 1][16];
} hers_aes256;

void hers_aes256_init(hers_aes256 *a, const uint8_t key[32]);
/* One block (portable code; for the KAT and the tails). */
void hers_aes256_encrypt_block(const hers_aes256 *a, const uint8_t in[16], uint8_t out[16]);

/* Counter-mode key stream: nblocks blocks of 16 bytes, block j (j =
 * first .. first + nblocks - 1) = AES-256(key, LE64(stream) || LE64(j)).
 * Uses the fastest path of the active SIMD level (hers_simd_active: VAES
 * at avx512ifma, AES-NI at avx2, when the CPU has them). */
void hers_aes256_ctr(const hers_aes256 *a, uint64_t stream, uint64_t first, size_t nblocks,
                     uint8_t *out);

/* Which path hers_aes256_ctr takes now: "portable", "aesni" or "vaes". */
const char *hers_aes256_path(void);

#endif
