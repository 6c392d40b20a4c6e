/*
 * bench_scale.c - `hers bench scale --n N --d D --db DIR`: the paper's
 * headline run (100M templates at d = 32) on one machine, from disk.
 *   1. enrols n synthetic templates into a new gallery database at DIR in
 *      batches (one commit each), with a progress bar on stderr;
 *   2. drops what it can of the page cache (posix_fadvise DONTNEED on
 *      data.mdb and segments.dat; /proc/sys/vm/drop_caches when root);
 *   3. searches one encrypted probe with hers_store_search, streamed in
 *      chunks under an index budget, reading ahead of the scan;
 *   4. decrypts the scores and compares a sample (or all) with the
 *      plaintext inner products, recomputed from the generator;
 *   5. prints the figures (JSON with --json) and removes DIR unless --keep.
 * Templates: row r, component i = h(seed, r d + i) in [-20, 20] (norm <=
 * 20 sqrt(d), within the default scale's bound for d <= 32; the scale is
 * raised for larger d). Exit status 1 if any checked score differs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"

#define SCALE_AMP 20

static int32_t synth_value(uint64_t row, uint64_t d, uint64_t i)
{
    uint64_t x = (row * d + i) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (int32_t)(x % (2 * SCALE_AMP + 1)) - SCALE_AMP;
}

/* User + system CPU seconds of the whole process (all threads): on a
 * shared machine the wall time also counts other processes' turns. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static void progress(const char *what, uint64_t done, uint64_t total, double t0)
{
    double el = bench_now() - t0, frac = total ? (double)done / (double)total : 1;
    int w = 40, fill = (int)(frac * w);
    char bar[41];
    for (int i = 0; i < w; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[w] = '\0';
    double eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu  %.0f s  eta %.0f s ", what, bar, 100 * frac,
            (unsigned long long)done, (unsigned long long)total, el, eta);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static uint64_t dir_bytes(const char *dir)
{
    char path[4200];
    struct stat st;
    uint64_t sum = 0;
    const char *names[] = {"data.mdb", "segments.dat", "lock.mdb", "hers.lock"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0)
            sum += (uint64_t)st.st_blocks * 512;
    }
    return sum;
}

/* What can be dropped of the page cache: data.mdb's and segments.dat's
 * pages (after fsync),
 * and every clean page when root. Returns 1 if drop_caches was written. */
static int drop_cache(const char *dir)
{
    char path[4200];
    const char *files[] = {"data.mdb", "segments.dat"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    int dropped = 0;
    if (geteuid() == 0) {
        sync();
        FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
        if (f) {
            dropped = fputs("1\n", f) >= 0;
            dropped &= fclose(f) == 0;
        }
    }
    return dropped;
}

/* What `dd if=DIR/segments.dat of=/dev/null bs=4M iflag=direct` measures
 * (data.mdb for a database whose payloads live in LMDB): sequential
 * O_DIRECT reads of 4 MiB into one aligned buffer, the first min(size,
 * 4 GiB) of the file, GB/s; 0 if O_DIRECT is not available. */
static double direct_read_gbs(const char *dir)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/segments.dat", dir);
    if (stat(path, &sb) != 0 || sb.st_size == 0)
        snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0)
        return 0;
    size_t blk = (size_t)4 << 20;
    uint8_t *buf = hers_alloc(blk);
    uint64_t total = 0, limit = (uint64_t)4 << 30;
    double t0 = bench_now();
    ssize_t r = 0;
    while (buf && total < limit && (r = pread(fd, buf, blk, (off_t)total)) > 0)
        total += (uint64_t)r;
    double t = bench_now() - t0;
    hers_free(buf);
    close(fd);
    return r >= 0 && total && t > 0 ? (double)total / 1e9 / t : 0;
}

/* The key holder's side of a streamed search: every chunk's scores
 * decrypted as they come and compared with the plaintext (every stride-th
 * template of the chunk). */
struct verifier {
    const hers_params *p;
    const hers_secret_key *sk;
    const int32_t *probe;
    uint64_t n, d, stride, checked, wrong;
    int64_t *scores;
    size_t cap;
    hers_status st;
};

static void verify_scores(struct verifier *v, uint64_t first, const int64_t *scores, size_t count)
{
    uint64_t r0 = (first + v->stride - 1) / v->stride * v->stride;
    for (uint64_t r = r0; r < first + count && r < v->n; r += v->stride) {
        int64_t want = 0;
        for (size_t i = 0; i < v->d; i++)
            want += (int64_t)v->probe[i] * synth_value(r, v->d, i);
        v->checked++;
        if (scores[r - first] != want && v->wrong++ < 5)
            fprintf(stderr, "bench scale: template %llu: score %lld, plaintext %lld\n",
                    (unsigned long long)r, (long long)scores[r - first], (long long)want);
    }
}

static int on_chunk(void *user, size_t first_block, const hers_result *part)
{
    struct verifier *v = user;
    size_t n = hers_result_n(part);
    if (n > v->cap) {
        hers_free(v->scores);
        v->cap = 0;
        if (!(v->scores = hers_alloc_array(n, sizeof *v->scores))) {
            v->st = HERS_ERR_NOMEM;
            return 1;
        }
        v->cap = n;
    }
    if ((v->st = hers_result_decrypt(v->p, v->sk, part, 0, v->scores)) != HERS_OK)
        return 1;
    verify_scores(v, (uint64_t)first_block * hers_params_n(v->p), v->scores, n);
    return 0;
}

int hers_bench_scale(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--d", "--db", "--params", "--threads",
                                             "--batch", "--sample", "--index-mb", "--chunk-blocks",
                                             "--io", NULL};
    static const char *const flags[] = {"--json",        "--keep", "--skip-checksums",
                                        "--full-result", "--compare-checksums", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers bench scale --db DIR [--n N] [--d D] [--params NAME] [--threads T]\n"
               "       [--batch ROWS] [--sample S] [--index-mb MB] [--chunk-blocks B]\n"
               "       [--io auto|direct|buffered|map] [--skip-checksums] [--compare-checksums]\n"
               "       [--full-result] [--keep] [--json]\n"
               "Enrols N synthetic templates (default 1000000, d 32, s4096) into a new database at\n"
               "DIR in batches of ROWS (default 1048576, one commit each), drops the page cache,\n"
               "searches one encrypted probe streamed from disk (index budget MB, default 2048),\n"
               "decrypts each chunk's scores as it arrives (--full-result: one result over the\n"
               "whole gallery, decrypted at the end) and checks S of them (default 0 = all)\n"
               "against the plaintext, prints the figures and removes DIR (unless --keep).\n"
               "--compare-checksums: then drops the cache again and searches once more with the\n"
               "other checksum setting (fields search2_*). --io: how the search reads the segments\n"
               "(default auto: O_DIRECT unless cached; map: through LMDB's map). disk_direct_gb_per_s:\n"
               "a sequential O_DIRECT read of segments.dat in 4 MiB blocks (dd iflag=direct), same run.\n"
               "Exit 1 if a score differs.\n");
        return 0;
    }
    if (cli_check_opts("bench scale", argc, argv, with_value, flags))
        return 2;
    uint64_t n, d, threads, batch, sample, index_mb, chunk_blocks;
    if (cli_opt_u64("bench scale", argc, argv, "--n", 1000000, 1, (uint64_t)1 << 32, &n) ||
        cli_opt_u64("bench scale", argc, argv, "--d", 32, 1, HERS_SEARCH_MAX_D, &d) ||
        cli_opt_u64("bench scale", argc, argv, "--threads", 0, 0, 256, &threads) ||
        cli_opt_u64("bench scale", argc, argv, "--batch", (uint64_t)1 << 20, 1, (uint64_t)1 << 24,
                    &batch) ||
        cli_opt_u64("bench scale", argc, argv, "--sample", 0, 0, (uint64_t)1 << 32, &sample) ||
        cli_opt_u64("bench scale", argc, argv, "--index-mb", 2048, 16, (uint64_t)1 << 20,
                    &index_mb) ||
        cli_opt_u64("bench scale", argc, argv, "--chunk-blocks", 0, 0, (uint64_t)1 << 32,
                    &chunk_blocks))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db");
    if (!dir) {
        fprintf(stderr, "hers bench scale: --db DIR is required (a new or empty directory)\n");
        return 2;
    }
    const char *pname = cli_opt(argc, argv, "--params") ? cli_opt(argc, argv, "--params") : "s4096";
    static const char *const io_names[] = {"auto", "direct", "buffered", "map"};
    int io = 0;
    if (cli_opt(argc, argv, "--io")) {
        const char *v = cli_opt(argc, argv, "--io");
        for (io = 0; io < 4 && strcmp(v, io_names[io]) != 0; io++)
            ;
        if (io == 4) {
            fprintf(stderr, "hers bench scale: --io %s: expected auto, direct, buffered or map\n", v);
            return 2;
        }
    }
    int json = cli_flag(argc, argv, "--json"), keep = cli_flag(argc, argv, "--keep");
    bench_print_env(stdout, "scale", (int)threads);
    uint32_t scale = HERS_QUANT_PAPER_SCALE;
    while ((double)SCALE_AMP * SCALE_AMP * (double)d > (double)scale * scale)
        scale++;   /* every synthetic row's norm within the scale */
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_store *db = NULL;
    hers_store_snapshot *snap = NULL;
    hers_query *q = NULL;
    hers_result *res = NULL;
    int32_t *vals = NULL;
    char **ids = NULL;
    char *idbuf = NULL;
    int64_t *scores = NULL;
    int rc = 1, created = 0;
    struct verifier ver;
    memset(&ver, 0, sizeof ver);
    if (hers_params_create_named(&p, pname) != HERS_OK || hers_keygen_secret(p, &sk) != HERS_OK ||
        hers_keygen_public(p, sk, &pk) != HERS_OK) {
        cli_fail_lib("bench scale", "keys");
        goto done;
    }
    if (hers_store_create(dir, p, pk, NULL, NULL, 0) != HERS_OK) {
        cli_fail_lib("bench scale", dir);
        goto done;
    }
    created = 1;
    if (hers_store_open(dir, 0, &db) != HERS_OK) {
        cli_fail_lib("bench scale", dir);
        goto done;
    }
    /* 1. enrolment, batch by batch; ids are fixed-width decimal so they
     * arrive in key order (the catalog appends) */
    size_t bmax = (size_t)(batch < n ? batch : n);
    vals = hers_alloc_array(bmax, d * sizeof *vals);
    ids = hers_alloc_array(bmax, sizeof *ids);
    idbuf = hers_alloc_array(bmax, 16);
    if (!vals || !ids || !idbuf) {
        cli_fail("bench scale", "out of memory");
        goto done;
    }
    hers_store_enroll_opts eo;
    hers_store_enroll_opts_default(&eo);
    eo.threads = (unsigned)threads;
    eo.scale = scale;
    double t0 = bench_now(), c0 = cpu_now();
    for (uint64_t r0 = 0; r0 < n; r0 += bmax) {
        size_t m = (size_t)(n - r0 < bmax ? n - r0 : bmax);
        for (size_t r = 0; r < m; r++) {
            for (size_t i = 0; i < d; i++)
                vals[r * d + i] = synth_value(r0 + r, d, i);
            ids[r] = idbuf + 16 * r;
            snprintf(ids[r], 16, "%012llu", (unsigned long long)(r0 + r));
        }
        if (hers_store_enroll(db, sk, NULL, vals, m, d, (const char *const *)ids, &eo, NULL) !=
            HERS_OK) {
            fputc('\n', stderr);
            cli_fail_lib("bench scale", "enrol");
            goto done;
        }
        progress("enrol ", r0 + m, n, t0);
    }
    double t_enrol = bench_now() - t0, c_enrol = cpu_now() - c0;
    hers_store_info info;
    if (hers_store_get_info(db, &info) != HERS_OK) {
        cli_fail_lib("bench scale", "info");
        goto done;
    }
    uint64_t disk = dir_bytes(dir);
    /* 2. cold start: nothing of the gallery in memory; the disk's own
     * sequential speed for comparison */
    int dropped = drop_cache(dir);
    double disk_gbs = direct_read_gbs(dir);
    /* 3. one encrypted probe (row 0 of the generator, i.e. template 0) */
    int32_t *probe = vals;
    for (size_t i = 0; i < d; i++)
        probe[i] = synth_value(0, d, i);
    if (hers_query_encrypt(p, sk, NULL, probe, 1, d, scale, NULL, &q) != HERS_OK ||
        hers_store_snapshot_open(db, &snap) != HERS_OK) {
        cli_fail_lib("bench scale", "query");
        goto done;
    }
    hers_store_search_opts so;
    hers_store_search_opts_default(&so);
    so.threads = (unsigned)threads;
    so.max_index_bytes = index_mb << 20;
    so.chunk_blocks = (size_t)chunk_blocks;
    so.skip_checksums = cli_flag(argc, argv, "--skip-checksums");
    so.io = io;
    hers_store_search_stats ss;
    int full_result = cli_flag(argc, argv, "--full-result");
    ver.p = p;
    ver.sk = sk;
    ver.probe = probe;
    ver.n = n;
    ver.d = d;
    ver.stride = sample && sample < n ? n / sample : 1;
    if (!full_result) {
        so.on_chunk = on_chunk;
        so.user = &ver;
    }
    t0 = bench_now();
    c0 = cpu_now();
    if (hers_store_search(snap, NULL, q, &so, &res, &ss) != HERS_OK) {
        cli_fail_lib("bench scale", ver.st != HERS_OK ? "decrypt" : "search");
        goto done;
    }
    /* the search proper: without the key holder's decryption in the callback */
    double t_search = bench_now() - t0 - ss.chunk_cb_seconds, c_search = cpu_now() - c0;
    double t_decrypt = ss.chunk_cb_seconds;
    if (full_result) {   /* 4. the key holder decrypts the whole result */
        size_t rn = hers_result_n(res);
        scores = hers_alloc_array(rn, sizeof *scores);
        t0 = bench_now();
        if (!scores || hers_result_decrypt(p, sk, res, 0, scores) != HERS_OK) {
            cli_fail_lib("bench scale", "decrypt");
            goto done;
        }
        t_decrypt = bench_now() - t0;
        verify_scores(&ver, 0, scores, rn < n ? rn : (size_t)n);
    }
    uint64_t checked = ver.checked, wrong = ver.wrong;
    uint64_t want_checked = (n + ver.stride - 1) / ver.stride;
    if (checked != want_checked) {
        fprintf(stderr, "bench scale: %llu scores checked, expected %llu\n",
                (unsigned long long)checked, (unsigned long long)want_checked);
        wrong++;
    }
    /* the same search again, cold, with the other checksum setting */
    int compare = cli_flag(argc, argv, "--compare-checksums") && !full_result;
    double t_search2 = 0, c_search2 = 0;
    hers_store_search_stats ss2;
    memset(&ss2, 0, sizeof ss2);
    if (compare) {
        struct verifier v2 = ver;
        v2.checked = v2.wrong = 0;
        v2.scores = NULL;
        v2.cap = 0;
        hers_store_search_opts so2 = so;
        so2.skip_checksums = !so.skip_checksums;
        so2.user = &v2;
        drop_cache(dir);
        t0 = bench_now();
        c0 = cpu_now();
        hers_status s2 = hers_store_search(snap, NULL, q, &so2, &res, &ss2);
        t_search2 = bench_now() - t0 - ss2.chunk_cb_seconds;
        c_search2 = cpu_now() - c0;
        hers_free(v2.scores);
        if (s2 != HERS_OK || v2.checked != want_checked || v2.wrong) {
            fprintf(stderr, "bench scale: second search: %s, %llu checked, %llu wrong\n",
                    s2 != HERS_OK ? hers_last_error() : "ok", (unsigned long long)v2.checked,
                    (unsigned long long)v2.wrong);
            wrong++;
        }
    }
    double nd = (double)n * (double)d, gb = (double)ss.bytes_read / 1e9;
    if (json)
        printf("{\"bench\": \"scale\", \"params\": \"%s\", \"n\": %llu, \"d\": %llu, "
               "\"threads\": %llu, \"scale\": %u, \"batch\": %zu, "
               "\"enroll_s\": %.3f, \"enroll_cpu_s\": %.3f, \"enroll_ns_per_template_dim\": %.2f, "
               "\"disk_bytes\": %llu, \"disk_bytes_per_template_dim\": %.3f, "
               "\"payload_bytes\": %llu, \"page_cache_dropped\": %s, "
               "\"search_s\": %.3f, \"search_cpu_s\": %.3f, \"search_gb_read\": %.3f, \"search_gb_per_s\": %.3f, "
               "\"search_ns_per_template_dim\": %.3f, \"chunks\": %zu, \"chunk_blocks\": %zu, "
               "\"build_s\": %.3f, \"scan_s\": %.3f, \"read_wait_s\": %.3f, "
               "\"checksums_verified\": %s, \"full_result\": %s, \"decrypt_s\": %.3f, "
               "\"checked\": %llu, "
               "\"wrong\": %llu, \"exact\": %s, \"search2_checksums_verified\": %s, "
               "\"search2_s\": %.3f, \"search2_cpu_s\": %.3f, \"search2_gb_per_s\": %.3f, "
               "\"search2_build_s\": %.3f, \"search2_read_wait_s\": %.3f, "
               "\"peak_rss_mb\": %.1f, \"io\": \"%s\", \"search_wall_s\": %.3f, "
               "\"disk_direct_gb_per_s\": %.3f, \"search_vs_disk\": %.3f, \"list_s\": %.3f, "
               "\"read_s\": %.3f, \"read_gb_per_s\": %.3f, \"gb_direct\": %.3f, "
               "\"gb_reused\": %.3f, \"buffer_mb\": %.1f, \"search2_read_s\": %.3f}\n",
               pname, (unsigned long long)n, (unsigned long long)d, (unsigned long long)threads,
               scale, bmax, t_enrol, c_enrol, 1e9 * t_enrol / nd, (unsigned long long)disk,
               (double)disk / nd, (unsigned long long)info.payload_bytes,
               dropped ? "true" : "false", t_search, c_search, gb, gb / t_search, 1e9 * t_search / nd,
               ss.chunks, ss.chunk_blocks, ss.build_seconds, ss.scan_seconds,
               ss.read_wait_seconds, so.skip_checksums ? "false" : "true",
               full_result ? "true" : "false", t_decrypt,
               (unsigned long long)checked, (unsigned long long)wrong, wrong ? "false" : "true",
               !compare ? "null" : so.skip_checksums ? "true" : "false", t_search2, c_search2,
               t_search2 > 0 ? (double)ss2.bytes_read / 1e9 / t_search2 : 0.0,
               ss2.build_seconds, ss2.read_wait_seconds, bench_peak_rss_mb(), io_names[io],
               t_search + t_decrypt, disk_gbs, disk_gbs > 0 ? gb / t_search / disk_gbs : 0.0,
               ss.list_seconds, ss.read_seconds,
               ss.read_seconds > 0 ? (double)ss.bytes_read / 1e9 / ss.read_seconds : 0.0,
               (double)ss.bytes_direct / 1e9, (double)ss.bytes_reused / 1e9,
               (double)ss.buffer_bytes / 1048576.0, ss2.read_seconds);
    else {
        printf("scale, %s, n = %llu, d = %llu, scale %u\n", pname, (unsigned long long)n,
               (unsigned long long)d, scale);
        printf("  enrol    %.1f s (%.1f ns per template x dim; CPU %.1f s), batches of %zu\n",
               t_enrol, 1e9 * t_enrol / nd, c_enrol, bmax);
        printf("  disk     %.2f GB (%.2f bytes per template x dim)\n", (double)disk / 1e9,
               (double)disk / nd);
        printf("  search   %.1f s (CPU %.1f s) from %s (%.2f GB read, %.2f GB/s; %zu chunks of %zu blocks: "
               "build %.1f s, scan %.1f s, waiting for reads %.1f s; checksums %s)\n",
               t_search, c_search, dropped ? "a dropped page cache" : "disk (the database's pages dropped)", gb,
               gb / t_search, ss.chunks, ss.chunk_blocks, ss.build_seconds, ss.scan_seconds,
               ss.read_wait_seconds, so.skip_checksums ? "skipped" : "verified");
        if (compare)
            printf("  search   %.1f s (CPU %.1f s) again, cold, checksums %s (%.2f GB/s; build "
                   "%.1f s, waiting for reads %.1f s)\n",
                   t_search2, c_search2, so.skip_checksums ? "verified" : "skipped",
                   t_search2 > 0 ? (double)ss2.bytes_read / 1e9 / t_search2 : 0.0,
                   ss2.build_seconds, ss2.read_wait_seconds);
        printf("  disk     %.2f GB/s sequential O_DIRECT (dd iflag=direct bs=4M); the search "
               "read at %.2f of it (reader thread %.1f s at work, %.2f GB/s; io %s)\n",
               disk_gbs, disk_gbs > 0 ? gb / t_search / disk_gbs : 0.0, ss.read_seconds,
               ss.read_seconds > 0 ? (double)ss.bytes_read / 1e9 / ss.read_seconds : 0.0,
               io_names[io]);
        printf("  verify   %llu scores checked, %llu wrong (decrypt %.1f s)\n",
               (unsigned long long)checked, (unsigned long long)wrong, t_decrypt);
    }
    rc = wrong ? 1 : 0;
done:
    hers_free(scores);
    hers_free(ver.scores);
    hers_result_free(res);
    hers_query_free(q);
    hers_store_snapshot_close(snap);
    hers_store_close(db);
    hers_free(vals);
    hers_free(ids);
    hers_free(idbuf);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_params_free(p);
    if (created && !keep) {
        char path[4200];
        const char *names[] = {"data.mdb", "segments.dat", "lock.mdb", "hers.lock"};
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            if (unlink(path) != 0 && errno != ENOENT)
                fprintf(stderr, "bench scale: could not remove %s\n", path);
        }
        rmdir(dir);
    }
    return rc;
}
