/* cmd_delete.c - `hers delete --db DIR --ids FILE | --id ID`: removes
 * templates from the catalog in one transaction. From then on no search
 * returns them; `hers compact` reclaims their space. Every id must exist
 * (otherwise nothing is deleted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "cli/cli_db.h"

#define CMD "delete"

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hers_cmd_delete(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--ids", "--id", NULL};
    static const char *const flags[] = {"--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers delete --db DIR (--ids FILE | --id ID)\n"
               "  Deletes the templates whose ids are listed (one per line) in one transaction:\n"
               "  no search returns them any more. Unknown ids: error, nothing deleted.\n"
               "  The ciphertexts stay in the file until `hers compact`.\n");
        printf("  With --server URL --gallery NAME --token-file F [--cacert F]: the same over\n"
               "  HTTP(S) against `hers serve` (docs/cli.md, \"The client\").\n");
        return 0;
    }
    if (cli_opt(argc, argv, "--server"))   /* over HTTP(S): cli_remote.c */
        return cli_remote_delete(argc, argv);
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db"), *file = cli_opt(argc, argv, "--ids");
    const char *one = cli_opt(argc, argv, "--id");
    if (!dir || (!file == !one))
        return cli_usage(CMD, "--db and one of --ids FILE or --id ID are required");
    char **ids = NULL;
    size_t n = 0;
    char *single[1] = {(char *)one};
    if (file && cli_db_read_ids(CMD, file, 0, &ids, &n))
        return 1;
    /* A repeated id is a problem of the ids file, not of the database: name
     * the file (the library's own check names the database). */
    if (file && n > 1) {
        char **sorted = malloc(n * sizeof *sorted);
        if (!sorted) {
            cli_db_free_ids(ids, n);
            return cli_fail(CMD, "out of memory");
        }
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_id);
        for (size_t i = 1; i < n; i++)
            if (strcmp(sorted[i - 1], sorted[i]) == 0) {
                int bad = cli_fail(CMD, "%s: id '%s' appears more than once", file, sorted[i]);
                free(sorted);
                cli_db_free_ids(ids, n);
                return bad;
            }
        free(sorted);
    }
    hers_store *db = NULL;
    int rc = cli_db_open(CMD, dir, 0, &db);
    if (!rc && hers_store_delete(db, file ? (const char *const *)ids : (const char *const *)single,
                              file ? n : 1) != HERS_OK)
        rc = cli_fail(CMD, "%s", hers_last_error());
    if (!rc)
        fprintf(stderr, "hers delete: %zu template%s deleted from %s\n", file ? n : 1,
                (file ? n : 1) == 1 ? "" : "s", dir);
    hers_store_close(db);
    cli_db_free_ids(ids, n);
    return rc;
}
