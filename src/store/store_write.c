/*
 * store_write.c - enrolment (append-only segments) and deletion, each one
 * LMDB write transaction: every check happens inside the transaction and
 * any error aborts it, so a failed call leaves the database unchanged.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "store/store_internal.h"

hers_status store_put_segment(hers_store *db, MDB_txn *txn, store_state *st, const hers_secret_key *sk,
                              const hers_public_key *pk, const int32_t *values, size_t m,
                              size_t d, uint64_t first_slot, const char *const *ids,
                              const hers_enroll_opts *eo)
{
    size_t N = hers_params_n(db->p);
    size_t o = (size_t)(first_slot % N);
    int32_t *buf = hers_alloc_array(o + m, d * sizeof(int32_t));
    if (!buf)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory for %zu rows", db->dir, m);
    memset(buf, 0, o * d * sizeof(int32_t));
    memcpy(buf + o * d, values, m * d * sizeof(int32_t));
    hers_gallery *g = NULL;
    uint8_t *ser = NULL;
    size_t len = 0;
    hers_status s = hers_gallery_enroll(db->p, sk, pk, buf, o + m, d, eo, &g);
    hers_free_secret(buf, (o + m) * d * sizeof(int32_t));
    if (s == HERS_OK)
        s = hers_gallery_serialize(db->p, g, &ser, &len);
    hers_gallery_free(g);
    if (s == HERS_OK)
        s = store_put_record(db, txn, st, ser, len, first_slot, m, ids);
    hers_free(ser);
    return s;
}

/* LMDB's default key order: bytes, then the shorter key first. */
static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* 1 if ids[0..m) are strictly ascending in key order. */
static int ids_ascending(const char *const *ids, size_t m)
{
    for (size_t i = 1; i < m; i++)
        if (key_cmp(ids[i - 1], strlen(ids[i - 1]), ids[i], strlen(ids[i])) >= 0)
            return 0;
    return 1;
}

struct id_ref {
    const char *s;
    size_t i;
};

static int cmp_id_ref(const void *a, const void *b)
{
    /* strcmp orders NUL-free strings as LMDB's keys: bytes, then shorter first */
    int c = strcmp(((const struct id_ref *)a)->s, ((const struct id_ref *)b)->s);
    if (c)
        return c;
    size_t x = ((const struct id_ref *)a)->i, y = ((const struct id_ref *)b)->i;
    return (x > y) - (x < y);
}

hers_status store_sort_ids(const hers_store *db, const char *const *ids, size_t m, size_t **order)
{
    *order = NULL;
    if (ids_ascending(ids, m))
        return HERS_OK;
    struct id_ref *r = malloc((m ? m : 1) * sizeof *r);
    if (!r)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    for (size_t i = 0; i < m; i++) {
        r[i].s = ids[i];
        r[i].i = i;
    }
    qsort(r, m, sizeof *r, cmp_id_ref);
    hers_status st = HERS_OK;
    for (size_t i = 1; i < m; i++)
        if (!strcmp(r[i - 1].s, r[i].s)) {
            st = hers_error(HERS_ERR_EXISTS, "%s: id '%s' appears twice in the input", db->dir,
                            r[i].s);
            break;
        }
    size_t *o = st == HERS_OK ? malloc((m ? m : 1) * sizeof *o) : NULL;
    if (st == HERS_OK && !o)
        st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    for (size_t i = 0; o && i < m; i++)
        o[i] = r[i].i;
    free(r);
    *order = o;
    return st;
}

/* 1 if the smallest of the ids (ids[order[0]], or ids[0] without an
 * order) sorts after every stored id. */
static int ids_after_stored(hers_store *db, MDB_txn *txn, const char *first)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    if (mdb_cursor_open(txn, db->ids, &c) != 0)
        return 0;
    int rc = mdb_cursor_get(c, &k, &v, MDB_LAST), ok;
    if (rc == MDB_NOTFOUND)
        ok = 1;
    else
        ok = rc == 0 && key_cmp(k.mv_data, k.mv_size, first, strlen(first)) < 0;
    mdb_cursor_close(c);
    return ok;
}

hers_status store_put_catalog(hers_store *db, MDB_txn *txn, const char *const *ids,
                              const size_t *order, size_t m, uint64_t first_slot)
{
    size_t *own = NULL;
    hers_status s = HERS_OK;
    if (!order && !ids_ascending(ids, m)) {
        if ((s = store_sort_ids(db, ids, m, &own)) != HERS_OK)
            return s;
        order = own;
    }
    if (m == 0)
        return HERS_OK;
    MDB_cursor *ci = NULL, *cs = NULL;
    int rc = mdb_cursor_open(txn, db->ids, &ci);
    if (rc == 0)
        rc = mdb_cursor_open(txn, db->slots, &cs);
    if (rc) {
        if (ci)
            mdb_cursor_close(ci);
        free(own);
        return store_mdb_error(db, rc, "cursors");
    }
    /* ids in key order: appended (no B-tree search, full pages) when they
     * all sort after every stored id (a first enrolment, counters,
     * timestamps), else inserted in order (neighbouring pages) */
    unsigned id_flags =
        ids_after_stored(db, txn, ids[order ? order[0] : 0]) ? MDB_APPEND : MDB_NOOVERWRITE;
    for (size_t j = 0; j < m && s == HERS_OK; j++) {
        size_t i = order ? order[j] : j;
        uint64_t slot = first_slot + i;
        uint8_t le[8];
        for (int b = 0; b < 8; b++)
            le[b] = (uint8_t)(slot >> (8 * b));
        MDB_val ik = {strlen(ids[i]), (void *)ids[i]}, iv = {8, le};
        if ((rc = mdb_cursor_put(ci, &ik, &iv, id_flags)) != 0)
            s = rc == MDB_KEYEXIST
                    ? hers_error(HERS_ERR_EXISTS, "%s: id '%s' already enrolled", db->dir, ids[i])
                    : store_mdb_error(db, rc, "writing an id");
    }
    /* slots only grow: every new slot is past every stored one (MDB_APPEND
     * refuses a key that is not, MDB_KEYEXIST) */
    for (size_t i = 0; i < m && s == HERS_OK; i++) {
        uint8_t sb[8];
        hers_be_put_u64(sb, first_slot + i);
        MDB_val sk2 = {8, sb}, sv = {strlen(ids[i]) + 1, (void *)ids[i]};
        if ((rc = mdb_cursor_put(cs, &sk2, &sv, MDB_APPEND)) != 0)
            s = store_mdb_error(db, rc, "writing a slot");
    }
    mdb_cursor_close(ci);
    mdb_cursor_close(cs);
    free(own);
    return s;
}

hers_status store_put_record(hers_store *db, MDB_txn *txn, store_state *st, const uint8_t *ser,
                             size_t len, uint64_t first_slot, size_t m, const char *const *ids)
{
    size_t N = hers_params_n(db->p);
    size_t o = (size_t)(first_slot % N);
    store_seg h;
    memset(&h, 0, sizeof h);
    h.first_block = first_slot / N;
    h.first_slot = first_slot;
    h.offset = (uint32_t)o;
    h.rows = (uint32_t)m;
    h.gallery_len = len;
    uint8_t kb[8];
    hers_be_put_u64(kb, st->next_segment);
    MDB_val k = {8, kb}, v;
    int rc;
    hers_status ps0;
    if (!store_payload_inline(db)) {
        /* the payload into segments.dat, the header alone into LMDB */
        hers_status ps = store_payload_append(db, txn, ser, len, &h.payload_off);
        if (ps != HERS_OK)
            return ps;
        h.external = 1;
        uint8_t hb[STORE_SEG_HEADER];
        store_seg_encode(&h, hb);
        v.mv_size = sizeof hb;
        v.mv_data = hb;
        if ((rc = mdb_put(txn, db->segs, &k, &v, MDB_NOOVERWRITE)) != 0)
            return store_mdb_error(db, rc, "writing a segment");
    } else {   /* version 1: the payload inside the LMDB value */
        v.mv_size = STORE_SEG_HEADER + len;
        v.mv_data = NULL;
        rc = mdb_put(txn, db->segs, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
        if (rc)
            return store_mdb_error(db, rc, "writing a segment");
        store_seg_encode(&h, v.mv_data);
        memcpy((uint8_t *)v.mv_data + STORE_SEG_HEADER, ser, len);
    }
    if (ids && (ps0 = store_put_catalog(db, txn, ids, NULL, m, first_slot)) != HERS_OK)
        return ps0;
    st->next_segment++;
    st->next_slot = first_slot + m;
    st->live += m;
    st->enrolled += m;
    return HERS_OK;
}

/* Checks ids: valid, distinct within the batch. */
hers_status store_check_ids(const hers_store *db, const char *const *ids, size_t m)
{
    for (size_t i = 0; i < m; i++)
        if (!ids[i] || !store_id_valid(ids[i], strlen(ids[i])))
            return hers_error(HERS_ERR_ARG,
                              "%s: id %zu is invalid (1..%d bytes, no tab, CR, LF)", db->dir,
                              i + 1, HERS_SEARCH_MAX_ID);
    size_t *order = NULL;
    hers_status st = store_sort_ids(db, ids, m, &order);
    free(order);
    return st;
}

/* Removes the catalog pair of an id known to exist at `slot`. */
hers_status store_unlink_id(hers_store *db, MDB_txn *txn, const char *id, uint64_t slot,
                             store_state *st)
{
    uint8_t sb[8];
    hers_be_put_u64(sb, slot);
    MDB_val ik = {strlen(id), (void *)id}, sk = {8, sb};
    int rc = mdb_del(txn, db->ids, &ik, NULL);
    if (rc == 0)
        rc = mdb_del(txn, db->slots, &sk, NULL);
    if (rc)
        return store_mdb_error(db, rc, "deleting an id");
    if (st->live == 0)
        return hers_error(HERS_ERR_FORMAT, "%s: live count underflow (corrupt state)", db->dir);
    st->live--;
    return HERS_OK;
}

/* Looks an id up: 1 and *slot if present, 0 if absent, -1 on error. */
int store_lookup_id(hers_store *db, MDB_txn *txn, const char *id, uint64_t *slot, hers_status *err)
{
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(txn, db->ids, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || v.mv_size != 8) {
        *err = rc ? store_mdb_error(db, rc, "reading an id")
                  : hers_error(HERS_ERR_FORMAT, "%s: id '%s': malformed slot record", db->dir, id);
        return -1;
    }
    const uint8_t *b = v.mv_data;
    uint64_t s = 0;
    for (int j = 0; j < 8; j++)
        s |= (uint64_t)b[j] << (8 * j);
    *slot = s;
    return 1;
}

/* Segments already covering block `block` (the last block, partly used). */
hers_status store_count_overlap(hers_store *db, MDB_txn *txn, uint64_t block, size_t *count)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    *count = 0;
    int rc = mdb_cursor_open(txn, db->segs, &c);
    if (rc)
        return store_mdb_error(db, rc, "segments");
    size_t N = hers_params_n(db->p);
    hers_status st = HERS_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        store_seg s;
        if ((st = store_seg_decode_entry(db, &k, &v, NULL, &s)) != HERS_OK)
            break;
        if ((s.first_slot + s.rows - 1) / N < block)
            break;
        if (s.first_block <= block)
            (*count)++;
    }
    if (st == HERS_OK && rc != 0 && rc != MDB_NOTFOUND)
        st = store_mdb_error(db, rc, "segments");
    mdb_cursor_close(c);
    return st;
}

/* The checks and placement shared by both enrolment entry points, inside
 * the write transaction: the state (read into *st), dimension, scale, mode,
 * model, the scale's score bound, the first slot and the ids (validated,
 * checked against the catalog, replaced ones unlinked). offset: SIZE_MAX to
 * fill the last block from next_slot (rows encrypted here), else the
 * number of zero rows o < N an already encrypted record starts with: it is
 * placed at the first block b with b N + o >= the first free slot.
 * *defids receives default ids (slot numbers) when ids is NULL. */
static hers_status enroll_prepare(hers_store *db, MDB_txn *txn, store_state *st, size_t m, size_t d,
                                  const char *const **ids, const hers_store_enroll_opts *opts,
                                  size_t offset, char ***defids, uint64_t *first, size_t **order)
{
    size_t N = hers_params_n(db->p);
    hers_status s = store_state_read(db, txn, st);
    if (s != HERS_OK)
        return s;
    if (st->has_gallery) {
        if (st->d != d)
            return hers_error(HERS_ERR_MISMATCH,
                              "%s: the gallery has dimension %u, the input %zu", db->dir, st->d,
                              d);
        if (st->scale != opts->scale || st->mode != (uint32_t)opts->mode)
            return hers_error(HERS_ERR_MISMATCH,
                              "%s: the gallery uses scale %u (%s), the input scale %u (%s)",
                              db->dir, st->scale,
                              hers_search_mode_name((hers_search_mode)st->mode), opts->scale,
                              hers_search_mode_name(opts->mode));
    }
    if (st->model_len || st->has_gallery) {
        if (st->model_len != opts->model_id_len ||
            (st->model_len && memcmp(st->model_id, opts->model_id, st->model_len) != 0))
            return hers_error(HERS_ERR_MISMATCH, "%s: %s", db->dir,
                              !st->model_len ? "the gallery was enrolled without a model; the "
                                               "input names one"
                              : !opts->model_id_len ? "the gallery was compressed with a model: "
                                                      "give the same model (--model)"
                                                    : "model mismatch: the gallery was "
                                                      "compressed with another model");
    }
    if ((s = hers_quant_check(d, opts->scale, hers_params_t(db->p))) != HERS_OK)
        return s;
    /* The first slot: fill the last block unless it has taken the most
     * segments the noise bound allows. */
    uint64_t s0 = st->next_slot;
    if (s0 % N) {
        size_t ov = 0, maxov = opts->mode == HERS_MODE_PLAIN_GALLERY ? STORE_MAX_OVERLAP
                                                                     : store_max_overlap(db->p, d);
        if ((s = store_count_overlap(db, txn, s0 / N, &ov)) != HERS_OK)
            return s;
        if (ov >= maxov)
            s0 = (s0 / N + 1) * N;
    }
    if (offset != SIZE_MAX)   /* a record starting with `offset` zero rows */
        s0 = (s0 / N + (s0 % N > offset ? 1 : 0)) * N + offset;
    if (s0 + m > HERS_SEARCH_MAX_N)
        return hers_error(HERS_ERR_ARG, "%s: the gallery would exceed %llu slots", db->dir,
                          (unsigned long long)HERS_SEARCH_MAX_N);
    if (!*ids) {
        /* the decimal slot numbers, in one block after the pointers (no
         * allocation and no snprintf per id) */
        size_t digits = 1;
        for (uint64_t x = s0 + m - 1; x >= 10; x /= 10)
            digits++;
        char **di = malloc(m * (sizeof *di + digits + 1));
        if (!di)
            return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
        *defids = di;
        char *at = (char *)(di + m);
        for (size_t i = 0; i < m; i++) {
            char tmp[24];
            size_t n = 0;
            uint64_t x = s0 + i;
            do
                tmp[n++] = (char)('0' + x % 10);
            while ((x /= 10) != 0);
            di[i] = at;
            while (n)
                *at++ = tmp[--n];
            *at++ = '\0';
        }
        *ids = (const char *const *)di;
    }
    for (size_t i = 0; i < m; i++)
        if (!(*ids)[i] || !store_id_valid((*ids)[i], strlen((*ids)[i])))
            return hers_error(HERS_ERR_ARG,
                              "%s: id %zu is invalid (1..%d bytes, no tab, CR, LF)", db->dir,
                              i + 1, HERS_SEARCH_MAX_ID);
    /* distinct, and their key order (the catalog inserts them in it) */
    if ((s = store_sort_ids(db, *ids, m, order)) != HERS_OK)
        return s;
    /* ids past every stored one cannot clash: no lookups */
    int fresh = ids_after_stored(db, txn, (*ids)[*order ? (*order)[0] : 0]);
    for (size_t i = 0; i < m && !fresh; i++) {
        uint64_t old;
        int f = store_lookup_id(db, txn, (*ids)[i], &old, &s);
        if (f < 0)
            return s;
        if (f && !opts->replace)
            return hers_error(HERS_ERR_EXISTS, "%s: id '%s' already enrolled (use --replace)",
                              db->dir, (*ids)[i]);
        if (f && (s = store_unlink_id(db, txn, (*ids)[i], old, st)) != HERS_OK)
            return s;
    }
    *first = s0;
    return HERS_OK;
}

/* The packing an enrolment of d-dimensional rows at `scale` uses: the
 * state's, or for auto the rule's (fixed by enroll_commit). */
static hers_packing enroll_packing(const hers_store *db, const store_state *st, size_t d,
                                   uint32_t scale)
{
    return st->packing == HERS_PACK_AUTO ? hers_packing_default(db->p, d, scale)
                                         : (hers_packing)st->packing;
}

hers_status hers_store_set_packing(hers_store *db, hers_packing packing)
{
    if (!db || (packing != HERS_PACK_SLOT && packing != HERS_PACK_COEFF && packing != HERS_PACK_AUTO))
        return hers_error(HERS_ERR_ARG, "db packing: unknown packing %d", db ? (int)packing : -1);
    if (db->readonly)
        return hers_error(HERS_ERR_STATE, "%s: opened read-only", db->dir);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_state st;
    hers_status s = store_state_read(db, txn, &st);
    if (s == HERS_OK && st.packing != (uint32_t)packing) {
        if (st.has_gallery)
            s = hers_error(HERS_ERR_STATE,
                           "%s: the gallery is %s-packed; the packing is fixed at the first "
                           "enrolment", db->dir, hers_packing_name((hers_packing)st.packing));
        else {
            st.packing = (uint32_t)packing;
            s = store_state_write(db, txn, &st);
        }
    }
    if (s == HERS_OK) {
        rc = mdb_txn_commit(txn);
        return rc ? store_mdb_error(db, rc, "commit") : HERS_OK;
    }
    mdb_txn_abort(txn);
    return s;
}

/* Records the gallery's shape and model in the state, writes it, commits. */
static hers_status enroll_commit(hers_store *db, MDB_txn *txn, store_state *st, size_t d,
                                 const hers_store_enroll_opts *opts)
{
    st->packing = (uint32_t)enroll_packing(db, st, d, opts->scale);
    st->has_gallery = 1;
    st->d = (uint32_t)d;
    st->scale = opts->scale;
    st->mode = (uint32_t)opts->mode;
    if (!st->model_len && opts->model_id_len) {
        st->model_len = (uint32_t)opts->model_id_len;
        memcpy(st->model_id, opts->model_id, opts->model_id_len);
    }
    hers_status s = store_state_write(db, txn, st);
    if (s != HERS_OK) {
        mdb_txn_abort(txn);
        return s;
    }
    return store_txn_commit(db, txn);
}

/* The default ids of enroll_prepare: one block. */
static void free_ids(char **ids, size_t m)
{
    (void)m;
    free(ids);
}

/* One segment's encryption into a reused record buffer, on a helper
 * thread (hers_store_enroll's pipeline). */
struct seg_job {
    const hers_params *p;
    const hers_secret_key *sk;
    const hers_public_key *pk;
    hers_enroll_opts eo;
    uint8_t seed[32];
    const int32_t *rows;    /* m rows of d values */
    size_t m, o, d;
    int32_t *vbuf;          /* o zero rows + the m rows (template values: wiped) */
    size_t vcap;            /* values vbuf holds */
    uint8_t *buf;           /* the serialised record (reused) */
    size_t cap, len;
    pthread_t tid;
    int running;
    hers_status st;
    char msg[512];
};

static void seg_job_run(struct seg_job *j)
{
    size_t need = (j->o + j->m) * j->d;
    if (j->vcap < need) {
        hers_free_secret(j->vbuf, j->vcap * sizeof(int32_t));
        j->vcap = 0;
        if (!(j->vbuf = hers_alloc_array(need, sizeof(int32_t)))) {
            j->st = HERS_ERR_NOMEM;
            snprintf(j->msg, sizeof j->msg, "out of memory for %zu rows", j->m);
            return;
        }
        j->vcap = need;
    }
    memset(j->vbuf, 0, j->o * j->d * sizeof(int32_t));
    memcpy(j->vbuf + j->o * j->d, j->rows, j->m * j->d * sizeof(int32_t));
    j->st = hers_gallery_enroll_record(j->p, j->sk, j->pk, j->vbuf, j->o + j->m, j->d, &j->eo,
                                       &j->buf, &j->cap, &j->len);
    sodium_memzero(j->vbuf, need * sizeof(int32_t));
    if (j->st != HERS_OK)
        snprintf(j->msg, sizeof j->msg, "%s", hers_last_error());
}

static void *seg_job_main(void *vj)
{
    seg_job_run(vj);
    return NULL;
}

/* Starts the segment of slots [cur, stop): stop = the segment boundary
 * (segment_blocks blocks from cur's block) or end. */
static void seg_job_start(struct seg_job *j, const int32_t *values, uint64_t s0, uint64_t cur,
                          uint64_t end, uint64_t seg_blocks, size_t N, const uint8_t *seed,
                          uint64_t key, uint64_t *stop)
{
    uint64_t lim = (cur / N + seg_blocks) * N;
    *stop = lim < end ? lim : end;
    j->rows = values + (cur - s0) * j->d;
    j->m = (size_t)(*stop - cur);
    j->o = (size_t)(cur % N);
    j->eo.seed = NULL;
    if (seed) {   /* deterministic (tests): per segment key */
        uint8_t in[40];
        memcpy(in, seed, 32);
        hers_be_put_u64(in + 32, key);
        crypto_generichash(j->seed, sizeof j->seed, in, sizeof in, NULL, 0);
        j->eo.seed = j->seed;
    }
    j->st = HERS_OK;
    j->running = pthread_create(&j->tid, NULL, seg_job_main, j) == 0;
    if (!j->running)
        seg_job_run(j);   /* no thread: in line */
}

static hers_status seg_job_join(struct seg_job *j)
{
    if (j->running) {
        pthread_join(j->tid, NULL);
        j->running = 0;
    }
    return j->st == HERS_OK ? HERS_OK : hers_error(j->st, "%s", j->msg);
}

static void seg_job_free(struct seg_job *j)
{
    hers_free_secret(j->vbuf, j->vcap * sizeof(int32_t));
    hers_free(j->buf);
    sodium_memzero(j->seed, sizeof j->seed);
}

hers_status hers_store_enroll(hers_store *db, const hers_secret_key *sk, const hers_public_key *pk,
                           const int32_t *values, size_t m, size_t d, const char *const *ids,
                           const hers_store_enroll_opts *opts, uint64_t *first_slot)
{
    hers_store_enroll_opts def;
    if (!opts) {
        hers_store_enroll_opts_default(&def);
        opts = &def;
    }
    if (!db || !values || m == 0 || d == 0 || d > HERS_SEARCH_MAX_D ||
        opts->model_id_len > HERS_STORE_MAX_MODEL_ID || (opts->model_id_len && !opts->model_id))
        return hers_error(HERS_ERR_ARG, "db enroll: invalid argument (m = %zu, d = %zu)", m, d);
    if (db->readonly)
        return hers_error(HERS_ERR_STATE, "%s: opened read-only", db->dir);
    if (sk && pk)
        return hers_error(HERS_ERR_ARG, "db enroll: give a secret key or a public key, not both");
    if (sk) {
        hers_status ks = hers_store_check_secret_key(db, sk);
        if (ks != HERS_OK)
            return ks;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_payload_begin(db);
    store_state st;
    char **defids = NULL;
    size_t N = hers_params_n(db->p);
    uint64_t s0 = 0;
    size_t *order = NULL;
    hers_status s = enroll_prepare(db, txn, &st, m, d, &ids, opts, SIZE_MAX, &defids, &s0, &order);
    if (s != HERS_OK)
        goto fail;
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.mode = opts->mode;
    eo.scale = opts->scale;
    eo.threads = opts->threads;
    eo.format = opts->format;
    eo.packing = enroll_packing(db, &st, d, opts->scale);
    /* Two-stage pipeline over the segments: a helper thread encrypts
     * segment j + 1 (on all the encryption workers) while this thread
     * checksums segment j and writes it and its catalog entries. */
    uint64_t seg_blocks = store_segment_blocks(db->p, d);
    uint64_t cur = s0, end = s0 + m, key0 = st.next_segment;
    struct seg_job job[2];
    memset(job, 0, sizeof job);
    for (int x = 0; x < 2; x++) {
        job[x].p = db->p;
        job[x].sk = sk;
        job[x].pk = pk;
        job[x].d = d;
        job[x].eo = eo;
    }
    uint64_t stop = 0;
    seg_job_start(&job[0], values, s0, cur, end, seg_blocks, N, opts->seed, key0, &stop);
    /* the whole batch's catalog at once, in id order, while the first
     * segment encrypts */
    double tc0 = store_now();
    s = store_put_catalog(db, txn, ids, order, m, s0);
    db->pay->t_catalog += store_now() - tc0;
    for (size_t j = 0; cur < end && s == HERS_OK; j++) {
        struct seg_job *jb = &job[j % 2];
        double tw = store_now();
        s = seg_job_join(jb);
        db->pay->t_wait += store_now() - tw;
        if (s != HERS_OK)
            break;
        uint64_t next_stop = 0;
        if (stop < end)
            seg_job_start(&job[(j + 1) % 2], values, s0, stop, end, seg_blocks, N, opts->seed,
                          key0 + j + 1, &next_stop);
        hers_gallery_record_seal(jb->buf, jb->len);
        double tc = store_now(), tp = db->pay->t_payload;
        s = store_put_record(db, txn, &st, jb->buf, jb->len, cur, (size_t)(stop - cur), NULL);
        db->pay->t_catalog += store_now() - tc - (db->pay->t_payload - tp);
        if (s != HERS_OK)
            break;
        cur = stop;
        stop = next_stop;
    }
    for (int x = 0; x < 2; x++) {
        hers_status js = seg_job_join(&job[x]);
        if (s == HERS_OK)
            s = js;
        seg_job_free(&job[x]);
    }
    if (s != HERS_OK)
        goto fail;
    s = enroll_commit(db, txn, &st, d, opts);
    txn = NULL;
    if (s == HERS_OK && first_slot)
        *first_slot = s0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    free_ids(defids, m);
    free(order);
    return s;
}

hers_status hers_store_enroll_record(hers_store *db, const void *record, size_t len, size_t offset,
                                  size_t m, const char *const *ids,
                                  const hers_store_enroll_opts *opts, uint64_t *first_slot)
{
    hers_store_enroll_opts def;
    if (!opts) {
        hers_store_enroll_opts_default(&def);
        opts = &def;
    }
    if (!db || !record || m == 0 || opts->model_id_len > HERS_STORE_MAX_MODEL_ID ||
        (opts->model_id_len && !opts->model_id))
        return hers_error(HERS_ERR_ARG, "db enroll: invalid argument (m = %zu)", m);
    if (db->readonly)
        return hers_error(HERS_ERR_STATE, "%s: opened read-only", db->dir);
    size_t N = hers_params_n(db->p);
    if (offset >= N)
        return hers_error(HERS_ERR_ARG, "%s: offset %zu is not below N = %zu", db->dir, offset, N);
    /* Full validation of the record (parameters, sizes, residues, checksum)
     * before anything is written. */
    hers_gallery *g = NULL;
    hers_status s = hers_gallery_deserialize(db->p, record, len, &g);
    if (s != HERS_OK)
        return s;
    size_t gn = hers_gallery_n(g), d = hers_gallery_d(g);
    hers_search_mode gm = hers_gallery_mode(g);
    uint32_t gs = hers_gallery_scale(g);
    hers_packing gp = hers_gallery_packing(g);
    hers_gallery_free(g);
    if (gn != offset + m)
        return hers_error(HERS_ERR_ARG,
                          "%s: the gallery record holds %zu rows, expected %zu zero rows and %zu "
                          "templates", db->dir, gn, offset, m);
    if (gm != opts->mode || gs != opts->scale)
        return hers_error(HERS_ERR_MISMATCH,
                          "%s: the record is %s with scale %u, the request says %s, scale %u",
                          db->dir, hers_search_mode_name(gm), gs,
                          hers_search_mode_name(opts->mode), opts->scale);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_payload_begin(db);
    store_state st;
    char **defids = NULL;
    uint64_t s0 = 0;
    size_t *order = NULL;
    s = enroll_prepare(db, txn, &st, m, d, &ids, opts, offset, &defids, &s0, &order);
    if (s == HERS_OK && gp != enroll_packing(db, &st, d, gs))
        s = hers_error(HERS_ERR_MISMATCH, "%s: the record is %s-packed, the database %s-packed",
                       db->dir, hers_packing_name(gp),
                       hers_packing_name(enroll_packing(db, &st, d, gs)));
    if (s == HERS_OK)
        s = store_put_record(db, txn, &st, record, len, s0, m, NULL);
    if (s == HERS_OK)
        s = store_put_catalog(db, txn, ids, order, m, s0);
    if (s == HERS_OK) {
        s = enroll_commit(db, txn, &st, d, opts);
        txn = NULL;
    }
    if (s == HERS_OK && first_slot)
        *first_slot = s0;
    if (txn)
        mdb_txn_abort(txn);
    free_ids(defids, m);
    free(order);
    return s;
}

hers_status hers_store_delete(hers_store *db, const char *const *ids, size_t count)
{
    if (!db || (!ids && count))
        return hers_error(HERS_ERR_ARG, "db delete: NULL argument");
    if (db->readonly)
        return hers_error(HERS_ERR_STATE, "%s: opened read-only", db->dir);
    hers_status s = store_check_ids(db, ids, count);
    if (s != HERS_OK)
        return s;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_state st;
    if ((s = store_state_read(db, txn, &st)) != HERS_OK)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        uint64_t slot;
        int f = store_lookup_id(db, txn, ids[i], &slot, &s);
        if (f < 0)
            goto fail;
        if (!f) {
            s = hers_error(HERS_ERR_NOTFOUND, "%s: id '%s' is not enrolled (nothing deleted)",
                           db->dir, ids[i]);
            goto fail;
        }
        if ((s = store_unlink_id(db, txn, ids[i], slot, &st)) != HERS_OK)
            goto fail;
    }
    if ((s = store_state_write(db, txn, &st)) != HERS_OK)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        s = store_mdb_error(db, rc, "commit");
fail:
    if (txn)
        mdb_txn_abort(txn);
    return s;
}
