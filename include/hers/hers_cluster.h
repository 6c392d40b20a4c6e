/*
 * hers_cluster.h - galleries sharded over the ranks of an Open MPI job
 * (`mpirun -np K hers serve ...`, `mpirun -np K hers search --root ...`).
 * Layer: above store and net, below cli. Design and layout: docs/deploy.md,
 * "Cluster".
 *
 * Layout. A cluster gallery NAME under ROOT is a directory ROOT/NAME holding,
 * on rank r's disk, shard r as its own gallery database ROOT/NAME/shard-r and
 * its tag ROOT/NAME/shard-r.tag (gallery uuid, shard r, shard count K,
 * parameter-set id); rank 0 also holds the descriptor ROOT/NAME/cluster.hers
 * (uuid, K, parameter-set id). Ranks may share ROOT (one machine) or each
 * have their own. A shard that is missing, belongs to another gallery, has
 * another index or count, or another parameter set is refused at start.
 *
 * Search: rank 0 broadcasts the query record, every rank searches its shard
 * (hers_service_search) and rank 0 gathers the per-shard responses in shard
 * order and joins them into one HERSRSP: shard r's blocks follow shard
 * r-1's, so the key holder decrypts and ranks exactly as for one node.
 * Searches queued together (concurrent clients) are broadcast as one
 * message and gathered as one; each rank runs them concurrently through
 * its shard's service, which coalesces them into shared passes.
 *
 * Enrolment: rank 0 splits the record into its blocks of N templates and
 * sends each whole block to the shard with the fewest slots (one record and
 * one LMDB commit per shard); it answers 201 only when every shard that took
 * part has committed. The id -> shard map is the union of the shards'
 * catalogs (durable in their LMDB files), read at start and kept on rank 0.
 * A replace deletes the old templates on the shards that hold them first.
 * Default ids come from a cluster-wide counter kept durable in rank 0's
 * journal: unique across shards and restarts.
 *
 * MPI: every MPI call is made by the thread that called hers_cluster_init
 * (MPI_THREAD_FUNNELED), the "dispatcher"; HTTP threads hand it their
 * operations and wait. All functions return a status with a message; none
 * exits or prints.
 */
#ifndef HERS_CLUSTER_H
#define HERS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_net.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when hers was built with Open MPI. */
int hers_cluster_built(void);
/* 1 when this process was started by mpirun (Open MPI / PMIx environment). */
int hers_cluster_launched(void);

typedef struct hers_cluster hers_cluster;

/* MPI_Init_thread (MPI_THREAD_FUNNELED); the calling thread is the
 * dispatcher. HERS_ERR_UNSUPPORTED when built without MPI. */
hers_status hers_cluster_init(int *argc, char ***argv, hers_cluster **out);
unsigned hers_cluster_rank(const hers_cluster *c);
unsigned hers_cluster_size(const hers_cluster *c);
/* MPI_Finalize (after hers_cluster_run returned on every rank). */
void hers_cluster_finalize(hers_cluster *c);
/* Ends the whole job (MPI_Abort) with exit code `code`. */
void hers_cluster_abort(hers_cluster *c, int code);

/* Every rank calls it with the same root. Ranks other than 0 execute rank
 * 0's operations on their shards until rank 0's body returns; rank 0 runs
 * body(c, backend, user), where backend serves sharded galleries (give it to
 * hers_server_start, or call it directly), then stops the others. Returns
 * body's status on rank 0, the workers' own status elsewhere. */
typedef hers_status (*hers_cluster_body)(hers_cluster *c, const hers_server_backend *backend,
                                         void *user);
hers_status hers_cluster_run(hers_cluster *c, const char *root, unsigned threads,
                             hers_cluster_body body, void *user);

/* Rank 0, inside body, when other threads (the HTTP server) use the backend:
 * runs their operations on this thread until hers_cluster_dispatch_stop is
 * called (from any thread). */
void hers_cluster_dispatch(hers_cluster *c);
void hers_cluster_dispatch_stop(hers_cluster *c);
/* Rank 0: searches the dispatcher ran and the collective operations that
 * ran them (searches queued together go to the ranks as one broadcast). */
void hers_cluster_search_counts(hers_cluster *c, uint64_t *searches, uint64_t *operations);

/* Rank 0, on the dispatcher thread: the costs of the last collective
 * operation (for `hers bench cluster`). Times in seconds on rank 0's
 * monotonic clock except exec / cpu, each rank's own: bcast_s from the
 * header's broadcast to the end of the payload's (the workers poll for a
 * header every 1 ms); exec_s[r] rank r's work on its shard and cpu_s[r]
 * its process's CPU time meanwhile; wait_s from the end of rank 0's work
 * to the last reply received (the slowest rank's extra work + the gather);
 * bytes: header + payload broadcast, reply header + payload per rank.
 * The arrays stay valid until the next operation. */
typedef struct hers_cluster_op_stats {
    unsigned ranks;
    double bcast_s, wait_s, total_s;
    uint64_t bcast_bytes;
    const double *exec_s, *cpu_s;
    const uint64_t *reply_bytes;
} hers_cluster_op_stats;
void hers_cluster_last_op(const hers_cluster *c, hers_cluster_op_stats *out);

/* Per-shard view of a cluster gallery, read from the local disk without MPI
 * (every shard's directory must be reachable from here, as on one machine):
 * the descriptor and, per shard, its database's info (NULL fn: only checks). */
typedef void (*hers_cluster_shard_fn)(void *user, unsigned shard, const char *dir,
                                      const hers_store_info *info);
hers_status hers_cluster_gallery_info(const char *root, const char *name, unsigned *shards,
                                      hers_cluster_shard_fn fn, void *user);

/* Offline reshard (reshard.c; no MPI, every shard directory reachable from
 * here, nothing decrypted, no key): moves the gallery ROOT/NAME, a cluster
 * gallery of K shards or a single-node gallery database, to `shards` shards,
 * whole encrypted blocks at a time (ciphertexts unchanged), each to the new
 * shard with the fewest slots. Every old shard is claimed exclusively first (HERS_ERR_STATE while a
 * server has it open). The new layout (a new gallery uuid) is built and
 * checked beside the old one, committed by one atomic marker file, then
 * moved into place; a crash before the marker leaves the old layout as it
 * was, one after it is finished by the next call (shards = 0: only finish;
 * servers refuse the gallery until then). Ids, templates and scores are
 * unchanged; deleted slots stay empty. `stop` exists for crash tests: stop
 * after staging or after the commit marker, as a crash there would. */
#define HERS_RESHARD_MAX_REPORT 64
typedef enum hers_cluster_reshard_stop {
    HERS_RESHARD_COMPLETE = 0,
    HERS_RESHARD_STOP_STAGED,
    HERS_RESHARD_STOP_COMMITTED
} hers_cluster_reshard_stop;
typedef struct hers_cluster_reshard_stats {
    unsigned from;              /* old shard count; 0: it was a single-node database */
    unsigned to;
    uint64_t segments;          /* stored segments read */
    uint64_t blocks;            /* blocks moved (each placed on its own) */
    uint64_t templates;         /* live templates moved */
    uint64_t bytes;             /* segment bytes moved */
    uint64_t placeholders;      /* deleted slots carried over as empty slots */
    int finished_pending;       /* 1: an interrupted reshard was finished first */
    uint64_t shard_templates[HERS_RESHARD_MAX_REPORT];   /* live per new shard (first 64) */
} hers_cluster_reshard_stats;
hers_status hers_cluster_reshard(const char *root, const char *name, unsigned shards,
                                 hers_cluster_reshard_stop stop, hers_cluster_reshard_stats *stats);

/* Joins the search responses (HERSRSP) of the shards, in shard order, into
 * one: shard r's blocks follow shard r-1's (its last block padded to whole
 * blocks), its catalog slots shifted alike. resp[r] may be NULL / 0 bytes
 * for a shard without templates. *out allocated with hers_alloc. */
hers_status hers_cluster_join_responses(const hers_params *p, const uint8_t *const *resp,
                                        const size_t *len, size_t shards, uint8_t **out,
                                        size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* HERS_CLUSTER_H */
