/* common.c - shared checks, mode names and bit-packing of the search layer. */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "hers/hers_mem.h"
#include "hers/hers_quant.h"

#include "core/crc32.h"
#include "search/search_internal.h"

const char *hers_search_mode_name(hers_search_mode m)
{
    return m == HERS_MODE_PLAIN_GALLERY ? "plain-gallery" : "both-encrypted";
}

hers_status hers_search_mode_parse(const char *s, hers_search_mode *out)
{
    if (s && !strcmp(s, "both-encrypted")) {
        *out = HERS_MODE_BOTH_ENCRYPTED;
        return HERS_OK;
    }
    if (s && !strcmp(s, "plain-gallery")) {
        *out = HERS_MODE_PLAIN_GALLERY;
        return HERS_OK;
    }
    return hers_error(HERS_ERR_ARG, "unknown search mode '%s' (both-encrypted, plain-gallery)",
                      s ? s : "(null)");
}

hers_status hers_search_check_params(const hers_params *p, hers_search_mode mode)
{
    if (!p)
        return hers_error(HERS_ERR_ARG, "search: params is NULL");
    if (!hers_params_can_batch(p))
        return hers_error(HERS_ERR_PARAMS,
                          "search: the parameter set cannot batch (t = %llu must be a prime = 1 mod 2N)",
                          (unsigned long long)hers_params_t(p));
    size_t N = hers_params_n(p), k = hers_params_num_primes(p);
    if (N % HERS_TILE != 0)
        return hers_error(HERS_ERR_PARAMS, "search: N = %zu is not a multiple of %d", N, HERS_TILE);
    for (size_t j = 0; j < k; j++)
        if (hers_params_prime(p, j) >= HERS_KERNEL_MAX_Q)
            return hers_error(HERS_ERR_PARAMS,
                              "search: prime q_%zu = %llu is not below 2^50 (the kernel's range)", j,
                              (unsigned long long)hers_params_prime(p, j));
    if (mode == HERS_MODE_BOTH_ENCRYPTED && !hers_params_q_one_mod_t(p))
        return hers_error(HERS_ERR_PARAMS,
                          "search: both-encrypted mode needs Q = 1 (mod t) (every named parameter set)");
    return HERS_OK;
}

size_t hers_search_result_primes(const hers_params *p)
{
    double need = log2((double)hers_params_t(p)) + HERS_RESULT_HEADROOM_BITS, have = 0;
    size_t k = hers_params_num_primes(p);
    for (size_t L = 1; L <= k; L++) {
        have += log2((double)hers_params_prime(p, L - 1));
        if (have >= need)
            return L;
    }
    return k;
}

hers_status hers_search_check_values(const int32_t *v, size_t rows, size_t d, uint32_t scale,
                                     const char *what)
{
    if (d == 0 || d > HERS_SEARCH_MAX_D)
        return hers_error(HERS_ERR_ARG, "%s: d = %zu outside 1..%d", what, d, HERS_SEARCH_MAX_D);
    if (scale == 0 || scale > HERS_QUANT_MAX_SCALE)
        return hers_error(HERS_ERR_ARG, "%s: scale %u outside 1..%u", what, scale,
                          HERS_QUANT_MAX_SCALE);
    uint64_t bound = hers_quant_score_bound(d, scale);
    for (size_t r = 0; r < rows; r++) {
        const int32_t *x = v + r * d;
        uint64_t n2 = 0;
        for (size_t i = 0; i < d; i++) {
            int64_t a = x[i];
            if (a < -(int64_t)scale || a > (int64_t)scale)
                return hers_error(HERS_ERR_ARG, "%s: row %zu component %zu = %lld outside [-%u, %u]",
                                  what, r, i, (long long)a, scale, scale);
            n2 += (uint64_t)(a * a);
        }
        if (n2 > bound)
            return hers_error(HERS_ERR_ARG,
                              "%s: row %zu has squared norm %llu > %llu, the bound for d = %zu, "
                              "scale %u (quantise unit vectors with hers_quant)",
                              what, r, (unsigned long long)n2, (unsigned long long)bound, d, scale);
    }
    return HERS_OK;
}

hers_status hers_search_check_id(const hers_params *p, const uint8_t *id, const char *what)
{
    if (memcmp(id, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        return hers_error(HERS_ERR_MISMATCH, "%s: made with another parameter set", what);
    return HERS_OK;
}

hers_status hers_search_check_key(const hers_params *p, const uint8_t *key_id, const char *what)
{
    if (!hers_consttime_equal(hers_params_id(p), key_id, HERS_PARAMS_ID_BYTES))
        return hers_error(HERS_ERR_MISMATCH, "%s belongs to a different parameter set", what);
    return HERS_OK;
}


/* ------------------------------------------------------------ records */

void se_checksum(const uint8_t *buf, size_t len, uint8_t out[SE_CHECKSUM_BYTES])
{
    crypto_generichash(out, SE_CHECKSUM_BYTES, buf, len, NULL, 0);
}

int se_checksum_ok(const uint8_t *buf, size_t len)
{
    if (len < SE_CHECKSUM_BYTES)
        return 0;
    uint8_t sum[SE_CHECKSUM_BYTES];
    se_checksum(buf, len - SE_CHECKSUM_BYTES, sum);
    return hers_consttime_equal(sum, buf + len - SE_CHECKSUM_BYTES, SE_CHECKSUM_BYTES);
}

void gal_checksum(uint32_t version, const uint8_t *buf, size_t len,
                  uint8_t out[SE_CHECKSUM_BYTES])
{
    if (version < 2) {
        se_checksum(buf, len, out);
        return;
    }
    memset(out, 0, SE_CHECKSUM_BYTES);
    hers_le_put_u32(out, hers_crc32(0, buf, len));   /* zlib's CRC-32, folded with CLMUL */
}

int gal_checksum_ok(uint32_t version, const uint8_t *buf, size_t len)
{
    if (len < SE_CHECKSUM_BYTES)
        return 0;
    uint8_t sum[SE_CHECKSUM_BYTES];
    gal_checksum(version, buf, len - SE_CHECKSUM_BYTES, sum);
    return memcmp(sum, buf + len - SE_CHECKSUM_BYTES, SE_CHECKSUM_BYTES) == 0;
}

size_t se_poly_bytes(const hers_params *p, size_t num_primes)
{
    size_t b = 0, N = hers_params_n(p);
    for (size_t j = 0; j < num_primes; j++)
        b += N / 8 * (size_t)hers_bitlen(hers_params_prime(p, j) - 1);
    return b;
}

uint8_t *se_pack_poly(const hers_params *p, const uint64_t *poly, size_t num_primes, uint8_t *out)
{
    size_t N = hers_params_n(p);
    for (size_t j = 0; j < num_primes; j++) {
        int bits = hers_bitlen(hers_params_prime(p, j) - 1);
        se_pack(out, poly + j * N, N, bits);
        out += N / 8 * (size_t)bits;
    }
    return out;
}

int se_unpack_poly(const hers_params *p, const uint8_t *in, size_t num_primes, uint64_t *poly)
{
    int ok = 1;
    size_t N = hers_params_n(p);
    for (size_t j = 0; j < num_primes; j++) {
        uint64_t q = hers_params_prime(p, j);
        int bits = hers_bitlen(q - 1);
        ok &= hers_bitunpack(poly + j * N, in, N, bits, q);
        in += N / 8 * (size_t)bits;
    }
    return ok;
}

/* ------------------------------------------------------------ noise bound */

/* Fresh-encryption noise of the BFV layer (src/bfv/encrypt.c): e, e0, e1
 * centred binomial with eta = 21 (|e| <= 21, variance 21/2); u and s
 * uniform ternary (variance 2/3). Secret-key: c0 + c1 s = Delta m + e.
 * Public-key: Delta m + u e_pk + e0 + e1 s. */
#define CBD_ETA 21.0
static void fresh_noise(double N, int pub, double *bound, double *var)
{
    double v = CBD_ETA / 2;
    *bound = pub ? CBD_ETA * (2 * N + 1) : CBD_ETA;
    *var = pub ? v * (1 + 4 * N / 3) : v;
}

hers_status hers_search_noise_bound_probe(const hers_params *p, hers_search_mode mode, size_t d,
                                          int gallery_public, double b2, double v2,
                                          double *worst_bits, double *heuristic_bits)
{
    if (!p || !worst_bits || !heuristic_bits)
        return hers_error(HERS_ERR_ARG, "noise bound: NULL argument");
    if (d == 0 || d > HERS_SEARCH_MAX_D)
        return hers_error(HERS_ERR_ARG, "noise bound: d = %zu outside 1..%d", d, HERS_SEARCH_MAX_D);
    double N = (double)hers_params_n(p), t = (double)hers_params_t(p), D = (double)d;
    double b1, v1;
    fresh_noise(N, gallery_public, &b1, &v1);
    double worst, sd, det;
    if (mode == HERS_MODE_BOTH_ENCRYPTED) {
        /* per dimension (-m1 + t e1)(-m2 + t e2), m1 the gallery plaintext
         * (coefficients in [0, t)), m2 = p_i a constant in [0, t):
         *   |m1 m2| <= t^2, |t m1 e2| <= N t^2 b2, |t m2 e1| <= t^2 b1,
         *   |t^2 e1 e2| <= N t^2 b1 b2. */
        worst = D * t * t * (1 + N * b2 + b1 + N * b1 * b2);
        double var = t * t * t * t * N * v1 * v2 + t * t * N * (t * t / 3) * v2 + t * t * t * t * v1;
        sd = sqrt(D * var);
        det = D * t * t;
    } else {
        /* BFV ct x pt, per dimension: (Delta m2 + e2) g with g the gallery
         * plaintext lifted to |g| <= t/2; the noise is e2 g - k with
         * m2 g = [m2 g]_t + t k, |k| <= t/2; hers_noise_budget measures
         * t * noise: |t e2 g| <= N t^2 b2 / 2. */
        worst = D * (N * t * t * b2 / 2 + t * t / 2);
        sd = sqrt(D * t * t * N * v2 * (t * t / 12));
        det = D * t * t / 2;
    }
    double half_q = hers_params_log_q(p) - 1;
    *worst_bits = half_q - log2(worst);
    *heuristic_bits = half_q - log2(6 * sd + det);
    return HERS_OK;
}

hers_status hers_search_noise_bound(const hers_params *p, hers_search_mode mode, size_t d,
                                    int gallery_public, int probe_public, double *worst_bits,
                                    double *heuristic_bits)
{
    if (!p)
        return hers_error(HERS_ERR_ARG, "noise bound: NULL argument");
    double b2, v2;
    fresh_noise((double)hers_params_n(p), probe_public, &b2, &v2);
    return hers_search_noise_bound_probe(p, mode, d, gallery_public, b2, v2, worst_bits,
                                         heuristic_bits);
}

const char *hers_id_problem(const char *id, size_t len)
{
    if (!id || len == 0)
        return "empty";
    if (len > HERS_SEARCH_MAX_ID)
        return "longer than 255 bytes";
    const unsigned char *s = (const unsigned char *)id;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c < 0x20 || c == 0x7f)
            return "control character";
        if (c < 0x80) {
            i++;
            continue;
        }
        /* lead byte: length and the smallest code point of that length */
        size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (n == 0 || i + n > len)
            return "invalid UTF-8";
        uint32_t cp = c & (0x7fu >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return "invalid UTF-8";
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return "invalid UTF-8";
        i += n;
    }
    return NULL;
}
