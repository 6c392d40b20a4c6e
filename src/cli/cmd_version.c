/* cmd_version.c - `hers version [--short | --json]` (also `hers --version`):
 * the program's and the library's version, the commit, the SIMD levels
 * (compiled, available on this CPU, active) and every format's version. */
#include <stdio.h>
#include <string.h>

#include <hers_commit.h>   /* HERS_GIT_COMMIT, generated at build time (cmake/commit.cmake) */
#include "cli/cli.h"
#include "hers/hers_cluster.h"
#include "hers/hers_cpu.h"
#include "hers/hers_reduce.h"
#include "hers/hers_search.h"
#include "hers/hers_serial.h"
#include "hers/hers_store.h"
#include "hers/hers_version.h"

/* The versioned formats (docs/formats.md): name, version a writer produces. */
static const struct {
    const char *name;
    unsigned version;
} formats[] = {
    {"keys_and_ciphertexts", HERS_SERIAL_VERSION},
    {"protected_secret_key", HERS_SKPW_VERSION},
    {"gallery_file", HERS_GALLERY_FILE_VERSION},
    {"query", HERS_QUERY_RECORD_VERSION},
    {"result", HERS_RESULT_RECORD_VERSION},
    {"database", HERS_STORE_FORMAT_VERSION},
    {"model", HERS_MODEL_VERSION},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

int hers_cmd_version(int argc, char **argv)
{
    static const char *const flags[] = {"--short", "--json", "--help", NULL};
    static const char *const none[] = {NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers version [--short | --json]   (also: hers --version)\n"
               "  The version of hers and of the library in use, the git commit it was built\n"
               "  from, the SIMD levels (the CPU's highest, the active one; HERS_SIMD lowers it)\n"
               "  and the version of every file and wire format it writes (docs/formats.md).\n"
               "  --short: the version number only. --json: one JSON object.\n");
        return 0;
    }
    if (cli_check_opts("version", argc, argv, none, flags))
        return 2;
    if (cli_flag(argc, argv, "--short")) {
        printf("%s\n", HERS_VERSION_STRING);
        return 0;
    }
    const char *active = hers_simd_name(hers_simd_active());
    const char *cpu_max = hers_simd_name(hers_cpu_max_simd());
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"version\": \"%s\", \"library_version\": \"%s\", \"abi\": %d, "
               "\"commit\": \"%s\", \"simd_active\": \"%s\", \"simd_cpu_max\": \"%s\", "
               "\"simd_compiled\": [",
               HERS_VERSION_STRING, hers_version_string(), hers_abi_version(), HERS_GIT_COMMIT,
               active, cpu_max);
        for (int l = 0; l < HERS_SIMD_LEVELS; l++)
            printf("%s\"%s\"", l ? ", " : "", hers_simd_name((hers_simd)l));
        printf("], \"formats\": {");
        for (size_t i = 0; i < NFORMATS; i++)
            printf("%s\"%s\": %u", i ? ", " : "", formats[i].name, formats[i].version);
        printf("}, \"cluster\": \"%s\"}\n", hers_cluster_built() ? "Open MPI" : "none");
        return 0;
    }
    printf("hers %s (commit %s), library %s (ABI %d)\n", HERS_VERSION_STRING, HERS_GIT_COMMIT,
           hers_version_string(), hers_abi_version());
    printf("simd: %s (cpu max %s; compiled:", active, cpu_max);
    for (int l = 0; l < HERS_SIMD_LEVELS; l++)
        printf(" %s", hers_simd_name((hers_simd)l));
    printf(")\ncpu: %s\nformats:", hers_cpu_model());
    for (size_t i = 0; i < NFORMATS; i++)
        printf(" %s=%u", formats[i].name, formats[i].version);
    printf("\ncluster: %s\n", hers_cluster_built() ? "Open MPI (mpirun -np K hers serve | search --root)"
                                                    : "none (built without Open MPI)");
    return 0;
}
