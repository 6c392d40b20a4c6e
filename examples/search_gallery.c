/*
 * search_gallery.c - one encrypted search against the installed hers API:
 * the key holder encrypts a probe, the server side (index + fused kernel)
 * scores it against the encrypted gallery, the key holder decrypts and
 * prints the top k.
 *
 *   cc search_gallery.c $(pkg-config --cflags --libs hers) -o search_gallery
 *   ./search_gallery DIR ROW [K]   (probe = template ROW of DIR/templates.npy)
 *
 * DIR comes from enroll_gallery. Prints "rank<TAB>id<TAB>score<TAB>plain" for
 * the top K (default 5), where plain is the inner product of the quantised
 * plaintext vectors, and exits 1 if any of the gallery's encrypted scores
 * differs from it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <hers/hers_bfv.h>
#include <hers/hers_io.h>
#include <hers/hers_quant.h>
#include <hers/hers_search.h>
#include <hers/hers_serial.h>

static int fail(const char *what, hers_status s)
{
    fprintf(stderr, "search_gallery: %s: %s (%s)\n", what, hers_last_error(), hers_status_name(s));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: search_gallery DIR ROW [K]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t row = strtoul(argv[2], NULL, 10), k = argc == 4 ? strtoul(argv[3], NULL, 10) : 5;
    char path[4096];
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_gallery *g = NULL;
    hers_index *ix = NULL;
    hers_query *query = NULL;
    hers_searcher *searcher = NULL;
    hers_result *res = NULL;
    hers_matrix x = {0};
    int32_t *q = NULL;
    int64_t *scores = NULL;
    hers_match *top = NULL;
    hers_status s;
    int rc = 1;

#define TRY(what, call)                                                                            \
    do {                                                                                           \
        if ((s = (call))) {                                                                        \
            rc = fail(what, s);                                                                    \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

    snprintf(path, sizeof path, "%s/params.hers", dir);
    TRY(path, hers_params_read(path, &p));
    snprintf(path, sizeof path, "%s/secret.key", dir);
    TRY(path, hers_secret_key_read(path, p, &sk));
    snprintf(path, sizeof path, "%s/gallery.hers", dir);
    TRY(path, hers_gallery_read(path, p, &g));
    snprintf(path, sizeof path, "%s/templates.npy", dir);
    TRY(path, hers_npy_read(path, &x));

    size_t n = hers_gallery_n(g), d = hers_gallery_d(g);
    uint32_t scale = hers_gallery_scale(g);
    if (x.rows != n || x.cols != d || row >= n || k == 0) {
        fprintf(stderr, "search_gallery: ROW must be < %zu and K > 0 (templates.npy %zu x %zu)\n",
                n, x.rows, x.cols);
        rc = 2;
        goto out;
    }
    q = malloc(n * d * sizeof *q);
    scores = malloc(n * sizeof *scores);
    top = malloc(k * sizeof *top);
    if (!q || !scores || !top)
        goto out;
    for (size_t i = 0; i < n; i++)
        TRY("quantise", hers_quant_vector(x.data + i * d, d, scale, q + i * d));

    /* Server: the kernel's form of the gallery, then one pass over it. */
    TRY("index", hers_index_build(p, g, 0, &ix));
    /* Key holder: encrypt the probe (d ciphertexts, each the constant q_row,i). */
    TRY("encrypt probe", hers_query_encrypt(p, sk, NULL, q + row * d, 1, d, scale, NULL, &query));
    TRY("searcher", hers_searcher_create(0, &searcher));
    TRY("search", hers_search(searcher, p, ix, query, NULL, &res));
    /* Key holder: decrypt every score and rank. */
    TRY("decrypt", hers_result_decrypt(p, sk, res, 0, scores));

    size_t mismatches = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t plain = 0;
        for (size_t j = 0; j < d; j++)
            plain += (int64_t)q[i * d + j] * q[row * d + j];
        mismatches += scores[i] != plain;
    }
    size_t count = 0;
    TRY("top-k", hers_top_k(scores, n, k, top, &count));
    printf("rank\tid\tscore\tplain\n");
    for (size_t r = 0; r < count; r++) {
        const int32_t *a = q + top[r].index * d, *b = q + row * d;
        int64_t plain = 0;
        for (size_t j = 0; j < d; j++)
            plain += (int64_t)a[j] * b[j];
        printf("%zu\t%s\t%lld\t%lld\n", r + 1, hers_gallery_id(g, top[r].index),
               (long long)top[r].score, (long long)plain);
    }
    if (mismatches) {
        fprintf(stderr, "search_gallery: %zu of %zu encrypted scores differ from plaintext\n",
                mismatches, n);
        goto out;
    }
    fprintf(stderr, "all %zu encrypted scores equal the plaintext quantised scores\n", n);
    rc = 0;
out:
    free(top);
    free(scores);
    free(q);
    hers_matrix_free(&x);
    hers_result_free(res);
    hers_searcher_free(searcher);
    hers_query_free(query);
    hers_index_free(ix);
    hers_gallery_free(g);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return rc;
}
