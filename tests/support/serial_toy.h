/*
 * serial_toy.h - the small parameter set shared by tests/test_serial.c (which
 * also writes the fuzz seed corpus) and the fuzz/fuzz_*.c serialisation
 * targets: the seeds must carry the parameter-set id the fuzzers use.
 * N = 64, t = 257 (prime, = 1 mod 2N: batching), three generated primes of
 * 30, 30 and 31 bits with q = 1 (mod 2N*t), no security check (toy only).
 */
#ifndef HERS_TEST_SERIAL_TOY_H
#define HERS_TEST_SERIAL_TOY_H

#include <string.h>

#include "hers/hers_bfv.h"

static inline hers_status serial_toy_params(hers_params **p)
{
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = 64;
    spec.t = 257;
    spec.num_primes = 3;
    spec.prime_bits[0] = 30;
    spec.prime_bits[1] = 30;
    spec.prime_bits[2] = 31;
    spec.q_one_mod_t = 1;
    spec.security = HERS_SEC_NONE;
    return hers_params_create(p, &spec);
}

#endif
