/* cmd_backup.c - `hers backup --db DIR --out DIR2`: a consistent copy of a
 * gallery database that may be in use (hers_store_backup: the catalog from a
 * read snapshot, then its payloads, densely),
 * then `hers check` of the copy unless --no-check. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_db.h"

#define CMD "backup"

static void print_problem(void *user, const char *line)
{
    printf("%s: %s\n", (const char *)user, line);
}

int hers_cmd_backup(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--out", NULL};
    static const char *const flags[] = {"--help", "--no-check", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers backup --db DIR --out DIR2 [--no-check]\n"
               "  Copies the database into DIR2 (new or empty) while it stays in use: the\n"
               "  catalog (data.mdb, compacted) from a read snapshot, then the payloads that\n"
               "  snapshot references, densely (a new segments.dat without holes), all\n"
               "  fsync'ed. Then verifies the copy as `hers check --db DIR2` does (one line\n"
               "  per problem, exit status 1 if any), unless --no-check.\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db"), *out = cli_opt(argc, argv, "--out");
    if (!dir)
        return cli_usage(CMD, "--db DIR is required");
    if (!out)
        return cli_usage(CMD, "--out DIR2 is required");
    hers_store *db = NULL;
    if (cli_db_open(CMD, dir, 1, &db))
        return 1;
    hers_store_backup_stats bs;
    hers_status st = hers_store_backup(db, out, &bs);
    hers_store_close(db);
    if (st != HERS_OK)
        return cli_fail(CMD, "%s", hers_last_error());
    fprintf(stderr, "hers backup: %s -> %s: catalog %llu bytes, payloads %llu bytes (%llu copied)\n",
            dir, out, (unsigned long long)bs.catalog_bytes, (unsigned long long)bs.payload_end,
            (unsigned long long)bs.payload_copied);
    if (cli_flag(argc, argv, "--no-check"))
        return 0;
    if (cli_db_open(CMD, out, 1, &db))
        return 1;
    uint64_t problems = 0;
    int rc = 0;
    if (hers_store_check(db, print_problem, (void *)out, &problems) != HERS_OK)
        rc = cli_fail(CMD, "%s", hers_last_error());
    else if (problems)
        rc = cli_fail(CMD, "%s: %llu problem%s found", out, (unsigned long long)problems,
                      problems == 1 ? "" : "s");
    else
        fprintf(stderr, "hers backup: %s: check ok\n", out);
    hers_store_close(db);
    return rc;
}
