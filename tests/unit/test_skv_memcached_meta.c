/* Unit tests of the memcached meta-protocol driver's reading of replies
 * (modules/session_kv/skv_memcached_meta.c, through skv_memcached_meta_reply()): each operation's
 * replies as memcached 1.6.18 sends them, replies cut short (more bytes needed), error lines,
 * what a hostile reply cannot make it do (allocate more than a value's bound, read a line
 * without end), and the keys the driver refuses to send. The driver against a real server (over
 * TLS) is tested in tests/integration/test_06c_session_memcached_tls.py. */
#include "unit.h"

#include "skv_memcached_meta.h"

/* The status of @p op's reply @p text (NUL-terminated), with the outputs in @p val, @p info,
 * @p used and @p err. */
static apr_status_t reply(skv_value_t *val, const char **info, apr_size_t *used, const char **err,
                          skv_mcmeta_op_e op, const char *text, apr_pool_t *p)
{
    memset(val, 0, sizeof(*val));
    *info = NULL;
    return skv_memcached_meta_reply(val, info, used, err, op, text, strlen(text), p);
}

/* The status alone. */
static apr_status_t status(skv_mcmeta_op_e op, const char *text, apr_pool_t *p)
{
    skv_value_t val;
    const char *info, *err;
    apr_size_t used;

    return reply(&val, &info, &used, &err, op, text, p);
}

static void get_replies(void **state)
{
    apr_pool_t *p = *state;
    skv_value_t val;
    const char *info, *err;
    apr_size_t used;

    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET,
                           "VA 5 c1234567890123 t100\r\nhe\0lo\r\n", p),
                     APR_INCOMPLETE); /* strlen stops at the NUL: the value is not all there */
    assert_int_equal(skv_memcached_meta_reply(&val, &info, &used, &err, SKV_MCMETA_GET,
                                              "VA 5 c1234567890123 t100\r\nhe\0lo\r\n", 33, p),
                     APR_SUCCESS);
    assert_int_equal(used, 33);
    assert_int_equal(val.len, 5);
    assert_memory_equal(val.data, "he\0lo", 5);
    assert_int_equal(val.data[5], '\0');
    assert_true(val.cas == APR_UINT64_C(1234567890123));
    assert_true(val.expires_in == apr_time_from_sec(100));
    assert_string_equal(err, "");

    /* no expiry */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 2 c3 t-1\r\nhi\r\n", p),
                     APR_SUCCESS);
    assert_true(val.expires_in == -1);
    /* flags in another order, others among them, no t */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 2 W c7 X\r\nhi\r\n", p),
                     APR_SUCCESS);
    assert_true(val.cas == 7);
    assert_true(val.expires_in == -1);
    /* more seconds than microseconds can count: not known */
    assert_int_equal(
        reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 0 c1 t18446744073709551615\r\n\r\n", p),
        APR_SUCCESS);
    assert_true(val.expires_in == -1);
    assert_int_equal(val.len, 0);

    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "EN\r\n", p), APR_NOTFOUND);
    assert_int_equal(used, 4);

    /* cut short: more bytes needed, and how many once the line says */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "", p), APR_INCOMPLETE);
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 10 c1", p),
                     APR_INCOMPLETE);
    assert_int_equal(used, 0);
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 10 c1\r", p),
                     APR_INCOMPLETE);
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 10 c1\r\nabc", p),
                     APR_INCOMPLETE);
    assert_int_equal(used, 10 + 10 + 2);
}

static void get_bad_replies(void **state)
{
    apr_pool_t *p = *state;
    skv_value_t val;
    const char *info, *err;
    apr_size_t used;

    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 2 t5\r\nhi\r\n", p),
                     APR_EGENERAL);
    assert_string_equal(err, "protocol error: a value without its cas token");
    assert_int_equal(status(SKV_MCMETA_GET, "VA\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_GET, "VA x c1\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_GET, "VA -1 c1\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_GET, "VA 2 c1x\r\nhi\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_GET, "VA 2 c18446744073709551616\r\nhi\r\n", p),
                     APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_GET, "VA 2 c1 t-2\r\nhi\r\n", p), APR_EGENERAL);
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 2 c1\r\nhiXY", p),
                     APR_EGENERAL);
    assert_string_equal(err, "protocol error: a value not ended by CRLF");
    /* a value past the bound: refused from its line, before anything is read or allocated */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 4194305 c1\r\n", p),
                     APR_EGENERAL);
    assert_string_equal(err, "protocol error: a value larger than 4 MiB");
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "VA 4194304 c1\r\n", p),
                     APR_INCOMPLETE);
    assert_int_equal(used, 4194304 + 15 + 2);
    assert_int_equal(status(SKV_MCMETA_GET, "VA 99999999999999999999999 c1\r\n", p), APR_EGENERAL);
    /* another op's reply */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET, "HD\r\n", p), APR_EGENERAL);
    assert_string_equal(err, "protocol error: unexpected reply 'HD'");
}

static void write_replies(void **state)
{
    apr_pool_t *p = *state;

    assert_int_equal(status(SKV_MCMETA_ADD, "HD\r\n", p), APR_SUCCESS);
    assert_int_equal(status(SKV_MCMETA_ADD, "NS\r\n", p), APR_EEXIST);
    assert_int_equal(status(SKV_MCMETA_ADD, "NF\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_CAS, "HD\r\n", p), APR_SUCCESS);
    assert_int_equal(status(SKV_MCMETA_CAS, "EX\r\n", p), APR_EEXIST);
    assert_int_equal(status(SKV_MCMETA_CAS, "NS\r\n", p), APR_EEXIST);
    assert_int_equal(status(SKV_MCMETA_CAS, "NF\r\n", p), APR_NOTFOUND);
    assert_int_equal(status(SKV_MCMETA_REPLACE, "HD\r\n", p), APR_SUCCESS);
    assert_int_equal(status(SKV_MCMETA_REPLACE, "NS\r\n", p), APR_NOTFOUND);
    assert_int_equal(status(SKV_MCMETA_REPLACE, "EX\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_TOUCH, "HD\r\n", p), APR_SUCCESS);
    assert_int_equal(status(SKV_MCMETA_TOUCH, "EN\r\n", p), APR_NOTFOUND);
    assert_int_equal(status(SKV_MCMETA_DEL, "HD\r\n", p), APR_SUCCESS);
    assert_int_equal(status(SKV_MCMETA_DEL, "NF\r\n", p), APR_NOTFOUND);
    assert_int_equal(status(SKV_MCMETA_DEL, "EN\r\n", p), APR_EGENERAL);
    /* flags after the code are the server's business */
    assert_int_equal(status(SKV_MCMETA_ADD, "HD c5\r\n", p), APR_SUCCESS);
    assert_int_equal(status(SKV_MCMETA_ADD, "HDX\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_DEL, "HD", p), APR_INCOMPLETE);
    assert_int_equal(status(SKV_MCMETA_DEL + 2, "HD\r\n", p), APR_EINVAL);
}

static void error_replies(void **state)
{
    apr_pool_t *p = *state;
    skv_value_t val;
    const char *info, *err;
    apr_size_t used;

    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_ADD,
                           "SERVER_ERROR object too large for cache\r\n", p),
                     APR_ENOSPC);
    assert_string_equal(err, "SERVER_ERROR object too large for cache");
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_GET,
                           "SERVER_ERROR out of memory storing object\r\n", p),
                     APR_EGENERAL);
    assert_string_equal(err, "SERVER_ERROR out of memory storing object");
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_CAS,
                           "CLIENT_ERROR bad command "
                           "line format\r\n",
                           p),
                     APR_EGENERAL);
    assert_string_equal(err, "CLIENT_ERROR bad command line format");
    /* a server before the meta protocol */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_PING, "ERROR\r\n", p),
                     APR_EGENERAL);
    assert_non_null(strstr(err, "memcached 1.6"));
    /* not text, or a line without end */
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_DEL, "HD\n", p), APR_EGENERAL);
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_DEL, "HD\nX\r\n", p), APR_EGENERAL);
    assert_string_equal(err, "protocol error: a reply line that is not text");
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_DEL, "H\rD\r\n", p), APR_EGENERAL);
    {
        char *line = apr_palloc(p, 2000);

        memset(line, 'A', 1999);
        line[1999] = '\0';
        assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_DEL, line, p), APR_EGENERAL);
        assert_string_equal(err, "protocol error: a reply line longer than 1024 bytes");
        line[1000] = '\0';
        assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_DEL, line, p), APR_INCOMPLETE);
        memcpy(line + 900, "\r\n", 3);
        assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_DEL, line, p), APR_EGENERAL);
        assert_string_equal(err, "protocol error: unexpected reply "
                                 "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...'");
    }
}

static void ping_replies(void **state)
{
    apr_pool_t *p = *state;
    skv_value_t val;
    const char *info, *err;
    apr_size_t used;

    assert_int_equal(
        reply(&val, &info, &used, &err, SKV_MCMETA_PING, "VERSION 1.6.18\r\nMN\r\n", p),
        APR_SUCCESS);
    assert_string_equal(info, "memcached 1.6.18");
    assert_int_equal(used, 20);
    assert_int_equal(reply(&val, &info, &used, &err, SKV_MCMETA_PING, "VERSION 1.6.18\r\n", p),
                     APR_INCOMPLETE);
    /* a server that knows version but not mn */
    assert_int_equal(
        reply(&val, &info, &used, &err, SKV_MCMETA_PING, "VERSION 1.4.5\r\nERROR\r\n", p),
        APR_EGENERAL);
    assert_non_null(strstr(err, "meta protocol"));
    assert_int_equal(status(SKV_MCMETA_PING, "VERSION 1.6.18\r\nHD\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_PING, "VERSION\r\nMN\r\n", p), APR_EGENERAL);
    assert_int_equal(status(SKV_MCMETA_PING, "MN\r\n", p), APR_EGENERAL);
}

static void keys(void **state)
{
    char longest[251];

    (void)state;
    assert_true(skv_memcached_meta_key_ok("skv:0123456789abcdef"));
    assert_false(skv_memcached_meta_key_ok(""));
    assert_false(skv_memcached_meta_key_ok("a b"));
    assert_false(skv_memcached_meta_key_ok("a\r\nmd x"));
    assert_false(skv_memcached_meta_key_ok("a\tb"));
    assert_false(skv_memcached_meta_key_ok("caf\xc3\xa9"));
    memset(longest, 'k', 250);
    longest[250] = '\0';
    assert_true(skv_memcached_meta_key_ok(longest));
    {
        char toolong[252];

        memset(toolong, 'k', 251);
        toolong[251] = '\0';
        assert_false(skv_memcached_meta_key_ok(toolong));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(get_replies),   UNIT_TEST(get_bad_replies), UNIT_TEST(write_replies),
        UNIT_TEST(error_replies), UNIT_TEST(ping_replies),    UNIT_TEST(keys),
    };

    return UNIT_RUN("skv_memcached_meta", tests);
}
