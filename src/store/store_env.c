/*
 * store_env.c - creating and opening a gallery database (hers_store.h):
 * the LMDB environment, the meta records, the state and segment-header
 * codecs, and hers_store_get_info.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hers/hers_mem.h"
#include "hers/hers_serial.h"
#include "store/store_internal.h"

#define META_FORMAT "format"
#define META_PARAMS "params"
#define META_PK "public_key"
#define META_RK "relin_key"
#define META_GK "galois_key"
#define META_STATE "state"

/* LMDB reports a write that the file system cut short (disk full) as EIO,
 * and ENOSPC / EDQUOT / EFBIG as themselves: say which it is when the file
 * system of the database has (almost) no space left. */
static int out_of_space(const hers_store *db, int rc)
{
    if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG)
        return 1;
    struct statvfs vs;
    return rc == EIO && db && db->dir && statvfs(db->dir, &vs) == 0 &&
           (uint64_t)vs.f_bavail * vs.f_frsize < STORE_LOW_SPACE_BYTES;
}

hers_status store_mdb_error(const hers_store *db, int rc, const char *what)
{
    if (out_of_space(db, rc))
        return hers_error(HERS_ERR_IO, "%s: %s: no space left on device%s (the database is "
                          "unchanged)", db && db->dir ? db->dir : "database", what,
                          rc == EFBIG ? ": file size limit" : rc == EDQUOT ? ": disk quota" : "");
    hers_status s = (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
                     rc == MDB_VERSION_MISMATCH || rc == MDB_BAD_VALSIZE)
                        ? HERS_ERR_FORMAT
                        : HERS_ERR_IO;
    return hers_error(s, "%s: %s: %s%s", db && db->dir ? db->dir : "database", what,
                      mdb_strerror(rc), s == HERS_ERR_FORMAT ? " (corrupt database)" : "");
}

int store_id_valid(const char *id, size_t len)
{
    return hers_id_problem(id, len) == NULL;
}

size_t store_max_overlap(const hers_params *p, size_t d)
{
    double worst = 0, heur = 0;
    if (d == 0 || d > HERS_SEARCH_MAX_D)
        d = HERS_SEARCH_MAX_D;
    if (!hers_params_q_one_mod_t(p) ||
        hers_search_noise_bound(p, HERS_MODE_BOTH_ENCRYPTED, d, 1, 0, &worst, &heur) != HERS_OK)
        return 1;
    /* k summed fresh encryptions: at most k times the gallery noise, so the
     * worst-case budget drops by at most log2 k bits; keep >= 1 bit. */
    size_t k = 1;
    while (k < STORE_MAX_OVERLAP && worst - log2((double)(2 * k)) >= 1.0)
        k *= 2;
    return k;
}

uint64_t store_segment_blocks(const hers_params *p, size_t d)
{
    uint64_t per_block = (uint64_t)hers_params_n(p) * (uint64_t)d * 16u;
    uint64_t b = per_block ? STORE_SEGMENT_BYTES / per_block : 1;
    return b ? b : 1;
}

/* ------------------------------------------------------------ records */

void store_state_encode(const store_state *s, uint8_t out[STORE_STATE_BYTES])
{
    memset(out, 0, STORE_STATE_BYTES);
    memcpy(out, "HSTA", 4);
    hers_le_put_u32(out + 4, HERS_STORE_FORMAT_VERSION);
    hers_le_put_u32(out + 8, s->has_gallery);
    hers_le_put_u32(out + 12, s->mode);
    hers_le_put_u32(out + 16, s->scale);
    hers_le_put_u32(out + 20, s->d);
    hers_le_put_u64(out + 24, s->next_slot);
    hers_le_put_u64(out + 32, s->next_segment);
    hers_le_put_u64(out + 40, s->live);
    hers_le_put_u64(out + 48, s->enrolled);
    hers_le_put_u32(out + 56, s->model_len);
    hers_le_put_u32(out + 60, s->packing);
    memcpy(out + 64, s->model_id, HERS_STORE_MAX_MODEL_ID);
    crypto_generichash(out + STORE_STATE_BODY, STORE_HASH, out, STORE_STATE_BODY, NULL, 0);
}

hers_status store_state_decode(const hers_store *db, const void *buf, size_t len, store_state *s)
{
    const uint8_t *b = buf;
    uint8_t h[STORE_HASH];
    memset(s, 0, sizeof *s);
    if (len != STORE_STATE_BYTES || memcmp(b, "HSTA", 4) != 0)
        return hers_error(HERS_ERR_FORMAT, "%s: state record malformed (%zu bytes)", db->dir, len);
    if (hers_le_get_u32(b + 4) != HERS_STORE_FORMAT_VERSION)
        return hers_error(HERS_ERR_VERSION, "%s: state record version %u unsupported", db->dir,
                          hers_le_get_u32(b + 4));
    crypto_generichash(h, STORE_HASH, b, STORE_STATE_BODY, NULL, 0);
    if (sodium_memcmp(h, b + STORE_STATE_BODY, STORE_HASH) != 0)
        return hers_error(HERS_ERR_CHECKSUM, "%s: state record checksum mismatch", db->dir);
    s->has_gallery = hers_le_get_u32(b + 8);
    s->mode = hers_le_get_u32(b + 12);
    s->scale = hers_le_get_u32(b + 16);
    s->d = hers_le_get_u32(b + 20);
    s->next_slot = hers_le_get_u64(b + 24);
    s->next_segment = hers_le_get_u64(b + 32);
    s->live = hers_le_get_u64(b + 40);
    s->enrolled = hers_le_get_u64(b + 48);
    s->model_len = hers_le_get_u32(b + 56);
    s->packing = hers_le_get_u32(b + 60);
    memcpy(s->model_id, b + 64, HERS_STORE_MAX_MODEL_ID);
    if (s->packing > HERS_PACK_AUTO || (s->has_gallery && s->packing == HERS_PACK_AUTO))
        return hers_error(HERS_ERR_FORMAT,
                          "%s: state record: packing %u unknown (0 slot, 1 coefficient, 2 auto "
                          "before the first enrolment)", db->dir, s->packing);
    if (s->has_gallery > 1 || s->model_len > HERS_STORE_MAX_MODEL_ID ||
        s->next_slot > HERS_SEARCH_MAX_N || s->live > s->next_slot ||
        s->enrolled > s->next_slot ||
        (s->has_gallery && (s->mode > 1 || s->d == 0 || s->d > HERS_SEARCH_MAX_D ||
                            s->scale == 0 || s->scale > HERS_QUANT_MAX_SCALE)) ||
        (!s->has_gallery && (s->next_slot || s->next_segment)))
        return hers_error(HERS_ERR_FORMAT, "%s: state record out of range", db->dir);
    return HERS_OK;
}

hers_status store_state_read(hers_store *db, MDB_txn *txn, store_state *s)
{
    MDB_val k = {strlen(META_STATE), (void *)META_STATE}, v;
    int rc = mdb_get(txn, db->meta, &k, &v);
    if (rc != 0)
        return store_mdb_error(db, rc, "state record");
    return store_state_decode(db, v.mv_data, v.mv_size, s);
}

hers_status store_state_write(hers_store *db, MDB_txn *txn, const store_state *s)
{
    uint8_t buf[STORE_STATE_BYTES];
    store_state_encode(s, buf);
    MDB_val k = {strlen(META_STATE), (void *)META_STATE}, v = {sizeof buf, buf};
    int rc = mdb_put(txn, db->meta, &k, &v, 0);
    return rc ? store_mdb_error(db, rc, "writing the state") : HERS_OK;
}

void store_seg_encode(const store_seg *s, uint8_t out[STORE_SEG_HEADER])
{
    memset(out, 0, STORE_SEG_HEADER);
    memcpy(out, "HSEG", 4);
    hers_le_put_u32(out + 4, s->external ? STORE_SEG_V_FILE : STORE_SEG_V_INLINE);
    hers_le_put_u64(out + 8, s->first_block);
    hers_le_put_u64(out + 16, s->first_slot);
    hers_le_put_u32(out + 24, s->offset);
    hers_le_put_u32(out + 28, s->rows);
    hers_le_put_u64(out + 32, s->gallery_len);
    if (s->external)
        hers_le_put_u64(out + 40, s->payload_off);
    crypto_generichash(out + STORE_SEG_BODY, STORE_HASH, out, STORE_SEG_BODY, NULL, 0);
}

uint64_t store_seg_blocks(const hers_store *db, const store_seg *s)
{
    uint64_t N = hers_params_n(db->p);
    return ((uint64_t)s->offset + s->rows + N - 1) / N;
}

hers_status store_seg_decode_entry(const hers_store *db, const MDB_val *k, const MDB_val *v,
                                   uint64_t *key, store_seg *s)
{
    if (k->mv_size != 8)
        return hers_error(HERS_ERR_FORMAT, "%s: malformed segment key", db->dir);
    uint64_t kv = hers_be_get_u64(k->mv_data);
    if (key)
        *key = kv;
    return store_seg_decode(db, kv, v, s);
}

hers_status store_seg_decode(const hers_store *db, uint64_t key, const MDB_val *val, store_seg *s)
{
    const uint8_t *b = val->mv_data;
    uint8_t h[STORE_HASH];
    memset(s, 0, sizeof *s);
    if (val->mv_size < STORE_SEG_HEADER || memcmp(b, "HSEG", 4) != 0)
        return hers_error(HERS_ERR_FORMAT, "%s: segment %llu: header malformed", db->dir,
                          (unsigned long long)key);
    uint32_t ver = hers_le_get_u32(b + 4);
    if (ver != STORE_SEG_V_INLINE && ver != STORE_SEG_V_FILE)
        return hers_error(HERS_ERR_VERSION, "%s: segment %llu: version %u unsupported", db->dir,
                          (unsigned long long)key, ver);
    crypto_generichash(h, STORE_HASH, b, STORE_SEG_BODY, NULL, 0);
    if (sodium_memcmp(h, b + STORE_SEG_BODY, STORE_HASH) != 0)
        return hers_error(HERS_ERR_CHECKSUM, "%s: segment %llu: header checksum mismatch", db->dir,
                          (unsigned long long)key);
    uint64_t N = hers_params_n(db->p);
    s->first_block = hers_le_get_u64(b + 8);
    s->first_slot = hers_le_get_u64(b + 16);
    s->offset = hers_le_get_u32(b + 24);
    s->rows = hers_le_get_u32(b + 28);
    s->gallery_len = hers_le_get_u64(b + 32);
    s->external = ver == STORE_SEG_V_FILE;
    s->payload_off = s->external ? hers_le_get_u64(b + 40) : 0;
    s->gallery = s->external ? NULL : b + STORE_SEG_HEADER;
    if (s->rows == 0 || s->offset >= N || s->first_block > HERS_SEARCH_MAX_N / N ||
        (!s->external && hers_le_get_u64(b + 40) != 0) ||
        s->first_slot != s->first_block * N + s->offset ||
        s->first_slot + s->rows > HERS_SEARCH_MAX_N ||
        (!s->external && s->gallery_len != val->mv_size - STORE_SEG_HEADER) ||
        (s->external && (val->mv_size != STORE_SEG_HEADER || s->gallery_len == 0 ||
                         s->payload_off % STORE_PAYLOAD_ALIGN != 0)))
        return hers_error(HERS_ERR_FORMAT, "%s: segment %llu: header fields inconsistent", db->dir,
                          (unsigned long long)key);
    if (s->external)   /* offset and length checked against the file's size */
        return store_payload_view(db, key, s->payload_off, s->gallery_len, &s->gallery);
    return HERS_OK;
}

/* ------------------------------------------------------------ open */

/* dir + '/' + name, malloc'ed (NULL when out of memory). */
char *store_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s) {
        memcpy(s, dir, a);
        s[a] = '/';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

static hers_status env_open(hers_store *db, unsigned flags)
{
    int rc = mdb_env_create(&db->env);
    if (rc)
        return store_mdb_error(db, rc, "creating the environment");
    if ((rc = mdb_env_set_maxdbs(db->env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(db->env, STORE_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(db->env, db->dir, flags | MDB_NOTLS, 0600)) != 0) {
        hers_status st = store_mdb_error(db, rc, "opening");
        mdb_env_close(db->env);
        db->env = NULL;
        return st;
    }
    return HERS_OK;
}

static hers_status open_dbis(hers_store *db, MDB_txn *txn, unsigned flags)
{
    static const char *const names[] = {"meta", "ids", "slots", "segments", NULL};
    MDB_envinfo ei;
    int rc;
    if (!(flags & MDB_CREATE)) {
        hers_status st;
        if ((rc = mdb_env_info(db->env, &ei)) != 0)
            return store_mdb_error(db, rc, "environment");
        if ((st = store_lmdb_check_tables(db, txn, ei.me_last_pgno, names)) != HERS_OK)
            return st;
    }
    if ((rc = mdb_dbi_open(txn, "meta", flags, &db->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "ids", flags, &db->ids)) != 0 ||
        (rc = mdb_dbi_open(txn, "slots", flags, &db->slots)) != 0 ||
        (rc = mdb_dbi_open(txn, "segments", flags, &db->segs)) != 0)
        return rc == MDB_NOTFOUND
                   ? hers_error(HERS_ERR_FORMAT, "%s: not a hers gallery database (missing tables)",
                                db->dir)
                   : store_mdb_error(db, rc, "opening the tables");
    return HERS_OK;
}

static hers_status put_meta(hers_store *db, MDB_txn *txn, const char *key, const void *v, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, val = {len, (void *)v};
    int rc = mdb_put(txn, db->meta, &k, &val, 0);
    return rc ? store_mdb_error(db, rc, key) : HERS_OK;
}

typedef hers_status (*size_fn)(const hers_params *, const void *, size_t *);

static hers_status put_record(hers_store *db, MDB_txn *txn, const char *key, int what, const void *obj)
{
    size_t size = 0, w = 0;
    hers_status st;
    switch (what) {
    case 0: st = hers_params_serialized_size(db->p, &size); break;
    case 1: st = hers_public_key_serialized_size(db->p, obj, &size); break;
    case 3: st = hers_galois_key_serialized_size(db->p, obj, &size); break;
    default: st = hers_relin_key_serialized_size(db->p, obj, &size); break;
    }
    if (st != HERS_OK)
        return st;
    uint8_t *buf = hers_alloc(size);
    if (!buf)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    switch (what) {
    case 0: st = hers_params_serialize(db->p, buf, size, &w); break;
    case 1: st = hers_public_key_serialize(db->p, obj, buf, size, &w); break;
    case 3: st = hers_galois_key_serialize(db->p, obj, buf, size, &w); break;
    default: st = hers_relin_key_serialize(db->p, obj, buf, size, &w); break;
    }
    if (st == HERS_OK)
        st = put_meta(db, txn, key, buf, w);
    hers_free(buf);
    return st;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

hers_status hers_store_create(const char *dir, const hers_params *p, const hers_public_key *pk,
                           const hers_relin_key *rk, const uint8_t *model_id,
                           size_t model_id_len)
{
    if (!dir || !p || !pk || model_id_len > HERS_STORE_MAX_MODEL_ID || (model_id_len && !model_id))
        return hers_error(HERS_ERR_ARG, "db create: invalid argument");
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return hers_error(HERS_ERR_EXISTS, "%s: exists and is not a directory", dir);
        char *dm = store_path_join(dir, "data.mdb");
        int isdb = dm && stat(dm, &sb) == 0;
        free(dm);
        if (isdb)
            return hers_error(HERS_ERR_EXISTS, "%s: already a database (refusing to overwrite)",
                              dir);
        if (!dir_is_empty(dir))
            return hers_error(HERS_ERR_EXISTS, "%s: directory not empty and not a hers database",
                              dir);
    } else if (mkdir(dir, 0700) != 0) {
        return hers_error(HERS_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    }
    hers_store db;
    memset(&db, 0, sizeof db);
    db.lock_fd = -1;
    db.dir = (char *)dir;
    db.p = (hers_params *)p;
    hers_status st = env_open(&db, 0);
    if (st != HERS_OK)
        return st;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db.env, NULL, 0, &txn);
    if (rc) {
        st = store_mdb_error(&db, rc, "begin");
        goto fail;
    }
    if ((st = open_dbis(&db, txn, MDB_CREATE)) != HERS_OK)
        goto fail;
    uint8_t fmt[8];
    memcpy(fmt, "HERSDB", 6);
    fmt[6] = HERS_STORE_FORMAT_VERSION;
    fmt[7] = 0;
    store_state s;
    memset(&s, 0, sizeof s);
    s.model_len = (uint32_t)model_id_len;
    if (model_id_len)
        memcpy(s.model_id, model_id, model_id_len);
    if ((st = put_meta(&db, txn, META_FORMAT, fmt, sizeof fmt)) != HERS_OK ||
        (st = put_record(&db, txn, META_PARAMS, 0, NULL)) != HERS_OK ||
        (st = put_record(&db, txn, META_PK, 1, pk)) != HERS_OK ||
        (rk && (st = put_record(&db, txn, META_RK, 2, rk)) != HERS_OK) ||
        (st = store_state_write(&db, txn, &s)) != HERS_OK)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        st = store_mdb_error(&db, rc, "commit");
        goto fail;
    }
    mdb_env_close(db.env);
    return HERS_OK;
fail:
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(db.env);
    /* Leave no half-made database behind. */
    char *a = store_path_join(dir, "data.mdb"), *b = store_path_join(dir, "lock.mdb");
    if (a)
        remove(a);
    if (b)
        remove(b);
    free(a);
    free(b);
    return st;
}

static hers_status get_meta(hers_store *db, MDB_txn *txn, const char *key, MDB_val *v, int optional)
{
    MDB_val k = {strlen(key), (void *)key};
    int rc = mdb_get(txn, db->meta, &k, v);
    if (rc == MDB_NOTFOUND && optional) {
        v->mv_size = 0;
        v->mv_data = NULL;
        return HERS_OK;
    }
    if (rc == MDB_NOTFOUND)
        return hers_error(HERS_ERR_FORMAT, "%s: meta record '%s' missing", db->dir, key);
    return rc ? store_mdb_error(db, rc, key) : HERS_OK;
}

static hers_status load_meta(hers_store *db)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    hers_status st = open_dbis(db, txn, 0);
    MDB_val v;
    if (st == HERS_OK && (st = get_meta(db, txn, META_FORMAT, &v, 0)) == HERS_OK) {
        const uint8_t *f = v.mv_data;
        if (v.mv_size != 8 || memcmp(f, "HERSDB", 6) != 0)
            st = hers_error(HERS_ERR_FORMAT, "%s: not a hers gallery database", db->dir);
        else if (f[6] != HERS_STORE_FORMAT_VERSION)
            st = hers_error(HERS_ERR_VERSION, "%s: database format %u unsupported (this is %u)",
                            db->dir, f[6], HERS_STORE_FORMAT_VERSION);
    }
    if (st == HERS_OK && (st = get_meta(db, txn, META_PARAMS, &v, 0)) == HERS_OK)
        st = hers_params_deserialize(v.mv_data, v.mv_size, &db->p);
    if (st == HERS_OK && (st = get_meta(db, txn, META_PK, &v, 0)) == HERS_OK)
        st = hers_public_key_deserialize(db->p, v.mv_data, v.mv_size, &db->pk);
    if (st == HERS_OK && (st = get_meta(db, txn, META_RK, &v, 1)) == HERS_OK && v.mv_size)
        st = hers_relin_key_deserialize(db->p, v.mv_data, v.mv_size, &db->rk);
    if (st == HERS_OK && (st = get_meta(db, txn, META_GK, &v, 1)) == HERS_OK && v.mv_size)
        st = hers_galois_key_deserialize(db->p, v.mv_data, v.mv_size, &db->gk);
    store_state s;
    if (st == HERS_OK)
        st = store_state_read(db, txn, &s);
    /* commit (not abort): handles opened in an aborted transaction close */
    if (st == HERS_OK && (rc = mdb_txn_commit(txn)) != 0)
        st = store_mdb_error(db, rc, "commit");
    else if (st != HERS_OK)
        mdb_txn_abort(txn);
    if (st != HERS_OK && !strstr(hers_last_error(), db->dir)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hers_last_error());
        st = hers_error(st, "%s: %s", db->dir, msg);
    }
    return st;
}

hers_status hers_store_open(const char *dir, int readonly, hers_store **out)
{
    if (!dir || !out)
        return hers_error(HERS_ERR_ARG, "db open: NULL argument");
    *out = NULL;
    hers_store *db = calloc(1, sizeof *db);
    char *dm = store_path_join(dir, "data.mdb");
    if (!db || !dm || !(db->dir = strdup(dir))) {
        free(dm);
        if (db)
            free(db->dir);
        free(db);
        return hers_error(HERS_ERR_NOMEM, "db open: out of memory");
    }
    db->readonly = readonly;
    db->lock_fd = -1;
    struct stat sb;
    hers_status st = store_payload_init(db);
    if (st != HERS_OK)
        ;
    else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        st = hers_error(HERS_ERR_NOTFOUND, "%s: no such database directory", dir);
    else if (stat(dm, &sb) != 0)
        st = hers_error(HERS_ERR_NOTFOUND, "%s: not a hers database (no data.mdb; run hers init)",
                        dir);
    else if ((st = store_lock_open(db, readonly)) == HERS_OK &&
             (st = store_lmdb_check_file(dir, dm, NULL)) == HERS_OK)
        st = env_open(db, readonly ? MDB_RDONLY : 0);
    if (st == HERS_OK) {
        /* A truncated file would fault when LMDB touches a page past its
         * end (SIGBUS): compare the pages in use with the file size. */
        MDB_envinfo ei;
        MDB_stat ms;
        struct stat s2;
        if (mdb_env_info(db->env, &ei) || mdb_env_stat(db->env, &ms) || stat(dm, &s2) != 0)
            st = hers_error(HERS_ERR_IO, "%s: cannot stat the environment", dir);
        else if (((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize > (uint64_t)s2.st_size)
            st = hers_error(HERS_ERR_FORMAT,
                            "%s: data.mdb truncated (%lld bytes, its pages need %llu)", dir,
                            (long long)s2.st_size,
                            (unsigned long long)(((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize));
    }
    if (st == HERS_OK)
        st = load_meta(db);
    free(dm);
    if (st != HERS_OK) {
        hers_store_close(db);
        return st;
    }
    *out = db;
    return HERS_OK;
}

void hers_store_close(hers_store *db)
{
    if (!db)
        return;
    if (db->env)
        mdb_env_close(db->env);
    store_payload_free(db);
    store_lock_close(db);
    hers_public_key_free(db->pk);
    hers_relin_key_free(db->rk);
    hers_galois_key_free(db->gk);
    hers_params_free(db->p);
    free(db->dir);
    free(db);
}

const hers_params *hers_store_params(const hers_store *db) { return db ? db->p : NULL; }
const hers_public_key *hers_store_public_key(const hers_store *db) { return db ? db->pk : NULL; }
const hers_relin_key *hers_store_relin_key(const hers_store *db) { return db ? db->rk : NULL; }
const hers_galois_key *hers_store_galois_key(const hers_store *db) { return db ? db->gk : NULL; }

hers_status hers_store_put_galois_key(hers_store *db, const hers_galois_key *gk)
{
    if (!db || !gk)
        return hers_error(HERS_ERR_ARG, "db galois key: NULL argument");
    if (db->readonly)
        return hers_error(HERS_ERR_STATE, "%s: opened read-only", db->dir);
    /* a round trip through the record validates the keys against the
     * parameters and gives the handle its own copy */
    size_t size = 0, w = 0;
    hers_status st = hers_galois_key_serialized_size(db->p, gk, &size);
    if (st != HERS_OK)
        return st;
    uint8_t *buf = hers_alloc(size);
    if (!buf)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    hers_galois_key *copy = NULL;
    if ((st = hers_galois_key_serialize(db->p, gk, buf, size, &w)) == HERS_OK)
        st = hers_galois_key_deserialize(db->p, buf, w, &copy);
    hers_free(buf);
    if (st != HERS_OK)
        return st;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc) {
        hers_galois_key_free(copy);
        return store_mdb_error(db, rc, "begin");
    }
    st = put_record(db, txn, META_GK, 3, gk);
    if (st == HERS_OK) {
        rc = mdb_txn_commit(txn);
        if (rc)
            st = store_mdb_error(db, rc, "commit");
    } else {
        mdb_txn_abort(txn);
    }
    if (st != HERS_OK) {
        hers_galois_key_free(copy);
        return st;
    }
    hers_galois_key_free(db->gk);
    db->gk = copy;
    return HERS_OK;
}

size_t hers_store_max_overlap(const hers_store *db)
{
    return db ? store_max_overlap(db->p, 0) : 1;
}

void hers_store_enroll_opts_default(hers_store_enroll_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mode = HERS_MODE_BOTH_ENCRYPTED;
    o->scale = HERS_QUANT_PAPER_SCALE;
}

hers_status hers_store_get_info(hers_store *db, hers_store_info *info)
{
    if (!db || !info)
        return hers_error(HERS_ERR_ARG, "db info: NULL argument");
    memset(info, 0, sizeof *info);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_mdb_error(db, rc, "begin");
    store_state s;
    hers_status st = store_state_read(db, txn, &s);
    if (st == HERS_OK) {
        info->format = HERS_STORE_FORMAT_VERSION;
        info->N = hers_params_n(db->p);
        info->t = hers_params_t(db->p);
        info->num_primes = hers_params_num_primes(db->p);
        info->log_q = hers_params_log_q(db->p);
        snprintf(info->params_name, sizeof info->params_name, "%s", hers_params_name(db->p));
        info->has_gallery = (int)s.has_gallery;
        info->d = s.d;
        info->scale = s.scale;
        info->mode = (hers_search_mode)s.mode;
        info->packing = (hers_packing)s.packing;
        info->model_id_len = s.model_len;
        memcpy(info->model_id, s.model_id, HERS_STORE_MAX_MODEL_ID);
        info->next_slot = s.next_slot;
        info->live = s.live;
        info->enrolled = s.enrolled;
        info->blocks = (s.next_slot + info->N - 1) / info->N;
        MDB_cursor *c = NULL;
        MDB_val k, v;
        if ((rc = mdb_cursor_open(txn, db->segs, &c)) != 0) {
            st = store_mdb_error(db, rc, "segments");
        } else {
            for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                store_seg sg;
                info->segments++;
                info->payload_bytes += v.mv_size;
                /* a version 2 header names its payload's length */
                if (k.mv_size == 8 &&
                    store_seg_decode(db, hers_be_get_u64(k.mv_data), &v, &sg) == HERS_OK &&
                    sg.external)
                    info->payload_bytes += sg.gallery_len;
            }
            if (rc != MDB_NOTFOUND)
                st = store_mdb_error(db, rc, "segments");
            mdb_cursor_close(c);
        }
        MDB_envinfo ei;
        MDB_stat ms;
        char *dm = store_path_join(db->dir, "data.mdb");
        struct stat sb;
        if (dm && stat(dm, &sb) == 0)
            info->file_bytes = (uint64_t)sb.st_size;
        info->file_bytes += store_payload_disk_bytes(db);
        free(dm);
        if (mdb_env_info(db->env, &ei) == 0 && mdb_env_stat(db->env, &ms) == 0)
            info->used_bytes = ((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize;
    }
    mdb_txn_abort(txn);
    return st;
}

/* The secret key must be the one behind the database's public key:
 * otherwise decryption gives noise that would be re-encrypted silently. */
hers_status hers_store_check_secret_key(hers_store *db, const hers_secret_key *sk)
{
    if (!db || !sk)
        return hers_error(HERS_ERR_ARG, "db: NULL secret key");
    size_t N = hers_params_n(db->p);
    int64_t *vals = hers_alloc_array(N, sizeof *vals), *back = hers_alloc_array(N, sizeof *back);
    hers_plaintext pt = {0}, out = {0};
    hers_ciphertext ct = {0};
    hers_status st = HERS_OK;
    if (!vals || !back) {
        st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        vals[i] = (int64_t)(i % 97) - 48;
    if ((st = hers_encode_batch(db->p, vals, N, &pt)) != HERS_OK ||
        (st = hers_encrypt_public(db->p, db->pk, &pt, &ct)) != HERS_OK ||
        (st = hers_decrypt(db->p, sk, &ct, &out)) != HERS_OK ||
        (st = hers_decode_batch(db->p, &out, back)) != HERS_OK)
        goto done;
    if (memcmp(vals, back, N * sizeof *vals) != 0)
        st = hers_error(HERS_ERR_MISMATCH,
                        "%s: the secret key does not belong to this database's public key",
                        db->dir);
done:
    hers_free(vals);
    hers_free(back);
    hers_plaintext_free(&pt);
    hers_plaintext_free(&out);
    hers_ciphertext_free(&ct);
    return st;
}

