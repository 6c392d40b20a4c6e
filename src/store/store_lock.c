/*
 * store_lock.c - the database's open lock (DIR/hers.lock).
 *
 * LMDB itself is safe for any number of readers and writers in any
 * processes, as long as data.mdb and lock.mdb stay the files they opened.
 * The only operation that replaces them is the shrinking step of
 * hers_store_compact; it runs only while it holds the write lock of hers.lock,
 * which it can take only when no other handle (in this or any other
 * process) holds the read lock that every open handle keeps. Open-file-
 * description locks (F_OFD_*, Linux >= 3.15) belong to one open() of the
 * file, not to the process, so closing one handle never drops another's
 * lock (the trap of classic fcntl locks), and converting read <-> write is
 * atomic: a refused upgrade keeps the read lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"

static int lock_op(int fd, int cmd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    int rc;
    do
        rc = fcntl(fd, cmd, &fl);
    while (rc != 0 && errno == EINTR);
    return rc;
}

hers_status store_lock_open(hers_store *db, int readonly)
{
    db->lock_fd = -1;
    size_t n = strlen(db->dir);
    char *path = malloc(n + sizeof "/hers.lock");
    if (!path)
        return hers_error(HERS_ERR_NOMEM, "%s: out of memory", db->dir);
    memcpy(path, db->dir, n);
    memcpy(path + n, "/hers.lock", sizeof "/hers.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 && readonly)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    hers_status st = HERS_OK;
    if (fd < 0) {
        /* A read-only copy (backup on read-only media) cannot be compacted
         * by anyone who cannot create the lock file either. */
        if (!(readonly && (errno == EROFS || errno == EACCES || errno == ENOENT)))
            st = hers_error(HERS_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (lock_op(fd, F_OFD_SETLKW, F_RDLCK) != 0) {
        st = hers_error(HERS_ERR_IO, "%s: lock: %s", path, strerror(errno));
        close(fd);
    } else {
        db->lock_fd = fd;
    }
    free(path);
    return st;
}

int store_lock_try_exclusive(hers_store *db)
{
    return db->lock_fd >= 0 && lock_op(db->lock_fd, F_OFD_SETLK, F_WRLCK) == 0;
}

void store_lock_shared(hers_store *db)
{
    if (db->lock_fd >= 0)
        (void)lock_op(db->lock_fd, F_OFD_SETLK, F_RDLCK);   /* a downgrade is always granted */
}

void store_lock_close(hers_store *db)
{
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    db->lock_fd = -1;
}
