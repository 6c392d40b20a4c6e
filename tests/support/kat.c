/* kat.c - known-answer transcripts shared by the tests (see kat.h). */
#include "support/kat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/check.h"

void test_kat_format(test_kat_line line, const char *label, const uint8_t *h, size_t len)
{
    int o = snprintf(line, TEST_KAT_WIDTH, "%s ", label);
    for (size_t i = 0; i < len && o > 0 && (size_t)o + 3 <= TEST_KAT_WIDTH; i++)
        o += snprintf(line + o, TEST_KAT_WIDTH - (size_t)o, "%02x", h[i]);
}

void test_kat_same_level(test_kat_line *ref, size_t *nref, int *have, const test_kat_line *lines,
                         size_t n)
{
    if (!*have) {
        memcpy(ref, lines, n * sizeof *lines);
        *nref = n;
        *have = 1;
        return;
    }
    CHECK(*nref == n);
    for (size_t i = 0; i < n && i < *nref; i++)
        CHECK(strcmp(ref[i], lines[i]) == 0);
}

void test_kat_file(const char *file, const char *header, const test_kat_line *lines, size_t n)
{
    const char *dir = getenv("HERS_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/kat/%s", dir ? dir : "tests", file);
    if (getenv("HERS_KAT_WRITE")) {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f) {
            fprintf(f, "# %s\n", header);
            for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\n", lines[i]);
            fclose(f);
            fprintf(stderr, "wrote %s\n", path);
        }
        return;
    }
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "missing %s (generate with HERS_KAT_WRITE=1)\n", path);
        return;
    }
    char line[256];
    size_t i = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\r\n")] = 0;
        CHECK(i < n);
        if (i < n && strcmp(line, lines[i]) != 0) {
            fprintf(stderr, "  KAT mismatch:\n    expected %s\n    got      %s\n", line, lines[i]);
            CHECK(0);
        }
        i++;
    }
    CHECK(i == n);
    fclose(f);
}
