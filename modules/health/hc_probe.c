/* hc_probe — built-in check probes over libcurl (see hc_probe.h).
 *
 * libcurl rather than bare APR sockets: it resolves names with a timeout (getaddrinfo has none,
 * and an RDS endpoint is a DNS name), and the HTTP check gets TLS with verification for free.
 * The HTTP check is a request like any other of the project's: it goes through aws_http (the
 * one place that sets up curl for HTTP). The TCP and MySQL checks only open a connection, which
 * is not an HTTP request: they keep a connect-only handle of their own here.
 */
#include <poll.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "aws_http.h"
#include "aws_sigv4.h"
#include "hc_probe.h"

/* Enough for any greeting: we stop reading after the version string anyway. */
#define HC_MYSQL_GREETING_MAX 1024

static apr_status_t curl_handle_cleanup(void *data)
{
    curl_easy_cleanup(data);
    return APR_SUCCESS;
}

static long to_ms(apr_interval_time_t t)
{
    long ms = (long)(t / 1000);
    return ms > 0 ? ms : 1;
}

/* A connect-only curl handle, released with @p p. */
static CURL *probe_handle(const char *url, apr_interval_time_t timeout, char *errbuf, apr_pool_t *p)
{
    CURL *c = curl_easy_init();

    if (!c) {
        return NULL;
    }
    apr_pool_cleanup_register(p, c, curl_handle_cleanup, apr_pool_cleanup_null);
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* we run in a thread of httpd */
    /* A health check measures the dependency itself, never an HTTP proxy from the environment. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, to_ms(timeout));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, to_ms(timeout));
    /* No CURLOPT_FORBID_REUSE: with it curl detaches a connect-only handle's connection, and
     * CURLINFO_ACTIVESOCKET gives no socket. The connection is closed with the handle. */
    return c;
}

static apr_status_t curl_failure(const char **error, CURLcode rc, const char *errbuf, apr_pool_t *p)
{
    *error = apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return rc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP : APR_EGENERAL;
}

/* Open a connection only (no request), the socket left to the caller through @p c. */
static apr_status_t connect_only(CURL **out, const char **error, const char *host, apr_port_t port,
                                 apr_interval_time_t timeout, apr_pool_t *p)
{
    char errbuf[CURL_ERROR_SIZE];
    const char *url = apr_psprintf(p, strchr(host, ':') ? "http://[%s]:%u/" : "http://%s:%u/", host,
                                   (unsigned)port);
    CURL *c = probe_handle(url, timeout, errbuf, p);
    CURLcode rc;

    if (!c) {
        *error = "cannot create a curl handle";
        return APR_ENOMEM;
    }
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        return curl_failure(error, rc, errbuf, p);
    }
    *out = c;
    return APR_SUCCESS;
}

/* Close the connection now rather than when @p p is cleared (the next run, seconds later). */
static void close_now(CURL *c, apr_pool_t *p)
{
    apr_pool_cleanup_run(p, c, curl_handle_cleanup);
}

apr_status_t hc_probe_tcp(const char **error, const char *host, apr_port_t port,
                          apr_interval_time_t timeout, apr_pool_t *p)
{
    CURL *c;
    apr_status_t rv = connect_only(&c, error, host, port, timeout, p);

    if (rv == APR_SUCCESS) {
        close_now(c, p);
    }
    return rv;
}

apr_status_t hc_probe_mysql_parse(const char **version, const char **error,
                                  const unsigned char *buf, apr_size_t len, apr_pool_t *p)
{
    apr_size_t plen, end;

    if (len < 5) {
        return APR_INCOMPLETE;
    }
    plen = buf[0] | (buf[1] << 8) | ((apr_size_t)buf[2] << 16);
    if (buf[4] == 0xff) {
        /* ERR packet: 0xff, error code (2 bytes LE), optional '#' + SQLSTATE, message */
        apr_size_t msg = 7;
        unsigned code;
        if (len < 4 + plen && len < HC_MYSQL_GREETING_MAX) {
            return APR_INCOMPLETE;
        }
        if (plen < 3) {
            *error = "server sent a truncated error packet";
            return APR_EGENERAL;
        }
        code = buf[5] | (buf[6] << 8);
        if (plen >= 9 && buf[7] == '#') {
            msg = 13;
        }
        end = (4 + plen < len) ? 4 + plen : len;
        *error =
            apr_psprintf(p, "server refused the connection: %u %s", code,
                         msg < end ? apr_pstrmemdup(p, (const char *)buf + msg, end - msg) : "");
        return APR_EGENERAL;
    }
    if (buf[4] != 10) {
        *error = apr_psprintf(p, "not a MySQL greeting (protocol byte %u)", buf[4]);
        return APR_EGENERAL;
    }
    for (end = 5; end < len && end < 4 + plen; ++end) {
        if (!buf[end]) {
            *version = apr_pstrmemdup(p, (const char *)buf + 5, end - 5);
            return APR_SUCCESS;
        }
    }
    if (end >= 4 + plen || len >= HC_MYSQL_GREETING_MAX) {
        *error = "malformed MySQL greeting";
        return APR_EGENERAL;
    }
    return APR_INCOMPLETE;
}

/* Read until the greeting parses, fails, or @p deadline passes. */
static apr_status_t read_greeting(const char **version, const char **error, CURL *c,
                                  curl_socket_t sock, apr_time_t deadline,
                                  apr_interval_time_t timeout, apr_pool_t *p)
{
    unsigned char buf[HC_MYSQL_GREETING_MAX];
    apr_size_t got = 0, n;
    struct pollfd pfd;
    apr_status_t rv;
    CURLcode rc;

    for (;;) {
        apr_interval_time_t left = deadline - apr_time_now();
        if (left <= 0) {
            *error = apr_psprintf(p, "no greeting within %" APR_TIME_T_FMT " ms",
                                  (apr_time_t)(timeout / 1000));
            return APR_TIMEUP;
        }
        pfd.fd = sock;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int)to_ms(left)) <= 0) {
            continue; /* timeout (re-checked above) or EINTR */
        }
        rc = curl_easy_recv(c, buf + got, sizeof(buf) - got, &n);
        if (rc == CURLE_AGAIN) {
            continue;
        }
        if (rc != CURLE_OK) {
            *error = apr_pstrdup(p, curl_easy_strerror(rc));
            return APR_EGENERAL;
        }
        if (n == 0) {
            *error = "connection closed before the greeting";
            return APR_EOF;
        }
        got += n;
        rv = hc_probe_mysql_parse(version, error, buf, got, p);
        if (rv != APR_INCOMPLETE) {
            return rv;
        }
    }
}

apr_status_t hc_probe_mysql(const char **version, const char **error, const char *host,
                            apr_port_t port, apr_interval_time_t timeout, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + timeout;
    curl_socket_t sock;
    apr_status_t rv;
    CURL *c;

    rv = connect_only(&c, error, host, port, timeout, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK || sock == CURL_SOCKET_BAD) {
        *error = "no socket after connect";
        rv = APR_EGENERAL;
    }
    else {
        rv = read_greeting(version, error, c, sock, deadline, timeout, p);
    }
    close_now(c, p);
    return rv;
}

apr_status_t hc_probe_http(const char **error, const char *url, int expect, const char *ca_file,
                           apr_interval_time_t timeout, apr_pool_t *p)
{
    aws_http_response_t *resp;
    aws_http_client_t *client;
    aws_http_request_t req;
    aws_http_config_t cfg;
    aws_sigv4_header_t *ua;
    apr_status_t rv;

    /* Once, within the timeout, on a connection of its own (each run measures a fresh one),
     * never through an HTTP proxy from the environment (a health check measures the dependency
     * itself); TLS verified (aws_http never turns it off), redirects not followed. */
    aws_http_config_once(&cfg, timeout);
    cfg.ca_file = ca_file;
    cfg.max_body = 1; /* the body is not looked at */
    if ((rv = aws_http_client_create(&client, &cfg, p)) != APR_SUCCESS) {
        *error = "cannot create an HTTP client";
        return rv;
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.headers = apr_array_make(p, 1, sizeof(aws_sigv4_header_t));
    ua = apr_array_push(req.headers);
    ua->name = "User-Agent";
    ua->value = "lampfarm-health/1";
    if ((rv = aws_http_perform(&resp, client, &req, p)) != APR_SUCCESS) {
        *error = resp->transport_error;
        return rv;
    }
    if (resp->status != expect) {
        *error = apr_psprintf(p, "HTTP status %d, expected %d", resp->status, expect);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Enough of a CA file to find its first certificate; a bundle may hold a long comment first. */
#define HC_CA_FILE_PEEK (64 * 1024)

apr_status_t hc_probe_ca_file_check(const char **why, const char *path, apr_pool_t *p)
{
    apr_size_t len = HC_CA_FILE_PEEK;
    char *buf = apr_palloc(p, HC_CA_FILE_PEEK + 1), err[128];
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_read_full(f, buf, len, &len);
        apr_file_close(f);
        if (rv == APR_EOF) {
            rv = APR_SUCCESS; /* shorter than the peek: an empty file is caught below */
        }
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot read it (%s)", apr_strerror(rv, err, sizeof(err)));
        return rv;
    }
    buf[len] = '\0';
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        *why = "no PEM certificate in it";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t hc_probe_dir_check(const char **why, const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    const char *dir = !slash ? "." : slash == path ? "/" : apr_pstrmemdup(p, path, slash - path);
    apr_finfo_t finfo;
    apr_status_t rv = apr_stat(&finfo, dir, APR_FINFO_TYPE, p);

    if (rv == APR_SUCCESS && finfo.filetype != APR_DIR) {
        rv = APR_ENOTDIR;
    }
    else if (rv == APR_SUCCESS && access(dir, R_OK | X_OK) != 0) {
        rv = APR_EACCES;
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot read directory of '%s'", path);
    }
    return rv;
}

apr_status_t hc_probe_file(const char **error, const char *path, int want_present, apr_pool_t *p)
{
    apr_finfo_t finfo;
    apr_status_t rv = apr_stat(&finfo, path, APR_FINFO_TYPE, p);
    char err[128];

    if (rv == APR_SUCCESS || rv == APR_INCOMPLETE) {
        if (want_present) {
            return APR_SUCCESS;
        }
        *error = apr_psprintf(p, "%s exists", path);
        return APR_EEXIST;
    }
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        if (!want_present) {
            return APR_SUCCESS;
        }
        *error = apr_psprintf(p, "%s does not exist", path);
        return APR_ENOENT;
    }
    *error = apr_psprintf(p, "cannot stat %s: %s", path, apr_strerror(rv, err, sizeof(err)));
    return rv;
}
