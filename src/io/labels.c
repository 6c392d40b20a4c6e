/* labels.c - label files: one integer per line (text), or dispatch to .npy /
 * IDX by magic. */
#include <stdio.h>
#include <string.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "io/io_src.h"

#define LABELS_TEXT_MAX ((uint64_t)1 << 32) /* bytes of a text label file */

static hers_status labels_text(const char *name, const uint8_t *p, size_t len, hers_labels *out)
{
    /* Upper bound on the count: lines holding a digit (blank lines do not
     * make the allocation grow). */
    size_t cap = 1;
    int has_digit = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9')
            has_digit = 1;
        else if (p[i] == '\n') {
            cap += has_digit;
            has_digit = 0;
        }
    }
    hers_status st = hers_labels_alloc(out, cap);
    if (st != HERS_OK)
        return st;
    size_t count = 0, line = 0, i = 0;
    while (i < len) {
        size_t start = i, end;
        while (i < len && p[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++; /* the '\n' */
        line++;
        while (start < end && (p[start] == ' ' || p[start] == '\t'))
            start++;
        while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t' || p[end - 1] == '\r'))
            end--;
        if (start == end || p[start] == '#')
            continue;
        size_t j = start;
        int neg = 0;
        if (p[j] == '+' || p[j] == '-')
            neg = p[j++] == '-';
        if (j == end) {
            st = hers_error(HERS_ERR_FORMAT, "%s: line %zu: sign without digits", name, line);
            break;
        }
        int64_t v = 0;
        for (; j < end; j++) {
            if (p[j] < '0' || p[j] > '9') {
                st = hers_error(HERS_ERR_FORMAT,
                                "%s: line %zu: not an integer (unexpected byte 0x%02x)", name,
                                line, p[j]);
                break;
            }
            v = v * 10 + (p[j] - '0');
            if (v > (int64_t)INT32_MAX + 1) {
                st = hers_error(HERS_ERR_FORMAT, "%s: line %zu: label outside the int32 range",
                                name, line);
                break;
            }
        }
        if (st != HERS_OK)
            break;
        if (neg)
            v = -v;
        if (v > INT32_MAX) {
            st = hers_error(HERS_ERR_FORMAT, "%s: line %zu: label outside the int32 range", name,
                            line);
            break;
        }
        out->data[count++] = (int32_t)v;
    }
    if (st != HERS_OK) {
        hers_labels_free(out);
        return st;
    }
    out->count = count;
    return HERS_OK;
}

hers_status hers_labels_parse_text(const void *buf, size_t len, hers_labels *out)
{
    if (out)
        *out = (hers_labels){0, NULL};
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    return labels_text(IO_MEM_NAME, buf, len, out);
}

static int is_npy(const uint8_t *p, size_t len) { return len >= 6 && !memcmp(p, "\x93NUMPY", 6); }

static int is_idx_labels(const uint8_t *p, size_t len)
{
    return len >= 4 && ((p[0] == 0x1f && p[1] == 0x8b) || hers_be_get_u32(p) == 0x00000801u);
}

hers_status hers_labels_parse(const void *buf, size_t len, hers_labels *out)
{
    if (out)
        *out = (hers_labels){0, NULL};
    if (!out || (!buf && len))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    if (is_npy(buf, len))
        return hers_npy_parse_labels(buf, len, out);
    if (is_idx_labels(buf, len))
        return hers_idx_parse_labels(buf, len, out);
    return labels_text(IO_MEM_NAME, buf, len, out);
}

hers_status hers_labels_read(const char *path, hers_labels *out)
{
    if (out)
        *out = (hers_labels){0, NULL};
    if (!out)
        return hers_error(HERS_ERR_ARG, "NULL argument");
    /* Sniff the first bytes to pick the format. */
    uint8_t head[8];
    size_t hn = 0;
    {
        io_src s;
        hers_status st = io_src_file(&s, path);
        if (st != HERS_OK)
            return st;
        hn = io_src_left(&s) < sizeof head ? (size_t)io_src_left(&s) : sizeof head;
        st = io_src_read(&s, head, hn, "header");
        io_src_close(&s);
        if (st != HERS_OK)
            return st;
    }
    if (is_npy(head, hn))
        return hers_npy_read_labels(path, out);
    if (is_idx_labels(head, hn))
        return hers_idx_read_labels(path, out);
    uint8_t *buf;
    size_t len;
    hers_status st = io_read_file(path, LABELS_TEXT_MAX, &buf, &len);
    if (st != HERS_OK)
        return st;
    st = labels_text(path, buf, len, out);
    hers_free(buf);
    return st;
}

static int ends_with_npy(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && (!strcmp(path + n - 4, ".npy") || !strcmp(path + n - 4, ".NPY"));
}

hers_status hers_labels_write(const char *path, const hers_labels *l)
{
    if (!path || !l || (!l->data && l->count))
        return hers_error(HERS_ERR_ARG, "NULL argument");
    if (ends_with_npy(path))
        return hers_npy_write_labels(path, l);
    io_writer w;
    hers_status st = io_writer_open(&w, path);
    if (st != HERS_OK)
        return st;
    char line[16];
    for (size_t i = 0; i < l->count; i++) {
        int n = snprintf(line, sizeof line, "%d\n", (int)l->data[i]);
        io_writer_put(&w, line, (size_t)n);
    }
    return io_writer_commit(&w);
}
