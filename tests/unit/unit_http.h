/* unit_http.h — a tiny HTTP/1.1 server for the unit tests of the cores that speak HTTP: it runs
 * in a thread of the test on 127.0.0.1 (only, on a free port), answers each request, on a
 * connection of its own, from a script, and records what it received. Include after unit.h.
 */
#ifndef LF_UNIT_HTTP_H
#define LF_UNIT_HTTP_H

#include <apr_lib.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_thread_proc.h>

/* --- bodies ---------------------------------------------------------------------------------- */

/* Byte @p i of every generated body: no short period, so a lost, repeated or shifted piece shows.
 */
static char pattern(apr_size_t i)
{
    apr_uint32_t x = (apr_uint32_t)i * 2654435761u;

    x ^= x >> 15;
    return (char)(x ^ (x >> 8));
}

static void pattern_fill(char *buf, apr_size_t from, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        buf[i] = pattern(from + i);
    }
}

/* Whether @p buf holds the pattern from byte @p from on. */
static __attribute__((unused)) int pattern_is(const char *buf, apr_size_t from, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        if (buf[i] != pattern(from + i)) {
            return 0;
        }
    }
    return 1;
}

/* --- the server ------------------------------------------------------------------------------ */

#define SRV_MAX 8

/* One scripted answer. */
typedef struct answer_t {
    int status;
    const char *headers;       /* more header lines, each ending in CRLF, or NULL */
    const char *body;          /* NULL: body_len bytes of the pattern */
    apr_size_t body_len;       /* also the Content-Length of an answer to HEAD */
    apr_size_t chunk;          /* send the body in pieces of this many bytes; 0: 64 KiB */
    apr_interval_time_t pause; /* before each piece */
} answer_t;

/* One request as the server saw it. */
typedef struct received_t {
    char *head; /* request line and header lines, lower-cased */
    char *body;
    apr_size_t content_length;
    apr_size_t body_len; /* bytes received */
    int complete;        /* the whole body came */
    apr_size_t sent;     /* body bytes of the answer sent */
} received_t;

typedef struct server_t {
    apr_pool_t *pool; /* the server thread's, until it was joined */
    apr_socket_t *listener;
    apr_thread_t *thread;
    const char *base; /* http://127.0.0.1:port */
    const char *url;  /* base + /bucket/a/b.jpg */
    answer_t answers[SRV_MAX];
    int nanswers;
    received_t got[SRV_MAX];
    int requests;
    int stop; /* atomic */
    int joined;
} server_t;

static apr_status_t send_all(apr_socket_t *s, const char *data, apr_size_t len)
{
    apr_status_t rv = APR_SUCCESS;

    while (len && rv == APR_SUCCESS) {
        apr_size_t n = len;
        rv = apr_socket_send(s, data, &n);
        data += n;
        len -= n;
    }
    return rv;
}

/* Read one request from @p s into @p got; APR_SUCCESS when it came whole. */
static apr_status_t read_request(received_t *got, apr_socket_t *s, apr_pool_t *p)
{
    apr_size_t cap = 65536, len = 0, n, i;
    char *buf = apr_palloc(p, cap + 1), *end = NULL, *cl;
    apr_status_t rv;

    while (!end) {
        if (len == cap) {
            return APR_ENOSPC;
        }
        n = cap - len;
        if ((rv = apr_socket_recv(s, buf + len, &n)) != APR_SUCCESS && !n) {
            return rv;
        }
        len += n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    got->head = apr_pstrmemdup(p, buf, (apr_size_t)(end + 4 - buf));
    for (i = 0; got->head[i]; ++i) {
        got->head[i] = (char)apr_tolower(got->head[i]);
    }
    if ((cl = strstr(got->head, "\r\ncontent-length:"))) {
        got->content_length = (apr_size_t)apr_atoi64(cl + 17);
    }
    got->body = apr_palloc(p, got->content_length + 1);
    got->body_len = len - (apr_size_t)(end + 4 - buf);
    if (got->body_len > got->content_length) {
        return APR_EGENERAL; /* more than announced (or pipelining, which curl does not do) */
    }
    memcpy(got->body, end + 4, got->body_len);
    while (got->body_len < got->content_length) {
        n = got->content_length - got->body_len;
        if ((rv = apr_socket_recv(s, got->body + got->body_len, &n)) != APR_SUCCESS && !n) {
            return rv;
        }
        got->body_len += n;
    }
    got->complete = 1;
    return APR_SUCCESS;
}

static void send_answer(server_t *srv, received_t *got, const answer_t *a, apr_socket_t *s)
{
    apr_size_t chunk = a->chunk ? a->chunk : 65536, n;
    char *piece = apr_palloc(srv->pool, chunk);
    const char *head;

    head = apr_psprintf(srv->pool,
                        "HTTP/1.1 %d Scripted\r\nContent-Length: %" APR_SIZE_T_FMT
                        "\r\nConnection: close\r\n%s\r\n",
                        a->status, a->body_len, a->headers ? a->headers : "");
    if (send_all(s, head, strlen(head)) != APR_SUCCESS || !strncmp(got->head, "head ", 5)) {
        return;
    }
    while (got->sent < a->body_len && !__atomic_load_n(&srv->stop, __ATOMIC_SEQ_CST)) {
        n = a->body_len - got->sent < chunk ? a->body_len - got->sent : chunk;
        if (a->pause) {
            apr_sleep(a->pause);
        }
        if (a->body) {
            memcpy(piece, a->body + got->sent, n);
        }
        else {
            pattern_fill(piece, got->sent, n);
        }
        if (send_all(s, piece, n) != APR_SUCCESS) {
            return; /* the client went away */
        }
        got->sent += n;
    }
}

/* Whether a connection waits on the listener, within @p timeout. (apr_socket_accept() does not
 * wait on a socket with a timeout: it answers EAGAIN at once.) */
static int connection_waits(apr_socket_t *listener, apr_interval_time_t timeout, apr_pool_t *p)
{
    apr_pollfd_t pfd;
    apr_int32_t n = 0;

    memset(&pfd, 0, sizeof(pfd));
    pfd.p = p;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.reqevents = APR_POLLIN;
    pfd.desc.s = listener;
    return apr_poll(&pfd, 1, &n, timeout) == APR_SUCCESS && n > 0;
}

static void *APR_THREAD_FUNC server_run(apr_thread_t *thread, void *data)
{
    static const answer_t unscripted = {599, NULL, "", 0, 0, 0};
    server_t *srv = data;
    apr_socket_t *s;
    int stopping;

    for (;;) {
        /* Stop only when no connection waits that was made before the stop: a client that
         * cancelled early may be gone before its connection was accepted, and the test counts
         * it. So the flag is read before looking for connections, never after. */
        stopping = __atomic_load_n(&srv->stop, __ATOMIC_SEQ_CST);
        if (!connection_waits(srv->listener, apr_time_from_msec(10), srv->pool)
            || apr_socket_accept(&s, srv->listener, srv->pool) != APR_SUCCESS) {
            if (stopping) {
                break;
            }
            continue;
        }
        apr_socket_timeout_set(s, apr_time_from_sec(2));
        if (srv->requests < SRV_MAX) {
            received_t *got = &srv->got[srv->requests];
            const answer_t *a =
                srv->requests < srv->nanswers ? &srv->answers[srv->requests] : &unscripted;
            ++srv->requests;
            if (read_request(got, s, srv->pool) == APR_SUCCESS) {
                send_answer(srv, got, a, s);
            }
        }
        apr_socket_close(s);
    }
    (void)thread; /* a plain return, as in test_aws_creds.c (pthread_exit() and ASan) */
    return NULL;
}

/* Stop the server and wait for its thread: only then may the test read what it recorded. */
static __attribute__((unused)) void server_stop(server_t *srv)
{
    apr_status_t rv;

    if (!srv->joined) {
        __atomic_store_n(&srv->stop, 1, __ATOMIC_SEQ_CST);
        apr_thread_join(&rv, srv->thread);
        srv->joined = 1;
    }
}

static apr_status_t server_cleanup(void *data)
{
    server_t *srv = data;

    server_stop(srv);
    apr_pool_destroy(srv->pool);
    return APR_SUCCESS;
}

/* Start a server on 127.0.0.1 (only), on a free port, that answers with @p answers in turn, then
 * with 599; it goes away with @p p. */
static __attribute__((unused)) server_t *server_start(const answer_t *answers, int nanswers,
                                                      apr_pool_t *p)
{
    server_t *srv = apr_pcalloc(p, sizeof(*srv));
    apr_sockaddr_t *sa, *local;
    apr_pool_t *sp;
    int i;

    assert_true(nanswers <= SRV_MAX);
    for (i = 0; i < nanswers; ++i) {
        srv->answers[i] = answers[i];
    }
    srv->nanswers = nanswers;
    assert_int_equal(apr_pool_create(&sp, NULL), APR_SUCCESS);
    srv->pool = sp;
    assert_int_equal(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, sp), APR_SUCCESS);
    assert_int_equal(apr_socket_create(&srv->listener, APR_INET, SOCK_STREAM, APR_PROTO_TCP, sp),
                     APR_SUCCESS);
    assert_int_equal(apr_socket_bind(srv->listener, sa), APR_SUCCESS);
    assert_int_equal(apr_socket_listen(srv->listener, 8), APR_SUCCESS);
    assert_int_equal(apr_socket_addr_get(&local, APR_LOCAL, srv->listener), APR_SUCCESS);
    apr_socket_timeout_set(srv->listener, 0); /* non-blocking: the thread polls it */
    srv->base = apr_psprintf(p, "http://127.0.0.1:%u", (unsigned)local->port);
    srv->url = apr_pstrcat(p, srv->base, "/bucket/a/b.jpg", NULL);
    assert_int_equal(apr_thread_create(&srv->thread, NULL, server_run, srv, sp), APR_SUCCESS);
    apr_pool_cleanup_register(p, srv, server_cleanup, apr_pool_cleanup_null);
    return srv;
}

#endif /* LF_UNIT_HTTP_H */
