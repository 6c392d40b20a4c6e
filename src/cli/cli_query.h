/* cli_query.h - the probes of `hers search` in the chosen query form. */
#ifndef HERS_CLI_QUERY_H
#define HERS_CLI_QUERY_H

#include "hers/hers_search.h"

/* Encrypts count probes (key holder) in the form named by `form` ("full",
 * "compact" or NULL / "auto": hers_query_default_form for the gallery's mode
 * and encryption); a compact query goes through its upload record and is
 * expanded with gk (the server's Galois keys) into the full form hers_search
 * takes. Compact without gk: an error when asked for, the full form under
 * "auto". *used gets the form sent, *upload_bytes the compact record's size (0 for
 * the full form). On error
 * prints one line and returns non-zero. */
int cli_query_make(const char *cmd, const char *form, const hers_params *p,
                   const hers_secret_key *sk, const hers_galois_key *gk, hers_search_mode mode,
                   int gallery_public, const int32_t *probes, size_t count, size_t d,
                   uint32_t scale, unsigned threads, hers_query **out, hers_query_form *used,
                   size_t *upload_bytes);

#endif
