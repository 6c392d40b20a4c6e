# mpi_env.sh - sourced by the Open MPI tests (cli_cluster.sh, cli_reshard.sh)
# with H set to the hers binary. Skips the calling test (exit 0) when hers was
# built without Open MPI or mpirun is absent; otherwise sets the environment
# every mpirun of those tests needs and MPIRUN, the command prefix:
# - as root Open MPI wants the two ALLOW_RUN_AS_ROOT variables;
# - shared memory without CMA (containers often forbid ptrace);
# - more ranks than the 2 cores (oversubscribe, no binding);
# - under ASan the leak check would report MPI's own allocations.
if ! command -v mpirun >/dev/null 2>&1 || ! "$H" version 2>/dev/null | grep -q "cluster.*Open MPI"; then
    echo "SKIP: hers built without Open MPI (or no mpirun)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
MPIRUN="mpirun --oversubscribe --bind-to none -x ASAN_OPTIONS"
