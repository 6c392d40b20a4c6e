/* cluster_stub.c - hers_cluster.h when hers is built without Open MPI: the
 * cluster commands say so; the offline parts (layout.c, join.c) still work. */
#include <stdlib.h>
#include <string.h>

#include "hers/hers_cluster.h"

int hers_cluster_built(void) { return 0; }

int hers_cluster_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

static hers_status no_mpi(void)
{
    return hers_error(HERS_ERR_UNSUPPORTED, "cluster: this hers was built without Open MPI "
                                            "(install libopenmpi-dev and rebuild)");
}

hers_status hers_cluster_init(int *argc, char ***argv, hers_cluster **out)
{
    (void)argc;
    (void)argv;
    *out = NULL;
    return no_mpi();
}
unsigned hers_cluster_rank(const hers_cluster *c) { (void)c; return 0; }
unsigned hers_cluster_size(const hers_cluster *c) { (void)c; return 1; }
void hers_cluster_finalize(hers_cluster *c) { (void)c; }
void hers_cluster_abort(hers_cluster *c, int code) { (void)c; exit(code); }
hers_status hers_cluster_run(hers_cluster *c, const char *root, unsigned threads,
                             hers_cluster_body body, void *user)
{
    (void)c; (void)root; (void)threads; (void)body; (void)user;
    return no_mpi();
}
void hers_cluster_dispatch(hers_cluster *c) { (void)c; }
void hers_cluster_dispatch_stop(hers_cluster *c) { (void)c; }
void hers_cluster_search_counts(hers_cluster *c, uint64_t *searches, uint64_t *operations)
{
    (void)c;
    *searches = *operations = 0;
}
void hers_cluster_last_op(const hers_cluster *c, hers_cluster_op_stats *out)
{
    (void)c;
    memset(out, 0, sizeof *out);
}
