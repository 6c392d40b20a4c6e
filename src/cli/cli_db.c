/* cli_db.c - helpers of the gallery-database commands (cli_db.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_db.h"
#include "hers/hers_io.h"
#include "hers/hers_reduce.h"
#include "hers/hers_search.h"

/* LMDB does not checksum its B-tree pages: a corrupted page can make it
 * touch memory outside the map. hers checksums every record it stores; for
 * the B-tree itself the CLI turns such a fault into one error line and exit
 * status 1 (an interrupted write transaction is never committed). */
static char fault_msg[512];
static size_t fault_len;

static void on_fault(int sig)
{
    (void)sig;
    if (write(STDERR_FILENO, fault_msg, fault_len) < 0)
        _exit(1);
    _exit(1);
}

int cli_db_open(const char *cmd, const char *dir, int readonly, hers_store **out)
{
    int len = snprintf(fault_msg, sizeof fault_msg,
                       "hers %s: %s: corrupt database (invalid page in data.mdb; %srestore a "
                       "backup)\n",
                       cmd, dir, strcmp(cmd, "check") ? "run hers check, " : "");
    fault_len = len > 0 && (size_t)len < sizeof fault_msg ? (size_t)len : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    if (hers_store_open(dir, readonly, out) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    return 0;
}

void cli_db_free_ids(char **ids, size_t count)
{
    if (!ids)
        return;
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
}

int cli_db_read_ids(const char *cmd, const char *path, size_t want, char ***out, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(cmd, "%s: cannot open the id file", path);
    size_t cap = want ? want : 64, n = 0, lineno = 0, bufcap = 0;
    char **ids = calloc(cap, sizeof *ids);
    char *line = NULL;
    ssize_t got;
    int rc = ids ? 0 : cli_fail(cmd, "out of memory");
    /* getline, not fgets: it returns the true length, so a NUL inside an
     * id is seen (fgets + strlen silently cut the id there). */
    while (!rc && (got = getline(&line, &bufcap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        const char *why = hers_id_problem(line, len);
        if (why) {
            rc = cli_fail(cmd, "%s:%zu: invalid id (%s)", path, lineno,
                          memchr(line, '\0', len) ? "NUL byte" : why);
            break;
        }
        if (want && n >= want) {
            rc = cli_fail(cmd, "%s: more ids than the %zu vectors", path, want);
            break;
        }
        if (n == cap) {
            char **ni = realloc(ids, 2 * cap * sizeof *ids);
            if (!ni) {
                rc = cli_fail(cmd, "out of memory");
                break;
            }
            ids = ni;
            cap *= 2;
        }
        ids[n] = strndup(line, len);
        if (!ids[n]) {
            rc = cli_fail(cmd, "out of memory");
            break;
        }
        n++;
    }
    free(line);
    if (!rc && ferror(f))
        rc = cli_fail(cmd, "%s: read error", path);
    fclose(f);
    if (!rc && want && n != want)
        rc = cli_fail(cmd, "%s: %zu ids for %zu vectors", path, n, want);
    if (!rc && n == 0)
        rc = cli_fail(cmd, "%s: no ids", path);
    if (rc) {
        cli_db_free_ids(ids, n);
        return rc;
    }
    *out = ids;
    *count = n;
    return 0;
}

int cli_db_vectors(const char *cmd, const char *path, const char *model, hers_matrix *x,
                   uint8_t *model_id, size_t *model_len)
{
    *model_len = 0;
    if (hers_matrix_read(path, x) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    if (model) {
        hers_reduce_model *m = NULL;
        if (hers_reduce_model_load(model, &m) != HERS_OK) {
            hers_matrix_free(x);
            return cli_fail_lib(cmd, model);
        }
        int rc = 0;
        hers_matrix z = {0, 0, NULL};
        if (x->cols != m->in_dim)
            rc = cli_fail(cmd, "%s has dimension %zu but model %s expects %zu", path, x->cols,
                          model, m->in_dim);
        else if (hers_reduce_apply(m, x, &z) != HERS_OK ||
                 hers_reduce_model_id(m, model_id) != HERS_OK)
            rc = cli_fail(cmd, "%s: %s", model, hers_last_error());
        hers_reduce_model_free(m);
        hers_matrix_free(x);
        if (rc) {
            hers_matrix_free(&z);
            return rc;
        }
        *x = z;
        *model_len = HERS_MODEL_ID_BYTES;
    }
    if (x->rows == 0) {
        hers_matrix_free(x);
        return cli_fail(cmd, "%s: no rows (the input holds 0 vectors)", path);
    }
    if (x->cols == 0 || x->cols > HERS_SEARCH_MAX_D) {
        size_t c = x->cols;
        hers_matrix_free(x);
        return cli_fail(cmd, "%s: dimension %zu not in 1..%d (compress the vectors: --model)",
                        path, c, HERS_SEARCH_MAX_D);
    }
    hers_matrix_normalize_rows(x);
    return 0;
}

int cli_db_same_params(const char *cmd, const char *keys, const hers_params *kp,
                       const hers_store *db)
{
    if (memcmp(hers_params_id(kp), hers_params_id(hers_store_params(db)), 32) != 0)
    {
        const hers_params *dp = hers_store_params(db);
        const char *kn = hers_params_name(kp), *dn = hers_params_name(dp);
        return cli_fail(cmd, "%s: wrong keys: their parameter set %s (N = %zu, %zu primes) is not "
                        "the database's %s (N = %zu, %zu primes)", keys, *kn ? kn : "(custom)",
                        hers_params_n(kp), hers_params_num_primes(kp), *dn ? dn : "(custom)",
                        hers_params_n(dp), hers_params_num_primes(dp));
    }
    return 0;
}

void cli_db_hex(const uint8_t *b, size_t len, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * len] = '\0';
}
