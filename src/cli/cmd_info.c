/* cmd_info.c - `hers info --db DIR [--json]`: counts, parameters, shape,
 * model id, segments, blocks and sizes of a gallery database. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "cli/cli_db.h"

#define CMD "info"

int hers_cmd_info(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", NULL};
    static const char *const flags[] = {"--json", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers info --db DIR [--json]\n"
               "  Prints the parameters, gallery shape (d, scale, mode, model id), counts (live,\n"
               "  enrolled, slots, segments, blocks) and sizes of the database. --json: one JSON\n"
               "  object.\n");
        printf("  With --server URL --gallery NAME --token-file F [--cacert F]: the same over\n"
               "  HTTP(S) against `hers serve` (docs/cli.md, \"The client\").\n");
        printf("  With --root DIR --gallery NAME: a cluster gallery's shards (docs/deploy.md,\n"
               "  \"Cluster\"), read from this machine's disk.\n");
        return 0;
    }
    if (cli_opt(argc, argv, "--server"))   /* over HTTP(S): cli_remote.c */
        return cli_remote_info(argc, argv);
    if (cli_flag(argc, argv, "--root"))   /* a cluster gallery: cmd_cluster.c */
        return cli_cluster_info(argc, argv);
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db");
    if (!dir)
        return cli_usage(CMD, "--db DIR is required");
    hers_store *db = NULL;
    if (cli_db_open(CMD, dir, 1, &db))
        return 1;
    hers_store_info in;
    if (hers_store_get_info(db, &in) != HERS_OK) {
        int rc = cli_fail(CMD, "%s", hers_last_error());
        hers_store_close(db);
        return rc;
    }
    char model[2 * HERS_STORE_MAX_MODEL_ID + 1] = "";
    cli_db_hex(in.model_id, in.model_id_len, model);
    double td = in.enrolled && in.d ? (double)in.payload_bytes / ((double)in.enrolled * in.d) : 0;
    double sd = in.blocks && in.d ? (double)in.payload_bytes / ((double)in.blocks * in.N * in.d) : 0;
    const char *mode = in.has_gallery ? hers_search_mode_name(in.mode) : "";
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"format\": %u, \"params\": \"%s\", \"N\": %zu, \"t\": %llu, \"primes\": %zu, "
               "\"log_q\": %.1f, \"d\": %zu, \"scale\": %u, \"mode\": \"%s\", \"packing\": \"%s\", "
               "\"model_id\": \"%s\", "
               "\"live\": %llu, \"enrolled\": %llu, \"deleted\": %llu, \"slots\": %llu, "
               "\"segments\": %llu, \"blocks\": %llu, \"payload_bytes\": %llu, "
               "\"bytes_per_template_dim\": %.3f, \"bytes_per_slot_dim\": %.3f, \"file_bytes\": %llu, \"used_bytes\": %llu, "
               "\"max_overlap\": %zu}\n",
               in.format, in.params_name, in.N, (unsigned long long)in.t, in.num_primes, in.log_q,
               in.d, in.scale, mode, hers_packing_name(in.packing), model,
               (unsigned long long)in.live,
               (unsigned long long)in.enrolled, (unsigned long long)(in.enrolled - in.live),
               (unsigned long long)in.next_slot, (unsigned long long)in.segments,
               (unsigned long long)in.blocks, (unsigned long long)in.payload_bytes, td, sd,
               (unsigned long long)in.file_bytes, (unsigned long long)in.used_bytes,
               hers_store_max_overlap(db));
    } else {
        printf("database      %s (format %u)\n", dir, in.format);
        printf("parameters    %s N = %zu, t = %llu, %zu primes, log2 Q = %.1f\n",
               in.params_name[0] ? in.params_name : "(custom)", in.N, (unsigned long long)in.t,
               in.num_primes, in.log_q);
        if (in.has_gallery)
            printf("gallery       d = %zu, scale = %u, %s, %s packing\n", in.d, in.scale, mode,
                   hers_packing_name(in.packing));
        else
            printf("gallery       empty (%s packing)\n", hers_packing_name(in.packing));
        printf("model         %s\n", in.model_id_len ? model : "none");
        printf("templates     %llu live, %llu deleted not yet compacted\n",
               (unsigned long long)in.live, (unsigned long long)(in.enrolled - in.live));
        printf("slots         %llu in %llu blocks, %llu segments\n",
               (unsigned long long)in.next_slot, (unsigned long long)in.blocks,
               (unsigned long long)in.segments);
        printf("size          %llu bytes of segments (%.2f bytes per template x dimension, "
               "%.2f per slot x dimension), on disk %llu bytes (data.mdb + segments.dat; "
               "data.mdb pages in use %llu bytes)\n",
               (unsigned long long)in.payload_bytes, td, sd, (unsigned long long)in.file_bytes,
               (unsigned long long)in.used_bytes);
    }
    hers_store_close(db);
    return 0;
}
