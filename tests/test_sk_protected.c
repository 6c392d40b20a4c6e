/* test_sk_protected.c - passphrase-protected secret-key envelopes
 * (hers_secret_key_seal / unseal / *_protected files): round trip, wrong
 * passphrase, other parameter set, truncation and bit flips (every one
 * rejected, never a crash), file mode 0600, the detector, and the plain
 * reader's message for a protected file. Uses the toy parameter set (N = 64)
 * and the minimal KDF cost, except one round trip with the default cost
 * (its time is printed, not asserted). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hers/hers_mem.h"
#include "hers/hers_serial.h"
#include "support/check.h"
#include "support/serial_toy.h"

static const hers_pwhash_cost fast = {1, 8192};

/* 1 if both keys serialise to the same bytes. */
static int same_key(const hers_params *p, const hers_secret_key *a, const hers_secret_key *b)
{
    size_t n = 0;
    if (!a || !b || hers_secret_key_serialized_size(p, &n) != HERS_OK)
        return 0;
    uint8_t *x = malloc(n), *y = malloc(n);
    int same = x && y && hers_secret_key_serialize(p, a, x, n, NULL) == HERS_OK &&
               hers_secret_key_serialize(p, b, y, n, NULL) == HERS_OK && memcmp(x, y, n) == 0;
    free(x);
    free(y);
    return same;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_buffers(const hers_params *p, const hers_params *other, const hers_secret_key *sk)
{
    size_t size = 0;
    CHECK_OK(hers_secret_key_protected_size(p, &size));
    uint8_t *env = malloc(size), *mut = malloc(size);
    CHECK(env && mut);
    if (!env || !mut)
        return;
    const char pass[] = "correct horse battery staple";
    size_t written = 0;
    CHECK_OK(hers_secret_key_seal(p, sk, pass, strlen(pass), &fast, env, size, &written));
    CHECK_EQ_U64(written, size);
    CHECK(hers_secret_key_is_protected(env, size));
    hers_pwhash_cost c = {0, 0};
    CHECK_OK(hers_secret_key_protected_peek(env, size, &c));
    CHECK_EQ_U64(c.opslimit, 1);
    CHECK_EQ_U64(c.memlimit, 8192);

    hers_secret_key *back = NULL;
    CHECK_OK(hers_secret_key_unseal(p, env, size, pass, strlen(pass), &back));
    CHECK(same_key(p, sk, back));
    hers_secret_key_free(back);

    /* Wrong passphrases: one bit, one byte shorter, completely different. */
    char wrong[sizeof pass];
    memcpy(wrong, pass, sizeof pass);
    wrong[3] ^= 1;
    back = NULL;
    CHECK(hers_secret_key_unseal(p, env, size, wrong, strlen(wrong), &back) == HERS_ERR_CRYPTO);
    CHECK(back == NULL);
    CHECK(strstr(hers_last_error(), "wrong passphrase (or corrupted key file)") != NULL);
    CHECK(hers_secret_key_unseal(p, env, size, pass, strlen(pass) - 1, &back) == HERS_ERR_CRYPTO);
    CHECK(hers_secret_key_unseal(p, env, size, "x", 1, &back) == HERS_ERR_CRYPTO);
    CHECK(hers_secret_key_unseal(p, env, size, pass, 0, &back) == HERS_ERR_ARG);
    CHECK(hers_secret_key_unseal(other, env, size, pass, strlen(pass), &back) ==
          HERS_ERR_MISMATCH);

    /* Two seals of the same key differ (fresh salt and nonce). */
    CHECK_OK(hers_secret_key_seal(p, sk, pass, strlen(pass), &fast, mut, size, NULL));
    CHECK(memcmp(env, mut, size) != 0);
    CHECK(memcmp(env + 32, mut + 32, 40) != 0);

    /* Bad costs are refused by the writer. */
    hers_pwhash_cost bad = {0, 8192};
    CHECK(hers_secret_key_seal(p, sk, pass, strlen(pass), &bad, mut, size, NULL) == HERS_ERR_ARG);
    bad = (hers_pwhash_cost){1, HERS_SKPW_MEMLIMIT_MAX * 2};
    CHECK(hers_secret_key_seal(p, sk, pass, strlen(pass), &bad, mut, size, NULL) == HERS_ERR_ARG);
    CHECK(hers_secret_key_seal(p, sk, pass, strlen(pass), &fast, mut, size - 1, NULL) ==
          HERS_ERR_ARG);

    /* Every truncation is rejected (format), before any KDF. */
    for (size_t len = 0; len < size; len += (len < 160 ? 1 : 7)) {
        CHECK(hers_secret_key_unseal(p, env, len, pass, strlen(pass), &back) != HERS_OK);
        CHECK(back == NULL);
    }
    /* Trailing byte. */
    uint8_t *longer = malloc(size + 1);
    if (longer) {
        memcpy(longer, env, size);
        longer[size] = 0;
        CHECK(hers_secret_key_unseal(p, longer, size + 1, pass, strlen(pass), &back) ==
              HERS_ERR_FORMAT);
        free(longer);
    }
    /* Every single-bit flip (a sample of bit positions per byte) fails. */
    int flips = 0, ok = 1;
    for (size_t i = 0; i < size; i++) {
        memcpy(mut, env, size);
        mut[i] ^= (uint8_t)(1u << (test_rand() & 7));
        hers_status st = hers_secret_key_unseal(p, mut, size, pass, strlen(pass), &back);
        if (st == HERS_OK || back != NULL)
            ok = 0;
        hers_secret_key_free(back);
        back = NULL;
        flips++;
    }
    CHECK(ok);
    CHECK(flips == (int)size);
    /* A flipped ciphertext byte with a re-computed checksum: MAC failure. */
    memcpy(mut, env, size);
    mut[HERS_SKPW_HEADER_BYTES + 20] ^= 0x40;
    /* recompute the checksum as a forger would */
    crypto_generichash(mut + size - 32, 32, mut, size - 32, NULL, 0);
    CHECK(hers_secret_key_unseal(p, mut, size, pass, strlen(pass), &back) == HERS_ERR_CRYPTO);
    /* A cost field raised above the limit (checksum fixed): refused before the KDF. */
    memcpy(mut, env, size);
    mut[24 + 5] = 0xff; /* memlimit ~ 2^48 */
    crypto_generichash(mut + size - 32, 32, mut, size - 32, NULL, 0);
    CHECK(hers_secret_key_unseal(p, mut, size, pass, strlen(pass), &back) == HERS_ERR_FORMAT);
    /* A plain record is not protected. */
    size_t plain = 0;
    CHECK_OK(hers_secret_key_serialized_size(p, &plain));
    uint8_t *rec = malloc(plain);
    if (rec) {
        CHECK_OK(hers_secret_key_serialize(p, sk, rec, plain, NULL));
        CHECK(!hers_secret_key_is_protected(rec, plain));
        CHECK(hers_secret_key_unseal(p, rec, plain, pass, strlen(pass), &back) == HERS_ERR_FORMAT);
        hers_wipe(rec, plain);
        free(rec);
    }
    free(env);
    free(mut);
}

static void test_files(const hers_params *p, const hers_secret_key *sk)
{
    char dir[] = "/tmp/hers_skpw_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], plain[256];
    snprintf(path, sizeof path, "%s/secret.key", dir);
    snprintf(plain, sizeof plain, "%s/plain.key", dir);
    const char pass[] = "pässwörd\twith tab";
    CHECK_OK(hers_secret_key_write_protected_cost(path, p, sk, pass, strlen(pass), &fast));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    int prot = -1;
    CHECK_OK(hers_secret_key_file_is_protected(path, &prot));
    CHECK(prot == 1);
    hers_secret_key *back = NULL;
    CHECK_OK(hers_secret_key_read_protected(path, p, pass, strlen(pass), &back));
    CHECK(same_key(p, sk, back));
    hers_secret_key_free(back);
    back = NULL;
    CHECK(hers_secret_key_read_protected(path, p, "nope", 4, &back) == HERS_ERR_CRYPTO);
    CHECK(strstr(hers_last_error(), path) != NULL);
    CHECK(strstr(hers_last_error(), "wrong passphrase") != NULL);
    /* The plain reader names the problem. */
    CHECK(hers_secret_key_read(path, p, &back) == HERS_ERR_CRYPTO);
    CHECK(strstr(hers_last_error(), "passphrase-protected") != NULL);
    CHECK(back == NULL);
    /* Plain file: detector says 0, the protected reader refuses. */
    CHECK_OK(hers_secret_key_write(plain, p, sk));
    CHECK_OK(hers_secret_key_file_is_protected(plain, &prot));
    CHECK(prot == 0);
    CHECK(hers_secret_key_read_protected(plain, p, pass, strlen(pass), &back) == HERS_ERR_FORMAT);
    /* Missing file. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.key", dir);
    CHECK(hers_secret_key_file_is_protected(missing, &prot) == HERS_ERR_NOTFOUND);
    CHECK(hers_secret_key_read_protected(missing, p, pass, strlen(pass), &back) ==
          HERS_ERR_NOTFOUND);
    /* Overwrite keeps 0600 and no temp files are left behind. */
    CHECK_OK(hers_secret_key_write_protected_cost(path, p, sk, "b", 1, &fast));
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_OK(hers_secret_key_read_protected(path, p, "b", 1, &back));
    hers_secret_key_free(back);
    back = NULL;

    /* Default cost, once (time printed, never asserted). */
    double t0 = now();
    CHECK_OK(hers_secret_key_write_protected(path, p, sk, pass, strlen(pass)));
    double t1 = now();
    CHECK_OK(hers_secret_key_read_protected(path, p, pass, strlen(pass), &back));
    double t2 = now();
    CHECK(same_key(p, sk, back));
    hers_secret_key_free(back);
    printf("default KDF cost (opslimit %d, memlimit %llu MiB): write %.3f s, read %.3f s\n",
           HERS_SKPW_OPSLIMIT_DEFAULT,
           (unsigned long long)(HERS_SKPW_MEMLIMIT_DEFAULT >> 20), t1 - t0, t2 - t1);

    unlink(path);
    unlink(plain);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    test_rand_seed(test_seed());
    hers_params *p = NULL, *other = NULL;
    CHECK_OK(serial_toy_params(&p));
    CHECK_OK(hers_params_create_named(&other, "n2048"));
    hers_secret_key *sk = NULL;
    if (p)
        CHECK_OK(hers_keygen_secret(p, &sk));
    if (p && other && sk) {
        test_buffers(p, other, sk);
        test_files(p, sk);
    }
    hers_secret_key_free(sk);
    hers_params_free(p);
    hers_params_free(other);
    return test_finish();
}
