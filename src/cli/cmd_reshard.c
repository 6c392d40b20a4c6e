/* cmd_reshard.c - `hers reshard --root DIR --gallery NAME --shards K`: the
 * offline move of a gallery (cluster or single-node) to K shards
 * (hers_cluster_reshard, docs/deploy.md "Resharding"). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hers/hers_cluster.h"

#define CMD "reshard"

int hers_cmd_reshard(int argc, char **argv)
{
    static const char *const with_value[] = {"--root", "--gallery", "--shards", "--stop-after",
                                             NULL};
    static const char *const flags[] = {"--finish", "--json", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers reshard --root DIR --gallery NAME --shards K [--json]\n"
               "       hers reshard --root DIR --gallery NAME --finish\n"
               "  Offline: moves the gallery DIR/NAME (a cluster gallery of any shard count, or a\n"
               "  single-node gallery database) to K shards, whole encrypted blocks at a time\n"
               "  (no key needed, nothing decrypted), each to the shard with the fewest slots.\n"
               "  Stop the server first (a gallery in use is refused). Crash-safe: the new layout\n"
               "  is built beside the old one and committed atomically; after a crash, run the\n"
               "  same command again (or --finish) and it completes or starts over. Then serve\n"
               "  it with `mpirun -np K hers serve --root DIR ...`.\n"
               "  --stop-after staged|committed: stop where a crash would (for tests).\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *root = cli_opt(argc, argv, "--root"), *name = cli_opt(argc, argv, "--gallery");
    const char *stop_s = cli_opt(argc, argv, "--stop-after");
    int finish = cli_flag(argc, argv, "--finish");
    if (!root || !name)
        return cli_usage(CMD, "--root and --gallery are required");
    if (finish == (cli_opt(argc, argv, "--shards") != NULL))
        return cli_usage(CMD, "give --shards K or --finish");
    uint64_t k = 0;
    if (!finish && cli_opt_u64(CMD, argc, argv, "--shards", 0, 1, 4096, &k))
        return 2;
    hers_cluster_reshard_stop stop = HERS_RESHARD_COMPLETE;
    if (stop_s && !strcmp(stop_s, "staged"))
        stop = HERS_RESHARD_STOP_STAGED;
    else if (stop_s && !strcmp(stop_s, "committed"))
        stop = HERS_RESHARD_STOP_COMMITTED;
    else if (stop_s)
        return cli_usage(CMD, "--stop-after: staged or committed");
    hers_cluster_reshard_stats s;
    double t0 = cli_now();
    if (hers_cluster_reshard(root, name, (unsigned)k, stop, &s) != HERS_OK)
        return cli_fail(CMD, "%s", hers_last_error());
    double dt = cli_now() - t0;
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"gallery\": \"%s\", \"from\": %u, \"to\": %u, \"segments\": %llu, "
               "\"blocks\": %llu, \"templates\": %llu, \"bytes\": %llu, \"empty_slots\": %llu, "
               "\"finished_pending\": %d, \"seconds\": %.3f, \"shard_templates\": [",
               name, s.from, s.to, (unsigned long long)s.segments,
               (unsigned long long)s.blocks, (unsigned long long)s.templates, (unsigned long long)s.bytes,
               (unsigned long long)s.placeholders, s.finished_pending, dt);
        for (unsigned r = 0; r < s.to && r < HERS_RESHARD_MAX_REPORT; r++)
            printf("%s%llu", r ? ", " : "", (unsigned long long)s.shard_templates[r]);
        printf("]}\n");
    } else if (finish || !s.to) {
        fprintf(stderr, "hers reshard: %s: %s\n", name,
                s.finished_pending ? "finished the interrupted reshard" : "nothing to finish");
    } else {
        fprintf(stderr, "hers reshard: %s: %s%u -> %u shards, %llu templates in %llu blocks "
                        "(%llu bytes) moved in %.2f s%s\n",
                name, s.from ? "" : "single node (1) ", s.from ? s.from : 1, s.to,
                (unsigned long long)s.templates, (unsigned long long)s.blocks,
                (unsigned long long)s.bytes, dt,
                stop == HERS_RESHARD_STOP_STAGED      ? " (stopped after staging)"
                : stop == HERS_RESHARD_STOP_COMMITTED ? " (stopped after the commit)"
                                                      : "");
    }
    return 0;
}
