/* cli_rank.c - top-k / threshold selection and score printing (cli_rank.h). */
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_rank.h"
#include "hers/hers_mem.h"

int cli_rank(const char *cmd, const int64_t *scores, size_t n, const cli_rank_opts *o,
             hers_match **m, size_t *count)
{
    *m = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    if (o->have_threshold) {
        if (hers_threshold(scores, n, hers_score_from_cosine(o->threshold, o->scale), m,
                           count) != HERS_OK)
            return cli_fail_lib(cmd, "threshold");
        if (o->have_top && *count > o->top)
            *count = (size_t)o->top;
        return 0;
    }
    size_t kk = o->top < n ? (size_t)o->top : n;
    *m = hers_alloc_array(kk, sizeof **m);
    if (!*m || hers_top_k(scores, n, kk, *m, count) != HERS_OK)
        return cli_fail(cmd, "out of memory");
    return 0;
}

void cli_print_score(FILE *f, double v)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}
