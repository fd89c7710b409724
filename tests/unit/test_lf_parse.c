/* Unit tests of modules/common/lf_parse.c: durations, sizes, integers, host:port lists. */
#include "unit.h"

#include "lf_parse.h"

static void duration_units(void **state)
{
    apr_interval_time_t d;

    (void)state;
    assert_int_equal(lf_parse_duration(&d, "250ms", "s"), APR_SUCCESS);
    assert_int_equal(d, 250000);
    assert_int_equal(lf_parse_duration(&d, "5s", "s"), APR_SUCCESS);
    assert_int_equal(d, 5 * APR_USEC_PER_SEC);
    assert_int_equal(lf_parse_duration(&d, "2m", "s"), APR_SUCCESS);
    assert_int_equal(d, 120 * APR_USEC_PER_SEC);
    assert_int_equal(lf_parse_duration(&d, "1h", "s"), APR_SUCCESS);
    assert_int_equal(d, 3600 * APR_USEC_PER_SEC);
    assert_int_equal(lf_parse_duration(&d, "1d", "s"), APR_SUCCESS);
    assert_int_equal(d, 86400 * APR_USEC_PER_SEC);
    assert_int_equal(lf_parse_duration(&d, "7us", "s"), APR_SUCCESS);
    assert_int_equal(d, 7);
    assert_int_equal(lf_parse_duration(&d, "0", "s"), APR_SUCCESS);
    assert_int_equal(d, 0);
}

static void duration_default_unit(void **state)
{
    apr_interval_time_t d;

    (void)state;
    assert_int_equal(lf_parse_duration(&d, "30", "s"), APR_SUCCESS);
    assert_int_equal(d, 30 * APR_USEC_PER_SEC);
    assert_int_equal(lf_parse_duration(&d, "30", "ms"), APR_SUCCESS);
    assert_int_equal(d, 30000);
}

static void duration_rejects(void **state)
{
    static const char *const bad[] = {"",
                                      "s",
                                      "-5s",
                                      "5 s",
                                      "5sec",
                                      "1.5s",
                                      "5S",
                                      "xyz",
                                      "99999999999999999999s",
                                      "9999999999999d",
                                      " 5s"};
    apr_interval_time_t d = 42;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_int_equal(lf_parse_duration(&d, bad[i], "s"), APR_EINVAL);
    }
    assert_int_equal(lf_parse_duration(&d, NULL, "s"), APR_EINVAL);
    assert_int_equal(d, 42); /* untouched on error */
}

static void size_suffixes(void **state)
{
    apr_off_t n;

    (void)state;
    assert_int_equal(lf_parse_size(&n, "512"), APR_SUCCESS);
    assert_int_equal(n, 512);
    assert_int_equal(lf_parse_size(&n, "16M"), APR_SUCCESS);
    assert_int_equal(n, 16 * 1024 * 1024);
    assert_int_equal(lf_parse_size(&n, "4k"), APR_SUCCESS);
    assert_int_equal(n, 4096);
    assert_int_equal(lf_parse_size(&n, "1GB"), APR_SUCCESS);
    assert_int_equal(n, (apr_off_t)1 << 30);
    assert_int_equal(lf_parse_size(&n, "2KiB"), APR_SUCCESS);
    assert_int_equal(n, 2048);
    assert_int_equal(lf_parse_size(&n, "1T"), APR_SUCCESS);
    assert_int_equal(n, (apr_off_t)1 << 40);
}

static void size_rejects(void **state)
{
    static const char *const bad[] = {"",     "M",    "-1",           "16X", "16MM",
                                      "16 M", "1.5M", "99999999999T", "16Mx"};
    apr_off_t n;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_int_equal(lf_parse_size(&n, bad[i]), APR_EINVAL);
    }
}

static void int_bounds(void **state)
{
    int n;

    (void)state;
    assert_int_equal(lf_parse_int(&n, "3", 1, 100), APR_SUCCESS);
    assert_int_equal(n, 3);
    assert_int_equal(lf_parse_int(&n, "-2", -5, 5), APR_SUCCESS);
    assert_int_equal(n, -2);
    assert_int_equal(lf_parse_int(&n, "0", 1, 100), APR_EINVAL);
    assert_int_equal(lf_parse_int(&n, "101", 1, 100), APR_EINVAL);
    assert_int_equal(lf_parse_int(&n, "3x", 1, 100), APR_EINVAL);
    assert_int_equal(lf_parse_int(&n, "", 1, 100), APR_EINVAL);
    assert_int_equal(lf_parse_int(&n, "99999999999999", 1, 100), APR_EINVAL);
}

static void hostport_forms(void **state)
{
    apr_pool_t *p = *state;
    const char *host;
    apr_port_t port;

    assert_int_equal(lf_parse_hostport(&host, &port, "db.internal:3306", 0, p), APR_SUCCESS);
    assert_string_equal(host, "db.internal");
    assert_int_equal(port, 3306);
    assert_int_equal(lf_parse_hostport(&host, &port, "[::1]:6379", 0, p), APR_SUCCESS);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 6379);
    assert_int_equal(lf_parse_hostport(&host, &port, "cache", 11211, p), APR_SUCCESS);
    assert_string_equal(host, "cache");
    assert_int_equal(port, 11211);
}

static void hostport_rejects(void **state)
{
    static const char *const bad[] = {"",       "host",       "host:",     ":80",
                                      "host:0", "host:70000", "host:http", "[::1"};
    apr_pool_t *p = *state;
    const char *host;
    apr_port_t port;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_int_equal(lf_parse_hostport(&host, &port, bad[i], 0, p), APR_EINVAL);
    }
    assert_int_equal(lf_parse_hostport(&host, &port, "host:", 80, p), APR_EINVAL);
}

static void hostport_list(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *list;
    const char *bad = NULL;

    assert_int_equal(lf_parse_hostport_list(&list, &bad, "a:1, b:2 c", 11211, p), APR_SUCCESS);
    assert_int_equal(list->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(list, 0, lf_hostport_t).host, "a");
    assert_int_equal(APR_ARRAY_IDX(list, 1, lf_hostport_t).port, 2);
    assert_int_equal(APR_ARRAY_IDX(list, 2, lf_hostport_t).port, 11211);

    assert_int_equal(lf_parse_hostport_list(&list, &bad, "a:1,b:x", 0, p), APR_EINVAL);
    assert_string_equal(bad, "b:x");
    assert_int_equal(lf_parse_hostport_list(&list, &bad, " , ", 0, p), APR_EINVAL);
}

static void is_host(void **state)
{
    char many[300];

    (void)state;
    assert_true(lf_parse_is_host("node-1.cache.amazonaws.com", 26));
    assert_true(lf_parse_is_host("2001:db8::5", 11));
    assert_true(lf_parse_is_host("10.0.0.1:ignored", 8));
    assert_false(lf_parse_is_host("", 0));
    assert_false(lf_parse_is_host("a b", 3));
    assert_false(lf_parse_is_host("a\0b", 3));
    assert_false(lf_parse_is_host("a\rb", 3));
    assert_false(lf_parse_is_host("\xff", 1));
    memset(many, 'a', sizeof(many));
    assert_true(lf_parse_is_host(many, 255));
    assert_false(lf_parse_is_host(many, 256));
}

static void duration_format(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(lf_format_duration(250000, p), "250ms");
    assert_string_equal(lf_format_duration(5 * APR_USEC_PER_SEC, p), "5s");
    assert_string_equal(lf_format_duration(120 * APR_USEC_PER_SEC, p), "2m");
    assert_string_equal(lf_format_duration(90 * APR_USEC_PER_SEC, p), "90s");
    assert_string_equal(lf_format_duration(1500, p), "1500us");
}

static void path_against_root(void **state)
{
    apr_pool_t *p = *state;
    const char *out = NULL;

    assert_int_equal(lf_parse_path(&out, "/etc/x.pem", "/srv/root", p), APR_SUCCESS);
    assert_string_equal(out, "/etc/x.pem");
    assert_int_equal(lf_parse_path(&out, "conf/ca.pem", "/srv/root", p), APR_SUCCESS);
    assert_string_equal(out, "/srv/root/conf/ca.pem");
    assert_int_equal(lf_parse_path(&out, "flag", "/srv/root/", p), APR_SUCCESS);
    assert_string_equal(out, "/srv/root/flag");
    /* above the root is fine, as for httpd */
    assert_int_equal(lf_parse_path(&out, "../other/flag", "/srv/root", p), APR_SUCCESS);
    assert_string_equal(out, "/srv/other/flag");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(duration_units),   UNIT_TEST(duration_default_unit),
        UNIT_TEST(duration_rejects), UNIT_TEST(size_suffixes),
        UNIT_TEST(size_rejects),     UNIT_TEST(int_bounds),
        UNIT_TEST(hostport_forms),   UNIT_TEST(hostport_rejects),
        UNIT_TEST(hostport_list),    UNIT_TEST(duration_format),
        UNIT_TEST(is_host),          UNIT_TEST(path_against_root),
    };
    return UNIT_RUN("lf_parse", tests);
}
