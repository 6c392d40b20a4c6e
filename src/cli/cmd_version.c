/* cmd_version.c - `hers version`. */
#include <stdio.h>

#include "cli/cli.h"
#include "hers/hers_cpu.h"

int hers_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("hers %s (commit %s)\nsimd: %s (cpu max %s)\ncpu: %s\n", HERS_VERSION_STRING,
           HERS_GIT_COMMIT, hers_simd_name(hers_simd_active()),
           hers_simd_name(hers_cpu_max_simd()), hers_cpu_model());
    return 0;
}
