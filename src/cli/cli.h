/* cli.h - shared helpers of the `hers` command-line tool. */
#ifndef HERS_CLI_H
#define HERS_CLI_H

#include <stddef.h>
#include <stdint.h>

#define HERS_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "cli/commands.def"
#undef HERS_COMMAND

/* Prints "hers <cmd>: <message>" to stderr (one line) and returns 1. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error (missing or malformed option): the same line, returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, appending hers_last_error(). */
int cli_fail_lib(const char *cmd, const char *what);

/* Tiny option parser: options are "--name value" or "--flag".
 * cli_opt returns the value of --name or NULL; cli_flag returns 1 if present.
 * cli_check_opts returns 0 if every argv entry is a known option (names in
 * `with_value` take a value, `flags` take none), else prints an error. */
const char *cli_opt(int argc, char **argv, const char *name);
int cli_flag(int argc, char **argv, const char *name);
int cli_check_opts(const char *cmd, int argc, char **argv, const char *const *with_value,
                   const char *const *flags);
/* Parses an unsigned integer option with range check; returns 0 on success. */
int cli_opt_u64(const char *cmd, int argc, char **argv, const char *name, uint64_t def,
                uint64_t lo, uint64_t hi, uint64_t *out);
int cli_opt_double(const char *cmd, int argc, char **argv, const char *name, double def,
                   double *out);

/* Wall-clock seconds (CLOCK_MONOTONIC). */
double cli_now(void);
/* 1 if stderr is a terminal (progress bars are drawn only then). */
int cli_is_tty(void);
/* Progress bar on stderr when it is a TTY: label, done / total. */
void cli_progress(const char *label, uint64_t done, uint64_t total);
void cli_progress_end(void);


/* ---- passphrase-protected secret keys (cli_passphrase.c) ----
 * --passphrase-file F: the passphrase is the first line of F (without the
 * line end; 1..4096 bytes). A regular file readable or writable by group or
 * others is refused ("chmod 600 F"); pipes (`<(...)`, /dev/stdin) are
 * accepted. */
struct cli_keys;
struct hers_params;
struct hers_secret_key;
/* Reads the passphrase into a new buffer (free with cli_passphrase_free,
 * which wipes it); on error prints one line and returns non-zero. */
int cli_passphrase_read(const char *cmd, const char *path, char **pass, size_t *len);
void cli_passphrase_free(char *pass, size_t len);
/* Loads the secret key at path: a protected file needs passfile (clear
 * one-line errors: "passphrase-protected: give --passphrase-file F", "wrong
 * passphrase"); a plain file ignores passfile (with a warning). */
int cli_secret_key_load(const char *cmd, const char *path, const struct hers_params *p,
                        const char *passfile, struct hers_secret_key **sk);
/* Writes sk at path (mode 0600): protected when passfile is not NULL. */
int cli_secret_key_store(const char *cmd, const char *path, const struct hers_params *p,
                         const struct hers_secret_key *sk, const char *passfile);
/* cli_keys_load (cli_keys.h) with the secret key read through
 * cli_secret_key_load (passfile may be NULL). */
int cli_keys_load_pass(const char *cmd, const char *dir, const char *passfile, int secret,
                       int pub, int relin, struct cli_keys *k);

#endif
