/*
 * bench_primitives.c - `hers bench primitives [--json] [--n 4096,8192,16384]
 * [--reps R] [--simd LEVEL]`: median wall time (microseconds per call, one
 * thread) of the BFV primitives with the default parameter sets
 * (hers_params_create_named "n<N>"): NTT and inverse NTT on one ciphertext
 * prime, public-key and seeded secret-key encryption, decrypt + decode,
 * ct x pt (plaintext in NTT form), ct x ct (tensor + scale-and-round),
 * relinearisation, and (de)serialisation of a public-key ciphertext.
 *
 * Targets (issue "Foundation and a fast, correct RNS-BFV engine", N = 4096,
 * this 2-core AMD EPYC machine class) and the SEAL 4.4 figures measured on it
 * are printed beside the numbers in the human table; docs/benchmarks.md
 * records the results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli/cli.h"
#include "hers/hers_bfv.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_serial.h"

struct prim_ctx {
    const hers_params *p;
    const hers_secret_key *sk;
    const hers_public_key *pk;
    const hers_relin_key *rk;
    hers_plaintext pt;      /* batch-encoded random slots, NTT cache computed */
    hers_plaintext dec;     /* decrypt output */
    int64_t *slots;         /* decode output */
    hers_ciphertext a, b;   /* two public-key encryptions */
    hers_ciphertext out;    /* results of encrypt / mul_plain / relinearize */
    hers_ciphertext prod;   /* a x b (3 parts) */
    hers_ciphertext rd;     /* deserialised */
    uint64_t *poly;         /* one polynomial for the NTT */
    uint8_t *ser;           /* serialised a */
    size_t ser_len;
    hers_status st;         /* first failure inside a timed call */
};

#define KEEP(c, expr)                                                                     \
    do {                                                                                  \
        hers_status s_ = (expr);                                                          \
        if (s_ != HERS_OK && (c)->st == HERS_OK)                                          \
            (c)->st = s_;                                                                 \
    } while (0)

static void op_ntt_forward(void *v)
{
    struct prim_ctx *c = v;
    hers_ntt_forward(hers_params_ntt(c->p, 0), c->poly);
}

static void op_ntt_inverse(void *v)
{
    struct prim_ctx *c = v;
    hers_ntt_inverse(hers_params_ntt(c->p, 0), c->poly);
}

static void op_encrypt_public(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_encrypt_public(c->p, c->pk, &c->pt, &c->out));
}

static void op_encrypt_seeded(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_encrypt_secret(c->p, c->sk, &c->pt, &c->out));
}

static void op_decrypt(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_decrypt(c->p, c->sk, &c->a, &c->dec));
    KEEP(c, hers_decode_batch(c->p, &c->dec, c->slots));
}

static void op_mul_plain(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_mul_plain(c->p, &c->a, &c->pt, &c->out));
}

static void op_mul(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_mul(c->p, &c->a, &c->b, &c->prod));
}

static void op_relinearize(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_relinearize(c->p, c->rk, &c->prod, &c->out));
}

static void op_serialize(void *v)
{
    struct prim_ctx *c = v;
    KEEP(c, hers_ciphertext_serialize(c->p, &c->a, c->ser, c->ser_len, NULL));
}

static void op_deserialize(void *v)
{
    struct prim_ctx *c = v;
    hers_ciphertext_free(&c->rd);
    KEEP(c, hers_ciphertext_deserialize(c->p, c->ser, c->ser_len, &c->rd));
}

struct prim_op {
    const char *op;
    void (*fn)(void *);
    double target_us;     /* N = 4096 target, 0 if none */
    const char *seal;     /* SEAL 4.4 on this machine class, N = 4096 */
};

static const struct prim_op ops[] = {
    {"ntt_forward", op_ntt_forward, 6.0, "43 (HEXL IFMA 6.2)"},
    {"ntt_inverse", op_ntt_inverse, 6.0, ""},
    {"encrypt_public", op_encrypt_public, 400.0, "900-1300"},
    {"encrypt_seeded", op_encrypt_seeded, 400.0, "900-1300"},
    {"decrypt", op_decrypt, 200.0, "300"},
    {"mul_plain", op_mul_plain, 0.0, ""},
    {"mul", op_mul, 0.0, "2600"},
    {"relinearize", op_relinearize, 0.0, "700"},
    {"serialize", op_serialize, 0.0, ""},
    {"deserialize", op_deserialize, 0.0, ""},
};
#define NUM_OPS (sizeof ops / sizeof ops[0])

static void ctx_free(struct prim_ctx *c)
{
    hers_plaintext_free(&c->pt);
    hers_plaintext_free(&c->dec);
    hers_ciphertext_free(&c->a);
    hers_ciphertext_free(&c->b);
    hers_ciphertext_free(&c->out);
    hers_ciphertext_free(&c->prod);
    hers_ciphertext_free(&c->rd);
    hers_free(c->slots);
    hers_free(c->poly);
    hers_free(c->ser);
}

/* Parses "4096,8192" into ns (at most 8); returns the count or -1. */
static int parse_ns(const char *s, size_t *ns)
{
    int count = 0;
    while (*s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || count == 8 || v < 2048 || v > 32768 || (v & (v - 1)))
            return -1;
        ns[count++] = v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return count;
}

static int bench_one(size_t n, int reps, int json)
{
    char name[16];
    snprintf(name, sizeof name, "n%zu", n);
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    struct prim_ctx c;
    memset(&c, 0, sizeof c);
    int rc = 0;
    if (hers_params_create_named(&p, name) != HERS_OK || hers_keygen_secret(p, &sk) != HERS_OK ||
        hers_keygen_public(p, sk, &pk) != HERS_OK || hers_keygen_relin(p, sk, &rk) != HERS_OK) {
        rc = cli_fail_lib("bench primitives", name);
        goto done;
    }
    c.p = p;
    c.sk = sk;
    c.pk = pk;
    c.rk = rk;
    c.slots = hers_alloc_array(n, sizeof(int64_t));
    c.poly = hers_alloc_array(n, sizeof(uint64_t));
    if (!c.slots || !c.poly) {
        rc = cli_fail("bench primitives", "out of memory");
        goto done;
    }
    uint64_t t = hers_params_t(p), s = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        c.slots[i] = (int64_t)((s >> 20) % t) - (int64_t)(t / 2);
        c.poly[i] = (s >> 11) % hers_params_prime(p, 0);
    }
    if (hers_encode_batch(p, c.slots, n, &c.pt) != HERS_OK ||
        hers_plaintext_to_ntt(p, &c.pt) != HERS_OK ||
        hers_encrypt_public(p, pk, &c.pt, &c.a) != HERS_OK ||
        hers_encrypt_public(p, pk, &c.pt, &c.b) != HERS_OK ||
        hers_mul(p, &c.a, &c.b, &c.prod) != HERS_OK ||
        hers_ciphertext_serialized_size(p, &c.a, &c.ser_len) != HERS_OK) {
        rc = cli_fail_lib("bench primitives", "set-up");
        goto done;
    }
    c.ser = hers_alloc(c.ser_len);
    if (!c.ser || hers_ciphertext_serialize(p, &c.a, c.ser, c.ser_len, NULL) != HERS_OK) {
        rc = cli_fail_lib("bench primitives", "serialize");
        goto done;
    }
    int log_q = (int)lround(hers_params_log_q(p));
    const char *simd = hers_simd_name(hers_simd_active());
    double med[NUM_OPS], cpu[NUM_OPS];
    for (size_t i = 0; i < NUM_OPS; i++) {
        bench_median_wall_cpu(ops[i].fn, &c, reps, 5e-3, &med[i], &cpu[i]);
        med[i] *= 1e6;
        cpu[i] *= 1e6;
        if (c.st != HERS_OK) {
            rc = cli_fail("bench primitives", "%s at N=%zu failed: %s", ops[i].op, n,
                          hers_last_error());
            goto done;
        }
        if (json) {
            printf("{\"bench\":\"primitives\",\"op\":\"%s\",\"N\":%zu,\"log_q\":%d,"
                   "\"simd\":\"%s\",\"threads\":1,\"median_us\":%.1f,\"cpu_us\":%.1f",
                   ops[i].op, n, log_q, simd, med[i], cpu[i]);
            if (!strcmp(ops[i].op, "serialize") || !strcmp(ops[i].op, "deserialize"))
                printf(",\"bytes\":%zu", c.ser_len);
            printf("}\n");
        } else {
            char target[32] = "", seal[32] = "";
            if (n == 4096 && ops[i].target_us > 0)
                snprintf(target, sizeof target, "<= %g", ops[i].target_us);
            if (n == 4096)
                snprintf(seal, sizeof seal, "%s", ops[i].seal);
            printf("%-6zu %-6d %-15s %10.1f %10.1f  %-10s %-20s\n", n, log_q, ops[i].op, med[i],
                   cpu[i], target, seal);
        }
        fflush(stdout);
    }
    if (!json) {
        size_t mi = 6, ri = 7;
        printf("%-6zu %-6d %-15s %10.1f %10.1f  %-10s %-20s\n", n, log_q, "mul+relinearize",
               med[mi] + med[ri], cpu[mi] + cpu[ri], n == 4096 ? "<= 1000" : "",
               n == 4096 ? "3300" : "");
        printf("%-6s %-6s %-15s (2-part ciphertext: %zu bytes serialised)\n", "", "", "",
               c.ser_len);
    }
done:
    ctx_free(&c);
    hers_relin_key_free(rk);
    hers_public_key_free(pk);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return rc;
}

int hers_bench_primitives(int argc, char **argv)
{
    static const char *const with_value[] = {"--n", "--reps", "--simd", NULL};
    static const char *const flags[] = {"--json", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers bench primitives [--json] [--n 4096,8192,16384] [--reps R]\n"
               "                             [--simd portable|avx2|avx512]\n"
               "  median time (us, one thread) of the BFV primitives with the default\n"
               "  parameter sets: ntt_forward, ntt_inverse (one prime), encrypt_public,\n"
               "  encrypt_seeded, decrypt (+ decode), mul_plain, mul (tensor + scale),\n"
               "  relinearize, serialize, deserialize (a 2-part ciphertext).\n"
               "  --json: one JSON object per line (median_us: wall time, cpu_us: thread CPU\n"
               "  time); lines starting with '#' are comments.\n");
        return 0;
    }
    if (cli_check_opts("bench primitives", argc, argv, with_value, flags))
        return 1;
    int json = cli_flag(argc, argv, "--json");
    uint64_t reps;
    if (cli_opt_u64("bench primitives", argc, argv, "--reps", 11, 1, 64, &reps))
        return 1;
    size_t ns[8] = {4096, 8192, 16384};
    int count = 3;
    const char *nv = cli_opt(argc, argv, "--n");
    if (nv && (count = parse_ns(nv, ns)) <= 0)
        return cli_fail("bench primitives",
                        "--n wants a comma-separated list of powers of two in [2048, 32768], "
                        "got '%s'",
                        nv);
    const char *sv = cli_opt(argc, argv, "--simd");
    hers_simd saved = hers_simd_active();
    if (sv) {
        hers_simd lv;
        if (hers_simd_parse(sv, &lv) != HERS_OK)
            return cli_fail("bench primitives", "unknown --simd level '%s'", sv);
        if (hers_simd_set(lv) != HERS_OK)
            return cli_fail("bench primitives", "this CPU does not support --simd %s", sv);
    }
    bench_print_env(stdout, "primitives", 1);
    if (!json) {
        printf("# median of %d runs, microseconds per call (wall and thread CPU time);\n"
               "# targets and SEAL 4.4 (same machine class) apply to N = 4096\n",
               (int)reps);
        printf("%-6s %-6s %-15s %10s %10s  %-10s %-20s\n", "N", "log_q", "op", "median_us",
               "cpu_us", "target", "SEAL 4.4 (us)");
    }
    int rc = 0;
    for (int i = 0; i < count && !rc; i++)
        rc = bench_one(ns[i], (int)reps, json);
    hers_simd_set(saved);
    return rc;
}
