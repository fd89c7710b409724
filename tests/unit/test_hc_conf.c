/* Unit tests of modules/health/hc_conf.c: reading HealthCheck lines (names, defaults, mod_health's
 * own options, timeout <= interval, the options left for the provider), settling the target once
 * the type is known, and the arguments of the endpoint paths, HealthDetailsAllow and
 * HealthStallTimeout. */
#include "unit.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "hc_answer.h"
#include "hc_conf.h"

/* The words of @p line (split on spaces) read by hc_conf_add() into @p checks. */
static apr_status_t add(hc_conf_check_t **hc, const char **why, apr_array_header_t *checks,
                        const char *line, apr_pool_t *p)
{
    const char *argv[32];
    char *copy = apr_pstrdup(p, line), *last, *w;
    int argc = 0;

    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        argv[argc++] = w;
    }
    *why = NULL;
    return hc_conf_add(hc, why, checks, argc, argv, p);
}

static apr_array_header_t *new_checks(apr_pool_t *p)
{
    return apr_array_make(p, 4, sizeof(hc_conf_check_t));
}

/* The error of a line read alone. */
static const char *error_of(const char *line, apr_pool_t *p)
{
    hc_conf_check_t *hc;
    const char *why;

    assert_int_equal(add(&hc, &why, new_checks(p), line, p), APR_EINVAL);
    assert_non_null(why);
    return why;
}

static void defaults_and_target(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = new_checks(p);
    hc_conf_check_t *hc;
    const char *why;

    assert_int_equal(add(&hc, &why, checks, "db tcp 127.0.0.1:3306", p), APR_SUCCESS);
    assert_int_equal(checks->nelts, 1);
    assert_ptr_equal(hc, &APR_ARRAY_IDX(checks, 0, hc_conf_check_t));
    assert_string_equal(hc->name, "db");
    assert_string_equal(hc->type, "tcp");
    assert_string_equal(hc->target, "127.0.0.1:3306");
    assert_int_equal(hc->interval, 5 * APR_USEC_PER_SEC);
    assert_int_equal(hc->timeout, 2 * APR_USEC_PER_SEC);
    assert_int_equal(hc->params.rise, 2);
    assert_int_equal(hc->params.fall, 3);
    assert_int_equal(hc->severity, HC_SEV_CRITICAL);
    assert_int_equal(apr_table_elts(hc->options)->nelts, 0);
    assert_null(hc->provider);
    assert_null(hc->ctx);
}

static void own_options(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = new_checks(p);
    hc_conf_check_t *hc;
    const char *why;

    assert_int_equal(add(&hc, &why, checks,
                         "b http http://127.0.0.1:8080/status?x=1 interval=10s timeout=3s rise=1 "
                         "fall=5 severity=degraded expect=204 cafile=/a/b",
                         p),
                     APR_SUCCESS);
    assert_string_equal(hc->target, "http://127.0.0.1:8080/status?x=1"); /* '=' and '/' */
    assert_int_equal(hc->interval, 10 * APR_USEC_PER_SEC);
    assert_int_equal(hc->timeout, 3 * APR_USEC_PER_SEC);
    assert_int_equal(hc->params.rise, 1);
    assert_int_equal(hc->params.fall, 5);
    assert_int_equal(hc->severity, HC_SEV_DEGRADED);
    /* only the provider's options are left, in line order */
    assert_int_equal(apr_table_elts(hc->options)->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(apr_table_elts(hc->options), 0, apr_table_entry_t).key,
                        "expect");
    assert_string_equal(apr_table_get(hc->options, "expect"), "204");
    assert_string_equal(apr_table_get(hc->options, "cafile"), "/a/b");
    /* units: a bare number is seconds; the shortest is 100ms */
    assert_int_equal(add(&hc, &why, checks, "c mysql h:1 interval=7 timeout=250ms", p),
                     APR_SUCCESS);
    assert_int_equal(hc->interval, 7 * APR_USEC_PER_SEC);
    assert_int_equal(hc->timeout, 250 * 1000);
    assert_int_equal(add(&hc, &why, checks, "d mysql h:1 interval=100ms timeout=100ms", p),
                     APR_SUCCESS);
    assert_int_equal(add(&hc, &why, checks, "e file /x severity=critical", p), APR_SUCCESS);
    assert_int_equal(hc->severity, HC_SEV_CRITICAL);
}

static void no_target_before_options(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = new_checks(p);
    hc_conf_check_t *hc;
    const char *why;

    assert_int_equal(add(&hc, &why, checks, "sessions session-kv interval=500ms timeout=400ms", p),
                     APR_SUCCESS);
    assert_null(hc->target);
    assert_int_equal(hc->interval, 500 * 1000);
    assert_int_equal(add(&hc, &why, checks, "kv2 session-kv", p), APR_SUCCESS);
    assert_null(hc->target);
}

static void bad_lines(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(error_of("x", p), "expected <name> <type> [<target>] [key=value ...]");
    assert_string_equal(error_of("", p), "expected <name> <type> [<target>] [key=value ...]");
    assert_string_equal(error_of("a!b tcp h:1", p),
                        "bad check name 'a!b' (letters, digits, '_.-', at most 63)");
    assert_string_equal(error_of("x tcp h:1 foo bar", p), "'foo' is not key=value");
    assert_string_equal(error_of("x tcp h:1 =v", p), "'=v' is not key=value");
    assert_string_equal(error_of("x tcp h:1 interval=xyz", p),
                        "bad duration 'xyz' for interval (at least 100ms, e.g. 5s)");
    assert_string_equal(error_of("x tcp h:1 timeout=50ms", p),
                        "bad duration '50ms' for timeout (at least 100ms, e.g. 5s)");
    assert_string_equal(error_of("x tcp h:1 rise=0", p), "bad rise '0' (a number from 1 to 100)");
    assert_string_equal(error_of("x tcp h:1 fall=101", p),
                        "bad fall '101' (a number from 1 to 100)");
    assert_string_equal(error_of("x tcp h:1 severity=fatal", p),
                        "bad severity 'fatal' (critical or degraded)");
}

static void empty_words(void **state)
{
    apr_pool_t *p = *state;
    static const char *const empty_type[] = {"x", ""};
    static const char *const empty_option[] = {"x", "tcp", "h:1", "", "interval=1s"};
    hc_conf_check_t *hc;
    const char *why;

    /* httpd passes a quoted "" as an empty word */
    assert_int_equal(hc_conf_add(&hc, &why, new_checks(p), 2, empty_type, p), APR_EINVAL);
    assert_string_equal(why, "expected <name> <type> [<target>] [key=value ...]");
    assert_int_equal(hc_conf_add(&hc, &why, new_checks(p), 5, empty_option, p), APR_EINVAL);
    assert_string_equal(why, "'' is not key=value");
}

static void name_length(void **state)
{
    apr_pool_t *p = *state;
    char name[HC_NAME_LEN + 1];
    hc_conf_check_t *hc;
    const char *why;

    memset(name, 'n', HC_NAME_LEN - 1);
    name[HC_NAME_LEN - 1] = '\0';
    assert_int_equal(add(&hc, &why, new_checks(p), apr_pstrcat(p, name, " tcp h:1", NULL), p),
                     APR_SUCCESS);
    assert_int_equal(add(&hc, &why, new_checks(p), "a-b_c.1 tcp h:1", p), APR_SUCCESS);
    name[HC_NAME_LEN - 1] = 'n';
    name[HC_NAME_LEN] = '\0';
    assert_int_equal(add(&hc, &why, new_checks(p), apr_pstrcat(p, name, " tcp h:1", NULL), p),
                     APR_EINVAL);
}

static void timeout_within_interval(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(error_of("x tcp h:1 interval=1s timeout=2s", p),
                        "timeout must not exceed interval (check 'x')");
    /* the default timeout (2s) against a shorter interval */
    assert_string_equal(error_of("x tcp h:1 interval=1s", p),
                        "timeout must not exceed interval (check 'x')");
}

static void duplicates_and_limit(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = new_checks(p);
    hc_conf_check_t *hc;
    const char *why;
    int i;

    assert_int_equal(add(&hc, &why, checks, "x tcp h:1", p), APR_SUCCESS);
    assert_int_equal(add(&hc, &why, checks, "x tcp h:2", p), APR_EINVAL);
    assert_string_equal(why, "duplicate check name 'x'");
    assert_int_equal(checks->nelts, 1);
    for (i = 1; i < HC_MAX_CHECKS; ++i) {
        assert_int_equal(add(&hc, &why, checks, apr_psprintf(p, "c%d tcp h:1", i), p), APR_SUCCESS);
    }
    assert_int_equal(add(&hc, &why, checks, "one-more tcp h:1", p), APR_EINVAL);
    assert_string_equal(why, apr_psprintf(p, "at most %d checks", HC_MAX_CHECKS));
    assert_int_equal(checks->nelts, HC_MAX_CHECKS);
}

static void target_settled_by_type(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = new_checks(p);
    hc_conf_check_t *hc;
    const char *why = NULL;

    /* a type that takes a target */
    assert_int_equal(add(&hc, &why, checks, "a tcp h:1", p), APR_SUCCESS);
    assert_int_equal(hc_conf_target(hc, &why, 1, p), APR_SUCCESS);
    assert_string_equal(hc->target, "h:1");
    assert_int_equal(add(&hc, &why, checks, "b tcp interval=5s", p), APR_SUCCESS);
    assert_int_equal(hc_conf_target(hc, &why, 1, p), APR_EINVAL);
    assert_string_equal(why, "missing target for check 'b' of type tcp");
    assert_int_equal(add(&hc, &why, checks, "c mysql", p), APR_SUCCESS);
    assert_int_equal(hc_conf_target(hc, &why, 1, p), APR_EINVAL);
    assert_string_equal(why, "missing target for check 'c' of type mysql");

    /* a type that takes none: the word is the first option */
    assert_int_equal(add(&hc, &why, checks, "d session-kv", p), APR_SUCCESS);
    assert_int_equal(hc_conf_target(hc, &why, 0, p), APR_SUCCESS);
    assert_null(hc->target);
    assert_int_equal(add(&hc, &why, checks, "e session-kv path=/x other=1", p), APR_SUCCESS);
    assert_string_equal(hc->target, "path=/x");
    assert_int_equal(hc_conf_target(hc, &why, 0, p), APR_SUCCESS);
    assert_null(hc->target);
    assert_string_equal(APR_ARRAY_IDX(apr_table_elts(hc->options), 0, apr_table_entry_t).key,
                        "path");
    assert_string_equal(apr_table_get(hc->options, "path"), "/x");
    assert_string_equal(apr_table_get(hc->options, "other"), "1");
    assert_int_equal(add(&hc, &why, checks, "f session-kv somewhere", p), APR_SUCCESS);
    assert_int_equal(hc_conf_target(hc, &why, 0, p), APR_EINVAL);
    assert_string_equal(why, "'somewhere' is not key=value");
    assert_int_equal(add(&hc, &why, checks, "g session-kv interval=1/2", p), APR_SUCCESS);
    assert_int_equal(hc_conf_target(hc, &why, 0, p), APR_EINVAL);
    assert_string_equal(why, "bad duration '1/2' for interval (at least 100ms, e.g. 5s)");
}

static void unused_options_refused(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = new_checks(p);
    hc_conf_check_t *hc;
    const char *why = NULL;

    assert_int_equal(add(&hc, &why, checks, "a tcp h:1 expect=204 want=absent", p), APR_SUCCESS);
    assert_int_equal(hc_conf_unused(&why, hc, p), APR_EINVAL);
    assert_string_equal(why, "unknown option 'expect' for type tcp");
    /* what a provider takes, it removes */
    apr_table_unset(hc->options, "expect");
    apr_table_unset(hc->options, "want");
    why = NULL;
    assert_int_equal(hc_conf_unused(&why, hc, p), APR_SUCCESS);
    assert_null(why);
}

static void endpoint_paths(void **state)
{
    apr_pool_t *p = *state;
    const char *path = NULL, *why = NULL;

    assert_int_equal(hc_conf_path(&path, &why, "/lb/ready", p), APR_SUCCESS);
    assert_string_equal(path, "/lb/ready");
    assert_int_equal(hc_conf_path(&path, &why, "None", p), APR_SUCCESS);
    assert_string_equal(path, ""); /* off */
    assert_int_equal(hc_conf_path(&path, &why, "lb/ready", p), APR_EINVAL);
    assert_string_equal(why, "'lb/ready' is not a path starting with '/' (or none)");
}

/* Whether @p ip is in @p allow (hc_answer's test of a client). */
static int lets_in(const apr_array_header_t *allow, const char *ip, apr_pool_t *p)
{
    apr_sockaddr_t *sa;

    assert_int_equal(apr_sockaddr_info_get(&sa, ip, APR_UNSPEC, 80, 0, p), APR_SUCCESS);
    return hc_answer_allowed(allow, sa);
}

static void details_allow(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *allow = apr_array_make(p, 4, sizeof(apr_ipsubnet_t *));
    const char *why = NULL;

    assert_int_equal(hc_conf_allow(allow, &why, "none", p), APR_SUCCESS);
    assert_int_equal(allow->nelts, 0); /* nobody */
    assert_int_equal(hc_conf_allow(allow, &why, "10.0.0.0/8", p), APR_SUCCESS);
    assert_int_equal(hc_conf_allow(allow, &why, "192.168.1.7", p), APR_SUCCESS);
    assert_int_equal(allow->nelts, 2);
    assert_true(lets_in(allow, "10.20.30.40", p));
    assert_true(lets_in(allow, "192.168.1.7", p));
    assert_false(lets_in(allow, "192.168.1.8", p));
    assert_int_equal(hc_conf_allow(allow, &why, "10.0.0.0/99", p), APR_EINVAL);
    assert_string_equal(why, "bad address '10.0.0.0/99' (expected an IP or IP/bits)");
    assert_int_equal(hc_conf_allow(allow, &why, "example.com", p), APR_EINVAL);
    assert_int_equal(allow->nelts, 2);
    /* the default: loopback only */
    assert_int_equal(hc_conf_allow_loopback(&allow, p), APR_SUCCESS);
    assert_true(lets_in(allow, "127.0.0.1", p));
    assert_false(lets_in(allow, "10.20.30.40", p));
}

static void stall_timeout(void **state)
{
    apr_pool_t *p = *state;
    apr_interval_time_t t = 0;
    const char *why = NULL;

    assert_int_equal(hc_conf_stall_timeout(&t, &why, "2m", p), APR_SUCCESS);
    assert_int_equal(t, apr_time_from_sec(120));
    assert_int_equal(hc_conf_stall_timeout(&t, &why, "1", p), APR_SUCCESS); /* seconds */
    assert_int_equal(t, apr_time_from_sec(1));
    assert_int_equal(hc_conf_stall_timeout(&t, &why, "900ms", p), APR_EINVAL);
    assert_string_equal(why, "bad duration '900ms' (at least 1s, e.g. 30s or 2m)");
    assert_int_equal(hc_conf_stall_timeout(&t, &why, "soon", p), APR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(defaults_and_target),
        UNIT_TEST(own_options),
        UNIT_TEST(no_target_before_options),
        UNIT_TEST(bad_lines),
        UNIT_TEST(empty_words),
        UNIT_TEST(name_length),
        UNIT_TEST(timeout_within_interval),
        UNIT_TEST(duplicates_and_limit),
        UNIT_TEST(target_settled_by_type),
        UNIT_TEST(unused_options_refused),
        UNIT_TEST(endpoint_paths),
        UNIT_TEST(details_allow),
        UNIT_TEST(stall_timeout),
    };
    return UNIT_RUN("hc_conf", tests);
}
