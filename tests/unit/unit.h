/* unit.h — what every cmocka unit test of lampfarm includes: cmocka, a per-test APR pool, a
 * temporary-file helper and a capture of what the core files log. */
#ifndef LF_UNIT_H
#define LF_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <pthread.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "lf_log.h"

/* A fresh pool per test, in *state. */
static int unit_setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return -1;
    }
    *state = p;
    return 0;
}

static int unit_teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

/* A new file under /tmp holding @p content; the test unlinks it when it matters. */
static __attribute__((unused)) const char *unit_write_temp(apr_pool_t *p, const char *content)
{
    char *path = apr_pstrdup(p, "/tmp/lf-unit-XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

/* What the core logged, as "[level] message" lines; unit_log_capture() starts capturing (all
 * levels), unit_log_clear() forgets, unit_logged() searches. Thread-safe: cores log from the
 * threads the tests start. */
static pthread_mutex_t unit_log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char unit_log_text[1 << 16];
static apr_size_t unit_log_len;

static void unit_log_print(const char *file, int line, int level, apr_status_t rv, const char *msg,
                           void *baton)
{
    (void)file;
    (void)line;
    (void)rv;
    (void)baton;
    pthread_mutex_lock(&unit_log_mutex);
    if (unit_log_len + strlen(msg) + 16 < sizeof(unit_log_text)) {
        unit_log_len +=
            (apr_size_t)apr_snprintf(unit_log_text + unit_log_len,
                                     sizeof(unit_log_text) - unit_log_len, "[%d] %s\n", level, msg);
    }
    pthread_mutex_unlock(&unit_log_mutex);
}

static int unit_log_level(int level, void *baton)
{
    (void)level;
    (void)baton;
    return 1;
}

static __attribute__((unused)) void unit_log_capture(void)
{
    lf_log_set(unit_log_print, unit_log_level, NULL);
}

static __attribute__((unused)) void unit_log_clear(void)
{
    pthread_mutex_lock(&unit_log_mutex);
    unit_log_len = 0;
    unit_log_text[0] = '\0';
    pthread_mutex_unlock(&unit_log_mutex);
}

static __attribute__((unused)) int unit_logged(const char *s)
{
    int found;

    pthread_mutex_lock(&unit_log_mutex);
    found = strstr(unit_log_text, s) != NULL;
    pthread_mutex_unlock(&unit_log_mutex);
    return found;
}

/* Unset every variable through which the AWS credentials chain could find credentials, so a
 * test never sees those of whoever runs it. */
static __attribute__((unused)) void unit_aws_clean_env(void)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); ++i) {
        unsetenv(vars[i]);
    }
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/lf-unit/credentials", 1);
}

#define UNIT_TEST(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)

static int unit_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int failed;

    apr_initialize();
    failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    apr_terminate();
    return failed;
}

#define UNIT_RUN(name, tests) unit_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

#endif /* LF_UNIT_H */
