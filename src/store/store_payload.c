/*
 * store_payload.c - the payload file DIR/segments.dat: where the serialised
 * gallery records of the segments live (98% of a database's bytes), while
 * LMDB keeps the catalog and the segment headers (version 2 headers hold the
 * payload's offset and length; docs/formats.md).
 *
 * Why: enrolment into LMDB wrote every byte into fresh memory twice (LMDB's
 * dirty overflow pages, then the page cache at commit), and on this kind of
 * VM a first write to a page runs at ~0.1-0.25 GB/s against 5-15 GB/s for
 * memory written before (docs/design.md, "Enrolment: the fresh-page bound").
 * Here the records go from the enrolment pipeline's warm, reused buffers to
 * the disk with O_DIRECT: no page cache, no fresh pages.
 *
 * Durability and crash safety. The file is append-only: each payload starts
 * at a multiple of PAY_ALIGN past the committed end (meta record
 * "payload_end"), written before the LMDB transaction that references it;
 * store_payload_commit fdatasyncs the file and records the new end in the
 * same transaction, just before it commits. A writer killed in between
 * leaves an unreferenced tail past the committed end, which the next write
 * transaction truncates (it holds LMDB's writer lock, so no other writer
 * appends meanwhile, and no reader references bytes past a committed end).
 * Bytes a committed segment references are never overwritten or truncated;
 * compaction punches holes only where no segment points and only while no
 * other handle anywhere has the database open (store_compact.c).
 *
 * Reading: the file is mapped read-only (MAP_SHARED, as large as LMDB's
 * map, so it never needs remapping while it grows) and every offset and
 * length read from a header is checked against the file's size before the
 * view is handed out: a truncated file gives an error, never SIGBUS.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* O_DIRECT, fallocate */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hers/hers_mem.h"
#include "store/store_internal.h"

/* Bytes staged per write when the source buffer is not aligned. */
#define PAY_STAGE ((size_t)1 << 20)

static char *pay_path(const hers_store *db)
{
    size_t n = strlen(db->dir);
    char *p = malloc(n + sizeof "/" STORE_PAYLOAD_FILE);
    if (p) {
        memcpy(p, db->dir, n);
        memcpy(p + n, "/" STORE_PAYLOAD_FILE, sizeof "/" STORE_PAYLOAD_FILE);
    }
    return p;
}

hers_status store_payload_init(hers_store *db)
{
    store_payload *y = calloc(1, sizeof *y);
    if (!y)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    pthread_mutex_init(&y->mu, NULL);
    pthread_mutex_init(&y->sync_mu, NULL);
    pthread_cond_init(&y->sync_cv, NULL);
    y->fd = y->fd_direct = -1;
    atomic_init(&y->size, 0);
    atomic_init(&y->mapped, 0);
    const char *env = getenv("HERS_STORE_PAYLOADS");
    y->inline_writes = env && !strcmp(env, "lmdb");
    db->pay = y;
    return HERS_OK;
}

void store_payload_free(hers_store *db)
{
    store_payload *y = db->pay;
    if (!y)
        return;
    if (y->sync_started) {
        pthread_mutex_lock(&y->sync_mu);
        y->sync_stop = 1;
        pthread_cond_broadcast(&y->sync_cv);
        pthread_mutex_unlock(&y->sync_mu);
        pthread_join(y->sync_tid, NULL);
    }
    pthread_cond_destroy(&y->sync_cv);
    pthread_mutex_destroy(&y->sync_mu);
    if (y->map)
        munmap((void *)y->map, STORE_MAP_SIZE);
    if (y->fd >= 0)
        close(y->fd);
    if (y->fd_direct >= 0)
        close(y->fd_direct);
    free(y->stage);
    pthread_mutex_destroy(&y->mu);
    free(y);
    db->pay = NULL;
}

/* Opens (create: creating it) and maps the file, under y->mu. */
static hers_status open_locked(const hers_store *db, int create)
{
    store_payload *y = db->pay;
    if (y->fd >= 0 && y->map)
        return HERS_OK;
    char *path = pay_path(db);
    if (!path)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    hers_status st = HERS_OK;
    int created = 0;
    if (y->fd < 0) {
        int fl = db->readonly ? O_RDONLY : O_RDWR;
        y->fd = open(path, fl | O_CLOEXEC);
        if (y->fd < 0 && errno == ENOENT && create && !db->readonly) {
            y->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            created = y->fd >= 0;
            if (y->fd < 0 && errno == EEXIST)   /* another writer made it */
                y->fd = open(path, O_RDWR | O_CLOEXEC);
        }
        if (y->fd < 0) {
            st = hers_error(errno == ENOENT ? HERS_ERR_FORMAT : HERS_ERR_IO,
                            "%s: %s", path,
                            errno == ENOENT ? "missing (its segments' payloads live there)"
                                            : strerror(errno));
            goto done;
        }
        if (created) {   /* the new name must survive a crash too */
            int dfd = open(db->dir, O_RDONLY | O_CLOEXEC);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
        }
    }
    if (!y->map) {
        void *m = mmap(NULL, STORE_MAP_SIZE, PROT_READ, MAP_SHARED, y->fd, 0);
        if (m == MAP_FAILED) {
            st = hers_error(HERS_ERR_IO, "%s: mmap: %s", path, strerror(errno));
            goto done;
        }
        y->map = m;
        atomic_store(&y->mapped, 1);
    }
done:
    free(path);
    return st;
}

/* The file's size, refreshed. */
static hers_status refresh_size(const hers_store *db, uint64_t *size)
{
    struct stat sb;
    if (fstat(db->pay->fd, &sb) != 0)
        return hers_error(HERS_ERR_IO, "%s/%s: %s", db->dir, STORE_PAYLOAD_FILE, strerror(errno));
    *size = (uint64_t)sb.st_size;
    atomic_store(&db->pay->size, *size);
    return HERS_OK;
}

hers_status store_payload_view(const hers_store *db, uint64_t key, uint64_t off, uint64_t len,
                               const uint8_t **out)
{
    store_payload *y = db->pay;
    *out = NULL;
    hers_status st = HERS_OK;
    if (!atomic_load(&y->mapped)) {
        pthread_mutex_lock(&y->mu);
        st = open_locked(db, 0);
        pthread_mutex_unlock(&y->mu);
        if (st != HERS_OK)
            return st;
    }
    uint64_t size = atomic_load(&y->size);
    if (off > STORE_MAP_SIZE || len > STORE_MAP_SIZE - off)
        return hers_error(HERS_ERR_FORMAT, "%s: segment %llu: payload offset out of range",
                          db->dir, (unsigned long long)key);
    if (off + len > size && (st = refresh_size(db, &size)) != HERS_OK)
        return st;
    if (off + len > size)
        return hers_error(HERS_ERR_FORMAT,
                          "%s: segment %llu: payload [%llu, %llu) lies past the end of %s "
                          "(%llu bytes): the file is truncated",
                          db->dir, (unsigned long long)key, (unsigned long long)off,
                          (unsigned long long)(off + len), STORE_PAYLOAD_FILE,
                          (unsigned long long)size);
    *out = y->map + off;
    return HERS_OK;
}

int store_payload_fd(const hers_store *db) { return db->pay->fd; }

const uint8_t *store_payload_map(const hers_store *db) { return db->pay->map; }

/* ------------------------------------------------------------ writing */

hers_status store_payload_end_read(hers_store *db, MDB_txn *txn, uint64_t *end)
{
    MDB_val k = {strlen(STORE_META_PAYLOAD_END), (void *)STORE_META_PAYLOAD_END}, v;
    *end = 0;
    int rc = mdb_get(txn, db->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return HERS_OK;
    if (rc)
        return store_mdb_error(db, rc, "payload end");
    return store_payload_end_decode(db->dir, &v, end);
}

void store_payload_end_encode(uint8_t b[16], uint64_t end)
{
    memcpy(b, "HPAY", 4);
    hers_le_put_u32(b + 4, 1);
    hers_le_put_u64(b + 8, end);
}

hers_status store_payload_end_decode(const char *dir, const MDB_val *v, uint64_t *end)
{
    const uint8_t *b = v->mv_data;
    *end = 0;
    if (v->mv_size != 16 || memcmp(b, "HPAY", 4) != 0 || hers_le_get_u32(b + 4) != 1 ||
        hers_le_get_u64(b + 8) % STORE_PAYLOAD_ALIGN != 0 ||
        hers_le_get_u64(b + 8) > STORE_MAP_SIZE)
        return hers_error(HERS_ERR_FORMAT, "%s: payload end record malformed", dir);
    *end = hers_le_get_u64(b + 8);
    return HERS_OK;
}

void store_payload_begin(hers_store *db)
{
    db->pay->active = 0;
    db->pay->dirty = 0;
    db->pay->t_wait = db->pay->t_payload = db->pay->t_catalog = db->pay->t_commit = 0;
    db->pay->t_commit_sync = 0;
}

int store_payload_inline(const hers_store *db) { return db->pay->inline_writes; }

/* ---- the background syncer. Every append asks for an fdatasync of the
 * file; the syncer thread serves the requests (one fdatasync covers all the
 * requests made before it began) while the writer goes on with the next
 * segment. The commit (store_payload_commit) waits until every request is
 * served before LMDB's commit records the new end: the last request's
 * fdatasync began after the transaction's last write returned, so it covers
 * all of them, as the commit's own fdatasync did (still made when there is
 * no syncer thread). The syncs move the flushing of the payload bytes
 * (proportional to the bytes on this kind of VM disk: docs/design.md,
 * "Where an enrolment's commit goes") off the commit's critical path. A
 * failed background sync fails the commit (Linux reports a write-back error
 * to one fdatasync per open file only). */
static void *syncer_main(void *arg)
{
    store_payload *y = arg;
    pthread_mutex_lock(&y->sync_mu);
    for (;;) {
        while (!y->sync_stop && y->sync_done == y->sync_req)
            pthread_cond_wait(&y->sync_cv, &y->sync_mu);
        if (y->sync_done == y->sync_req)
            break;   /* stop, nothing pending */
        uint64_t r = y->sync_req;
        int fd = y->fd;
        pthread_mutex_unlock(&y->sync_mu);
        int rc = fdatasync(fd), e = errno;
        pthread_mutex_lock(&y->sync_mu);
        if (rc != 0 && !y->sync_err)
            y->sync_err = e ? e : EIO;
        y->syncs_background++;
        y->sync_done = r;
        pthread_cond_broadcast(&y->sync_cv);
    }
    pthread_mutex_unlock(&y->sync_mu);
    return NULL;
}

/* Asks for a background fdatasync of what has been written; 1 if asked
 * (0: no syncer thread). */
static int sync_request(store_payload *y)
{
    if (!y->sync_started) {
        if (getenv("HERS_STORE_NO_BGSYNC"))   /* the benches' "before" arm */
            return 0;
        y->sync_stop = 0;
        if (pthread_create(&y->sync_tid, NULL, syncer_main, y) != 0)
            return 0;
        y->sync_started = 1;
    }
    pthread_mutex_lock(&y->sync_mu);
    y->sync_req++;
    pthread_cond_signal(&y->sync_cv);
    pthread_mutex_unlock(&y->sync_mu);
    return 1;
}

/* Waits until every request is served; returns and clears the errno of a
 * failed background sync (0 if none). */
static int sync_wait(store_payload *y)
{
    if (!y->sync_started)
        return 0;
    pthread_mutex_lock(&y->sync_mu);
    while (y->sync_done != y->sync_req)
        pthread_cond_wait(&y->sync_cv, &y->sync_mu);
    int e = y->sync_err;
    y->sync_err = 0;
    pthread_mutex_unlock(&y->sync_mu);
    return e;
}

/* First append of a write transaction: open the file (created if needed),
 * truncate a tail left by a writer that died before committing. */
static hers_status begin_appends(hers_store *db, MDB_txn *txn)
{
    store_payload *y = db->pay;
    uint64_t end = 0, size = 0;
    hers_status st = store_payload_end_read(db, txn, &end);
    if (st != HERS_OK)
        return st;
    pthread_mutex_lock(&y->mu);
    st = open_locked(db, 1);
    pthread_mutex_unlock(&y->mu);
    if (st != HERS_OK || (st = refresh_size(db, &size)) != HERS_OK)
        return st;
    if (size < end)
        return hers_error(HERS_ERR_FORMAT,
                          "%s: %s holds %llu bytes, its committed payloads end at %llu: the file "
                          "is truncated", db->dir, STORE_PAYLOAD_FILE, (unsigned long long)size,
                          (unsigned long long)end);
    (void)sync_wait(y);   /* an aborted transaction's syncs: about bytes truncated now */
    if (size > end) {   /* the unreferenced tail of a writer that died */
        if (ftruncate(y->fd, (off_t)end) != 0)
            return hers_error(HERS_ERR_IO, "%s/%s: truncating an uncommitted tail: %s", db->dir,
                              STORE_PAYLOAD_FILE, strerror(errno));
        atomic_store(&y->size, end);
    }
#ifdef O_DIRECT
    if (y->fd_direct < 0 && !y->no_direct) {
        char *path = pay_path(db);
        if (!path)
            return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
        y->fd_direct = open(path, O_WRONLY | O_CLOEXEC | O_DIRECT);
        if (y->fd_direct < 0)   /* tmpfs and friends: EINVAL; buffered writes then */
            y->no_direct = 1;
        free(path);
    }
#else
    y->no_direct = 1;
#endif
    y->wpos = end;
    y->active = 1;
    y->sync_covered = 0;
    y->dirty = 0;
    return HERS_OK;
}

static int pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

/* Writes len bytes (a multiple of PAY_ALIGN when direct) at off. */
static hers_status write_at(hers_store *db, const uint8_t *buf, size_t len, uint64_t off)
{
    store_payload *y = db->pay;
    if (y->fd_direct >= 0 && !y->no_direct) {
        if (pwrite_full(y->fd_direct, buf, len, off) == 0) {
            y->bytes_direct += len;
            return HERS_OK;
        }
        if (errno != EINVAL)
            goto fail;
        y->no_direct = 1;   /* the file system refused O_DIRECT after all */
    }
    if (pwrite_full(y->fd, buf, len, off) == 0) {
        y->bytes_buffered += len;
        return HERS_OK;
    }
fail:;
    int e = errno;
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return hers_error(HERS_ERR_IO, "%s: writing %s: no space left on device%s (the database "
                          "is unchanged)", db->dir, STORE_PAYLOAD_FILE,
                          e == EFBIG ? ": file size limit" : e == EDQUOT ? ": disk quota" : "");
    return hers_error(HERS_ERR_IO, "%s: writing %s: %s", db->dir, STORE_PAYLOAD_FILE,
                      strerror(e));
}

static hers_status payload_append(hers_store *db, MDB_txn *txn, const uint8_t *buf, size_t len,
                                  uint64_t *off);

double store_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

hers_status store_payload_append(hers_store *db, MDB_txn *txn, const uint8_t *buf, size_t len,
                                 uint64_t *off)
{
    double t0 = store_now();
    hers_status r = payload_append(db, txn, buf, len, off);
    db->pay->t_payload += store_now() - t0;
    return r;
}

static hers_status payload_append(hers_store *db, MDB_txn *txn, const uint8_t *buf, size_t len,
                                  uint64_t *off)
{
    store_payload *y = db->pay;
    hers_status st;
    if (!y->active && (st = begin_appends(db, txn)) != HERS_OK)
        return st;
    const size_t A = STORE_PAYLOAD_ALIGN;
    uint64_t at = y->wpos;
    size_t whole = len / A * A, rest = len - whole;
    size_t padded = whole + (rest ? A : 0);
    if (at > STORE_MAP_SIZE || padded > STORE_MAP_SIZE - at)
        return hers_error(HERS_ERR_ARG, "%s: %s would exceed %llu bytes", db->dir,
                          STORE_PAYLOAD_FILE, (unsigned long long)STORE_MAP_SIZE);
    /* the aligned bulk straight from the caller's buffer when it is
     * aligned (the enrolment pipeline's records are: 2 MiB), else staged */
    size_t done = 0;
    if (((uintptr_t)buf & (A - 1)) == 0 && whole) {
        if ((st = write_at(db, buf, whole, at)) != HERS_OK)
            return st;
        done = whole;
    }
    if (done < len && !y->stage) {
        /* aligned like the writes: hers_alloc aligns only to 64 B below
         * 4 MiB, O_DIRECT refused such a buffer (EINVAL) and write_at then
         * turned O_DIRECT off for the rest of the handle */
        if (!(y->stage = aligned_alloc(A, PAY_STAGE)))
            return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    }
    while (done < len) {
        size_t n = len - done < PAY_STAGE ? len - done : PAY_STAGE;
        size_t w = (n + A - 1) / A * A;
        memcpy(y->stage, buf + done, n);
        memset(y->stage + n, 0, w - n);
        if ((st = write_at(db, y->stage, w, at + done)) != HERS_OK)
            return st;
        done += n;
    }
    y->wpos = at + padded;
    y->dirty = 1;
    *off = at;
    /* the last append's request covers every write of the transaction */
    y->sync_covered = sync_request(y);
    return HERS_OK;
}

hers_status store_payload_commit(hers_store *db, MDB_txn *txn)
{
    store_payload *y = db->pay;
    if (!y->active || !y->dirty)
        return HERS_OK;
    double t0 = store_now();
    /* every request served: the last one's fdatasync began after the
     * transaction's last write returned, so it made all of them durable
     * (and a truncated tail's new size); else the commit's own */
    int e = sync_wait(y);
    if (!e && !y->sync_covered && fdatasync(y->fd) != 0)
        e = errno;
    y->t_commit_sync += store_now() - t0;
    if (e) {
        y->active = y->dirty = 0;
        return hers_error(HERS_ERR_IO, "%s/%s: fdatasync: %s", db->dir, STORE_PAYLOAD_FILE,
                          strerror(e));
    }
    atomic_store(&y->size, y->wpos);
    uint8_t b[16];
    store_payload_end_encode(b, y->wpos);
    MDB_val k = {strlen(STORE_META_PAYLOAD_END), (void *)STORE_META_PAYLOAD_END}, v = {sizeof b, b};
    int rc = mdb_put(txn, db->meta, &k, &v, 0);
    y->active = 0;
    y->dirty = 0;
    return rc ? store_mdb_error(db, rc, "writing the payload end") : HERS_OK;
}

hers_status store_txn_commit(hers_store *db, MDB_txn *txn)
{
    double t0 = store_now();
    hers_status st = store_payload_commit(db, txn);
    if (st != HERS_OK) {
        mdb_txn_abort(txn);
        return st;
    }
    int rc = mdb_txn_commit(txn);
    db->pay->t_commit += store_now() - t0;
    return rc ? store_mdb_error(db, rc, "commit") : HERS_OK;
}

/* ------------------------------------------------------------ compaction */

static int cmp_range(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

hers_status store_payload_punch(hers_store *db, uint64_t *punched)
{
    *punched = 0;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    uint64_t end = 0;
    hers_status st = store_payload_end_read(db, txn, &end);
    if (st == HERS_OK && end) {
        pthread_mutex_lock(&db->pay->mu);
        st = open_locked(db, 0);
        pthread_mutex_unlock(&db->pay->mu);
    }
    uint64_t *r = NULL;
    size_t n = 0, cap = 0;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    if (st == HERS_OK && end && (rc = mdb_cursor_open(txn, db->segs, &c)) != 0)
        st = store_mdb_error(db, rc, "segments");
    for (rc = c ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : MDB_NOTFOUND; st == HERS_OK && rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_seg sg;
        if ((st = store_seg_decode_entry(db, &k, &v, NULL, &sg)) != HERS_OK)
            break;
        if (!sg.external)
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            uint64_t *nr = realloc(r, nc * 2 * sizeof *nr);
            if (!nr) {
                st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
                break;
            }
            r = nr;
            cap = nc;
        }
        r[2 * n] = sg.payload_off;
        r[2 * n + 1] = (sg.payload_off + sg.gallery_len + STORE_PAYLOAD_ALIGN - 1) /
                       STORE_PAYLOAD_ALIGN * STORE_PAYLOAD_ALIGN;
        n++;
    }
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (st == HERS_OK && end) {
        qsort(r, n, 2 * sizeof *r, cmp_range);
        uint64_t at = 0;
        for (size_t i = 0; i <= n && st == HERS_OK; i++) {
            uint64_t lo = i < n ? r[2 * i] : end;
            if (lo > at) {
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
                if (fallocate(db->pay->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at,
                              (off_t)(lo - at)) == 0)
                    *punched += lo - at;
                else
                    st = hers_error(HERS_ERR_UNSUPPORTED, "%s/%s: punching a hole: %s", db->dir,
                                    STORE_PAYLOAD_FILE, strerror(errno));
#else
                st = hers_error(HERS_ERR_UNSUPPORTED, "%s: no hole punching here", db->dir);
#endif
            }
            if (i < n && r[2 * i + 1] > at)
                at = r[2 * i + 1];
        }
    }
    free(r);
    return st;
}

uint64_t store_payload_disk_bytes(const hers_store *db)
{
    char *path = pay_path(db);
    struct stat sb;
    uint64_t r = path && stat(path, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
    free(path);
    return r;
}
