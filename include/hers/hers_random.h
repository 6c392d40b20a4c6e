/*
 * hers_random.h - the CSPRNG and a seeded, deterministic PRG.
 *
 * Secrets come from libsodium's CSPRNG (hers_random_bytes). Everything
 * randomised in hers draws its randomness from a hers_prg: either seeded from
 * the CSPRNG (normal use) or from a caller's 32-byte seed (the `_seeded`
 * twins, tests, KATs, and expansion of the uniform part of seed-compressed
 * ciphertexts). The PRG is ChaCha20 (IETF, libsodium) keyed by the seed,
 * with a 96-bit nonce used as a domain separator, so one seed can feed
 * independent streams.
 *
 * A hers_prg holds key material: call hers_prg_wipe when done.
 * Not thread-safe per object; use one object per thread.
 */
#ifndef HERS_RANDOM_H
#define HERS_RANDOM_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_SEED_BYTES 32

typedef struct hers_prg {
    uint8_t key[32];
    uint8_t nonce[12];
    uint32_t block;     /* next ChaCha20 block counter */
    uint32_t pos;       /* bytes of buf already used (0..64) */
    uint8_t buf[64];
} hers_prg;

/* Initialises libsodium once (thread-safe). HERS_ERR_CRYPTO on failure. */
HERS_API hers_status hers_random_init(void);

/* Fills buf with CSPRNG output. */
HERS_API hers_status hers_random_bytes(void *buf, size_t len);

/* Seeds a PRG from `seed` (32 bytes) and a 64-bit stream/domain id. */
HERS_API void hers_prg_init(hers_prg *g, const uint8_t seed[HERS_SEED_BYTES], uint64_t stream);
/* Seeds a PRG from the CSPRNG. */
HERS_API hers_status hers_prg_init_random(hers_prg *g, uint64_t stream);

HERS_API void hers_prg_bytes(hers_prg *g, void *out, size_t len);
HERS_API uint64_t hers_prg_u64(hers_prg *g);
/* Uniform in [0, bound) by rejection sampling (bound >= 1). Time depends
 * only on the PRG output, not on secret data. */
HERS_API uint64_t hers_prg_uniform(hers_prg *g, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
HERS_API double hers_prg_double(hers_prg *g);
/* Standard normal (Box-Muller); for data generation, not for secrets. */
HERS_API double hers_prg_normal(hers_prg *g);

HERS_API void hers_prg_wipe(hers_prg *g);

#ifdef __cplusplus
}
#endif
#endif /* HERS_RANDOM_H */
