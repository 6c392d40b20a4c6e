/* cmd_check.c - `hers check --db DIR`: verifies every checksum and
 * invariant of a gallery database; prints each problem as one line on
 * stdout and exits 1 if there is any. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_db.h"

#define CMD "check"

static void print_problem(void *user, const char *line)
{
    printf("%s: %s\n", (const char *)user, line);
}

int hers_cmd_check(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", NULL};
    static const char *const flags[] = {"--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers check --db DIR\n"
               "  Verifies the meta records, every segment (header and gallery checksums, shape,\n"
               "  geometry), the ids <-> slots bijection and the counts. One line per problem;\n"
               "  exit status 1 if any.\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db");
    if (!dir)
        return cli_usage(CMD, "--db DIR is required");
    hers_store *db = NULL;
    if (cli_db_open(CMD, dir, 1, &db))
        return 1;
    uint64_t problems = 0;
    int rc = 0;
    if (hers_store_check(db, print_problem, (void *)dir, &problems) != HERS_OK)
        rc = cli_fail(CMD, "%s", hers_last_error());
    else if (problems)
        rc = cli_fail(CMD, "%s: %llu problem%s found", dir, (unsigned long long)problems,
                      problems == 1 ? "" : "s");
    else
        fprintf(stderr, "hers check: %s: ok\n", dir);
    hers_store_close(db);
    return rc;
}
