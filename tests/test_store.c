/* test_store.c - the gallery database (hers_store.h): create / open,
 * appends that fill partial blocks (summed segments), public- and
 * secret-key enrolment, exact scores from snapshot indexes (whole and
 * streamed block chunks), deletion, replacement, errors that leave the
 * database unchanged, the overlap limit, check, and both compactions. */
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"
#include "store/store_internal.h"
#include "support/check.h"

#define D 16
#define MAXS 8192

static hers_params *P;
static hers_secret_key *SK;
static hers_public_key *PK;
static hers_relin_key *RK;
/* the model of the database: slot -> (values, id, live) */
static int32_t vals[MAXS * D];
static char ids[MAXS][32];
static int live[MAXS];

/* The model after a dense compaction: live rows move, in slot order, to
 * slots 0..j-1; returns j. */
static size_t model_compact(void)
{
    size_t j = 0;
    for (size_t x = 0; x < MAXS; x++)
        if (live[x]) {
            memmove(vals + j * D, vals + x * D, D * sizeof(int32_t));
            memmove(ids[j], ids[x], 32);
            j++;
        }
    for (size_t x = 0; x < MAXS; x++)
        live[x] = x < j;
    return j;
}

static void random_rows(int32_t *q, size_t n)
{
    float x[D];
    for (size_t r = 0; r < n; r++) {
        double nn = 0;
        for (size_t i = 0; i < D; i++) {
            x[i] = (float)((double)(test_rand() % 2000001) / 1e6 - 1.0);
            nn += (double)x[i] * x[i];
        }
        for (size_t i = 0; i < D; i++)
            x[i] = (float)(x[i] / __builtin_sqrt(nn) * 0.9999);
        CHECK_OK(hers_quant_vector(x, D, 125, q + r * D));
    }
}

/* Enrols n fresh rows with ids "<prefix><i>"; records them in the model. */
static void enroll(hers_store *db, size_t n, const char *prefix, int pub, int replace)
{
    int32_t *q = malloc(n * D * sizeof *q);
    char **id = malloc(n * sizeof *id);
    random_rows(q, n);
    for (size_t i = 0; i < n; i++) {
        id[i] = malloc(32);
        snprintf(id[i], 32, "%.8s%zu", prefix, i);
    }
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.threads = 2;
    o.replace = replace;
    uint64_t first = 0;
    CHECK_OK(hers_store_enroll(db, pub ? NULL : SK, pub ? PK : NULL, q, n, D,
                            (const char *const *)id, &o, &first));
    for (size_t i = 0; i < n && first + i < MAXS; i++) {
        if (replace)
            for (size_t s = 0; s < first; s++)
                if (live[s] && !strcmp(ids[s], id[i]))
                    live[s] = 0;
        memcpy(vals + (first + i) * D, q + i * D, D * sizeof *q);
        snprintf(ids[first + i], 32, "%.30s", id[i]);
        live[first + i] = 1;
    }
    for (size_t i = 0; i < n; i++)
        free(id[i]);
    free(id);
    free(q);
}

/* Searches 3 probes (live rows) through a snapshot (chunk = 0: one index)
 * and compares every live slot's decrypted score with the plaintext one. */
static void verify(hers_store *db, size_t chunk)
{
    hers_store_snapshot *s = NULL;
    CHECK_OK(hers_store_snapshot_open(db, &s));
    if (!s)
        return;
    size_t n = (size_t)hers_store_snapshot_slots(s), blocks = hers_store_snapshot_blocks(s);
    int32_t probes[3 * D];
    size_t got = 0;
    for (size_t x = 0; x < n && got < 3; x += 1 + n / 5)
        if (live[x])
            memcpy(probes + D * got++, vals + x * D, sizeof(int32_t) * D);
    if (got == 0) {
        hers_store_snapshot_close(s);
        return;
    }
    hers_query *q = NULL;
    hers_searcher *sr = NULL;
    hers_result *res = NULL;
    CHECK_OK(hers_query_encrypt(P, SK, NULL, probes, got, D, 125, NULL, &q));
    CHECK_OK(hers_searcher_create(2, &sr));
    /* hers_store_search: one pass (chunk 0) or streamed chunks of `chunk`
     * blocks; a streamed result equals the one-pass result byte for byte */
    hers_store_search_opts so;
    hers_store_search_stats st;
    hers_store_search_opts_default(&so);
    so.threads = 2;
    so.chunk_blocks = chunk ? chunk : blocks;
    CHECK_OK(hers_store_search(s, sr, q, &so, &res, &st));
    CHECK(st.chunks == (chunk ? (blocks + chunk - 1) / chunk : 1));
    if (chunk && res) {
        hers_result *one = NULL;
        so.chunk_blocks = 0;   /* automatic: the whole gallery fits */
        CHECK_OK(hers_store_search(s, NULL, q, &so, &one, &st));
        CHECK(st.chunks == 1);
        uint8_t *b1 = NULL, *b2 = NULL;
        size_t l1 = 0, l2 = 0;
        CHECK_OK(hers_result_serialize(P, res, &b1, &l1));
        CHECK_OK(hers_result_serialize(P, one, &b2, &l2));
        CHECK(l1 == l2 && b1 && b2 && memcmp(b1, b2, l1) == 0);
        /* every read mode of the streamed search, checksums verified or
         * not: the same bytes */
        for (int io = HERS_STORE_IO_AUTO; io <= HERS_STORE_IO_MAP; io++)
            for (int skip = 0; skip < 2; skip++) {
                hers_result *x = NULL;
                uint8_t *b3 = NULL;
                size_t l3 = 0;
                so.chunk_blocks = chunk;
                so.io = io;
                so.skip_checksums = skip;
                CHECK_OK(hers_store_search(s, sr, q, &so, &x, &st));
                CHECK(st.chunks == (blocks + chunk - 1) / chunk);
                /* every streamed byte is counted once (segment headers
                 * excepted); a single chunk is searched in one pass, not
                 * streamed, and reads nothing (quick mode's chunk = 2);
                 * written without a subtraction: bytes_read < 80 * 64 there */
                if (st.chunks > 1)
                    CHECK(st.bytes_read > 0);
                CHECK(st.bytes_direct + st.bytes_buffered + st.bytes_reused + 80 * 64 >=
                      st.bytes_read);
                if (io == HERS_STORE_IO_BUFFERED || io == HERS_STORE_IO_MAP)
                    CHECK(st.bytes_direct == 0);
                if (io == HERS_STORE_IO_DIRECT && !skip && chunk == 1)
                    fprintf(stderr, "  streamed, O_DIRECT: %llu of %llu bytes (0: not supported "
                                    "here)\n",
                            (unsigned long long)st.bytes_direct,
                            (unsigned long long)st.bytes_read);
                CHECK_OK(hers_result_serialize(P, x, &b3, &l3));
                CHECK(l3 == l1 && b3 && memcmp(b1, b3, l1) == 0);
                hers_free(b3);
                hers_result_free(x);
            }
        so.skip_checksums = 0;
        so.io = 99;
        so.chunk_blocks = chunk;
        hers_result *x = NULL;
        CHECK(hers_store_search(s, sr, q, &so, &x, &st) == HERS_ERR_ARG && x == NULL);
        so.io = 0;
        hers_free(b1);
        hers_free(b2);
        hers_result_free(one);
    }
    uint8_t *lm = malloc(n);
    CHECK_OK(hers_store_snapshot_live_map(s, 0, n, lm));
    int64_t *sc = malloc(n * sizeof *sc);
    long bad = 0, badlive = 0, badid = 0;
    for (size_t r = 0; r < got && res; r++) {
        CHECK_OK(hers_result_decrypt(P, SK, res, r, sc));
        for (size_t x = 0; x < n; x++) {
            if ((lm[x] != 0) != (live[x] != 0))
                badlive++;
            const char *id = hers_store_snapshot_id(s, x);
            if (live[x] ? !id || strcmp(id, ids[x]) : id != NULL)
                badid++;
            if (!live[x])
                continue;
            int64_t want = 0;
            for (size_t i = 0; i < D; i++)
                want += (int64_t)vals[x * D + i] * probes[r * D + i];
            bad += sc[x] != want;
        }
    }
    CHECK(bad == 0);
    CHECK(badlive == 0);
    CHECK(badid == 0);
    if (bad)
        fprintf(stderr, "  %ld wrong scores (chunk %zu)\n", bad, chunk);
    free(lm);
    free(sc);
    hers_result_free(res);
    hers_searcher_free(sr);
    hers_query_free(q);
    hers_store_snapshot_close(s);
}

static void problem(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "  check: %s\n", line);
}

/* Collects problem lines for the corruption check. */
static char seen[4096];
static void collect(void *user, const char *line)
{
    (void)user;
    size_t have = strlen(seen);
    if (have + 2 >= sizeof seen)   /* full: later lines are dropped */
        return;
    strncat(seen, line, sizeof seen - have - 2);
    strcat(seen, "\n");
}

/* Writes inconsistent catalog entries behind the store's back (raw LMDB)
 * and expects hers_store_check to name each one. */
static void check_detects(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi idb, sdb;
    CHECK(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, (size_t)1 << 30);
    CHECK(mdb_env_open(env, path, 0, 0600) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(mdb_dbi_open(txn, "ids", 0, &idb) == 0);
    CHECK(mdb_dbi_open(txn, "slots", 0, &sdb) == 0);
    uint8_t be[8] = {0, 0, 0, 0, 0, 0, 0x12, 0x34}, le[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    MDB_val k1 = {8, be}, v1 = {6, (void *)"ghost"};   /* slot 0x1234 -> "ghost", no id */
    MDB_val k2 = {5, (void *)"stray"}, v2 = {8, le};    /* "stray" -> slot 1, owned by another id */
    CHECK(mdb_put(txn, sdb, &k1, &v1, 0) == 0);
    CHECK(mdb_put(txn, idb, &k2, &v2, 0) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    hers_store *db = NULL;
    CHECK_OK(hers_store_open(path, 1, &db));
    uint64_t np = 0;
    seen[0] = '\0';
    CHECK_OK(hers_store_check(db, collect, NULL, &np));
    CHECK(np >= 4);
    CHECK(strstr(seen, "slot 4660 -> 'ghost'") != NULL);
    CHECK(strstr(seen, "'stray' -> slot 1, but slot 1 names another id") != NULL);
    CHECK(strstr(seen, "live = ") != NULL);
    CHECK(strstr(seen, "slots: slot 4660 >= next_slot") != NULL);
    fprintf(stderr, "  check found (expected):\n%s", seen);
    hers_store_close(db);
}

static uint64_t check_db(hers_store *db)
{
    uint64_t np = 99;
    CHECK_OK(hers_store_check(db, problem, NULL, &np));
    CHECK_EQ_U64(np, 0);
    return np;
}

static hers_store_info info_of(hers_store *db)
{
    hers_store_info in;
    CHECK_OK(hers_store_get_info(db, &in));
    return in;
}

static void corrupt_stream(const char *path);

/* ---- the payload file DIR/segments.dat (session 9) */

/* The committed end of segments.dat (meta record "payload_end", read with
 * raw LMDB; 0 if none). */
static uint64_t payload_end(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi mdb;
    uint64_t end = 0;
    CHECK(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, (size_t)1 << 40);
    if (mdb_env_open(env, path, MDB_RDONLY, 0600) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        MDB_val k = {11, (void *)"payload_end"}, v;
        if (mdb_dbi_open(txn, "meta", 0, &mdb) == 0 && mdb_get(txn, mdb, &k, &v) == 0 &&
            v.mv_size == 16)
            for (int i = 0; i < 8; i++)
                end |= (uint64_t)((const uint8_t *)v.mv_data)[8 + i] << (8 * i);
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return end;
}

static int64_t file_size_of(const char *path, const char *name)
{
    char f[800];
    struct stat sb;
    snprintf(f, sizeof f, "%s/%s", path, name);
    return stat(f, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static void append_garbage(const char *path, size_t n)
{
    char f[800];
    snprintf(f, sizeof f, "%s/segments.dat", path);
    FILE *fp = fopen(f, "ab");
    CHECK(fp != NULL);
    for (size_t i = 0; fp && i < n; i++)
        fputc((int)(test_rand() & 255), fp);
    if (fp)
        CHECK(fclose(fp) == 0);
}

/* A child enrols batches of 64 rows ("k<batch>_<i>") and acknowledges each
 * committed batch on the pipe; the parent kills it (SIGKILL) after `acks`
 * of them, mid-way through the next. Returns the acknowledged batches. */
static int killed_writer(const char *path, int acks)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        hers_store *db = NULL;
        if (hers_store_open(path, 0, &db) != HERS_OK)
            _exit(2);
        int32_t *q = malloc(64 * D * sizeof *q);
        char names[64][32];
        const char *id[64];
        for (int b = 0; b < 1000; b++) {
            for (int i = 0; i < 64 * D; i++)
                q[i] = (int32_t)((b * 7 + i * 13) % 61) - 30;
            for (int i = 0; i < 64; i++) {
                snprintf(names[i], 32, "k%d_%d", b, i);
                id[i] = names[i];
            }
            hers_store_enroll_opts o;
            hers_store_enroll_opts_default(&o);
            o.threads = 1;
            if (hers_store_enroll(db, SK, NULL, q, 64, D, id, &o, NULL) != HERS_OK)
                _exit(3);
            unsigned char c = (unsigned char)b;
            if (write(fds[1], &c, 1) != 1)
                _exit(4);
        }
        _exit(0);
    }
    close(fds[1]);
    int got = 0;
    unsigned char c;
    while (got < acks && read(fds[0], &c, 1) == 1)
        got++;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    while (read(fds[0], &c, 1) == 1)   /* acknowledged before the kill landed */
        got++;
    close(fds[0]);
    return got;
}

/* Payloads in segments.dat: an old-format database (payloads inside LMDB,
 * written with HERS_STORE_PAYLOADS=lmdb) stays readable and takes new
 * segments in the file (blocks summed across both kinds); an uncommitted
 * tail is ignored and truncated by the next writer; a writer killed
 * mid-stream loses nothing it acknowledged; a truncated or flipped file
 * gives an error, never a crash; compaction beside an open snapshot. */
static void payload_file_cases(const char *dir, int quick)
{
    char path[300];
    snprintf(path, sizeof path, "%s/dbpay", dir);
    memset(live, 0, sizeof live);
    CHECK_OK(hers_store_create(path, P, PK, RK, NULL, 0));
    hers_store *db = NULL;
    setenv("HERS_STORE_PAYLOADS", "lmdb", 1);
    CHECK_OK(hers_store_open(path, 0, &db));
    if (!db)
        return;
    enroll(db, 100, "o", 0, 0);
    enroll(db, 1100, "p", 1, 0);
    hers_store_close(db);
    unsetenv("HERS_STORE_PAYLOADS");
    CHECK(file_size_of(path, "segments.dat") <= 0);   /* old format: all inside data.mdb */
    CHECK_OK(hers_store_open(path, 0, &db));
    verify(db, 0);
    verify(db, 1);
    enroll(db, 300, "q", 0, 0);   /* shares its first block with a version 1 segment */
    enroll(db, quick ? 900 : 2000, "r", 1, 0);
    check_db(db);
    verify(db, 0);
    verify(db, 1);
    hers_store_close(db);
    uint64_t end = payload_end(path);
    CHECK(end > 0 && end % 4096 == 0);
    CHECK_EQ_U64((uint64_t)file_size_of(path, "segments.dat"), end);
    CHECK_OK(hers_store_open(path, 1, &db));   /* read-only: both kinds */
    verify(db, 2);
    hers_store_close(db);

    /* an uncommitted tail: ignored by readers, truncated by the next writer */
    append_garbage(path, ((size_t)1 << 20) + 1);
    setenv("HERS_STORE_NO_BGSYNC", "1", 1);   /* the commit's own fdatasync alone */
    CHECK_OK(hers_store_open(path, 0, &db));
    check_db(db);
    verify(db, 1);
    enroll(db, 5, "t", 0, 0);
    uint64_t end2 = payload_end(path);
    CHECK(end2 > end && end2 < end + ((uint64_t)1 << 20));
    CHECK_EQ_U64((uint64_t)file_size_of(path, "segments.dat"), end2);
    CHECK_EQ_U64(db->pay->syncs_background, 0);
    verify(db, 0);
    hers_store_close(db);
    unsetenv("HERS_STORE_NO_BGSYNC");

    /* a writer killed (SIGKILL) mid-stream: every acknowledged batch is
     * there, check passes, the next writer truncates whatever it left */
    int acked = killed_writer(path, quick ? 2 : 4);
    CHECK(acked >= (quick ? 2 : 4));
    fprintf(stderr, "  killed writer: %d batches acknowledged, segments.dat %lld bytes, committed "
                    "end %llu\n", acked, (long long)file_size_of(path, "segments.dat"),
            (unsigned long long)payload_end(path));
    CHECK_OK(hers_store_open(path, 0, &db));
    check_db(db);
    hers_store_snapshot *s = NULL;
    CHECK_OK(hers_store_snapshot_open(db, &s));
    char **kids = NULL;
    size_t nk = 0;
    if (s) {
        uint64_t n = hers_store_snapshot_slots(s), found = 0;
        kids = calloc(n ? n : 1, sizeof *kids);
        for (uint64_t x = 0; x < n && kids; x++) {
            const char *id = hers_store_snapshot_id(s, x);
            int b = -1, i = -1;
            if (!id || sscanf(id, "k%d_%d", &b, &i) != 2)
                continue;
            found += b < acked;
            kids[nk++] = strdup(id);
        }
        CHECK_EQ_U64(found, (uint64_t)acked * 64);
        hers_store_snapshot_close(s);
    }
    /* the model does not know the killed writer's rows: delete them */
    if (kids && nk)
        CHECK_OK(hers_store_delete(db, (const char *const *)kids, nk));
    for (size_t i = 0; i < nk; i++)
        free(kids[i]);
    free(kids);
    verify(db, 0);
    enroll(db, 3, "u", 0, 0);
    CHECK_EQ_U64((uint64_t)file_size_of(path, "segments.dat"), payload_end(path));
    check_db(db);

    /* compaction beside a reader: a snapshot of another handle keeps
     * searching exactly what it saw while the key holder re-encrypts
     * everything and drops the old segments; holes only once it closes */
    hers_store *reader = NULL;
    hers_store_snapshot *rs = NULL;
    CHECK_OK(hers_store_open(path, 1, &reader));
    if (reader)
        CHECK_OK(hers_store_snapshot_open(reader, &rs));
    int32_t probe[D];
    size_t first_live = 0;
    while (first_live < MAXS && !live[first_live])
        first_live++;
    memcpy(probe, vals + first_live * D, sizeof probe);
    hers_query *q = NULL;
    CHECK_OK(hers_query_encrypt(P, SK, NULL, probe, 1, D, 125, NULL, &q));
    hers_store_search_opts so;
    hers_store_search_opts_default(&so);
    so.threads = 2;
    so.chunk_blocks = 1;
    hers_result *r0 = NULL, *r1 = NULL;
    uint8_t *b0 = NULL, *b1 = NULL;
    size_t l0 = 0, l1 = 0;
    if (rs && q)
        CHECK_OK(hers_store_search(rs, NULL, q, &so, &r0, NULL));
    hers_store_compact_stats cs;
    CHECK_OK(hers_store_compact(db, SK, 2, &cs));
    CHECK(cs.shrunk == 0);   /* the reader's handle is open */
    if (rs && q) {
        CHECK_OK(hers_store_search(rs, NULL, q, &so, &r1, NULL));
        CHECK_OK(hers_result_serialize(P, r0, &b0, &l0));
        CHECK_OK(hers_result_serialize(P, r1, &b1, &l1));
        CHECK(l0 == l1 && b0 && b1 && memcmp(b0, b1, l0) == 0);
    }
    hers_free(b0);
    hers_free(b1);
    hers_result_free(r0);
    hers_result_free(r1);
    hers_query_free(q);
    hers_store_snapshot_close(rs);
    hers_store_close(reader);
    /* the model after a dense re-encryption: live rows in slot order */
    size_t j = model_compact();
    CHECK_EQ_U64(info_of(db).live, j);
    verify(db, 1);
    check_db(db);
    hers_store_info in = info_of(db);
    CHECK_OK(hers_store_compact(db, NULL, 1, &cs));   /* alone now: shrinks, punches holes */
    CHECK(cs.shrunk == 1);
    CHECK(cs.file_after < in.file_bytes);
    check_db(db);
    hers_store_close(db);

    /* corruption of segments.dat: a flipped byte (checksum), a truncated file */
    char cp[400], cmd[1600];
    snprintf(cp, sizeof cp, "%s/dbpay_trunc", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && truncate -s %lld '%s/segments.dat'", path, cp,
             (long long)(file_size_of(path, "segments.dat") / 2), cp);
    CHECK(system(cmd) == 0);
    CHECK_OK(hers_store_open(cp, 1, &db));
    if (db) {
        seen[0] = '\0';
        uint64_t np = 0;
        CHECK_OK(hers_store_check(db, collect, NULL, &np));
        CHECK(np >= 1 && strstr(seen, "truncated") != NULL);
        hers_store_snapshot *ts = NULL;
        hers_status st = hers_store_snapshot_open(db, &ts);
        hers_query *tq = NULL;
        hers_result *tr = NULL;
        CHECK_OK(hers_query_encrypt(P, SK, NULL, probe, 1, D, 125, NULL, &tq));
        if (st == HERS_OK && tq) {
            st = hers_store_search(ts, NULL, tq, &so, &tr, NULL);
            CHECK(st == HERS_ERR_FORMAT && strstr(hers_last_error(), "truncated"));
        }
        hers_result_free(tr);
        hers_query_free(tq);
        hers_store_snapshot_close(ts);
        hers_store_close(db);
    }
    snprintf(cp, sizeof cp, "%s/dbpay_flip", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", path, cp);
    CHECK(system(cmd) == 0);
    corrupt_stream(cp);
}

/* The first segment's record, located in data.mdb by 32 of its bytes. */
struct locate {
    uint8_t probe[32];
    size_t at, len;
    int got;
};
static hers_status first_segment(void *user, const hers_store_segment *seg)
{
    struct locate *l = user;
    if (!l->got && seg->record_len > 4096) {
        l->at = seg->record_len / 2;
        l->len = seg->record_len;
        memcpy(l->probe, seg->record + l->at, sizeof l->probe);
        l->got = 1;
    }
    return HERS_OK;
}

/* A streamed search of a database with one flipped byte in the middle of a
 * segment's records: with checksums, HERS_ERR_CHECKSUM in every read mode;
 * without, an error or (wrong) scores, never a crash (ASan build). */
static void corrupt_stream(const char *path)
{
    hers_store *db = NULL;
    hers_store_snapshot *s = NULL;
    struct locate l;
    memset(&l, 0, sizeof l);
    CHECK_OK(hers_store_open(path, 1, &db));
    if (!db)
        return;
    CHECK_OK(hers_store_snapshot_open(db, &s));
    CHECK_OK(hers_store_snapshot_segments(s, first_segment, &l));
    hers_store_snapshot_close(s);
    hers_store_close(db);
    CHECK(l.got);
    /* the payload lives in segments.dat (or, written with
     * HERS_STORE_PAYLOADS=lmdb, in data.mdb) */
    uint8_t *hit = NULL;
    for (int which = 0; which < 2 && !hit && l.got; which++) {
        char file[800];
        snprintf(file, sizeof file, "%s/%s", path, which ? "data.mdb" : "segments.dat");
        FILE *f = fopen(file, "r+b");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        uint8_t *all = malloc((size_t)size + 1);
        fseek(f, 0, SEEK_SET);
        CHECK(all && fread(all, 1, (size_t)size, f) == (size_t)size);
        hit = all ? memmem(all, (size_t)size, l.probe, sizeof l.probe) : NULL;
        if (hit) {
            fseek(f, (long)(hit - all), SEEK_SET);
            fputc(hit[0] ^ 0x10, f);
        }
        free(all);
        CHECK(fclose(f) == 0);
    }
    CHECK(hit != NULL);
    if (!hit)
        return;
    db = NULL;
    CHECK_OK(hers_store_open(path, 1, &db));
    if (!db)
        return;
    CHECK_OK(hers_store_snapshot_open(db, &s));
    int32_t probe[D];
    memcpy(probe, vals, sizeof probe);
    hers_query *q = NULL;
    CHECK_OK(hers_query_encrypt(P, SK, NULL, probe, 1, D, 125, NULL, &q));
    for (int io = HERS_STORE_IO_AUTO; io <= HERS_STORE_IO_MAP && q && s; io++)
        for (int skip = 0; skip < 2; skip++) {
            hers_store_search_opts so;
            hers_store_search_opts_default(&so);
            so.threads = 2;
            so.chunk_blocks = 1;
            so.io = io;
            so.skip_checksums = skip;
            hers_result *x = NULL;
            hers_status st = hers_store_search(s, NULL, q, &so, &x, NULL);
            if (!skip)
                CHECK(st == HERS_ERR_CHECKSUM && strstr(hers_last_error(), "checksum"));
            else
                CHECK(st == HERS_OK || st == HERS_ERR_FORMAT);
            CHECK((st == HERS_OK) == (x != NULL));
            hers_result_free(x);
        }
    hers_query_free(q);
    hers_store_snapshot_close(s);
    hers_store_close(db);
}

int main(void)
{
    (void)test_seed();
    int quick = getenv("HERS_TEST_QUICK") != NULL;
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = 1024;
    spec.t = 1032193;
    spec.num_primes = 2;
    spec.prime_bits[0] = spec.prime_bits[1] = 50;
    spec.q_one_mod_t = 1;
    spec.security = HERS_SEC_NONE;
    CHECK_OK(hers_params_create(&P, &spec));
    if (!P)
        return test_finish();
    uint8_t seed[32] = {3};
    seed[1] = (uint8_t)test_rand();
    CHECK_OK(hers_keygen_secret_seeded(P, seed, &SK));
    CHECK_OK(hers_keygen_public(P, SK, &PK));
    CHECK_OK(hers_keygen_relin(P, SK, &RK));

    char dir[] = "/tmp/hers_test_store_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/db", dir);

    /* create, refuse to overwrite, refuse a non-empty foreign directory */
    uint8_t model[16] = {1, 2, 3};
    CHECK_OK(hers_store_create(path, P, PK, RK, NULL, 0));
    CHECK(hers_store_create(path, P, PK, RK, NULL, 0) == HERS_ERR_EXISTS);
    CHECK(hers_store_create(dir, P, PK, RK, NULL, 0) == HERS_ERR_EXISTS);
    char nodb[300];
    snprintf(nodb, sizeof nodb, "%s/none", dir);
    hers_store *db = NULL;
    CHECK(hers_store_open(nodb, 0, &db) == HERS_ERR_NOTFOUND);
    CHECK_OK(hers_store_open(path, 0, &db));
    if (!db)
        return test_finish();
    hers_store_info in = info_of(db);
    CHECK(in.has_gallery == 0 && in.live == 0 && in.N == 1024);
    CHECK(hers_store_max_overlap(db) >= 1);
    fprintf(stderr, "  max overlap per block: %zu\n", hers_store_max_overlap(db));

    /* appends: partial blocks filled by later segments (secret and public key) */
    enroll(db, 100, "a", 0, 0);
    enroll(db, 50, "b", 1, 0);
    enroll(db, quick ? 1100 : 2100, "c", 0, 0);
    enroll(db, 7, "e", 1, 0);
    in = info_of(db);
    CHECK_EQ_U64(in.live, in.next_slot);
    CHECK(in.segments == 4);
    /* once the file system takes O_DIRECT, every payload byte goes that way,
     * the records' staged tails too: a stage buffer aligned to 64 B only was
     * refused (EINVAL) and turned O_DIRECT off for the handle's later writes */
    if (db->pay && db->pay->fd_direct >= 0) {
        CHECK(!db->pay->no_direct);
        CHECK(db->pay->bytes_direct > 0);
        CHECK_EQ_U64(db->pay->bytes_buffered, 0);
    } else {
        fprintf(stderr, "  %s: no O_DIRECT here; the direct-path check is skipped\n", dir);
    }
    /* the background syncer (session 10) flushed payloads during the
     * enrolments, and every request was served before each commit returned */
    if (db->pay) {
        CHECK(db->pay->syncs_background > 0);
        CHECK_EQ_U64(db->pay->sync_req, db->pay->sync_done);
        CHECK_EQ_U64((uint64_t)db->pay->sync_err, 0);
    }
    check_db(db);
    verify(db, 0);
    verify(db, 1);
    verify(db, 2);
    {   /* a corrupted copy searched in streamed chunks */
        char cp[700], cmd[1500];
        snprintf(cp, sizeof cp, "%s/dbcopy", dir);
        snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", path, cp);
        CHECK(system(cmd) == 0);   /* no write in progress */
        corrupt_stream(cp);
    }

    /* errors leave the database unchanged */
    hers_store_info before = info_of(db);
    int32_t row[2 * D];
    random_rows(row, 2);
    const char *dup[2] = {"a1", "zz"};
    const char *twice[2] = {"zz", "zz"};
    const char *bad[2] = {"ok", "t\tab"};
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    CHECK(hers_store_enroll(db, SK, NULL, row, 2, D, dup, &o, NULL) == HERS_ERR_EXISTS);
    CHECK(hers_store_enroll(db, SK, NULL, row, 2, D, twice, &o, NULL) == HERS_ERR_EXISTS);
    CHECK(hers_store_enroll(db, SK, NULL, row, 2, D, bad, &o, NULL) == HERS_ERR_ARG);
    CHECK(hers_store_enroll(db, SK, NULL, row, 1, D - 1, NULL, &o, NULL) == HERS_ERR_MISMATCH);
    o.scale = 100;
    CHECK(hers_store_enroll(db, SK, NULL, row, 2, D, NULL, &o, NULL) == HERS_ERR_MISMATCH);
    o.scale = 125;
    o.model_id = model;
    o.model_id_len = 16;
    CHECK(hers_store_enroll(db, SK, NULL, row, 2, D, NULL, &o, NULL) == HERS_ERR_MISMATCH);
    o.model_id = NULL;
    o.model_id_len = 0;
    hers_secret_key *other = NULL;
    CHECK_OK(hers_keygen_secret(P, &other));
    CHECK(hers_store_enroll(db, other, NULL, row, 2, D, NULL, &o, NULL) == HERS_ERR_MISMATCH);
    CHECK(hers_store_check_secret_key(db, other) == HERS_ERR_MISMATCH);
    CHECK_OK(hers_store_check_secret_key(db, SK));
    const char *missing[2] = {"a3", "nope"};
    CHECK(hers_store_delete(db, missing, 2) == HERS_ERR_NOTFOUND);
    hers_store_info after = info_of(db);
    CHECK(memcmp(&before, &after, sizeof before) == 0);

    /* delete, replace */
    const char *del[3] = {"a3", "b0", "c5"};
    CHECK_OK(hers_store_delete(db, del, 3));
    for (size_t x = 0; x < MAXS; x++)
        if (live[x] && (!strcmp(ids[x], "a3") || !strcmp(ids[x], "b0") || !strcmp(ids[x], "c5")))
            live[x] = 0;
    enroll(db, 2, "a", 0, 1);   /* replaces a0, a1 */
    in = info_of(db);
    CHECK_EQ_U64(in.live, before.live - 3);
    check_db(db);
    verify(db, 0);

    /* many tiny appends: the overlap limit moves to a fresh block */
    size_t maxov = hers_store_max_overlap(db);
    char pre[32];
    for (size_t i = 0; i < (quick ? 6 : maxov + 3) && i < 80; i++) {
        snprintf(pre, sizeof pre, "s%zu_", i);
        enroll(db, 1, pre, (int)(i & 1), 0);
    }
    check_db(db);
    verify(db, 0);

    /* compaction without keys: drop the segment whose rows are all deleted */
    const char *bs[49];
    char bnames[49][16];
    for (int i = 0; i < 49; i++) {
        snprintf(bnames[i], 16, "b%d", i + 1);
        bs[i] = bnames[i];
    }
    CHECK_OK(hers_store_delete(db, bs, 49));
    for (size_t x = 0; x < MAXS; x++)
        if (live[x] && ids[x][0] == 'b')
            live[x] = 0;
    hers_store_compact_stats cs;
    before = info_of(db);
    CHECK_OK(hers_store_compact(db, NULL, 1, &cs));
    CHECK_EQ_U64(cs.segments_after, cs.segments_before - 1);
    CHECK(cs.shrunk == 1);
    check_db(db);
    verify(db, 0);

    /* compaction by the key holder: dense re-encryption, ids kept */
    CHECK(hers_store_compact(db, other, 1, &cs) == HERS_ERR_MISMATCH);
    CHECK_OK(hers_store_compact(db, SK, 2, &cs));
    in = info_of(db);
    CHECK_EQ_U64(in.next_slot, in.live);
    CHECK_EQ_U64(in.enrolled, in.live);
    CHECK_EQ_U64(cs.slots_after, in.live);
    /* rebuild the model: live rows in slot order get slots 0.. */
    size_t j = model_compact();
    CHECK_EQ_U64(j, in.live);
    check_db(db);
    verify(db, 0);
    enroll(db, 30, "f", 1, 0);
    verify(db, 0);

    /* read-only handle refuses writes; reopen sees the same state */
    hers_store_close(db);
    CHECK_OK(hers_store_open(path, 1, &db));
    CHECK(hers_store_enroll(db, SK, NULL, row, 1, D, NULL, NULL, NULL) == HERS_ERR_STATE);
    check_db(db);
    hers_store_close(db);

    /* a database with a model refuses vectors without it */
    snprintf(path, sizeof path, "%s/db2", dir);
    CHECK_OK(hers_store_create(path, P, PK, NULL, model, 16));
    CHECK_OK(hers_store_open(path, 0, &db));
    CHECK(hers_store_relin_key(db) == NULL);
    CHECK(hers_store_enroll(db, SK, NULL, row, 2, D, NULL, NULL, NULL) == HERS_ERR_MISMATCH);
    o.model_id = model;
    o.model_id_len = 16;
    CHECK_OK(hers_store_enroll(db, SK, NULL, row, 2, D, NULL, &o, NULL));
    check_db(db);
    hers_store_close(db);
    check_detects(path);

    payload_file_cases(dir, quick);

    hers_secret_key_free(other);
    hers_secret_key_free(SK);
    hers_public_key_free(PK);
    hers_relin_key_free(RK);
    hers_params_free(P);

    /* the narrow kernel form (three 30-bit primes, Q = 1 mod t by product):
     * appends filling partial blocks are summed by the narrow index merge */
    memset(live, 0, sizeof live);
    spec.num_primes = 3;
    spec.prime_bits[0] = spec.prime_bits[1] = spec.prime_bits[2] = 30;
    spec.q_one_mod_t = HERS_Q_PRODUCT_ONE_MOD_T;
    P = NULL;
    CHECK_OK(hers_params_create(&P, &spec));
    if (P) {
        CHECK_OK(hers_keygen_secret(P, &SK));
        CHECK_OK(hers_keygen_public(P, SK, &PK));
        CHECK_OK(hers_keygen_relin(P, SK, &RK));
        snprintf(path, sizeof path, "%s/db3", dir);
        CHECK_OK(hers_store_create(path, P, PK, RK, NULL, 0));
        db = NULL;
        CHECK_OK(hers_store_open(path, 0, &db));
        if (db) {
            enroll(db, 100, "a", 0, 0);
            enroll(db, 50, "b", 1, 0);
            enroll(db, quick ? 1100 : 2100, "c", 0, 0);
            in = info_of(db);
            CHECK(in.segments == 3);
            check_db(db);
            verify(db, 0);
            verify(db, 1);
            hers_store_close(db);
        }
        hers_secret_key_free(SK);
        hers_public_key_free(PK);
        hers_relin_key_free(RK);
        hers_params_free(P);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
    return test_finish();
}
