/* cli.h - shared helpers of the `hers` command-line tool. */
#ifndef HERS_CLI_H
#define HERS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/atomic_file.h"
#include "hers/hers_status.h"

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
/* --port-file F of `hers serve` (one node or a cluster's rank 0): "PORT\n"
 * written atomically and fsync'ed (core/atomic_file.h, mode 0644), so a
 * script polling F never reads a partial number. HERS_ERR_IO with
 * "cannot write the port file: F: STEP failed: REASON". */
hers_status cli_write_port_file(const char *path, unsigned port);

/* The --out F of search and query (stdout without F). A regular file (new or
 * existing) is written atomically and fsync'ed (core/atomic_file.h, mode
 * 0644): a failed or interrupted command leaves the old file or none, never
 * a partial table. Anything else (/dev/stdout, a FIFO, a symbolic link) is
 * written in place: a rename would replace it. Print to o->f. */
typedef struct cli_out {
    FILE *f;                /* stdout, the temporary, or the special file */
    const char *path;       /* NULL: stdout */
    int atomic;             /* 1: af holds f */
    hers_atomic_file af;
} cli_out;
/* 0, or cli_fail's exit code ("PATH: cannot create the output file: ..."). */
int cli_out_open(const char *cmd, const char *path, cli_out *o);
/* rc == 0: completes the output ("PATH: write failed: ..." on error, then
 * its exit code); rc != 0: discards a regular file's new content. Returns
 * the command's exit code. Safe to call again (o->f is NULL afterwards). */
int cli_out_close(const char *cmd, cli_out *o, int rc);


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
