/* cluster_internal.h - private parts of the cluster layer: the on-disk
 * layout (layout.c) and the id -> shard map (idmap.c). */
#ifndef HERS_CLUSTER_INTERNAL_H
#define HERS_CLUSTER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_cluster.h"
#include "hers/hers_store.h"

#define CL_UUID 16
#define CL_MAX_SHARDS 4096
#define CL_DESC_FILE "cluster.hers"

typedef struct cl_desc {
    uint8_t uuid[CL_UUID];
    uint8_t params_id[32];
    unsigned shards;
} cl_desc;

/* root/name/leaf (leaf NULL: root/name), malloc'ed; NULL when out of memory. */
char *cl_path(const char *root, const char *name, const char *leaf);
char *cl_shard_dir(const char *root, const char *name, unsigned shard);
/* Refuses a gallery with a committed, unfinished reshard (naming the command
 * that finishes it); cl_desc_read_raw reads the descriptor regardless. */
hers_status cl_desc_read(const char *root, const char *name, cl_desc *d);
hers_status cl_desc_read_raw(const char *root, const char *name, cl_desc *d);
/* 1 when ROOT/NAME/reshard.commit exists (reshard.c). */
int cl_reshard_pending(const char *root, const char *name);
#define CL_RESHARD_MARKER "reshard.commit"
hers_status cl_desc_write(const char *root, const char *name, const cl_desc *d);
hers_status cl_tag_write(const char *root, const char *name, unsigned shard, const cl_desc *d);
/* Refuses a missing tag or shard directory, or one of another gallery,
 * index, count or parameter set, naming it. */
hers_status cl_tag_check(const char *root, const char *name, unsigned shard, const cl_desc *d);
/* Removes shard's database files, directory and tag. */
void cl_remove_shard(const char *root, const char *name, unsigned shard);

/* id -> value (a shard, an entry number; open addressing; ids copied). */
typedef struct cl_idmap cl_idmap;
cl_idmap *cl_idmap_new(void);
void cl_idmap_free(cl_idmap *m);
/* -1 when absent. */
int cl_idmap_get(const cl_idmap *m, const char *id);
/* 0 ok, -1 out of memory. Replaces an existing entry. */
int cl_idmap_put(cl_idmap *m, const char *id, unsigned shard);
void cl_idmap_del(cl_idmap *m, const char *id);
size_t cl_idmap_count(const cl_idmap *m);

/* Rank 0's enrolment journal (journal.c): retried requests apply once;
 * default ids come from a durable cluster-wide counter. */
typedef struct cl_journal cl_journal;
typedef struct cl_jentry {
    int state;            /* 1 planned, 2 done */
    int cleared;          /* replace: the request's old templates are deleted */
    size_t nb;
    uint16_t *assign;     /* the shard of each of nb blocks */
    uint64_t ids_first, ids_count;   /* default ids ids_first.. (count 0: given ids) */
    uint64_t count, first;           /* done: as acknowledged */
} cl_jentry;
hers_status cl_journal_open(const char *path, cl_journal **out);
void cl_journal_free(cl_journal *j);
/* NULL when the request is unknown. */
const cl_jentry *cl_journal_find(cl_journal *j, const uint8_t id[32]);
/* 1 + the largest default id any plan ever took (0: none). */
uint64_t cl_journal_next_id(const cl_journal *j);
hers_status cl_journal_plan(cl_journal *j, const uint8_t id[32], const size_t *assign,
                            size_t nb, uint64_t ids_first, uint64_t ids_count);
hers_status cl_journal_clear(cl_journal *j, const uint8_t id[32]);
hers_status cl_journal_done(cl_journal *j, const uint8_t id[32], uint64_t count, uint64_t first);
#define CL_JOURNAL_FILE "requests.log"


/* Joining the shards' answers (join.c). The catalog version of a cluster
 * gallery: a hash of its shards' versions in shard order (0 for a shard
 * without templates), never 0. */
uint64_t cl_catalog_version(const uint64_t *shard_versions, size_t shards);
/* hers_cluster_join_responses for version-1 or version-2 answers (all of
 * one version; a version-2 join: *out from hers_net_alloc, free with
 * hers_net_free; *cat_version, if not NULL, the joined catalog version). */
hers_status cl_join_responses(const hers_params *p, const uint8_t *const *resp, const size_t *len,
                              size_t shards, uint8_t **out, size_t *out_len,
                              uint64_t *cat_version);
/* The HERSCAT of the cluster gallery from the shards' HERSCATs rec[r]
 * (NULL: a shard without templates) of versions ver[r]; N: the block size.
 * *out from hers_alloc. */
hers_status cl_join_catalogs(size_t N, const uint8_t *const *rec, const size_t *len,
                             const uint64_t *ver, size_t shards, uint8_t **out, size_t *out_len);

#endif
