/*
 * search_sets.h - the fast parameter sets of the search tests (static
 * inline: each test is its own program). No security check: small N keeps
 * the tests fast; the named sets (n4096, s4096) are tested apart.
 */
#ifndef HERS_TEST_SEARCH_SETS_H
#define HERS_TEST_SEARCH_SETS_H

#include <string.h>

#include "hers/hers_bfv.h"
#include "support/check.h"

/* N = n and the default t = 1032193. narrow = 0: two 50-bit primes, each
 * = 1 mod 2N t (the wide kernel form, like n4096); narrow = 1: three 30-bit
 * primes whose product is = 1 mod t (the narrow form, like s4096). NULL
 * (and a failed CHECK) if the set cannot be made. */
static inline hers_params *test_search_params(size_t n, int narrow)
{
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = n;
    spec.t = 1032193;
    spec.num_primes = narrow ? 3 : 2;
    for (size_t j = 0; j < spec.num_primes; j++)
        spec.prime_bits[j] = narrow ? 30 : 50;
    spec.q_one_mod_t = narrow ? HERS_Q_PRODUCT_ONE_MOD_T : HERS_Q_EACH_ONE_MOD_T;
    spec.security = HERS_SEC_NONE;
    hers_params *p = NULL;
    CHECK_OK(hers_params_create(&p, &spec));
    return p;
}

#endif
