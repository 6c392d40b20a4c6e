/* random.c - libsodium CSPRNG and a ChaCha20-based seeded PRG. */
#include "hers/hers_random.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void init_sodium(void) { sodium_ok = sodium_init() >= 0; }

hers_status hers_random_init(void)
{
    pthread_once(&sodium_once, init_sodium);
    return sodium_ok ? HERS_OK : hers_error(HERS_ERR_CRYPTO, "libsodium failed to initialise");
}

hers_status hers_random_bytes(void *buf, size_t len)
{
    hers_status st = hers_random_init();
    if (st != HERS_OK)
        return st;
    randombytes_buf(buf, len);
    return HERS_OK;
}

void hers_prg_init(hers_prg *g, const uint8_t seed[HERS_SEED_BYTES], uint64_t stream)
{
    (void)hers_random_init();
    memcpy(g->key, seed, 32);
    memset(g->nonce, 0, sizeof g->nonce);
    for (int i = 0; i < 8; i++)
        g->nonce[4 + i] = (uint8_t)(stream >> (8 * i));
    g->block = 0;
    g->pos = 64;
}

hers_status hers_prg_init_random(hers_prg *g, uint64_t stream)
{
    uint8_t seed[HERS_SEED_BYTES];
    hers_status st = hers_random_bytes(seed, sizeof seed);
    if (st != HERS_OK)
        return st;
    hers_prg_init(g, seed, stream);
    sodium_memzero(seed, sizeof seed);
    return HERS_OK;
}

static void refill(hers_prg *g)
{
    memset(g->buf, 0, 64);
    crypto_stream_chacha20_ietf_xor_ic(g->buf, g->buf, 64, g->nonce, g->block, g->key);
    g->block++;
    if (g->block == 0) {
        /* 2^32 blocks (256 GiB) used: move to the next nonce word. */
        for (int i = 0; i < 4; i++)
            if (++g->nonce[i])
                break;
    }
    g->pos = 0;
}

void hers_prg_bytes(hers_prg *g, void *out, size_t len)
{
    uint8_t *o = out;
    while (len > 0) {
        if (g->pos == 64) {
            if (len >= 64) {
                /* Whole blocks straight into the output. */
                size_t nblocks = len / 64;
                if (nblocks > (size_t)(UINT32_MAX - g->block))
                    nblocks = (size_t)(UINT32_MAX - g->block);
                if (nblocks > 0) {
                    memset(o, 0, nblocks * 64);
                    crypto_stream_chacha20_ietf_xor_ic(o, o, nblocks * 64, g->nonce,
                                                       g->block, g->key);
                    g->block += (uint32_t)nblocks;
                    o += nblocks * 64;
                    len -= nblocks * 64;
                    continue;
                }
            }
            refill(g);
        }
        size_t take = 64 - g->pos;
        if (take > len)
            take = len;
        memcpy(o, g->buf + g->pos, take);
        g->pos += (uint32_t)take;
        o += take;
        len -= take;
    }
}

uint64_t hers_prg_u64(hers_prg *g)
{
    uint8_t b[8];
    hers_prg_bytes(g, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

uint64_t hers_prg_uniform(hers_prg *g, uint64_t bound)
{
    if (bound <= 1)
        return 0;
    /* Reject the top partial interval so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound + 1) % bound;
    for (;;) {
        uint64_t v = hers_prg_u64(g);
        if (v <= limit)
            return v % bound;
    }
}

double hers_prg_double(hers_prg *g)
{
    return (double)(hers_prg_u64(g) >> 11) * 0x1.0p-53;
}

double hers_prg_normal(hers_prg *g)
{
    double u1 = hers_prg_double(g), u2 = hers_prg_double(g);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void hers_prg_wipe(hers_prg *g) { sodium_memzero(g, sizeof *g); }
