/* cli_db.h - shared helpers of the gallery-database commands (init, enroll
 * --db, search --db, delete, compact, info, check). */
#ifndef HERS_CLI_DB_H
#define HERS_CLI_DB_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_store.h"

/* `hers enroll --db ...` and `hers search --db ...` (dispatched from
 * hers_cmd_enroll / hers_cmd_search when --db is present). */
int cli_db_enroll(int argc, char **argv);
int cli_db_search(int argc, char **argv);

/* Opens DIR; on error prints one line and returns non-zero. */
int cli_db_open(const char *cmd, const char *dir, int readonly, hers_store **out);

/* Reads one id per line (CRLF accepted, final newline optional, no empty
 * lines). want = 0: any count >= 1. Prints one line on error. */
int cli_db_read_ids(const char *cmd, const char *path, size_t want, char ***out, size_t *count);
void cli_db_free_ids(char **ids, size_t count);

/* Reads vectors (any hers_matrix_read format), applies the model file if
 * given (its id into model_id, 16 bytes, *model_len = 16; else 0), and
 * L2-normalises the rows. Prints one line on error. */
int cli_db_vectors(const char *cmd, const char *path, const char *model, hers_matrix *x,
                   uint8_t *model_id, size_t *model_len);

/* The key directory's parameters must be the database's (prints "wrong
 * keys" otherwise). */
int cli_db_same_params(const char *cmd, const char *keys, const hers_params *kp,
                       const hers_store *db);

/* Hex of bytes into out (2 * len + 1). */
void cli_db_hex(const uint8_t *b, size_t len, char *out);

#endif
