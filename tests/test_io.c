/* test_io.c - vector / label file formats (round trips, malformed input),
 * IDX with gzip, Fashion-MNIST (if installed) and the synthetic generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_synth.h"
#include "support/check.h"

static char tmpdir[64];
static int quick;

static const char *tpath(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(p, 1, n, f) == n);
        fclose(f);
    }
}

static void random_matrix(hers_matrix *m, size_t r, size_t c)
{
    CHECK_OK(hers_matrix_alloc(m, r, c));
    for (size_t i = 0; i < r * c; i++)
        m->data[i] = (float)((double)(test_rand() % 2000001) / 1000000.0 - 1.0);
}

static int same_matrix(const hers_matrix *a, const hers_matrix *b)
{
    return a->rows == b->rows && a->cols == b->cols &&
           (a->rows * a->cols == 0 || !memcmp(a->data, b->data, a->rows * a->cols * 4));
}

/* A hand-made .npy: magic, version, header text (padded with spaces and a
 * newline to a multiple of 16), then data. */
static size_t make_npy(uint8_t *out, int major, const char *dict, const void *data, size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 15) / 16 * 16;
    size_t hlen = total - pre;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    if (major == 1) {
        out[8] = (uint8_t)hlen;
        out[9] = (uint8_t)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            out[8 + i] = (uint8_t)(hlen >> (8 * i));
    }
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hlen - dl - 1);
    out[total - 1] = '\n';
    if (dlen)
        memcpy(out + total, data, dlen);
    return total + dlen;
}

static hers_status npy_try(int major, const char *dict, const void *data, size_t dlen,
                           hers_matrix *m)
{
    static uint8_t buf[1 << 16];
    size_t n = make_npy(buf, major, dict, data, dlen);
    return hers_npy_parse(buf, n, m);
}

static hers_status npy_try_labels(const char *dict, const void *data, size_t dlen,
                                  hers_labels *l)
{
    static uint8_t buf[1 << 16];
    size_t n = make_npy(buf, 1, dict, data, dlen);
    return hers_npy_parse_labels(buf, n, l);
}

static void test_npy(void)
{
    hers_matrix a, b;
    random_matrix(&a, 7, 5);
    uint8_t *buf;
    size_t len;
    CHECK_OK(hers_npy_encode(&a, &buf, &len));
    CHECK((len - 7 * 5 * 4) % 64 == 0);
    CHECK_OK(hers_npy_parse(buf, len, &b));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&b);
    /* Every truncation fails cleanly; a trailing byte too. */
    int all_fail = 1;
    for (size_t k = 0; k < len; k++) {
        if (hers_npy_parse(buf, k, &b) != HERS_ERR_FORMAT)
            all_fail = 0;
        CHECK(b.data == NULL && b.rows == 0);
    }
    CHECK(all_fail);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    CHECK(hers_npy_parse(longer, len + 1, &b) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "trailing") || strstr(hers_last_error(), "bytes follow"));
    free(longer);
    hers_free(buf);

    /* Files: hers_npy_write / hers_matrix_read; no temporary left over. */
    CHECK_OK(hers_npy_write(tpath("a.npy"), &a));
    CHECK_OK(hers_matrix_read(tpath("a.npy"), &b));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&b);
    CHECK(access(tpath("a.npy.tmp"), F_OK) != 0);
    /* Unknown extension: detected by magic. */
    CHECK_OK(hers_npy_write(tpath("a.npy"), &a));
    rename(tpath("a.npy"), tpath("a.dat"));
    CHECK_OK(hers_matrix_read(tpath("a.dat"), &b));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&b);

    /* dtypes, versions, key order, quoting, shapes. */
    const float f4[6] = {1, 2, 3, 4, 5, 6};
    const double f8[6] = {1.5, -2, 3, 4, 5, 6.25};
    const uint8_t u1[6] = {0, 1, 2, 128, 254, 255};
    const int16_t i2[6] = {-1, 2, -300, 4, 5, 32767};
    CHECK_OK(npy_try(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4, 24, &b));
    CHECK(b.rows == 2 && b.cols == 3 && b.data[5] == 6.0f);
    hers_matrix_free(&b);
    CHECK_OK(npy_try(2, "{'shape': (3, 2), 'descr': '<f8', 'fortran_order': False}", f8, 48, &b));
    CHECK(b.rows == 3 && b.cols == 2 && b.data[0] == 1.5f && b.data[5] == 6.25f);
    hers_matrix_free(&b);
    CHECK_OK(npy_try(3, "{\"fortran_order\": False, \"shape\": (6,), \"descr\": \"|u1\"}", u1, 6,
                     &b));
    CHECK(b.rows == 6 && b.cols == 1 && b.data[5] == 255.0f && b.data[3] == 128.0f);
    hers_matrix_free(&b);
    CHECK_OK(npy_try(1, "{'descr':'<i2','fortran_order':False,'shape':(1,2,3)}", i2, 12, &b));
    CHECK(b.rows == 1 && b.cols == 6 && b.data[2] == -300.0f && b.data[5] == 32767.0f);
    hers_matrix_free(&b);
    CHECK_OK(npy_try(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", NULL, 0,
                     &b));
    CHECK(b.rows == 0 && b.cols == 3);
    hers_matrix_free(&b);
    /* 1-D fortran order is the same layout: accepted. */
    CHECK_OK(npy_try(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }", f4, 24, &b));
    hers_matrix_free(&b);

    /* Malformed headers. */
    static const struct {
        int major;
        const char *dict;
        size_t dlen;
        hers_status want;
    } bad[] = {
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 0), }", 0, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
         24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 1), }", 24,
         HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }",
         24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2097152), }", 24,
         HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (2, 3)}", 24,
         HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'shape': (2, 3), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24,
         HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3), }", 24, HERS_ERR_FORMAT},
        {1, "['descr', '<f4']", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3), }", 24, HERS_ERR_FORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, HERS_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hers_status st = npy_try(bad[i].major, bad[i].dict, f4, bad[i].dlen, &b);
        if (st != bad[i].want)
            fprintf(stderr, "  case %zu: got %s (%s)\n", i, hers_status_name(st),
                    hers_last_error());
        CHECK(st == bad[i].want);
        CHECK(b.data == NULL);
    }
    /* Values: NaN and float32 overflow are rejected. */
    const float nanv[2] = {1.0f, NAN};
    CHECK(npy_try(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", nanv, 8,
                  &b) == HERS_ERR_FORMAT);
    const double huge[1] = {1e300};
    CHECK(npy_try(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", huge, 8,
                  &b) == HERS_ERR_FORMAT);
    /* Preamble errors: magic, version, header length beyond the file. */
    uint8_t pre[128];
    size_t n = make_npy(pre, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1), }",
                        NULL, 0);
    CHECK_OK(hers_npy_parse(pre, n, &b));
    hers_matrix_free(&b);
    pre[1] = 'X';
    CHECK(hers_npy_parse(pre, n, &b) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "magic") != NULL);
    pre[1] = 'N';
    pre[6] = 4;
    CHECK(hers_npy_parse(pre, n, &b) == HERS_ERR_VERSION);
    pre[6] = 1;
    pre[7] = 1;
    CHECK(hers_npy_parse(pre, n, &b) == HERS_ERR_VERSION);
    pre[7] = 0;
    pre[9] = 0xff;
    CHECK(hers_npy_parse(pre, n, &b) == HERS_ERR_FORMAT);
    CHECK(hers_npy_parse(NULL, 0, &b) == HERS_ERR_FORMAT);

    /* Labels: integer dtypes of every width, shape rules, range. */
    hers_labels l;
    const int64_t i8[3] = {-5, 0, 2147483647};
    CHECK_OK(npy_try_labels("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i8, 24,
                            &l));
    CHECK(l.count == 3 && l.data[0] == -5 && l.data[2] == 2147483647);
    hers_labels_free(&l);
    CHECK_OK(npy_try_labels("{'descr': '|u1', 'fortran_order': False, 'shape': (6, 1), }", u1, 6,
                            &l));
    CHECK(l.count == 6 && l.data[5] == 255);
    hers_labels_free(&l);
    const uint32_t u4[2] = {7, 0x80000000u};
    CHECK(npy_try_labels("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", u4, 8,
                         &l) == HERS_ERR_FORMAT);
    const uint64_t u8big[1] = {~0ull};
    CHECK(npy_try_labels("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", u8big, 8,
                         &l) == HERS_ERR_FORMAT);
    CHECK(npy_try_labels("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f4, 24,
                         &l) == HERS_ERR_FORMAT);
    CHECK(npy_try_labels("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", i2, 12,
                         &l) == HERS_ERR_FORMAT);
    CHECK(l.data == NULL);

    /* Labels round trips: .npy and text; hers_labels_read detects the format. */
    hers_labels w;
    CHECK_OK(hers_labels_alloc(&w, 5));
    const int32_t vals[5] = {3, -1, 0, 2147483647, -2147483647 - 1};
    memcpy(w.data, vals, sizeof vals);
    CHECK_OK(hers_labels_write(tpath("l.npy"), &w));
    CHECK_OK(hers_labels_read(tpath("l.npy"), &l));
    CHECK(l.count == 5 && !memcmp(l.data, vals, sizeof vals));
    hers_labels_free(&l);
    CHECK_OK(hers_labels_write(tpath("l.txt"), &w));
    CHECK_OK(hers_labels_read(tpath("l.txt"), &l));
    CHECK(l.count == 5 && !memcmp(l.data, vals, sizeof vals));
    hers_labels_free(&l);
    CHECK_OK(hers_npy_encode_labels(&w, &buf, &len));
    CHECK_OK(hers_labels_parse(buf, len, &l));
    CHECK(l.count == 5 && !memcmp(l.data, vals, sizeof vals));
    hers_labels_free(&l);
    hers_free(buf);
    hers_labels_free(&w);
    hers_matrix_free(&a);
}

static void test_vecs(void)
{
    hers_matrix a, b;
    random_matrix(&a, 4, 3);
    uint8_t *buf;
    size_t len;
    CHECK_OK(hers_fvecs_encode(&a, &buf, &len));
    CHECK(len == 4 * 16);
    CHECK_OK(hers_fvecs_parse(buf, len, &b));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&b);
    int all_fail = 1;
    for (size_t k = 0; k < len; k++) {
        hers_status st = hers_fvecs_parse(buf, k, &b);
        if (k % 16 == 0 && k > 0) { /* whole records: valid, fewer rows */
            if (st != HERS_OK || b.rows != k / 16)
                all_fail = 0;
            hers_matrix_free(&b);
        } else if (st != HERS_ERR_FORMAT) {
            all_fail = 0;
        }
    }
    CHECK(all_fail);
    /* Record 3 with another dimension; dims 0, -1, 2^21. */
    buf[32] = 2;
    CHECK(hers_fvecs_parse(buf, len, &b) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "record 2") != NULL);
    buf[32] = 3;
    const int32_t baddims[3] = {0, -1, 1 << 21};
    for (int i = 0; i < 3; i++) {
        memcpy(buf, &baddims[i], 4);
        CHECK(hers_fvecs_parse(buf, len, &b) == HERS_ERR_FORMAT);
    }
    hers_free(buf);
    CHECK(hers_fvecs_parse("", 0, &b) == HERS_ERR_FORMAT);

    /* Files through the generic entry points. */
    CHECK_OK(hers_matrix_write(tpath("a.fvecs"), &a));
    CHECK_OK(hers_matrix_read(tpath("a.fvecs"), &b));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&b);
    CHECK_OK(hers_matrix_write(tpath("a.f32"), &a));
    CHECK_OK(hers_matrix_read_raw(tpath("a.f32"), 3, &b));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&b);
    CHECK(hers_matrix_read_raw(tpath("a.f32"), 5, &b) == HERS_ERR_FORMAT);
    CHECK(hers_matrix_read_raw(tpath("a.f32"), 0, &b) == HERS_ERR_ARG);
    CHECK(hers_matrix_read(tpath("a.f32"), &b) == HERS_ERR_ARG);
    CHECK(hers_matrix_write(tpath("a.xyz"), &a) == HERS_ERR_ARG);
    hers_matrix e = {0, 3, NULL};
    CHECK(hers_fvecs_write(tpath("e.fvecs"), &e) == HERS_ERR_ARG);
    a.data[4] = INFINITY;
    CHECK(hers_npy_write(tpath("inf.npy"), &a) == HERS_ERR_ARG);
    CHECK(access(tpath("inf.npy"), F_OK) != 0);
    hers_matrix_free(&a);

    /* bvecs and ivecs. */
    uint8_t bv[2 * 7];
    for (int r = 0; r < 2; r++) {
        int32_t d = 3;
        memcpy(bv + 7 * r, &d, 4);
        bv[7 * r + 4] = (uint8_t)(10 * r);
        bv[7 * r + 5] = 200;
        bv[7 * r + 6] = 255;
    }
    CHECK_OK(hers_bvecs_parse(bv, sizeof bv, &b));
    CHECK(b.rows == 2 && b.cols == 3 && b.data[3] == 10.0f && b.data[5] == 255.0f);
    hers_matrix_free(&b);
    CHECK(hers_bvecs_parse(bv, sizeof bv - 1, &b) == HERS_ERR_FORMAT);
    int32_t iv[2 * 3] = {2, 5, -7, 2, 1 << 25, 9};
    hers_imatrix im;
    CHECK_OK(hers_ivecs_parse(iv, sizeof iv, &im));
    CHECK(im.rows == 2 && im.cols == 2 && im.data[1] == -7 && im.data[2] == 1 << 25);
    hers_imatrix_free(&im);
    /* As float: 2^25 is not exact -> refused; 2^24 is fine. */
    CHECK(hers_matrix_parse(HERS_FMT_IVECS, iv, sizeof iv, 0, &b) == HERS_ERR_FORMAT);
    iv[4] = 1 << 24;
    CHECK_OK(hers_matrix_parse(HERS_FMT_IVECS, iv, sizeof iv, 0, &b));
    CHECK(b.data[2] == 16777216.0f);
    hers_matrix_free(&b);
    write_bytes(tpath("g.ivecs"), iv, sizeof iv);
    CHECK_OK(hers_ivecs_read(tpath("g.ivecs"), &im));
    CHECK(im.rows == 2 && im.data[3] == 9);
    hers_imatrix_free(&im);

    /* Raw in memory. */
    const float raw[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(hers_raw_parse(raw, 24, 2, &b));
    CHECK(b.rows == 3 && b.cols == 2);
    hers_matrix_free(&b);
    CHECK(hers_raw_parse(raw, 24, 4, &b) == HERS_ERR_FORMAT);

    /* Missing file / directory. */
    CHECK(hers_matrix_read(tpath("nope.npy"), &b) == HERS_ERR_NOTFOUND);
    CHECK(strstr(hers_last_error(), "nope.npy") != NULL);
    CHECK(hers_matrix_read(tmpdir, &b) == HERS_ERR_IO);
}

static int same_file(const char *a, const char *b)
{
    uint8_t *x, *y;
    size_t xl = 0, yl = 0;
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = 0;
    if (f && g) {
        fseek(f, 0, SEEK_END);
        fseek(g, 0, SEEK_END);
        xl = (size_t)ftell(f);
        yl = (size_t)ftell(g);
        rewind(f);
        rewind(g);
        x = malloc(xl + 1);
        y = malloc(yl + 1);
        same = xl == yl && fread(x, 1, xl, f) == xl && fread(y, 1, yl, g) == yl &&
               !memcmp(x, y, xl);
        free(x);
        free(y);
    }
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    return same;
}

static void test_stream_writer(void)
{
    hers_matrix a;
    random_matrix(&a, 10, 6);
    static const char *const names[3] = {"s.npy", "s.fvecs", "s.f32"};
    static const char *const whole[3] = {"w.npy", "w.fvecs", "w.f32"};
    for (int f = 0; f < 3; f++) {
        CHECK_OK(hers_matrix_write(tpath(whole[f]), &a));
        hers_matrix_writer *w;
        CHECK_OK(hers_matrix_writer_open(&w, tpath(names[f]), 10, 6));
        /* Blocks of 3, 0, 7 rows. */
        hers_matrix b1 = {3, 6, a.data}, b0 = {0, 6, NULL}, b2 = {7, 6, a.data + 18};
        CHECK_OK(hers_matrix_writer_append(w, &b1));
        CHECK_OK(hers_matrix_writer_append(w, &b0));
        CHECK(access(tpath(names[f]), F_OK) != 0); /* not visible before close */
        CHECK_OK(hers_matrix_writer_append(w, &b2));
        CHECK(hers_matrix_writer_append(w, &b1) == HERS_ERR_ARG); /* too many rows */
        CHECK_OK(hers_matrix_writer_close(w));
        CHECK(same_file(tpath(names[f]), tpath(whole[f])));
    }
    /* Too few rows: no file; wrong width; bad format. */
    hers_matrix_writer *w;
    CHECK_OK(hers_matrix_writer_open(&w, tpath("short.npy"), 10, 6));
    hers_matrix b1 = {3, 6, a.data}, bw = {3, 2, a.data};
    CHECK(hers_matrix_writer_append(w, &bw) == HERS_ERR_ARG);
    CHECK_OK(hers_matrix_writer_append(w, &b1));
    CHECK(hers_matrix_writer_close(w) == HERS_ERR_STATE);
    CHECK(access(tpath("short.npy"), F_OK) != 0 && access(tpath("short.npy.tmp"), F_OK) != 0);
    CHECK(hers_matrix_writer_open(&w, tpath("x.txt"), 1, 1) == HERS_ERR_ARG);
    CHECK(hers_matrix_writer_open(&w, tpath("x.npy"), 1, 0) == HERS_ERR_ARG);
    hers_matrix_free(&a);
}

static void test_labels_text(void)
{
    hers_labels l;
    const char *ok = "1\n2\n\n# comment\n  -3 \r\n+4\n2147483647\n-2147483648";
    CHECK_OK(hers_labels_parse_text(ok, strlen(ok), &l));
    CHECK(l.count == 6 && l.data[0] == 1 && l.data[2] == -3 && l.data[3] == 4 &&
          l.data[5] == INT32_MIN);
    hers_labels_free(&l);
    CHECK_OK(hers_labels_parse("", 0, &l));
    CHECK(l.count == 0);
    hers_labels_free(&l);
    static const char *const bad[] = {"1\n2x\n", "+\n", "2147483648\n", "-2147483649\n",
                                      "1.5\n",   "1 2\n", "99999999999999999999\n", "- 1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(hers_labels_parse_text(bad[i], strlen(bad[i]), &l) == HERS_ERR_FORMAT);
        CHECK(l.data == NULL);
    }
    CHECK(hers_labels_parse_text("1\n2x\n", 5, &l) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "line 2") != NULL);
    CHECK(hers_labels_parse_text("1\n\0\n", 4, &l) == HERS_ERR_FORMAT);
    write_bytes(tpath("bad.txt"), "0\n1\nfoo\n", 8);
    CHECK(hers_labels_read(tpath("bad.txt"), &l) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "bad.txt") && strstr(hers_last_error(), "line 3"));
}

/* gzip of buf (zlib deflate with a gzip wrapper). */
static uint8_t *gzip_buf(const uint8_t *p, size_t n, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&z, n) + 64;
    uint8_t *o = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return o;
}

static size_t make_idx_images(uint8_t *out, uint32_t n, uint32_t h, uint32_t w, int fill)
{
    const uint32_t hdr[4] = {0x803, n, h, w};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(hdr[i] >> (24 - 8 * j));
    for (size_t i = 0; fill && i < (size_t)n * h * w; i++)
        out[16 + i] = (uint8_t)(i * 37 + 11);
    return 16 + (size_t)n * h * w;
}

static void test_idx(void)
{
    uint8_t img[16 + 3 * 4 * 5 + 1];
    size_t n = make_idx_images(img, 3, 4, 5, 1);
    hers_matrix m;
    size_t h = 0, w = 0;
    CHECK_OK(hers_idx_parse_images(img, n, &m, &h, &w));
    CHECK(m.rows == 3 && m.cols == 20 && h == 4 && w == 5);
    CHECK(m.data[0] == 11.0f / 255.0f && m.data[59] == (float)(uint8_t)(59 * 37 + 11) / 255.0f);
    hers_matrix_free(&m);
    CHECK(hers_idx_parse_images(img, n + 1, &m, NULL, NULL) == HERS_ERR_FORMAT);
    CHECK(hers_idx_parse_images(img, n - 1, &m, NULL, NULL) == HERS_ERR_FORMAT);
    hers_labels bl;
    CHECK(hers_idx_parse_labels(img, n, &bl) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "magic") != NULL);

    /* gzip: round trip, every truncation, trailing garbage, corruption. */
    size_t gl;
    uint8_t *gz = gzip_buf(img, n, &gl);
    CHECK_OK(hers_idx_parse_images(gz, gl, &m, NULL, NULL));
    CHECK(m.rows == 3 && m.data[1] == (float)(uint8_t)(48) / 255.0f);
    hers_matrix_free(&m);
    int all_fail = 1;
    for (size_t k = 0; k < gl; k++)
        if (hers_idx_parse_images(gz, k, &m, NULL, NULL) == HERS_OK)
            all_fail = 0;
    CHECK(all_fail);
    uint8_t *gz2 = malloc(gl + 3);
    memcpy(gz2, gz, gl);
    memcpy(gz2 + gl, "abc", 3);
    CHECK(hers_idx_parse_images(gz2, gl + 3, &m, NULL, NULL) == HERS_ERR_FORMAT);
    memcpy(gz2, gz, gl);
    gz2[gl - 6] ^= 0x55; /* CRC32 */
    CHECK(hers_idx_parse_images(gz2, gl, &m, NULL, NULL) == HERS_ERR_FORMAT);
    free(gz2);
    write_bytes(tpath("t-images-idx3-ubyte.gz"), gz, gl);
    CHECK_OK(hers_matrix_read(tpath("t-images-idx3-ubyte.gz"), &m));
    CHECK(m.rows == 3 && m.cols == 20);
    hers_matrix_free(&m);
    free(gz);

    /* A gzip whose header claims far more than the data: refused before
     * allocating (the claim exceeds 1032 x the compressed size). */
    uint8_t big[16];
    make_idx_images(big, 0, 28, 28, 0);
    big[0 + 4] = 0x7f; /* n = 0x7f000000 images */
    gz = gzip_buf(big, 16, &gl);
    CHECK(hers_idx_parse_images(gz, gl, &m, NULL, NULL) == HERS_ERR_FORMAT);
    CHECK(strstr(hers_last_error(), "impossible") || strstr(hers_last_error(), "limit"));
    free(gz);
    /* Plain: claim vs length; bad image sizes. */
    CHECK(hers_idx_parse_images(big, 16, &m, NULL, NULL) == HERS_ERR_FORMAT);
    make_idx_images(big, 1, 0, 5, 0);
    CHECK(hers_idx_parse_images(big, 16, &m, NULL, NULL) == HERS_ERR_FORMAT);
    make_idx_images(big, 1, 2048, 2048, 0);
    CHECK(hers_idx_parse_images(big, 16, &m, NULL, NULL) == HERS_ERR_FORMAT);

    /* Labels, plain and gzip; images/labels count mismatch in a dataset dir. */
    uint8_t lab[8 + 4] = {0, 0, 8, 1, 0, 0, 0, 4, 9, 0, 3, 255};
    hers_labels l;
    CHECK_OK(hers_idx_parse_labels(lab, sizeof lab, &l));
    CHECK(l.count == 4 && l.data[0] == 9 && l.data[3] == 255);
    hers_labels_free(&l);
    CHECK(hers_idx_parse_labels(lab, sizeof lab - 1, &l) == HERS_ERR_FORMAT);
    gz = gzip_buf(lab, sizeof lab, &gl);
    CHECK_OK(hers_labels_parse(gz, gl, &l));
    CHECK(l.count == 4 && l.data[2] == 3);
    hers_labels_free(&l);
    write_bytes(tpath("train-labels-idx1-ubyte.gz"), gz, gl);
    free(gz);
    CHECK_OK(hers_labels_read(tpath("train-labels-idx1-ubyte.gz"), &l));
    CHECK(l.count == 4);
    hers_labels_free(&l);
    write_bytes(tpath("train-images-idx3-ubyte"), img, n); /* plain, 3 images */
    hers_matrix im;
    CHECK(hers_fashion_mnist_load(tmpdir, "train", &im, &l) == HERS_ERR_FORMAT);
    CHECK(im.data == NULL && l.data == NULL);
    CHECK(hers_fashion_mnist_load(tmpdir, "t10k", &im, &l) == HERS_ERR_NOTFOUND);
    CHECK(hers_fashion_mnist_load(tmpdir, "valid", &im, &l) == HERS_ERR_ARG);
}

static void test_fashion_mnist(void)
{
    struct stat st;
    if (stat(HERS_FASHION_MNIST_DIR, &st) != 0) {
        printf("note: %s absent, Fashion-MNIST part skipped\n", HERS_FASHION_MNIST_DIR);
        return;
    }
    hers_matrix x;
    hers_labels y;
    CHECK_OK(hers_fashion_mnist_load(NULL, "t10k", &x, &y));
    CHECK(x.rows == 10000 && x.cols == 784 && y.count == 10000);
    size_t hist[10] = {0}, bad = 0;
    for (size_t i = 0; i < y.count; i++) {
        if (y.data[i] >= 0 && y.data[i] < 10)
            hist[y.data[i]]++;
        else
            bad++;
    }
    CHECK(bad == 0);
    for (int c = 0; c < 10; c++)
        CHECK(hist[c] == 1000);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < x.rows * x.cols; i++) {
        lo = x.data[i] < lo ? x.data[i] : lo;
        hi = x.data[i] > hi ? x.data[i] : hi;
    }
    CHECK(lo == 0.0f && hi == 1.0f);
    hers_matrix_free(&x);
    hers_labels_free(&y);
    if (!quick) {
        CHECK_OK(hers_fashion_mnist_load(NULL, "train", &x, &y));
        CHECK(x.rows == 60000 && x.cols == 784 && y.count == 60000);
        hers_matrix_free(&x);
        hers_labels_free(&y);
    }
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Numerical rank of the rows by modified Gram-Schmidt (double). */
static size_t rank_of(const hers_matrix *m, double tol)
{
    size_t d = m->cols, r = 0;
    double *basis = malloc(sizeof(double) * d * d), *v = malloc(sizeof(double) * d);
    for (size_t i = 0; i < m->rows && r < d; i++) {
        for (size_t k = 0; k < d; k++)
            v[k] = m->data[i * d + k];
        for (size_t j = 0; j < r; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += v[k] * basis[j * d + k];
            for (size_t k = 0; k < d; k++)
                v[k] -= s * basis[j * d + k];
        }
        double nn = 0;
        for (size_t k = 0; k < d; k++)
            nn += v[k] * v[k];
        if (sqrt(nn) > tol) {
            for (size_t k = 0; k < d; k++)
                basis[r * d + k] = v[k] / sqrt(nn);
            r++;
        }
    }
    free(basis);
    free(v);
    return r;
}

static void test_synth(void)
{
    hers_synth_params p;
    hers_synth_defaults(&p);
    p.identities = quick ? 12 : 40;
    p.per_identity = 6;
    p.dim = 64;
    p.seed = test_seed();
    hers_matrix a, b;
    hers_labels la, lb;
    CHECK_OK(hers_synth_generate(&p, &a, &la));
    CHECK_OK(hers_synth_generate(&p, &b, &lb));
    CHECK(same_matrix(&a, &b));
    CHECK(la.count == a.rows && !memcmp(la.data, lb.data, la.count * 4));
    hers_matrix_free(&b);
    hers_labels_free(&lb);
    /* A range reproduces the same rows. */
    CHECK_OK(hers_synth_generate_range(&p, 3, 2, &b, &lb));
    CHECK(b.rows == 12 && !memcmp(b.data, a.data + 3 * 6 * 64, 12 * 64 * 4));
    CHECK(lb.data[0] == 3 && lb.data[11] == 4);
    hers_matrix_free(&b);
    hers_labels_free(&lb);
    /* Unit norms, labels, cluster structure. */
    double maxdev = 0, within = 0, between = 0;
    size_t nw = 0, nb = 0;
    for (size_t i = 0; i < a.rows; i++) {
        double nn = dot(a.data + i * 64, a.data + i * 64, 64);
        maxdev = fmax(maxdev, fabs(nn - 1));
        CHECK(la.data[i] == (int32_t)(i / 6));
        for (size_t j = i + 1; j < a.rows; j++) {
            double c = dot(a.data + i * 64, a.data + j * 64, 64);
            if (la.data[i] == la.data[j]) {
                within += c;
                nw++;
            } else {
                between += c;
                nb++;
            }
        }
    }
    within /= (double)nw;
    between /= (double)nb;
    printf("synth: mean cosine within %.3f, between %.3f (cos^2(spread) = %.3f)\n", within,
           between, cos(p.spread) * cos(p.spread));
    CHECK(maxdev < 1e-5);
    CHECK(within > between + 0.4);
    CHECK(fabs(within - cos(p.spread) * cos(p.spread)) < 0.1);
    CHECK(fabs(between) < 0.05);
    /* Another seed gives other data. */
    p.seed ^= 1;
    CHECK_OK(hers_synth_generate(&p, &b, NULL));
    CHECK(!same_matrix(&a, &b));
    hers_matrix_free(&b);
    hers_matrix_free(&a);
    hers_labels_free(&la);

    /* Linear latent: rows span exactly latent_dim + 1 dimensions. */
    p.latent_dim = 5;
    CHECK_OK(hers_synth_generate(&p, &a, NULL));
    CHECK(rank_of(&a, 1e-4) == 6);
    for (size_t i = 0; i < a.rows; i++)
        CHECK(fabs(dot(a.data + i * 64, a.data + i * 64, 64) - 1) < 1e-5);
    hers_matrix_free(&a);
    /* Nonlinear: unit norms, determinism, leaves the subspace. */
    p.nonlinear = 1;
    CHECK_OK(hers_synth_generate(&p, &a, NULL));
    CHECK_OK(hers_synth_generate(&p, &b, NULL));
    CHECK(same_matrix(&a, &b));
    CHECK(rank_of(&a, 1e-4) > 6);
    for (size_t i = 0; i < a.rows; i++)
        CHECK(fabs(dot(a.data + i * 64, a.data + i * 64, 64) - 1) < 1e-5);
    hers_matrix_free(&a);
    hers_matrix_free(&b);

    /* Threads split identities: the output does not depend on their number. */
    hers_synth_params t = p;
    t.dim = 512;
    t.identities = 30;
    t.latent_dim = 0;
    t.threads = 1;
    CHECK_OK(hers_synth_generate(&t, &a, NULL));
    for (unsigned nt = 2; nt <= 7; nt += 5) {
        t.threads = nt;
        CHECK_OK(hers_synth_generate(&t, &b, NULL));
        CHECK(same_matrix(&a, &b));
        hers_matrix_free(&b);
    }
    hers_matrix_free(&a);
    t.latent_dim = 16;
    t.threads = 1;
    CHECK_OK(hers_synth_generate(&t, &a, NULL));
    t.threads = 3;
    CHECK_OK(hers_synth_generate(&t, &b, NULL));
    CHECK(same_matrix(&a, &b));
    hers_matrix_free(&a);
    hers_matrix_free(&b);

    /* Parameter checks. */
    hers_synth_params q = p;
    q.latent_dim = 64;
    CHECK(hers_synth_check(&q) == HERS_ERR_ARG);
    q = p;
    q.spread = 2;
    CHECK(hers_synth_check(&q) == HERS_ERR_ARG);
    q = p;
    q.dim = 1;
    q.latent_dim = 0;
    CHECK(hers_synth_check(&q) == HERS_ERR_ARG);
    q = p;
    q.identities = 0;
    CHECK(hers_synth_generate(&q, &a, NULL) == HERS_ERR_ARG);
    CHECK(a.data == NULL);
    CHECK(hers_synth_generate_range(&p, 39, 2, &a, NULL) == HERS_ERR_ARG);
}

static void test_names(void)
{
    CHECK(hers_vec_format_from_path("x.NPY") == HERS_FMT_NPY);
    CHECK(hers_vec_format_from_path("a/b.fvecs") == HERS_FMT_FVECS);
    CHECK(hers_vec_format_from_path("b.bvecs") == HERS_FMT_BVECS);
    CHECK(hers_vec_format_from_path("gt.ivecs") == HERS_FMT_IVECS);
    CHECK(hers_vec_format_from_path("v.f32") == HERS_FMT_RAW);
    CHECK(hers_vec_format_from_path("train-images-idx3-ubyte.gz") == HERS_FMT_IDX);
    CHECK(hers_vec_format_from_path("t10k-labels-idx1-ubyte") == HERS_FMT_IDX);
    CHECK(hers_vec_format_from_path("labels.txt") == HERS_FMT_TEXT);
    CHECK(hers_vec_format_from_path("x.npy.gz") == HERS_FMT_UNKNOWN);
    CHECK(hers_vec_format_from_path("x") == HERS_FMT_UNKNOWN);
}

/* Random mutations of valid inputs: every parser must fail cleanly or
 * succeed, never crash (mostly useful under ASan). */
static void test_mutations(void)
{
    hers_matrix a;
    random_matrix(&a, 3, 4);
    uint8_t *npy, *fv;
    size_t nl, fl;
    CHECK_OK(hers_npy_encode(&a, &npy, &nl));
    CHECK_OK(hers_fvecs_encode(&a, &fv, &fl));
    uint8_t img[16 + 2 * 3 * 3];
    size_t il = make_idx_images(img, 2, 3, 3, 1), gl;
    uint8_t *gz = gzip_buf(img, il, &gl);
    uint8_t work[512];
    int iters = quick ? 300 : 3000, crashes_none = 1;
    for (int it = 0; it < iters; it++) {
        const uint8_t *src = it % 3 == 0 ? npy : it % 3 == 1 ? fv : gz;
        size_t len = it % 3 == 0 ? nl : it % 3 == 1 ? fl : gl;
        memcpy(work, src, len);
        int flips = 1 + (int)(test_rand() % 4);
        for (int f = 0; f < flips; f++)
            work[test_rand() % len] ^= (uint8_t)(1u << (test_rand() % 8));
        size_t cut = test_rand() % 4 == 0 ? test_rand() % (len + 1) : len;
        hers_matrix m;
        hers_labels l;
        hers_imatrix im;
        if (hers_npy_parse(work, cut, &m) == HERS_OK)
            hers_matrix_free(&m);
        if (hers_fvecs_parse(work, cut, &m) == HERS_OK)
            hers_matrix_free(&m);
        if (hers_bvecs_parse(work, cut, &m) == HERS_OK)
            hers_matrix_free(&m);
        if (hers_ivecs_parse(work, cut, &im) == HERS_OK)
            hers_imatrix_free(&im);
        if (hers_idx_parse_images(work, cut, &m, NULL, NULL) == HERS_OK)
            hers_matrix_free(&m);
        if (hers_labels_parse(work, cut, &l) == HERS_OK)
            hers_labels_free(&l);
    }
    CHECK(crashes_none);
    hers_free(npy);
    hers_free(fv);
    free(gz);
    hers_matrix_free(&a);
}

int main(void)
{
    (void)test_seed();
    quick = getenv("HERS_TEST_QUICK") != NULL;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hers_test_io_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_names();
    test_npy();
    test_vecs();
    test_stream_writer();
    test_labels_text();
    test_idx();
    test_fashion_mnist();
    test_synth();
    test_mutations();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
