/*
 * store_stream.c - the streamed search of a both-encrypted gallery at disk
 * speed: a reader thread fetches the segments of chunk c + 1 into one of two
 * reused buffers (pread of each value at its offset in data.mdb, O_DIRECT
 * where it is not cached, two reads in flight, each segment's checksum
 * verified as soon as it arrives) while the workers build the kernel form of
 * chunk c from the other buffer and scan it. Reading through LMDB's map
 * instead costs a page fault, a page-cache page and a copy per 4 KiB (this
 * VM: ~0.35-0.5 GB/s against 1.5 GB/s for `dd iflag=direct`); HERS_STORE_IO_MAP
 * keeps that path for comparison. Results never depend on the mode.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* O_DIRECT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "core/pool.h"
#include "hers/hers_mem.h"
#include "search/search_merge.h"
#include "store/store_internal.h"

/* Offset, length and buffer alignment of O_DIRECT reads: the largest
 * logical block size in use (512 or 4096 bytes). */
#define IO_ALIGN ((uint64_t)4096)
/* Reads in flight (threads of the reader): one segment's checksum overlaps
 * the next one's read, and the device sees a queue of two. */
#define READ_THREADS 2u

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ the file */

typedef struct stream_file {
    const uint8_t *map;      /* LMDB's map of data.mdb (file offset 0) */
    uint64_t size;           /* data.mdb's size when the search started */
    int fd_buf;              /* buffered descriptor of data.mdb (ours) */
    int fd_direct;           /* O_DIRECT descriptor, -1 if unavailable */
    atomic_int direct_ok;    /* cleared when the file system refuses an O_DIRECT read */
} stream_file;

static void file_close(stream_file *f)
{
    if (f->fd_buf >= 0)
        close(f->fd_buf);
    if (f->fd_direct >= 0)
        close(f->fd_direct);
    f->fd_buf = f->fd_direct = -1;
}

/* Where LMDB maps data.mdb (file offset 0): the mapping of that device and
 * inode in /proc/self/maps (mdb_env_info's me_mapaddr is the address stored
 * in the meta page, meaningful with MDB_FIXEDMAP only). */
static hers_status map_base(const hers_store *db, const struct stat *ls, const uint8_t **base)
{
    *base = NULL;
    FILE *m = fopen("/proc/self/maps", "r");
    if (!m)
        return hers_error(HERS_ERR_UNSUPPORTED, "%s: no /proc/self/maps", db->dir);
    char line[4352];
    while (fgets(line, sizeof line, m)) {
        unsigned long long lo, hi, off, ino;
        unsigned maj, mnr;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi, perms, &off, &maj, &mnr,
                   &ino) != 7)
            continue;
        if (ino != (unsigned long long)ls->st_ino || makedev(maj, mnr) != ls->st_dev || off > lo)
            continue;
        *base = (const uint8_t *)(uintptr_t)(lo - off);
        break;
    }
    fclose(m);
    return *base ? HERS_OK
                 : hers_error(HERS_ERR_UNSUPPORTED, "%s: data.mdb is not mapped", db->dir);
}

/* Opens DIR/name twice for reading (buffered, and O_DIRECT if wanted and
 * possible), keeping only descriptors of the file ls describes (same device
 * and inode: the file the handle maps). */
static hers_status reopen_same_file(const hers_store *db, const char *name, const struct stat *ls,
                                    int want_direct, stream_file *f)
{
    struct stat os;
    size_t n = strlen(db->dir), m = strlen(name);
    char *path = malloc(n + 1 + m + 1);
    if (!path)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    memcpy(path, db->dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, m + 1);
    f->fd_buf = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd_buf >= 0 &&
        (fstat(f->fd_buf, &os) != 0 || os.st_dev != ls->st_dev || os.st_ino != ls->st_ino)) {
        close(f->fd_buf);
        f->fd_buf = -1;
    }
#ifdef O_DIRECT
    if (want_direct && f->fd_buf >= 0) {
        f->fd_direct = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
        if (f->fd_direct >= 0 && (fstat(f->fd_direct, &os) != 0 || os.st_dev != ls->st_dev ||
                                  os.st_ino != ls->st_ino)) {
            close(f->fd_direct);
            f->fd_direct = -1;
        }
    }
#else
    (void)want_direct;
#endif
    free(path);
    if (f->fd_buf < 0)
        return hers_error(HERS_ERR_IO, "%s: %s: cannot open it again for reading", db->dir, name);
    atomic_init(&f->direct_ok, f->fd_direct >= 0);
    (void)posix_fadvise(f->fd_buf, 0, 0, POSIX_FADV_SEQUENTIAL);
    return HERS_OK;
}

/* Opens data.mdb twice, checking that it is the file LMDB maps. */
static hers_status file_open(const hers_store *db, int want_direct, stream_file *f)
{
    memset(f, 0, sizeof *f);
    f->fd_buf = f->fd_direct = -1;
    MDB_envinfo info;
    hers_status st;
    int lfd = -1, rc;
    if ((rc = mdb_env_info(db->env, &info)) != 0 || (rc = mdb_env_get_fd(db->env, &lfd)) != 0)
        return store_mdb_error(db, rc, "environment");
    struct stat ls;
    if (fstat(lfd, &ls) != 0)
        return hers_error(HERS_ERR_IO, "%s: data.mdb: %s", db->dir, strerror(errno));
    (void)info;
    f->size = (uint64_t)ls.st_size;
    if ((st = map_base(db, &ls, &f->map)) != HERS_OK)
        return st;
    return reopen_same_file(db, "data.mdb", &ls, want_direct, f);
}

/* Opens segments.dat twice, checking that it is the file the handle maps. */
static hers_status payload_open(const hers_store *db, int want_direct, stream_file *f)
{
    memset(f, 0, sizeof f[0]);
    f->fd_buf = f->fd_direct = -1;
    struct stat ls;
    int pfd = store_payload_fd(db);
    if (pfd < 0 || !(f->map = store_payload_map(db)) || fstat(pfd, &ls) != 0)
        return hers_error(HERS_ERR_IO, "%s: %s is not open", db->dir, STORE_PAYLOAD_FILE);
    f->size = (uint64_t)ls.st_size;
    return reopen_same_file(db, STORE_PAYLOAD_FILE, &ls, want_direct, f);
}

static hers_status value_offset(const hers_store *db, const stream_file *f, const store_segref *r,
                                uint64_t *off)
{
    const uint8_t *p = r->h.gallery;
    uint64_t len = r->h.gallery_len;
    if (!f->map || p < f->map || (uint64_t)(p - f->map) > f->size ||
        len > f->size - (uint64_t)(p - f->map))
        return hers_error(HERS_ERR_FORMAT, "%s: segment %llu lies outside %s", db->dir,
                          (unsigned long long)r->key,
                          r->h.external ? STORE_PAYLOAD_FILE : "data.mdb");
    *off = (uint64_t)(p - f->map);
    return HERS_OK;
}

/* 1 if every page of [p, p + len) of the map is in the page cache. */
static int resident(const uint8_t *p, uint64_t len, unsigned char **vec, size_t *veccap)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(IO_ALIGN - 1), e = (uintptr_t)p + len;
    size_t pages = (size_t)((e - a + IO_ALIGN - 1) / IO_ALIGN);
    if (pages > *veccap) {
        unsigned char *nv = realloc(*vec, pages);
        if (!nv)
            return 0;
        *vec = nv;
        *veccap = pages;
    }
    if (mincore((void *)a, e - a, *vec) != 0)
        return 0;
    for (size_t i = 0; i < pages; i++)
        if (!((*vec)[i] & 1))
            return 0;
    return 1;
}

/* pread until len bytes or the end of the file; returns bytes read, -1 on
 * error (errno). */
static int64_t pread_full(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
    uint64_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, (size_t)(len - got), (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (uint64_t)r;
    }
    return (int64_t)got;
}

/* ------------------------------------------------------------ chunks */

/* The segments of one chunk, read into buf: refs[i - a] views segs[i]. */
typedef struct stream_slot {
    uint8_t *mem;            /* hers_alloc'ed; buf = mem aligned up to IO_ALIGN */
    uint8_t *buf;
    uint64_t cap;
    size_t a, b;
    store_segref *refs;
} stream_slot;

/* Bytes of buffer a chunk's segments [a, b) need: each at an aligned
 * position, with the aligned slack around its value. */
static uint64_t slot_need(const store_segref *segs, size_t a, size_t b)
{
    uint64_t need = 0;
    for (size_t i = a; i < b; i++)
        need += (segs[i].h.gallery_len + 3 * IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
    return need;
}

struct read_job {
    const hers_store_snapshot *s;
    const store_segref *segs;    /* the snapshot's list (views into the maps) */
    stream_file *files;          /* [0] data.mdb, [1] segments.dat */
    int io, verify;
    stream_slot *dst;
    const stream_slot *prev;     /* the previous chunk (segments spanning both: copied) */
    uint64_t *pos;               /* buffer position of each segment of dst */
    hers_task_error err;
    atomic_uint_fast64_t direct, buffered, reused;
    unsigned char *vec[READ_THREADS];   /* mincore vectors, per reader thread */
    size_t veccap[READ_THREADS];
};

/* Brings segment dst->a + task into dst: copied from the previous chunk,
 * read from the file, or (MAP) read where it is mapped; parsed again where
 * it now lies and, if asked, its checksum verified. */
static void read_task(void *vj, size_t task, unsigned worker)
{
    struct read_job *j = vj;
    if (j->err.st != HERS_OK)
        return;
    const hers_store *db = j->s->db;
    size_t i = j->dst->a + task;
    const store_segref *src = &j->segs[i];
    store_segref *r = &j->dst->refs[task];
    *r = *src;
    r->ready = 0;
    uint64_t len = src->h.gallery_len;
    const uint8_t *view = NULL;
    hers_status st = HERS_OK;
    if (j->io == HERS_STORE_IO_MAP) {
        view = src->h.gallery;
        const uint8_t *pg = (const uint8_t *)((uintptr_t)view & ~(uintptr_t)(IO_ALIGN - 1));
        madvise((void *)pg, (size_t)(view + len - pg), MADV_WILLNEED);
        if (!j->verify) {   /* the checksum reads every byte; else one per page */
            volatile uint8_t sink = 0;
            for (uint64_t o = 0; o < len; o += IO_ALIGN)
                sink ^= view[o];
            (void)sink;
        }
        atomic_fetch_add(&j->buffered, len);
    } else if (j->prev && i >= j->prev->a && i < j->prev->b) {
        uint8_t *to = j->dst->buf + j->pos[task];
        memcpy(to, j->prev->refs[i - j->prev->a].g.buf, (size_t)len);
        view = to;
        atomic_fetch_add(&j->reused, len);
    } else {
        uint64_t off = 0;
        stream_file *file = &j->files[src->h.external ? 1 : 0];
        if ((st = value_offset(db, file, src, &off)) != HERS_OK) {
            hers_task_error_set(&j->err, st, NULL);
            return;
        }
        uint64_t lo = off & ~(IO_ALIGN - 1), hi = (off + len + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
        uint8_t *to = j->dst->buf + j->pos[task];
        int direct = j->io != HERS_STORE_IO_BUFFERED && atomic_load(&file->direct_ok);
        /* AUTO: a value already in the page cache is copied from there */
        if (direct && j->io == HERS_STORE_IO_AUTO &&
            resident(src->h.gallery, len, &j->vec[worker], &j->veccap[worker]))
            direct = 0;
        int64_t got = -1;
        if (direct) {
            got = pread_full(file->fd_direct, to, hi - lo, lo);
            if (got < 0 && errno == EINVAL)   /* not on this file system after all */
                atomic_store(&file->direct_ok, 0);
            else if (got >= 0)
                atomic_fetch_add(&j->direct, len);
        }
        if (got < 0) {
            direct = 0;
            got = pread_full(file->fd_buf, to + (off - lo), len, off);
            if (got >= 0)
                atomic_fetch_add(&j->buffered, len);
            lo = off;   /* read from off itself */
        }
        if (got < 0 || (uint64_t)got < off + len - lo) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: segment %llu: reading %s: %s", db->dir,
                     (unsigned long long)src->key,
                     src->h.external ? STORE_PAYLOAD_FILE : "data.mdb",
                     got < 0 ? strerror(errno) : "file truncated");
            hers_task_error_set(&j->err, HERS_ERR_IO, msg);
            return;
        }
        view = to + (off & (IO_ALIGN - 1));
    }
    if (j->s->st.mode == HERS_MODE_BOTH_ENCRYPTED && j->io != HERS_STORE_IO_MAP) {
        /* the bytes read are parsed again: they, not the map, feed the build */
        st = hers_gallery_ref_parse(db->p, view, (size_t)len, &r->g);
        if (st == HERS_OK && (r->g.n != src->g.n || r->g.d != src->g.d ||
                              r->g.mode != src->g.mode || r->g.scale != src->g.scale ||
                              r->g.packing != src->g.packing ||
                              r->g.kind != src->g.kind || r->g.version != src->g.version))
            st = hers_error(HERS_ERR_FORMAT, "read differs from the mapped header");
        if (st != HERS_OK) {
            char msg[512], m2[400];
            snprintf(m2, sizeof m2, "%s", hers_last_error());
            snprintf(msg, sizeof msg, "%s: segment %llu: %s", db->dir,
                     (unsigned long long)src->key, m2);
            hers_task_error_set(&j->err, st, msg);
            return;
        }
    }
    if (j->verify && len && !hers_gallery_ref_checksum_ok(&r->g)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: segment %llu: gallery: checksum mismatch (corrupted file)",
                 db->dir, (unsigned long long)src->key);
        hers_task_error_set(&j->err, HERS_ERR_CHECKSUM, msg);
        return;
    }
    r->ready = 1;
}

/* The reader thread: one chunk's segments per run. */
struct reader {
    pthread_t tid;
    int running;
    struct read_job job;
    double seconds;
    hers_status st;
    char msg[512];
};

static void *reader_main(void *vr)
{
    struct reader *rd = vr;
    struct read_job *j = &rd->job;
    double t = now_seconds();
    hers_task_error_init(&j->err);
    size_t tasks = j->dst->b - j->dst->a;
    hers_parallel_for(READ_THREADS < tasks ? READ_THREADS : (unsigned)tasks, tasks, read_task, j);
    rd->st = j->err.st;
    if (rd->st != HERS_OK)
        snprintf(rd->msg, sizeof rd->msg, "%s", j->err.msg);
    hers_task_error_destroy(&j->err);
    for (unsigned w = 0; w < READ_THREADS; w++) {
        free(j->vec[w]);
        j->vec[w] = NULL;
        j->veccap[w] = 0;
    }
    rd->seconds = now_seconds() - t;
    return NULL;
}

static hers_status reader_start(struct reader *rd)
{
    rd->st = HERS_OK;
    rd->running = pthread_create(&rd->tid, NULL, reader_main, rd) == 0;
    if (!rd->running)   /* no thread: read in the caller's */
        reader_main(rd);
    return HERS_OK;
}

static hers_status reader_join(struct reader *rd, hers_store_search_stats *stats)
{
    if (rd->running) {
        pthread_join(rd->tid, NULL);
        rd->running = 0;
    }
    stats->read_seconds += rd->seconds;
    rd->seconds = 0;
    return rd->st == HERS_OK ? HERS_OK : hers_error(rd->st, "%s", rd->msg);
}

/* Positions of dst's segments in its buffer. */
static void slot_layout(const store_segref *segs, stream_slot *dst, uint64_t *pos)
{
    uint64_t at = 0;
    for (size_t i = dst->a; i < dst->b; i++) {
        pos[i - dst->a] = at;
        at += (segs[i].h.gallery_len + 3 * IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
    }
}

hers_status store_stream_encrypted(hers_store_snapshot *s, hers_searcher *sr, const hers_query *q,
                                   const hers_store_search_opts *opts, size_t blocks, size_t chunk,
                                   store_deliver_fn deliver, void *dctx,
                                   hers_store_search_stats *stats)
{
    const hers_store *db = s->db;
    const hers_params *p = db->p;
    size_t N = hers_params_n(p);
    int verify = !opts->skip_checksums;
    int io = opts->io;
    if (io < HERS_STORE_IO_AUTO || io > HERS_STORE_IO_MAP)
        return hers_error(HERS_ERR_ARG, "%s: unknown read mode %d", db->dir, io);
    store_segref *segs = NULL;
    size_t nseg = 0, maxseg = 0;
    hers_index *ix = NULL;
    stream_file f[2];
    stream_slot slot[2];
    uint64_t *pos[2] = {NULL, NULL};
    memset(slot, 0, sizeof slot);
    memset(f, 0, sizeof f);
    f[0].fd_buf = f[0].fd_direct = f[1].fd_buf = f[1].fd_direct = -1;
    struct reader rd;
    memset(&rd, 0, sizeof rd);
    double t0 = now_seconds();
    hers_status st = store_segments_list(s, &segs, &nseg);
    stats->list_seconds = now_seconds() - t0;
    uint64_t slots = hers_store_snapshot_slots(s), need = 0;
    /* the largest chunk: segments and buffer bytes */
    for (size_t b0 = 0; st == HERS_OK && b0 < blocks; b0 += chunk) {
        size_t a, b;
        store_segments_range(db, segs, nseg, b0, b0 + chunk, &a, &b);
        if (b - a > maxseg)
            maxseg = b - a;
        uint64_t x = slot_need(segs, a, b);
        if (x > need)
            need = x;
    }
    int any_inline = 0, any_external = 0;
    for (size_t i = 0; i < nseg; i++) {
        any_external |= segs[i].h.external;
        any_inline |= !segs[i].h.external;
    }
    if (st == HERS_OK && io != HERS_STORE_IO_MAP && any_inline)
        st = file_open(db, io != HERS_STORE_IO_BUFFERED, &f[0]);
    if (st == HERS_OK && io != HERS_STORE_IO_MAP && any_external)
        st = payload_open(db, io != HERS_STORE_IO_BUFFERED, &f[1]);
    for (int k = 0; k < 2 && st == HERS_OK; k++) {
        slot[k].refs = calloc(maxseg ? maxseg : 1, sizeof *slot[k].refs);
        pos[k] = calloc(maxseg ? maxseg : 1, sizeof *pos[k]);
        if (io != HERS_STORE_IO_MAP && need) {
            /* aligned (2 MiB for this size), zeroed once: the pages are
             * faulted in here, not on every chunk */
            slot[k].mem = hers_alloc((size_t)(need + IO_ALIGN));
            slot[k].buf = slot[k].mem + (-(uintptr_t)slot[k].mem & (IO_ALIGN - 1));
            slot[k].cap = need;
        }
        if (!slot[k].refs || !pos[k] || (io != HERS_STORE_IO_MAP && need && !slot[k].mem))
            st = hers_error(HERS_ERR_NOMEM, "%s: out of memory for the read buffers", db->dir);
        stats->buffer_bytes += slot[k].cap;
    }
    if (st == HERS_OK)
        st = hers_index_zero(p, HERS_MODE_BOTH_ENCRYPTED,
                             (size_t)((uint64_t)chunk * N < slots ? (uint64_t)chunk * N : slots),
                             hers_store_snapshot_d(s), &ix);
    if (st == HERS_OK)
        hers_index_set_packing(ix, hers_store_snapshot_packing(s), hers_store_snapshot_scale(s));
    if (st == HERS_OK)
        stats->index_bytes = hers_index_bytes(ix);
    rd.job.s = s;
    rd.job.segs = segs;
    rd.job.files = f;
    rd.job.io = io;
    rd.job.verify = verify;
    atomic_init(&rd.job.direct, 0);
    atomic_init(&rd.job.buffered, 0);
    atomic_init(&rd.job.reused, 0);
    if (st == HERS_OK) {
        store_segments_range(db, segs, nseg, 0, chunk, &slot[0].a, &slot[0].b);
        slot_layout(segs, &slot[0], pos[0]);
        rd.job.dst = &slot[0];
        rd.job.prev = NULL;
        rd.job.pos = pos[0];
        reader_start(&rd);
    }
    size_t c = 0;
    for (size_t b0 = 0; b0 < blocks && st == HERS_OK; b0 += chunk, c++) {
        size_t nb = blocks - b0 < chunk ? blocks - b0 : chunk;
        stream_slot *cur = &slot[c & 1], *next = &slot[(c + 1) & 1];
        double tw = now_seconds();
        if ((st = reader_join(&rd, stats)) != HERS_OK)
            break;
        stats->read_wait_seconds += now_seconds() - tw;
        if (b0 + nb < blocks) {   /* read the next chunk while this one runs */
            size_t nb2 = blocks - b0 - nb < chunk ? blocks - b0 - nb : chunk;
            store_segments_range(db, segs, nseg, b0 + nb, b0 + nb + nb2, &next->a, &next->b);
            slot_layout(segs, next, pos[(c + 1) & 1]);
            rd.job.dst = next;
            rd.job.prev = cur;
            rd.job.pos = pos[(c + 1) & 1];
            reader_start(&rd);
        }
        uint64_t n = slots - (uint64_t)b0 * N;
        if (n > (uint64_t)nb * N)
            n = (uint64_t)nb * N;
        double t1 = now_seconds();
        if ((st = hers_index_reshape(ix, (size_t)n)) != HERS_OK ||
            (st = store_segments_index(s, cur->refs, cur->b - cur->a, b0, nb, opts->threads,
                                       verify, ix)) != HERS_OK)
            break;
        double t2 = now_seconds();
        hers_result *part = NULL;
        st = hers_search(sr, p, ix, q, &opts->search, &part);
        double t3 = now_seconds();
        if (st == HERS_OK)
            st = deliver(dctx, b0, part);
        hers_result_free(part);
        stats->build_seconds += t2 - t1;
        stats->scan_seconds += t3 - t2;
        if (io == HERS_STORE_IO_MAP)   /* consumed pages first in line for eviction */
            for (size_t i = cur->a; i < cur->b; i++)
                if (segs[i].h.first_block + store_seg_blocks(db, &segs[i].h) <= b0 + nb)
                    store_segment_cold(&segs[i]);
    }
    hers_status rj = reader_join(&rd, stats);
    if (st == HERS_OK)
        st = rj;
    stats->bytes_direct = atomic_load(&rd.job.direct);
    stats->bytes_buffered = atomic_load(&rd.job.buffered);
    stats->bytes_reused = atomic_load(&rd.job.reused);
    stats->bytes_read = 0;
    for (size_t i = 0; i < nseg; i++)
        stats->bytes_read += STORE_SEG_HEADER + segs[i].h.gallery_len;
    stats->total_seconds = now_seconds() - t0;
    file_close(&f[0]);
    file_close(&f[1]);
    for (int k = 0; k < 2; k++) {
        hers_free(slot[k].mem);
        free(slot[k].refs);
        free(pos[k]);
    }
    hers_index_free(ix);
    free(segs);
    return st;
}
