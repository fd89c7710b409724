/* Unit tests of the parsing half of modules/common/lf_json.c: flat JSON objects (the shape of the
 * ECS and EC2 instance metadata credential answers) and RFC 3339 times. */
#include "unit.h"

#include <apr_strings.h>

#include "lf_json.h"

static apr_status_t parse(apr_table_t **t, const char *s, apr_pool_t *p)
{
    return lf_json_parse_object(t, s, strlen(s), p);
}

static void imds_answer(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = NULL;
    static const char body[] =
        "{\n"
        "  \"Code\" : \"Success\",\n"
        "  \"LastUpdated\" : \"2026-11-25T05:49:27Z\",\n"
        "  \"Type\" : \"AWS-HMAC\",\n"
        "  \"AccessKeyId\" : \"ASIAEXAMPLEEXAMPLE01\",\n"
        "  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\n"
        "  \"Token\" : \"IQoJb3JpZ2luX2VjEXAMPLE+/=\",\n"
        "  \"Expiration\" : \"2026-11-25T12:00:00Z\"\n"
        "}\n";

    assert_int_equal(parse(&t, body, p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "Code"), "Success");
    assert_string_equal(apr_table_get(t, "AccessKeyId"), "ASIAEXAMPLEEXAMPLE01");
    assert_string_equal(apr_table_get(t, "SecretAccessKey"),
                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    assert_string_equal(apr_table_get(t, "Token"), "IQoJb3JpZ2luX2VjEXAMPLE+/=");
    assert_string_equal(apr_table_get(t, "Expiration"), "2026-11-25T12:00:00Z");
    assert_int_equal(apr_table_elts(t)->nelts, 7);
}

static void scalars_and_nesting(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = NULL;

    assert_int_equal(parse(&t, "{}", p), APR_SUCCESS);
    assert_int_equal(apr_table_elts(t)->nelts, 0);
    assert_int_equal(parse(&t, " { \"a\" : 1 } ", p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "a"), "1");
    assert_int_equal(parse(&t,
                           "{\"n\":-12.5e+3,\"z\":0,\"t\":true,\"f\":false,\"gone\":null,"
                           "\"o\":{\"x\":[1,{\"y\":\"}\"}],\"e\":{}},\"a\":[ ],\"s\":\"\"}",
                           p),
                     APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "n"), "-12.5e+3");
    assert_string_equal(apr_table_get(t, "z"), "0");
    assert_string_equal(apr_table_get(t, "t"), "true");
    assert_string_equal(apr_table_get(t, "f"), "false");
    assert_null(apr_table_get(t, "gone"));
    /* nested values are kept as their raw text */
    assert_string_equal(apr_table_get(t, "o"), "{\"x\":[1,{\"y\":\"}\"}],\"e\":{}}");
    assert_string_equal(apr_table_get(t, "a"), "[ ]");
    assert_string_equal(apr_table_get(t, "s"), "");
    /* a repeated key keeps its last value, and null removes it */
    assert_int_equal(parse(&t, "{\"k\":\"1\",\"k\":\"2\"}", p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "k"), "2");
    assert_int_equal(parse(&t, "{\"k\":\"1\",\"k\":null}", p), APR_SUCCESS);
    assert_null(apr_table_get(t, "k"));
}

static void string_escapes(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = NULL;

    assert_int_equal(parse(&t, "{\"s\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"}", p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "s"), "q\" b\\ s/ \b\f\n\r\t");
    /* \u escapes into UTF-8: 1, 2 and 3 bytes, and a surrogate pair into 4 */
    assert_int_equal(parse(&t, "{\"s\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"}", p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "s"), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* raw UTF-8 passes through, escaped keys are unescaped too */
    assert_int_equal(parse(&t, "{\"k\\u0065y\":\"caf\xc3\xa9\"}", p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "key"), "caf\xc3\xa9");
}

static void not_an_object(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = NULL;
    static const char *const bad[] = {
        "",
        "   ",
        "[]",
        "\"s\"",
        "null",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":\"b\"",
        "{\"a\":\"b",
        "{\"a\":\"b\",}",
        "{,}",
        "{\"a\" \"b\"}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{\"a\":True}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":{\"b\"}}",
        "{\"a\":{\"b\":1,}}",
        "{\"a\":[}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud83d\"}",
        "{\"a\":\"\\ud83dx\"}",
        "{\"a\":\"\\ude00\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "<html><body>Not Found</body></html>",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (parse(&t, bad[i], p) != APR_EINVAL) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
    /* truncation anywhere in a valid answer */
    {
        static const char ok[] = "{\"Code\":\"Success\",\"n\":[1,{\"x\":null}],\"t\":\"\\u00e9\"}";
        for (i = 0; i < sizeof(ok) - 1; ++i) {
            if (lf_json_parse_object(&t, ok, i, p) != APR_EINVAL) {
                fail_msg("accepted a prefix of %u bytes", (unsigned)i);
            }
        }
        assert_int_equal(lf_json_parse_object(&t, ok, sizeof(ok) - 1, p), APR_SUCCESS);
    }
}

static void depth_bound(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = NULL;
    char *deep;
    int n;

    /* 64 levels below the top-level object are fine, 65 are not */
    for (n = 64; n <= 65; ++n) {
        deep = apr_pstrcat(p, "{\"a\":", apr_psprintf(p, "%*s", n, ""), "1",
                           apr_psprintf(p, "%*s", n, ""), "}", NULL);
        memset(deep + 5, '[', (apr_size_t)n);
        memset(deep + 5 + n + 1, ']', (apr_size_t)n);
        assert_int_equal(parse(&t, deep, p), n == 64 ? APR_SUCCESS : APR_EINVAL);
    }
}

static void not_nul_terminated(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = NULL;
    char buf[16];

    memcpy(buf, "{\"a\":12}xxxxxxxx", 16);
    assert_int_equal(lf_json_parse_object(&t, buf, 8, p), APR_SUCCESS);
    assert_string_equal(apr_table_get(t, "a"), "12");
}

static void times(void **state)
{
    apr_time_t t = 0;
    const apr_time_t base = apr_time_from_sec(1795608000); /* 2026-11-25T12:00:00Z */

    (void)state;
    assert_int_equal(lf_json_parse_time(&t, "2026-11-25T12:00:00Z"), APR_SUCCESS);
    assert_true(t == base);
    assert_int_equal(lf_json_parse_time(&t, "2026-11-25t12:00:00z"), APR_SUCCESS);
    assert_true(t == base);
    assert_int_equal(lf_json_parse_time(&t, "2026-11-25T12:00:00.250Z"), APR_SUCCESS);
    assert_true(t == base + 250000);
    assert_int_equal(lf_json_parse_time(&t, "2026-11-25T12:00:00.1234567Z"), APR_SUCCESS);
    assert_true(t == base + 123456);
    assert_int_equal(lf_json_parse_time(&t, "2026-11-25T13:30:00+01:30"), APR_SUCCESS);
    assert_true(t == base);
    assert_int_equal(lf_json_parse_time(&t, "2026-11-25T07:00:00-05:00"), APR_SUCCESS);
    assert_true(t == base);
    assert_int_equal(lf_json_parse_time(&t, "2028-02-29T00:00:00Z"), APR_SUCCESS);
    assert_int_equal(lf_json_parse_time(&t, "1970-01-01T00:00:00Z"), APR_SUCCESS);
    assert_true(t == 0);
}

static void bad_times(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-11-25",
        "2026-11-25T12:00:00",
        "2026-11-25T12:00Z",
        "2026-11-25T12:00:00ZZ",
        "2026-11-25T12:00:00.Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T12:60:00Z",
        "2026-11-25T12:00:61Z",
        "2026-11-25T12:00:00+0100",
        "2026-11-25T12:00:00+24:00",
        "26-11-25T12:00:00Z",
        "2026/11/25T12:00:00Z",
        "Wed, 25 Nov 2026 12:00:00 GMT",
    };
    apr_time_t t;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (lf_json_parse_time(&t, bad[i]) != APR_EINVAL) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
    assert_int_equal(lf_json_parse_time(&t, NULL), APR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(imds_answer),   UNIT_TEST(scalars_and_nesting), UNIT_TEST(string_escapes),
        UNIT_TEST(not_an_object), UNIT_TEST(depth_bound),         UNIT_TEST(not_nul_terminated),
        UNIT_TEST(times),         UNIT_TEST(bad_times),
    };
    return UNIT_RUN("lf_json_parse", tests);
}
