/* cli_query.c - the probes of `hers search` in the chosen query form
 * (cli_query.h). */
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_query.h"
#include "hers/hers_mem.h"

int cli_query_make(const char *cmd, const char *form, const hers_params *p,
                   const hers_secret_key *sk, const hers_galois_key *gk, hers_search_mode mode,
                   int gallery_public, const int32_t *probes, size_t count, size_t d,
                   uint32_t scale, unsigned threads, hers_query **out, hers_query_form *used,
                   size_t *upload_bytes)
{
    *out = NULL;
    hers_query_form f;
    if (!form || !strcmp(form, "auto")) {
        f = mode == HERS_MODE_BOTH_ENCRYPTED && gk
                ? hers_query_default_form(p, mode, d, gallery_public)
                : HERS_QUERY_FULL;
    } else if (hers_query_form_parse(form, &f) != HERS_OK) {
        return cli_fail(cmd, "--query-form must be full, compact or auto, got '%s'", form);
    } else if (f == HERS_QUERY_COMPACT && !gk) {
        return cli_fail(cmd, "--query-form compact needs the gallery's Galois keys (%s)",
                        "galois.key, written by hers keygen and stored by hers init");
    }
    hers_query *q = NULL, *up = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    hers_status st = f == HERS_QUERY_COMPACT
                         ? hers_query_encrypt_compact(p, sk, probes, count, d, scale, NULL, &q)
                         : hers_query_encrypt(p, sk, NULL, probes, count, d, scale, NULL, &q);
    /* a compact query travels as its upload record: the server reads it
     * and expands it (the full form is used as encrypted, as before) */
    if (st == HERS_OK && f == HERS_QUERY_COMPACT) {
        if ((st = hers_query_serialize(p, q, &buf, &len)) == HERS_OK &&
            (st = hers_query_deserialize(p, buf, len, &up)) == HERS_OK) {
            hers_query_free(q);
            q = NULL;
            st = hers_query_expand(p, gk, up, threads, &q);
        }
    }
    hers_free(buf);
    hers_query_free(up);
    if (st != HERS_OK) {
        hers_query_free(q);
        return cli_fail(cmd, "query: %s", hers_last_error());
    }
    *out = q;
    if (used)
        *used = f;
    if (upload_bytes)
        *upload_bytes = len;
    return 0;
}
