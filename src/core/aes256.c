/*
 * aes256.c - AES-256 from FIPS-197 (key expansion, the byte-oriented
 * cipher) and the dispatch of the counter-mode key stream to the fastest
 * path (aes256_x86.c). See aes256.h for what it is used for and why a
 * table S-box is acceptable here (public keys only).
 */
#include <pthread.h>
#include <string.h>

#include "core/aes256.h"
#include "core/aes256_x86.h"
#include "hers/hers_cpu.h"

static uint8_t sbox[256];
static pthread_once_t sbox_once = PTHREAD_ONCE_INIT;

/* Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 4.2). */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1)
            r ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
        b >>= 1;
    }
    return r;
}

static uint8_t rotl8(uint8_t x, int s) { return (uint8_t)((x << s) | (x >> (8 - s))); }

/* FIPS-197 5.1.1: the multiplicative inverse (0 maps to 0), then the affine
 * map b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63. Computed
 * rather than typed in; the KAT checks it (S(0x00) = 0x63, S(0x53) = 0xed). */
static void sbox_build(void)
{
    for (int x = 0; x < 256; x++) {
        uint8_t inv = 0;
        if (x) {
            uint8_t p = (uint8_t)x;   /* x^254 = x^-1: square-and-multiply */
            uint8_t r = 1;
            for (int e = 254; e; e >>= 1) {
                if (e & 1)
                    r = gf_mul(r, p);
                p = gf_mul(p, p);
            }
            inv = r;
        }
        sbox[x] = (uint8_t)(inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^
                            0x63);
    }
}

void hers_aes256_init(hers_aes256 *a, const uint8_t key[32])
{
    pthread_once(&sbox_once, sbox_build);
    /* FIPS-197 5.2, Nk = 8, Nr = 14: 60 words w[i], 4 bytes each */
    uint8_t *w = &a->rk[0][0];
    memcpy(w, key, 32);
    uint8_t rcon = 1;
    for (int i = 8; i < 4 * (HERS_AES256_ROUNDS + 1); i++) {
        uint8_t t[4];
        memcpy(t, w + 4 * (i - 1), 4);
        if (i % 8 == 0) {
            uint8_t t0 = t[0];   /* RotWord, SubWord, Rcon */
            t[0] = (uint8_t)(sbox[t[1]] ^ rcon);
            t[1] = sbox[t[2]];
            t[2] = sbox[t[3]];
            t[3] = sbox[t0];
            rcon = gf_mul(rcon, 2);
        } else if (i % 8 == 4) {
            for (int b = 0; b < 4; b++)
                t[b] = sbox[t[b]];
        }
        for (int b = 0; b < 4; b++)
            w[4 * i + b] = (uint8_t)(w[4 * (i - 8) + b] ^ t[b]);
    }
}

static inline uint8_t xtime(uint8_t x) { return (uint8_t)((x << 1) ^ ((x & 0x80) ? 0x1b : 0)); }

void hers_aes256_encrypt_block(const hers_aes256 *a, const uint8_t in[16], uint8_t out[16])
{
    pthread_once(&sbox_once, sbox_build);
    uint8_t s[16], t[16];
    for (int i = 0; i < 16; i++)
        s[i] = in[i] ^ a->rk[0][i];
    for (int r = 1; r <= HERS_AES256_ROUNDS; r++) {
        /* SubBytes and ShiftRows: byte (row j, column c) is s[j + 4c];
         * row j moves left by j columns */
        for (int c = 0; c < 4; c++)
            for (int j = 0; j < 4; j++)
                t[j + 4 * c] = sbox[s[j + 4 * ((c + j) & 3)]];
        if (r < HERS_AES256_ROUNDS) {
            for (int c = 0; c < 4; c++) {   /* MixColumns (FIPS-197 5.1.3) */
                uint8_t *col = t + 4 * c, a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3];
                uint8_t all = (uint8_t)(a0 ^ a1 ^ a2 ^ a3);
                col[0] = (uint8_t)(a0 ^ all ^ xtime((uint8_t)(a0 ^ a1)));
                col[1] = (uint8_t)(a1 ^ all ^ xtime((uint8_t)(a1 ^ a2)));
                col[2] = (uint8_t)(a2 ^ all ^ xtime((uint8_t)(a2 ^ a3)));
                col[3] = (uint8_t)(a3 ^ all ^ xtime((uint8_t)(a3 ^ a0)));
            }
        }
        for (int i = 0; i < 16; i++)
            s[i] = t[i] ^ a->rk[r][i];
    }
    memcpy(out, s, 16);
}

static void ctr_portable(const hers_aes256 *a, uint64_t stream, uint64_t first, size_t nblocks,
                         uint8_t *out)
{
    uint8_t in[16];
    for (int b = 0; b < 8; b++)
        in[b] = (uint8_t)(stream >> (8 * b));
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t j = first + i;
        for (int b = 0; b < 8; b++)
            in[8 + b] = (uint8_t)(j >> (8 * b));
        hers_aes256_encrypt_block(a, in, out + 16 * i);
    }
}

typedef enum { PATH_PORTABLE, PATH_AESNI, PATH_VAES } aes_path;

static aes_path path_now(void)
{
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512 && hers_cpu_has_vaes())
        return PATH_VAES;
    if (level >= HERS_SIMD_AVX2 && hers_cpu_has_aesni())
        return PATH_AESNI;
    return PATH_PORTABLE;
}

const char *hers_aes256_path(void)
{
    static const char *const names[] = {"portable", "aesni", "vaes"};
    return names[path_now()];
}

void hers_aes256_ctr(const hers_aes256 *a, uint64_t stream, uint64_t first, size_t nblocks,
                     uint8_t *out)
{
    switch (path_now()) {
    case PATH_VAES: hers_aes256_ctr_vaes(a, stream, first, nblocks, out); break;
    case PATH_AESNI: hers_aes256_ctr_aesni(a, stream, first, nblocks, out); break;
    default: ctr_portable(a, stream, first, nblocks, out); break;
    }
}
