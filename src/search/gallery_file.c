/*
 * gallery_file.c - the gallery file (docs/formats.md, "Gallery file"):
 *
 *   off  size  field
 *   0    8     magic "HERSGAL\0"
 *   8    4     version (2; 1 is read: see the trailer and kind 1)
 *   12   4     mode: 0 both-encrypted, 1 plain-gallery
 *   16   32    parameter-set id (hers_params_id)
 *   48   4     N
 *   52   4     k (ciphertext primes)
 *   56   8     t
 *   64   128   q_0 .. q_15 (u64 each; entries >= k are 0)
 *   192  4     kind: 0 plain int16, 1 seed-compressed (secret key), 2 public key
 *   196  4     d (1..1024)
 *   200  8     n (1..2^32)
 *   208  4     scale (1..32767)
 *   212  4     packing: 0 slot (template x in slot x), 1 coefficient
 *              (template x in coefficient x); was reserved (0) before
 *   216  8     R: bytes per record
 *   224  8     I: bytes of the id table
 *   232  I     ids: n NUL-terminated strings (1..255 bytes, no tab/CR/LF)
 *   ...  B*d*R records (block b, dimension i) at (b*d + i)*R, B = ceil(n/N):
 *              kind 1: 32-byte seed, then c0 (NTT form) bit-packed prime by
 *                      prime, ceil(log2 q_j) bits per residue, LSB first
 *              kind 2: c0 then c1, packed the same way
 *              kind 0: N int16 LE values (slot x = template b*N + x)
 *   end  32    version 2: CRC-32 (zlib) of every preceding byte, LE, then
 *              28 zero bytes; version 1: BLAKE2b-256 of every preceding byte
 * Kind 1's c1 is expanded from the seed with AES-256-CTR (version 2) or
 * ChaCha20 (version 1): hers_expand_uniform.
 * All integers little-endian.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "core/atomic_file.h"
#include "hers/hers_mem.h"
#include "search/search_internal.h"
#include "search/search_merge.h"

#define GAL_MAGIC "HERSGAL"
#define GAL_VERSION HERS_GALLERY_FILE_VERSION
#define GAL_HEADER 232

static void header_write(const hers_gallery *g, uint8_t h[GAL_HEADER])
{
    memset(h, 0, GAL_HEADER);
    memcpy(h, GAL_MAGIC, 8);
    hers_le_put_u32(h + 8, g->version);
    hers_le_put_u32(h + 12, (uint32_t)g->mode);
    memcpy(h + 16, g->params_id, HERS_PARAMS_ID_BYTES);
    hers_le_put_u32(h + 48, (uint32_t)g->N);
    hers_le_put_u32(h + 52, (uint32_t)g->k);
    hers_le_put_u64(h + 56, g->t);
    for (size_t j = 0; j < g->k; j++)
        hers_le_put_u64(h + 64 + 8 * j, g->primes[j]);
    hers_le_put_u32(h + 192, (uint32_t)g->kind);
    hers_le_put_u32(h + 196, (uint32_t)g->d);
    hers_le_put_u64(h + 200, g->n);
    hers_le_put_u32(h + 208, g->scale);
    hers_le_put_u32(h + 212, (uint32_t)g->packing);
    hers_le_put_u64(h + 216, g->rec_bytes);
    hers_le_put_u64(h + 224, g->ids_bytes);
}

static uint64_t total_size(const hers_gallery *g)
{
    return GAL_HEADER + g->ids_bytes + hers_gallery_payload_bytes(g) + SE_CHECKSUM_BYTES;
}

hers_status hers_gallery_serialize(const hers_params *p, const hers_gallery *g, uint8_t **buf,
                                   size_t *len)
{
    if (!p || !g || !buf || !len)
        return hers_error(HERS_ERR_ARG, "gallery serialize: NULL argument");
    *buf = NULL;
    *len = 0;
    hers_status st = hers_search_check_id(p, g->params_id, "gallery serialize");
    if (st != HERS_OK)
        return st;
    uint64_t total = total_size(g);
    uint8_t *b = hers_alloc(total);
    if (!b)
        return hers_error(HERS_ERR_NOMEM, "gallery serialize: out of memory (%llu bytes)",
                          (unsigned long long)total);
    header_write(g, b);
    memcpy(b + GAL_HEADER, g->ids, g->ids_bytes);
    memcpy(b + GAL_HEADER + g->ids_bytes, g->recs, hers_gallery_payload_bytes(g));
    gal_checksum(g->version, b, total - SE_CHECKSUM_BYTES, b + total - SE_CHECKSUM_BYTES);
    *buf = b;
    *len = total;
    return HERS_OK;
}

/* Bytes of the default id table "0".."n-1". */
static size_t default_ids_bytes(size_t n)
{
    size_t bytes = 0;
    for (size_t lo = 0, lim = 10, digits = 1; lo < n; lo = lim, lim *= 10, digits++)
        bytes += ((n < lim ? n : lim) - lo) * (digits + 1);
    return bytes;
}

hers_status hers_gallery_enroll_record(const hers_params *p, const hers_secret_key *sk,
                                       const hers_public_key *pk, const int32_t *values, size_t n,
                                       size_t d, const hers_enroll_opts *opts, uint8_t **buf,
                                       size_t *cap, size_t *len)
{
    if (!p || !buf || !cap || !len || !opts || n == 0 || n > HERS_SEARCH_MAX_N || d == 0 ||
        d > HERS_SEARCH_MAX_D)
        return hers_error(HERS_ERR_ARG, "enroll record: invalid argument");
    gal_kind kind = opts->mode == HERS_MODE_PLAIN_GALLERY ? GAL_PLAIN
                    : sk                                  ? GAL_SEEDED
                                                          : GAL_PUBLIC;
    size_t N = hers_params_n(p), ids = default_ids_bytes(n), blocks = (n + N - 1) / N;
    size_t total = GAL_HEADER + ids + blocks * d * gal_rec_bytes(p, kind) + SE_CHECKSUM_BYTES;
    if (*cap < total) {
        uint8_t *nb = hers_alloc(total);
        if (!nb)
            return hers_error(HERS_ERR_NOMEM, "enroll record: out of memory (%zu bytes)", total);
        hers_free(*buf);
        *buf = nb;
        *cap = total;
    }
    hers_gallery *g = NULL;
    hers_status st = gal_enroll(p, sk, pk, values, n, d, opts, *buf + GAL_HEADER + ids, &g);
    if (st != HERS_OK)
        return st;
    if (g->ids_bytes != ids || total_size(g) != total) {   /* cannot happen */
        g->recs = NULL;
        hers_gallery_free(g);
        return hers_error(HERS_ERR_INTERNAL, "enroll record: size mismatch");
    }
    header_write(g, *buf);
    memcpy(*buf + GAL_HEADER, g->ids, ids);
    g->recs = NULL;   /* borrowed */
    hers_gallery_free(g);
    *len = total;
    return HERS_OK;
}

void hers_gallery_record_seal(uint8_t *buf, size_t len)
{
    gal_checksum(hers_le_get_u32(buf + 8), buf, len - SE_CHECKSUM_BYTES,
                 buf + len - SE_CHECKSUM_BYTES);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates the id table (n NUL-terminated valid distinct ids, exactly
 * `bytes` bytes) and fills g->ids / id_off. */
static hers_status ids_parse(hers_gallery *g, const uint8_t *in, size_t bytes)
{
    g->ids = hers_alloc(bytes);
    g->id_off = hers_alloc_array(g->n, sizeof *g->id_off);
    const char **sorted = hers_alloc_array(g->n, sizeof *sorted);
    hers_status st = HERS_OK;
    if (!g->ids || !g->id_off || !sorted) {
        st = hers_error(HERS_ERR_NOMEM, "gallery: out of memory for the ids");
        goto out;
    }
    memcpy(g->ids, in, bytes);
    g->ids_bytes = bytes;
    size_t o = 0;
    for (size_t i = 0; i < g->n; i++) {
        const char *s = g->ids + o;
        const char *z = memchr(s, '\0', bytes - o);
        if (!z) {
            st = hers_error(HERS_ERR_FORMAT, "gallery: id table ends inside id %zu", i);
            goto out;
        }
        size_t l = (size_t)(z - s);
        if (!gal_id_valid(s, l)) {
            st = hers_error(HERS_ERR_FORMAT, "gallery: id %zu is empty, too long or has a tab/line break", i);
            goto out;
        }
        g->id_off[i] = o;
        sorted[i] = s;
        o += l + 1;
    }
    if (o != bytes) {
        st = hers_error(HERS_ERR_FORMAT, "gallery: %zu trailing bytes in the id table", bytes - o);
        goto out;
    }
    qsort(sorted, g->n, sizeof *sorted, cmp_cstr);
    for (size_t i = 1; i < g->n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            st = hers_error(HERS_ERR_FORMAT, "gallery: duplicate id '%s'", sorted[i]);
            goto out;
        }
out:
    hers_free(sorted);
    return st;
}

/* Checks every record: residues < q_j; plain values within [-s, s], empty
 * slots 0, row norms within the quantisation bound. */
static hers_status records_check(const hers_params *p, const hers_gallery *g)
{
    size_t N = hers_params_n(p);
    if (g->kind == GAL_PLAIN) {
        uint64_t bound = hers_quant_score_bound(g->d, g->scale);
        uint64_t *norm = hers_alloc_array(N, sizeof *norm);
        if (!norm)
            return hers_error(HERS_ERR_NOMEM, "gallery: out of memory");
        hers_status st = HERS_OK;
        for (size_t b = 0; b < g->blocks && st == HERS_OK; b++) {
            size_t count = g->n - b * N < N ? g->n - b * N : N;
            memset(norm, 0, N * sizeof *norm);
            for (size_t i = 0; i < g->d && st == HERS_OK; i++) {
                const uint8_t *rec = g->recs + (b * g->d + i) * g->rec_bytes;
                for (size_t x = 0; x < N; x++) {
                    int64_t v = (int16_t)(uint16_t)(rec[2 * x] | (rec[2 * x + 1] << 8));
                    if ((x >= count && v != 0) || v > (int64_t)g->scale || v < -(int64_t)g->scale) {
                        st = hers_error(HERS_ERR_FORMAT, "gallery: plain value out of range (block %zu, dimension %zu)", b, i);
                        break;
                    }
                    norm[x] += (uint64_t)(v * v);
                }
            }
            for (size_t x = 0; x < count && st == HERS_OK; x++)
                if (norm[x] > bound)
                    st = hers_error(HERS_ERR_FORMAT, "gallery: template %zu exceeds the norm bound", b * N + x);
        }
        hers_free(norm);
        return st;
    }
    size_t k = hers_params_num_primes(p);
    uint64_t *poly = hers_alloc_array(k * N, sizeof *poly);
    if (!poly)
        return hers_error(HERS_ERR_NOMEM, "gallery: out of memory");
    size_t pb = se_poly_bytes(p, k);
    int ok = 1;
    for (size_t r = 0; r < g->blocks * g->d && ok; r++) {
        const uint8_t *rec = g->recs + r * g->rec_bytes;
        if (g->kind == GAL_SEEDED)
            ok = se_unpack_poly(p, rec + HERS_SEED_BYTES, k, poly);
        else
            ok = se_unpack_poly(p, rec, k, poly) && se_unpack_poly(p, rec + pb, k, poly);
    }
    hers_free(poly);
    if (!ok)
        return hers_error(HERS_ERR_FORMAT, "gallery: a residue is not below its prime");
    return HERS_OK;
}

hers_status hers_gallery_deserialize(const hers_params *p, const void *vbuf, size_t len,
                                     hers_gallery **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "gallery: out is NULL");
    *out = NULL;
    const uint8_t *b = vbuf;
    if (!p || (!b && len))
        return hers_error(HERS_ERR_ARG, "gallery: NULL argument");
    if (len < GAL_HEADER + SE_CHECKSUM_BYTES)
        return hers_error(HERS_ERR_FORMAT, "gallery: truncated (%zu bytes, header needs %d)", len,
                          GAL_HEADER + SE_CHECKSUM_BYTES);
    if (memcmp(b, GAL_MAGIC, 8) != 0)
        return hers_error(HERS_ERR_FORMAT, "gallery: bad magic (not a hers gallery file)");
    uint32_t version = hers_le_get_u32(b + 8);
    if (version < 1 || version > GAL_VERSION)
        return hers_error(HERS_ERR_VERSION, "gallery: unsupported format version %u", version);
    if (memcmp(b + 16, hers_params_id(p), HERS_PARAMS_ID_BYTES) != 0)
        return hers_error(HERS_ERR_MISMATCH, "gallery: enrolled with another parameter set");
    size_t N = hers_params_n(p), k = hers_params_num_primes(p);
    if (hers_le_get_u32(b + 48) != N || hers_le_get_u32(b + 52) != k || hers_le_get_u64(b + 56) != hers_params_t(p))
        return hers_error(HERS_ERR_MISMATCH, "gallery: N, k or t differ from the parameters");
    for (size_t j = 0; j < HERS_MAX_PRIMES; j++)
        if (hers_le_get_u64(b + 64 + 8 * j) != hers_params_prime(p, j)) /* 0 for j >= k */
            return hers_error(HERS_ERR_MISMATCH, "gallery: prime %zu differs from the parameters", j);
    uint32_t mode = hers_le_get_u32(b + 12), kind = hers_le_get_u32(b + 192), d = hers_le_get_u32(b + 196);
    uint32_t scale = hers_le_get_u32(b + 208), packing = hers_le_get_u32(b + 212);
    uint64_t n = hers_le_get_u64(b + 200), R = hers_le_get_u64(b + 216), I = hers_le_get_u64(b + 224);
    if (mode > 1 || kind > 2 || (mode == HERS_MODE_PLAIN_GALLERY) != (kind == GAL_PLAIN))
        return hers_error(HERS_ERR_FORMAT, "gallery: bad mode %u / kind %u", mode, kind);
    if (packing > HERS_PACK_COEFF)
        return hers_error(HERS_ERR_FORMAT, "gallery: packing %u unknown (0 slot, 1 coefficient)",
                          packing);
    if (d == 0 || d > HERS_SEARCH_MAX_D || n == 0 || n > HERS_SEARCH_MAX_N || scale == 0 ||
        scale > HERS_QUANT_MAX_SCALE)
        return hers_error(HERS_ERR_FORMAT, "gallery: d = %u, n = %llu or scale = %u out of range", d,
                          (unsigned long long)n, scale);
    if (R != gal_rec_bytes(p, (gal_kind)kind))
        return hers_error(HERS_ERR_FORMAT, "gallery: record size %llu, expected %zu",
                          (unsigned long long)R, gal_rec_bytes(p, (gal_kind)kind));
    if (I < 2 * n || I > (HERS_SEARCH_MAX_ID + 1) * n)
        return hers_error(HERS_ERR_FORMAT, "gallery: id table size %llu impossible for %llu ids",
                          (unsigned long long)I, (unsigned long long)n);
    uint64_t blocks = (n + N - 1) / N;
    /* blocks <= 2^32, d <= 2^10, R < 2^20: the product fits 64 bits */
    uint64_t want = GAL_HEADER + I + blocks * d * R + SE_CHECKSUM_BYTES;
    if (want != len)
        return hers_error(HERS_ERR_FORMAT, "gallery: %zu bytes, the header implies %llu (truncated or trailing data)",
                          len, (unsigned long long)want);
    if (!gal_checksum_ok(version, b, len))
        return hers_error(HERS_ERR_CHECKSUM, "gallery: checksum mismatch (corrupted file)");
    hers_status st = hers_search_check_params(p, (hers_search_mode)mode);
    if (st == HERS_OK)
        st = hers_quant_check(d, scale, hers_params_t(p));
    if (st != HERS_OK)
        return st;
    /* blocks and R were checked against what gal_new derives */
    hers_gallery *g = gal_new(p, (hers_search_mode)mode, (gal_kind)kind, n, d, scale);
    if (!g)
        return hers_error(HERS_ERR_NOMEM, "gallery: out of memory");
    g->version = version;
    g->packing = (hers_packing)packing;
    if ((st = ids_parse(g, b + GAL_HEADER, I)) == HERS_OK) {
        g->recs = hers_alloc(blocks * d * R);
        if (!g->recs)
            st = hers_error(HERS_ERR_NOMEM, "gallery: out of memory for %llu bytes",
                            (unsigned long long)(blocks * d * R));
        else {
            memcpy(g->recs, b + GAL_HEADER + I, blocks * d * R);
            st = records_check(p, g);
        }
    }
    if (st != HERS_OK) {
        hers_gallery_free(g);
        return st;
    }
    *out = g;
    return HERS_OK;
}

/* ------------------------------------------------------------ files */

/* The trailer of a streamed write, by format version (gal_checksum). */
typedef struct trailer {
    uint32_t version;
    crypto_generichash_state blake;
    uLong crc;
} trailer;

/* Appends buf to the file and to the checksum (if h). */
static void write_hashed(hers_atomic_file *af, const void *buf, size_t len, trailer *h)
{
    if (h && h->version < 2) {
        crypto_generichash_update(&h->blake, buf, len);
    } else if (h) {
        for (size_t o = 0; o < len;) {
            uInt part = len - o > (1u << 30) ? (1u << 30) : (uInt)(len - o);
            h->crc = crc32(h->crc, (const Bytef *)buf + o, part);
            o += part;
        }
    }
    hers_atomic_write(af, buf, len);
}

hers_status hers_gallery_write(const char *path, const hers_params *p, const hers_gallery *g)
{
    if (!path || !p || !g)
        return hers_error(HERS_ERR_ARG, "gallery write: NULL argument");
    hers_status st = hers_search_check_id(p, g->params_id, "gallery write");
    if (st != HERS_OK)
        return st;
    hers_atomic_file af;
    if ((st = hers_atomic_open(&af, path, 0644)) != HERS_OK)
        return st;
    uint8_t h[GAL_HEADER], sum[SE_CHECKSUM_BYTES];
    header_write(g, h);
    trailer hs;
    hs.version = g->version;
    hs.crc = crc32(0L, Z_NULL, 0);
    crypto_generichash_init(&hs.blake, NULL, 0, SE_CHECKSUM_BYTES);
    write_hashed(&af, h, sizeof h, &hs);
    write_hashed(&af, g->ids, g->ids_bytes, &hs);
    write_hashed(&af, g->recs, hers_gallery_payload_bytes(g), &hs);
    memset(sum, 0, sizeof sum);
    if (hs.version < 2)
        crypto_generichash_final(&hs.blake, sum, sizeof sum);
    else
        hers_le_put_u32(sum, (uint32_t)hs.crc);
    write_hashed(&af, sum, sizeof sum, NULL);
    return hers_atomic_commit(&af);
}

hers_status hers_gallery_read(const char *path, const hers_params *p, hers_gallery **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "gallery read: out is NULL");
    *out = NULL;
    if (!path || !p)
        return hers_error(HERS_ERR_ARG, "gallery read: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return hers_error(HERS_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < GAL_HEADER + SE_CHECKSUM_BYTES) {
        close(fd);
        return hers_error(HERS_ERR_FORMAT, "%s: truncated gallery file (%zu bytes)", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return hers_error(HERS_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    hers_status st = hers_gallery_deserialize(p, map, len, out);
    munmap(map, len);
    if (st != HERS_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hers_last_error());
        return hers_error(st, "%s: %s", path, msg);
    }
    return HERS_OK;
}
