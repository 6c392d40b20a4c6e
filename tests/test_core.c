/* test_core.c - status messages, CPU dispatch, PRG determinism, memory, and
 * the core plumbing: the worker pool, bit-packing, the atomic file writer. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/atomic_file.h"
#include "core/bitpack.h"
#include "core/crc32.h"
#include "core/pool.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "support/check.h"

/* Every task runs exactly once, on a worker below the thread count. */
struct count_ctx {
    atomic_int hits[300];
    unsigned threads;
    atomic_int bad_worker;
};

static void count_task(void *ctx, size_t task, unsigned worker)
{
    struct count_ctx *c = ctx;
    atomic_fetch_add(&c->hits[task], 1);
    if (worker >= c->threads)
        atomic_store(&c->bad_worker, 1);
}

static void test_pool(void)
{
    CHECK(hers_threads_resolve(0) >= 1);
    CHECK(hers_threads_resolve(0) <= HERS_MAX_THREADS);
    CHECK(hers_threads_resolve(3) == 3);
    CHECK(hers_threads_resolve(100000) == HERS_MAX_THREADS);
    for (unsigned threads = 1; threads <= 5; threads++)
        for (size_t tasks = 0; tasks <= 300; tasks += tasks < 10 ? 1 : 97) {
            struct count_ctx c = {.threads = threads};
            unsigned used = hers_parallel_for(threads, tasks, count_task, &c);
            CHECK(used >= 1 && used <= threads);
            for (size_t t = 0; t < tasks; t++)
                CHECK(atomic_load(&c.hits[t]) == 1);
            CHECK(atomic_load(&c.bad_worker) == 0);
            hers_pool *pl;
            CHECK_OK(hers_pool_create(threads, &pl));
            struct count_ctx d = {.threads = hers_pool_threads(pl)};
            hers_pool_run(pl, count_task, &d, tasks);
            hers_pool_run(pl, count_task, &d, tasks); /* a pool is reusable */
            for (size_t t = 0; t < tasks; t++)
                CHECK(atomic_load(&d.hits[t]) == 2);
            hers_pool_free(pl);
        }
}

static void test_bytes(void)
{
    uint8_t b[8];
    hers_le_put_u32(b, 0x04030201u);
    CHECK(b[0] == 1 && b[3] == 4 && hers_le_get_u32(b) == 0x04030201u);
    hers_le_put_u64(b, 0x0807060504030201ull);
    CHECK(b[0] == 1 && b[7] == 8 && hers_le_get_u64(b) == 0x0807060504030201ull);
    hers_be_put_u64(b, 0x0807060504030201ull);
    CHECK(b[0] == 8 && b[7] == 1 && hers_be_get_u64(b) == 0x0807060504030201ull);
    CHECK(hers_be_get_u32(b) == 0x08070605u);
    CHECK(hers_bitlen(0) == 0 && hers_bitlen(1) == 1 && hers_bitlen(UINT64_MAX) == 64);
    /* Round trips at every width against a bit-by-bit oracle (LSB first). */
    uint64_t v[64], w[64];
    uint8_t packed[64 * 8 + 1], oracle[64 * 8];
    uint64_t z = 0x9e3779b97f4a7c15ull;
    for (int bits = 1; bits <= 64; bits++) {
        uint64_t mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        for (int i = 0; i < 64; i++) {
            z ^= z << 13, z ^= z >> 7, z ^= z << 17;
            v[i] = z & mask;
        }
        size_t nb = hers_packed_bytes(64, bits);
        memset(oracle, 0, sizeof oracle);
        for (size_t bit = 0; bit < (size_t)64 * (size_t)bits; bit++)
            if (v[bit / (size_t)bits] >> (bit % (size_t)bits) & 1)
                oracle[bit / 8] |= (uint8_t)(1u << (bit % 8));
        memset(packed, 0xa5, sizeof packed);
        CHECK(hers_bitpack(packed, v, 64, bits, UINT64_MAX) == 1 || bits == 64);
        CHECK(memcmp(packed, oracle, nb) == 0);
        CHECK(packed[nb] == 0xa5); /* writes exactly nb bytes */
        CHECK(hers_bitunpack(w, packed, 64, bits, UINT64_MAX) == 1 || bits == 64);
        CHECK(memcmp(v, w, sizeof v) == 0);
        if (bits < 64) {
            uint64_t big = v[0] > v[1] ? v[0] : v[1];
            CHECK(hers_bitpack(packed, v, 64, bits, big) == 0);      /* bound violated */
            CHECK(hers_bitunpack(w, packed, 64, bits, big) == 0);
            CHECK(memcmp(v, w, sizeof v) == 0);                     /* still written */
        }
    }
}

/* Number of entries of dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void test_atomic_file(void)
{
    char dir[] = "/tmp/hers_test_core.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], buf[64];
    snprintf(path, sizeof path, "%s/f", dir);
    CHECK_OK(hers_atomic_write_file(path, "hello", 5, 0600));
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0600);
    CHECK_OK(hers_atomic_write_file(path, "hello, world", 12, 0644));
    CHECK(stat(path, &st) == 0 && st.st_size == 12 && (st.st_mode & 0777) == 0644);
    FILE *f = fopen(path, "rb");
    CHECK(f && fread(buf, 1, sizeof buf, f) == 12 && memcmp(buf, "hello, world", 12) == 0);
    if (f)
        fclose(f);
    /* Streaming, then abort: the target keeps its old bytes, no temporary stays. */
    hers_atomic_file af;
    CHECK_OK(hers_atomic_open(&af, path, 0644));
    hers_atomic_write(&af, "xx", 2);
    hers_atomic_abort(&af);
    CHECK(stat(path, &st) == 0 && st.st_size == 12);
    CHECK(count_prefix(dir, "f.tmp") == 0);
    /* A directory in the way: the rename fails, the error names the path. */
    char sub[160];
    snprintf(sub, sizeof sub, "%s/d", dir);
    CHECK(mkdir(sub, 0700) == 0);
    CHECK(hers_atomic_write_file(sub, "x", 1, 0644) == HERS_ERR_IO);
    CHECK(strstr(hers_last_error(), "rename failed") != NULL);
    CHECK(count_prefix(dir, "d.tmp") == 0);
    /* No such directory: nothing is created. */
    snprintf(sub, sizeof sub, "%s/missing/f", dir);
    CHECK(hers_atomic_write_file(sub, "x", 1, 0644) == HERS_ERR_IO);
    CHECK(strstr(hers_last_error(), "cannot create temporary file") != NULL);
    snprintf(sub, sizeof sub, "%s/d", dir);
    rmdir(sub);
    unlink(path);
    CHECK(rmdir(dir) == 0);
}

/* hers_crc32 = zlib's crc32 at every SIMD level: every length 0..600 and
 * random longer ones, odd offsets, chained calls and random starting
 * values (the folding paths start at 64 and 256 bytes). */
static void test_crc32(void)
{
    size_t cap = (1u << 20) + 64;
    uint8_t *buf = malloc(cap);
    CHECK(buf != NULL);
    if (!buf)
        return;
    for (size_t i = 0; i < cap; i++)
        buf[i] = (uint8_t)test_rand();
    FOR_EACH_SIMD(level) {
        long bad = 0;
        for (size_t len = 0; len <= 600; len++) {
            size_t off = (size_t)(test_rand() % 17);
            uint32_t c0 = len % 3 ? (uint32_t)test_rand() : 0;
            if (hers_crc32(c0, buf + off, len) != (uint32_t)crc32(c0, buf + off, (uInt)len))
                bad++;
        }
        for (int r = 0; r < 40; r++) {
            size_t len = (size_t)(test_rand() % (cap - 64)), off = (size_t)(test_rand() % 64);
            uint32_t c0 = (uint32_t)test_rand(), want = (uint32_t)crc32(c0, buf + off, (uInt)len);
            if (hers_crc32(c0, buf + off, len) != want)
                bad++;
            size_t cut = len ? (size_t)(test_rand() % len) : 0;   /* chained */
            if (hers_crc32(hers_crc32(c0, buf + off, cut), buf + off + cut, len - cut) != want)
                bad++;
        }
        if (bad)
            fprintf(stderr, "  crc32 path %s: %ld mismatches\n", hers_crc32_path(), bad);
        CHECK(bad == 0);
    }
    CHECK(hers_crc32(0, "123456789", 9) == 0xCBF43926u);   /* the check value */
    free(buf);
}

int main(void)
{
    (void)test_seed();
    CHECK(hers_error(HERS_ERR_FORMAT, "bad %d", 7) == HERS_ERR_FORMAT);
    CHECK(strcmp(hers_last_error(), "bad 7") == 0);
    CHECK(strcmp(hers_status_name(HERS_ERR_IO), "HERS_ERR_IO") == 0);

    hers_simd s;
    CHECK_OK(hers_simd_parse("avx2", &s));
    CHECK(s == HERS_SIMD_AVX2);
    CHECK(hers_simd_parse("sse9", &s) == HERS_ERR_ARG);
    CHECK(hers_simd_active() <= hers_cpu_max_simd());
    int levels = 0;
    FOR_EACH_SIMD(level) {
        CHECK(hers_simd_active() == level);
        levels++;
    }
    CHECK(levels == (int)hers_cpu_max_simd() + 1);
    if (hers_cpu_max_simd() < HERS_SIMD_AVX512)
        CHECK(hers_simd_set(HERS_SIMD_AVX512) == HERS_ERR_UNSUPPORTED);

    test_crc32();

    /* PRG: deterministic per (seed, stream), streams differ, chunking irrelevant. */
    uint8_t seed[32] = {1, 2, 3};
    hers_prg a, b;
    uint8_t x[200], y[200];
    hers_prg_init(&a, seed, 5);
    hers_prg_init(&b, seed, 5);
    hers_prg_bytes(&a, x, 200);
    hers_prg_bytes(&b, y, 7);
    hers_prg_bytes(&b, y + 7, 130);
    hers_prg_bytes(&b, y + 137, 63);
    CHECK(memcmp(x, y, 200) == 0);
    hers_prg_init(&b, seed, 6);
    hers_prg_bytes(&b, y, 200);
    CHECK(memcmp(x, y, 200) != 0);
    for (int i = 0; i < 1000; i++)
        CHECK(hers_prg_uniform(&a, 12289) < 12289);
    hers_prg_wipe(&a);
    hers_prg_wipe(&b);

    uint8_t *p = hers_alloc(100);
    CHECK(p && ((uintptr_t)p % HERS_ALIGN) == 0);
    CHECK(hers_alloc_array(SIZE_MAX / 2, 4) == NULL);
    hers_free_secret(p, 100);

    test_pool();
    test_bytes();
    test_atomic_file();
    return test_finish();
}
