/* Unit tests of modules/health/hc_probe.c: the MySQL greeting parser (on captured packet bytes),
 * the file probe, and the HTTP probe (through aws_http) against the scripted server of
 * unit_http.h on 127.0.0.1. The TCP and MySQL probes against real servers, and https, are
 * covered by the integration tests. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "unit_http.h"

#include <apr_strings.h>
#include <curl/curl.h>

#include "hc_probe.h"

/* A MariaDB 10.11 greeting, truncated after the version string (all the parser reads). */
static const unsigned char greeting[] = {
    0x5a, 0x00, 0x00, 0x00, 0x0a, '5', '.', '5', '.', '5', '-',  '1',  '0',  '.',  '1', '1',
    '.',  '6',  '-',  'M',  'a',  'r', 'i', 'a', 'D', 'B', 0x00, 0x08, 0x00, 0x00, 0x00};

/* ERR 1040 "Too many connections", with SQLSTATE */
static const unsigned char too_many[] = {
    0x1d, 0x00, 0x00, 0x00, 0xff, 0x10, 0x04, '#', '0', '8', '0', '0', '4', 'T', 'o', 'o', ' ',
    'm',  'a',  'n',  'y',  ' ',  'c',  'o',  'n', 'n', 'e', 'c', 't', 'i', 'o', 'n', 's'};

static void parses_version(void **state)
{
    apr_pool_t *p = *state;
    const char *version = NULL, *error = NULL;

    assert_int_equal(hc_probe_mysql_parse(&version, &error, greeting, sizeof(greeting), p),
                     APR_SUCCESS);
    assert_string_equal(version, "5.5.5-10.11.6-MariaDB");
}

static void needs_more_bytes(void **state)
{
    apr_pool_t *p = *state;
    const char *version = NULL, *error = NULL;
    apr_size_t n;

    /* every prefix that ends before the version's NUL asks for more */
    for (n = 0; n < 26; ++n) {
        assert_int_equal(hc_probe_mysql_parse(&version, &error, greeting, n, p), APR_INCOMPLETE);
    }
}

static void error_packet(void **state)
{
    apr_pool_t *p = *state;
    const char *version = NULL, *error = NULL;

    assert_int_equal(hc_probe_mysql_parse(&version, &error, too_many, sizeof(too_many), p),
                     APR_EGENERAL);
    assert_string_equal(error, "server refused the connection: 1040 Too many connections");
    assert_int_equal(hc_probe_mysql_parse(&version, &error, too_many, 10, p), APR_INCOMPLETE);
}

static void not_mysql(void **state)
{
    apr_pool_t *p = *state;
    const char *version = NULL, *error = NULL;
    static const unsigned char http[] = "HTTP/1.1 400 Bad Request\r\n";
    static const unsigned char no_nul[] = {0x03, 0x00, 0x00, 0x00, 0x0a, '5', '.'};

    assert_int_equal(hc_probe_mysql_parse(&version, &error, http, sizeof(http) - 1, p),
                     APR_EGENERAL);
    assert_non_null(strstr(error, "not a MySQL greeting"));
    assert_int_equal(hc_probe_mysql_parse(&version, &error, no_nul, sizeof(no_nul), p),
                     APR_EGENERAL);
    assert_string_equal(error, "malformed MySQL greeting");
}

static void file_present_and_absent(void **state)
{
    apr_pool_t *p = *state;
    char path[] = "/tmp/hc-probe-XXXXXX";
    const char *error = NULL;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hc_probe_file(&error, path, 1, p), APR_SUCCESS);
    assert_int_not_equal(hc_probe_file(&error, path, 0, p), APR_SUCCESS);
    assert_non_null(strstr(error, "exists"));
    unlink(path);
    assert_int_equal(hc_probe_file(&error, path, 0, p), APR_SUCCESS);
    assert_int_not_equal(hc_probe_file(&error, path, 1, p), APR_SUCCESS);
    assert_non_null(strstr(error, "does not exist"));
}

/* cafile= of the http check: a readable file holding a PEM certificate, or a clear reason. */
static void ca_file_checked(void **state)
{
    apr_pool_t *p = *state;
    const char *why = NULL;
    const char *good = unit_write_temp(p, "# a private CA\n-----BEGIN CERTIFICATE-----\nMIIB\n"
                                          "-----END CERTIFICATE-----\n");
    const char *junk = unit_write_temp(p, "not a certificate\n");
    const char *empty = unit_write_temp(p, "");

    assert_int_equal(hc_probe_ca_file_check(&why, good, p), APR_SUCCESS);
    assert_int_not_equal(hc_probe_ca_file_check(&why, "/nonexistent/ca.pem", p), APR_SUCCESS);
    assert_non_null(strstr(why, "cannot read it"));
    assert_int_equal(hc_probe_ca_file_check(&why, junk, p), APR_EINVAL);
    assert_string_equal(why, "no PEM certificate in it");
    assert_int_equal(hc_probe_ca_file_check(&why, empty, p), APR_EINVAL);
    assert_int_not_equal(hc_probe_ca_file_check(&why, "/tmp", p), APR_SUCCESS);
    unlink(good);
    unlink(junk);
    unlink(empty);
}

static void dir_checked(void **state)
{
    apr_pool_t *p = *state;
    const char *file = unit_write_temp(p, "x"), *why = NULL;

    assert_int_equal(hc_probe_dir_check(&why, "/tmp/lf-no-such-flag", p), APR_SUCCESS);
    assert_int_equal(hc_probe_dir_check(&why, "relative-flag", p), APR_SUCCESS);
    assert_int_equal(hc_probe_dir_check(&why, "/flag", p), APR_SUCCESS);
    assert_int_not_equal(hc_probe_dir_check(&why, "/nonexistent-dir/flag", p), APR_SUCCESS);
    assert_string_equal(why, "cannot read directory of '/nonexistent-dir/flag'");
    /* the "directory" is a regular file */
    why = NULL;
    assert_int_equal(hc_probe_dir_check(&why, apr_pstrcat(p, file, "/flag", NULL), p), APR_ENOTDIR);
    assert_non_null(why);
    unlink(file);
}

/* What the HTTP probe sends and when it passes: one GET, its User-Agent, never through a proxy
 * from the environment, no retry of a 503, the status it expects and no other. */
static void http_probe(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {204, NULL, "", 0, 0, 0},
        {503, NULL, "busy", 4, 0, 0},
        {301, "Location: /elsewhere\r\n", "", 0, 0, 0},
    };
    server_t *srv = server_start(answers, 3, p);
    apr_interval_time_t timeout = apr_time_from_sec(2);
    const char *error = NULL;

    setenv("http_proxy", "http://127.0.0.1:9", 1); /* nobody answers there */
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    assert_int_equal(hc_probe_http(&error, srv->url, 204, NULL, timeout, p), APR_SUCCESS);
    assert_int_equal(hc_probe_http(&error, srv->url, 200, NULL, timeout, p), APR_EGENERAL);
    assert_string_equal(error, "HTTP status 503, expected 200");
    /* a redirect is an answer like any other, not followed */
    assert_int_equal(hc_probe_http(&error, srv->url, 200, NULL, timeout, p), APR_EGENERAL);
    assert_string_equal(error, "HTTP status 301, expected 200");
    unsetenv("http_proxy");

    server_stop(srv);
    assert_int_equal(srv->requests, 3);
    assert_true(!strncmp(srv->got[0].head, "get /bucket/a/b.jpg ", 20));
    assert_non_null(strstr(srv->got[0].head, "\r\nuser-agent: lampfarm-health/1\r\n"));
}

static void http_probe_unreachable(void **state)
{
    apr_pool_t *p = *state;
    const char *error = NULL;

    /* nothing listens on the discard port */
    assert_int_equal(
        hc_probe_http(&error, "http://127.0.0.1:9/", 200, NULL, apr_time_from_sec(2), p),
        APR_EGENERAL);
    assert_non_null(error);
    assert_int_equal(hc_probe_http(&error, "ftp://127.0.0.1/", 200, NULL, apr_time_from_sec(2), p),
                     APR_EGENERAL);
    assert_non_null(error);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(parses_version),
        UNIT_TEST(needs_more_bytes),
        UNIT_TEST(error_packet),
        UNIT_TEST(not_mysql),
        UNIT_TEST(file_present_and_absent),
        UNIT_TEST(ca_file_checked),
        UNIT_TEST(dir_checked),
        UNIT_TEST(http_probe),
        UNIT_TEST(http_probe_unreachable),
    };

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return UNIT_RUN("hc_probe", tests);
}
