/* fuzz_store_open.c - libFuzzer target: opening mutated small gallery
 * databases (src/store). A database of 8 templates is made once (toy N =
 * 1024 parameters); each input is a list of (position, byte) edits applied
 * to the structures that liblmdb trusts without checking and that hers
 * therefore validates itself (store_lmdb_check.c): the first 160 bytes of
 * both meta pages (page header, magic, version, page size, free-list and
 * main table records, last page, txn id) and the four named tables' 48-byte
 * records in the main table's root page. The edited file is opened
 * read-only, described, read through a snapshot and checked; it must be
 * refused with an error or read, never abort. The edits are undone after
 * every run. Pages deeper in the B-trees are LMDB's own (it checks their
 * flags and bounds); hers's records inside them are checksummed
 * (fuzz_store_records). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hers/hers_bfv.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"

#define META_SPAN 160
#define MAX_REGIONS 6

static char dir[64], data_path[96];
static uint8_t *image;        /* the pristine data.mdb */
static size_t image_len;
static size_t region_off[MAX_REGIONS], region_len[MAX_REGIONS], regions, region_total;

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void add_region(size_t off, size_t len)
{
    if (regions < MAX_REGIONS && off + len <= image_len) {
        region_off[regions] = off;
        region_len[regions++] = len;
        region_total += len;
    }
}

static void make_database(void)
{
    hers_params_spec s;
    memset(&s, 0, sizeof s);
    s.n = 1024;
    s.t = 1032193;
    s.num_primes = 2;
    s.prime_bits[0] = s.prime_bits[1] = 50;
    s.q_one_mod_t = 1;
    s.security = HERS_SEC_NONE;
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    uint8_t seed[HERS_SEED_BYTES] = {7};
    int32_t vals[8 * 4] = {0};
    for (int i = 0; i < 32; i++)
        vals[i] = (i * 37) % 21 - 10;
    strcpy(dir, "/tmp/hers-fuzz-db.XXXXXX");
    hers_store *db = NULL;
    if (!mkdtemp(dir) || hers_params_create(&p, &s) || hers_keygen_secret_seeded(p, seed, &sk) ||
        hers_keygen_public_seeded(p, sk, seed, &pk) || hers_store_create(dir, p, pk, NULL, NULL, 0) ||
        hers_store_open(dir, 0, &db) || hers_store_enroll(db, sk, NULL, vals, 8, 4, NULL, NULL, NULL))
        abort();
    hers_store_close(db);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(p);
    snprintf(data_path, sizeof data_path, "%s/data.mdb", dir);
    int fd = open(data_path, O_RDONLY);
    off_t n = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (n <= 0 || !(image = malloc((size_t)n)) || pread(fd, image, (size_t)n, 0) != n)
        abort();
    close(fd);
    image_len = (size_t)n;
    size_t psize = (size_t)(image[40] | image[41] << 8 | image[42] << 16);
    add_region(0, META_SPAN);
    add_region(psize, META_SPAN);
    /* the newer meta page names the main table's root page */
    const uint8_t *m = rd64(image + 144) >= rd64(image + psize + 144) ? image : image + psize;
    size_t root = (size_t)rd64(m + 128) * psize;
    static const char *const names[] = {"meta", "ids", "slots", "segments"};
    for (int i = 0; i < 4 && root + psize <= image_len; i++) {
        size_t k = strlen(names[i]);
        for (size_t o = root; o + k + 48 <= root + psize; o++)
            if (!memcmp(image + o, names[i], k)) {
                add_region(o + k, 48);
                break;
            }
    }
}

static void write_at(size_t off, const uint8_t *b, size_t len)
{
    int fd = open(data_path, O_WRONLY);
    if (fd < 0 || pwrite(fd, b, len, (off_t)off) != (ssize_t)len)
        abort();
    close(fd);
}

static void count_problem(void *user, const char *msg)
{
    (void)msg;
    ++*(int *)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!image)
        make_database();
    if (size < 3 || size > 3 * 64)
        return 0;
    /* edits: (u16 position in the regions, byte) */
    size_t edits = size / 3, touched[64];
    for (size_t e = 0; e < edits; e++) {
        size_t pos = (size_t)(data[3 * e] | data[3 * e + 1] << 8) % region_total, r = 0;
        while (pos >= region_len[r])
            pos -= region_len[r++];
        touched[e] = region_off[r] + pos;
        write_at(touched[e], &data[3 * e + 2], 1);
    }
    hers_store *db = NULL;
    if (hers_store_open(dir, 1, &db) == HERS_OK) {
        hers_store_info info;
        (void)hers_store_get_info(db, &info);
        int problems = 0;
        uint64_t n = 0;
        (void)hers_store_check(db, count_problem, &problems, &n);
        hers_store_close(db);
    }
    for (size_t e = 0; e < edits; e++)
        write_at(touched[e], image + touched[e], 1);
    return 0;
}
