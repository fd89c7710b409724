/* reconnect — what one reconnect to redis costs through lf_conn, over TCP, over TLS with a full
 * handshake and over TLS resuming a session; tests/bench/session.sh runs it, each mode in turn,
 * and prints the ratios.
 *
 * One thread, one connection at a time, for a given time: connect (and handshake), PING, read
 * +PONG, close. That is what a thread of mod_session_kv does when it has to reconnect: it sends
 * its command at once. (With TLS 1.3 the server's session tickets come after the handshake and
 * are read with the first reply, so a connection that read nothing would leave no session to
 * resume.) The modes:
 *   tcp       plain TCP (lf_conn_open without TLS), the baseline
 *   full      a new lf_tls_t for every connect, so that no session is kept and each handshake is
 *             a full one: what a child's first connect to a server costs. lf_tls_create (which
 *             loads the trust store) is timed apart and not counted in the connect: a process
 *             makes its lf_tls_t once, at startup
 *   resumed   one lf_tls_t for the run, as a child of httpd keeps one: every connect resumes the
 *             session of the one before (a first connect, not counted, makes the first session)
 * Prints one line of name=value pairs: connects counted, the seconds spent in them, connects per
 * second, wall and CPU (this thread's, CLOCK_THREAD_CPUTIME_ID) microseconds per connect, how
 * many handshakes were full and how many resumed, and the microseconds of one lf_tls_create
 * (full). Exit 1 on the first failure, 2 on bad arguments.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "lf_conn.h"

#define CONNECT_TIMEOUT apr_time_from_sec(2)
#define IO_TIMEOUT      apr_time_from_sec(2)

static void usage(FILE *out)
{
    fputs("Usage: reconnect --port PORT [--host HOST] [--mode tcp|full|resumed] [--ca FILE]\n"
          "                 [--seconds N]\n"
          "\n"
          "Connects to a redis server again and again for N seconds (default 5), one connection\n"
          "at a time: connect, PING, +PONG, close. --mode tcp (default) over TCP; full: over TLS\n"
          "with a new TLS configuration each time (full handshakes); resumed: over TLS with one\n"
          "configuration (resumed handshakes). --ca: the CA file that the server's certificate\n"
          "must chain to (default: the system's trust store). Host: 127.0.0.1 by default.\n",
          out);
}

/* The time of @p clock in seconds. */
static double clock_s(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One connect, PING and close. @p resumed: out, 1 for a resumed handshake, 0 for a full one,
 * -1 for TCP. @p why: out on error, from @p p.
 */
static apr_status_t connect_once(int *resumed, const char **why, const char *host, apr_port_t port,
                                 lf_tls_t *tls, apr_pool_t *p)
{
    lf_conn_t *c = NULL;
    char buf[64];
    apr_size_t got = 0, n;
    const char *info;
    apr_status_t rv;

    *resumed = -1;
    rv = lf_conn_open(&c, host, port, tls, CONNECT_TIMEOUT, IO_TIMEOUT);
    if (rv == APR_SUCCESS) {
        rv = lf_conn_write(c, "PING\r\n", 6);
    }
    while (rv == APR_SUCCESS && got < 7) {
        n = sizeof(buf) - got;
        rv = lf_conn_read(c, buf + got, &n);
        got += n;
    }
    if (rv != APR_SUCCESS) {
        *why = c ? apr_pstrdup(p, lf_conn_error(c)) : "out of memory";
    }
    else if (memcmp(buf, "+PONG\r\n", 7)) {
        *why = apr_psprintf(p, "PING answered '%.*s'", (int)got, buf);
        rv = APR_EGENERAL;
    }
    if (c && (info = lf_conn_tls_info(c)) != NULL) {
        *resumed = strstr(info, "resumed") != NULL;
    }
    lf_conn_close(c);
    return rv;
}

int main(int argc, const char *const *argv)
{
    const char *host = "127.0.0.1", *mode = "tcp", *ca = NULL, *why = "";
    double seconds = 5, start, wall = 0, cpu = 0, create = 0, t0, c0;
    long connects = 0, full = 0, resumed = 0;
    int i, port = 0, kind;
    apr_pool_t *p, *iter;
    lf_tls_t *tls = NULL;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    apr_pool_create(&iter, p);
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--host")) {
            host = v;
        }
        else if (!strcmp(a, "--port")) {
            port = atoi(v);
        }
        else if (!strcmp(a, "--mode")) {
            mode = v;
        }
        else if (!strcmp(a, "--ca")) {
            ca = v;
        }
        else if (!strcmp(a, "--seconds")) {
            seconds = atof(v);
        }
        else {
            usage(stderr);
            return 2;
        }
        ++i;
    }
    if (port < 1 || port > 65535 || seconds <= 0
        || (strcmp(mode, "tcp") && strcmp(mode, "full") && strcmp(mode, "resumed"))) {
        usage(stderr);
        return 2;
    }
    /* lf_conn's writes may raise SIGPIPE on a connection the server closed (see lf_conn.h) */
    signal(SIGPIPE, SIG_IGN);

    /* The first connect is not counted: it warms up, and in "resumed" makes the first session. */
    if (strcmp(mode, "tcp") && lf_tls_create(&tls, ca, &why, p) != APR_SUCCESS) {
        fprintf(stderr, "reconnect: %s\n", why);
        return 1;
    }
    if ((rv = connect_once(&kind, &why, host, (apr_port_t)port, tls, p)) != APR_SUCCESS) {
        fprintf(stderr, "reconnect: %s:%d (%s): %s\n", host, port, mode, why);
        return 1;
    }
    start = clock_s(CLOCK_MONOTONIC);
    while (clock_s(CLOCK_MONOTONIC) - start < seconds) {
        if (!strcmp(mode, "full")) {
            apr_pool_clear(iter); /* the previous configuration, its session with it */
            t0 = clock_s(CLOCK_MONOTONIC);
            if (lf_tls_create(&tls, ca, &why, iter) != APR_SUCCESS) {
                fprintf(stderr, "reconnect: %s\n", why);
                return 1;
            }
            create += clock_s(CLOCK_MONOTONIC) - t0;
        }
        t0 = clock_s(CLOCK_MONOTONIC);
        c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        rv = connect_once(&kind, &why, host, (apr_port_t)port, tls, iter);
        cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        wall += clock_s(CLOCK_MONOTONIC) - t0;
        if (rv != APR_SUCCESS) {
            fprintf(stderr, "reconnect: %s:%d (%s), connect %ld: %s\n", host, port, mode,
                    connects + 1, why);
            return 1;
        }
        ++connects;
        full += kind == 0;
        resumed += kind == 1;
    }
    printf("mode=%s connects=%ld seconds=%.3f per_second=%.1f wall_us=%.1f cpu_us=%.1f full=%ld "
           "resumed=%ld create_us=%.1f\n",
           mode, connects, wall, connects / wall, wall * 1e6 / connects, cpu * 1e6 / connects, full,
           resumed, full && !strcmp(mode, "full") ? create * 1e6 / connects : 0.0);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
