/*
 * journal.c - rank 0's enrolment journal (cluster_internal.h): makes a
 * retried enrolment (the same request bytes) apply once.
 *
 * The request id is the BLAKE2b-256 of the request body: a retry re-sends
 * the same bytes (`hers enroll --request-file`), a new enrolment has fresh
 * encryption randomness. Before any shard writes, rank 0 appends
 *   plan <id hex> <blocks> <shard of block 0> ... <shard of block B-1>
 * (with " ids <first> <count>" when rank 0 gave the templates default ids:
 * a retry keeps them, and the next default id is above every one planned,
 * so default ids are unique in the cluster and across restarts), for a
 * replace, once the request's old templates are deleted on every shard
 * that held them (before any shard writes the new ones),
 *   clear <id hex>
 * and after every shard committed
 *   done <id hex> <templates> <first slot>
 * each line fsync'ed (ROOT/NAME/requests.log). A retry of a done request is
 * answered from the journal; a retry of a planned one (the job died between
 * the shards' commits) keeps the plan and re-sends only to the shards that
 * do not hold their blocks yet (a shard commits its blocks in one
 * transaction: all its ids or none). A torn last line is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster_internal.h"

typedef cl_jentry jentry;

struct cl_journal {
    int fd;
    char *path;
    cl_idmap *index;   /* id hex -> entry number */
    jentry *e;
    size_t n, cap;
    uint64_t next_id;  /* 1 + the largest default id planned */
};

static void hexid(char out[65], const uint8_t id[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static jentry *lookup(cl_journal *j, const char *hex)
{
    int v = cl_idmap_get(j->index, hex);
    return v < 0 ? NULL : &j->e[v];
}

static jentry *add(cl_journal *j, const char *hex)
{
    if (j->n == j->cap) {
        size_t nc = j->cap ? 2 * j->cap : 64;
        jentry *ne = realloc(j->e, nc * sizeof *ne);
        if (!ne)
            return NULL;
        j->e = ne;
        j->cap = nc;
    }
    if (cl_idmap_put(j->index, hex, (unsigned)j->n))
        return NULL;
    jentry *x = &j->e[j->n++];
    memset(x, 0, sizeof *x);
    return x;
}

void cl_journal_free(cl_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    for (size_t i = 0; i < j->n; i++)
        free(j->e[i].assign);
    free(j->e);
    cl_idmap_free(j->index);
    free(j->path);
    free(j);
}

hers_status cl_journal_open(const char *path, cl_journal **out)
{
    *out = NULL;
    cl_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path)) || !(j->index = cl_idmap_new())) {
        cl_journal_free(j);
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    j->fd = -1;
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    hers_status st = HERS_OK;
    while (f && st == HERS_OK && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n')
            break;   /* torn by a crash: never acknowledged */
        char kind[8], hex[80];
        int at = 0;
        if (sscanf(line, "%7s %79s %n", kind, hex, &at) != 2 || strlen(hex) != 64)
            continue;
        jentry *x = lookup(j, hex);
        if (!x && !(x = add(j, hex))) {
            st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
            break;
        }
        char *p = line + at, *e;
        if (!strcmp(kind, "plan")) {
            size_t nb = (size_t)strtoull(p, &e, 10);
            free(x->assign);
            x->assign = calloc(nb ? nb : 1, sizeof *x->assign);
            if (!x->assign) {
                st = hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
                break;
            }
            x->nb = nb;
            x->state = x->state ? x->state : 1;
            for (size_t b = 0; b < nb; b++)
                x->assign[b] = (uint16_t)strtoul(e, &e, 10);
            while (*e == ' ')
                e++;
            if (!strncmp(e, "ids ", 4)) {
                x->ids_first = strtoull(e + 4, &e, 10);
                x->ids_count = strtoull(e, &e, 10);
                if (x->ids_count && x->ids_first + x->ids_count > j->next_id)
                    j->next_id = x->ids_first + x->ids_count;
            }
        } else if (!strcmp(kind, "clear")) {
            x->cleared = 1;
        } else if (!strcmp(kind, "done")) {
            x->state = 2;
            x->count = strtoull(p, &e, 10);
            x->first = strtoull(e, &e, 10);
        }
    }
    free(line);
    if (f)
        fclose(f);
    if (st == HERS_OK && (j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0)
        st = hers_error(HERS_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != HERS_OK) {
        cl_journal_free(j);
        return st;
    }
    *out = j;
    return HERS_OK;
}

const cl_jentry *cl_journal_find(cl_journal *j, const uint8_t id[32])
{
    char hex[65];
    hexid(hex, id);
    jentry *x = lookup(j, hex);
    return x && x->state ? x : NULL;
}

uint64_t cl_journal_next_id(const cl_journal *j) { return j->next_id; }

static hers_status append(cl_journal *j, const char *text)
{
    size_t l = strlen(text);
    if (write(j->fd, text, l) != (ssize_t)l || fsync(j->fd) != 0)
        return hers_error(HERS_ERR_IO, "%s: %s", j->path, strerror(errno));
    return HERS_OK;
}

hers_status cl_journal_plan(cl_journal *j, const uint8_t id[32], const size_t *assign,
                            size_t nb, uint64_t ids_first, uint64_t ids_count)
{
    char hex[65];
    hexid(hex, id);
    size_t cap = 160 + 6 * nb;
    char *t = malloc(cap);
    jentry *x = lookup(j, hex);
    if (!x)
        x = add(j, hex);
    if (!t || !x) {
        free(t);
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    free(x->assign);
    if (!(x->assign = calloc(nb ? nb : 1, sizeof *x->assign))) {
        free(t);
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    }
    x->nb = nb;
    x->state = 1;
    x->ids_first = ids_first;
    x->ids_count = ids_count;
    size_t o = (size_t)snprintf(t, cap, "plan %s %zu", hex, nb);
    for (size_t b = 0; b < nb; b++) {
        x->assign[b] = (uint16_t)assign[b];
        o += (size_t)snprintf(t + o, cap - o, " %zu", assign[b]);
    }
    if (ids_count)
        o += (size_t)snprintf(t + o, cap - o, " ids %llu %llu", (unsigned long long)ids_first,
                              (unsigned long long)ids_count);
    snprintf(t + o, cap - o, "\n");
    hers_status st = append(j, t);
    free(t);
    if (st == HERS_OK && ids_count && ids_first + ids_count > j->next_id)
        j->next_id = ids_first + ids_count;
    return st;
}

hers_status cl_journal_clear(cl_journal *j, const uint8_t id[32])
{
    char hex[65], t[96];
    hexid(hex, id);
    jentry *x = lookup(j, hex);
    if (!x)
        return hers_error(HERS_ERR_STATE, "cluster: clear of an unplanned request");
    x->cleared = 1;
    snprintf(t, sizeof t, "clear %s\n", hex);
    return append(j, t);
}

hers_status cl_journal_done(cl_journal *j, const uint8_t id[32], uint64_t count, uint64_t first)
{
    char hex[65], t[128];
    hexid(hex, id);
    jentry *x = lookup(j, hex);
    if (!x && !(x = add(j, hex)))
        return hers_error(HERS_ERR_NOMEM, "cluster: out of memory");
    x->state = 2;
    x->count = count;
    x->first = first;
    snprintf(t, sizeof t, "done %s %llu %llu\n", hex, (unsigned long long)count,
             (unsigned long long)first);
    return append(j, t);
}
