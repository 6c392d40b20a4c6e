/*
 * layout.c - where a cluster gallery's shards live and how they are named
 * (hers_cluster.h "Layout"): the descriptor ROOT/NAME/cluster.hers and the
 * tags ROOT/NAME/shard-R.tag, small text files written atomically
 * (temporary file, fsync, rename, fsync of the directory).
 *
 *   hers-cluster 1
 *   uuid <32 hex digits>
 *   params <64 hex digits: parameter-set id>
 *   shards <K>
 *   shard <R>            (tags only)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster_internal.h"
#include "core/atomic_file.h"

char *cl_path(const char *root, const char *name, const char *leaf)
{
    size_t l = strlen(root) + strlen(name) + (leaf ? strlen(leaf) : 0) + 3;
    char *p = malloc(l);
    if (p)
        snprintf(p, l, leaf ? "%s/%s/%s" : "%s/%s", root, name, leaf ? leaf : "");
    return p;
}

char *cl_shard_dir(const char *root, const char *name, unsigned shard)
{
    char leaf[32];
    snprintf(leaf, sizeof leaf, "shard-%u", shard);
    return cl_path(root, name, leaf);
}

static char *tag_path(const char *root, const char *name, unsigned shard)
{
    char leaf[32];
    snprintf(leaf, sizeof leaf, "shard-%u.tag", shard);
    return cl_path(root, name, leaf);
}

static void hex(char *o, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(o + 2 * i, 3, "%02x", b[i]);
}

static int unhex(uint8_t *b, const char *s, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        b[i] = (uint8_t)v;
    }
    return 0;
}

/* Shard descriptors: written atomically and fsync'ed, mode 0600 (core/atomic_file.h). */
static hers_status write_atomic(const char *path, const char *text)
{
    return hers_atomic_write_file(path, text, strlen(text), 0600);
}

static hers_status write_desc(const char *path, const cl_desc *d, long shard)
{
    char uu[2 * CL_UUID + 1], pid[2 * 32 + 1], text[512];
    hex(uu, d->uuid, CL_UUID);
    hex(pid, d->params_id, 32);
    int n = snprintf(text, sizeof text, "hers-cluster 1\nuuid %s\nparams %s\nshards %u\n", uu,
                     pid, d->shards);
    if (shard >= 0)
        snprintf(text + n, sizeof text - (size_t)n, "shard %ld\n", shard);
    return write_atomic(path, text);
}

/* Reads a descriptor or tag; *shard = -1 when it has no "shard" line. */
static hers_status read_desc(const char *path, cl_desc *d, long *shard)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", path,
                          strerror(errno));
    char line[256], key[32], val[160];
    int have = 0, lineno = 0;
    *shard = -1;
    memset(d, 0, sizeof *d);
    hers_status st = HERS_OK;
    while (st == HERS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        if (sscanf(line, "%31s %159s", key, val) != 2) {
            st = hers_error(HERS_ERR_FORMAT, "%s: line %d is malformed", path, lineno);
        } else if (lineno == 1) {
            if (strcmp(key, "hers-cluster") || strcmp(val, "1"))
                st = hers_error(HERS_ERR_FORMAT, "%s: not a hers cluster file (version 1)", path);
        } else if (!strcmp(key, "uuid")) {
            if (unhex(d->uuid, val, CL_UUID))
                st = hers_error(HERS_ERR_FORMAT, "%s: bad uuid", path);
            have |= 1;
        } else if (!strcmp(key, "params")) {
            if (unhex(d->params_id, val, 32))
                st = hers_error(HERS_ERR_FORMAT, "%s: bad params id", path);
            have |= 2;
        } else if (!strcmp(key, "shards")) {
            char *e;
            unsigned long k = strtoul(val, &e, 10);
            if (*e || k < 1 || k > CL_MAX_SHARDS)
                st = hers_error(HERS_ERR_FORMAT, "%s: bad shard count", path);
            d->shards = (unsigned)k;
            have |= 4;
        } else if (!strcmp(key, "shard")) {
            char *e;
            unsigned long k = strtoul(val, &e, 10);
            if (*e || k >= CL_MAX_SHARDS)
                st = hers_error(HERS_ERR_FORMAT, "%s: bad shard index", path);
            *shard = (long)k;
        } else {
            st = hers_error(HERS_ERR_FORMAT, "%s: unknown key '%s'", path, key);
        }
    }
    fclose(f);
    if (st == HERS_OK && have != 7)
        st = hers_error(HERS_ERR_FORMAT, "%s: incomplete (uuid, params and shards needed)", path);
    return st;
}

hers_status cl_desc_read(const char *root, const char *name, cl_desc *d)
{
    if (cl_reshard_pending(root, name))
        return hers_error(HERS_ERR_STATE, "gallery %s: a reshard was committed but not "
                                          "finished: run `hers reshard --root %s --gallery %s` "
                                          "to finish it", name, root, name);
    return cl_desc_read_raw(root, name, d);
}

hers_status cl_desc_read_raw(const char *root, const char *name, cl_desc *d)
{
    char *p = cl_path(root, name, CL_DESC_FILE);
    if (!p)
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    long shard;
    hers_status st = read_desc(p, d, &shard);
    if (st == HERS_ERR_NOTFOUND)
        st = hers_error(HERS_ERR_NOTFOUND, "gallery %s: %s is missing (not a cluster gallery; "
                                           "a single-node gallery is served by `hers serve` "
                                           "without mpirun)", name, p);
    free(p);
    return st;
}

hers_status cl_desc_write(const char *root, const char *name, const cl_desc *d)
{
    char *p = cl_path(root, name, CL_DESC_FILE);
    hers_status st = p ? write_desc(p, d, -1) : hers_error(HERS_ERR_NOMEM, "out of memory");
    free(p);
    return st;
}

hers_status cl_tag_write(const char *root, const char *name, unsigned shard, const cl_desc *d)
{
    char *p = tag_path(root, name, shard);
    hers_status st = p ? write_desc(p, d, shard) : hers_error(HERS_ERR_NOMEM, "out of memory");
    free(p);
    return st;
}

hers_status cl_tag_check(const char *root, const char *name, unsigned shard, const cl_desc *d)
{
    char *p = tag_path(root, name, shard), *dir = cl_shard_dir(root, name, shard);
    if (!p || !dir) {
        free(p);
        free(dir);
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    cl_desc t;
    long s;
    struct stat sb;
    hers_status st = read_desc(p, &t, &s);
    if (st == HERS_ERR_NOTFOUND || (st == HERS_OK && stat(dir, &sb) != 0))
        st = hers_error(HERS_ERR_NOTFOUND, "gallery %s: shard %u of %u is missing (%s)", name,
                        shard, d->shards, st == HERS_OK ? dir : p);
    else if (st == HERS_OK && memcmp(t.uuid, d->uuid, CL_UUID))
        st = hers_error(HERS_ERR_MISMATCH, "gallery %s: shard %u (%s) belongs to another "
                                           "gallery", name, shard, dir);
    else if (st == HERS_OK && (s != (long)shard || t.shards != d->shards))
        st = hers_error(HERS_ERR_MISMATCH, "gallery %s: %s is shard %ld of %u, expected shard "
                                           "%u of %u", name, dir, s, t.shards, shard, d->shards);
    else if (st == HERS_OK && memcmp(t.params_id, d->params_id, 32))
        st = hers_error(HERS_ERR_MISMATCH, "gallery %s: shard %u (%s) has another parameter "
                                           "set", name, shard, dir);
    free(p);
    free(dir);
    return st;
}

void cl_remove_shard(const char *root, const char *name, unsigned shard)
{
    char *dir = cl_shard_dir(root, name, shard), *tag = tag_path(root, name, shard);
    if (dir) {
        static const char *const files[] = {"data.mdb", "segments.dat", "lock.mdb", "hers.lock", NULL};
        for (int i = 0; files[i]; i++) {
            size_t l = strlen(dir) + strlen(files[i]) + 2;
            char *f = malloc(l);
            if (f) {
                snprintf(f, l, "%s/%s", dir, files[i]);
                unlink(f);
            }
            free(f);
        }
        rmdir(dir);
    }
    if (tag)
        unlink(tag);
    free(dir);
    free(tag);
}

hers_status hers_cluster_gallery_info(const char *root, const char *name, unsigned *shards,
                                      hers_cluster_shard_fn fn, void *user)
{
    if (!root || !name)
        return hers_error(HERS_ERR_ARG, "cluster: NULL argument");
    cl_desc d;
    hers_status st = cl_desc_read(root, name, &d);
    if (st != HERS_OK)
        return st;
    if (shards)
        *shards = d.shards;
    for (unsigned r = 0; st == HERS_OK && r < d.shards; r++) {
        if ((st = cl_tag_check(root, name, r, &d)) != HERS_OK)
            break;
        char *dir = cl_shard_dir(root, name, r);
        hers_store *db = NULL;
        hers_store_info in;
        st = dir ? hers_store_open(dir, 1, &db) : hers_error(HERS_ERR_NOMEM, "out of memory");
        if (st == HERS_OK && memcmp(hers_params_id(hers_store_params(db)), d.params_id, 32))
            st = hers_error(HERS_ERR_MISMATCH, "gallery %s: shard %u (%s) has another parameter "
                                               "set", name, r, dir);
        if (st == HERS_OK)
            st = hers_store_get_info(db, &in);
        if (st == HERS_OK && fn)
            fn(user, r, dir, &in);
        hers_store_close(db);
        free(dir);
    }
    return st;
}
