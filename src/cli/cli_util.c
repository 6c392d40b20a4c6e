/* cli_util.c - option parsing, errors, timing and progress for the CLI. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hers/hers_status.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hers %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hers %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int cli_fail_lib(const char *cmd, const char *what)
{
    /* Library messages about files usually start with the path already:
     * don't print "F: F: problem". */
    const char *e = hers_last_error();
    size_t n = strlen(what);
    if (n && strncmp(e, what, n) == 0 && e[n] == ':')
        return cli_fail(cmd, "%s", e);
    return cli_fail(cmd, "%s: %s", what, e);
}

const char *cli_opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

int cli_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return 1;
    return 0;
}

static int in_list(const char *s, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

int cli_check_opts(const char *cmd, int argc, char **argv, const char *const *with_value,
                   const char *const *flags)
{
    for (int i = 1; i < argc; i++) {
        if (in_list(argv[i], with_value)) {
            if (i + 1 >= argc)
                return cli_fail(cmd, "option %s needs a value", argv[i]);
            i++;
        } else if (!in_list(argv[i], flags)) {
            return cli_fail(cmd, "unknown option '%s' (see hers %s --help)", argv[i], cmd);
        }
    }
    return 0;
}

int cli_opt_u64(const char *cmd, int argc, char **argv, const char *name, uint64_t def,
                uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *v = cli_opt(argc, argv, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi)
        return cli_fail(cmd, "%s must be an integer in [%llu, %llu], got '%s'", name,
                        (unsigned long long)lo, (unsigned long long)hi, v);
    *out = x;
    return 0;
}

int cli_opt_double(const char *cmd, int argc, char **argv, const char *name, double def,
                   double *out)
{
    const char *v = cli_opt(argc, argv, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return cli_fail(cmd, "%s must be a finite number, got '%s'", name, v);
    *out = x;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_is_tty(void) { return isatty(STDERR_FILENO); }

static double progress_last;

void cli_progress(const char *label, uint64_t done, uint64_t total)
{
    if (!cli_is_tty() || total == 0)
        return;
    double now = cli_now();
    if (done < total && now - progress_last < 0.1)
        return;
    progress_last = now;
    int width = 30, fill = (int)((double)done / (double)total * width);
    fprintf(stderr, "\r%-24.24s [", label);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %5.1f%%", 100.0 * (double)done / (double)total);
    fflush(stderr);
}

void cli_progress_end(void)
{
    if (cli_is_tty())
        fprintf(stderr, "\r\033[K");
}

hers_status cli_write_port_file(const char *path, unsigned port)
{
    /* the message of hers_atomic_write_file names the path and the step */
    char text[16];
    int n = snprintf(text, sizeof text, "%u\n", port);
    if (hers_atomic_write_file(path, text, (size_t)n, 0644) != HERS_OK)
        return hers_error(HERS_ERR_IO, "cannot write the port file: %s", hers_last_error());
    return HERS_OK;
}

int cli_out_open(const char *cmd, const char *path, cli_out *o)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    if (!path) {
        o->f = stdout;
        return 0;
    }
    struct stat sb;
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (!(o->f = fopen(path, "w")))
            return cli_fail(cmd, "%s: cannot create the output file: %s", path, strerror(errno));
        return 0;
    }
    if (hers_atomic_open(&o->af, path, 0644) != HERS_OK)
        return cli_fail(cmd, "cannot create the output file: %s", hers_last_error());
    o->atomic = 1;
    o->f = o->af.f;
    return 0;
}

int cli_out_close(const char *cmd, cli_out *o, int rc)
{
    FILE *f = o->f;
    o->f = NULL;
    if (!f)
        return rc;
    if (f == stdout) {
        fflush(stdout);
        return rc;
    }
    if (!o->atomic) {
        if (fclose(f) != 0 && rc == 0)
            rc = cli_fail(cmd, "%s: write failed: %s", o->path, strerror(errno));
        return rc;
    }
    if (rc != 0) {
        hers_atomic_abort(&o->af);
        return rc;
    }
    if (hers_atomic_commit(&o->af) != HERS_OK)
        rc = cli_fail(cmd, "write failed: %s", hers_last_error());
    return rc;
}
