/* unit.h — what every cmocka unit test of lampfarm includes: cmocka, a per-test APR pool and
 * a temporary-file helper. */
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

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

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
