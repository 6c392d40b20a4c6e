/* test_aes.c - AES-256 (src/core/aes256.c) and the AES-256-CTR expander of
 * the uniform half (hers_expand_uniform, HERS_EXPAND_AES256):
 * - the FIPS-197 and SP 800-38A known answers of tests/kat/aes_kat.txt;
 * - the counter-mode key stream at every SIMD level (portable, AES-NI,
 *   VAES) equal to the portable block cipher, for odd lengths and offsets;
 * - the expander: every residue < q_j, the same residues at every level,
 *   the known-answer hashes of aes_kat.txt (lines "expand"), and a
 *   chi-square-style check of uniformity mod q (mean within 6 sigma).
 * Regenerate the expander lines (only after an intended change, and say
 * so in the commit): HERS_KAT_WRITE=1 ./test_aes */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/aes256.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "support/check.h"

static int hexbytes(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 0;
        out[i] = (uint8_t)v;
    }
    return 1;
}

static FILE *kat_open(void)
{
    const char *dir = getenv("HERS_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/kat/aes_kat.txt", dir ? dir : "tests");
    FILE *f = fopen(path, "r");
    if (!f)
        fprintf(stderr, "cannot open %s\n", path);
    return f;
}

static void test_block_kat(void)
{
    FILE *f = kat_open();
    CHECK(f != NULL);
    if (!f)
        return;
    char line[512], label[64], k[80], pt[40], ct[40];
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %79s %39s %39s", label, k, pt, ct) != 4 ||
            strncmp(label, "expand", 6) == 0)
            continue;
        uint8_t key[32], in[16], want[16], got[16];
        CHECK(hexbytes(k, key, 32) && hexbytes(pt, in, 16) && hexbytes(ct, want, 16));
        hers_aes256 a;
        hers_aes256_init(&a, key);
        hers_aes256_encrypt_block(&a, in, got);
        if (memcmp(got, want, 16) != 0)
            fprintf(stderr, "  %s differs\n", label);
        CHECK(memcmp(got, want, 16) == 0);
        seen++;
    }
    fclose(f);
    CHECK(seen == 3);
}

/* Key stream of every level = the portable cipher of the counter blocks. */
static void test_ctr_levels(void)
{
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)test_rand();
    hers_aes256 a;
    hers_aes256_init(&a, key);
    uint64_t stream = test_rand(), first = test_rand() >> 8;
    enum { MAXB = 61 };
    uint8_t want[MAXB * 16], got[MAXB * 16];
    for (size_t b = 0; b < MAXB; b++) {
        uint8_t in[16];
        for (int x = 0; x < 8; x++) {
            in[x] = (uint8_t)(stream >> (8 * x));
            in[8 + x] = (uint8_t)((first + b) >> (8 * x));
        }
        hers_aes256_encrypt_block(&a, in, want + 16 * b);
    }
    FOR_EACH_SIMD(level) {
        printf("  key stream path: %s\n", hers_aes256_path());
        for (size_t nb = 0; nb <= MAXB; nb += (nb < 20 ? 1 : 7)) {
            memset(got, 0xa5, sizeof got);
            hers_aes256_ctr(&a, stream, first, nb, got);
            CHECK(memcmp(got, want, nb * 16) == 0);
            CHECK(nb == MAXB || got[nb * 16] == 0xa5);   /* nothing written past the end */
        }
        /* from an offset: blocks 5.. */
        hers_aes256_ctr(&a, stream, first + 5, 40, got);
        CHECK(memcmp(got, want + 5 * 16, 40 * 16) == 0);
    }
}

static void hash_hex(const uint64_t *w, size_t count, char hex[65])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < count; i++) {
        uint8_t b[8];
        for (int x = 0; x < 8; x++)
            b[x] = (uint8_t)(w[i] >> (8 * x));
        crypto_generichash_update(&st, b, 8);
    }
    uint8_t h[32];
    crypto_generichash_final(&st, h, 32);
    sodium_bin2hex(hex, 65, h, 32);
}

static const char *const SETS[] = {"n4096", "s4096", "n2048"};

static void test_expander(void)
{
    int write = getenv("HERS_KAT_WRITE") != NULL;
    char want[3][65];
    memset(want, 0, sizeof want);
    FILE *f = kat_open();
    if (f) {
        char line[512], label[64], name[32], hex[80];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "%63s %31s %79s", label, name, hex) == 3 &&
                strcmp(label, "expand") == 0)
                for (int s = 0; s < 3; s++)
                    if (strcmp(name, SETS[s]) == 0 && strlen(hex) == 64)
                        memcpy(want[s], hex, 65);
        fclose(f);
    }
    uint8_t seed[HERS_SEED_BYTES];
    for (int i = 0; i < HERS_SEED_BYTES; i++)
        seed[i] = (uint8_t)(3 * i + 1);
    const uint64_t stream = UINT64_C(0x43545f4100000000);   /* HERS_STREAM_CT_A */
    for (int s = 0; s < 3; s++) {
        hers_params *p = NULL;
        CHECK_OK(hers_params_create_named(&p, SETS[s]));
        if (!p)
            continue;
        size_t N = hers_params_n(p), k = hers_params_num_primes(p);
        uint64_t *ref = hers_alloc_array(k * N, sizeof *ref);
        uint64_t *got = hers_alloc_array(k * N, sizeof *got);
        CHECK(ref && got);
        hers_simd_set(HERS_SIMD_PORTABLE);
        hers_expand_uniform(p, HERS_EXPAND_AES256, seed, stream, k, ref);
        for (size_t j = 0; j < k; j++) {
            uint64_t q = hers_params_prime(p, j);
            /* every residue < q, and the mean of the residues within 6
             * sigma of (q - 1) / 2 (uniform: sigma = q / sqrt(12 N)) */
            double sum = 0;
            int ok = 1;
            for (size_t x = 0; x < N; x++) {
                ok &= ref[j * N + x] < q;
                sum += (double)ref[j * N + x];
            }
            CHECK(ok);
            double mean = sum / (double)N, mid = ((double)q - 1) / 2;
            double sigma = (double)q / __builtin_sqrt(12.0 * (double)N);
            CHECK(mean > mid - 6 * sigma && mean < mid + 6 * sigma);
        }
        char hex[65];
        hash_hex(ref, k * N, hex);
        if (write)
            printf("expand %s %s\n", SETS[s], hex);
        else
            CHECK(strcmp(hex, want[s]) == 0);
        /* the ChaCha20 expander is another stream */
        hers_expand_uniform(p, HERS_EXPAND_CHACHA20, seed, stream, k, got);
        CHECK(memcmp(got, ref, k * N * sizeof *got) != 0);
        FOR_EACH_SIMD(level) {
            memset(got, 0, k * N * sizeof *got);
            hers_expand_uniform(p, HERS_EXPAND_AES256, seed, stream, k, got);
            CHECK(memcmp(got, ref, k * N * sizeof *got) == 0);
            /* fewer primes: a prefix */
            memset(got, 0, k * N * sizeof *got);
            hers_expand_uniform(p, HERS_EXPAND_AES256, seed, stream, 1, got);
            CHECK(memcmp(got, ref, N * sizeof *got) == 0);
        }
        hers_free(ref);
        hers_free(got);
        hers_params_free(p);
    }
}

int main(void)
{
    test_seed();
    test_block_kat();
    test_ctr_levels();
    test_expander();
    return test_finish();
}
