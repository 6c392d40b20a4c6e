/*
 * enroll_gallery.c - the key holder's side, against the installed hers API:
 * make a key set, quantise a small gallery of unit vectors and enrol it,
 * encrypted, into a gallery file.
 *
 *   cc enroll_gallery.c $(pkg-config --cflags --libs hers) -o enroll_gallery
 *   ./enroll_gallery DIR [N D]     (N templates of D dimensions, default 1000 x 32)
 *
 * Writes DIR/params.hers, DIR/secret.key (mode 0600), DIR/gallery.hers (the
 * encrypted gallery a server may hold) and DIR/templates.npy (the plaintext
 * vectors, so that search_gallery can pick a probe and check its scores).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <hers/hers_bfv.h>
#include <hers/hers_io.h>
#include <hers/hers_quant.h>
#include <hers/hers_search.h>
#include <hers/hers_serial.h>

static int fail(const char *what, hers_status s)
{
    fprintf(stderr, "enroll_gallery: %s: %s (%s)\n", what, hers_last_error(), hers_status_name(s));
    return 1;
}

/* Deterministic pseudo-random unit vectors (xorshift64*), good enough for a demo. */
static void random_unit_rows(hers_matrix *m)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < m->rows * m->cols; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        m->data[i] = (float)((double)(x * 2685821657736338717u >> 11) / 9007199254740992.0 - 0.5);
    }
    hers_matrix_normalize_rows(m);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: enroll_gallery DIR [N D]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc == 4 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t d = argc == 4 ? strtoul(argv[3], NULL, 10) : 32;
    uint32_t scale = 0;   /* chosen below: the largest safe for d and the set's t */
    char path[4096];
    mkdir(dir, 0700);

    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_matrix x = {0};
    hers_gallery *g = NULL;
    int32_t *q = NULL;
    hers_status s;
    int rc = 1;

    if ((s = hers_params_create_named(&p, "n4096")) || (s = hers_keygen_secret(p, &sk))) {
        rc = fail("keys", s);
        goto out;
    }
    snprintf(path, sizeof path, "%s/params.hers", dir);
    if ((s = hers_params_write(path, p))) {
        rc = fail(path, s);
        goto out;
    }
    snprintf(path, sizeof path, "%s/secret.key", dir);
    if ((s = hers_secret_key_write(path, p, sk))) {
        rc = fail(path, s);
        goto out;
    }

    /* The templates: unit vectors, quantised to integers in [-scale, scale] at the
     * largest scale whose scores cannot wrap mod t (714 at d = 64). */
    scale = hers_quant_default_scale(d, hers_params_t(p));
    if ((s = hers_matrix_alloc(&x, n, d))) {
        rc = fail("vectors", s);
        goto out;
    }
    random_unit_rows(&x);
    q = malloc(n * d * sizeof *q);
    if (!q)
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((s = hers_quant_vector(x.data + i * d, d, scale, q + i * d))) {
            rc = fail("quantise", s);
            goto out;
        }

    /* Encrypt dimension-major with the secret key (seed-compressed at rest). */
    hers_enroll_opts opts;
    hers_enroll_opts_default(&opts);
    opts.scale = scale;
    if ((s = hers_gallery_enroll(p, sk, NULL, q, n, d, &opts, &g))) {
        rc = fail("enrol", s);
        goto out;
    }
    snprintf(path, sizeof path, "%s/gallery.hers", dir);
    if ((s = hers_gallery_write(path, p, g))) {
        rc = fail(path, s);
        goto out;
    }
    snprintf(path, sizeof path, "%s/templates.npy", dir);
    if ((s = hers_npy_write(path, &x))) {
        rc = fail(path, s);
        goto out;
    }
    printf("enrolled %zu templates x %zu dims (%llu bytes encrypted) into %s/gallery.hers\n", n, d,
           (unsigned long long)hers_gallery_payload_bytes(g), dir);
    rc = 0;
out:
    free(q);
    hers_gallery_free(g);
    hers_matrix_free(&x);
    hers_secret_key_free(sk);
    hers_params_free(p);
    return rc;
}
