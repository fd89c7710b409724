/* Unit tests of modules/common: lf_json (escaping, times), lf_secret (file/env secrets) and
 * lf_log (the callback sink). */
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include "lf_json.h"
#include "lf_log.h"
#include "lf_secret.h"

static void json_escapes(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(lf_json_str(NULL, p), "null");
    assert_string_equal(lf_json_str("", p), "\"\"");
    assert_string_equal(lf_json_str("plain", p), "\"plain\"");
    assert_string_equal(lf_json_str("a\"b\\c", p), "\"a\\\"b\\\\c\"");
    assert_string_equal(lf_json_str("line\nnext\ttab\x01", p),
                        "\"line\\u000anext\\u0009tab\\u0001\"");
    /* UTF-8 passes through untouched */
    assert_string_equal(lf_json_str("caf\xc3\xa9", p), "\"caf\xc3\xa9\"");
}

static void json_time(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(lf_json_time(0, p), "null");
    /* 2026-11-25T00:00:01.234Z */
    assert_string_equal(lf_json_time(apr_time_from_sec(1795564801) + 234000, p),
                        "\"2026-11-25T00:00:01.234Z\"");
}

static void secret_from_file(void **state)
{
    apr_pool_t *p = *state;
    const char *path = unit_write_temp(p, "t0ken-value\n"), *secret = NULL, *why = NULL;

    assert_int_equal(lf_secret_load(&secret, &why, apr_pstrcat(p, "file:", path, NULL), p),
                     APR_SUCCESS);
    assert_string_equal(secret, "t0ken-value");
    unlink(path);
}

static void secret_from_env(void **state)
{
    apr_pool_t *p = *state;
    const char *secret = NULL, *why = NULL;

    setenv("LF_UNIT_SECRET", "from-env", 1);
    assert_int_equal(lf_secret_load(&secret, &why, "env:LF_UNIT_SECRET", p), APR_SUCCESS);
    assert_string_equal(secret, "from-env");
    unsetenv("LF_UNIT_SECRET");
    assert_int_equal(lf_secret_load(&secret, &why, "env:LF_UNIT_SECRET", p), APR_EINVAL);
    assert_non_null(strstr(why, "LF_UNIT_SECRET is not set"));
}

static void secret_errors_never_echo_the_value(void **state)
{
    apr_pool_t *p = *state;
    const char *path = unit_write_temp(p, "\n"), *secret = NULL, *why = NULL;

    /* an operator pasting the token itself: the message must not repeat it */
    assert_int_equal(lf_secret_load(&secret, &why, "hunter2-inline", p), APR_EINVAL);
    assert_null(strstr(why, "hunter2"));
    assert_int_equal(lf_secret_load(&secret, &why, apr_pstrcat(p, "file:", path, NULL), p),
                     APR_EINVAL);
    assert_non_null(strstr(why, "empty"));
    unlink(path);
    assert_int_not_equal(lf_secret_load(&secret, &why, "file:/nonexistent/token", p), APR_SUCCESS);
    assert_non_null(strstr(why, "cannot read /nonexistent/token"));
    assert_null(secret);
}

static void secret_equals_in_constant_time(void **state)
{
    (void)state;
    assert_true(lf_secret_equals("t0ken", "t0ken"));
    assert_false(lf_secret_equals("t0ken", "t0kem"));
    assert_false(lf_secret_equals("t0ke", "t0ken"));
    assert_false(lf_secret_equals("t0ken ", "t0ken"));
    assert_false(lf_secret_equals("", "t0ken"));
    assert_true(lf_secret_equals("", ""));
}

static char last_msg[256];
static int last_level = -1;
static apr_status_t last_rv = -1;

static void capture(const char *file, int line, int level, apr_status_t rv, const char *msg,
                    void *baton)
{
    (void)file;
    (void)line;
    (void)baton;
    last_level = level;
    last_rv = rv;
    apr_cpystrn(last_msg, msg, sizeof(last_msg));
}

static int up_to_notice(int level, void *baton)
{
    (void)baton;
    return level <= LF_LOG_NOTICE;
}

static void log_callback(void **state)
{
    (void)state;
    lf_log_set(capture, up_to_notice, NULL);
    lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, 0, LFLOGNO(00001) "value %d", 42);
    assert_int_equal(last_level, LF_LOG_WARNING);
    assert_string_equal(last_msg, "LF00001: value 42");
    last_msg[0] = '\0';
    lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, 0, "filtered");
    assert_string_equal(last_msg, "");
    assert_true(lf_log_is_level(LF_LOG_ERR));
    assert_false(lf_log_is_level(LF_LOG_INFO));
    lf_log_set(NULL, NULL, NULL);
}

/* A status that says something goes to the sink; APR_EGENERAL, which httpd prints as
 * "(20014)Internal error (specific information not available)", does not: the message says why. */
static void log_status_only_with_information(void **state)
{
    (void)state;
    lf_log_set(capture, up_to_notice, NULL);
    lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, APR_EGENERAL, "the cause, in words");
    assert_int_equal(last_rv, APR_SUCCESS);
    assert_string_equal(last_msg, "the cause, in words");
    lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, APR_ENOENT, "no such file");
    assert_int_equal(last_rv, APR_ENOENT);
    lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, APR_TIMEUP, "too slow");
    assert_int_equal(last_rv, APR_TIMEUP);
    assert_int_equal(lf_log_status(APR_EGENERAL), APR_SUCCESS);
    assert_int_equal(lf_log_status(APR_ECONNREFUSED), APR_ECONNREFUSED);
    assert_int_equal(lf_log_status(APR_SUCCESS), APR_SUCCESS);
    lf_log_set(NULL, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(json_escapes),
        UNIT_TEST(json_time),
        UNIT_TEST(secret_from_file),
        UNIT_TEST(secret_from_env),
        UNIT_TEST(secret_errors_never_echo_the_value),
        UNIT_TEST(secret_equals_in_constant_time),
        UNIT_TEST(log_callback),
        UNIT_TEST(log_status_only_with_information),
    };
    return UNIT_RUN("lf_common", tests);
}
