/* cli_remote.h - the client side of the HERS service: `hers init | enroll |
 * search | delete | info | compact --server URL --gallery NAME
 * --token-file F [--cacert F]` (cli_remote.c), and the key holder's
 * printing of a search response shared with `hers results decrypt`. */
#ifndef HERS_CLI_REMOTE_H
#define HERS_CLI_REMOTE_H

#include <stdio.h>

#include "cli/cli_rank.h"
#include "hers/hers_net.h"

int cli_remote_init(int argc, char **argv);
int cli_remote_enroll(int argc, char **argv);
int cli_remote_search(int argc, char **argv);
int cli_remote_delete(int argc, char **argv);
int cli_remote_info(int argc, char **argv);
int cli_remote_compact(int argc, char **argv);

/* `hers search --db DIR --query Q --out R` (the server's step over files). */
int cli_db_search_query(int argc, char **argv);
/* Whole-file read (at most 4 GiB, malloc) and atomic write; 0 or 1 after
 * printing one error line for command cmd. */
int cli_read_all(const char *cmd, const char *path, uint8_t **buf, size_t *len);
int cli_write_all(const char *cmd, const char *path, const void *buf, size_t len);
/* The cluster (src/cli/cmd_cluster.c): `mpirun ... hers serve` once the
 * server's options are parsed, and `mpirun ... hers search --root`. */
int cli_serve_cluster(hers_server_config *c, const char *port_file);
int cli_cluster_search(int argc, char **argv);
/* `hers info --root DIR --gallery NAME [--json]`: the shards, read from this disk. */
int cli_cluster_info(int argc, char **argv);

/* Decrypts every probe of r and writes the TSV rows probe, rank, id, score
 * (as `hers search`) to f. Returns 0 or 1 after one error line. */
int cli_print_response(const char *cmd, const hers_params *p, const hers_secret_key *sk,
                       const hers_net_response *r, const cli_rank_opts *ro, FILE *f);

/* Parses --top / --threshold into ro (scale left 0). 0, or the exit status. */
int cli_rank_options(const char *cmd, int argc, char **argv, cli_rank_opts *ro);

#endif
