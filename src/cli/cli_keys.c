/* cli_keys.c - loading the key directory (cli_keys.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_keys.h"
#include "hers/hers_serial.h"

char *cli_keys_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s)
        return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static int load_one(const char *cmd, const char *dir, const char *name, cli_keys *k, int what)
{
    char *path = cli_keys_path(dir, name);
    if (!path)
        return cli_fail(cmd, "out of memory");
    hers_status st;
    switch (what) {
    case 0: st = hers_params_read(path, &k->p); break;
    case 1: st = hers_secret_key_read(path, k->p, &k->sk); break;
    case 2: st = hers_public_key_read(path, k->p, &k->pk); break;
    default: st = hers_relin_key_read(path, k->p, &k->rk); break;
    }
    int rc = 0;
    if (st != HERS_OK)
        rc = strstr(hers_last_error(), path) ? cli_fail(cmd, "%s", hers_last_error())
                                             : cli_fail(cmd, "%s: %s", path, hers_last_error());
    free(path);
    return rc;
}

int cli_keys_load(const char *cmd, const char *dir, int secret, int pub, int relin, cli_keys *k)
{
    memset(k, 0, sizeof *k);
    if (load_one(cmd, dir, CLI_KEYS_PARAMS, k, 0) ||
        (secret && load_one(cmd, dir, CLI_KEYS_SECRET, k, 1)) ||
        (pub && load_one(cmd, dir, CLI_KEYS_PUBLIC, k, 2)) ||
        (relin && load_one(cmd, dir, CLI_KEYS_RELIN, k, 3))) {
        cli_keys_free(k);
        return 1;
    }
    return 0;
}

int cli_keys_load_galois(const char *cmd, const char *dir, cli_keys *k)
{
    char *path = cli_keys_path(dir, CLI_KEYS_GALOIS);
    if (!path)
        return cli_fail(cmd, "out of memory");
    int rc = 0;
    if (access(path, F_OK) == 0 && hers_galois_key_read(path, k->p, &k->gk) != HERS_OK)
        rc = strstr(hers_last_error(), path) ? cli_fail(cmd, "%s", hers_last_error())
                                             : cli_fail(cmd, "%s: %s", path, hers_last_error());
    free(path);
    return rc;
}

void cli_keys_free(cli_keys *k)
{
    hers_secret_key_free(k->sk);
    hers_public_key_free(k->pk);
    hers_relin_key_free(k->rk);
    hers_galois_key_free(k->gk);
    hers_params_free(k->p);
    memset(k, 0, sizeof *k);
}
