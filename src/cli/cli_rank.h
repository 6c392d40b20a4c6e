/* cli_rank.h - the key holder's ranking and score printing shared by
 * `hers search --gallery` and `hers search --db`. */
#ifndef HERS_CLI_RANK_H
#define HERS_CLI_RANK_H

#include <stdint.h>
#include <stdio.h>

#include "hers/hers_search.h"

/* What to report of one probe's scores. */
typedef struct cli_rank_opts {
    int have_threshold;  /* 1: every entry with cosine >= threshold ... */
    double threshold;
    int have_top;        /* ... at most `top` of them if also --top */
    uint64_t top;        /* without a threshold: the top `top` entries */
    uint32_t scale;      /* quantisation scale s: cosine = score / s^2 */
} cli_rank_opts;

/* Selects the entries of scores[0, n) to report, best first (ties: lower
 * index first), into *m (hers_alloc'ed, NULL when none; hers_free it) and
 * *count. Returns 0, or 1 after printing one error line for command cmd. */
int cli_rank(const char *cmd, const int64_t *scores, size_t n, const cli_rank_opts *o,
             hers_match **m, size_t *count);

/* Prints a score with the fewest digits that read back to the same double. */
void cli_print_score(FILE *f, double v);

#endif
