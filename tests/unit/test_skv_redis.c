/* Unit tests of the redis driver's reading of replies (modules/session_kv/skv_redis.c, through
 * skv_redis_replies()): each round trip's replies, failover replies, and the error texts, in
 * which the password is masked whatever it is. Regressions: tests/fuzz/fuzz_skv_redis.c found
 * that a password of "*" made the masking loop forever and a short one made it write past the
 * end of the error buffer; a PTTL beyond what microseconds can count overflowed (UBSan, on an
 * input written for that target); an array's header alone ("*399999999") made hiredis's reader
 * allocate gigabytes (reader_guard). The driver against a real server is tested in
 * tests/integration (test_06x_session_*). */
#include "unit.h"

#include <hiredis/hiredis.h>

#include <apr_tables.h>

#include "skv_redis.h"

/* A backend as skv_backend_parse() makes one, with @p password (NULL: none) and @p db. */
static skv_backend_t *backend(const char *password, int db, apr_pool_t *p)
{
    skv_backend_t *be = apr_pcalloc(p, sizeof(*be));
    skv_server_t *s;

    be->type = SKV_BACKEND_REDIS;
    be->display = "redis://127.0.0.1:6379";
    be->servers = apr_array_make(p, 1, sizeof(skv_server_t));
    s = apr_array_push(be->servers);
    s->host = "127.0.0.1";
    s->port = 6379;
    be->password = password;
    be->db = db;
    return be;
}

/* A reply of @p type holding the text @p str. */
static redisReply *text_reply(int type, const char *str, apr_pool_t *p)
{
    redisReply *r = apr_pcalloc(p, sizeof(*r));

    r->type = type;
    r->str = apr_pstrdup(p, str);
    r->len = strlen(str);
    return r;
}

static redisReply *int_reply(long long v, apr_pool_t *p)
{
    redisReply *r = apr_pcalloc(p, sizeof(*r));

    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *nil_reply(apr_pool_t *p)
{
    redisReply *r = apr_pcalloc(p, sizeof(*r));

    r->type = REDIS_REPLY_NIL;
    return r;
}

static apr_status_t replies(const char **err, const skv_backend_t *be, skv_redis_op_e op,
                            redisReply *r0, redisReply *r1, redisReply *r2, apr_pool_t *p)
{
    redisReply *r[3] = {r0, r1, r2};
    skv_value_t val;
    const char *info = NULL;
    int n = r2 ? 3 : r1 ? 2 : r0 ? 1 : 0;

    memset(&val, 0, sizeof(val));
    return skv_redis_replies(&val, &info, err, be, op, r, n, p);
}

static void get_replies(void **state)
{
    apr_pool_t *p = *state;
    const skv_backend_t *be = backend(NULL, 0, p);
    redisReply *r[2] = {text_reply(REDIS_REPLY_STRING, "SK\x01", p), int_reply(59000, p)};
    const char *err = NULL, *info = NULL;
    skv_value_t val;

    memset(&val, 0, sizeof(val));
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 2, p), APR_SUCCESS);
    assert_int_equal(val.len, 3);
    assert_memory_equal(val.data, "SK\x01", 4);
    assert_int_equal(val.expires_in, apr_time_from_sec(59));
    assert_string_equal(err, "");

    /* PTTL -1 (no expiry) or -2 (gone meanwhile): not known */
    r[1] = int_reply(-2, p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 2, p), APR_SUCCESS);
    assert_int_equal(val.expires_in, -1);

    /* more milliseconds than microseconds can count: not known either (was an overflow) */
    r[1] = int_reply(APR_INT64_MAX / 1000 + 1, p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 2, p), APR_SUCCESS);
    assert_int_equal(val.expires_in, -1);
    r[1] = int_reply(APR_INT64_MAX / 1000, p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 2, p), APR_SUCCESS);
    assert_int_equal(val.expires_in, APR_INT64_MAX / 1000 * 1000);

    r[0] = nil_reply(p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 2, p),
                     APR_NOTFOUND);
    r[0] = int_reply(1, p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 2, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: unexpected reply (type 3)");
    /* as many replies as the round trip has, or nothing is read */
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_GET, r, 1, p), APR_EINVAL);
}

static void write_cas_int_replies(void **state)
{
    apr_pool_t *p = *state;
    const skv_backend_t *be = backend(NULL, 0, p);
    const char *err = NULL;

    assert_int_equal(
        replies(&err, be, SKV_REDIS_WRITE, text_reply(REDIS_REPLY_STATUS, "OK", p), NULL, NULL, p),
        APR_SUCCESS);
    assert_int_equal(replies(&err, be, SKV_REDIS_WRITE, nil_reply(p), NULL, NULL, p), APR_EEXIST);
    assert_int_equal(replies(&err, be, SKV_REDIS_WRITE,
                             text_reply(REDIS_REPLY_ERROR, "OOM command not allowed", p), NULL,
                             NULL, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: OOM command not allowed");

    assert_int_equal(replies(&err, be, SKV_REDIS_CAS, int_reply(1, p), NULL, NULL, p), APR_SUCCESS);
    assert_int_equal(replies(&err, be, SKV_REDIS_CAS, int_reply(0, p), NULL, NULL, p),
                     APR_NOTFOUND);
    assert_int_equal(replies(&err, be, SKV_REDIS_CAS, int_reply(-1, p), NULL, NULL, p), APR_EEXIST);
    assert_int_equal(replies(&err, be, SKV_REDIS_INT, int_reply(0, p), NULL, NULL, p),
                     APR_NOTFOUND);
    assert_int_equal(replies(&err, be, SKV_REDIS_INT, int_reply(1, p), NULL, NULL, p), APR_SUCCESS);
}

/* READONLY, LOADING, MASTERDOWN, also wrapped by a script: the server cannot serve now. */
static void failover_replies(void **state)
{
    apr_pool_t *p = *state;
    const skv_backend_t *be = backend(NULL, 0, p);
    const char *err = NULL;

    assert_int_equal(replies(&err, be, SKV_REDIS_WRITE,
                             text_reply(REDIS_REPLY_ERROR,
                                        "READONLY You can't write against a read only replica.", p),
                             NULL, NULL, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: READONLY You can't write against a read only "
                             "replica.");
    assert_int_equal(
        replies(&err, be, SKV_REDIS_CAS,
                text_reply(REDIS_REPLY_ERROR, "ERR Error running script: -MASTERDOWN Link down", p),
                NULL, NULL, p),
        APR_EGENERAL);
    /* a word that only starts like one is no failover */
    assert_int_equal(replies(&err, be, SKV_REDIS_INT, text_reply(REDIS_REPLY_STATUS, "LOADINGX", p),
                             NULL, NULL, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: unexpected reply (type 5)");
}

static void ping_replies(void **state)
{
    apr_pool_t *p = *state;
    const skv_backend_t *be = backend(NULL, 0, p);
    redisReply *role = apr_pcalloc(p, sizeof(*role)), *elems[1];
    redisReply *r[3];
    const char *err = NULL, *info = NULL;
    skv_value_t val;

    elems[0] = text_reply(REDIS_REPLY_STRING, "master", p);
    role->type = REDIS_REPLY_ARRAY;
    role->elements = 1;
    role->element = elems;
    r[0] = text_reply(REDIS_REPLY_STATUS, "PONG", p);
    r[1] = text_reply(REDIS_REPLY_STRING, "# Server\r\nredis_version:7.0.15\r\nredis_mode:x", p);
    r[2] = role;
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_PING, r, 3, p),
                     APR_SUCCESS);
    assert_string_equal(info, "redis 7.0.15 master");

    elems[0] = text_reply(REDIS_REPLY_STRING, "slave", p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_PING, r, 3, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: connected to a slave, not a primary");

    /* no right to INFO or ROLE: healthy all the same */
    r[1] = text_reply(REDIS_REPLY_ERROR, "NOPERM", p);
    r[2] = text_reply(REDIS_REPLY_ERROR, "NOPERM", p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_PING, r, 3, p),
                     APR_SUCCESS);
    assert_string_equal(info, "redis ?");

    /* a cluster answers CLUSTER INFO instead of ROLE: healthy when every slot has a primary */
    r[1] = text_reply(REDIS_REPLY_STRING, "redis_version:7.0.15\r\n", p);
    r[2] = text_reply(REDIS_REPLY_STRING,
                      "cluster_enabled:1\r\ncluster_state:ok\r\ncluster_size:3\r\n", p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_PING, r, 3, p),
                     APR_SUCCESS);
    assert_string_equal(info, "redis 7.0.15 cluster ok, 3 shards");
    r[2] = text_reply(REDIS_REPLY_STRING, "cluster_state:fail\r\n", p);
    assert_int_equal(skv_redis_replies(&val, &info, &err, be, SKV_REDIS_PING, r, 3, p),
                     APR_EGENERAL);
    assert_string_equal(info, "redis 7.0.15 cluster fail, ? shards");
    assert_string_equal(err, "redis 127.0.0.1:6379: the cluster's state is fail (CLUSTER INFO)");
}

static void connect_replies(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    assert_int_equal(replies(&err, backend("pw", 2, p), SKV_REDIS_CONNECT,
                             text_reply(REDIS_REPLY_STATUS, "OK", p),
                             text_reply(REDIS_REPLY_ERROR, "ERR DB index is out of range", p), NULL,
                             p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: SELECT failed: ERR DB index is out of range");
    /* a cluster (ElastiCache Serverless, cluster mode on) has database 0 only: say what to do */
    assert_int_equal(
        replies(&err, backend(NULL, 2, p), SKV_REDIS_CONNECT,
                text_reply(REDIS_REPLY_ERROR, "ERR SELECT is not allowed in cluster mode", p), NULL,
                NULL, p),
        APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: SELECT failed: ERR SELECT is not allowed in "
                             "cluster mode (a cluster has database 0 only: remove the /<db> from "
                             "the URL)");
    assert_int_equal(replies(&err, backend(NULL, 0, p), SKV_REDIS_CONNECT, NULL, NULL, NULL, p),
                     APR_SUCCESS);
}

/* The password never shows in an error, even when the server quotes it. */
static void password_masked(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    assert_int_equal(replies(&err, backend("s3cr3t-pw", 0, p), SKV_REDIS_CONNECT,
                             text_reply(REDIS_REPLY_ERROR,
                                        "WRONGPASS invalid password 's3cr3t-pw' (s3cr3t-pw)", p),
                             NULL, NULL, p),
                     APR_EGENERAL);
    assert_string_equal(
        err, "redis 127.0.0.1:6379: AUTH failed: WRONGPASS invalid password '***' (***)");
}

/* A password shorter than its mask: each copy makes the text longer, which must still fit. */
static void password_masked_short(void **state)
{
    apr_pool_t *p = *state;
    char msg[300] = "ERR ";
    const char *err = NULL;
    int i;

    for (i = 0; i < 120; i++) {
        strcat(msg, "ab");
    }
    assert_int_equal(replies(&err, backend("ab", 0, p), SKV_REDIS_CONNECT,
                             text_reply(REDIS_REPLY_ERROR, msg, p), NULL, NULL, p),
                     APR_EGENERAL);
    assert_true(strlen(err) < 256);
    assert_null(strstr(err, "ab"));
    assert_non_null(strstr(err, "AUTH failed: ERR ******"));
}

/* A password that its mask holds: masked once, not again and again. */
static void password_masked_stars(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    assert_int_equal(replies(&err, backend("*", 0, p), SKV_REDIS_CONNECT,
                             text_reply(REDIS_REPLY_ERROR, "ERR *", p), NULL, NULL, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: AUTH failed: ERR ***");
    assert_int_equal(replies(&err, backend("***", 0, p), SKV_REDIS_CONNECT,
                             text_reply(REDIS_REPLY_ERROR, "ERR *** ****", p), NULL, NULL, p),
                     APR_EGENERAL);
    assert_string_equal(err, "redis 127.0.0.1:6379: AUTH failed: ERR *** ****");
}

/* A server message longer than the driver formats: a copy of the password cut at its end is
 * masked too, when the masks leave room for all of the text. */
static void password_masked_cut(void **state)
{
    apr_pool_t *p = *state;
    char pw[101], msg[1200] = "";
    const char *err = NULL;
    int i;

    for (i = 0; i < 100; i++) { /* A-Z a-z then digits */
        pw[i] = i < 26 ? (char)('A' + i) : i < 52 ? (char)('a' + i - 26) : (char)('0' + i % 10);
    }
    pw[100] = '\0';
    for (i = 0; i < 10; i++) {
        strcat(msg, pw);
        strcat(msg, " ");
    }
    assert_int_equal(replies(&err, backend(pw, 0, p), SKV_REDIS_CONNECT,
                             text_reply(REDIS_REPLY_ERROR, msg, p), NULL, NULL, p),
                     APR_EGENERAL);
    assert_true(strlen(err) < 256);
    assert_null(strstr(err, "ABCDEFGHIJ"));
    assert_non_null(strstr(err, "AUTH failed: *** *** "));
}

/* Feed @p resp to a guarded reader; the number of replies it read whole, -1 on its error. */
static int guarded_read(int *budget, const char *resp, apr_size_t len)
{
    redisReader *reader = redisReaderCreate();
    void *reply;
    int n = 0;

    assert_non_null(reader);
    assert_int_equal(skv_redis_guard(reader, budget), 1);
    assert_int_equal(redisReaderFeed(reader, resp, len), REDIS_OK);
    for (;;) {
        reply = NULL;
        if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
            n = -1;
            break;
        }
        if (!reply) {
            break;
        }
        freeReplyObject(reply);
        n++;
    }
    redisReaderFree(reader);
    return n;
}

/* "*" then @p elements times "$1 x", into @p buf. */
static apr_size_t array_resp(char *buf, apr_size_t size, int elements)
{
    apr_size_t o = apr_snprintf(buf, size, "*%d\r\n", elements);
    int i;

    for (i = 0; i < elements && o + 7 < size; i++) {
        memcpy(buf + o, "$1\r\nx\r\n", 7);
        o += 7;
    }
    return o;
}

static void reader_guard(void **state)
{
    static const char huge[] = "*399999999\r\n", nested[] = "*2\r\n*1000\r\n*25\r\n";
    static const char role[] = "*3\r\n$6\r\nmaster\r\n:42\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n"
                               "$4\r\n6380\r\n$2\r\n42\r\n";
    char buf[16 * 1024];
    apr_size_t len;
    int budget;

    (void)state;
    /* no table of 400M pointers: the reader fails at the header, the budget tells why */
    assert_int_equal(guarded_read(&budget, huge, sizeof(huge) - 1), -1);
    assert_true(budget < 0);
    /* the budget counts the elements of every array in one reply */
    assert_int_equal(guarded_read(&budget, nested, sizeof(nested) - 1), -1);
    assert_true(budget < 0);
    /* what the driver reads passes: ROLE with a replica, 1024 elements, then 1024 again */
    assert_int_equal(guarded_read(&budget, role, sizeof(role) - 1), 1);
    len = array_resp(buf, sizeof(buf), 1024);
    len += array_resp(buf + len, sizeof(buf) - len, 1023);
    assert_int_equal(guarded_read(&budget, buf, len), 2);
    assert_int_equal(budget, 1);
    len = array_resp(buf, sizeof(buf), 1025);
    assert_int_equal(guarded_read(&budget, buf, len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(get_replies),           UNIT_TEST(write_cas_int_replies),
        UNIT_TEST(failover_replies),      UNIT_TEST(ping_replies),
        UNIT_TEST(connect_replies),       UNIT_TEST(password_masked),
        UNIT_TEST(password_masked_short), UNIT_TEST(password_masked_stars),
        UNIT_TEST(password_masked_cut),   UNIT_TEST(reader_guard),
    };

    return UNIT_RUN("skv_redis", tests);
}
