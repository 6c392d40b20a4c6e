/* json.c - hers_json_get: a top-level key of a flat JSON object (the
 * server's metadata replies), for the client and the tests. */
#include <string.h>

#include "net/net_internal.h"

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Parses a string at s[i] == '"'; unescapes into out (if not NULL). Returns
 * the index after the closing quote, or 0 on error. */
static size_t parse_str(const char *s, size_t i, size_t n, char *out, size_t cap, size_t *ol)
{
    size_t o = 0;
    for (i++; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            if (out)
                out[o < cap ? o : cap - 1] = 0;
            if (ol)
                *ol = o;
            return o < cap || !out ? i + 1 : 0;
        }
        if ((unsigned char)c < 0x20)
            return 0;
        if (c == '\\') {
            if (++i >= n)
                return 0;
            switch (s[i]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                if (i + 4 >= n)
                    return 0;
                unsigned v = 0;
                for (int k = 1; k <= 4; k++) {
                    char h = s[i + k];
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0'
                                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                            : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
                    if (v > 0xffff)
                        return 0;
                }
                i += 4;
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default:
                return 0;
            }
        }
        if (out && o + 1 < cap)
            out[o] = c;
        o++;
    }
    return 0;
}

/* Skips any value (nested objects and arrays by depth); 0 on error. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return parse_str(s, i, n, NULL, 0, NULL);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                size_t e = parse_str(s, i, n, NULL, 0, NULL);
                if (!e)
                    return 0;
                i = e - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                if (++depth > 64)
                    return 0;
            } else if (s[i] == '}' || s[i] == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return 0;
    }
    size_t j = i;
    while (j < n && s[j] != ',' && s[j] != '}' && s[j] != ' ' && s[j] != '\n' && s[j] != '\t' &&
           s[j] != '\r')
        j++;
    return j > i ? j : 0;
}

int hers_json_get(const char *obj, size_t len, const char *key, char *out, size_t cap)
{
    if (!obj || !key || !out || cap == 0)
        return -1;
    size_t i = skip_ws(obj, 0, len);
    if (i >= len || obj[i] != '{')
        return -1;
    i = skip_ws(obj, i + 1, len);
    while (i < len && obj[i] != '}') {
        char k[128];
        size_t kl = 0;
        if (obj[i] != '"')
            return -1;
        size_t e = parse_str(obj, i, len, k, sizeof k, &kl);
        if (!e)
            return -1;
        i = skip_ws(obj, e, len);
        if (i >= len || obj[i] != ':')
            return -1;
        i = skip_ws(obj, i + 1, len);
        int match = kl < sizeof k && !strcmp(k, key);
        if (match) {
            if (i < len && obj[i] == '"')
                return parse_str(obj, i, len, out, cap, NULL) ? 0 : -1;
            size_t v = skip_value(obj, i, len);
            if (!v || v - i >= cap)
                return -1;
            memcpy(out, obj + i, v - i);
            out[v - i] = 0;
            return 0;
        }
        size_t v = skip_value(obj, i, len);
        if (!v)
            return -1;
        i = skip_ws(obj, v, len);
        if (i < len && obj[i] == ',')
            i = skip_ws(obj, i + 1, len);
    }
    return -1;
}
