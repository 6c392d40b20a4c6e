/*
 * store_backup.c - hers_store_backup: a consistent, dense copy of a database
 * that may be in use (readers and writers in other processes keep going).
 *
 * The order is what docs/deploy.md's shell recipe does by hand: first the
 * catalog (LMDB's compacting copy from a read snapshot), then the payloads.
 * The copy's catalog references payloads below its own "payload_end";
 * segments.dat is append-only and committed records never move, so those
 * bytes are in the live file when the catalog copy is done. While this
 * handle is open, no compaction anywhere can punch holes into the file (that
 * needs the exclusive open lock, store_lock.c), so nothing the copy
 * references can disappear during the copy.
 *
 * Unlike the recipe (cp keeps the holes and offsets), the payloads are
 * written densely in segment order and the copy's segment headers and
 * payload_end are rewritten to match: the copy's segments.dat holds only
 * the live records (what a compaction cannot do in place: docs/design.md,
 * "Compaction"). Nobody else has the copy open, so this needs no atomic
 * switch: the payload file is fsync'ed before the copy's catalog commits.
 *
 * Durability: data.mdb and segments.dat of the copy are fsync'ed (LMDB's
 * commit for the rewritten catalog), then the directory. The output
 * directory must be new or empty.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

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

static hers_status copy_mdb_error(const char *out, int rc, const char *what)
{
    return hers_error(rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? HERS_ERR_FORMAT : HERS_ERR_IO,
                      "%s: %s in the copied catalog: %s", out, what, mdb_strerror(rc));
}

/* Writes the payloads the copied catalog (out/data.mdb) references into the
 * new file dst, densely in segment key order (each at the next 4 KiB
 * boundary), and rewrites each version 2 header's offset and payload_end in
 * the copy (one transaction; nobody else has the copy open). The bytes come
 * from the source handle's view of segments.dat, bounds-checked against its
 * size (a truncated source is HERS_ERR_FORMAT). */
static hers_status dense_payloads(hers_store *db, const char *out, const char *dst,
                                  hers_store_backup_stats *stats)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_dbi meta, segs;
    MDB_val k = {strlen(STORE_META_PAYLOAD_END), (void *)STORE_META_PAYLOAD_END}, v;
    hers_status st = HERS_OK;
    int o = -1, rc;
    uint64_t end = 0, pos = 0;
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(env, STORE_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(env, out, MDB_NOLOCK | MDB_NOTLS, 0600)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "segments", 0, &segs)) != 0) {
        st = copy_mdb_error(out, rc, "opening");
        goto done;
    }
    if ((rc = mdb_get(txn, meta, &k, &v)) == 0)
        st = store_payload_end_decode(out, &v, &end);
    else if (rc != MDB_NOTFOUND)
        st = copy_mdb_error(out, rc, "payload end");
    if (st != HERS_OK || end == 0)
        goto done;   /* no payload file (payloads inside LMDB, or no gallery) */
    if ((o = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        st = hers_error(HERS_ERR_IO, "%s: %s", dst, strerror(errno));
        goto done;
    }
    if ((rc = mdb_cursor_open(txn, segs, &c)) != 0) {
        st = copy_mdb_error(out, rc, "segments");
        goto done;
    }
    MDB_val sk, sv;
    for (rc = mdb_cursor_get(c, &sk, &sv, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &sk, &sv, MDB_NEXT)) {
        store_seg sg;
        uint64_t key = 0;
        if ((st = store_seg_decode_entry(db, &sk, &sv, &key, &sg)) != HERS_OK)
            break;
        if (!sg.external)
            continue;
        if (sg.payload_off + sg.gallery_len > end) {
            st = hers_error(HERS_ERR_FORMAT, "%s: segment %llu: payload past the committed end",
                            db->dir, (unsigned long long)key);
            break;
        }
        for (uint64_t w = 0; w < sg.gallery_len;) {
            ssize_t x = pwrite(o, sg.gallery + w, (size_t)(sg.gallery_len - w), (off_t)(pos + w));
            if (x < 0 && errno == EINTR)
                continue;
            if (x <= 0) {
                st = hers_error(HERS_ERR_IO, "%s: write: %s", dst, strerror(errno));
                goto done;
            }
            w += (uint64_t)x;
        }
        stats->payload_copied += sg.gallery_len;
        sg.payload_off = pos;
        pos += (sg.gallery_len + STORE_PAYLOAD_ALIGN - 1) / STORE_PAYLOAD_ALIGN * STORE_PAYLOAD_ALIGN;
        uint8_t h[STORE_SEG_HEADER];
        store_seg_encode(&sg, h);
        MDB_val nv = {sizeof h, h};
        if ((rc = mdb_cursor_put(c, &sk, &nv, MDB_CURRENT)) != 0) {
            st = copy_mdb_error(out, rc, "rewriting a segment header");
            goto done;
        }
    }
    if (st == HERS_OK && rc != MDB_NOTFOUND)
        st = copy_mdb_error(out, rc, "segments");
    if (st != HERS_OK)
        goto done;
    mdb_cursor_close(c);
    c = NULL;
    uint8_t b[16];
    store_payload_end_encode(b, pos);
    MDB_val ev = {sizeof b, b};
    if (ftruncate(o, (off_t)pos) != 0 || fsync(o) != 0) {
        st = hers_error(HERS_ERR_IO, "%s: %s", dst, strerror(errno));
        goto done;
    }
    /* the payloads are durable before the catalog that references them */
    if ((rc = mdb_put(txn, meta, &k, &ev, 0)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        st = copy_mdb_error(out, rc, "commit");
        goto done;
    }
    txn = NULL;
    stats->payload_end = pos;
done:
    if (c)
        mdb_cursor_close(c);
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
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
    char *data = store_path_join(out, "data.mdb");
    char *pdst = store_path_join(out, STORE_PAYLOAD_FILE);
    if (!data || !pdst) {
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
    /* 2. the payloads that catalog references, densely; the copy's headers
     * and payload_end follow */
    if ((st = dense_payloads(db, out, pdst, stats)) != HERS_OK)
        goto done;
    if (stat(data, &sb) == 0)
        stats->catalog_bytes = (uint64_t)sb.st_size;
    st = fsync_path(out, 1);
done:
    free(data);
    free(pdst);
    return st;
}
