/* cli_passphrase.c - --passphrase-file and passphrase-protected secret keys
 * for every command that writes or reads DIR/secret.key (cli.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_keys.h"
#include "hers/hers_mem.h"
#include "hers/hers_serial.h"

/* The file is read whole up to this size (a passphrase is one short line). */
#define PASS_FILE_MAX (64 * 1024)

void cli_passphrase_free(char *pass, size_t len)
{
    if (pass)
        hers_free_secret(pass, len + 1);
}

int cli_passphrase_read(const char *cmd, const char *path, char **pass, size_t *len)
{
    *pass = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(cmd, "%s: cannot open passphrase file: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return cli_fail(cmd, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return cli_fail(cmd, "%s: is a directory, not a passphrase file", path);
    }
    if (S_ISREG(sb.st_mode) && (sb.st_mode & 066)) {
        close(fd);
        return cli_fail(cmd,
                        "%s: passphrase file is accessible by other users (mode %03o); "
                        "run chmod 600 %s",
                        path, (unsigned)(sb.st_mode & 0777), path);
    }
    char *buf = hers_alloc(PASS_FILE_MAX + 1);
    if (!buf) {
        close(fd);
        return cli_fail(cmd, "out of memory");
    }
    size_t got = 0;
    int err = 0;
    /* Stop at the first newline: a pipe may never be closed by the writer. */
    while (got < PASS_FILE_MAX && !memchr(buf, '\n', got)) {
        ssize_t r = read(fd, buf + got, PASS_FILE_MAX - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = errno;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (err) {
        hers_free_secret(buf, PASS_FILE_MAX + 1);
        return cli_fail(cmd, "%s: read failed: %s", path, strerror(err));
    }
    char *nl = memchr(buf, '\n', got);
    if (!nl && got == PASS_FILE_MAX) {
        hers_free_secret(buf, PASS_FILE_MAX + 1);
        return cli_fail(cmd, "%s: first line longer than %d bytes", path, PASS_FILE_MAX);
    }
    size_t n = nl ? (size_t)(nl - buf) : got;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0) {
        hers_free_secret(buf, PASS_FILE_MAX + 1);
        return cli_fail(cmd, "%s: the passphrase (first line) is empty", path);
    }
    if (n > HERS_SKPW_PASS_MAX) {
        hers_free_secret(buf, PASS_FILE_MAX + 1);
        return cli_fail(cmd, "%s: the passphrase is longer than %d bytes", path,
                        HERS_SKPW_PASS_MAX);
    }
    char *out = hers_alloc(n + 1);
    if (!out) {
        hers_free_secret(buf, PASS_FILE_MAX + 1);
        return cli_fail(cmd, "out of memory");
    }
    memcpy(out, buf, n);
    out[n] = '\0';
    hers_free_secret(buf, PASS_FILE_MAX + 1);
    *pass = out;
    *len = n;
    return 0;
}

int cli_secret_key_load(const char *cmd, const char *path, const hers_params *p,
                        const char *passfile, hers_secret_key **sk)
{
    *sk = NULL;
    int prot = 0;
    if (hers_secret_key_file_is_protected(path, &prot) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    hers_status st;
    if (!prot) {
        st = hers_secret_key_read(path, p, sk);
        /* Warn only once the plain key is known good: a damaged file gets one error line. */
        if (st == HERS_OK && passfile)
            fprintf(stderr,
                    "hers %s: warning: %s is not passphrase-protected; --passphrase-file "
                    "ignored\n",
                    cmd, path);
    } else {
        if (!passfile)
            return cli_fail(cmd,
                            "%s: the secret key is passphrase-protected; give "
                            "--passphrase-file F",
                            path);
        char *pass;
        size_t len;
        if (cli_passphrase_read(cmd, passfile, &pass, &len))
            return 1;
        st = hers_secret_key_read_protected(path, p, pass, len, sk);
        cli_passphrase_free(pass, len);
    }
    if (st != HERS_OK)
        return strstr(hers_last_error(), path) ? cli_fail(cmd, "%s", hers_last_error())
                                               : cli_fail(cmd, "%s: %s", path, hers_last_error());
    return 0;
}

int cli_secret_key_store(const char *cmd, const char *path, const hers_params *p,
                         const hers_secret_key *sk, const char *passfile)
{
    hers_status st;
    if (passfile) {
        char *pass;
        size_t len;
        if (cli_passphrase_read(cmd, passfile, &pass, &len))
            return 1;
        st = hers_secret_key_write_protected(path, p, sk, pass, len);
        cli_passphrase_free(pass, len);
    } else {
        st = hers_secret_key_write(path, p, sk);
    }
    if (st != HERS_OK)
        return strstr(hers_last_error(), path) ? cli_fail(cmd, "%s", hers_last_error())
                                               : cli_fail(cmd, "%s: %s", path, hers_last_error());
    return 0;
}

int cli_keys_load_pass(const char *cmd, const char *dir, const char *passfile, int secret,
                       int pub, int relin, cli_keys *k)
{
    if (cli_keys_load(cmd, dir, 0, pub, relin, k))
        return 1;
    if (!secret)
        return 0;
    char *path = cli_keys_path(dir, CLI_KEYS_SECRET);
    if (!path) {
        cli_keys_free(k);
        return cli_fail(cmd, "out of memory");
    }
    int rc = cli_secret_key_load(cmd, path, k->p, passfile, &k->sk);
    free(path);
    if (rc)
        cli_keys_free(k);
    return rc;
}
