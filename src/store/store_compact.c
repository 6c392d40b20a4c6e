/*
 * store_compact.c - hers_store_compact: dropping dead segments (anyone), dense
 * re-encryption of the live templates (key holder), and shrinking data.mdb
 * with LMDB's compacting copy when no other handle has it open (store_lock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hers/hers_mem.h"
#include "search/search_merge.h"
#include "store/store_internal.h"

static uint64_t file_size(const hers_store *db)
{
    char *p = store_path_join(db->dir, "data.mdb");
    struct stat sb;
    uint64_t r = p && stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    free(p);
    return r + store_payload_disk_bytes(db);
}

/* 1 if any slot of [first, end) is live. */
static int any_live(MDB_cursor *sc, uint64_t first, uint64_t end)
{
    uint8_t kb[8];
    hers_be_put_u64(kb, first);
    MDB_val k = {8, kb}, v;
    if (mdb_cursor_get(sc, &k, &v, MDB_SET_RANGE) != 0 || k.mv_size != 8)
        return 0;
    return hers_be_get_u64(k.mv_data) < end;
}

/* Key holder: decrypt every live row (slot order) and re-enrol densely. */
static hers_status reencrypt_all(hers_store *db, MDB_txn *txn, store_state *st,
                                 const hers_secret_key *sk, unsigned threads)
{
    size_t d = st->d, live = (size_t)st->live;
    int32_t *vals = NULL, *tmp = NULL;
    char **ids = NULL;
    size_t tmp_rows = 0, got = 0;
    MDB_cursor *c = NULL, *sc = NULL;
    hers_status s = HERS_OK;
    int rc;
    if (live) {
        vals = hers_alloc_array(live, d * sizeof(int32_t));
        ids = calloc(live, sizeof *ids);
        if (!vals || !ids) {
            s = hers_error(HERS_ERR_NOMEM, "%s: out of memory for %zu templates", db->dir, live);
            goto done;
        }
    }
    if ((rc = mdb_cursor_open(txn, db->segs, &c)) != 0 ||
        (rc = mdb_cursor_open(txn, db->slots, &sc)) != 0) {
        s = store_mdb_error(db, rc, "cursors");
        goto done;
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && live;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_seg sg;
        uint64_t key;
        if ((s = store_seg_decode_entry(db, &k, &v, &key, &sg)) != HERS_OK)
            goto done;
        if (!any_live(sc, sg.first_slot, sg.first_slot + sg.rows))
            continue;
        hers_gallery *g = NULL;
        if ((s = hers_gallery_deserialize(db->p, sg.gallery, (size_t)sg.gallery_len, &g)) !=
            HERS_OK)
            goto done;
        size_t rows = hers_gallery_n(g);
        if (rows != (size_t)sg.offset + sg.rows || hers_gallery_d(g) != d) {
            hers_gallery_free(g);
            s = hers_error(HERS_ERR_FORMAT, "%s: segment %llu: shape mismatch", db->dir,
                           (unsigned long long)key);
            goto done;
        }
        if (rows > tmp_rows) {
            hers_free_secret(tmp, tmp_rows * d * sizeof(int32_t));
            tmp = hers_alloc_array(rows, d * sizeof(int32_t));
            tmp_rows = tmp ? rows : 0;
            if (!tmp) {
                hers_gallery_free(g);
                s = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
                goto done;
            }
        }
        s = hers_gallery_decrypt(db->p, sk, g, tmp);
        hers_gallery_free(g);
        if (s != HERS_OK)
            goto done;
        /* walk the live slots of this segment */
        uint8_t kb[8];
        hers_be_put_u64(kb, sg.first_slot);
        MDB_val sk2 = {8, kb}, sv;
        for (rc = mdb_cursor_get(sc, &sk2, &sv, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(sc, &sk2, &sv, MDB_NEXT)) {
            uint64_t x = hers_be_get_u64(sk2.mv_data);
            if (x >= sg.first_slot + sg.rows)
                break;
            if (got >= live || sv.mv_size < 2) {
                s = hers_error(HERS_ERR_FORMAT, "%s: catalog inconsistent (run hers check)",
                               db->dir);
                goto done;
            }
            memcpy(vals + got * d, tmp + ((size_t)(x - sg.first_slot) + sg.offset) * d,
                   d * sizeof(int32_t));
            ids[got] = strndup(sv.mv_data, sv.mv_size - 1);
            if (!ids[got]) {
                s = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
                goto done;
            }
            got++;
        }
    }
    if (got != live) {
        s = hers_error(HERS_ERR_FORMAT, "%s: %zu live templates found in segments, state says %zu "
                       "(run hers check)", db->dir, got, live);
        goto done;
    }
    mdb_cursor_close(c);
    mdb_cursor_close(sc);
    c = sc = NULL;
    /* replace everything */
    if ((rc = mdb_drop(txn, db->segs, 0)) != 0 || (rc = mdb_drop(txn, db->ids, 0)) != 0 ||
        (rc = mdb_drop(txn, db->slots, 0)) != 0) {
        s = store_mdb_error(db, rc, "emptying the tables");
        goto done;
    }
    st->next_slot = 0;
    st->live = 0;
    st->enrolled = 0;
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.mode = (hers_search_mode)st->mode;
    eo.scale = st->scale;
    eo.packing = (hers_packing)st->packing;
    eo.threads = threads;
    int enc = st->mode == HERS_MODE_BOTH_ENCRYPTED;
    uint64_t per = store_segment_blocks(db->p, d) * hers_params_n(db->p);
    for (size_t at = 0; at < live; at += (size_t)per) {
        size_t m = live - at < per ? live - at : (size_t)per;
        if ((s = store_put_segment(db, txn, st, enc ? sk : NULL, NULL, vals + at * d, m, d, at,
                                   (const char *const *)(ids + at), &eo)) != HERS_OK)
            goto done;
    }
done:
    if (c)
        mdb_cursor_close(c);
    if (sc)
        mdb_cursor_close(sc);
    hers_free_secret(vals, live * d * sizeof(int32_t));
    hers_free_secret(tmp, tmp_rows * d * sizeof(int32_t));
    if (ids) {
        for (size_t i = 0; i < live; i++)
            free(ids[i]);
        free(ids);
    }
    return s;
}

/* Writes a compacted copy of data.mdb into DIR/compact.tmp/ (fsync'ed).
 * Not through core/atomic_file.h: the copy is LMDB's own file, written by
 * mdb_env_copy2 (which takes a directory and creates data.mdb in it), and
 * shrink() then takes the same durable steps by hand: fsync the copy,
 * rename it over DIR/data.mdb, fsync DIR. A fixed temporary name
 * (compact.tmp/) rather than mkstemp's lets the next compaction remove the
 * leftovers of a crash, which can be as large as the database. */
static hers_status compacted_copy(hers_store *db, const char *tmpd)
{
    MDB_env *env = NULL;
    int rc;
    hers_status st = HERS_OK;
    if (mkdir(tmpd, 0700) != 0)
        return hers_error(HERS_ERR_IO, "%s: %s", tmpd, strerror(errno));
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(env, STORE_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(env, db->dir, MDB_NOTLS | MDB_RDONLY, 0600)) != 0 ||
        (rc = mdb_env_copy2(env, tmpd, MDB_CP_COMPACT)) != 0)
        st = store_mdb_error(db, rc, "compacting copy");
    if (env)
        mdb_env_close(env);
    char *copy = store_path_join(tmpd, "data.mdb");
    int fd = copy ? open(copy, O_RDONLY) : -1;
    if (st == HERS_OK && (fd < 0 || fsync(fd) != 0))
        st = hers_error(HERS_ERR_IO, "%s: %s", copy ? copy : tmpd, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
    return st;
}

static void remove_tmp(const char *tmpd)
{
    char *a = store_path_join(tmpd, "data.mdb"), *b = store_path_join(tmpd, "lock.mdb");
    if (a)
        remove(a);
    if (b)
        remove(b);
    rmdir(tmpd);
    free(a);
    free(b);
}

/* Replaces data.mdb by a compacted copy when no other handle, in any
 * process, has the database open (store_lock.c: the write lock of
 * hers.lock). Never fails the compaction: when the file cannot be shrunk
 * (open elsewhere, no space for the copy, ...), *note says why and the
 * database stays as the committed compaction left it. Reopens db->env. */
static hers_status shrink(hers_store *db, int *shrunk, char *note, size_t note_cap)
{
    *shrunk = 0;
    char *lock = store_path_join(db->dir, "lock.mdb"), *data = store_path_join(db->dir, "data.mdb"),
         *tmpd = store_path_join(db->dir, "compact.tmp");
    hers_status st = HERS_OK;
    int rc;
    if (!lock || !data || !tmpd) {
        st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
        goto done;
    }
    if (!store_lock_try_exclusive(db)) {
        snprintf(note, note_cap, "the database is open in another process or handle");
        goto done;
    }
    /* No snapshot anywhere can reference a dropped segment's payload now:
     * give its bytes in segments.dat back to the file system (holes; the
     * live payloads keep their offsets). */
    uint64_t punched = 0;
    if (store_payload_punch(db, &punched) != HERS_OK)
        snprintf(note, note_cap, "%s", hers_last_error());
    mdb_env_close(db->env);
    db->env = NULL;
    remove_tmp(tmpd);   /* left over by a crash */
    if (compacted_copy(db, tmpd) != HERS_OK) {
        snprintf(note, note_cap, "%s", hers_last_error());
    } else {
        char *copy = store_path_join(tmpd, "data.mdb");
        if (!copy || rename(copy, data) != 0) {
            snprintf(note, note_cap, "%s: rename: %s", data, strerror(errno));
        } else {
            int dfd = open(db->dir, O_RDONLY);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            /* The lock file describes the old file; nobody has it open. */
            remove(lock);
            *shrunk = 1;
        }
        free(copy);
    }
    remove_tmp(tmpd);
    store_lock_shared(db);
    MDB_env *env = NULL;
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(env, STORE_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(env, db->dir, MDB_NOTLS, 0600)) != 0) {
        if (env)
            mdb_env_close(env);
        st = store_mdb_error(db, rc, "reopening");
    } else {
        db->env = env;   /* dbi handles stay valid: same names, same order */
    }
done:
    free(lock);
    free(data);
    free(tmpd);
    return st;
}

static hers_status reopen_dbis(hers_store *db)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    if ((rc = mdb_dbi_open(txn, "meta", 0, &db->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "ids", 0, &db->ids)) != 0 ||
        (rc = mdb_dbi_open(txn, "slots", 0, &db->slots)) != 0 ||
        (rc = mdb_dbi_open(txn, "segments", 0, &db->segs)) != 0) {
        mdb_txn_abort(txn);
        return store_mdb_error(db, rc, "tables");
    }
    rc = mdb_txn_commit(txn);
    return rc ? store_mdb_error(db, rc, "commit") : HERS_OK;
}

hers_status hers_store_compact(hers_store *db, const hers_secret_key *sk, unsigned threads,
                            hers_store_compact_stats *stats)
{
    hers_store_compact_stats dummy;
    if (!stats)
        stats = &dummy;
    memset(stats, 0, sizeof *stats);
    if (!db)
        return hers_error(HERS_ERR_ARG, "db compact: NULL argument");
    if (db->readonly)
        return hers_error(HERS_ERR_STATE, "%s: opened read-only", db->dir);
    hers_status s = HERS_OK;
    if (sk && (s = hers_store_check_secret_key(db, sk)) != HERS_OK)
        return s;
    stats->file_before = file_size(db);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_payload_begin(db);
    store_state st;
    MDB_stat ms;
    if ((s = store_state_read(db, txn, &st)) != HERS_OK)
        goto fail;
    if ((rc = mdb_stat(txn, db->segs, &ms)) != 0) {
        s = store_mdb_error(db, rc, "segments");
        goto fail;
    }
    stats->segments_before = ms.ms_entries;
    stats->slots_before = st.next_slot;
    /* Commit only a real change: a compaction with nothing to drop must not
     * write (a later failure, e.g. of the shrinking copy on a damaged file,
     * then leaves the database exactly as it was). */
    int changed = 0;
    if (sk && st.has_gallery) {
        if ((s = reencrypt_all(db, txn, &st, sk, threads)) != HERS_OK)
            goto fail;
        changed = 1;
    } else {
        MDB_cursor *c = NULL, *sc = NULL;
        if ((rc = mdb_cursor_open(txn, db->segs, &c)) != 0 ||
            (rc = mdb_cursor_open(txn, db->slots, &sc)) != 0) {
            if (c)
                mdb_cursor_close(c);
            s = store_mdb_error(db, rc, "cursors");
            goto fail;
        }
        MDB_val k, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            store_seg sg;
            if ((s = store_seg_decode_entry(db, &k, &v, NULL, &sg)) != HERS_OK)
                break;
            if (any_live(sc, sg.first_slot, sg.first_slot + sg.rows))
                continue;
            if ((rc = mdb_cursor_del(c, 0)) != 0) {
                s = store_mdb_error(db, rc, "dropping a segment");
                break;
            }
            st.enrolled -= sg.rows;
            changed = 1;
        }
        if (s == HERS_OK && rc != 0 && rc != MDB_NOTFOUND)
            s = store_mdb_error(db, rc, "segments");
        mdb_cursor_close(c);
        mdb_cursor_close(sc);
        if (s != HERS_OK)
            goto fail;
    }
    if (changed && (s = store_state_write(db, txn, &st)) != HERS_OK)
        goto fail;
    if ((rc = mdb_stat(txn, db->segs, &ms)) != 0) {
        s = store_mdb_error(db, rc, "segments");
        goto fail;
    }
    stats->segments_after = ms.ms_entries;
    stats->slots_after = st.next_slot;
    if (changed) {
        s = store_txn_commit(db, txn);
    } else {
        mdb_txn_abort(txn);
    }
    txn = NULL;
    if (s != HERS_OK)
        goto fail;
    if ((s = shrink(db, &stats->shrunk, stats->not_shrunk, sizeof stats->not_shrunk)) != HERS_OK)
        return s;
    if ((s = reopen_dbis(db)) != HERS_OK)
        return s;
    stats->file_after = file_size(db);
    return HERS_OK;
fail:
    if (txn)
        mdb_txn_abort(txn);
    return s;
}
