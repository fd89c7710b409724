/* unit.h — what every cmocka unit test of lampfarm includes: cmocka and a per-test APR pool. */
#ifndef LF_UNIT_H
#define LF_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

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
