/* cli_keys.h - the key directory of `hers keygen / enroll / search`:
 *   DIR/params.hers   parameter set (public)
 *   DIR/secret.key    secret key (mode 0600, key holder only)
 *   DIR/public.key    public key
 *   DIR/relin.key     relinearisation key
 *   DIR/galois.key    Galois keys for compact queries (optional)
 * Records in the hers_serial.h format. */
#ifndef HERS_CLI_KEYS_H
#define HERS_CLI_KEYS_H

#include "hers/hers_bfv.h"

#define CLI_KEYS_PARAMS "params.hers"
#define CLI_KEYS_SECRET "secret.key"
#define CLI_KEYS_PUBLIC "public.key"
#define CLI_KEYS_RELIN "relin.key"
#define CLI_KEYS_GALOIS "galois.key"

typedef struct cli_keys {
    hers_params *p;
    hers_secret_key *sk;
    hers_public_key *pk;
    hers_relin_key *rk;
    hers_galois_key *gk;   /* cli_keys_load_galois */
} cli_keys;

/* Joins dir and name into a malloc'ed path (NULL on overflow / no memory). */
char *cli_keys_path(const char *dir, const char *name);
/* Loads the parameters and the requested keys; on error prints one line
 * (naming the file) and returns non-zero. */
int cli_keys_load(const char *cmd, const char *dir, int secret, int pub, int relin, cli_keys *k);
void cli_keys_free(cli_keys *k);
/* Loads DIR/galois.key into k->gk when the file exists (k->p loaded);
 * a missing file leaves k->gk NULL; a bad one prints one line, non-zero. */
int cli_keys_load_galois(const char *cmd, const char *dir, cli_keys *k);

#endif
