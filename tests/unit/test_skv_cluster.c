/* Unit tests of the Redis Cluster helpers (modules/session_kv/skv_cluster.c): key slots (CRC16
 * XMODEM's check value 0x31C3 for "123456789", the slots redis's documentation gives, hash
 * tags by redis's rules), the slot map read from CLUSTER SLOTS replies as redis 7 sends them
 * (with and without announced host names), and MOVED / ASK redirections. */
#include "unit.h"

#include <hiredis/hiredis.h>

#include "skv_cluster.h"

#define SLOT(s) skv_cluster_slot(s, sizeof(s) - 1)

static void key_slots(void **state)
{
    (void)state;
    assert_int_equal(SLOT("123456789"), 0x31C3 % SKV_CLUSTER_SLOTS);
    assert_int_equal(SLOT("foo"), 12182);
    assert_int_equal(SLOT("bar"), 5061);
    assert_int_equal(SLOT(""), 0);
    /* a tag: only what is between the first '{' and the next '}' */
    assert_int_equal(SLOT("{user1000}.following"), SLOT("user1000"));
    assert_int_equal(SLOT("{user1000}.followers"), SLOT("user1000"));
    assert_int_equal(SLOT("foo{bar}{zap}"), SLOT("bar"));
    assert_int_equal(SLOT("foo{{bar}}zap"), SLOT("{bar"));
    /* an empty tag or none closed: the whole key */
    assert_int_equal(SLOT("foo{}{bar}"), 8363);
    assert_int_equal(SLOT("foo{bar"), skv_cluster_slot("foo{bar", 7));
    assert_int_not_equal(SLOT("foo{bar"), SLOT("bar"));
    /* the length counts, not a NUL */
    assert_int_equal(skv_cluster_slot("barXYZ", 3), 5061);
}

/* --- replies made by hand, as hiredis's reader makes them ----------------------------------- */

static redisReply *reply(int type, apr_pool_t *p)
{
    redisReply *r = apr_pcalloc(p, sizeof(*r));

    r->type = type;
    return r;
}

static redisReply *str(const char *s, apr_pool_t *p)
{
    redisReply *r = reply(REDIS_REPLY_STRING, p);

    r->str = apr_pstrdup(p, s);
    r->len = strlen(s);
    return r;
}

static redisReply *num(long long v, apr_pool_t *p)
{
    redisReply *r = reply(REDIS_REPLY_INTEGER, p);

    r->integer = v;
    return r;
}

static redisReply *arr(apr_pool_t *p, int n, ...)
{
    redisReply *r = reply(REDIS_REPLY_ARRAY, p);
    va_list ap;
    int i;

    r->elements = (size_t)n;
    r->element = apr_pcalloc(p, sizeof(redisReply *) * (apr_size_t)(n ? n : 1));
    va_start(ap, n);
    for (i = 0; i < n; i++) {
        r->element[i] = va_arg(ap, redisReply *);
    }
    va_end(ap);
    return r;
}

static redisReply *err(const char *s, apr_pool_t *p)
{
    redisReply *r = str(s, p);

    r->type = REDIS_REPLY_ERROR;
    return r;
}

/* A node entry: endpoint, port, id, and with @p hostname the metadata redis 7 adds. */
static redisReply *node(const char *endpoint, int port, const char *hostname, apr_pool_t *p)
{
    if (hostname) {
        return arr(p, 4, str(endpoint, p), num(port, p), str("0123abcd", p),
                   arr(p, 2, str("hostname", p), str(hostname, p)));
    }
    return arr(p, 3, str(endpoint, p), num(port, p), str("0123abcd", p));
}

static void slot_map(void **state)
{
    apr_pool_t *p = *state;
    skv_cluster_map_t *map;
    const char *why = NULL;
    redisReply *r;

    /* three primaries with a replica each, as redis-cli --cluster create makes them */
    r = arr(p, 3,
            arr(p, 4, num(0, p), num(5460, p), node("127.0.0.1", 7000, NULL, p),
                node("127.0.0.1", 7004, NULL, p)),
            arr(p, 4, num(5461, p), num(10922, p), node("127.0.0.1", 7001, NULL, p),
                node("127.0.0.1", 7005, NULL, p)),
            arr(p, 4, num(10923, p), num(16383, p), node("127.0.0.1", 7002, NULL, p),
                node("127.0.0.1", 7003, NULL, p)));
    assert_int_equal(skv_cluster_map_parse(&map, &why, r, "cfg.example", p), APR_SUCCESS);
    assert_int_equal(map->n, 3);
    assert_int_equal(map->nodes[map->slot[0]].port, 7000);
    assert_int_equal(map->nodes[map->slot[5460]].port, 7000);
    assert_int_equal(map->nodes[map->slot[5461]].port, 7001);
    assert_int_equal(map->nodes[map->slot[16383]].port, 7002);
    assert_string_equal(map->nodes[map->slot[SLOT("foo")]].host, "127.0.0.1");
    assert_int_equal(map->nodes[map->slot[SLOT("foo")]].port, 7002); /* 12182 */

    /* host names announced (ElastiCache on TLS): preferred to the endpoint; a node that serves
     * two ranges is one node; "?" (unknown endpoint) is the host asked; a slot nobody serves */
    r = arr(p, 3, arr(p, 3, num(0, p), num(99, p), node("10.0.0.1", 6379, "node-1.example", p)),
            arr(p, 3, num(200, p), num(299, p), node("10.0.0.1", 6379, "node-1.example", p)),
            arr(p, 3, num(100, p), num(199, p), node("?", 6380, NULL, p)));
    assert_int_equal(skv_cluster_map_parse(&map, &why, r, "cfg.example", p), APR_SUCCESS);
    assert_int_equal(map->n, 2);
    assert_string_equal(map->nodes[map->slot[0]].host, "node-1.example");
    assert_int_equal(map->slot[0], map->slot[250]);
    assert_string_equal(map->nodes[map->slot[150]].host, "cfg.example");
    assert_int_equal(map->nodes[map->slot[150]].port, 6380);
    assert_int_equal(map->slot[300], -1);
    assert_int_equal(map->slot[16383], -1);

    /* a host name that cannot be one (NUL bytes: found by fuzz_skv_cluster) is not used */
    r = arr(p, 1, arr(p, 3, num(0, p), num(1, p), node("10.0.0.1", 6379, "x", p)));
    r->element[0]->element[2]->element[3]->element[1]->str[0] = '\0';
    assert_int_equal(skv_cluster_map_parse(&map, &why, r, "cfg.example", p), APR_SUCCESS);
    assert_string_equal(map->nodes[0].host, "10.0.0.1");
    r = arr(p, 1, arr(p, 3, num(0, p), num(1, p), node("x y", 6379, NULL, p)));
    assert_int_equal(skv_cluster_map_parse(&map, &why, r, "cfg.example", p), APR_EINVAL);
}

static void slot_map_refused(void **state)
{
    apr_pool_t *p = *state;
    skv_cluster_map_t *map = NULL;
    const char *why = NULL;
    static const struct {
        const char *why;
    } expect[] = {
        {"CLUSTER SLOTS: ERR This instance has cluster support disabled"},
        {"CLUSTER SLOTS: no slot ranges"},
        {"CLUSTER SLOTS: range 0 is not start, end, node"},
        {"CLUSTER SLOTS: range 0 has slots 10-5"},
        {"CLUSTER SLOTS: range 0 has slots 0-16384"},
        {"CLUSTER SLOTS: range 0 has no usable primary"},
        {"CLUSTER SLOTS: range 1 has no usable primary"},
    };
    redisReply *bad[7];
    apr_size_t i;

    bad[0] = err("ERR This instance has cluster support disabled", p);
    bad[1] = arr(p, 0);
    bad[2] = arr(p, 1, arr(p, 2, num(0, p), num(1, p)));
    bad[3] = arr(p, 1, arr(p, 3, num(10, p), num(5, p), node("h", 1, NULL, p)));
    bad[4] = arr(p, 1, arr(p, 3, num(0, p), num(16384, p), node("h", 1, NULL, p)));
    bad[5] = arr(p, 1, arr(p, 3, num(0, p), num(1, p), node("h", 70000, NULL, p)));
    bad[6] = arr(p, 2, arr(p, 3, num(0, p), num(1, p), node("h", 1, NULL, p)),
                 arr(p, 3, num(2, p), num(3, p), arr(p, 2, num(1, p), num(1, p))));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(skv_cluster_map_parse(&map, &why, bad[i], "h", p), APR_EINVAL);
        assert_string_equal(why, expect[i].why);
    }
}

static void redirects(void **state)
{
    apr_pool_t *p = *state;
    skv_cluster_redirect_t to;

    assert_true(skv_cluster_redirect(&to, err("MOVED 3999 127.0.0.1:6381", p), "h", p));
    assert_false(to.ask);
    assert_int_equal(to.slot, 3999);
    assert_string_equal(to.host, "127.0.0.1");
    assert_int_equal(to.port, 6381);
    assert_true(skv_cluster_redirect(&to, err("ASK 12182 node-2.example:6379", p), "h", p));
    assert_true(to.ask);
    assert_string_equal(to.host, "node-2.example");
    /* an IPv6 address without brackets; an empty host is the node that answered */
    assert_true(skv_cluster_redirect(&to, err("MOVED 1 2001:db8::5:7000", p), "h", p));
    assert_string_equal(to.host, "2001:db8::5");
    assert_int_equal(to.port, 7000);
    assert_true(skv_cluster_redirect(&to, err("MOVED 1 :7001", p), "node-0.example", p));
    assert_string_equal(to.host, "node-0.example");
    /* anything else */
    assert_false(skv_cluster_redirect(&to, err("READONLY You can't write", p), "h", p));
    assert_false(skv_cluster_redirect(&to, err("MOVED", p), "h", p));
    assert_false(skv_cluster_redirect(&to, err("MOVED 16384 h:1", p), "h", p));
    assert_false(skv_cluster_redirect(&to, err("MOVED 1 h:0", p), "h", p));
    assert_false(skv_cluster_redirect(&to, err("MOVED 1 h", p), "h", p));
    assert_false(skv_cluster_redirect(&to, err("MOVED x h:1", p), "h", p));
    assert_false(skv_cluster_redirect(&to, err("MOVED 1 a b:1", p), "h", p));
    assert_false(skv_cluster_redirect(&to, str("MOVED 1 h:1", p), "h", p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(key_slots),
        UNIT_TEST(slot_map),
        UNIT_TEST(slot_map_refused),
        UNIT_TEST(redirects),
    };

    return UNIT_RUN("skv_cluster", tests);
}
