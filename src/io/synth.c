/* synth.c - seeded identity-clustered unit vectors (see hers_synth.h). */
#include "hers/hers_synth.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "core/pool.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"

#define SYNTH_STREAM_MAP 0                  /* the embedding map */
#define SYNTH_STREAM_ID(i) (1 + (uint64_t)(i)) /* identity i: centre, samples */
#define SYNTH_WARP_GAIN 2.0                 /* std of G's entries: tanh in its curved range */

void hers_synth_defaults(hers_synth_params *p)
{
    memset(p, 0, sizeof *p);
    p->spread = 0.6;
    p->warp = 0.5;
    p->seed = 1;
}

hers_status hers_synth_check(const hers_synth_params *p)
{
    if (!p)
        return hers_error(HERS_ERR_ARG, "NULL synth parameters");
    if (p->identities < 1 || p->identities > INT32_MAX)
        return hers_error(HERS_ERR_ARG, "synth: identities %zu outside 1..%d", p->identities,
                          INT32_MAX);
    if (p->per_identity < 1)
        return hers_error(HERS_ERR_ARG, "synth: per_identity must be >= 1");
    if (p->dim < 2 || p->dim > HERS_IO_MAX_DIM)
        return hers_error(HERS_ERR_ARG, "synth: dim %zu outside 2..%zu", p->dim, HERS_IO_MAX_DIM);
    if (!(p->spread >= 0 && p->spread <= 1.5707963267948966))
        return hers_error(HERS_ERR_ARG, "synth: spread %g outside 0..pi/2 radians", p->spread);
    if (p->latent_dim >= p->dim)
        return hers_error(HERS_ERR_ARG, "synth: latent_dim %zu must be < dim %zu (0 = full)",
                          p->latent_dim, p->dim);
    if (p->nonlinear && !(p->warp >= 0 && p->warp <= 10))
        return hers_error(HERS_ERR_ARG, "synth: warp %g outside 0..10", p->warp);
    size_t rows;
    if (__builtin_mul_overflow(p->identities, p->per_identity, &rows) ||
        rows > HERS_IO_MAX_ROWS || rows > SIZE_MAX / sizeof(float) / p->dim)
        return hers_error(HERS_ERR_ARG, "synth: %zu x %zu rows is too many", p->identities,
                          p->per_identity);
    return HERS_OK;
}

static void seed_bytes(uint64_t seed, uint8_t out[HERS_SEED_BYTES])
{
    static const char tag[] = "hers-synth-v1"; /* domain separation */
    memset(out, 0, HERS_SEED_BYTES);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(seed >> (8 * i));
    memcpy(out + 8, tag, sizeof tag - 1);
}

/* k standard normals: Box-Muller using both outputs of each pair, from PRG
 * bytes drawn in bulk (this dominates generation time). */
static void normals(hers_prg *g, double *v, size_t k)
{
    uint64_t w[64];
    for (size_t i = 0; i < k;) {
        size_t pairs = (k - i + 1) / 2;
        if (pairs > 32)
            pairs = 32;
        hers_prg_bytes(g, w, pairs * 16);
        for (size_t j = 0; j < pairs; j++) {
            uint8_t *b = (uint8_t *)&w[2 * j];
            uint64_t x = 0, y = 0;
            for (int t = 7; t >= 0; t--) { /* little-endian, host independent */
                x = x << 8 | b[t];
                y = y << 8 | b[8 + t];
            }
            double u1 = (double)((x >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
            double u2 = (double)(y >> 11) * 0x1.0p-53;
            double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
            v[i++] = r * cos(a);
            if (i < k)
                v[i++] = r * sin(a);
        }
    }
}

static void unit_gaussian(hers_prg *g, double *v, size_t k)
{
    double s;
    do {
        s = 0;
        normals(g, v, k);
        for (size_t i = 0; i < k; i++)
            s += v[i] * v[i];
    } while (s < 1e-300);
    double inv = 1.0 / sqrt(s);
    for (size_t i = 0; i < k; i++)
        v[i] *= inv;
}

/* The latent-to-output map (only with latent_dim). */
typedef struct synth_map {
    size_t k, h, d;
    double *q; /* d x k, orthonormal columns */
    double *gm; /* h x k (nonlinear only) */
    double *r; /* d x h (nonlinear only) */
} synth_map;

static void map_free(synth_map *m)
{
    hers_free(m->q);
    hers_free(m->gm);
    hers_free(m->r);
    memset(m, 0, sizeof *m);
}

static hers_status map_init(synth_map *m, const hers_synth_params *p, const uint8_t *seed)
{
    memset(m, 0, sizeof *m);
    m->k = p->latent_dim + 1;
    m->d = p->dim;
    m->h = p->nonlinear ? 2 * m->k : 0;
    m->q = hers_alloc_array(m->d * m->k, sizeof(double));
    if (p->nonlinear) {
        m->gm = hers_alloc_array(m->h * m->k, sizeof(double));
        m->r = hers_alloc_array(m->d * m->h, sizeof(double));
    }
    if (!m->q || (p->nonlinear && (!m->gm || !m->r))) {
        map_free(m);
        return hers_error(HERS_ERR_NOMEM, "synth: cannot allocate the embedding map");
    }
    hers_prg g;
    hers_prg_init(&g, seed, SYNTH_STREAM_MAP);
    /* Orthonormal columns by modified Gram-Schmidt on Gaussian columns
     * (k < d, so a rank deficiency is a probability-zero event; retried). */
    for (size_t j = 0; j < m->k; j++) {
        double nrm;
        do {
            for (size_t i = 0; i < m->d; i++)
                m->q[i * m->k + j] = hers_prg_normal(&g);
            for (size_t l = 0; l < j; l++) {
                double dot = 0;
                for (size_t i = 0; i < m->d; i++)
                    dot += m->q[i * m->k + j] * m->q[i * m->k + l];
                for (size_t i = 0; i < m->d; i++)
                    m->q[i * m->k + j] -= dot * m->q[i * m->k + l];
            }
            nrm = 0;
            for (size_t i = 0; i < m->d; i++)
                nrm += m->q[i * m->k + j] * m->q[i * m->k + j];
        } while (nrm < 1e-20);
        nrm = 1.0 / sqrt(nrm);
        for (size_t i = 0; i < m->d; i++)
            m->q[i * m->k + j] *= nrm;
    }
    if (p->nonlinear) {
        for (size_t i = 0; i < m->h * m->k; i++)
            m->gm[i] = SYNTH_WARP_GAIN * hers_prg_normal(&g);
        double rs = 1.0 / sqrt((double)m->h);
        for (size_t i = 0; i < m->d * m->h; i++)
            m->r[i] = rs * hers_prg_normal(&g);
    }
    hers_prg_wipe(&g);
    return HERS_OK;
}

/* out (d floats, unit norm) = normalise(Q z + warp * R tanh(G z)). */
static void map_apply(const synth_map *m, double warp, const double *z, double *tmp, float *out)
{
    if (m->gm) {
        for (size_t a = 0; a < m->h; a++) {
            double s = 0;
            for (size_t j = 0; j < m->k; j++)
                s += m->gm[a * m->k + j] * z[j];
            tmp[a] = warp * tanh(s);
        }
    }
    double nrm = 0;
    for (size_t i = 0; i < m->d; i++) {
        double s = 0;
        for (size_t j = 0; j < m->k; j++)
            s += m->q[i * m->k + j] * z[j];
        if (m->gm)
            for (size_t a = 0; a < m->h; a++)
                s += m->r[i * m->h + a] * tmp[a];
        out[i] = (float)s;
        nrm += s * s;
    }
    float inv = nrm > 0 ? (float)(1.0 / sqrt(nrm)) : 0.0f;
    for (size_t i = 0; i < m->d; i++)
        out[i] *= inv;
}

/* One thread's share: identities [id0, id1) of the range starting at `first`. */
typedef struct synth_job {
    const hers_synth_params *p;
    const synth_map *map;
    const uint8_t *seed;
    size_t first, id0, id1;
    hers_matrix *x;
    hers_labels *labels;
    int failed;
} synth_job;

static void synth_worker(void *arg, size_t task, unsigned worker)
{
    (void)worker;
    synth_job *jb = (synth_job *)arg + task;
    const hers_synth_params *p = jb->p;
    size_t k = p->latent_dim ? jb->map->k : p->dim;
    size_t h = p->latent_dim ? jb->map->h : 0;
    double *c = hers_alloc_array(3 * k + h + 1, sizeof(double));
    if (!c) {
        jb->failed = 1;
        return;
    }
    double *u = c + k, *z = c + 2 * k, *tmp = c + 3 * k;
    for (size_t id = jb->id0; id < jb->id1; id++) {
        hers_prg g;
        hers_prg_init(&g, jb->seed, SYNTH_STREAM_ID(id));
        unit_gaussian(&g, c, k);
        for (size_t j = 0; j < p->per_identity; j++) {
            /* Tangent direction u orthogonal to c; the angle scales with
             * |g| / sqrt(k - 1) so that it concentrates at `spread`. */
            double s = 0, dot = 0;
            normals(&g, u, k);
            for (size_t i = 0; i < k; i++)
                dot += u[i] * c[i];
            for (size_t i = 0; i < k; i++) {
                u[i] -= dot * c[i];
                s += u[i] * u[i];
            }
            double len = sqrt(s);
            double theta = p->spread * len / sqrt((double)(k - 1));
            if (theta > 3.141592653589793)
                theta = 3.141592653589793;
            double cs = cos(theta), sn = len > 0 ? sin(theta) / len : 0;
            for (size_t i = 0; i < k; i++)
                z[i] = cs * c[i] + sn * u[i];
            size_t row = (id - jb->first) * p->per_identity + j;
            float *out = jb->x->data + row * p->dim;
            if (p->latent_dim) {
                map_apply(jb->map, p->nonlinear ? p->warp : 0.0, z, tmp, out);
            } else {
                double nrm = 0;
                for (size_t i = 0; i < k; i++)
                    nrm += z[i] * z[i];
                double inv = 1.0 / sqrt(nrm);
                for (size_t i = 0; i < k; i++)
                    out[i] = (float)(z[i] * inv);
            }
            if (jb->labels)
                jb->labels->data[row] = (int32_t)id;
        }
        hers_prg_wipe(&g);
    }
    hers_free(c);
}

#define SYNTH_MAX_THREADS HERS_MAX_THREADS

hers_status hers_synth_generate_range(const hers_synth_params *p, size_t first, size_t count,
                                      hers_matrix *x, hers_labels *labels)
{
    if (x)
        *x = (hers_matrix){0, 0, NULL};
    if (labels)
        *labels = (hers_labels){0, NULL};
    hers_status st = hers_synth_check(p);
    if (st != HERS_OK)
        return st;
    if (!x)
        return hers_error(HERS_ERR_ARG, "synth: NULL output matrix");
    if (first > p->identities || count > p->identities - first || count == 0)
        return hers_error(HERS_ERR_ARG, "synth: identity range [%zu, %zu + %zu) outside 0..%zu",
                          first, first, count, p->identities);
    size_t rows = count * p->per_identity;
    if ((st = hers_matrix_alloc(x, rows, p->dim)) != HERS_OK)
        return st;
    if (labels && (st = hers_labels_alloc(labels, rows)) != HERS_OK) {
        hers_matrix_free(x);
        return st;
    }
    uint8_t seed[HERS_SEED_BYTES];
    seed_bytes(p->seed, seed);
    synth_map map = {0};
    if (p->latent_dim && (st = map_init(&map, p, seed)) != HERS_OK)
        goto fail;
    /* Threads split the identities; each identity has its own PRG stream,
     * so the output does not depend on the split. */
    size_t nt = hers_threads_resolve(p->threads);
    if ((uint64_t)count * p->per_identity * p->dim < ((uint64_t)1 << 16))
        nt = 1; /* not worth a thread */
    if (nt > count)
        nt = count;
    synth_job jobs[SYNTH_MAX_THREADS];
    for (size_t t = 0; t < nt; t++)
        jobs[t] = (synth_job){p, &map, seed, first, first + count * t / nt,
                              first + count * (t + 1) / nt, x, labels, 0};
    hers_parallel_for((unsigned)nt, nt, synth_worker, jobs);
    int failed = 0;
    for (size_t t = 0; t < nt; t++)
        failed |= jobs[t].failed;
    map_free(&map);
    if (failed) {
        st = hers_error(HERS_ERR_NOMEM, "synth: out of memory");
        goto fail;
    }
    return HERS_OK;
fail:
    map_free(&map);
    hers_matrix_free(x);
    if (labels)
        hers_labels_free(labels);
    return st;
}

hers_status hers_synth_generate(const hers_synth_params *p, hers_matrix *x, hers_labels *labels)
{
    hers_status st = hers_synth_check(p);
    if (st != HERS_OK)
        return st;
    return hers_synth_generate_range(p, 0, p->identities, x, labels);
}
