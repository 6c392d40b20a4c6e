/*
 * store_backup.c - hers_store_backup: a consistent copy of a database that
 * may be in use (readers and writers in other processes keep going).
 *
 * The order is what docs/deploy.md's shell recipe does by hand: first the
 * catalog (LMDB's compacting copy from a read snapshot), then the payload
 * file. The copy's catalog references payloads below its own "payload_end"
 * record; segments.dat is append-only and committed records never move, so
 * those bytes are in the live file when the catalog copy is done, and they
 * are copied up to exactly that end (holes stay holes: SEEK_DATA/SEEK_HOLE).
 * While this handle is open, no compaction anywhere can punch holes into the
 * file (that needs the exclusive open lock, store_lock.c), so nothing the
 * copy references can disappear during the copy.
 *
 * Durability: data.mdb and segments.dat of the copy are fsync'ed, then the
 * directory. The output directory must be new or empty.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* SEEK_DATA, SEEK_HOLE */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

#define COPY_CHUNK ((size_t)8 << 20)

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

/* out: created (0700), or an existing empty directory. */
static hers_status make_out(const char *out)
{
    if (mkdir(out, 0700) == 0)
        return HERS_OK;
    if (errno != EEXIST)
        return hers_error(HERS_ERR_IO, "%s: %s", out, strerror(errno));
    DIR *d = opendir(out);
    if (!d)
        return hers_error(HERS_ERR_IO, "%s: %s", out, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty ? HERS_OK
                 : hers_error(HERS_ERR_EXISTS, "%s: exists and is not empty (a backup needs a "
                              "new or empty directory)", out);
}

static hers_status fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return hers_error(HERS_ERR_IO, "%s: fsync: %s", path, strerror(e));
    }
    close(fd);
    return HERS_OK;
}

/* The "payload_end" record of the copied catalog in out/data.mdb. */
static hers_status copy_payload_end(const char *out, uint64_t *end)
{
    *end = 0;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k = {strlen(STORE_META_PAYLOAD_END), (void *)STORE_META_PAYLOAD_END}, v;
    hers_status st = HERS_OK;
    int rc;
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(env, STORE_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(env, out, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
        st = hers_error(HERS_ERR_IO, "%s: reading the copied catalog: %s", out, mdb_strerror(rc));
    else if ((rc = mdb_get(txn, meta, &k, &v)) == 0)
        st = store_payload_end_decode(out, &v, end);
    else if (rc != MDB_NOTFOUND)
        st = hers_error(HERS_ERR_IO, "%s: reading the copied catalog: %s", out, mdb_strerror(rc));
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return st;
}

/* Copies [0, end) of src to the new file dst, holes as holes. */
static hers_status copy_payloads(const char *src, const char *dst, uint64_t end, uint64_t *copied)
{
    *copied = 0;
    hers_status st = HERS_OK;
    uint8_t *buf = NULL;
    int in = open(src, O_RDONLY | O_CLOEXEC), o = -1;
    struct stat sb;
    if (in < 0 || fstat(in, &sb) != 0) {
        st = hers_error(errno == ENOENT ? HERS_ERR_FORMAT : HERS_ERR_IO, "%s: %s", src,
                        errno == ENOENT ? "missing (its segments' payloads live there)"
                                        : strerror(errno));
        goto done;
    }
    if ((uint64_t)sb.st_size < end) {
        st = hers_error(HERS_ERR_FORMAT, "%s holds %llu bytes, its committed payloads end at "
                        "%llu: the file is truncated", src, (unsigned long long)sb.st_size,
                        (unsigned long long)end);
        goto done;
    }
    o = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (o < 0) {
        st = hers_error(HERS_ERR_IO, "%s: %s", dst, strerror(errno));
        goto done;
    }
    if (!(buf = malloc(COPY_CHUNK))) {
        st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", dst);
        goto done;
    }
    uint64_t at = 0;
    while (at < end) {
        off_t d = lseek(in, (off_t)at, SEEK_DATA);
        if (d < 0 && errno == ENXIO)
            break;                                  /* only a hole up to the end */
        if (d < 0) {                                /* no SEEK_DATA: all data */
            d = (off_t)at;
        }
        if ((uint64_t)d >= end)
            break;
        off_t h = lseek(in, d, SEEK_HOLE);
        uint64_t stop = h < 0 || (uint64_t)h > end ? end : (uint64_t)h;
        for (uint64_t p = (uint64_t)d; p < stop;) {
            size_t n = stop - p < COPY_CHUNK ? (size_t)(stop - p) : COPY_CHUNK;
            ssize_t r = pread(in, buf, n, (off_t)p);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                st = hers_error(HERS_ERR_IO, "%s: read: %s", src,
                                r == 0 ? "unexpected end of file" : strerror(errno));
                goto done;
            }
            for (size_t w = 0; w < (size_t)r;) {
                ssize_t x = pwrite(o, buf + w, (size_t)r - w, (off_t)(p + w));
                if (x < 0 && errno == EINTR)
                    continue;
                if (x <= 0) {
                    st = hers_error(HERS_ERR_IO, "%s: write: %s", dst, strerror(errno));
                    goto done;
                }
                w += (size_t)x;
            }
            p += (uint64_t)r;
            *copied += (uint64_t)r;
        }
        at = stop;
    }
    if (ftruncate(o, (off_t)end) != 0 || fsync(o) != 0)
        st = hers_error(HERS_ERR_IO, "%s: %s", dst, strerror(errno));
done:
    free(buf);
    if (in >= 0)
        close(in);
    if (o >= 0 && close(o) != 0 && st == HERS_OK)
        st = hers_error(HERS_ERR_IO, "%s: %s", dst, strerror(errno));
    return st;
}

hers_status hers_store_backup(hers_store *db, const char *out, hers_store_backup_stats *stats)
{
    hers_store_backup_stats dummy;
    if (!stats)
        stats = &dummy;
    memset(stats, 0, sizeof *stats);
    if (!db || !out || !*out)
        return hers_error(HERS_ERR_ARG, "db backup: NULL argument");
    hers_status st = make_out(out);
    if (st != HERS_OK)
        return st;
    char *data = join(out, "data.mdb"), *pdst = join(out, STORE_PAYLOAD_FILE),
         *psrc = join(db->dir, STORE_PAYLOAD_FILE);
    if (!data || !pdst || !psrc) {
        st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", out);
        goto done;
    }
    /* 1. the catalog, from a read snapshot (compacting: free pages are not
     * copied) */
    int rc = mdb_env_copy2(db->env, out, MDB_CP_COMPACT);
    if (rc) {
        st = hers_error(HERS_ERR_IO, "%s: copying the catalog to %s: %s", db->dir, out,
                        mdb_strerror(rc));
        goto done;
    }
    (void)chmod(data, 0600);   /* LMDB creates it 0644 less the umask; the store's files are 0600 */
    if ((st = fsync_path(data, 0)) != HERS_OK)
        goto done;
    struct stat sb;
    if (stat(data, &sb) == 0)
        stats->catalog_bytes = (uint64_t)sb.st_size;
    /* 2. the payloads that catalog references */
    if ((st = copy_payload_end(out, &stats->payload_end)) != HERS_OK)
        goto done;
    if (stats->payload_end &&
        (st = copy_payloads(psrc, pdst, stats->payload_end, &stats->payload_copied)) != HERS_OK)
        goto done;
    st = fsync_path(out, 1);
done:
    free(data);
    free(pdst);
    free(psrc);
    return st;
}
