/* bench_main.c - `hers bench <target> [options]`. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cli/cli.h"

struct bench_target {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
};

static const struct bench_target targets[] = {
#define HERS_BENCH(name, fn, summary) {#name, fn, summary},
#include "benches.def"
#undef HERS_BENCH
    {NULL, NULL, NULL}};

int hers_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: hers bench <target> [options] [--json]\n");
        for (size_t i = 0; targets[i].name; i++)
            fprintf(argc < 2 ? stderr : stdout, "  %-12s %s\n", targets[i].name,
                    targets[i].summary);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; targets[i].name; i++)
        if (!strcmp(argv[1], targets[i].name))
            return targets[i].fn(argc - 1, argv + 1);
    return cli_usage("bench", "unknown target '%s' (hers bench --help)", argv[1]);
}
