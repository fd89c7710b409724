/* Unit tests of modules/health/hc_builtin.c: reading the targets and options of the built-in
 * check types (tcp, mysql, http, file), paths against the server root, and a file check's run.
 * The network probes themselves are covered by the integration tests. */
#include <unistd.h>

#include "unit.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "hc_builtin.h"

/* The error of configuring @p type with @p target and @p options ("k=v" words, or NULL). */
static const char *error_of(hc_builtin_e type, const char *target, const char *key, const char *val,
                            apr_pool_t *p)
{
    apr_table_t *options = apr_table_make(p, 2);
    hc_builtin_t *check = NULL;
    const char *why = NULL;

    if (key) {
        apr_table_set(options, key, val);
    }
    assert_int_equal(hc_builtin_configure(&check, &why, type, target, options, "/srv", p),
                     APR_EINVAL);
    assert_null(check);
    assert_non_null(why);
    return why;
}

static void endpoints(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *options = apr_table_make(p, 2);
    hc_builtin_t *check;
    const char *why;

    assert_int_equal(hc_builtin_configure(&check, &why, HC_BUILTIN_MYSQL, "db.internal:3306",
                                          options, "/srv", p),
                     APR_SUCCESS);
    assert_int_equal(check->type, HC_BUILTIN_MYSQL);
    assert_string_equal(check->host, "db.internal");
    assert_int_equal(check->port, 3306);
    assert_string_equal(error_of(HC_BUILTIN_TCP, "no-port", NULL, NULL, p),
                        "bad target 'no-port' (expected host:port)");
    /* options are not taken: the caller refuses them */
    apr_table_set(options, "expect", "204");
    assert_int_equal(
        hc_builtin_configure(&check, &why, HC_BUILTIN_TCP, "127.0.0.1:1", options, "/srv", p),
        APR_SUCCESS);
    assert_string_equal(apr_table_get(options, "expect"), "204");
}

static void http(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *options = apr_table_make(p, 2);
    hc_builtin_t *check;
    const char *why;

    apr_table_set(options, "expect", "204");
    assert_int_equal(hc_builtin_configure(&check, &why, HC_BUILTIN_HTTP,
                                          "http://127.0.0.1:8080/status?x=1", options, "/srv", p),
                     APR_SUCCESS);
    assert_string_equal(check->url, "http://127.0.0.1:8080/status?x=1");
    assert_int_equal(check->expect, 204);
    assert_null(check->ca_file);
    assert_null(apr_table_get(options, "expect")); /* taken */
    assert_int_equal(
        hc_builtin_configure(&check, &why, HC_BUILTIN_HTTP, "https://h/", options, "/srv", p),
        APR_SUCCESS);
    assert_int_equal(check->expect, 200);

    assert_string_equal(error_of(HC_BUILTIN_HTTP, "ftp://h/", NULL, NULL, p),
                        "bad target 'ftp://h/' (expected an http:// or https:// URL)");
    assert_string_equal(error_of(HC_BUILTIN_HTTP, "127.0.0.1:80", NULL, NULL, p),
                        "bad target '127.0.0.1:80' (expected an http:// or https:// URL)");
    assert_string_equal(error_of(HC_BUILTIN_HTTP, "http://h/", "expect", "600", p),
                        "bad expect '600' (an HTTP status, 100 to 599)");
    assert_string_equal(error_of(HC_BUILTIN_HTTP, "http://h/", "cafile", "/etc/ca.pem", p),
                        "cafile= is for https:// targets");
    assert_string_equal(error_of(HC_BUILTIN_HTTP, "https://h/", "cafile", "missing.pem", p),
                        "bad cafile '/srv/missing.pem': cannot read it (No such file or "
                        "directory)");
}

static void http_cafile_taken(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *options = apr_table_make(p, 2);
    const char *pem = unit_write_temp(p, "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                         "-----END CERTIFICATE-----\n");
    hc_builtin_t *check;
    const char *why = NULL;
    apr_status_t rv;

    apr_table_set(options, "cafile", pem);
    rv = hc_builtin_configure(&check, &why, HC_BUILTIN_HTTP, "https://h/", options, "/srv", p);
    unlink(pem);
    assert_int_equal(rv, APR_SUCCESS);
    assert_string_equal(check->ca_file, pem);
    assert_null(apr_table_get(options, "cafile"));
}

static void file(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *options = apr_table_make(p, 2);
    const char *present = unit_write_temp(p, "x"), *why = NULL;
    hc_builtin_t *check;

    /* relative to the server root */
    apr_table_set(options, "want", "absent");
    assert_int_equal(
        hc_builtin_configure(&check, &why, HC_BUILTIN_FILE, "lf-unit-flag", options, "/tmp", p),
        APR_SUCCESS);
    assert_string_equal(check->path, "/tmp/lf-unit-flag");
    assert_int_equal(check->want_present, 0);
    assert_null(apr_table_get(options, "want"));
    assert_int_equal(hc_builtin_run(&why, check, APR_USEC_PER_SEC, p), APR_SUCCESS);

    assert_int_equal(
        hc_builtin_configure(&check, &why, HC_BUILTIN_FILE, present, options, "/srv", p),
        APR_SUCCESS);
    assert_int_equal(check->want_present, 1);
    assert_int_equal(hc_builtin_run(&why, check, APR_USEC_PER_SEC, p), APR_SUCCESS);
    unlink(present);
    assert_int_not_equal(hc_builtin_run(&why, check, APR_USEC_PER_SEC, p), APR_SUCCESS);
    assert_string_equal(why, apr_pstrcat(p, present, " does not exist", NULL));

    assert_string_equal(error_of(HC_BUILTIN_FILE, "/tmp/x", "want", "maybe", p),
                        "bad want 'maybe' (present or absent)");
    assert_string_equal(error_of(HC_BUILTIN_FILE, "/nonexistent-dir/flag", NULL, NULL, p),
                        "cannot read directory of '/nonexistent-dir/flag'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(endpoints),
        UNIT_TEST(http),
        UNIT_TEST(http_cafile_taken),
        UNIT_TEST(file),
    };
    return UNIT_RUN("hc_builtin", tests);
}
