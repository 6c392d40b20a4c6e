/* cmd_serve.c - `hers serve` (the HERS service, docs/api.md and
 * docs/deploy.md) and `hers token add` (bearer tokens). Signals: SIGHUP
 * reloads the token file; SIGTERM / SIGINT stop accepting, drain the
 * requests in flight and exit 0 (every acknowledged write is committed). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "hers/hers_cluster.h"
#include "hers/hers_net.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(void *user, const char *line)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&log_lock);
    if (line[0] == '{')   /* JSON: add the time as the first field */
        fprintf(stderr, "{\"time\": \"%s.%03ldZ\", %s\n", when, ts.tv_nsec / 1000000, line + 1);
    else
        fprintf(stderr, "%s.%03ldZ %s\n", when, ts.tv_nsec / 1000000, line);
    pthread_mutex_unlock(&log_lock);
}

static int parse_listen(const char *s, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    const char *h = s, *he = colon;
    if (*h == '[' && he[-1] == ']') {   /* [::1]:8080 */
        h++;
        he--;
    }
    if ((size_t)(he - h) >= cap)
        return -1;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    char *e = NULL;
    unsigned long p = strtoul(colon + 1, &e, 10);
    if (!*(colon + 1) || *e || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

int hers_cmd_serve(int argc, char **argv)
{
    static const char *const with_value[] = {
        "--root", "--listen", "--tokens", "--tls-cert", "--tls-key", "--port-file", "--log",
        "--threads", "--max-connections", "--max-per-ip", "--timeout", "--max-body-search",
        "--max-body-enroll", "--max-body-admin", NULL};
    static const char *const flags[] = {"--insecure", "--routes", "--help", NULL};
    const char *cmd = "serve";
    if (cli_flag(argc, argv, "--routes")) {   /* the served routes, one per line (docs test) */
        for (const char *const *r = hers_server_routes(); *r; r++)
            printf("%s\n", *r);
        return 0;
    }
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers serve --root DIR --listen HOST:PORT --tokens FILE\n"
               "                  [--tls-cert F --tls-key F] [--port-file F] [--insecure]\n"
               "                  [--log text|json] [--threads T] [--max-connections N]\n"
               "                  [--max-per-ip N] [--timeout S] [--max-body-search MB]\n"
               "                  [--max-body-enroll MB] [--max-body-admin MB]\n"
               "       hers serve --routes   (lists the routes served)\n"
               "  Serves every gallery database under DIR over HTTP(S) (routes: docs/api.md).\n"
               "  Plain HTTP only on loopback unless --insecure. --listen 127.0.0.1:0 binds an\n"
               "  ephemeral port; --port-file writes it. SIGHUP reloads the tokens; SIGTERM\n"
               "  drains and exits 0. One log line per request on stderr.\n");
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    hers_server_config c;
    hers_server_config_default(&c);
    const char *listen_at = cli_opt(argc, argv, "--listen"), *log = cli_opt(argc, argv, "--log");
    const char *port_file = cli_opt(argc, argv, "--port-file");
    c.root = cli_opt(argc, argv, "--root");
    c.tokens_path = cli_opt(argc, argv, "--tokens");
    c.tls_cert = cli_opt(argc, argv, "--tls-cert");
    c.tls_key = cli_opt(argc, argv, "--tls-key");
    c.insecure = cli_flag(argc, argv, "--insecure");
    if (!c.root || !listen_at || !c.tokens_path)
        return cli_usage(cmd, "--root, --listen and --tokens are required");
    char host[128];
    if (parse_listen(listen_at, host, sizeof host, &c.port))
        return cli_fail(cmd, "--listen must be HOST:PORT (e.g. 127.0.0.1:8443), got '%s'",
                        listen_at);
    c.host = host;
    if (log && strcmp(log, "json") && strcmp(log, "text"))
        return cli_fail(cmd, "--log must be text or json");
    c.log_json = log && !strcmp(log, "json");
    c.log = log_line;
    uint64_t thr, maxc, perip, to, mbs, mbe, mba;
    if (cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 256, &thr) ||
        cli_opt_u64(cmd, argc, argv, "--max-connections", 64, 1, 10000, &maxc) ||
        cli_opt_u64(cmd, argc, argv, "--max-per-ip", 32, 1, 10000, &perip) ||
        cli_opt_u64(cmd, argc, argv, "--timeout", 30, 1, 3600, &to) ||
        cli_opt_u64(cmd, argc, argv, "--max-body-search", 64, 1, 1 << 16, &mbs) ||
        cli_opt_u64(cmd, argc, argv, "--max-body-enroll", 256, 1, 1 << 16, &mbe) ||
        cli_opt_u64(cmd, argc, argv, "--max-body-admin", 64, 1, 1 << 16, &mba))
        return 2;
    c.threads = (unsigned)thr;
    c.max_connections = (unsigned)maxc;
    c.max_per_ip = (unsigned)perip;
    c.timeout_s = (unsigned)to;
    c.max_body_search = mbs << 20;
    c.max_body_enroll = mbe << 20;
    c.max_body_admin = mba << 20;
    /* block the signals before any thread starts: only sigwait below sees them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (hers_cluster_launched())   /* mpirun -np K hers serve: src/cli/cmd_cluster.c */
        return cli_serve_cluster(&c, port_file);
    hers_server *s = NULL;
    if (hers_server_start(&c, &s) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    unsigned port = hers_server_port(s);
    if (port_file && cli_write_port_file(port_file, port) != HERS_OK) {
        hers_server_stop(s);
        return cli_fail(cmd, "%s", hers_last_error());
    }
    fprintf(stderr, "hers serve: %s on %s://%s%s%s:%u (root %s)\n", "listening",
            c.tls_cert ? "https" : "http", strchr(host, ':') ? "[" : "", host,
            strchr(host, ':') ? "]" : "", port, c.root);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (hers_server_reload_tokens(s) == HERS_OK)
                fprintf(stderr, "hers serve: tokens reloaded from %s\n", c.tokens_path);
            else
                fprintf(stderr, "hers serve: %s (the previous tokens stay)\n", hers_last_error());
            continue;
        }
        fprintf(stderr, "hers serve: %s: draining and stopping\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    hers_server_stop(s);
    fprintf(stderr, "hers serve: stopped\n");
    return 0;
}

int hers_cmd_token(int argc, char **argv)
{
    static const char *const with_value[] = {"--tokens", "--gallery", "--scope", "--label", NULL};
    static const char *const flags[] = {"--help", NULL};
    const char *cmd = "token";
    if (cli_flag(argc, argv, "--help") || argc < 2 || strcmp(argv[1], "add")) {
        printf("usage: hers token add --tokens FILE --gallery NAME|'*' --scope search|enroll|admin\n"
               "                      [--label TEXT]\n"
               "  Prints a new random bearer token once (save it: only its hash is stored) and\n"
               "  appends its hash, gallery and scope to FILE (mode 0600). Send the server\n"
               "  SIGHUP to load it. search: describe + search; enroll: describe + enrol +\n"
               "  delete; admin: everything (create, drop, compact; metrics with '*').\n");
        return cli_flag(argc, argv, "--help") ? 0 : 2;
    }
    if (cli_check_opts(cmd, argc - 1, argv + 1, with_value, flags))
        return 2;
    const char *path = cli_opt(argc, argv, "--tokens"), *gal = cli_opt(argc, argv, "--gallery");
    const char *sc = cli_opt(argc, argv, "--scope");
    if (!path || !gal || !sc)
        return cli_usage(cmd, "--tokens, --gallery and --scope are required");
    hers_scope scope;
    if (hers_scope_parse(sc, &scope) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    char tok[80];
    if (hers_tokens_add(path, gal, scope, cli_opt(argc, argv, "--label"), tok, sizeof tok) !=
        HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    printf("%s\n", tok);
    fflush(stdout);
    memset(tok, 0, sizeof tok);
    fprintf(stderr, "hers token: added a %s token for gallery %s to %s (only its hash is "
                    "stored; send SIGHUP to a running server)\n", sc, gal, path);
    return 0;
}
