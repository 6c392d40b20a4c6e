/*
 * atomic_file.c - atomic, fsync'ed file writes (atomic_file.h).
 */
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void note(hers_atomic_file *af, const char *step, int err)
{
    if (!af->fail) {
        af->fail = step;
        af->err = err ? err : EIO;
    }
}

hers_status hers_atomic_open(hers_atomic_file *af, const char *path, unsigned mode)
{
    memset(af, 0, sizeof *af);
    if (!path)
        return hers_error(HERS_ERR_ARG, "NULL path");
    size_t pl = strlen(path);
    af->tmp = malloc(pl + 12);
    if (!af->tmp)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(af->tmp, path, pl);
    memcpy(af->tmp + pl, ".tmp.XXXXXX", 12);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        hers_status st = hers_error(HERS_ERR_IO, "%s: cannot create temporary file: %s", path,
                                    strerror(errno));
        free(af->tmp);
        af->tmp = NULL;
        return st;
    }
    af->path = path;
    if (fchmod(fd, (mode_t)mode) != 0)
        note(af, "chmod", errno);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        free(af->tmp);
        af->tmp = NULL;
        return hers_error(HERS_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    return HERS_OK;
}

void hers_atomic_write(hers_atomic_file *af, const void *data, size_t n)
{
    if (af->fail || n == 0 || !af->f)
        return;
    errno = 0;
    if (fwrite(data, 1, n, af->f) != n)
        note(af, "write", errno);
}

/* fsync of the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return errno;
    /* EINVAL: file systems that cannot sync a directory (the rename is done). */
    int e = fsync(fd) != 0 && errno != EINVAL ? errno : 0;
    close(fd);
    return e;
}

hers_status hers_atomic_commit(hers_atomic_file *af)
{
    if (!af->f)
        return hers_error(HERS_ERR_STATE, "atomic file: not open");
    if (!af->fail) {   /* also a failed fprintf to af->f, seen by ferror */
        errno = 0;
        if (fflush(af->f) != 0 || ferror(af->f))
            note(af, "write", errno ? errno : EIO);
    }
    if (!af->fail && fsync(fileno(af->f)) != 0)
        note(af, "fsync", errno);
    if (fclose(af->f) != 0)
        note(af, "close", errno);
    af->f = NULL;
    if (!af->fail && rename(af->tmp, af->path) != 0)
        note(af, "rename", errno);
    if (!af->fail) {
        int e = sync_dir(af->path);
        if (e)
            note(af, "fsync", e);
    } else {
        unlink(af->tmp);
    }
    free(af->tmp);
    af->tmp = NULL;
    if (af->fail)
        return hers_error(HERS_ERR_IO, "%s: %s failed: %s", af->path, af->fail, strerror(af->err));
    return HERS_OK;
}

void hers_atomic_abort(hers_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp)
        unlink(af->tmp);
    free(af->tmp);
    af->tmp = NULL;
}

hers_status hers_atomic_write_file(const char *path, const void *buf, size_t len, unsigned mode)
{
    hers_atomic_file af;
    hers_status st = hers_atomic_open(&af, path, mode);
    if (st != HERS_OK)
        return st;
    hers_atomic_write(&af, buf, len);
    return hers_atomic_commit(&af);
}
