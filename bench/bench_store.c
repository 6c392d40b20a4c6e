/*
 * bench_store.c - `hers bench store [--n N] [--d D] [--threads T]
 * [--params NAME] [--json]`: the gallery database against the in-memory
 * path, for docs/design.md ("The store"):
 *   - bytes at rest per template x dimension: seed-compressed segments in
 *     LMDB (payload and data.mdb) vs the kernel form (what "kernel form at
 *     rest" would store);
 *   - open cost: building the kernel-form index from the db snapshot
 *     (deserialise + checksum + expand seeds + NTT) vs from an in-memory
 *     gallery vs copying a kernel form stored at rest out of LMDB;
 *   - search: the fused kernel on the db-built index vs the in-memory one
 *     (same data, so the ratio tests "LMDB feeds the kernel at >= 80%");
 *   - streaming (chunks of blocks: build + search per chunk) vs in memory;
 *   - enrolment split: a serialised record stored alone (validation and the
 *     store's LMDB work and commit), and the machine's write rates into fresh
 *     and reused memory and page cache (what bounds enrolment into the db).
 * --format 1 writes the old gallery records (ChaCha20 expander, BLAKE2b):
 * the same binary times both formats (default: the newest).
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"
#include "search/search_internal.h"
#include "search/search_merge.h"
#include "store/store_internal.h"

static int32_t *random_rows(size_t n, size_t d, uint32_t s)
{
    int32_t *q = hers_alloc_array(n, d * sizeof *q);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; q && i < n * d; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* small components keep every row's norm within the bound */
        q[i] = (int32_t)(x % 9) - 4;
    }
    (void)s;
    return q;
}

/* GB/s of writing `bytes` into memory this process has never touched
 * (a fresh anonymous map: page faults, kernel page clearing, and in a VM
 * the host backing the page) and then into the same memory again: the
 * store's enrolment writes every byte into fresh pages twice (LMDB's
 * malloc'ed dirty pages, then the page cache at commit), so on a machine
 * where the first figure is low it bounds enroll_db (docs/benchmarks.md). */
static void memory_touch_rates(size_t bytes, double *fresh, double *again)
{
    *fresh = *again = 0;
    uint8_t *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return;
    double t0 = bench_now();
    memset(m, 1, bytes);
    double t1 = bench_now();
    memset(m, 2, bytes);
    double t2 = bench_now();
    munmap(m, bytes);
    *fresh = (double)bytes / (t1 - t0) / 1e9;
    *again = (double)bytes / (t2 - t1) / 1e9;
}

/* GB/s of write() into a new file (fresh page-cache pages) and of
 * overwriting the same range (pages already cached), no fsync. */
static void file_write_rates(const char *dir, size_t bytes, double *fresh, double *again)
{
    *fresh = *again = 0;
    char path[320];
    snprintf(path, sizeof path, "%s/touch", dir);
    uint8_t *buf = malloc((size_t)1 << 20);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (buf && fd >= 0) {
        memset(buf, 3, (size_t)1 << 20);
        double t[3];
        for (int pass = 0; pass < 2; pass++) {
            t[pass] = bench_now();
            for (size_t o = 0; o < bytes; o += (size_t)1 << 20)
                if (pwrite(fd, buf, (size_t)1 << 20, (off_t)o) != (ssize_t)1 << 20)
                    goto out;
        }
        t[2] = bench_now();
        *fresh = (double)bytes / (t[1] - t[0]) / 1e9;
        *again = (double)bytes / (t[2] - t[1]) / 1e9;
    }
out:
    if (fd >= 0)
        close(fd);
    unlink(path);
    free(buf);
}

int hers_bench_store(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--d", "--threads", "--params", "--format",
                                             NULL};
    static const char *const flags[] = {"--json", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers bench store [--n N] [--d D] [--threads T] [--params NAME] "
               "[--format 1|2] [--json]\n");
        return 0;
    }
    if (cli_check_opts("bench store", argc, argv, with_value, flags))
        return 2;
    uint64_t n, d, threads, format;
    if (cli_opt_u64("bench store", argc, argv, "--format", HERS_GALLERY_FILE_VERSION, 1,
                    HERS_GALLERY_FILE_VERSION, &format) ||
        cli_opt_u64("bench store", argc, argv, "--n", 65536, 1, (uint64_t)1 << 24, &n) ||
        cli_opt_u64("bench store", argc, argv, "--d", 64, 1, HERS_SEARCH_MAX_D, &d) ||
        cli_opt_u64("bench store", argc, argv, "--threads", 1, 1, 256, &threads))
        return 2;
    const char *pname = cli_opt(argc, argv, "--params") ? cli_opt(argc, argv, "--params") : "n4096";
    int json = cli_flag(argc, argv, "--json");
    bench_print_env(stdout, "store", (int)threads);
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    if (hers_params_create_named(&p, pname) != HERS_OK || hers_keygen_secret(p, &sk) != HERS_OK ||
        hers_keygen_public(p, sk, &pk) != HERS_OK)
        return cli_fail_lib("bench store", "keys");
    int32_t *vals = random_rows(n, d, 125);
    char dir[] = "/tmp/hers_bench_store_XXXXXX";
    if (!vals || !mkdtemp(dir))
        return cli_fail("bench store", "setup failed");
    char dbdir[300], kdir[300];
    snprintf(dbdir, sizeof dbdir, "%s/db", dir);
    snprintf(kdir, sizeof kdir, "%s/kf", dir);
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.threads = (unsigned)threads;
    eo.format = (uint32_t)format;
    double nd = (double)n * (double)d;
    hers_gallery *g = NULL;
    hers_index *ix_mem = NULL, *ix_db = NULL, *ix_kf = NULL;
    hers_store *db = NULL;
    hers_store_snapshot *snap = NULL;
    hers_searcher *sr = NULL;
    hers_query *q = NULL;
    hers_result *r1 = NULL, *r2 = NULL;
    int rc = 1;
    double t0 = bench_now();
    if (hers_gallery_enroll(p, sk, NULL, vals, n, d, &eo, &g) != HERS_OK)
        goto done;
    double t_enrol_mem = bench_now() - t0;
    t0 = bench_now();
    if (hers_index_build(p, g, (unsigned)threads, &ix_mem) != HERS_OK)
        goto done;
    double t_build_mem = bench_now() - t0;
    if (hers_store_create(dbdir, p, pk, NULL, NULL, 0) != HERS_OK ||
        hers_store_open(dbdir, 0, &db) != HERS_OK)
        goto done;
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.threads = (unsigned)threads;
    o.format = (uint32_t)format;
    t0 = bench_now();
    if (hers_store_enroll(db, sk, NULL, vals, n, d, NULL, &o, NULL) != HERS_OK)
        goto done;
    double t_enrol_db = bench_now() - t0;
    /* where it went (store_internal.h): waiting for the encryption, the
     * payload writes, the catalog, the commit; the rest is the id
     * generation and the records' checksums */
    double e_wait = db->pay->t_wait, e_pay = db->pay->t_payload, e_cat = db->pay->t_catalog,
           e_commit = db->pay->t_commit, e_csync = db->pay->t_commit_sync;
    uint64_t bg_syncs = db->pay->syncs_background;
    uint64_t pay_direct = db->pay->bytes_direct, pay_buffered = db->pay->bytes_buffered;
    hers_store_info info;
    if (hers_store_get_info(db, &info) != HERS_OK)
        goto done;
    /* where enrolment into the db goes: the same gallery encrypted in
     * memory, serialised, then stored as one record (what a server does
     * with a client's record): validation (deserialise: residues,
     * checksum) and the store's own work (LMDB copy, catalog, commit with
     * fsync), each timed alone */
    double t_validate = 0, t_store_rec = 0;
    {
        uint8_t *rec = NULL;
        size_t rlen = 0;
        hers_gallery *g2 = NULL;
        hers_store *db2 = NULL;
        char db2dir[300];
        snprintf(db2dir, sizeof db2dir, "%s/db2", dir);
        hers_status rs = hers_gallery_serialize(p, g, &rec, &rlen);
        if (rs == HERS_OK) {
            t0 = bench_now();
            rs = hers_gallery_deserialize(p, rec, rlen, &g2);
            t_validate = bench_now() - t0;
        }
        hers_gallery_free(g2);
        if (rs == HERS_OK && (rs = hers_store_create(db2dir, p, pk, NULL, NULL, 0)) == HERS_OK &&
            (rs = hers_store_open(db2dir, 0, &db2)) == HERS_OK) {
            t0 = bench_now();
            rs = hers_store_enroll_record(db2, rec, rlen, 0, n, NULL, &o, NULL);
            t_store_rec = bench_now() - t0;
        }
        hers_store_close(db2);
        hers_free(rec);
        if (rs != HERS_OK)
            goto done;
    }
    double fresh_mem, again_mem, fresh_file, again_file;
    memory_touch_rates((size_t)64 << 20, &fresh_mem, &again_mem);
    file_write_rates(dir, (size_t)64 << 20, &fresh_file, &again_file);
    t0 = bench_now();
    if (hers_store_snapshot_open(db, &snap) != HERS_OK ||
        hers_store_snapshot_index(snap, 0, hers_store_snapshot_blocks(snap), (unsigned)threads,
                               &ix_db) != HERS_OK)
        goto done;
    double t_build_db = bench_now() - t0;
    /* the same build into the index just made (warm pages: what a streamed
     * search pays per chunk), with and without the checksums, median of 3 */
    double t_warm[3], t_warm_nv[3];
    store_segref *segs = NULL;
    size_t nseg = 0;
    if (store_segments_list(snap, &segs, &nseg) != HERS_OK)
        goto done;
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < nseg; i++)
            segs[i].ready = 0;
        t0 = bench_now();
        if (store_segments_index(snap, segs, nseg, 0, hers_store_snapshot_blocks(snap),
                                 (unsigned)threads, 1, ix_db) != HERS_OK) {
            free(segs);
            goto done;
        }
        t_warm[rep] = bench_now() - t0;
        for (size_t i = 0; i < nseg; i++)
            segs[i].ready = 1;
        t0 = bench_now();
        store_segments_index(snap, segs, nseg, 0, hers_store_snapshot_blocks(snap), (unsigned)threads,
                             0, ix_db);
        t_warm_nv[rep] = bench_now() - t0;
    }
    free(segs);
    double t_build_warm = bench_median_of(t_warm, 3), t_build_warm_nv = bench_median_of(t_warm_nv, 3);
    /* kernel form at rest: the index words as LMDB values (one per block
     * tile row), read back with one memcpy each */
    uint64_t ixb = hers_index_bytes(ix_mem);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    double t_kf_write = 0, t_kf_open = 0;
    if (mkdir(kdir, 0700) == 0 && mdb_env_create(&env) == 0 &&
        mdb_env_set_mapsize(env, (size_t)1 << 40) == 0 && mdb_env_open(env, kdir, 0, 0600) == 0) {
        size_t nvals = ix_mem->tiles * ix_mem->blocks, vbytes = ix_mem->tile_words * 8;
        t0 = bench_now();
        mdb_txn_begin(env, NULL, 0, &txn);
        mdb_dbi_open(txn, NULL, 0, &dbi);
        for (size_t i = 0; i < nvals; i++) {
            uint8_t kb[8];
            for (int j = 0; j < 8; j++)
                kb[j] = (uint8_t)(i >> (56 - 8 * j));
            MDB_val k = {8, kb}, v = {vbytes, ix_mem->data + i * ix_mem->tile_words};
            mdb_put(txn, dbi, &k, &v, MDB_APPEND);
        }
        mdb_txn_commit(txn);
        t_kf_write = bench_now() - t0;
        t0 = bench_now();
        if (hers_index_zero(p, HERS_MODE_BOTH_ENCRYPTED, n, d, &ix_kf) == HERS_OK) {
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
            MDB_cursor *c;
            mdb_cursor_open(txn, dbi, &c);
            MDB_val k, v;
            size_t i = 0;
            for (int r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0 && i < nvals;
                 r = mdb_cursor_get(c, &k, &v, MDB_NEXT), i++)
                memcpy(ix_kf->data + i * ix_kf->tile_words, v.mv_data, v.mv_size);
            mdb_cursor_close(c);
            mdb_txn_abort(txn);
        }
        t_kf_open = bench_now() - t0;
    }
    if (env)
        mdb_env_close(env);
    /* search: in-memory index vs db-built index vs streamed chunks */
    int32_t *probe = vals;   /* row 0 */
    if (hers_searcher_create((unsigned)threads, &sr) != HERS_OK ||
        hers_query_encrypt(p, sk, NULL, probe, 1, d, 125, NULL, &q) != HERS_OK)
        goto done;
    double sm[5], sd[5], sk_[5], ss[5];
    size_t blocks = hers_store_snapshot_blocks(snap), chunk = blocks >= 4 ? blocks / 4 : 1;
    hers_store_search_opts stream;
    hers_store_search_opts_default(&stream);
    stream.chunk_blocks = chunk;
    stream.threads = (unsigned)threads;
    for (int rep = 0; rep < 5; rep++) {
        t0 = bench_now();
        hers_search(sr, p, ix_mem, q, NULL, &r1);
        sm[rep] = bench_now() - t0;
        hers_result_free(r1);
        r1 = NULL;
        t0 = bench_now();
        hers_search(sr, p, ix_db, q, NULL, &r1);
        sd[rep] = bench_now() - t0;
        hers_result_free(r1);
        r1 = NULL;
        t0 = bench_now();
        if (ix_kf)
            hers_search(sr, p, ix_kf, q, NULL, &r1);
        sk_[rep] = bench_now() - t0;
        hers_result_free(r1);
        r1 = NULL;
        /* streamed: build + search per chunk, placed into a full result */
        t0 = bench_now();
        hers_store_search(snap, sr, q, &stream, &r2, NULL);
        ss[rep] = bench_now() - t0;
        hers_result_free(r2);
        r2 = NULL;
    }
    double s_mem = bench_median_of(sm, 5), s_db = bench_median_of(sd, 5),
           s_kf = bench_median_of(sk_, 5), s_str = bench_median_of(ss, 5);
    double rest_seg = (double)info.payload_bytes / nd, rest_file = (double)info.file_bytes / nd;
    double rest_kf = (double)ixb / nd;
    if (json)
        printf("{\"bench\": \"store\", \"params\": \"%s\", \"format\": %u, \"n\": %llu, \"d\": %llu, \"threads\": %llu, "
               "\"enroll_mem_ns_per_template_dim\": %.2f, \"enroll_db_ns_per_template_dim\": %.2f, "
               "\"bytes_at_rest_segments\": %.2f, \"bytes_at_rest_file\": %.2f, "
               "\"bytes_at_rest_kernel_form\": %.2f, \"open_mem_ns_per_template_dim\": %.2f, "
               "\"open_db_ns_per_template_dim\": %.2f, \"open_db_warm_ns_per_template_dim\": %.2f, "
               "\"open_db_warm_unverified_ns_per_template_dim\": %.2f, \"open_kernel_form_ns_per_template_dim\": %.2f, "
               "\"kernel_form_write_ns_per_template_dim\": %.2f, "
               "\"search_mem_s\": %.6f, \"search_db_s\": %.6f, \"search_kernel_form_s\": %.6f, "
               "\"db_vs_mem_speed\": %.3f, \"stream_s\": %.6f, \"stream_chunk_blocks\": %zu, "
               "\"stream_vs_mem_build_search\": %.3f, "
               "\"store_record_ns_per_template_dim\": %.2f, \"record_validate_ns_per_template_dim\": %.2f, "
               "\"fresh_memory_gb_per_s\": %.3f, \"reused_memory_gb_per_s\": %.3f, "
               "\"new_file_write_gb_per_s\": %.3f, \"cached_file_write_gb_per_s\": %.3f, "
               "\"enroll_db_wait_ns_per_template_dim\": %.2f, \"enroll_db_payload_ns_per_template_dim\": %.2f, "
               "\"enroll_db_catalog_ns_per_template_dim\": %.2f, \"enroll_db_commit_ns_per_template_dim\": %.2f, "
               "\"enroll_db_commit_sync_ns_per_template_dim\": %.2f, \"enroll_db_background_syncs\": %llu, "
               "\"payload_bytes_direct\": %llu, \"payload_bytes_buffered\": %llu, "
               "\"peak_rss_mb\": %.1f}\n",
               pname, (unsigned)format, (unsigned long long)n, (unsigned long long)d,
               (unsigned long long)threads, 1e9 * t_enrol_mem / nd, 1e9 * t_enrol_db / nd, rest_seg, rest_file, rest_kf,
               1e9 * t_build_mem / nd, 1e9 * t_build_db / nd, 1e9 * t_build_warm / nd,
               1e9 * t_build_warm_nv / nd, 1e9 * t_kf_open / nd, 1e9 * t_kf_write / nd, s_mem, s_db, s_kf, s_mem / s_db, s_str, chunk,
               s_str / (t_build_db + s_db), 1e9 * t_store_rec / nd, 1e9 * t_validate / nd,
               fresh_mem, again_mem, fresh_file, again_file, 1e9 * e_wait / nd, 1e9 * e_pay / nd,
               1e9 * e_cat / nd, 1e9 * e_commit / nd, 1e9 * e_csync / nd,
               (unsigned long long)bg_syncs, (unsigned long long)pay_direct,
               (unsigned long long)pay_buffered, bench_peak_rss_mb());
    else {
        printf("store, %s, gallery format %u, n = %llu, d = %llu, threads = %llu\n", pname,
               (unsigned)format, (unsigned long long)n, (unsigned long long)d,
               (unsigned long long)threads);
        printf("  enrol           in memory %.1f ns/(t x d), into the db %.1f ns/(t x d)\n",
               1e9 * t_enrol_mem / nd, 1e9 * t_enrol_db / nd);
        printf("  enrol, where    waiting for the encryption %.1f, payload writes %.1f (%s), "
               "catalog %.1f, commit %.1f ns/(t x d) (of which the payload's fdatasync %.1f, after "
               "%llu background syncs)\n",
               1e9 * e_wait / nd, 1e9 * e_pay / nd,
               pay_direct ? "O_DIRECT" : pay_buffered ? "buffered" : "inside LMDB",
               1e9 * e_cat / nd, 1e9 * e_commit / nd, 1e9 * e_csync / nd,
               (unsigned long long)bg_syncs);
        printf("  enrol, split    a serialised record into the db %.1f ns/(t x d), including its "
               "validation (deserialising it alone: %.1f)\n",
               1e9 * t_store_rec / nd, 1e9 * t_validate / nd);
        printf("  memory writes   fresh pages %.2f GB/s, reused %.2f; write() to a new file %.2f, "
               "overwrite %.2f\n",
               fresh_mem, again_mem, fresh_file, again_file);
        printf("  bytes at rest   segments %.2f, data.mdb %.2f, kernel form %.2f per t x d\n",
               rest_seg, rest_file, rest_kf);
        printf("  open (index)    from memory %.1f, from the db %.1f, kernel form at rest %.1f "
               "ns/(t x d) (writing it: %.1f)\n",
               1e9 * t_build_mem / nd, 1e9 * t_build_db / nd, 1e9 * t_kf_open / nd,
               1e9 * t_kf_write / nd);
        printf("  open, warm      into a reused index: %.1f ns/(t x d) with checksums, %.1f "
               "with segments already read and verified\n",
               1e9 * t_build_warm / nd, 1e9 * t_build_warm_nv / nd);
        printf("  search 1 probe  in-memory index %.4f s, db-built index %.4f s (%.0f%%), "
               "kernel form from LMDB %.4f s\n",
               s_mem, s_db, 100 * s_mem / s_db, s_kf);
        printf("  streaming       %zu-block chunks: %.4f s (build + search) vs %.4f s in memory "
               "(build + search): x%.2f\n",
               chunk, s_str, t_build_db + s_db, s_str / (t_build_db + s_db));
    }
    rc = 0;
done:
    if (rc)
        cli_fail_lib("bench store", "failed");
    hers_result_free(r1);
    hers_result_free(r2);
    hers_query_free(q);
    hers_searcher_free(sr);
    hers_index_free(ix_mem);
    hers_index_free(ix_db);
    hers_index_free(ix_kf);
    hers_store_snapshot_close(snap);
    hers_store_close(db);
    hers_gallery_free(g);
    hers_free(vals);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_params_free(p);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
