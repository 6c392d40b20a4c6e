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

#endif
