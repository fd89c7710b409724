/* Unit tests of the client connection (modules/common/lf_conn.c), TCP and TLS, against a server
 * thread of the test itself (OpenSSL's own server side, not a stand-in for a product) whose
 * certificates the test makes: a CA, server certificates for 127.0.0.1 and localhost, for
 * another name, and one that has expired. What is checked is what a driver sees: the bytes, the
 * status, the error text with the reason, the wait bounded by the timeouts, and a reconnect that
 * resumes the TLS session. Redis over TLS with a real redis-server is tested in
 * tests/integration. */
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lf_conn.h"

#define MS(n) ((apr_interval_time_t)(n)*1000)

/* --- certificates ------------------------------------------------------------------------- */

typedef struct {
    EVP_PKEY *key;
    X509 *crt;
} cert_t;

/* A certificate for @p cn with @p san (NULL: a CA), valid from @p from to @p to days from now,
 * signed by @p ca (NULL: by itself). */
static cert_t make_cert(const char *cn, const char *san, long from, long to, const cert_t *ca)
{
    static long serial = 1;
    cert_t c;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    X509_NAME *name;

    c.key = EVP_EC_gen("P-256");
    c.crt = X509_new();
    assert_non_null(c.key);
    assert_non_null(c.crt);
    X509_set_version(c.crt, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.crt), serial++);
    X509_gmtime_adj(X509_getm_notBefore(c.crt), from * 86400);
    X509_gmtime_adj(X509_getm_notAfter(c.crt), to * 86400);
    X509_set_pubkey(c.crt, c.key);
    name = X509_get_subject_name(c.crt);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c.crt, ca ? X509_get_subject_name(ca->crt) : name);
    X509V3_set_ctx(&ctx, ca ? ca->crt : c.crt, c.crt, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, san ? NID_subject_alt_name : NID_basic_constraints,
                              san ? san : "critical,CA:TRUE");
    assert_non_null(ext);
    X509_add_ext(c.crt, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(c.crt, ca ? ca->key : c.key, EVP_sha256()) > 0);
    return c;
}

static void free_cert(cert_t *c)
{
    EVP_PKEY_free(c->key);
    X509_free(c->crt);
}

/* The certificate of @p c in a PEM file. */
static const char *pem_file(const cert_t *c, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *s;
    long n;

    PEM_write_bio_X509(b, c->crt);
    n = BIO_get_mem_data(b, &data);
    s = apr_pstrmemdup(p, data, (apr_size_t)n);
    BIO_free(b);
    return unit_write_temp(p, s);
}

/* --- the server thread -------------------------------------------------------------------- */

typedef enum {
    SRV_ECHO,      /* answer each read with the same bytes */
    SRV_STALL,     /* accept, then only read: no handshake, no answer */
    SRV_SILENT,    /* handshake, then only read */
    SRV_ONE,       /* echo once, then close */
    SRV_REDIS_ERR, /* answer anything with a plain-text redis error, then close */
} srv_mode_e;

typedef struct {
    int lfd;
    apr_port_t port;
    SSL_CTX *ctx; /* NULL: plain TCP */
    srv_mode_e mode;
    pthread_t tid;
    volatile int stop;
    int accepted;
} srv_t;

static void srv_serve(srv_t *s, int fd)
{
    SSL *ssl = NULL;
    char buf[4096];
    int n;

    if (s->ctx && s->mode != SRV_STALL) {
        ssl = SSL_new(s->ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1) {
            goto done; /* the client refused the certificate */
        }
    }
    for (;;) {
        n = ssl ? SSL_read(ssl, buf, sizeof(buf)) : (int)recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            break;
        }
        if (s->mode == SRV_STALL || s->mode == SRV_SILENT) {
            continue;
        }
        if (s->mode == SRV_REDIS_ERR) {
            send(fd, "-ERR unknown command\r\n", 22, MSG_NOSIGNAL);
            break;
        }
        if ((ssl ? SSL_write(ssl, buf, n) : (int)send(fd, buf, (size_t)n, MSG_NOSIGNAL)) != n
            || s->mode == SRV_ONE) {
            break;
        }
    }
done:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    close(fd);
}

static void *srv_run(void *arg)
{
    srv_t *s = arg;

    while (!s->stop) {
        struct pollfd pfd = {s->lfd, POLLIN, 0};
        int fd;

        if (poll(&pfd, 1, 50) <= 0 || (fd = accept(s->lfd, NULL, NULL)) < 0) {
            continue;
        }
        s->accepted++;
        srv_serve(s, fd);
    }
    return NULL;
}

/* A server on 127.0.0.1 with @p cert (NULL: plain TCP), one connection at a time. */
static srv_t *srv_start(const cert_t *cert, srv_mode_e mode, apr_pool_t *p)
{
    srv_t *s = apr_pcalloc(p, sizeof(*s));
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int one = 1;

    s->mode = mode;
    if (cert) {
        s->ctx = SSL_CTX_new(TLS_server_method());
        assert_int_equal(SSL_CTX_use_certificate(s->ctx, cert->crt), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, cert->key), 1);
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->tid, NULL, srv_run, s), 0);
    return s;
}

static void srv_stop(srv_t *s)
{
    s->stop = 1;
    pthread_join(s->tid, NULL);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
}

/* --- the tests ---------------------------------------------------------------------------- */

typedef struct {
    cert_t ca, other_ca, server, other_name, expired;
} certs_t;

static certs_t certs;

static void make_certs(void)
{
    certs.ca = make_cert("lampfarm unit CA", NULL, -1, 2, NULL);
    certs.other_ca = make_cert("another CA", NULL, -1, 2, NULL);
    certs.server = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", -1, 2, &certs.ca);
    certs.other_name = make_cert("other.example", "DNS:other.example", -1, 2, &certs.ca);
    certs.expired = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", -3, -1, &certs.ca);
}

static void free_certs(void)
{
    free_cert(&certs.ca);
    free_cert(&certs.other_ca);
    free_cert(&certs.server);
    free_cert(&certs.other_name);
    free_cert(&certs.expired);
}

static lf_tls_t *tls_with(const cert_t *ca, apr_pool_t *p)
{
    lf_tls_t *tls;
    const char *why = NULL;

    assert_int_equal(lf_tls_create(&tls, ca ? pem_file(ca, p) : NULL, &why, p), APR_SUCCESS);
    return tls;
}

/* Send @p text and read it back. */
static void echo(lf_conn_t *c, const char *text)
{
    char buf[64];
    apr_size_t got = 0, len;

    assert_int_equal(lf_conn_write(c, text, strlen(text)), APR_SUCCESS);
    while (got < strlen(text)) {
        len = sizeof(buf) - got;
        assert_int_equal(lf_conn_read(c, buf + got, &len), APR_SUCCESS);
        got += len;
    }
    assert_memory_equal(buf, text, strlen(text));
}

static void tcp_echo(void **state)
{
    srv_t *s = srv_start(NULL, SRV_ECHO, *state);
    lf_conn_t *c;

    assert_int_equal(lf_conn_open(&c, "127.0.0.1", s->port, NULL, MS(1000), MS(1000)), APR_SUCCESS);
    echo(c, "PING\r\n");
    assert_null(lf_conn_tls_info(c));
    assert_true(lf_conn_idle_alive(c));
    assert_string_equal(lf_conn_error(c), "");
    lf_conn_close(c);
    srv_stop(s);
}

/* Pieces sent together (one record) or, past a record's size, one after the other: the server
 * gets every byte in order either way. */
static void writev_pieces(void **state)
{
    srv_t *s = srv_start(&certs.server, SRV_ECHO, *state);
    lf_tls_t *tls = tls_with(&certs.ca, *state);
    static char big[40000], back[sizeof(big) + 16];
    struct iovec iov[3];
    apr_size_t got = 0, len, i;
    lf_conn_t *c;

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (char)('a' + i % 26);
    }
    assert_int_equal(lf_conn_open(&c, "127.0.0.1", s->port, tls, MS(1000), MS(1000)), APR_SUCCESS);
    iov[0].iov_base = (void *)"PI";
    iov[0].iov_len = 2;
    iov[1].iov_base = (void *)"NG";
    iov[1].iov_len = 2;
    iov[2].iov_base = (void *)"\r\n";
    iov[2].iov_len = 2;
    assert_int_equal(lf_conn_writev(c, iov, 3), APR_SUCCESS);
    iov[1].iov_base = big;
    iov[1].iov_len = sizeof(big);
    assert_int_equal(lf_conn_writev(c, iov, 3), APR_SUCCESS);
    while (got < 6 + 4 + sizeof(big)) {
        char buf[16384];

        len = sizeof(buf);
        assert_int_equal(lf_conn_read(c, buf, &len), APR_SUCCESS);
        if (got < 6) {
            assert_memory_equal(buf, "PING\r\n", len < 6 - got ? len : 6 - got);
        }
        memcpy(back + (got > 6 ? got - 6 : 0), buf + (got < 6 ? 6 - got : 0),
               len - (got < 6 ? 6 - got : 0));
        got += len;
    }
    assert_memory_equal(back, "PI", 2);
    assert_memory_equal(back + 2, big, sizeof(big));
    assert_memory_equal(back + 2 + sizeof(big), "\r\n", 2);
    lf_conn_close(c);
    srv_stop(s);
}

/* A reconnect resumes the session of the connection before, by address and by name. */
static void tls_echo_and_resume(void **state)
{
    srv_t *s = srv_start(&certs.server, SRV_ECHO, *state);
    lf_tls_t *tls = tls_with(&certs.ca, *state);
    const char *hosts[] = {"127.0.0.1", "localhost"};
    lf_conn_t *c;
    int i;

    for (i = 0; i < 2; i++) {
        assert_int_equal(lf_conn_open(&c, hosts[i], s->port, tls, MS(1000), MS(1000)), APR_SUCCESS);
        assert_string_equal(lf_conn_tls_info(c), "TLSv1.3, full handshake");
        echo(c, "PING\r\n"); /* the session tickets come with it */
        assert_true(lf_conn_idle_alive(c));
        lf_conn_close(c);

        assert_int_equal(lf_conn_open(&c, hosts[i], s->port, tls, MS(1000), MS(1000)), APR_SUCCESS);
        assert_string_equal(lf_conn_tls_info(c), "TLSv1.3, resumed");
        echo(c, "GET k\r\n");
        lf_conn_close(c);
    }
    srv_stop(s);
}

/* What each bad certificate gives: the status, and the reason in the error. */
static void tls_certificate_refused(void **state)
{
    static const struct {
        const char *host;
        int server; /* 0: server, 1: other_name, 2: expired */
        int trust;  /* 0: the CA, 1: another CA, 2: the system's store */
        const char *reason;
    } cases[] = {
        {"127.0.0.1", 0, 1, "certificate verify failed (unable to get local issuer certificate)"},
        {"127.0.0.1", 0, 2, "certificate verify failed (unable to get local issuer certificate)"},
        {"127.0.0.1", 1, 0, "certificate verify failed (IP address mismatch)"},
        {"localhost", 1, 0, "certificate verify failed (hostname mismatch)"},
        {"127.0.0.1", 2, 0, "certificate verify failed (certificate has expired)"},
    };
    const cert_t *servers[] = {&certs.server, &certs.other_name, &certs.expired};
    lf_tls_t *trust[] = {tls_with(&certs.ca, *state), tls_with(&certs.other_ca, *state),
                         tls_with(NULL, *state)};
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        srv_t *s = srv_start(servers[cases[i].server], SRV_ECHO, *state);
        lf_conn_t *c;

        assert_int_equal(
            lf_conn_open(&c, cases[i].host, s->port, trust[cases[i].trust], MS(1000), MS(1000)),
            APR_EGENERAL);
        assert_non_null(strstr(lf_conn_error(c), cases[i].reason));
        assert_true(!strncmp(lf_conn_error(c), "TLS handshake: ", 15));
        assert_false(lf_conn_idle_alive(c));
        lf_conn_close(c);
        srv_stop(s);
    }
}

/* A server that accepts and never answers the handshake costs the connect timeout, no more. */
static void tls_handshake_stalls(void **state)
{
    srv_t *s = srv_start(&certs.server, SRV_STALL, *state);
    lf_tls_t *tls = tls_with(&certs.ca, *state);
    apr_time_t t = apr_time_now();
    lf_conn_t *c;

    assert_int_equal(lf_conn_open(&c, "127.0.0.1", s->port, tls, MS(200), MS(5000)), APR_TIMEUP);
    t = apr_time_now() - t;
    assert_true(t >= MS(190) && t < MS(2000));
    assert_string_equal(lf_conn_error(c), "TLS handshake: timed out");
    lf_conn_close(c);
    srv_stop(s);
}

/* TLS to a server that speaks plain text (a redis without TLS on that port). */
static void tls_to_plain_server(void **state)
{
    srv_t *s = srv_start(NULL, SRV_REDIS_ERR, *state);
    lf_tls_t *tls = tls_with(&certs.ca, *state);
    lf_conn_t *c;

    assert_int_equal(lf_conn_open(&c, "127.0.0.1", s->port, tls, MS(1000), MS(1000)), APR_EGENERAL);
    assert_non_null(strstr(lf_conn_error(c), "TLS handshake: wrong version number"));
    lf_conn_close(c);
    srv_stop(s);
}

static void connection_refused(void **state)
{
    srv_t *s = srv_start(NULL, SRV_ECHO, *state);
    apr_port_t port = s->port;
    lf_conn_t *c;

    srv_stop(s); /* nothing listens on the port any more */
    assert_int_equal(lf_conn_open(&c, "127.0.0.1", port, NULL, MS(1000), MS(1000)),
                     APR_ECONNREFUSED);
    assert_string_equal(lf_conn_error(c), "connect: Connection refused");
    lf_conn_close(c);
    assert_int_equal(lf_conn_open(&c, "no-such-host.invalid", port, NULL, MS(1000), MS(1000)),
                     APR_ECONNREFUSED);
    assert_true(!strncmp(lf_conn_error(c), "cannot resolve no-such-host.invalid: ", 37));
    lf_conn_close(c);
}

/* A read waits the I/O timeout for a server that does not answer; an end is APR_EOF. */
static void read_timeout_and_end(void **state)
{
    srv_t *silent = srv_start(&certs.server, SRV_SILENT, *state);
    lf_tls_t *tls = tls_with(&certs.ca, *state);
    apr_time_t t;
    apr_size_t len;
    lf_conn_t *c;
    char buf[16];
    srv_t *one;
    int i;

    assert_int_equal(lf_conn_open(&c, "127.0.0.1", silent->port, tls, MS(1000), MS(200)),
                     APR_SUCCESS);
    assert_int_equal(lf_conn_write(c, "PING\r\n", 6), APR_SUCCESS);
    len = sizeof(buf);
    t = apr_time_now();
    assert_int_equal(lf_conn_read(c, buf, &len), APR_TIMEUP);
    t = apr_time_now() - t;
    assert_true(t >= MS(190) && t < MS(2000));
    assert_int_equal(len, 0);
    assert_string_equal(lf_conn_error(c), "read: timed out");
    assert_false(lf_conn_idle_alive(c)); /* a reply may still come: not to be reused */
    lf_conn_close(c);
    srv_stop(silent);

    for (i = 0; i < 2; i++) {
        one = srv_start(i ? &certs.server : NULL, SRV_ONE, *state);
        assert_int_equal(
            lf_conn_open(&c, "127.0.0.1", one->port, i ? tls : NULL, MS(1000), MS(1000)),
            APR_SUCCESS);
        echo(c, "PING\r\n");
        /* the server has closed, or is about to: the idle check sees it */
        t = apr_time_now() + MS(2000);
        while (lf_conn_idle_alive(c) && apr_time_now() < t) {
            apr_sleep(MS(5));
        }
        assert_false(lf_conn_idle_alive(c));
        len = sizeof(buf);
        assert_int_equal(lf_conn_read(c, buf, &len), APR_EOF);
        lf_conn_close(c);
        if (i) {
            /* a connection the server ended leaves its session resumable */
            assert_int_equal(lf_conn_open(&c, "127.0.0.1", one->port, tls, MS(1000), MS(1000)),
                             APR_SUCCESS);
            assert_string_equal(lf_conn_tls_info(c), "TLSv1.3, resumed");
            lf_conn_close(c);
        }
        srv_stop(one);
    }
}

static void bad_ca_file(void **state)
{
    lf_tls_t *tls = NULL;
    const char *why = NULL, *empty = unit_write_temp(*state, "not a certificate\n");

    assert_int_equal(lf_tls_create(&tls, empty, &why, *state), APR_EINVAL);
    assert_null(tls);
    assert_true(!strncmp(why, "cannot load the CA file ", 24));
    assert_non_null(strstr(why, empty));
    unlink(empty);
    assert_int_equal(lf_tls_create(&tls, "/nonexistent/ca.pem", &why, *state), APR_EINVAL);
    assert_non_null(strstr(why, "/nonexistent/ca.pem"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(tcp_echo),
        UNIT_TEST(tls_echo_and_resume),
        UNIT_TEST(writev_pieces),
        UNIT_TEST(tls_certificate_refused),
        UNIT_TEST(tls_handshake_stalls),
        UNIT_TEST(tls_to_plain_server),
        UNIT_TEST(connection_refused),
        UNIT_TEST(read_timeout_and_end),
        UNIT_TEST(bad_ca_file),
    };
    int failed;

    signal(SIGPIPE, SIG_IGN); /* as httpd's children do */
    make_certs();
    failed = UNIT_RUN("lf_conn", tests);
    free_certs();
    return failed;
}
