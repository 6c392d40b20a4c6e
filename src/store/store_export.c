/*
 * store_export.c - whole segments out of a database, verbatim (for moving
 * encrypted blocks between databases without any key: `hers reshard`), and
 * the exclusive claim an offline tool takes on a database.
 *
 * A segment goes back in with hers_store_enroll_record (same record bytes,
 * same offset, its ids): the ciphertexts and their checksums are never
 * decoded into anything else, so a moved template searches exactly as
 * before.
 */
#include <string.h>

#include "store/store_internal.h"

hers_status hers_store_snapshot_segments(hers_store_snapshot *s, hers_store_segment_fn fn,
                                         void *user)
{
    if (!s || !fn)
        return hers_error(HERS_ERR_ARG, "db segments: NULL argument");
    hers_store *db = s->db;
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(s->txn, db->segs, &c);
    if (rc)
        return store_mdb_error(db, rc, "segments cursor");
    hers_status st = HERS_OK;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && st == HERS_OK;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t key;
        store_seg sg;
        if ((st = store_seg_decode_entry(db, &k, &v, &key, &sg)) != HERS_OK)
            break;
        hers_store_segment out = {key, sg.first_slot, sg.offset, sg.rows, sg.gallery,
                                  (size_t)sg.gallery_len};
        st = fn(user, &out);
    }
    if (st == HERS_OK && rc != MDB_NOTFOUND)
        st = store_mdb_error(db, rc, "segments");
    mdb_cursor_close(c);
    return st;
}

hers_status hers_store_claim(hers_store *db)
{
    if (!db)
        return hers_error(HERS_ERR_ARG, "db claim: NULL argument");
    if (!store_lock_try_exclusive(db))
        return hers_error(HERS_ERR_STATE,
                          "%s: in use by another process (a running server?): stop it first",
                          db->dir);
    return HERS_OK;
}
