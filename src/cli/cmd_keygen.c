/* cmd_keygen.c - `hers keygen --keys DIR [--params NAME] [--passphrase-file F]
 * [--force]`: creates DIR (mode 0700) and writes the parameter set, the secret key (mode 0600),
 * the public key and the relinearisation key as separate files
 * (cli_keys.h). Refuses to overwrite an existing secret key without --force.
 * With --passphrase-file F the secret key is written passphrase-protected
 * (hers_secret_key_write_protected; the passphrase file is read, and refused
 * if others can read it, before anything is created). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_keys.h"
#include "hers/hers_search.h"
#include "hers/hers_serial.h"

#define CMD "keygen"

static int write_file(const char *dir, const char *name, int what, const cli_keys *k,
                      const char *pass, size_t pass_len)
{
    char *path = cli_keys_path(dir, name);
    if (!path)
        return cli_fail(CMD, "out of memory");
    hers_status st;
    switch (what) {
    case 0: st = hers_params_write(path, k->p); break;
    case 1:
        st = pass ? hers_secret_key_write_protected(path, k->p, k->sk, pass, pass_len)
                  : hers_secret_key_write(path, k->p, k->sk);
        break;
    case 2: st = hers_public_key_write(path, k->p, k->pk); break;
    case 4: st = hers_galois_key_write(path, k->p, k->gk); break;
    default: st = hers_relin_key_write(path, k->p, k->rk); break;
    }
    int rc = st == HERS_OK ? 0 : cli_fail(CMD, "%s: %s", path, hers_last_error());
    free(path);
    return rc;
}

int hers_cmd_keygen(int argc, char **argv)
{
    static const char *const with_value[] = {"--keys", "--params", "--passphrase-file", NULL};
    static const char *const flags[] = {"--force", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers keygen --keys DIR [--params NAME] [--passphrase-file F] [--force]\n"
               "  Generates a BFV key set in DIR: %s, %s (mode 0600, keep it), %s, %s,\n"
               "  and galois.key (compact queries; N <= 8192).\n",
               CLI_KEYS_PARAMS, CLI_KEYS_SECRET, CLI_KEYS_PUBLIC, CLI_KEYS_RELIN);
        printf(
               "  NAME (docs/design.md, \"Parameter sets\"):");
        for (const char *const *n = hers_params_names(); *n; n++)
            if (strcmp(*n, "default") != 0)   /* the alias of n4096 */
                printf(" %s%s", *n, strcmp(*n, "n4096") ? "" : " (default)");
        printf(".\n"
               "  DIR is created (or restricted) to mode 0700.\n"
               "  --passphrase-file F encrypts the secret key with the passphrase on the first\n"
               "  line of F (Argon2id + XSalsa20-Poly1305; F must be mode 600 or a pipe).\n"
               "  --force overwrites an existing key set.\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--keys");
    const char *name = cli_opt(argc, argv, "--params") ? cli_opt(argc, argv, "--params") : "n4096";
    if (!dir)
        return cli_usage(CMD, "--keys DIR is required");
    const char *passfile = cli_opt(argc, argv, "--passphrase-file");
    char *pass = NULL;
    size_t pass_len = 0;
    if (passfile && cli_passphrase_read(CMD, passfile, &pass, &pass_len))
        return 1;
    /* The key directory holds the secret key: 0700 whether it is new or not. */
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || chmod(dir, 0700) != 0) {
        cli_passphrase_free(pass, pass_len);
        return cli_fail(CMD, "%s: cannot create or restrict the directory: %s", dir,
                        strerror(errno));
    }
    char *sp = cli_keys_path(dir, CLI_KEYS_SECRET);
    if (!sp) {
        cli_passphrase_free(pass, pass_len);
        return cli_fail(CMD, "out of memory");
    }
    int exists = access(sp, F_OK) == 0;
    free(sp);
    if (exists && !cli_flag(argc, argv, "--force")) {
        cli_passphrase_free(pass, pass_len);
        return cli_fail(CMD, "%s/%s already exists (use --force to replace the key set)", dir,
                        CLI_KEYS_SECRET);
    }
    cli_keys k;
    memset(&k, 0, sizeof k);
    int rc = 1;
    if (hers_params_create_named(&k.p, name) != HERS_OK)
        rc = cli_fail(CMD, "--params %s: %s", name, hers_last_error());
    else if (hers_keygen_secret(k.p, &k.sk) != HERS_OK ||
             hers_keygen_public(k.p, k.sk, &k.pk) != HERS_OK ||
             hers_keygen_relin(k.p, k.sk, &k.rk) != HERS_OK)
        rc = cli_fail_lib(CMD, "key generation");
    else
        rc = write_file(dir, CLI_KEYS_PARAMS, 0, &k, NULL, 0) ||
             write_file(dir, CLI_KEYS_SECRET, 1, &k, pass, pass_len) ||
             write_file(dir, CLI_KEYS_PUBLIC, 2, &k, NULL, 0) ||
             write_file(dir, CLI_KEYS_RELIN, 3, &k, NULL, 0);
    /* Galois keys for compact queries of any d (<= 1024): ~2 MB at N = 4096;
     * skipped for N > 8192 (tens of MB; compact queries then fall back to the
     * full form) */
    if (rc == 0 && hers_params_n(k.p) <= 8192) {
        if (hers_query_galois_keygen(k.p, k.sk, HERS_SEARCH_MAX_D, NULL, &k.gk) != HERS_OK)
            rc = cli_fail_lib(CMD, "Galois key generation");
        else
            rc = write_file(dir, CLI_KEYS_GALOIS, 4, &k, NULL, 0);
    }
    if (rc == 0)
        fprintf(stderr, "hers keygen: wrote %s (N = %zu, t = %llu, log2 Q = %.1f) to %s%s\n", name,
                hers_params_n(k.p), (unsigned long long)hers_params_t(k.p), hers_params_log_q(k.p),
                dir, pass ? " (secret key passphrase-protected)" : "");
    cli_keys_free(&k);
    cli_passphrase_free(pass, pass_len);
    return rc;
}
