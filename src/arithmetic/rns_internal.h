/*
 * rns_internal.h - private state of the RNS objects (hers_rns.h) shared by
 * rns.c and its AVX2 kernels (rns_avx2.c); BFV's multiplication (bfv/mul.c)
 * calls the AVX2 lift directly. Shared with: bfv (scripts/check-layers).
 */
#ifndef HERS_RNS_INTERNAL_H
#define HERS_RNS_INTERNAL_H

#include "hers/hers_rns.h"

struct conv_priv {
    hers_rns_conv pub;
    size_t chunk;
    int fast;                          /* lazy 64-bit accumulation is safe */
    int avx2_ok;                       /* all moduli < 2^50, k <= 7 (rns_avx2.c) */
    uint64_t *mhat_mod_shoup;          /* Shoup constants of mhat_mod */
    uint64_t neg_m[HERS_RNS_MAX];      /* -M mod to_j */
    uint64_t one_shoup[HERS_RNS_MAX];  /* floor(2^64 / to_j) */
};

struct scaler_priv {
    hers_rns_scaler pub;
    size_t chunk;
    int fast;                          /* lazy 64-bit accumulation is safe */
    int avx2_ok;                       /* all moduli < 2^50, kd <= 6 (rns_avx2.c) */
    uint64_t *omega_shoup;
    uint64_t one_shoup[HERS_RNS_MAX];
    /* Fast paths use z_i = [x_i * zc_i]_{d_i} = [y_i * (T E mod d_i)]_{d_i}:
     * round(T x / D) = round(sum_i z_i / d_i) + sum_i z_i * (-d_i^-1)
     * + x_ej * T D^-1 (mod out_j), since (y_i T E - z_i) / d_i is an integer
     * = -z_i d_i^-1 mod out_j (out_j divides T E). */
    uint64_t zc[HERS_RNS_MAX], zc_shoup[HERS_RNS_MAX];
    uint64_t *ndinv;                   /* [i*k_out + j] = -d_i^-1 mod out_j */
    uint64_t *ndinv_shoup;
};

/* AVX2 kernels (n a multiple of 4; only when avx2_ok). Bit-identical to the
 * portable code: every modular product is computed exactly. */
void hers_rns_convert_avx2(const hers_rns_conv *c, const struct conv_priv *cp, const uint64_t *in,
                           uint64_t *out, size_t n, uint64_t centered);
void hers_rns_scale_avx2(const hers_rns_scaler *s, const struct scaler_priv *sp, const uint64_t *in,
                         uint64_t *out, size_t n);
/* Relinearisation digits: out[x] = centred(in[x] mod qi) mod qj for
 * in[x] in [0, qi), when qi / 2 < 2 qj and both are < 2^63; n a multiple of
 * 4. Same values as the scalar loop of mul.c. */
void hers_rns_lift_centred_avx2(const uint64_t *in, uint64_t *out, size_t n, uint64_t qi, uint64_t qj);

#endif
