/* test_serial.c - serialisation of parameters, keys, plaintexts and
 * ciphertexts: bit-exact round trips, exact size queries, seed compression,
 * and rejection (an error, never a crash) of truncated, oversized,
 * bit-flipped, re-versioned, re-typed, foreign-parameter and out-of-range
 * records; files (atomic writes, mode 0600 for secret keys).
 *
 * With HERS_WRITE_FUZZ_SEEDS=DIR set, also writes the fuzz seed corpus
 * (DIR/fuzz_<target>/...) from the toy parameter set the fuzzers use:
 *   HERS_WRITE_FUZZ_SEEDS=fuzz/seeds build/test_serial */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bfv/bfv_internal.h"
#include "bfv/serial_internal.h"
#include "hers/hers_mem.h"
#include "hers/hers_serial.h"
#include "support/check.h"
#include "support/serial_toy.h"

static int quick;

/* A reader under test: deserialises buf with params p, frees the result,
 * returns the status. */
typedef hers_status (*reader_fn)(const hers_params *p, const uint8_t *buf, size_t len);

static hers_status rd_params(const hers_params *p, const uint8_t *buf, size_t len)
{
    (void)p;
    hers_params *q = NULL;
    hers_status st = hers_params_deserialize(buf, len, &q);
    CHECK((st == HERS_OK) == (q != NULL));
    hers_params_free(q);
    return st;
}

static hers_status rd_sk(const hers_params *p, const uint8_t *buf, size_t len)
{
    hers_secret_key *k = NULL;
    hers_status st = hers_secret_key_deserialize(p, buf, len, &k);
    CHECK((st == HERS_OK) == (k != NULL));
    hers_secret_key_free(k);
    return st;
}

static hers_status rd_pk(const hers_params *p, const uint8_t *buf, size_t len)
{
    hers_public_key *k = NULL;
    hers_status st = hers_public_key_deserialize(p, buf, len, &k);
    CHECK((st == HERS_OK) == (k != NULL));
    hers_public_key_free(k);
    return st;
}

static hers_status rd_gk(const hers_params *p, const uint8_t *buf, size_t len)
{
    hers_galois_key *k = NULL;
    hers_status st = hers_galois_key_deserialize(p, buf, len, &k);
    CHECK((st == HERS_OK) == (k != NULL));
    hers_galois_key_free(k);
    return st;
}

static hers_status rd_rk(const hers_params *p, const uint8_t *buf, size_t len)
{
    hers_relin_key *k = NULL;
    hers_status st = hers_relin_key_deserialize(p, buf, len, &k);
    CHECK((st == HERS_OK) == (k != NULL));
    hers_relin_key_free(k);
    return st;
}

static hers_status rd_pt(const hers_params *p, const uint8_t *buf, size_t len)
{
    hers_plaintext pt;
    hers_status st = hers_plaintext_deserialize(p, buf, len, &pt);
    CHECK((st == HERS_OK) == (pt.coeffs != NULL));
    hers_plaintext_free(&pt);
    return st;
}

static hers_status rd_ct(const hers_params *p, const uint8_t *buf, size_t len)
{
    hers_ciphertext ct;
    hers_status st = hers_ciphertext_deserialize(p, buf, len, &ct);
    CHECK((st == HERS_OK) == (ct.data != NULL));
    hers_ciphertext_free(&ct);
    return st;
}

static uint8_t *dup_buf(const uint8_t *b, size_t len, size_t cap)
{
    uint8_t *c = malloc(cap ? cap : 1);
    memset(c, 0, cap ? cap : 1);
    memcpy(c, b, len < cap ? len : cap);
    return c;
}

static void reseal(uint8_t *b, size_t len)
{
    ser_seal(b, len - HERS_SERIAL_HEADER_BYTES - HERS_SERIAL_CHECKSUM_BYTES);
}

/* "Any error" for expect_body_byte. */
#define ANY_ERROR ((hers_status)999)

/* Mutation at body offset `off` (after resealing) must give `want`. */
static void expect_body_byte(reader_fn rd, const hers_params *p, const uint8_t *b, size_t len,
                             size_t off, uint8_t value, hers_status want)
{
    uint8_t *c = dup_buf(b, len, len);
    c[HERS_SERIAL_HEADER_BYTES + off] = value;
    reseal(c, len);
    hers_status st = rd(p, c, len);
    int good = want == ANY_ERROR ? st != HERS_OK : st == want;
    if (!good)
        fprintf(stderr, "  body[%zu] = %u: got %s (%s), want %s\n", off, value,
                hers_status_name(st), hers_last_error(),
                want == ANY_ERROR ? "an error" : hers_status_name(want));
    CHECK(good);
    free(c);
}

/* Generic corruption of a valid record: every reader must refuse. */
static void corrupt_all(const char *what, reader_fn rd, const hers_params *p, const uint8_t *b,
                        size_t len)
{
    long before = test_checks_failed;
    CHECK_OK(rd(p, b, len));
    /* Truncations: every length for small records, a spread otherwise. */
    size_t step = (len <= 4096 || !quick) ? 1 : len / 512;
    if (len > 20000)
        step = len / 2000;
    for (size_t l = 0; l < len; l += (l < 256 || l + 256 > len) ? 1 : step) {
        uint8_t *c = dup_buf(b, l, l);
        CHECK(rd(p, c, l) != HERS_OK);
        free(c);
    }
    /* Oversized: trailing bytes. */
    for (size_t extra = 1; extra <= 9; extra += 8) {
        uint8_t *c = dup_buf(b, len, len + extra);
        CHECK(rd(p, c, len + extra) == HERS_ERR_FORMAT);
        free(c);
    }
    /* Every single-bit flip in the header. */
    uint8_t *c = dup_buf(b, len, len);
    for (size_t bit = 0; bit < 8 * HERS_SERIAL_HEADER_BYTES; bit++) {
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(rd(p, c, len) != HERS_OK);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Random bit flips in body and checksum: checksum error. */
    for (int i = 0; i < 200; i++) {
        size_t bit = 8 * HERS_SERIAL_HEADER_BYTES +
                     test_rand() % (8 * (len - HERS_SERIAL_HEADER_BYTES));
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(rd(p, c, len) == HERS_ERR_CHECKSUM);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Wrong version (resealed). */
    hers_le_put_u32(c + 8, 2);
    reseal(c, len);
    CHECK(rd(p, c, len) == HERS_ERR_VERSION);
    hers_le_put_u32(c + 8, 0);
    reseal(c, len);
    CHECK(rd(p, c, len) == HERS_ERR_VERSION);
    hers_le_put_u32(c + 8, HERS_SERIAL_VERSION);
    /* Reserved field. */
    c[13] = 1;
    reseal(c, len);
    CHECK(rd(p, c, len) == HERS_ERR_FORMAT);
    c[13] = 0;
    /* Wrong object types (resealed). */
    static const char *const tags[] = {"PARM", "SKEY", "PKEY", "RKEY", "PTXT", "CTXT", "XXXX"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        if (memcmp(c + 4, tags[i], 4) == 0)
            continue;
        uint8_t save[4];
        memcpy(save, c + 4, 4);
        memcpy(c + 4, tags[i], 4);
        reseal(c, len);
        CHECK(rd(p, c, len) == HERS_ERR_FORMAT);
        memcpy(c + 4, save, 4);
    }
    reseal(c, len);
    CHECK(memcmp(c, b, len) == 0);
    free(c);
    if (test_checks_failed != before)
        fprintf(stderr, "  (corruption of %s)\n", what);
}

/* Re-serialises with the given writer and compares bytes. */
#define ROUND_TRIP_BYTES(size_expr, ser_expr, orig, orig_len)                                   \
    do {                                                                                       \
        size_t sz_ = 0, wr_ = 0;                                                               \
        CHECK_OK(size_expr);                                                                   \
        CHECK_EQ_U64(sz_, orig_len);                                                           \
        uint8_t *b2_ = malloc(sz_ + 1);                                                        \
        CHECK(b2_ != NULL);                                                                    \
        CHECK_OK(ser_expr);                                                                    \
        CHECK_EQ_U64(wr_, sz_);                                                                \
        CHECK(memcmp(b2_, orig, orig_len) == 0);                                               \
        free(b2_);                                                                             \
    } while (0)

static uint8_t *serialize_ct(const hers_params *p, const hers_ciphertext *ct, size_t *len)
{
    size_t sz = 0, wr = 0;
    CHECK_OK(hers_ciphertext_serialized_size(p, ct, &sz));
    uint8_t *b = malloc(sz);
    CHECK(hers_ciphertext_serialize(p, ct, b, sz - 1, &wr) == HERS_ERR_ARG);
    CHECK_OK(hers_ciphertext_serialize(p, ct, b, sz, &wr));
    CHECK_EQ_U64(wr, sz);
    *len = sz;
    return b;
}

static int ct_equal(const hers_ciphertext *a, const hers_ciphertext *b)
{
    return a->n == b->n && a->parts == b->parts && a->num_primes == b->num_primes &&
           a->ntt_form == b->ntt_form && a->form == b->form &&
           memcmp(a->data, b->data, a->parts * a->num_primes * a->n * sizeof(uint64_t)) == 0;
}

static void save_seed(const char *dir, const char *target, const char *name, const uint8_t *b,
                      size_t len)
{
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(b, 1, len, f) == len);
        fclose(f);
    }
}

/* Round trip and corruption of a ciphertext; returns its serialised size. */
static size_t check_ct(const hers_params *p, const hers_params *other, const hers_ciphertext *ct,
                       const char *seed_dir, const char *seed_name)
{
    size_t len;
    uint8_t *b = serialize_ct(p, ct, &len);
    hers_ciphertext back;
    CHECK_OK(hers_ciphertext_deserialize(p, b, len, &back));
    CHECK(ct_equal(ct, &back));
    size_t len2;
    uint8_t *b2 = serialize_ct(p, &back, &len2);
    CHECK(len2 == len && memcmp(b, b2, len) == 0);
    free(b2);
    hers_ciphertext_free(&back);
    save_seed(seed_dir, "fuzz_ciphertext", seed_name, b, len);

    corrupt_all("ciphertext", rd_ct, p, b, len);
    if (other)
        CHECK(rd_ct(other, b, len) == HERS_ERR_MISMATCH);
    /* Field mutations: N, parts, primes, form, flags, seed, residues. */
    expect_body_byte(rd_ct, p, b, len, 0, 0x41, HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 4, 1, HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 4, 4, HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 4, (uint8_t)(ct->parts == 2 ? 3 : 2), HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 5, 0, HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 5, (uint8_t)(hers_params_num_primes(p) + 1), HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 6, 2, HERS_ERR_FORMAT);
    expect_body_byte(rd_ct, p, b, len, 7, 0x80, HERS_ERR_FORMAT);
    uint8_t *c = dup_buf(b, len, len);
    uint8_t *body = c + HERS_SERIAL_HEADER_BYTES;
    body[7] ^= 2; /* toggle seed compression */
    reseal(c, len);
    CHECK(rd_ct(p, c, len) == HERS_ERR_FORMAT);
    body[7] ^= 2;
    if (!ct->has_seed || ct->parts != 2) {
        body[8] = 1; /* seed bytes without compression */
        reseal(c, len);
        CHECK(rd_ct(p, c, len) == HERS_ERR_FORMAT);
        body[8] = 0;
    }
    /* The first residue of prime 0 set to all ones (>= q_0: q_0 < 2^bits). */
    int bits0 = hers_bitlen(hers_params_prime(p, 0) - 1);
    for (int i = 0; i < bits0; i++)
        body[40 + i / 8] |= (uint8_t)(1u << (i % 8));
    reseal(c, len);
    CHECK(rd_ct(p, c, len) == HERS_ERR_FORMAT);
    memcpy(c, b, len);
    /* The last residue of the last stored polynomial: its top bits end the body. */
    size_t last_prime = ct->num_primes - 1;
    int bitsl = hers_bitlen(hers_params_prime(p, last_prime) - 1);
    size_t body_end = len - HERS_SERIAL_CHECKSUM_BYTES;
    for (int i = 0; i < bitsl; i++) {
        size_t bit = 8 * body_end - 1 - (size_t)i;
        c[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
    reseal(c, len);
    CHECK(rd_ct(p, c, len) == HERS_ERR_FORMAT);
    free(c);
    free(b);
    return len;
}

static void test_params(const hers_params *toy, const char *seed_dir)
{
    const hers_params *sets[2] = {toy, NULL};
    hers_params *named = NULL;
    CHECK_OK(hers_params_create_named(&named, "n4096"));
    sets[1] = named;
    for (int s = 0; s < 2; s++) {
        const hers_params *p = sets[s];
        if (!p)
            continue;
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_params_serialized_size(p, &sz));
        uint8_t *b = malloc(sz);
        CHECK(hers_params_serialize(p, b, sz - 1, &wr) == HERS_ERR_ARG);
        CHECK_OK(hers_params_serialize(p, b, sz, &wr));
        CHECK_EQ_U64(wr, sz);
        hers_params *q = NULL;
        CHECK_OK(hers_params_deserialize(b, sz, &q));
        if (q) {
            CHECK(memcmp(hers_params_id(p), hers_params_id(q), 32) == 0);
            CHECK(hers_params_n(q) == hers_params_n(p));
            CHECK(hers_params_t(q) == hers_params_t(p));
            CHECK(hers_params_num_primes(q) == hers_params_num_primes(p));
            CHECK(hers_params_security(q) == hers_params_security(p));
            CHECK(strcmp(hers_params_name(q), hers_params_name(p)) == 0);
            ROUND_TRIP_BYTES(hers_params_serialized_size(q, &sz_),
                             hers_params_serialize(q, b2_, sz_, &wr_), b, sz);
        }
        hers_params_free(q);
        save_seed(seed_dir, "fuzz_params", s ? "n4096" : "toy", b, sz);
        corrupt_all("params", rd_params, NULL, b, sz);
        size_t k = hers_params_num_primes(p);
        size_t sec_off = 16 + 8 * k, name_off = sec_off + 8;
        expect_body_byte(rd_params, NULL, b, sz, 0, 48, HERS_ERR_FORMAT);    /* N = 48 */
        expect_body_byte(rd_params, NULL, b, sz, 4, 0, HERS_ERR_FORMAT);     /* k = 0 */
        expect_body_byte(rd_params, NULL, b, sz, 4, 17, HERS_ERR_FORMAT);    /* k = 17 */
        expect_body_byte(rd_params, NULL, b, sz, sec_off, 100, HERS_ERR_FORMAT);
        expect_body_byte(rd_params, NULL, b, sz, sec_off + 4, 16, HERS_ERR_FORMAT);
        if (!s) /* the toy set claiming 128-bit security: refused by hers_params_create */
            expect_body_byte(rd_params, NULL, b, sz, sec_off, 128, ANY_ERROR);
        /* The id in the header no longer matches the body. */
        expect_body_byte(rd_params, NULL, b, sz, 8, (uint8_t)(b[HERS_SERIAL_HEADER_BYTES + 8] ^ 2),
                         s ? HERS_ERR_FORMAT : ANY_ERROR);
        /* A prime changed to an even number: refused by hers_params_create
         * (custom) or as different from the named set. */
        expect_body_byte(rd_params, NULL, b, sz, 16, (uint8_t)(b[HERS_SERIAL_HEADER_BYTES + 16] ^ 1),
                         s ? HERS_ERR_FORMAT : ANY_ERROR);
        if (s) {
            expect_body_byte(rd_params, NULL, b, sz, name_off, 'x', HERS_ERR_FORMAT); /* "x4096" */
            expect_body_byte(rd_params, NULL, b, sz, name_off, 0x01, HERS_ERR_FORMAT);
            /* Named set with a lowered security level: differs. */
            expect_body_byte(rd_params, NULL, b, sz, sec_off, 0, HERS_ERR_FORMAT);
        }
        free(b);
    }
    /* Files. */
    hers_params_free(named);
}

/* hers_bitpack / hers_bitunpack against a bit-by-bit reference (LSB first). */
static void test_packing(void)
{
    static const uint64_t four[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t small[4];
    CHECK(hers_bitpack(small, four, 8, 4, 16) == 1);
    CHECK(small[0] == 0x21 && small[1] == 0x43 && small[2] == 0x65 && small[3] == 0x87);
    CHECK(hers_bitpack(small, four, 8, 4, 8) == 0); /* 8 >= bound */
    uint64_t v[264], w[264];
    uint8_t out[264 * 8], ref[264 * 8];
    for (int bits = 1; bits <= 63; bits++) {
        for (size_t n = 8; n <= 264; n += 64) {
            uint64_t mask = ((uint64_t)1 << bits) - 1;
            for (size_t i = 0; i < n; i++)
                v[i] = test_rand() & mask;
            if (bits > 3)
                v[n - 1] = mask; /* all ones at the very end */
            size_t bytes = hers_packed_bytes(n, bits);
            memset(ref, 0, bytes);
            for (size_t i = 0; i < n; i++)
                for (int b = 0; b < bits; b++)
                    if ((v[i] >> b) & 1) {
                        size_t pos = i * (size_t)bits + (size_t)b;
                        ref[pos / 8] |= (uint8_t)(1u << (pos % 8));
                    }
            memset(out, 0xa5, sizeof out);
            CHECK(hers_bitpack(out, v, n, bits, mask + 1) == 1);
            CHECK(memcmp(out, ref, bytes) == 0);
            CHECK(out[bytes] == 0xa5); /* nothing written past the end */
            CHECK(hers_bitunpack(w, out, n, bits, ~(uint64_t)0) == 1);
            CHECK(memcmp(v, w, n * sizeof(uint64_t)) == 0);
            if (bits > 3) /* the all-ones value at the end is >= mask */
                CHECK(hers_bitunpack(w, out, n, bits, mask) == 0);
        }
    }
}

int main(void)
{
    (void)test_seed();
    quick = getenv("HERS_TEST_QUICK") != NULL;
    test_packing();
    const char *seed_dir = getenv("HERS_WRITE_FUZZ_SEEDS");
    if (seed_dir)
        mkdir(seed_dir, 0755);

    hers_params *p = NULL, *other = NULL;
    CHECK_OK(serial_toy_params(&p));
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = 64;
    spec.t = 257;
    spec.num_primes = 2;
    spec.prime_bits[0] = spec.prime_bits[1] = 30;
    spec.q_one_mod_t = 1;
    CHECK_OK(hers_params_create(&other, &spec));
    if (!p || !other)
        return test_finish();
    size_t n = hers_params_n(p), k = hers_params_num_primes(p);

    test_params(p, seed_dir);

    /* ---- keys ---- */
    uint8_t seed[32] = {7, 1, 2, 3};
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_secret_seeded(p, seed, &sk));
    seed[0]++;
    CHECK_OK(hers_keygen_public_seeded(p, sk, seed, &pk));
    seed[0]++;
    CHECK_OK(hers_keygen_relin_seeded(p, sk, seed, &rk));
    if (!sk || !pk || !rk)
        return test_finish();

    {
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_secret_key_serialized_size(p, &sz));
        CHECK_EQ_U64(sz, ser_total(8 + n / 4));
        uint8_t *b = malloc(sz);
        CHECK(hers_secret_key_serialize(p, sk, b, sz - 1, &wr) == HERS_ERR_ARG);
        CHECK_OK(hers_secret_key_serialize(p, sk, b, sz, &wr));
        CHECK_EQ_U64(wr, sz);
        hers_secret_key *sk2 = NULL;
        CHECK_OK(hers_secret_key_deserialize(p, b, sz, &sk2));
        if (sk2) {
            CHECK(memcmp(sk->s, sk2->s, n) == 0);
            CHECK(memcmp(sk->s_ntt, sk2->s_ntt, k * n * sizeof(uint64_t)) == 0);
            ROUND_TRIP_BYTES(hers_secret_key_serialized_size(p, &sz_),
                             hers_secret_key_serialize(p, sk2, b2_, sz_, &wr_), b, sz);
        }
        hers_secret_key_free(sk2);
        save_seed(seed_dir, "fuzz_keys", "secret", b, sz);
        corrupt_all("secret key", rd_sk, p, b, sz);
        CHECK(rd_sk(other, b, sz) == HERS_ERR_MISMATCH);
        expect_body_byte(rd_sk, p, b, sz, 0, 32, HERS_ERR_FORMAT);        /* N */
        expect_body_byte(rd_sk, p, b, sz, 4, 2, HERS_ERR_FORMAT);         /* encoding */
        for (size_t j = 0; j < 4; j++) /* code 3 at each position of a byte */
            expect_body_byte(rd_sk, p, b, sz, 8 + 5,
                             (uint8_t)((b[HERS_SERIAL_HEADER_BYTES + 13] & ~(3u << (2 * j))) |
                                       (3u << (2 * j))),
                             HERS_ERR_FORMAT);
        free(b);
    }
    {
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_public_key_serialized_size(p, pk, &sz));
        uint8_t *b = malloc(sz);
        CHECK_OK(hers_public_key_serialize(p, pk, b, sz, &wr));
        CHECK_EQ_U64(wr, sz);
        hers_public_key *pk2 = NULL;
        CHECK_OK(hers_public_key_deserialize(p, b, sz, &pk2));
        if (pk2) {
            CHECK(memcmp(pk->data, pk2->data, 2 * k * n * sizeof(uint64_t)) == 0);
            CHECK(pk2->has_seed == pk->has_seed);
            ROUND_TRIP_BYTES(hers_public_key_serialized_size(p, pk2, &sz_),
                             hers_public_key_serialize(p, pk2, b2_, sz_, &wr_), b, sz);
        }
        hers_public_key_free(pk2);
        save_seed(seed_dir, "fuzz_keys", "public", b, sz);
        corrupt_all("public key", rd_pk, p, b, sz);
        CHECK(rd_pk(other, b, sz) == HERS_ERR_MISMATCH);
        expect_body_byte(rd_pk, p, b, sz, 4, (uint8_t)(k + 1), HERS_ERR_FORMAT);
        expect_body_byte(rd_pk, p, b, sz, 5, 0x02, HERS_ERR_FORMAT);
        expect_body_byte(rd_pk, p, b, sz, 6, 1, HERS_ERR_FORMAT);
        expect_body_byte(rd_pk, p, b, sz, 5, (uint8_t)(pk->has_seed ? 0 : 1), HERS_ERR_FORMAT);
        expect_body_byte(rd_pk, p, b, sz, 40, 0xff, HERS_OK); /* low byte: still < q */
        uint8_t *c = dup_buf(b, sz, sz);
        memset(c + HERS_SERIAL_HEADER_BYTES + 40, 0xff, 4); /* 32 bits of ones >= 2^31 > q */
        reseal(c, sz);
        CHECK(rd_pk(p, c, sz) == HERS_ERR_FORMAT);
        free(c);
        free(b);
    }
    {
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_relin_key_serialized_size(p, rk, &sz));
        uint8_t *b = malloc(sz);
        CHECK_OK(hers_relin_key_serialize(p, rk, b, sz, &wr));
        CHECK_EQ_U64(wr, sz);
        hers_relin_key *rk2 = NULL;
        CHECK_OK(hers_relin_key_deserialize(p, b, sz, &rk2));
        if (rk2) {
            CHECK(rk2->digits == rk->digits);
            CHECK(memcmp(rk->data, rk2->data, rk->digits * 2 * k * n * sizeof(uint64_t)) == 0);
            ROUND_TRIP_BYTES(hers_relin_key_serialized_size(p, rk2, &sz_),
                             hers_relin_key_serialize(p, rk2, b2_, sz_, &wr_), b, sz);
        }
        hers_relin_key_free(rk2);
        save_seed(seed_dir, "fuzz_keys", "relin", b, sz);
        corrupt_all("relin key", rd_rk, p, b, sz);
        CHECK(rd_rk(other, b, sz) == HERS_ERR_MISMATCH);
        expect_body_byte(rd_rk, p, b, sz, 6, (uint8_t)(rk->digits + 1), HERS_ERR_FORMAT);
        expect_body_byte(rd_rk, p, b, sz, 7, 1, HERS_ERR_FORMAT);
        expect_body_byte(rd_rk, p, b, sz, 5, (uint8_t)(rk->has_seed ? 0 : 1), HERS_ERR_FORMAT);
        uint8_t *c = dup_buf(b, sz, sz);
        memset(c + HERS_SERIAL_HEADER_BYTES + 40, 0xff, 4);
        reseal(c, sz);
        CHECK(rd_rk(p, c, sz) == HERS_ERR_FORMAT);
        free(c);
        free(b);
    }
    {
        /* Galois keys: round trip, every corruption, field checks */
        uint32_t el[2] = {3, (uint32_t)n + 1};
        hers_galois_key *gk = NULL, *gk2 = NULL;
        CHECK_OK(hers_keygen_galois_seeded(p, sk, el, 2, 0, seed, &gk));
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_galois_key_serialized_size(p, gk, &sz));
        uint8_t *b = malloc(sz);
        CHECK_OK(hers_galois_key_serialize(p, gk, b, sz, &wr));
        CHECK_EQ_U64(wr, sz);
        CHECK_OK(hers_galois_key_deserialize(p, b, sz, &gk2));
        if (gk2)
            CHECK(memcmp(gk->data, gk2->data, gk->count * gk->digits * 2 * k * n * 8) == 0);
        hers_galois_key_free(gk2);
        save_seed(seed_dir, "fuzz_keys", "galois", b, sz);
        corrupt_all("galois key", rd_gk, p, b, sz);
        CHECK(rd_gk(other, b, sz) == HERS_ERR_MISMATCH);
        expect_body_byte(rd_gk, p, b, sz, 5, 2, HERS_ERR_FORMAT);     /* flags */
        expect_body_byte(rd_gk, p, b, sz, 6, 7, HERS_ERR_FORMAT);     /* digit bits */
        expect_body_byte(rd_gk, p, b, sz, 7, 3, HERS_ERR_FORMAT);     /* count vs size */
        expect_body_byte(rd_gk, p, b, sz, 40, 4, HERS_ERR_FORMAT);    /* even element */
        expect_body_byte(rd_gk, p, b, sz, 44, 3, HERS_ERR_FORMAT);    /* repeated element */
        hers_galois_key_free(gk);
        free(b);
    }

    /* ---- plaintexts ---- */
    int64_t vals[64], out[64];
    for (size_t i = 0; i < n; i++)
        vals[i] = (int64_t)(test_rand() % 257) - 128;
    hers_plaintext pt;
    memset(&pt, 0, sizeof pt);
    CHECK_OK(hers_encode_batch(p, vals, n, &pt));
    {
        size_t sz = 0, wr = 0;
        CHECK_OK(hers_plaintext_serialized_size(p, &sz));
        CHECK_EQ_U64(sz, ser_total(8 + n * 9 / 8));
        uint8_t *b = malloc(sz);
        CHECK_OK(hers_plaintext_serialize(p, &pt, b, sz, &wr));
        hers_plaintext pt2;
        CHECK_OK(hers_plaintext_deserialize(p, b, sz, &pt2));
        if (pt2.coeffs) {
            CHECK(memcmp(pt.coeffs, pt2.coeffs, n * sizeof(uint64_t)) == 0);
            ROUND_TRIP_BYTES(hers_plaintext_serialized_size(p, &sz_),
                             hers_plaintext_serialize(p, &pt2, b2_, sz_, &wr_), b, sz);
        }
        hers_plaintext_free(&pt2);
        save_seed(seed_dir, "fuzz_plaintext", "batch", b, sz);
        corrupt_all("plaintext", rd_pt, p, b, sz);
        CHECK(rd_pt(other, b, sz) == HERS_ERR_MISMATCH);
        expect_body_byte(rd_pt, p, b, sz, 0, 32, HERS_ERR_FORMAT);
        expect_body_byte(rd_pt, p, b, sz, 4, 10, HERS_ERR_FORMAT);
        uint8_t *c = dup_buf(b, sz, sz);
        c[HERS_SERIAL_HEADER_BYTES + 8] = 0xff;
        c[HERS_SERIAL_HEADER_BYTES + 9] |= 1; /* coefficient 0 = 511 >= t */
        reseal(c, sz);
        CHECK(rd_pt(p, c, sz) == HERS_ERR_FORMAT);
        free(c);
        free(b);
    }

    /* ---- ciphertexts: public (2 parts), seeded, 3 parts, switched, NTT, BGV ---- */
    hers_ciphertext ct_pub, ct_sym, ct3, ct_sw, ct_ntt;
    memset(&ct_pub, 0, sizeof ct_pub);
    memset(&ct_sym, 0, sizeof ct_sym);
    memset(&ct3, 0, sizeof ct3);
    memset(&ct_sw, 0, sizeof ct_sw);
    memset(&ct_ntt, 0, sizeof ct_ntt);
    seed[0]++;
    CHECK_OK(hers_encrypt_public_seeded(p, pk, &pt, seed, &ct_pub));
    seed[0]++;
    CHECK_OK(hers_encrypt_secret_seeded(p, sk, &pt, seed, &ct_sym));
    CHECK(ct_sym.has_seed == 1);
    CHECK_OK(hers_mul(p, &ct_pub, &ct_sym, &ct3));
    CHECK(ct3.parts == 3);
    CHECK_OK(hers_mod_switch(p, &ct_pub, k - 1, &ct_sw));
    CHECK_OK(hers_ciphertext_copy(&ct_pub, &ct_ntt));
    CHECK_OK(hers_ciphertext_to_ntt(p, &ct_ntt));
    if (!ct_pub.data || !ct_sym.data || !ct3.data || !ct_sw.data || !ct_ntt.data)
        return test_finish();
    size_t len_pub = check_ct(p, other, &ct_pub, seed_dir, "public");
    size_t len_sym = check_ct(p, other, &ct_sym, seed_dir, "seeded");
    size_t len3 = check_ct(p, other, &ct3, seed_dir, "three_parts");
    size_t len_sw = check_ct(p, other, &ct_sw, seed_dir, "switched");
    (void)check_ct(p, other, &ct_ntt, seed_dir, "ntt");
    ct_ntt.form = HERS_FORM_BGV;
    (void)check_ct(p, other, &ct_ntt, NULL, NULL);
    size_t poly = 0;
    for (size_t i = 0; i < k; i++)
        poly += n * (size_t)hers_bitlen(hers_params_prime(p, i) - 1) / 8;
    CHECK_EQ_U64(len_pub, ser_total(40 + 2 * poly));
    CHECK_EQ_U64(len_sym, ser_total(40 + poly));
    CHECK_EQ_U64(len3, ser_total(40 + 3 * poly));
    CHECK(len_sw < len_pub);

    /* A seeded ciphertext read back decrypts (c1 re-expanded from the seed). */
    {
        size_t len;
        uint8_t *b = serialize_ct(p, &ct_sym, &len);
        hers_ciphertext back;
        CHECK_OK(hers_ciphertext_deserialize(p, b, len, &back));
        hers_plaintext dec;
        memset(&dec, 0, sizeof dec);
        CHECK_OK(hers_decrypt(p, sk, &back, &dec));
        CHECK_OK(hers_decode_batch(p, &dec, out));
        CHECK(memcmp(vals, out, n * sizeof(int64_t)) == 0);
        hers_plaintext_free(&dec);
        hers_ciphertext_free(&back);
        free(b);
    }

    /* Read-back 3-part and switched ciphertexts decrypt (slot-wise m*m and m);
     * a read-back relinearisation key relinearises bit-identically. */
    {
        hers_ciphertext c3, csw, r1, r2;
        memset(&r1, 0, sizeof r1);
        memset(&r2, 0, sizeof r2);
        size_t len;
        uint8_t *b = serialize_ct(p, &ct3, &len);
        CHECK_OK(hers_ciphertext_deserialize(p, b, len, &c3));
        free(b);
        b = serialize_ct(p, &ct_sw, &len);
        CHECK_OK(hers_ciphertext_deserialize(p, b, len, &csw));
        free(b);
        hers_plaintext dec;
        memset(&dec, 0, sizeof dec);
        CHECK_OK(hers_decrypt(p, sk, &c3, &dec));
        CHECK_OK(hers_decode_batch(p, &dec, out));
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            int64_t want = (vals[i] * vals[i]) % 257;
            if (want > 128)
                want -= 257;
            ok &= out[i] == want;
        }
        CHECK(ok);
        CHECK_OK(hers_decrypt(p, sk, &csw, &dec));
        CHECK_OK(hers_decode_batch(p, &dec, out));
        CHECK(memcmp(vals, out, n * sizeof(int64_t)) == 0);
        size_t sz = 0;
        CHECK_OK(hers_relin_key_serialized_size(p, rk, &sz));
        b = malloc(sz);
        CHECK_OK(hers_relin_key_serialize(p, rk, b, sz, NULL));
        hers_relin_key *rk2 = NULL;
        CHECK_OK(hers_relin_key_deserialize(p, b, sz, &rk2));
        free(b);
        if (rk2) {
            CHECK_OK(hers_relinearize(p, rk, &c3, &r1));
            CHECK_OK(hers_relinearize(p, rk2, &c3, &r2));
            CHECK(r1.data && r2.data && ct_equal(&r1, &r2));
        }
        hers_relin_key_free(rk2);
        hers_ciphertext_free(&r1);
        hers_ciphertext_free(&r2);
        hers_plaintext_free(&dec);
        hers_ciphertext_free(&c3);
        hers_ciphertext_free(&csw);
    }

    /* ---- default parameters: seeded ciphertexts and keys are about half size ---- */
    {
        hers_params *d = NULL;
        CHECK_OK(hers_params_create_named(&d, "n4096"));
        hers_secret_key *dsk = NULL;
        hers_public_key *dpk = NULL;
        CHECK_OK(hers_keygen_secret(d, &dsk));
        CHECK_OK(hers_keygen_public(d, dsk, &dpk));
        hers_plaintext dpt;
        memset(&dpt, 0, sizeof dpt);
        CHECK_OK(hers_plaintext_init(d, &dpt));
        hers_ciphertext a, s;
        memset(&a, 0, sizeof a);
        memset(&s, 0, sizeof s);
        CHECK_OK(hers_encrypt_public(d, dpk, &dpt, &a));
        CHECK_OK(hers_encrypt_secret(d, dsk, &dpt, &s));
        size_t la = 0, ls = 0;
        CHECK_OK(hers_ciphertext_serialized_size(d, &a, &la));
        CHECK_OK(hers_ciphertext_serialized_size(d, &s, &ls));
        printf("n4096: public-key ct %zu bytes, seeded ct %zu bytes (%.3f)\n", la, ls,
               (double)ls / (double)la);
        CHECK(2 * ls < la + 200 && 2 * ls > la - 200);
        /* Tight packing: < 64 bits per residue. */
        CHECK(la < 2 * hers_params_num_primes(d) * 4096 * 8);
        if (a.data) {
            size_t len;
            uint8_t *b = serialize_ct(d, &s, &len);
            hers_ciphertext back;
            CHECK_OK(hers_ciphertext_deserialize(d, b, len, &back));
            CHECK(back.data && ct_equal(&s, &back));
            hers_ciphertext_free(&back);
            free(b);
        }
        hers_ciphertext_free(&a);
        hers_ciphertext_free(&s);
        hers_plaintext_free(&dpt);
        hers_public_key_free(dpk);
        hers_secret_key_free(dsk);
        hers_params_free(d);
    }

    /* ---- files: atomic, 0600 for secret keys, errors name the file ---- */
    {
        char dir[] = "/tmp/hers-test-serial-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char path[256];
        struct stat sb;
        snprintf(path, sizeof path, "%s/secret.key", dir);
        mode_t old = umask(0);
        CHECK_OK(hers_secret_key_write(path, p, sk));
        umask(old);
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
        hers_secret_key *sk2 = NULL;
        CHECK_OK(hers_secret_key_read(path, p, &sk2));
        CHECK(sk2 && memcmp(sk2->s, sk->s, n) == 0);
        hers_secret_key_free(sk2);
        /* Overwrite keeps 0600. */
        CHECK_OK(hers_secret_key_write(path, p, sk));
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
        CHECK(hers_secret_key_read(path, other, &sk2) == HERS_ERR_MISMATCH);
        CHECK(sk2 == NULL);
        CHECK(strstr(hers_last_error(), "secret.key") != NULL);

        snprintf(path, sizeof path, "%s/public.key", dir);
        CHECK_OK(hers_public_key_write(path, p, pk));
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
        hers_public_key *pk2 = NULL;
        CHECK_OK(hers_public_key_read(path, p, &pk2));
        CHECK(pk2 && memcmp(pk2->data, pk->data, 2 * k * n * 8) == 0);
        hers_public_key_free(pk2);
        /* A truncated file is refused with the file's name. */
        CHECK(truncate(path, 100) == 0);
        CHECK(hers_public_key_read(path, p, &pk2) == HERS_ERR_FORMAT);
        CHECK(strstr(hers_last_error(), "public.key") != NULL);

        snprintf(path, sizeof path, "%s/relin.key", dir);
        CHECK_OK(hers_relin_key_write(path, p, rk));
        hers_relin_key *rk2 = NULL;
        CHECK_OK(hers_relin_key_read(path, p, &rk2));
        hers_relin_key_free(rk2);

        snprintf(path, sizeof path, "%s/params", dir);
        CHECK_OK(hers_params_write(path, p));
        hers_params *p2 = NULL;
        CHECK_OK(hers_params_read(path, &p2));
        CHECK(p2 && memcmp(hers_params_id(p2), hers_params_id(p), 32) == 0);
        hers_params_free(p2);

        snprintf(path, sizeof path, "%s/pt", dir);
        CHECK_OK(hers_plaintext_write(path, p, &pt));
        hers_plaintext pt2;
        CHECK_OK(hers_plaintext_read(path, p, &pt2));
        hers_plaintext_free(&pt2);

        snprintf(path, sizeof path, "%s/ct", dir);
        CHECK_OK(hers_ciphertext_write(path, p, &ct3));
        hers_ciphertext c2;
        CHECK_OK(hers_ciphertext_read(path, p, &c2));
        CHECK(c2.data && ct_equal(&ct3, &c2));
        hers_ciphertext_free(&c2);

        snprintf(path, sizeof path, "%s/missing", dir);
        CHECK(hers_ciphertext_read(path, p, &c2) == HERS_ERR_NOTFOUND);
        CHECK(hers_ciphertext_write("/nonexistent-dir/x/ct", p, &ct3) == HERS_ERR_IO);

        /* No temporary files left behind; clean up. */
        DIR *dd = opendir(dir);
        int files = 0;
        struct dirent *e;
        while (dd && (e = readdir(dd)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            files++;
            CHECK(strstr(e->d_name, ".tmp.") == NULL);
            char f[512];
            snprintf(f, sizeof f, "%s/%s", dir, e->d_name);
            unlink(f);
        }
        if (dd)
            closedir(dd);
        CHECK(files == 6);
        rmdir(dir);
    }

    /* hers_serial_peek: type, id and total size from the header alone. */
    {
        size_t len;
        uint8_t *b = serialize_ct(p, &ct_pub, &len);
        hers_object_type type = 0;
        uint8_t id[32];
        uint64_t total = 0;
        CHECK_OK(hers_serial_peek(b, HERS_SERIAL_HEADER_BYTES, &type, id, &total));
        CHECK(type == HERS_OBJ_CIPHERTEXT && total == len);
        CHECK(memcmp(id, hers_params_id(p), 32) == 0);
        CHECK(hers_serial_peek(b, HERS_SERIAL_HEADER_BYTES - 1, &type, id, &total) ==
              HERS_ERR_FORMAT);
        CHECK(strcmp(hers_object_type_name(type), "ciphertext") == 0);
        free(b);
    }

    hers_ciphertext_free(&ct_pub);
    hers_ciphertext_free(&ct_sym);
    hers_ciphertext_free(&ct3);
    hers_ciphertext_free(&ct_sw);
    hers_ciphertext_free(&ct_ntt);
    hers_plaintext_free(&pt);
    hers_relin_key_free(rk);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(other);
    hers_params_free(p);
    return test_finish();
}
