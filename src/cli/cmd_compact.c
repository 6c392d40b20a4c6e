/* cmd_compact.c - `hers compact --db DIR [--keys DIR] [--threads T]`:
 * reclaims the space of deleted templates. Without keys (anyone, e.g. the
 * server): drops the segments whose templates are all deleted. With the key
 * holder's key directory (secret key): decrypts the live templates and
 * re-encrypts them densely, so every deleted ciphertext is gone. Then
 * rewrites data.mdb compactly when no other process has it open. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"

#define CMD "compact"

int hers_cmd_compact(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--keys", "--threads", "--passphrase-file",
                                             NULL};
    static const char *const flags[] = {"--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers compact --db DIR [--keys DIR] [--threads T] [--passphrase-file F]\n"
               "  Reclaims space. Without --keys: drops segments whose templates are all deleted.\n"
               "  With the key holder's --keys (secret key): re-encrypts the live templates\n"
               "  densely, physically removing every deleted ciphertext. Then shrinks data.mdb\n"
               "  (when no other process has the database open).\n");
        printf("  With --server URL --gallery NAME --token-file F [--cacert F]: the same over\n"
               "  HTTP(S) against `hers serve` (docs/cli.md, \"The client\").\n");
        return 0;
    }
    if (cli_opt(argc, argv, "--server"))   /* over HTTP(S): cli_remote.c */
        return cli_remote_compact(argc, argv);
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db"), *keys = cli_opt(argc, argv, "--keys");
    uint64_t threads;
    if (!dir)
        return cli_usage(CMD, "--db DIR is required");
    if (cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 256, &threads))
        return 2;
    hers_store *db = NULL;
    cli_keys k;
    memset(&k, 0, sizeof k);
    if (keys &&
        cli_keys_load_pass(CMD, keys, cli_opt(argc, argv, "--passphrase-file"), 1, 0, 0, &k))
        return 1;
    int rc = cli_db_open(CMD, dir, 0, &db);
    if (!rc && keys)
        rc = cli_db_same_params(CMD, keys, k.p, db);
    hers_store_compact_stats cs;
    double t0 = cli_now();
    if (!rc && hers_store_compact(db, k.sk, (unsigned)threads, &cs) != HERS_OK)
        rc = cli_fail(CMD, "%s", hers_last_error());
    char tail[300] = "";
    if (!rc && !cs.shrunk)
        snprintf(tail, sizeof tail, " (file not shrunk%s%s)", cs.not_shrunk[0] ? ": " : "",
                 cs.not_shrunk);
    if (!rc)
        fprintf(stderr,
                "hers compact: %s: segments %llu -> %llu, slots %llu -> %llu, data.mdb %llu -> "
                "%llu bytes%s (%.2f s)\n",
                dir, (unsigned long long)cs.segments_before, (unsigned long long)cs.segments_after,
                (unsigned long long)cs.slots_before, (unsigned long long)cs.slots_after,
                (unsigned long long)cs.file_before, (unsigned long long)cs.file_after,
                tail, cli_now() - t0);
    hers_store_close(db);
    cli_keys_free(&k);
    return rc;
}
