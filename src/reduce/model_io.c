/* model_io.c - the model file: serialisation, validating reader, model id.
 *
 * Layout (all integers little-endian; see docs/formats.md):
 *   0  magic "HERSMODL"          8 bytes
 *   8  version (1)               u32
 *  12  method (1 pca, 2 deepmds) u32
 *  16  flags (bit 0: whiten)     u32
 *  20  in_dim, 24 out_dim, 28 pca_dim, 32 n_stages, 36 reserved (0)  u32
 *  40  payload bytes             u64
 *  48  stage table: n_stages x (u32 in, u32 out)
 *      payload: float32 LE arrays (PCA mean, components, scale, eigenvalues;
 *      then per stage skip W, b and layers 0..5 W, b)
 *  end-32: BLAKE2b-256 (crypto_generichash) of every preceding byte.
 */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/bitpack.h"
#include "hers/hers_mem.h"
#include "hers/hers_reduce.h"
#include "reduce/reduce_internal.h"

#define MODEL_MAGIC "HERSMODL"
#define MODEL_HEADER 48u
#define MODEL_SUM 32u
#define MODEL_MAX_FILE ((size_t)1 << 32) /* 4 GiB: far above any sane model */

/* Visits every float array of the model in file order. */
typedef struct arr {
    float *p;
    size_t n;
} arr;

static size_t model_arrays(const hers_reduce_model *m, arr *a, size_t max)
{
    size_t n = 0;
#define ADD(ptr, cnt) do { if (n < max) { a[n].p = (ptr); a[n].n = (cnt); } n++; } while (0)
    if (m->pca_dim) {
        ADD(m->pca_mean, m->in_dim);
        ADD(m->pca_comp, m->pca_dim * m->in_dim);
        ADD(m->pca_scale, m->pca_dim);
        ADD(m->pca_eig, m->pca_dim);
    }
    for (size_t s = 0; s < m->n_stages; s++) {
        hers_reduce_stage *st = &m->stages[s];
        ADD(st->skip.w, st->skip.in * st->skip.out);
        ADD(st->skip.b, st->skip.out);
        for (int k = 0; k < 6; k++) {
            ADD(st->layer[k].w, st->layer[k].in * st->layer[k].out);
            ADD(st->layer[k].b, st->layer[k].out);
        }
    }
#undef ADD
    return n;
}

#define MAX_ARRAYS (4 + 14 * HERS_REDUCE_MAX_STAGES)

static hers_status check_shapes(size_t method, size_t in_dim, size_t out_dim, size_t pca_dim,
                                size_t n_stages, const uint32_t *st_in, const uint32_t *st_out)
{
    if (method != HERS_REDUCE_PCA && method != HERS_REDUCE_DEEPMDS)
        return hers_error(HERS_ERR_FORMAT, "model: unknown method %zu", method);
    if (in_dim == 0 || in_dim > HERS_REDUCE_MAX_DIM || out_dim == 0 || out_dim > in_dim)
        return hers_error(HERS_ERR_FORMAT, "model: bad dimensions in %zu out %zu", in_dim, out_dim);
    if (pca_dim > in_dim || n_stages > HERS_REDUCE_MAX_STAGES)
        return hers_error(HERS_ERR_FORMAT, "model: bad PCA dimension %zu or stage count %zu",
                          pca_dim, n_stages);
    if (method == HERS_REDUCE_PCA && (pca_dim != out_dim || n_stages != 0))
        return hers_error(HERS_ERR_FORMAT, "model: PCA model must have pca_dim = out_dim, no stage");
    if (method == HERS_REDUCE_DEEPMDS && n_stages == 0)
        return hers_error(HERS_ERR_FORMAT, "model: DeepMDS++ model without stages");
    size_t cur = pca_dim ? pca_dim : in_dim;
    for (size_t s = 0; s < n_stages; s++) {
        if (st_in[s] != cur || st_out[s] == 0 || st_out[s] > st_in[s])
            return hers_error(HERS_ERR_FORMAT, "model: stage %zu shape %u -> %u does not chain from %zu",
                              s + 1, st_in[s], st_out[s], cur);
        cur = st_out[s];
    }
    if (cur != out_dim)
        return hers_error(HERS_ERR_FORMAT, "model: chain ends at %zu, header says %zu", cur, out_dim);
    return HERS_OK;
}

static size_t header_len(const hers_reduce_model *m)
{
    return MODEL_HEADER + 8 * m->n_stages;
}

static size_t payload_floats(const hers_reduce_model *m)
{
    arr a[MAX_ARRAYS];
    size_t n = model_arrays(m, a, MAX_ARRAYS), total = 0;
    for (size_t i = 0; i < n && i < MAX_ARRAYS; i++)
        total += a[i].n;
    return total;
}

hers_status hers_reduce_model_write_mem(const hers_reduce_model *m, uint8_t **buf, size_t *len)
{
    if (!m || !buf || !len)
        return hers_error(HERS_ERR_ARG, "model write: NULL argument");
    *buf = NULL;
    *len = 0;
    if (m->n_stages > HERS_REDUCE_MAX_STAGES)
        return hers_error(HERS_ERR_ARG, "model write: %zu stages", m->n_stages);
    uint32_t st_in[HERS_REDUCE_MAX_STAGES], st_out[HERS_REDUCE_MAX_STAGES];
    for (size_t s = 0; s < m->n_stages; s++) {
        st_in[s] = (uint32_t)m->stages[s].in;
        st_out[s] = (uint32_t)m->stages[s].out;
    }
    hers_status rc = check_shapes((size_t)m->method, m->in_dim, m->out_dim, m->pca_dim,
                                  m->n_stages, st_in, st_out);
    if (rc != HERS_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hers_last_error());
        return hers_error(HERS_ERR_ARG, "model write: %s", msg);
    }
    size_t hl = header_len(m), pf = payload_floats(m);
    size_t total = hl + 4 * pf + MODEL_SUM;
    uint8_t *b = hers_alloc(total);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "model write: %zu bytes", total);
    memcpy(b, MODEL_MAGIC, 8);
    hers_le_put_u32(b + 8, HERS_MODEL_VERSION);
    hers_le_put_u32(b + 12, (uint32_t)m->method);
    hers_le_put_u32(b + 16, m->whiten ? 1u : 0u);
    hers_le_put_u32(b + 20, (uint32_t)m->in_dim);
    hers_le_put_u32(b + 24, (uint32_t)m->out_dim);
    hers_le_put_u32(b + 28, (uint32_t)m->pca_dim);
    hers_le_put_u32(b + 32, (uint32_t)m->n_stages);
    hers_le_put_u32(b + 36, 0);
    hers_le_put_u64(b + 40, (uint64_t)pf * 4);
    for (size_t s = 0; s < m->n_stages; s++) {
        hers_le_put_u32(b + MODEL_HEADER + 8 * s, st_in[s]);
        hers_le_put_u32(b + MODEL_HEADER + 8 * s + 4, st_out[s]);
    }
    uint8_t *p = b + hl;
    arr a[MAX_ARRAYS];
    size_t na = model_arrays(m, a, MAX_ARRAYS);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < a[i].n; j++) {
            uint32_t u;
            memcpy(&u, &a[i].p[j], 4);
            hers_le_put_u32(p, u);
            p += 4;
        }
    crypto_generichash(p, MODEL_SUM, b, total - MODEL_SUM, NULL, 0);
    *buf = b;
    *len = total;
    return HERS_OK;
}

hers_status hers_reduce_model_read_mem(const uint8_t *buf, size_t len, hers_reduce_model **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "model read: NULL argument");
    *out = NULL;
    if (!buf && len)
        return hers_error(HERS_ERR_ARG, "model read: NULL buffer");
    if (len < MODEL_HEADER + MODEL_SUM)
        return hers_error(HERS_ERR_FORMAT, "model: truncated (%zu bytes, header needs %u)", len,
                          MODEL_HEADER + MODEL_SUM);
    if (memcmp(buf, MODEL_MAGIC, 8) != 0)
        return hers_error(HERS_ERR_FORMAT, "model: bad magic (not a hers model file)");
    uint32_t version = hers_le_get_u32(buf + 8);
    if (version != HERS_MODEL_VERSION)
        return hers_error(HERS_ERR_VERSION, "model: version %u not supported (this build reads %u)",
                          version, HERS_MODEL_VERSION);
    size_t method = hers_le_get_u32(buf + 12), flags = hers_le_get_u32(buf + 16), in_dim = hers_le_get_u32(buf + 20),
           out_dim = hers_le_get_u32(buf + 24), pca_dim = hers_le_get_u32(buf + 28), n_stages = hers_le_get_u32(buf + 32);
    uint64_t payload = hers_le_get_u64(buf + 40);
    if (hers_le_get_u32(buf + 36) != 0 || (flags & ~(size_t)1) != 0)
        return hers_error(HERS_ERR_FORMAT, "model: reserved header bits set");
    if (n_stages > HERS_REDUCE_MAX_STAGES)
        return hers_error(HERS_ERR_FORMAT, "model: %zu stages (max %u)", n_stages,
                          HERS_REDUCE_MAX_STAGES);
    size_t hl = MODEL_HEADER + 8 * n_stages;
    if (len < hl + MODEL_SUM)
        return hers_error(HERS_ERR_FORMAT, "model: truncated stage table");
    if (payload != (uint64_t)(len - hl - MODEL_SUM))
        return hers_error(HERS_ERR_FORMAT, "model: payload of %llu bytes but file holds %zu (truncated?)",
                          (unsigned long long)payload, len - hl - MODEL_SUM);
    uint8_t sum[MODEL_SUM];
    crypto_generichash(sum, MODEL_SUM, buf, len - MODEL_SUM, NULL, 0);
    /* Fuzz builds (the libFuzzer convention) skip the checksum so that the
     * fuzzer reaches the shape and weight validation behind it. */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (sodium_memcmp(sum, buf + len - MODEL_SUM, MODEL_SUM) != 0)
        return hers_error(HERS_ERR_CHECKSUM, "model: checksum mismatch (file corrupted)");
#endif
    uint32_t st_in[HERS_REDUCE_MAX_STAGES], st_out[HERS_REDUCE_MAX_STAGES];
    for (size_t s = 0; s < n_stages; s++) {
        st_in[s] = hers_le_get_u32(buf + MODEL_HEADER + 8 * s);
        st_out[s] = hers_le_get_u32(buf + MODEL_HEADER + 8 * s + 4);
    }
    hers_status rc = check_shapes(method, in_dim, out_dim, pca_dim, n_stages, st_in, st_out);
    if (rc != HERS_OK)
        return rc;
    hers_reduce_model *m = reduce_model_new();
    if (!m)
        return hers_error(HERS_ERR_NOMEM, "model read");
    m->method = (hers_reduce_method)method;
    m->in_dim = in_dim;
    m->out_dim = out_dim;
    m->whiten = (int)(flags & 1);
    size_t outs[HERS_REDUCE_MAX_STAGES];
    for (size_t s = 0; s < n_stages; s++)
        outs[s] = st_out[s];
    if (pca_dim)
        rc = reduce_model_alloc_pca(m, pca_dim);
    /* Sizes are checked before allocating: a forged header cannot make us
     * allocate more than the file holds. */
    if (rc == HERS_OK) {
        hers_reduce_model shape = *m;
        shape.pca_dim = pca_dim;
        shape.n_stages = 0;
        size_t need = payload_floats(&shape);
        size_t cur = pca_dim ? pca_dim : in_dim;
        for (size_t s = 0; s < n_stages; s++) {
            size_t w[4];
            hers_reduce_stage_widths(cur, outs[s], w);
            need += cur * outs[s] + outs[s];
            for (int k = 0; k < 3; k++)
                need += w[k] * w[k] + w[k] + w[k] * w[k + 1] + w[k + 1];
            cur = outs[s];
        }
        if ((uint64_t)need * 4 != payload)
            rc = hers_error(HERS_ERR_FORMAT, "model: payload is %llu bytes, shapes need %zu",
                            (unsigned long long)payload, need * 4);
    }
    if (rc == HERS_OK && n_stages)
        rc = reduce_model_alloc_stages(m, pca_dim ? pca_dim : in_dim, outs, n_stages);
    if (rc == HERS_OK) {
        const uint8_t *p = buf + hl;
        arr a[MAX_ARRAYS];
        size_t na = model_arrays(m, a, MAX_ARRAYS);
        for (size_t i = 0; i < na && rc == HERS_OK; i++)
            for (size_t j = 0; j < a[i].n; j++) {
                uint32_t u = hers_le_get_u32(p);
                p += 4;
                memcpy(&a[i].p[j], &u, 4);
                if (!isfinite(a[i].p[j])) {
                    rc = hers_error(HERS_ERR_FORMAT, "model: non-finite weight");
                    break;
                }
            }
    }
    if (rc == HERS_OK && pca_dim) {
        for (size_t j = 0; j < pca_dim; j++)
            if (m->pca_scale[j] <= 0 || m->pca_eig[j] < 0)
                rc = hers_error(HERS_ERR_FORMAT, "model: PCA scale/eigenvalue %zu out of range", j);
    }
    if (rc != HERS_OK) {
        hers_reduce_model_free(m);
        return rc;
    }
    *out = m;
    return HERS_OK;
}

hers_status hers_reduce_model_id(const hers_reduce_model *m, uint8_t id[HERS_MODEL_ID_BYTES])
{
    if (!id)
        return hers_error(HERS_ERR_ARG, "model id: NULL argument");
    uint8_t *b;
    size_t len;
    hers_status rc = hers_reduce_model_write_mem(m, &b, &len);
    if (rc != HERS_OK)
        return rc;
    crypto_generichash(id, HERS_MODEL_ID_BYTES, b, len - MODEL_SUM, NULL, 0);
    hers_free(b);
    return HERS_OK;
}

hers_status hers_reduce_model_id_hex(const hers_reduce_model *m,
                                     char hex[2 * HERS_MODEL_ID_BYTES + 1])
{
    uint8_t id[HERS_MODEL_ID_BYTES];
    hers_status rc = hers_reduce_model_id(m, id);
    if (rc != HERS_OK)
        return rc;
    sodium_bin2hex(hex, 2 * HERS_MODEL_ID_BYTES + 1, id, HERS_MODEL_ID_BYTES);
    return HERS_OK;
}

hers_status hers_reduce_model_save(const hers_reduce_model *m, const char *path)
{
    if (!path)
        return hers_error(HERS_ERR_ARG, "model save: NULL path");
    uint8_t *b;
    size_t len;
    hers_status rc = hers_reduce_model_write_mem(m, &b, &len);
    if (rc != HERS_OK)
        return rc;
    /* atomic and fsync'ed: a crash leaves the old model or the new one */
    rc = hers_atomic_write_file(path, b, len, 0644);
    hers_free(b);
    return rc;
}

hers_status hers_reduce_model_load(const char *path, hers_reduce_model **out)
{
    if (!path || !out)
        return hers_error(HERS_ERR_ARG, "model load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", path,
                          strerror(errno));
    hers_status rc = HERS_OK;
    uint8_t *b = NULL;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = hers_error(HERS_ERR_IO, "%s: cannot determine size", path);
    } else if ((unsigned long)sz > MODEL_MAX_FILE) {
        rc = hers_error(HERS_ERR_FORMAT, "%s: %ld bytes is too large for a model", path, sz);
    } else {
        b = hers_alloc(sz ? (size_t)sz : 1);
        if (!b)
            rc = hers_error(HERS_ERR_NOMEM, "%s: %ld bytes", path, sz);
        else if (fread(b, 1, (size_t)sz, f) != (size_t)sz)
            rc = hers_error(HERS_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    if (rc == HERS_OK) {
        rc = hers_reduce_model_read_mem(b, (size_t)sz, out);
        if (rc != HERS_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", hers_last_error());
            rc = hers_error(rc, "%s: %s", path, msg);
        }
    }
    hers_free(b);
    return rc;
}
