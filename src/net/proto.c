/* proto.c - the service records HERSINI, HERSENR and HERSRSP (hers_net.h,
 * docs/formats.md "Service records"). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_serial.h"
#include "net/net_internal.h"

/* ------------------------------------------------------------ HERSINI */

static void put_record(net_buf *b, const uint8_t *rec, size_t len)
{
    net_buf_u64(b, len);
    net_buf_put(b, rec, len);
}

hers_status hers_net_init_encode(const hers_params *p, const hers_public_key *pk,
                                 const hers_relin_key *rk, const hers_galois_key *gk,
                                 const uint8_t *model_id,
                                 size_t model_id_len, uint8_t **buf, size_t *len)
{
    hers_net_init in;
    memset(&in, 0, sizeof in);
    in.p = (hers_params *)p;
    in.pk = (hers_public_key *)pk;
    in.rk = (hers_relin_key *)rk;
    in.gk = (hers_galois_key *)gk;
    if (model_id_len > HERS_NET_MAX_MODEL_ID || (model_id_len && !model_id))
        return hers_error(HERS_ERR_ARG, "init record: invalid argument");
    if (model_id_len)
        memcpy(in.model_id, model_id, model_id_len);
    in.model_id_len = model_id_len;
    in.packing = HERS_PACK_SLOT;
    return hers_net_init_encode_ex(&in, buf, len);
}

hers_status hers_net_init_encode_ex(const hers_net_init *in, uint8_t **buf, size_t *len)
{
    if (!in || !in->p || !in->pk || !buf || !len || in->model_id_len > HERS_NET_MAX_MODEL_ID ||
        (in->packing != HERS_PACK_SLOT && in->packing != HERS_PACK_COEFF &&
         in->packing != HERS_PACK_AUTO))
        return hers_error(HERS_ERR_ARG, "init record: invalid argument");
    const hers_params *p = in->p;
    const hers_public_key *pk = in->pk;
    const hers_relin_key *rk = in->rk;
    const hers_galois_key *gk = in->gk;
    const uint8_t *model_id = in->model_id;
    size_t model_id_len = in->model_id_len;
    net_buf b = {0};
    uint8_t mid[HERS_NET_MAX_MODEL_ID] = {0};
    if (model_id_len)
        memcpy(mid, model_id, model_id_len);
    net_buf_put(&b, "HERSINI", 8);
    net_buf_u32(&b, HERS_NET_VERSION);
    net_buf_u32(&b, (uint32_t)model_id_len);
    net_buf_put(&b, mid, sizeof mid);
    /* records: params, public key, then flags of the optional ones; bits
     * 2..3: the packing (0 slot, what older clients send; 1 coeff; 2 auto) */
    net_buf_u32(&b, (rk ? 1u : 0u) | (gk ? 2u : 0u) | (uint32_t)in->packing << 2);
    size_t sz = 0, w = 0;
    uint8_t *tmp = NULL;
    hers_status st = hers_params_serialized_size(p, &sz);
    if (st == HERS_OK && (tmp = malloc(sz)) != NULL &&
        (st = hers_params_serialize(p, tmp, sz, &w)) == HERS_OK)
        put_record(&b, tmp, w);
    free(tmp);
    tmp = NULL;
    if (st == HERS_OK && (st = hers_public_key_serialized_size(p, pk, &sz)) == HERS_OK &&
        (tmp = malloc(sz)) != NULL && (st = hers_public_key_serialize(p, pk, tmp, sz, &w)) == HERS_OK)
        put_record(&b, tmp, w);
    free(tmp);
    tmp = NULL;
    if (st == HERS_OK && rk && (st = hers_relin_key_serialized_size(p, rk, &sz)) == HERS_OK &&
        (tmp = malloc(sz)) != NULL && (st = hers_relin_key_serialize(p, rk, tmp, sz, &w)) == HERS_OK)
        put_record(&b, tmp, w);
    free(tmp);
    tmp = NULL;
    if (st == HERS_OK && gk && (st = hers_galois_key_serialized_size(p, gk, &sz)) == HERS_OK &&
        (tmp = malloc(sz)) != NULL && (st = hers_galois_key_serialize(p, gk, tmp, sz, &w)) == HERS_OK)
        put_record(&b, tmp, w);
    free(tmp);
    if (st != HERS_OK) {
        net_buf_free(&b);
        return st;
    }
    return net_buf_finish(&b, 1, buf, len);
}

void hers_net_init_free(hers_net_init *in)
{
    if (!in)
        return;
    hers_galois_key_free(in->gk);
    hers_relin_key_free(in->rk);
    hers_public_key_free(in->pk);
    hers_params_free(in->p);
    memset(in, 0, sizeof *in);
}

/* Reads one length-prefixed object record and checks its type. */
static hers_status rd_object(net_rd *r, hers_object_type want, const uint8_t **rec, size_t *len)
{
    uint64_t l;
    const uint8_t *p;
    if (net_rd_u64(r, &l) || l > r->len - r->pos || net_rd_bytes(r, &p, (size_t)l))
        return hers_error(HERS_ERR_FORMAT, "init record: truncated key record");
    hers_object_type t;
    size_t total = 0;
    if (hers_secret_key_is_protected(p, (size_t)l))
        return hers_error(HERS_ERR_ARG, "init record: a secret key was sent; refused (the "
                                        "server never accepts a secret key)");
    if (hers_serial_peek(p, (size_t)l, &t, NULL, &total) != HERS_OK)
        return hers_error(HERS_ERR_FORMAT, "init record: %s", hers_last_error());
    if (t == HERS_OBJ_SECRET_KEY)
        return hers_error(HERS_ERR_ARG, "init record: a secret key was sent; refused (the "
                                        "server never accepts a secret key)");
    if (t != want)
        return hers_error(HERS_ERR_FORMAT, "init record: expected a %s record, got a %s",
                          hers_object_type_name(want), hers_object_type_name(t));
    *rec = p;
    *len = (size_t)l;
    return HERS_OK;
}

hers_status hers_net_init_decode(const void *buf, size_t len, hers_net_init *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "init record: out is NULL");
    memset(out, 0, sizeof *out);
    net_rd r;
    hers_status st = net_rd_open(&r, buf, len, "HERSINI", "init record");
    if (st != HERS_OK)
        return st;
    uint32_t mlen, nrec;
    const uint8_t *mid, *rec;
    size_t rl;
    if (net_rd_u32(&r, &mlen) || net_rd_bytes(&r, &mid, HERS_NET_MAX_MODEL_ID) ||
        net_rd_u32(&r, &nrec))
        return hers_error(HERS_ERR_FORMAT, "init record: truncated header");
    if (mlen > HERS_NET_MAX_MODEL_ID || nrec > 15)
        return hers_error(HERS_ERR_FORMAT, "init record: model id length %u or record flags %u",
                          mlen, nrec);
    if ((nrec >> 2) > HERS_PACK_AUTO)
        return hers_error(HERS_ERR_FORMAT, "init record: packing %u unknown (0 slot, 1 coeff, "
                                           "2 auto)", nrec >> 2);
    out->packing = (hers_packing)(nrec >> 2);
    for (size_t i = mlen; i < HERS_NET_MAX_MODEL_ID; i++)
        if (mid[i])
            return hers_error(HERS_ERR_FORMAT, "init record: model id padding is not zero");
    memcpy(out->model_id, mid, mlen);
    out->model_id_len = mlen;
    if ((st = rd_object(&r, HERS_OBJ_PARAMS, &rec, &rl)) != HERS_OK ||
        (st = hers_params_deserialize(rec, rl, &out->p)) != HERS_OK)
        goto fail;
    if ((st = rd_object(&r, HERS_OBJ_PUBLIC_KEY, &rec, &rl)) != HERS_OK ||
        (st = hers_public_key_deserialize(out->p, rec, rl, &out->pk)) != HERS_OK)
        goto fail;
    if ((nrec & 1) && ((st = rd_object(&r, HERS_OBJ_RELIN_KEY, &rec, &rl)) != HERS_OK ||
                       (st = hers_relin_key_deserialize(out->p, rec, rl, &out->rk)) != HERS_OK))
        goto fail;
    if ((nrec & 2) && ((st = rd_object(&r, HERS_OBJ_GALOIS_KEY, &rec, &rl)) != HERS_OK ||
                       (st = hers_galois_key_deserialize(out->p, rec, rl, &out->gk)) != HERS_OK))
        goto fail;
    if (r.pos != r.len) {
        st = hers_error(HERS_ERR_FORMAT, "init record: %zu trailing bytes", r.len - r.pos);
        goto fail;
    }
    return HERS_OK;
fail:
    hers_net_init_free(out);
    return st;
}

/* ------------------------------------------------------------ HERSENR */

hers_status hers_net_enroll_encode(const hers_params *p, const hers_gallery *g, size_t offset,
                                   const char *const *ids, size_t m, int replace,
                                   const uint8_t *model_id, size_t model_id_len, uint8_t **buf,
                                   size_t *len)
{
    if (!p || !g || !buf || !len || m == 0 || hers_gallery_n(g) != offset + m ||
        model_id_len > HERS_NET_MAX_MODEL_ID || (model_id_len && !model_id))
        return hers_error(HERS_ERR_ARG, "enrol record: invalid argument");
    uint8_t *rec = NULL;
    size_t rl = 0;
    hers_status st = hers_gallery_serialize(p, g, &rec, &rl);
    if (st != HERS_OK)
        return st;
    net_buf b = {0};
    uint8_t mid[HERS_NET_MAX_MODEL_ID] = {0};
    if (model_id_len)
        memcpy(mid, model_id, model_id_len);
    net_buf_put(&b, "HERSENR", 8);
    net_buf_u32(&b, HERS_NET_VERSION);
    net_buf_u32(&b, (replace ? 1u : 0u) | (ids ? 0u : 2u));
    net_buf_u32(&b, (uint32_t)hers_gallery_mode(g));
    net_buf_u32(&b, hers_gallery_scale(g));
    net_buf_u32(&b, (uint32_t)offset);
    net_buf_u64(&b, m);
    net_buf_u32(&b, (uint32_t)model_id_len);
    net_buf_put(&b, mid, sizeof mid);
    for (size_t i = 0; ids && i < m; i++) {
        size_t l = strlen(ids[i]);
        if (!net_id_valid(ids[i], l)) {
            hers_free(rec);
            net_buf_free(&b);
            return hers_error(HERS_ERR_ARG, "enrol record: id %zu is invalid", i + 1);
        }
        uint8_t l8 = (uint8_t)l;
        net_buf_put(&b, &l8, 1);
        net_buf_put(&b, ids[i], l);
    }
    put_record(&b, rec, rl);
    hers_free(rec);
    return net_buf_finish(&b, 1, buf, len);
}

void hers_net_enroll_free(hers_net_enroll *e)
{
    if (!e)
        return;
    if (e->ids)
        for (size_t i = 0; i < e->m; i++)
            free(e->ids[i]);
    free(e->ids);
    memset(e, 0, sizeof *e);
}

hers_status hers_net_enroll_decode(const void *buf, size_t len, hers_net_enroll *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "enrol record: out is NULL");
    memset(out, 0, sizeof *out);
    net_rd r;
    hers_status st = net_rd_open(&r, buf, len, "HERSENR", "enrol record");
    if (st != HERS_OK)
        return st;
    uint32_t flags, mode, scale, offset, mlen;
    uint64_t m, rl;
    const uint8_t *mid, *rec;
    if (net_rd_u32(&r, &flags) || net_rd_u32(&r, &mode) || net_rd_u32(&r, &scale) ||
        net_rd_u32(&r, &offset) || net_rd_u64(&r, &m) || net_rd_u32(&r, &mlen) ||
        net_rd_bytes(&r, &mid, HERS_NET_MAX_MODEL_ID))
        return hers_error(HERS_ERR_FORMAT, "enrol record: truncated header");
    if (flags > 3 || mode > 1 || scale < 1 || scale > HERS_QUANT_MAX_SCALE ||
        offset >= 32768 || mlen > HERS_NET_MAX_MODEL_ID)
        return hers_error(HERS_ERR_FORMAT,
                          "enrol record: flags %u, mode %u, scale %u, offset %u or model id "
                          "length %u out of range", flags, mode, scale, offset, mlen);
    /* every id takes at least 2 bytes: bound m by the bytes left before
     * allocating (default ids: by the slot space) */
    int defids = (flags & 2) != 0;
    if (m == 0 || m > (defids ? HERS_SEARCH_MAX_N : (r.len - r.pos) / 2))
        return hers_error(HERS_ERR_FORMAT, "enrol record: %llu ids do not fit in %zu bytes",
                          (unsigned long long)m, r.len - r.pos);
    for (size_t i = mlen; i < HERS_NET_MAX_MODEL_ID; i++)
        if (mid[i])
            return hers_error(HERS_ERR_FORMAT, "enrol record: model id padding is not zero");
    out->replace = (int)(flags & 1);
    out->mode = (hers_search_mode)mode;
    out->scale = scale;
    out->offset = offset;
    memcpy(out->model_id, mid, mlen);
    out->model_id_len = mlen;
    out->m = (size_t)m;
    if (defids)
        goto record;
    out->ids = calloc((size_t)m, sizeof *out->ids);
    if (!out->ids)
        return hers_error(HERS_ERR_NOMEM, "enrol record: out of memory for %llu ids",
                          (unsigned long long)m);
    for (size_t i = 0; i < out->m; i++) {
        const uint8_t *l8, *idb;
        if (net_rd_bytes(&r, &l8, 1) || net_rd_bytes(&r, &idb, *l8)) {
            st = hers_error(HERS_ERR_FORMAT, "enrol record: truncated id %zu", i + 1);
            goto fail;
        }
        if (!net_id_valid((const char *)idb, *l8)) {
            st = hers_error(HERS_ERR_FORMAT,
                            "enrol record: id %zu is invalid (1..255 bytes, no tab, CR, LF, NUL)",
                            i + 1);
            goto fail;
        }
        if (!(out->ids[i] = malloc((size_t)*l8 + 1))) {
            st = hers_error(HERS_ERR_NOMEM, "enrol record: out of memory");
            goto fail;
        }
        memcpy(out->ids[i], idb, *l8);
        out->ids[i][*l8] = 0;
    }
record:
    if (net_rd_u64(&r, &rl) || rl != r.len - r.pos || net_rd_bytes(&r, &rec, (size_t)rl)) {
        st = hers_error(HERS_ERR_FORMAT,
                        "enrol record: the gallery record length does not match the body");
        goto fail;
    }
    out->record = rec;
    out->record_len = (size_t)rl;
    return HERS_OK;
fail:
    hers_net_enroll_free(out);
    return st;
}

/* ------------------------------------------------------------ HERSRSP, HERSCAT */

/* Live entries (slot, id): parsed once into slots, one blob of
 * NUL-terminated ids and their offsets (no allocation per id). */
typedef struct cat_entries {
    size_t live;
    uint64_t *slots;
    size_t *off;
    char *blob;
} cat_entries;

static void cat_entries_free(cat_entries *c)
{
    free(c->slots);
    free(c->off);
    free(c->blob);
    memset(c, 0, sizeof *c);
}

/* Reads `live` entries of a record whose slot count is `slots`; the bytes
 * left bound live before anything is allocated (an entry takes >= 10). */
static hers_status cat_entries_read(net_rd *r, uint64_t live, uint64_t slots, const char *what,
                                    cat_entries *o)
{
    memset(o, 0, sizeof *o);
    if (live > slots || live > (r->len - r->pos) / 10)
        return hers_error(HERS_ERR_FORMAT, "%s: %llu live entries do not fit in %zu bytes or "
                                           "%llu slots", what, (unsigned long long)live,
                          r->len - r->pos, (unsigned long long)slots);
    size_t n = (size_t)live;
    o->slots = malloc((n ? n : 1) * sizeof *o->slots);
    o->off = malloc((n ? n : 1) * sizeof *o->off);
    o->blob = malloc(r->len - r->pos + 1);   /* ids + their NULs fit: 9 header bytes each */
    if (!o->slots || !o->off || !o->blob) {
        cat_entries_free(o);
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory for %zu catalog entries", what, n);
    }
    size_t bl = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t slot;
        const uint8_t *l8, *idb;
        if (net_rd_u64(r, &slot) || net_rd_bytes(r, &l8, 1) || net_rd_bytes(r, &idb, *l8)) {
            cat_entries_free(o);
            return hers_error(HERS_ERR_FORMAT, "%s: truncated catalog entry %zu", what, i);
        }
        if (slot >= slots || (i && slot <= o->slots[i - 1]) ||
            !net_id_valid((const char *)idb, *l8)) {
            cat_entries_free(o);
            return hers_error(HERS_ERR_FORMAT, "%s: catalog entry %zu (slot %llu) is invalid",
                              what, i, (unsigned long long)slot);
        }
        o->slots[i] = slot;
        o->off[i] = bl;
        memcpy(o->blob + bl, idb, *l8);
        bl += *l8;
        o->blob[bl++] = 0;
    }
    o->live = n;
    return HERS_OK;
}

struct hers_net_response {
    unsigned version;
    uint32_t scale;
    size_t d, count, parts, live, blocks, N;
    uint64_t slots, cat_version;
    size_t *first_block;
    hers_result **res;
    cat_entries own;                  /* the record's catalog (has_own) */
    int has_own;
    const hers_net_catalog *lent;     /* or an attached one */
};

struct hers_net_catalog {
    uint64_t version, slots;
    cat_entries e;
};

size_t net_catalog_put(uint8_t *cat, uint64_t slot, const char *id, size_t id_len)
{
    for (int i = 0; i < 8; i++)
        cat[i] = (uint8_t)(slot >> (8 * i));
    cat[8] = (uint8_t)id_len;
    memcpy(cat + 9, id, id_len);
    return 9 + id_len;
}

hers_status net_response_encode(const hers_params *p, int compact, uint32_t scale, size_t d,
                                size_t count, uint64_t slots, size_t parts,
                                const size_t *first_block, const hers_result *const *res,
                                size_t live, const uint8_t *cat, size_t cat_len,
                                unsigned rsp_version, uint64_t cat_version, int with_cat,
                                uint8_t **buf, size_t *len)
{
    if (rsp_version != 1)   /* version 2: net_response_encode2 (its own checksum rule) */
        return hers_error(HERS_ERR_INTERNAL, "search response: version %u here", rsp_version);
    with_cat = 1;
    /* the parts' records first, so that the whole record is allocated once
     * at its exact size (a 2^20-template full answer is tens of MB: growing
     * a buffer by doubling copied it twice and faulted its pages twice) */
    uint8_t **recs = calloc(parts ? parts : 1, sizeof *recs);
    size_t *rls = calloc(parts ? parts : 1, sizeof *rls);
    hers_status st = recs && rls ? HERS_OK
                                 : hers_error(HERS_ERR_NOMEM, "search response: out of memory");
    size_t total = 8 + 4 + 4 + 4 + 4 + 8 + 8 + 8 + (rsp_version >= 2 ? 12 : 0) +
                   (with_cat ? cat_len : 0) + NET_HASH;
    for (size_t i = 0; st == HERS_OK && i < parts; i++) {
        st = compact ? hers_result_serialize_compact(p, res[i], &recs[i], &rls[i])
                     : hers_result_serialize(p, res[i], &recs[i], &rls[i]);
        total += 16 + rls[i];
    }
    net_buf b = {0};
    if (st == HERS_OK && net_buf_reserve(&b, total) != 0)
        st = hers_error(HERS_ERR_NOMEM, "search response: out of memory for %zu bytes", total);
    if (st == HERS_OK) {
        net_buf_put(&b, "HERSRSP", 8);
        net_buf_u32(&b, rsp_version);
        net_buf_u32(&b, scale);
        net_buf_u32(&b, (uint32_t)d);
        net_buf_u32(&b, (uint32_t)parts);
        net_buf_u64(&b, count);
        net_buf_u64(&b, slots);
        net_buf_u64(&b, live);
        if (rsp_version >= 2) {
            net_buf_u64(&b, cat_version);
            net_buf_u32(&b, with_cat ? 1u : 0u);
        }
        for (size_t i = 0; i < parts; i++) {
            net_buf_u64(&b, first_block[i]);
            put_record(&b, recs[i], rls[i]);
        }
        if (with_cat)
            net_buf_put(&b, cat, cat_len);
    }
    for (size_t i = 0; recs && i < parts; i++)
        hers_free(recs[i]);
    free(recs);
    free(rls);
    if (st != HERS_OK) {
        net_buf_free(&b);
        return st;
    }
    return net_buf_finish(&b, 1, buf, len);
}

hers_status net_catalog_encode(uint64_t cat_version, uint64_t slots, size_t live,
                               const uint8_t *cat, size_t cat_len, uint8_t **buf, size_t *len)
{
    net_buf b = {0};
    if (net_buf_reserve(&b, 40 + cat_len + NET_HASH) != 0)
        return hers_error(HERS_ERR_NOMEM, "catalog: out of memory for %zu bytes", cat_len);
    net_buf_put(&b, "HERSCAT", 8);
    net_buf_u32(&b, HERS_NET_CATALOG_VERSION);
    net_buf_u32(&b, 0);   /* flags, none defined */
    net_buf_u64(&b, cat_version);
    net_buf_u64(&b, slots);
    net_buf_u64(&b, live);
    net_buf_put(&b, cat, cat_len);
    return net_buf_finish(&b, 1, buf, len);
}

void hers_net_response_free(hers_net_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->parts; i++)
        hers_result_free(r->res ? r->res[i] : NULL);
    cat_entries_free(&r->own);
    free(r->res);
    free(r->first_block);
    free(r);
}

hers_status hers_net_response_decode(const hers_params *p, const void *buf, size_t len,
                                     hers_net_response **out)
{
    if (!out || !p)
        return hers_error(HERS_ERR_ARG, "search response: NULL argument");
    *out = NULL;
    net_rd r;
    uint32_t ver = 0;
    hers_status st = net_rd_open_v(&r, buf, len, "HERSRSP", "search response", 1,
                                   HERS_NET_RESPONSE_VERSION, 2, &ver);
    if (st != HERS_OK)
        return st;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (ver >= 2) {   /* each result record's own checksum is checked as it is read */
        uint8_t h[NET_HASH];
        if (net_rsp2_digest(buf, len - NET_HASH, h) != 0)
            return hers_error(HERS_ERR_FORMAT, "search response: truncated parts");
        if (sodium_memcmp(h, (const uint8_t *)buf + len - NET_HASH, NET_HASH) != 0)
            return hers_error(HERS_ERR_CHECKSUM,
                              "search response: checksum mismatch (corrupted or truncated)");
    }
#endif
    uint32_t scale, d, parts, flags = 1;
    uint64_t count, slots, live, cver = 0;
    if (net_rd_u32(&r, &scale) || net_rd_u32(&r, &d) || net_rd_u32(&r, &parts) ||
        net_rd_u64(&r, &count) || net_rd_u64(&r, &slots) || net_rd_u64(&r, &live) ||
        (ver >= 2 && (net_rd_u64(&r, &cver) || net_rd_u32(&r, &flags))))
        return hers_error(HERS_ERR_FORMAT, "search response: truncated header");
    if (flags > 1)
        return hers_error(HERS_ERR_FORMAT, "search response: unknown flags 0x%x", flags);
    size_t N = hers_params_n(p);
    uint64_t blocks = (slots + N - 1) / N;
    if (scale < 1 || scale > HERS_QUANT_MAX_SCALE || d < 1 || d > HERS_SEARCH_MAX_D ||
        count < 1 || count > ((uint64_t)1 << 20) || slots < 1 || slots > HERS_SEARCH_MAX_N ||
        live > slots || parts < 1 || parts > blocks || (flags && live > (r.len - r.pos) / 10))
        return hers_error(HERS_ERR_FORMAT,
                          "search response: scale %u, d %u, %llu probes, %llu slots, %llu live "
                          "or %u parts out of range", scale, d, (unsigned long long)count,
                          (unsigned long long)slots, (unsigned long long)live, parts);
    hers_net_response *o = calloc(1, sizeof *o);
    if (!o)
        return hers_error(HERS_ERR_NOMEM, "search response: out of memory");
    o->version = ver;
    o->cat_version = cver;
    o->scale = scale;
    o->d = d;
    o->count = (size_t)count;
    o->slots = slots;
    o->live = (size_t)live;
    o->blocks = (size_t)blocks;
    o->N = N;
    o->first_block = calloc(parts, sizeof *o->first_block);
    o->res = calloc(parts, sizeof *o->res);
    if (!o->first_block || !o->res) {
        st = hers_error(HERS_ERR_NOMEM, "search response: out of memory");
        goto fail;
    }
    o->parts = parts;
    size_t next = 0;   /* parts must tile blocks [0, blocks) in order */
    for (size_t i = 0; i < parts; i++) {
        uint64_t fb, rl;
        const uint8_t *rec;
        if (net_rd_u64(&r, &fb) || net_rd_u64(&r, &rl) || rl > r.len - r.pos ||
            net_rd_bytes(&r, &rec, (size_t)rl)) {
            st = hers_error(HERS_ERR_FORMAT, "search response: truncated part %zu", i);
            goto fail;
        }
        if (fb != next) {
            st = hers_error(HERS_ERR_FORMAT, "search response: part %zu starts at block %llu, "
                                             "expected %zu", i, (unsigned long long)fb, next);
            goto fail;
        }
        if ((st = hers_result_deserialize(p, rec, (size_t)rl, &o->res[i])) != HERS_OK)
            goto fail;
        size_t nb = hers_result_blocks(o->res[i]);
        size_t rn = hers_result_n(o->res[i]);
        if (hers_result_count(o->res[i]) != o->count || nb == 0 || nb > o->blocks - next ||
            (next + nb < o->blocks ? rn != nb * N : rn != slots - (uint64_t)next * N)) {
            st = hers_error(HERS_ERR_FORMAT,
                            "search response: part %zu has %zu probes and %zu blocks, expected "
                            "%zu probes within %zu blocks", i, hers_result_count(o->res[i]), nb,
                            o->count, o->blocks - next);
            goto fail;
        }
        o->first_block[i] = next;
        next += nb;
    }
    if (next != o->blocks) {
        st = hers_error(HERS_ERR_FORMAT, "search response: parts cover %zu of %zu blocks", next,
                        o->blocks);
        goto fail;
    }
    if (flags) {
        if ((st = cat_entries_read(&r, live, slots, "search response", &o->own)) != HERS_OK)
            goto fail;
        o->has_own = 1;
    }
    if (r.pos != r.len) {
        st = hers_error(HERS_ERR_FORMAT, "search response: %zu trailing bytes", r.len - r.pos);
        goto fail;
    }
    *out = o;
    return HERS_OK;
fail:
    hers_net_response_free(o);
    return st;
}

unsigned hers_net_response_version(const hers_net_response *r) { return r ? r->version : 0; }
uint64_t hers_net_response_catalog_version(const hers_net_response *r)
{
    return r ? r->cat_version : 0;
}
int hers_net_response_has_catalog(const hers_net_response *r)
{
    return r && (r->has_own || r->lent);
}

static const cat_entries *entries_of(const hers_net_response *r)
{
    return r->has_own ? &r->own : r->lent ? &r->lent->e : NULL;
}

hers_status hers_net_response_attach_catalog(hers_net_response *r, const hers_net_catalog *c)
{
    if (!r || !c)
        return hers_error(HERS_ERR_ARG, "search response: NULL argument");
    if (r->version < 2 || c->version != r->cat_version || c->slots != r->slots ||
        c->e.live != r->live)
        return hers_error(HERS_ERR_STATE,
                          "search response: catalog version %016llx (%llu slots, %zu live) is not "
                          "the one searched, %016llx (%llu slots, %zu live): the gallery changed, "
                          "fetch the catalog again", (unsigned long long)c->version,
                          (unsigned long long)c->slots, c->e.live,
                          (unsigned long long)r->cat_version, (unsigned long long)r->slots,
                          r->live);
    if (!r->has_own)
        r->lent = c;
    return HERS_OK;
}

hers_status hers_net_catalog_decode(const void *buf, size_t len, hers_net_catalog **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "catalog: NULL argument");
    *out = NULL;
    net_rd r;
    hers_status st = net_rd_open_v(&r, buf, len, "HERSCAT", "catalog", HERS_NET_CATALOG_VERSION,
                                   HERS_NET_CATALOG_VERSION, UINT32_MAX, NULL);
    if (st != HERS_OK)
        return st;
    uint32_t flags;
    uint64_t ver, slots, live;
    if (net_rd_u32(&r, &flags) || net_rd_u64(&r, &ver) || net_rd_u64(&r, &slots) ||
        net_rd_u64(&r, &live))
        return hers_error(HERS_ERR_FORMAT, "catalog: truncated header");
    if (flags || slots > HERS_SEARCH_MAX_N)
        return hers_error(HERS_ERR_FORMAT, "catalog: flags 0x%x or %llu slots out of range", flags,
                          (unsigned long long)slots);
    hers_net_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return hers_error(HERS_ERR_NOMEM, "catalog: out of memory");
    c->version = ver;
    c->slots = slots;
    if ((st = cat_entries_read(&r, live, slots, "catalog", &c->e)) == HERS_OK && r.pos != r.len)
        st = hers_error(HERS_ERR_FORMAT, "catalog: %zu trailing bytes", r.len - r.pos);
    if (st != HERS_OK) {
        hers_net_catalog_free(c);
        return st;
    }
    *out = c;
    return HERS_OK;
}

void hers_net_catalog_free(hers_net_catalog *c)
{
    if (!c)
        return;
    cat_entries_free(&c->e);
    free(c);
}

hers_status hers_net_catalog_encode(const hers_net_catalog *c, uint8_t **buf, size_t *len)
{
    if (!c || !buf || !len)
        return hers_error(HERS_ERR_ARG, "catalog: NULL argument");
    size_t n = c->e.live, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += 9 + strlen(c->e.blob + c->e.off[i]);
    uint8_t *cat = malloc(bytes ? bytes : 1);
    if (!cat)
        return hers_error(HERS_ERR_NOMEM, "catalog: out of memory for %zu bytes", bytes);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = c->e.blob + c->e.off[i];
        pos += net_catalog_put(cat + pos, c->e.slots[i], id, strlen(id));
    }
    hers_status st = net_catalog_encode(c->version, c->slots, n, cat, pos, buf, len);
    free(cat);
    return st;
}

uint64_t hers_net_catalog_version(const hers_net_catalog *c) { return c ? c->version : 0; }
size_t hers_net_catalog_slots(const hers_net_catalog *c) { return c ? (size_t)c->slots : 0; }
size_t hers_net_catalog_live(const hers_net_catalog *c) { return c ? c->e.live : 0; }
const char *hers_net_catalog_id(const hers_net_catalog *c, size_t i)
{
    return c && i < c->e.live ? c->e.blob + c->e.off[i] : NULL;
}

size_t hers_net_response_count(const hers_net_response *r) { return r ? r->count : 0; }
size_t hers_net_response_slots(const hers_net_response *r) { return r ? (size_t)r->slots : 0; }
size_t hers_net_response_live(const hers_net_response *r) { return r ? r->live : 0; }
uint32_t hers_net_response_scale(const hers_net_response *r) { return r ? r->scale : 0; }
size_t hers_net_response_d(const hers_net_response *r) { return r ? r->d : 0; }

const char *hers_net_response_id(const hers_net_response *r, size_t i)
{
    const cat_entries *e = r ? entries_of(r) : NULL;
    return e && i < e->live ? e->blob + e->off[i] : NULL;
}

hers_status hers_net_response_decrypt(const hers_params *p, const hers_secret_key *sk,
                                      const hers_net_response *r, size_t probe, int64_t *scores)
{
    if (!p || !sk || !r || !scores || probe >= r->count)
        return hers_error(HERS_ERR_ARG, "search response: invalid argument");
    const cat_entries *e = entries_of(r);
    if (!e)
        return hers_error(HERS_ERR_STATE, "search response: no catalog (version %016llx): "
                                          "attach the gallery's catalog first",
                          (unsigned long long)r->cat_version);
    size_t li = 0;
    hers_status st = HERS_OK;
    for (size_t i = 0; i < r->parts && st == HERS_OK; i++) {
        size_t n = hers_result_n(r->res[i]);
        uint64_t base = (uint64_t)r->first_block[i] * r->N;
        int64_t *tmp = hers_alloc_array(n, sizeof *tmp);
        if (!tmp)
            return hers_error(HERS_ERR_NOMEM, "search response: out of memory");
        st = hers_result_decrypt(p, sk, r->res[i], probe, tmp);
        while (st == HERS_OK && li < e->live && e->slots[li] < base + n) {
            scores[li] = tmp[e->slots[li] - base];
            li++;
        }
        hers_free_secret(tmp, n * sizeof *tmp);
    }
    if (st == HERS_OK && li != e->live)
        st = hers_error(HERS_ERR_FORMAT, "search response: catalog slot beyond the results");
    return st;
}
