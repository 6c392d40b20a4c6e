/*
 * reshard.c - offline `hers reshard`: a gallery moves from K shards (or a
 * single-node database) to K' shards, whole encrypted segments at a time,
 * with no key and nothing decoded (store_export.c). No MPI: every shard
 * directory must be reachable from this machine (one ROOT, as in the tests,
 * or the shards' disks mounted side by side).
 *
 * Crash safety. The new layout gets a new gallery uuid and is built beside
 * the old one in ROOT/NAME/.reshard-new (shard dirs, tags, descriptor) and
 * checked; then the marker ROOT/NAME/reshard.commit (the new uuid and K',
 * written atomically) is the commit point; then the old shards move to
 * ROOT/NAME/.reshard-old and the new ones into place, the descriptor last,
 * and the marker and the old copy are removed. Every step after the marker
 * is idempotent (a shard is "old" when its tag names another uuid), so:
 *   - a crash before the marker leaves the old layout untouched (the next
 *     run removes the stale .reshard-new);
 *   - a crash after it is finished by the next `hers reshard` of the
 *     gallery; meanwhile the server refuses the gallery, naming the command.
 * Every old shard is claimed exclusively (hers_store_claim) first, so a
 * running server makes the reshard refuse instead of moving under it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster_internal.h"
#include "core/atomic_file.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "hers/hers_search.h"

#define STAGE_NEW ".reshard-new"
#define STAGE_OLD ".reshard-old"

/* NAME/leaf as a gallery "name" for cl_path and friends. */
static char *sub_name(const char *name, const char *leaf)
{
    size_t l = strlen(name) + strlen(leaf) + 2;
    char *p = malloc(l);
    if (p)
        snprintf(p, l, "%s/%s", name, leaf);
    return p;
}

static int exists(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0;
}

static hers_status nomem(void) { return hers_error(HERS_ERR_NOMEM, "reshard: out of memory"); }

static hers_status sys_error(const char *what, const char *path)
{
    return hers_error(HERS_ERR_IO, "reshard: %s %s: %s", what, path, strerror(errno));
}

static hers_status fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sys_error("open", dir);
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? HERS_OK : sys_error("fsync", dir);
}

/* rename(a, b) if a exists; HERS_OK when a is already gone. */
static hers_status move_if_there(const char *a, const char *b)
{
    if (!a || !b)
        return nomem();
    if (!exists(a))
        return HERS_OK;
    return rename(a, b) == 0 ? HERS_OK : sys_error("rename", a);
}

/* Moves shard r (its tag, then its directory) from gallery `from` to `to`.
 * Tag first, in both directions: a crash between the two leaves a directory
 * without its tag only where it came from, so a re-run sees the right state
 * (a shard directory under NAME whose tag is missing counts as old). */
static hers_status move_shard(const char *root, const char *from, const char *to, unsigned r)
{
    char leaf[32];
    snprintf(leaf, sizeof leaf, "shard-%u.tag", r);
    char *a = cl_shard_dir(root, from, r), *b = cl_shard_dir(root, to, r);
    char *ta = cl_path(root, from, leaf), *tb = cl_path(root, to, leaf);
    hers_status st = move_if_there(ta, tb);
    if (st == HERS_OK)
        st = move_if_there(a, b);
    free(a);
    free(b);
    free(ta);
    free(tb);
    return st;
}

/* Removes a shard-like directory (database files, then the directory). */
static void remove_db_dir(const char *dir)
{
    static const char *const files[] = {"data.mdb", "segments.dat", "lock.mdb", "hers.lock", NULL};
    for (int i = 0; dir && files[i]; i++) {
        size_t l = strlen(dir) + strlen(files[i]) + 2;
        char *f = malloc(l);
        if (f) {
            snprintf(f, l, "%s/%s", dir, files[i]);
            unlink(f);
        }
        free(f);
    }
    if (dir)
        rmdir(dir);
}

/* Removes a stage directory: its shards, tags, descriptor, then itself. */
static void remove_stage(const char *root, const char *name, const char *stage)
{
    char *sn = sub_name(name, stage);
    if (!sn)
        return;
    for (unsigned r = 0; r < CL_MAX_SHARDS; r++) {
        char *dir = cl_shard_dir(root, sn, r);
        int there = exists(dir);
        free(dir);
        if (there)
            cl_remove_shard(root, sn, r);
        else {
            char leaf[32];
            snprintf(leaf, sizeof leaf, "shard-%u.tag", r);
            char *tag = cl_path(root, sn, leaf);
            if (tag)
                unlink(tag);
            free(tag);
        }
    }
    char *desc = cl_path(root, sn, CL_DESC_FILE), *dir = cl_path(root, name, stage);
    if (desc)
        unlink(desc);
    char *single = cl_path(root, sn, "single");   /* a converted single-node database */
    remove_db_dir(single);
    free(single);
    if (dir)
        rmdir(dir);
    free(desc);
    free(dir);
    free(sn);
}

/* ------------------------------------------------------------ marker */

static hers_status marker_write(const char *root, const char *name, const cl_desc *nd)
{
    char *p = cl_path(root, name, CL_RESHARD_MARKER);
    if (!p)
        return nomem();
    char text[128];
    int n = snprintf(text, sizeof text, "hers-reshard 1\nshards %u\nuuid ", nd->shards);
    for (int i = 0; i < CL_UUID; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%02x", nd->uuid[i]);
    n += snprintf(text + n, sizeof text - (size_t)n, "\n");
    hers_status st = hers_atomic_write_file(p, text, (size_t)n, 0600);
    free(p);
    return st;
}

static hers_status marker_read(const char *root, const char *name, cl_desc *nd)
{
    char *p = cl_path(root, name, CL_RESHARD_MARKER);
    if (!p)
        return nomem();
    FILE *f = fopen(p, "r");
    hers_status st = HERS_OK;
    unsigned k = 0;
    char uu[2 * CL_UUID + 2] = "";
    if (!f)
        st = hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", p,
                        strerror(errno));
    else if (fscanf(f, "hers-reshard 1\nshards %u\nuuid %33s", &k, uu) != 2 || k < 1 ||
             k > CL_MAX_SHARDS || strlen(uu) != 2 * CL_UUID)
        st = hers_error(HERS_ERR_FORMAT, "%s: malformed reshard marker", p);
    if (f)
        fclose(f);
    for (int i = 0; st == HERS_OK && i < CL_UUID; i++) {
        unsigned v;
        if (sscanf(uu + 2 * i, "%2x", &v) != 1)
            st = hers_error(HERS_ERR_FORMAT, "%s: malformed uuid", p);
        nd->uuid[i] = (uint8_t)v;
    }
    nd->shards = k;
    free(p);
    return st;
}

int cl_reshard_pending(const char *root, const char *name)
{
    char *p = cl_path(root, name, CL_RESHARD_MARKER);
    int there = exists(p);
    free(p);
    return there;
}

/* ------------------------------------------------------------ roll forward */

/* 1 when ROOT/NAME/shard-r exists and is not of the new layout. */
static int old_shard_at(const char *root, const char *name, unsigned r, const cl_desc *nd)
{
    char *dir = cl_shard_dir(root, name, r);
    int there = exists(dir);
    free(dir);
    if (!there)
        return 0;
    /* the new layout's shard r passes the tag check against the new uuid */
    return r >= nd->shards || cl_tag_check(root, name, r, nd) != HERS_OK;
}

/* Finishes a committed reshard (idempotent): old shards out, new ones in,
 * descriptor, marker and old copy gone. */
static hers_status roll_forward(const char *root, const char *name)
{
    cl_desc nd;
    hers_status st = marker_read(root, name, &nd);
    if (st != HERS_OK)
        return st;
    char *newn = sub_name(name, STAGE_NEW), *oldn = sub_name(name, STAGE_OLD);
    char *olddir = cl_path(root, name, STAGE_OLD), *gdir = cl_path(root, name, NULL);
    if (!newn || !oldn || !olddir || !gdir) {
        st = nomem();
        goto out;
    }
    /* the new descriptor's params id, for the tag checks */
    cl_desc staged;
    if (cl_desc_read_raw(root, newn, &staged) == HERS_OK)
        memcpy(nd.params_id, staged.params_id, 32);
    else if (cl_desc_read_raw(root, name, &staged) == HERS_OK)
        memcpy(nd.params_id, staged.params_id, 32);
    if (mkdir(olddir, 0700) != 0 && errno != EEXIST) {
        st = sys_error("mkdir", olddir);
        goto out;
    }
    /* a single-node database converted into shards: its files move aside */
    char *single = cl_path(root, oldn, "single");
    if (!single) {
        st = nomem();
        goto out;
    }
    if (mkdir(single, 0700) != 0 && errno != EEXIST)
        st = sys_error("mkdir", single);
    static const char *const files[] = {"data.mdb", "segments.dat", "lock.mdb", "hers.lock", NULL};
    for (int i = 0; st == HERS_OK && files[i]; i++) {
        char *a = cl_path(root, name, files[i]), *b = cl_path(root, oldn, "single");
        char *bf = b ? malloc(strlen(b) + strlen(files[i]) + 2) : NULL;
        if (bf)
            sprintf(bf, "%s/%s", b, files[i]);
        st = move_if_there(a, bf);
        free(a);
        free(b);
        free(bf);
    }
    free(single);
    for (unsigned r = 0; st == HERS_OK && r < CL_MAX_SHARDS; r++) {
        if (!old_shard_at(root, name, r, &nd))
            continue;
        st = move_shard(root, name, oldn, r);
    }
    for (unsigned r = 0; st == HERS_OK && r < nd.shards; r++)
        st = move_shard(root, newn, name, r);
    if (st == HERS_OK) {
        char *a = cl_path(root, newn, CL_DESC_FILE), *b = cl_path(root, name, CL_DESC_FILE);
        st = move_if_there(a, b);
        free(a);
        free(b);
    }
    /* the new layout must now be whole before the marker goes */
    for (unsigned r = 0; st == HERS_OK && r < nd.shards; r++)
        st = cl_tag_check(root, name, r, &nd);
    if (st == HERS_OK)
        st = fsync_dir(gdir);
    if (st == HERS_OK) {
        char *m = cl_path(root, name, CL_RESHARD_MARKER);
        if (!m || unlink(m) != 0)
            st = m ? sys_error("unlink", m) : nomem();
        free(m);
        if (st == HERS_OK)
            st = fsync_dir(gdir);
    }
    if (st == HERS_OK) {
        remove_stage(root, name, STAGE_OLD);
        remove_stage(root, name, STAGE_NEW);
    }
out:
    free(newn);
    free(oldn);
    free(olddir);
    free(gdir);
    return st;
}

/* ------------------------------------------------------------ copy */

struct source {
    hers_store *db;
    hers_store_snapshot *snap;
};

struct copy_ctx {
    const char *const *dirs;   /* new shard directories */
    hers_store **dst;          /* new shards */
    uint64_t *next;            /* their next free slot */
    unsigned k;
    hers_store_snapshot *snap; /* the source being copied */
    hers_store_enroll_opts opts;
    char prefix[64];           /* placeholder ids of deleted slots (new uuid inside) */
    char ***holes;             /* placeholder ids to delete, per new shard */
    size_t *nholes, *capholes;
    hers_cluster_reshard_stats *stats;
};

/* Keeps placeholder id `id` (owned) for deletion from new shard r. */
static hers_status keep_hole(struct copy_ctx *c, unsigned r, char *id)
{
    if (c->nholes[r] == c->capholes[r]) {
        size_t cap = c->capholes[r] ? 2 * c->capholes[r] : 64;
        char **h = realloc(c->holes[r], cap * sizeof *h);
        if (!h) {
            free(id);
            return nomem();
        }
        c->holes[r] = h;
        c->capholes[r] = cap;
    }
    c->holes[r][c->nholes[r]++] = id;
    return HERS_OK;
}

/* Moves block j of segment gallery g (n = offset + rows rows) to the new
 * shard with the fewest slots, unchanged (hers_gallery_take_blocks). */
static hers_status copy_block(struct copy_ctx *c, const hers_store_segment *seg,
                              const hers_gallery *g, size_t j)
{
    const hers_params *p = hers_store_params(c->dst[0]);
    size_t N = hers_params_n(p), n = seg->offset + seg->rows;
    size_t lo = j * N, hi = lo + N < n ? lo + N : n;
    size_t first_row = lo < seg->offset ? seg->offset : lo, m = hi - first_row;
    size_t off = j ? 0 : seg->offset;
    unsigned best = 0;
    for (unsigned r = 1; r < c->k; r++)
        if (c->next[r] < c->next[best])
            best = r;
    const char **ids = calloc(m, sizeof *ids);
    char **own = calloc(m, sizeof *own);
    hers_gallery *sub = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, dead = 0;
    hers_status st = ids && own ? HERS_OK : nomem();
    for (size_t i = 0; st == HERS_OK && i < m; i++) {
        uint64_t slot = seg->first_slot + (first_row - seg->offset) + i;
        ids[i] = hers_store_snapshot_id(c->snap, slot);
        if (!ids[i]) {   /* deleted: a placeholder, removed after the copy */
            size_t l = strlen(c->prefix) + 24;
            if (!(own[i] = malloc(l))) {
                st = nomem();
                break;
            }
            snprintf(own[i], l, "%s%llu", c->prefix,
                     (unsigned long long)c->stats->placeholders++);
            ids[i] = own[i];
            dead++;
        }
    }
    if (st == HERS_OK)
        st = hers_gallery_take_blocks(p, g, &j, 1, &sub);
    if (st == HERS_OK)
        st = hers_gallery_serialize(p, sub, &buf, &len);
    uint64_t first = 0;
    if (st == HERS_OK)
        st = hers_store_enroll_record(c->dst[best], buf, len, off, m, ids, &c->opts, &first);
    if (st == HERS_OK) {
        c->next[best] = first + m;
        c->stats->blocks++;
        c->stats->templates += m - dead;
        c->stats->bytes += len;
    }
    for (size_t i = 0; own && i < m; i++)
        if (own[i] && st == HERS_OK)
            st = keep_hole(c, best, own[i]);
        else
            free(own[i]);
    free(own);
    free(ids);
    hers_free(buf);
    hers_gallery_free(sub);
    return st;
}

/* Moves one stored segment, block by block (balance: a segment holds up to
 * 8 MB of blocks, one enrolment may be a single segment). */
static hers_status copy_segment(void *user, const hers_store_segment *seg)
{
    struct copy_ctx *c = user;
    hers_gallery *g = NULL;
    hers_status st = hers_gallery_deserialize(hers_store_params(c->dst[0]), seg->record,
                                              seg->record_len, &g);
    if (st == HERS_OK && hers_gallery_n(g) != seg->offset + seg->rows)
        st = hers_error(HERS_ERR_FORMAT, "reshard: segment %llu holds %zu rows, expected %zu",
                        (unsigned long long)seg->key, hers_gallery_n(g),
                        seg->offset + seg->rows);
    for (size_t j = 0; st == HERS_OK && j < hers_gallery_blocks(g); j++)
        st = copy_block(c, seg, g, j);
    if (st == HERS_OK)
        c->stats->segments++;
    hers_gallery_free(g);
    return st;
}

/* Opens and claims the sources: the shards of a cluster gallery, or the
 * single-node database ROOT/NAME. */
static hers_status open_sources(const char *root, const char *name, cl_desc *od, int *single,
                                struct source **out)
{
    hers_status st = cl_desc_read(root, name, od);
    char *gdir = cl_path(root, name, NULL), *data = cl_path(root, name, "data.mdb");
    if (!gdir || !data) {
        free(gdir);
        free(data);
        return nomem();
    }
    *single = 0;
    if (st == HERS_ERR_NOTFOUND && exists(data)) {
        *single = 1;
        od->shards = 1;
        st = HERS_OK;
    } else if (st == HERS_ERR_NOTFOUND) {
        st = hers_error(HERS_ERR_NOTFOUND, "gallery %s: %s is neither a cluster gallery nor a "
                                           "gallery database", name, gdir);
    }
    struct source *src = st == HERS_OK ? calloc(od->shards, sizeof *src) : NULL;
    if (st == HERS_OK && !src)
        st = nomem();
    for (unsigned r = 0; st == HERS_OK && r < od->shards; r++) {
        char *dir = *single ? strdup(gdir) : cl_shard_dir(root, name, r);
        if (!*single)
            st = cl_tag_check(root, name, r, od);
        if (st == HERS_OK)
            st = dir ? hers_store_open(dir, 0, &src[r].db) : nomem();
        if (st == HERS_OK)
            st = hers_store_claim(src[r].db);
        if (st == HERS_OK && *single)
            memcpy(od->params_id, hers_params_id(hers_store_params(src[r].db)), 32);
        if (st == HERS_OK &&
            memcmp(hers_params_id(hers_store_params(src[r].db)), od->params_id, 32))
            st = hers_error(HERS_ERR_MISMATCH, "gallery %s: shard %u (%s) has another "
                                               "parameter set", name, r, dir);
        if (st == HERS_OK)
            st = hers_store_snapshot_open(src[r].db, &src[r].snap);
        free(dir);
    }
    free(gdir);
    free(data);
    *out = src;
    return st;
}

static void close_sources(struct source *src, unsigned n)
{
    for (unsigned r = 0; src && r < n; r++) {
        hers_store_snapshot_close(src[r].snap);
        hers_store_close(src[r].db);
    }
    free(src);
}

/* Builds and checks the new layout in ROOT/NAME/.reshard-new. */
static hers_status build_stage(const char *root, const char *name, struct source *src,
                               unsigned nsrc, const cl_desc *nd,
                               hers_cluster_reshard_stats *stats)
{
    char *newn = sub_name(name, STAGE_NEW), *sdir = cl_path(root, name, STAGE_NEW);
    hers_store **dst = calloc(nd->shards, sizeof *dst);
    char **dirs = calloc(nd->shards, sizeof *dirs);
    uint64_t *next = calloc(nd->shards, sizeof *next);
    char ***hl = calloc(nd->shards, sizeof *hl);
    size_t *nh = calloc(nd->shards, sizeof *nh), *ch = calloc(nd->shards, sizeof *ch);
    hers_status st = HERS_OK;
    if (!newn || !sdir || !dst || !dirs || !next || !hl || !nh || !ch) {
        st = nomem();
        goto out;
    }
    if (mkdir(sdir, 0700) != 0)
        st = sys_error("mkdir", sdir);
    hers_store *s0 = src[0].db;
    hers_store_info in0;
    if (st == HERS_OK)
        st = hers_store_get_info(s0, &in0);
    /* the shape every shard shares: the first shard that has a gallery */
    for (unsigned r = 0; st == HERS_OK && r < nsrc && !in0.has_gallery; r++)
        st = hers_store_get_info(src[r].db, &in0);
    for (unsigned r = 0; st == HERS_OK && r < nd->shards; r++) {
        dirs[r] = cl_shard_dir(root, newn, r);
        if (!dirs[r]) {
            st = nomem();
            break;
        }
        st = hers_store_create(dirs[r], hers_store_params(s0), hers_store_public_key(s0),
                               hers_store_relin_key(s0), in0.model_id_len ? in0.model_id : NULL,
                               in0.model_id_len);
        if (st == HERS_OK)
            st = hers_store_open(dirs[r], 0, &dst[r]);
        if (st == HERS_OK)   /* the sources' packing (auto while none has a gallery) */
            st = hers_store_set_packing(dst[r], in0.packing);
        if (st == HERS_OK && hers_store_galois_key(s0))
            st = hers_store_put_galois_key(dst[r], hers_store_galois_key(s0));
        if (st == HERS_OK)
            st = cl_tag_write(root, newn, r, nd);
    }
    struct copy_ctx c;
    memset(&c, 0, sizeof c);
    c.dirs = (const char *const *)dirs;
    c.dst = dst;
    c.next = next;
    c.k = nd->shards;
    c.holes = hl;
    c.nholes = nh;
    c.capholes = ch;
    c.stats = stats;
    hers_store_enroll_opts_default(&c.opts);
    c.opts.mode = in0.mode;
    c.opts.scale = in0.scale;
    c.opts.model_id = in0.model_id_len ? in0.model_id : NULL;
    c.opts.model_id_len = in0.model_id_len;
    int n = snprintf(c.prefix, sizeof c.prefix, "reshard-deleted-");
    for (int i = 0; i < 8; i++)
        n += snprintf(c.prefix + n, sizeof c.prefix - (size_t)n, "%02x", nd->uuid[i]);
    snprintf(c.prefix + n, sizeof c.prefix - (size_t)n, "-");
    uint64_t live_before = 0;
    for (unsigned r = 0; st == HERS_OK && r < nsrc; r++) {
        hers_store_info in;
        st = hers_store_get_info(src[r].db, &in);
        if (st == HERS_OK && in.has_gallery &&
            (in.d != in0.d || in.scale != in0.scale || in.mode != in0.mode))
            st = hers_error(HERS_ERR_MISMATCH, "gallery %s: shard %u holds another shape "
                                               "(d, scale or mode) than shard 0", name, r);
        live_before += st == HERS_OK ? in.live : 0;
        c.snap = src[r].snap;
        if (st == HERS_OK)
            st = hers_store_snapshot_segments(src[r].snap, copy_segment, &c);
    }
    /* the deleted slots' placeholders go: those slots stay empty, as before */
    uint64_t live_after = 0;
    for (unsigned r = 0; st == HERS_OK && r < nd->shards; r++) {
        if (nh[r])
            st = hers_store_delete(dst[r], (const char *const *)hl[r], nh[r]);
        hers_store_info in;
        uint64_t problems = 0;
        if (st == HERS_OK)
            st = hers_store_get_info(dst[r], &in);
        if (st == HERS_OK)
            st = hers_store_check(dst[r], NULL, NULL, &problems);
        if (st == HERS_OK && problems)
            st = hers_error(HERS_ERR_INTERNAL, "reshard: new shard %u fails its check", r);
        live_after += st == HERS_OK ? in.live : 0;
        if (st == HERS_OK && r < HERS_RESHARD_MAX_REPORT)
            stats->shard_templates[r] = in.live;
    }
    if (st == HERS_OK && live_after != live_before)
        st = hers_error(HERS_ERR_INTERNAL, "reshard: %llu templates before, %llu after",
                        (unsigned long long)live_before, (unsigned long long)live_after);
    if (st == HERS_OK)
        st = cl_desc_write(root, newn, nd);
out:
    for (unsigned r = 0; dst && r < nd->shards; r++) {
        hers_store_close(dst[r]);
        for (size_t i = 0; hl && nh && i < nh[r]; i++)
            free(hl[r][i]);
        if (hl)
            free(hl[r]);
        if (dirs)
            free(dirs[r]);
    }
    free(dst);
    free(dirs);
    free(next);
    free(hl);
    free(nh);
    free(ch);
    free(newn);
    free(sdir);
    return st;
}

hers_status hers_cluster_reshard(const char *root, const char *name, unsigned shards,
                                 hers_cluster_reshard_stop stop, hers_cluster_reshard_stats *stats)
{
    hers_cluster_reshard_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!root || !name || !*name || strchr(name, '/') || name[0] == '.')
        return hers_error(HERS_ERR_ARG, "reshard: bad gallery name");
    /* a committed reshard is finished first (then a new one may follow) */
    if (cl_reshard_pending(root, name)) {
        hers_status st = roll_forward(root, name);
        if (st != HERS_OK)
            return st;
        stats->finished_pending = 1;
    }
    if (shards == 0)   /* only finish */
        return HERS_OK;
    if (shards > CL_MAX_SHARDS)
        return hers_error(HERS_ERR_ARG, "reshard: %u shards: 1..%d", shards, CL_MAX_SHARDS);
    remove_stage(root, name, STAGE_NEW);   /* an uncommitted attempt */
    remove_stage(root, name, STAGE_OLD);
    cl_desc od, nd;
    int single = 0;
    struct source *src = NULL;
    unsigned nsrc;
    hers_status st = open_sources(root, name, &od, &single, &src);
    nsrc = od.shards;
    stats->from = single ? 0 : od.shards;
    stats->to = shards;
    if (st == HERS_OK) {
        memcpy(nd.params_id, od.params_id, 32);
        nd.shards = shards;
        st = hers_random_bytes(nd.uuid, CL_UUID);
    }
    if (st == HERS_OK)
        st = build_stage(root, name, src, nsrc, &nd, stats);
    close_sources(src, nsrc);
    if (st != HERS_OK) {
        remove_stage(root, name, STAGE_NEW);
        return st;
    }
    if (stop == HERS_RESHARD_STOP_STAGED)
        return HERS_OK;
    if ((st = marker_write(root, name, &nd)) != HERS_OK)
        return st;
    if (stop == HERS_RESHARD_STOP_COMMITTED)
        return HERS_OK;
    return roll_forward(root, name);
}
