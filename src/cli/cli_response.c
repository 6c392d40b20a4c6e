/* cli_response.c - the key holder's side of a search response: decrypt,
 * keep live entries (the response's catalog), rank, print TSV exactly as
 * `hers search --db` does. */
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "hers/hers_mem.h"

int cli_rank_options(const char *cmd, int argc, char **argv, cli_rank_opts *ro)
{
    uint64_t top;
    double thr = 0;
    ro->have_top = cli_opt(argc, argv, "--top") != NULL;
    ro->have_threshold = cli_opt(argc, argv, "--threshold") != NULL;
    if (cli_opt_u64(cmd, argc, argv, "--top", 10, 1, (uint64_t)1 << 32, &top) ||
        cli_opt_double(cmd, argc, argv, "--threshold", 0, &thr))
        return 2;
    if (ro->have_threshold && !(thr >= -4.0 && thr <= 4.0))
        return cli_usage(cmd, "--threshold must be a cosine in [-4, 4], got %g", thr);
    ro->top = top;
    ro->threshold = thr;
    ro->scale = 0;
    return 0;
}

int cli_print_response(const char *cmd, const hers_params *p, const hers_secret_key *sk,
                       const hers_net_response *r, const cli_rank_opts *ro0, FILE *f)
{
    size_t live = hers_net_response_live(r);
    uint32_t s = hers_net_response_scale(r);
    cli_rank_opts ro = *ro0;
    ro.scale = s;
    int64_t *scores = hers_alloc_array(live ? live : 1, sizeof *scores);
    if (!scores)
        return cli_fail(cmd, "out of memory");
    double s2 = (double)s * (double)s;
    int rc = 0;
    for (size_t probe = 0; probe < hers_net_response_count(r) && !rc; probe++) {
        if (hers_net_response_decrypt(p, sk, r, probe, scores) != HERS_OK) {
            rc = cli_fail_lib(cmd, "decrypt");
            break;
        }
        hers_match *m = NULL;
        size_t c = 0;
        if ((rc = cli_rank(cmd, scores, live, &ro, &m, &c)) != 0)
            break;
        for (size_t i = 0; i < c; i++) {
            fprintf(f, "%zu\t%zu\t%s\t", probe, i + 1, hers_net_response_id(r, m[i].index));
            cli_print_score(f, (double)m[i].score / s2);
            fputc('\n', f);
        }
        hers_free(m);
    }
    hers_free_secret(scores, (live ? live : 1) * sizeof *scores);
    return rc;
}
