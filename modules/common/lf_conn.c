/* lf_conn — one client connection over TCP or TLS, see lf_conn.h.
 *
 * Session resumption: OpenSSL keeps no client sessions by itself that a new SSL object would
 * find, so each lf_tls_t keeps the last session per "host:port" (LF_TLS_SESSIONS of them, the
 * oldest replaced), given by OpenSSL's new-session callback: with TLS 1.3 the tickets come after
 * the handshake, with the first reply, and whenever the server sends new ones.
 *
 * The OpenSSL error queue belongs to the thread and is shared with everything else there
 * (libcurl, mod_ssl): it is cleared before each call whose errors are read, so that a reason
 * in an error text is this connection's.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lf_conn.h"

#define LF_TLS_SESSIONS 64  /* servers whose sessions a configuration keeps */
#define LF_CONN_KEY_MAX 300 /* "host:port" */

typedef struct {
    char key[LF_CONN_KEY_MAX]; /* "" when free */
    SSL_SESSION *session;      /* a reference of ours */
} lf_tls_session_t;

struct lf_tls_t {
    SSL_CTX *ctx;
    apr_thread_mutex_t *lock; /* over sessions and next */
    lf_tls_session_t sessions[LF_TLS_SESSIONS];
    unsigned next; /* the slot to replace when all are taken */
};

struct lf_conn_t {
    int fd;
    SSL *ssl; /* NULL for TCP */
    lf_tls_t *tls;
    apr_interval_time_t io_timeout;
    int broken; /* no close_notify on a connection that failed */
    char key[LF_CONN_KEY_MAX];
    char err[256];
    char info[64];
};

static void conn_err(lf_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_err(lf_conn_t *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

/* --- the sessions of a configuration -------------------------------------------------------- */

static lf_tls_session_t *tls_slot(lf_tls_t *tls, const char *key)
{
    unsigned i;

    for (i = 0; i < LF_TLS_SESSIONS; i++) {
        if (!strcmp(tls->sessions[i].key, key)) {
            return &tls->sessions[i];
        }
    }
    return NULL;
}

/* OpenSSL's new-session callback: keep @p session (1: the reference is ours now). */
static int tls_new_session(SSL *ssl, SSL_SESSION *session)
{
    lf_conn_t *c = SSL_get_app_data(ssl);
    lf_tls_session_t *slot;

    if (!c || !SSL_SESSION_is_resumable(session)) {
        return 0;
    }
    apr_thread_mutex_lock(c->tls->lock);
    if (!(slot = tls_slot(c->tls, c->key)) && !(slot = tls_slot(c->tls, ""))) {
        slot = &c->tls->sessions[c->tls->next++ % LF_TLS_SESSIONS];
    }
    if (slot->session) {
        SSL_SESSION_free(slot->session);
    }
    apr_cpystrn(slot->key, c->key, sizeof(slot->key));
    slot->session = session;
    apr_thread_mutex_unlock(c->tls->lock);
    return 1;
}

/* Offer the session kept for @p c's server, if any. */
static void tls_resume(lf_conn_t *c)
{
    lf_tls_session_t *slot;

    apr_thread_mutex_lock(c->tls->lock);
    if ((slot = tls_slot(c->tls, c->key)) != NULL) {
        SSL_set_session(c->ssl, slot->session); /* takes a reference of its own */
    }
    apr_thread_mutex_unlock(c->tls->lock);
}

static apr_status_t tls_cleanup(void *data)
{
    lf_tls_t *tls = data;
    unsigned i;

    for (i = 0; i < LF_TLS_SESSIONS; i++) {
        if (tls->sessions[i].session) {
            SSL_SESSION_free(tls->sessions[i].session);
            tls->sessions[i].session = NULL;
        }
    }
    SSL_CTX_free(tls->ctx);
    return APR_SUCCESS;
}

/* The reason of the first error in the thread's OpenSSL queue, or @p none. */
static const char *ssl_reason(const char *none)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;

    return reason ? reason : none;
}

apr_status_t lf_tls_create(lf_tls_t **out, const char *ca_file, const char **why, apr_pool_t *p)
{
    lf_tls_t *tls = apr_pcalloc(p, sizeof(*tls));
    int ok;

    *out = NULL;
    ERR_clear_error();
    if (!(tls->ctx = SSL_CTX_new(TLS_client_method()))) {
        *why = "out of memory";
        return APR_ENOMEM;
    }
    if (apr_thread_mutex_create(&tls->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        SSL_CTX_free(tls->ctx);
        *why = "cannot create a mutex";
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, tls, tls_cleanup, apr_pool_cleanup_null);
    SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(tls->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* one read() for a record's header and body, and for several records: without it every
     * reply costs two system calls (tests/bench/session.sh) */
    SSL_CTX_set_read_ahead(tls->ctx, 1);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* a server that closes without close_notify (most do, when idle) is an end of file */
    SSL_CTX_set_options(tls->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_session_cache_mode(tls->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(tls->ctx, tls_new_session);
    ok = ca_file ? SSL_CTX_load_verify_locations(tls->ctx, ca_file, NULL)
                 : SSL_CTX_set_default_verify_paths(tls->ctx);
    if (!ok) {
        *why = apr_psprintf(p, "cannot load the CA file %s: %s", ca_file ? ca_file : "(system)",
                            ssl_reason("no certificate in it"));
        ERR_clear_error();
        return APR_EINVAL;
    }
    *out = tls;
    return APR_SUCCESS;
}

/* --- the connection ------------------------------------------------------------------------- */

/* Wait until @p fd is ready for @p events, at the latest until @p deadline. */
static apr_status_t conn_wait(int fd, short events, apr_time_t deadline)
{
    for (;;) {
        apr_time_t now = apr_time_now();
        struct pollfd pfd = {fd, events, 0};
        int n = poll(&pfd, 1, deadline > now ? (int)((deadline - now + 999) / 1000) : 0);

        if (n > 0) {
            return APR_SUCCESS; /* ready, or an error the next call will meet */
        }
        if (n == 0) {
            return APR_TIMEUP;
        }
        if (errno != EINTR) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
}

/* A non-blocking socket connected to one of @p host's addresses, or -1 with the error set. */
static int conn_socket(apr_status_t *rv, lf_conn_t *c, const char *host, apr_port_t port,
                       apr_time_t deadline)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[8], errbuf[96];
    int fd = -1, e;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    apr_snprintf(service, sizeof(service), "%u", (unsigned)port);
    if ((e = getaddrinfo(host, service, &hints, &res)) != 0) {
        conn_err(c, "cannot resolve %s: %s", host, gai_strerror(e));
        *rv = APR_ECONNREFUSED;
        return -1;
    }
    *rv = APR_ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        int one = 1, soerr = 0;
        socklen_t len = sizeof(soerr);

        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *rv = APR_FROM_OS_ERROR(errno);
            conn_err(c, "socket: %s", apr_strerror(*rv, errbuf, sizeof(errbuf)));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            soerr = 0;
        }
        else if (errno != EINPROGRESS) {
            soerr = errno;
        }
        else if ((*rv = conn_wait(fd, POLLOUT, deadline)) != APR_SUCCESS) {
            conn_err(c, "connect: timed out");
            close(fd);
            fd = -1;
            break; /* the time is up for every other address too */
        }
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
            soerr = errno;
        }
        if (!soerr) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            *rv = APR_SUCCESS;
            break;
        }
        *rv = soerr == ETIMEDOUT ? APR_TIMEUP : APR_ECONNREFUSED;
        conn_err(c, "connect: %s", apr_strerror(APR_FROM_OS_ERROR(soerr), errbuf, sizeof(errbuf)));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && !c->err[0]) {
        conn_err(c, "cannot resolve %s: no address", host);
    }
    return fd;
}

/* Whether @p host is an IP address rather than a name. */
static int is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * Handle the result @p r of an SSL call during @p what: wait for the socket when OpenSSL wants
 * it (APR_EAGAIN: call again), else answer the failure with its reason.
 */
static apr_status_t conn_ssl_result(lf_conn_t *c, int r, const char *what, apr_time_t deadline)
{
    int e = SSL_get_error(c->ssl, r), err = errno;
    long verify;
    char errbuf[96];
    apr_status_t rv;

    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        rv = conn_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (rv == APR_SUCCESS) {
            return APR_EAGAIN;
        }
        conn_err(c, "%s: timed out", what);
        break;
    case SSL_ERROR_ZERO_RETURN:
        conn_err(c, "%s: the server closed the connection", what);
        rv = APR_EOF;
        break;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error()) {
            conn_err(c, "%s: %s", what, ssl_reason("TLS error"));
            rv = APR_EGENERAL;
        }
        else if (!err) {
            conn_err(c, "%s: the server closed the connection", what);
            rv = APR_EOF;
        }
        else {
            rv = APR_FROM_OS_ERROR(err);
            conn_err(c, "%s: %s", what, apr_strerror(rv, errbuf, sizeof(errbuf)));
            rv = APR_ECONNRESET;
        }
        break;
    default:
        if ((verify = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
            conn_err(c, "%s: certificate verify failed (%s)", what,
                     X509_verify_cert_error_string(verify));
        }
        else {
            conn_err(c, "%s: %s", what, ssl_reason("TLS error"));
        }
        rv = APR_EGENERAL;
        break;
    }
    c->broken = 1;
    ERR_clear_error();
    return rv;
}

static apr_status_t conn_handshake(lf_conn_t *c, const char *host, apr_time_t deadline)
{
    apr_status_t rv;
    int r;

    if (!(c->ssl = SSL_new(c->tls->ctx)) || !SSL_set_fd(c->ssl, c->fd)) {
        conn_err(c, "out of memory");
        return APR_ENOMEM;
    }
    SSL_set_app_data(c->ssl, c);
    if (is_ip(host)) {
        /* no SNI for an address (RFC 6066); the certificate must name it in an IP SAN */
        r = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
    }
    else {
        r = SSL_set_tlsext_host_name(c->ssl, host) && SSL_set1_host(c->ssl, host);
    }
    if (!r) {
        conn_err(c, "TLS: cannot check the name %s", host);
        return APR_EGENERAL;
    }
    tls_resume(c);
    do {
        ERR_clear_error();
        r = SSL_connect(c->ssl);
        rv = r == 1 ? APR_SUCCESS : conn_ssl_result(c, r, "TLS handshake", deadline);
    } while (rv == APR_EAGAIN);
    if (rv == APR_EOF) {
        rv = APR_EGENERAL; /* a server that closes during the handshake refuses TLS */
    }
    if (rv == APR_SUCCESS) {
        apr_snprintf(c->info, sizeof(c->info), "%s, %s", SSL_get_version(c->ssl),
                     SSL_session_reused(c->ssl) ? "resumed" : "full handshake");
    }
    return rv;
}

apr_status_t lf_conn_open(lf_conn_t **out, const char *host, apr_port_t port, lf_tls_t *tls,
                          apr_interval_time_t connect_timeout, apr_interval_time_t io_timeout)
{
    apr_time_t deadline = apr_time_now() + connect_timeout;
    lf_conn_t *c = calloc(1, sizeof(*c));
    apr_status_t rv;

    if (!(*out = c)) {
        return APR_ENOMEM;
    }
    c->tls = tls;
    c->io_timeout = io_timeout;
    apr_snprintf(c->key, sizeof(c->key), "%s:%u", host, (unsigned)port);
    if ((c->fd = conn_socket(&rv, c, host, port, deadline)) < 0) {
        c->broken = 1;
        return rv;
    }
    if (tls && (rv = conn_handshake(c, host, deadline)) != APR_SUCCESS) {
        c->broken = 1;
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t lf_conn_write(lf_conn_t *c, const void *buf, apr_size_t len)
{
    apr_time_t deadline = apr_time_now() + c->io_timeout;
    const char *s = buf;
    char errbuf[96];
    apr_status_t rv;

    c->err[0] = '\0';
    while (len > 0) {
        size_t n = 0;

        if (c->ssl) {
            int r;

            ERR_clear_error();
            if ((r = SSL_write_ex(c->ssl, s, len, &n)) != 1) {
                if ((rv = conn_ssl_result(c, r, "write", deadline)) == APR_EAGAIN) {
                    continue;
                }
                return rv == APR_EOF ? APR_ECONNRESET : rv;
            }
        }
        else {
            ssize_t r = send(c->fd, s, len, MSG_NOSIGNAL);

            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if (conn_wait(c->fd, POLLOUT, deadline) != APR_SUCCESS) {
                        conn_err(c, "write: timed out");
                        c->broken = 1;
                        return APR_TIMEUP;
                    }
                    continue;
                }
                conn_err(c, "write: %s",
                         apr_strerror(APR_FROM_OS_ERROR(errno), errbuf, sizeof(errbuf)));
                c->broken = 1;
                return APR_ECONNRESET;
            }
            n = (size_t)r;
        }
        s += n;
        len -= n;
    }
    return APR_SUCCESS;
}

/* The most bytes gathered into one write: one TLS record's payload. */
#define LF_CONN_GATHER 16384

apr_status_t lf_conn_writev(lf_conn_t *c, const struct iovec *iov, int n)
{
    char buf[LF_CONN_GATHER];
    apr_size_t total = 0, o = 0;
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; i < n; i++) {
        total += iov[i].iov_len;
    }
    if (n == 1 || total > sizeof(buf)) {
        for (i = 0; i < n && rv == APR_SUCCESS; i++) {
            rv = lf_conn_write(c, iov[i].iov_base, iov[i].iov_len);
        }
        return rv;
    }
    for (i = 0; i < n; i++) {
        memcpy(buf + o, iov[i].iov_base, iov[i].iov_len);
        o += iov[i].iov_len;
    }
    return lf_conn_write(c, buf, total);
}

apr_status_t lf_conn_read(lf_conn_t *c, void *buf, apr_size_t *len)
{
    apr_time_t deadline = apr_time_now() + c->io_timeout;
    char errbuf[96];
    apr_status_t rv;

    c->err[0] = '\0';
    for (;;) {
        if (c->ssl) {
            size_t n = 0;
            int r;

            ERR_clear_error();
            if ((r = SSL_read_ex(c->ssl, buf, *len, &n)) == 1) {
                *len = n;
                return APR_SUCCESS;
            }
            if ((rv = conn_ssl_result(c, r, "read", deadline)) != APR_EAGAIN) {
                *len = 0;
                return rv;
            }
        }
        else {
            ssize_t r = recv(c->fd, buf, *len, 0);

            if (r > 0) {
                *len = (apr_size_t)r;
                return APR_SUCCESS;
            }
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (conn_wait(c->fd, POLLIN, deadline) == APR_SUCCESS) {
                    continue;
                }
                conn_err(c, "read: timed out");
                rv = APR_TIMEUP;
            }
            else if (r == 0) {
                conn_err(c, "read: the server closed the connection");
                rv = APR_EOF;
            }
            else {
                conn_err(c, "read: %s",
                         apr_strerror(APR_FROM_OS_ERROR(errno), errbuf, sizeof(errbuf)));
                rv = APR_ECONNRESET;
            }
            *len = 0;
            c->broken = 1;
            return rv;
        }
    }
}

int lf_conn_idle_alive(lf_conn_t *c)
{
    int i;

    if (c->broken || c->fd < 0) {
        return 0;
    }
    if (!c->ssl) {
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    /* what arrived is TLS records: session tickets are fine, data or an end are not. With
     * read-ahead, records may wait in OpenSSL's buffer rather than in the socket */
    for (i = 0; i < 8; i++) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        size_t n = 0;
        char b;
        int r;

        if (!SSL_has_pending(c->ssl) && poll(&pfd, 1, 0) == 0) {
            return 1;
        }
        ERR_clear_error();
        r = SSL_read_ex(c->ssl, &b, 1, &n);
        if (r == 1 || SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            c->broken = 1;
            return 0;
        }
    }
    return 0;
}

const char *lf_conn_error(const lf_conn_t *c)
{
    return c->err;
}

const char *lf_conn_tls_info(const lf_conn_t *c)
{
    return c->ssl && c->info[0] ? c->info : NULL;
}

void lf_conn_close(lf_conn_t *c)
{
    if (!c) {
        return;
    }
    if (c->ssl) {
        ERR_clear_error();
        if (!c->broken) {
            SSL_shutdown(c->ssl); /* close_notify, once, without waiting for the server's */
        }
        else {
            /* SSL_free() takes a session whose connection was not shut down for a bad one and
             * makes it unresumable, also in our cache: but an end of file, a timeout or a reset
             * say nothing against the session (a fatal TLS alert has removed it already) */
            SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        }
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
}
