/* Unit tests of ElastiCache Memcached auto-discovery answers (modules/session_kv/skv_discovery.c):
 * the example of ElastiCache's guide, answers that arrive in pieces, nodes without a host name,
 * and every malformed answer refused with its reason; the servers a client makes of an answer. */
#include "unit.h"

#include "skv_discovery.h"
#include "skv_driver.h"

/* "CONFIG cluster 0 <bytes>\r\n<payload>\r\nEND\r\n" for @p payload. */
static const char *answer(const char *payload, apr_pool_t *p)
{
    return apr_psprintf(p, "CONFIG cluster 0 %lu\r\n%s\r\nEND\r\n", (unsigned long)strlen(payload),
                        payload);
}

static skv_discovery_node_t *node(const skv_discovery_t *d, int i)
{
    return &APR_ARRAY_IDX(d->nodes, i, skv_discovery_node_t);
}

static skv_server_t *server(const apr_array_header_t *servers, int i)
{
    return &APR_ARRAY_IDX(servers, i, skv_server_t);
}

static void guide_example(void **state)
{
    apr_pool_t *p = *state;
    const char *text = answer("12\n"
                              "myCluster.pc4ldq.0001.use1.cache.amazonaws.com|10.82.235.120|11211 "
                              "myCluster.pc4ldq.0002.use1.cache.amazonaws.com|10.80.249.27|11211\n",
                              p);
    skv_discovery_t d;
    const char *why = NULL;
    apr_size_t used = 99, i;

    assert_int_equal(skv_discovery_parse(&d, &used, &why, text, strlen(text), p), APR_SUCCESS);
    assert_int_equal(used, strlen(text));
    assert_int_equal(d.version, 12);
    assert_int_equal(d.nodes->nelts, 2);
    assert_string_equal(node(&d, 0)->host, "myCluster.pc4ldq.0001.use1.cache.amazonaws.com");
    assert_string_equal(node(&d, 0)->ip, "10.82.235.120");
    assert_int_equal(node(&d, 0)->port, 11211);
    assert_string_equal(node(&d, 1)->host, "myCluster.pc4ldq.0002.use1.cache.amazonaws.com");
    assert_string_equal(node(&d, 1)->ip, "10.80.249.27");

    /* in pieces: nothing used until all of it is there, whatever follows is left */
    for (i = 0; i < strlen(text); i++) {
        used = 99;
        assert_int_equal(skv_discovery_parse(&d, &used, &why, text, i, p), APR_SUCCESS);
        assert_int_equal(used, 0);
    }
    text = apr_pstrcat(p, text, "CONFIG", NULL);
    assert_int_equal(skv_discovery_parse(&d, &used, &why, text, strlen(text), p), APR_SUCCESS);
    assert_int_equal(used, strlen(text) - 6);
}

static void ip_only_nodes(void **state)
{
    apr_pool_t *p = *state;
    const char *text = answer("3\n|127.0.0.1|11311  |127.0.0.1|11312\n", p);
    skv_discovery_t d;
    const char *why = NULL;
    apr_size_t used;

    assert_int_equal(skv_discovery_parse(&d, &used, &why, text, strlen(text), p), APR_SUCCESS);
    assert_int_equal(d.version, 3);
    assert_int_equal(d.nodes->nelts, 2);
    assert_null(node(&d, 0)->host);
    assert_string_equal(node(&d, 0)->ip, "127.0.0.1");
    assert_int_equal(node(&d, 1)->port, 11312);

    /* a name without an address */
    text = answer("4\nnode-1.example||11211\n", p);
    assert_int_equal(skv_discovery_parse(&d, &used, &why, text, strlen(text), p), APR_SUCCESS);
    assert_string_equal(node(&d, 0)->host, "node-1.example");
    assert_null(node(&d, 0)->ip);
}

/* What a client connects to: the IP when there is one, else the name; sorted, without
 * duplicates, so that the same nodes in another order are the same list. */
static void servers_of_an_answer(void **state)
{
    apr_pool_t *p = *state;
    const char *a = answer("7\nn3.example|10.0.0.3|11211 n1.example|10.0.0.1|11211 "
                           "n2.example||11212 n1.example|10.0.0.1|11211 |10.0.0.1|11300\n",
                           p);
    const char *b = answer("8\n|10.0.0.1|11211 n2.example||11212 |10.0.0.1|11300 "
                           "n3.example|10.0.0.3|11211\n",
                           p);
    skv_discovery_t da, db;
    apr_array_header_t *sa, *sb;
    const char *why = NULL;
    apr_size_t used;

    assert_int_equal(skv_discovery_parse(&da, &used, &why, a, strlen(a), p), APR_SUCCESS);
    assert_int_equal(skv_discovery_parse(&db, &used, &why, b, strlen(b), p), APR_SUCCESS);
    assert_int_equal(skv_discovery_servers(&sa, &why, &da, 10, p), APR_SUCCESS);
    assert_int_equal(skv_discovery_servers(&sb, &why, &db, 10, p), APR_SUCCESS);
    assert_int_equal(sa->nelts, 4);
    assert_string_equal(server(sa, 0)->host, "10.0.0.1");
    assert_int_equal(server(sa, 0)->port, 11211);
    assert_string_equal(server(sa, 1)->host, "10.0.0.1");
    assert_int_equal(server(sa, 1)->port, 11300);
    assert_string_equal(server(sa, 2)->host, "10.0.0.3");
    assert_string_equal(server(sa, 3)->host, "n2.example");
    assert_int_equal(server(sa, 3)->port, 11212);
    assert_true(skv_discovery_same(sa, sb));
    assert_string_equal(skv_discovery_describe(sa, 2, p),
                        "10.0.0.1:11211, 10.0.0.1:11300 and 2 more");
    assert_string_equal(skv_discovery_describe(sa, 4, p),
                        "10.0.0.1:11211, 10.0.0.1:11300, 10.0.0.3:11211, n2.example:11212");

    /* a node more, a node less, another port: not the same */
    sb->nelts = 3;
    assert_false(skv_discovery_same(sa, sb));
    assert_false(skv_discovery_same(sb, sa));
    sb->nelts = 4;
    server(sb, 3)->port = 11213;
    assert_false(skv_discovery_same(sa, sb));

    /* more distinct nodes than a client takes: refused, not cut short */
    assert_int_equal(skv_discovery_servers(&sa, &why, &da, 3, p), APR_EINVAL);
    assert_string_equal(why, "4 nodes, more than the 3 taken");
}

static void refused(void **state)
{
    apr_pool_t *p = *state;
    /* whole answers, and payloads that answer() frames with their right byte count */
    static const char *const cases[][2] = {
        {"ERROR\r\n", "not an answer to config get cluster: 'ERROR'"},
        {"CONFIG cluster x 5\r\n12\nh|i|1\n\r\nEND\r\n", "bad header 'CONFIG cluster x 5'"},
        {"CONFIG cluster 0 -1\r\n\r\nEND\r\n", "bad header 'CONFIG cluster 0 -1'"},
        {"CONFIG cluster 0 5\r\n12\nh|i|1\n\r\nEND\r\n",
         "the answer does not end where its byte count says"},
    };
    static const char *const payloads[][2] = {
        {"12\n", "no version line and nodes line"},
        {"v\nh|i|1\n", "no version line and nodes line"},
        {"1\nh|i|1", "no version line and nodes line"},
        {"1\nh|i|0\n", "node 'h|i|0' is not host|ip|port"},
        {"1\nh|i1\n", "node 'h|i1' is not host|ip|port"},
        {"1\n||1234\n", "node '||1234' is not host|ip|port"},
        {"1\nh|i|1|2\n", "node 'h|i|1|2' is not host|ip|port"},
        {"1\nh|i|1\nh|i|2\n", "node 'h|i|1?h|i|2' is not host|ip|port"},
        {"1\n \n", "no node"},
        {"1\nh\001|i|1\n", "node 'h?|i|1' is not host|ip|port"},
        {"1\n|i\x7f|1\n", "node '|i?|1' is not host|ip|port"},
    };
    skv_discovery_t d;
    const char *why;
    apr_size_t used, i;
    char *big;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why = NULL;
        assert_int_equal(skv_discovery_parse(&d, &used, &why, cases[i][0], strlen(cases[i][0]), p),
                         APR_EINVAL);
        assert_non_null(why);
        assert_string_equal(why, cases[i][1]);
        assert_int_equal(used, 0);
    }
    for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        const char *text = answer(payloads[i][0], p);

        why = NULL;
        assert_int_equal(skv_discovery_parse(&d, &used, &why, text, strlen(text), p), APR_EINVAL);
        assert_non_null(why);
        assert_string_equal(why, payloads[i][1]);
    }
    /* no line end within the limit */
    big = apr_palloc(p, SKV_DISCOVERY_MAX);
    memset(big, 'x', SKV_DISCOVERY_MAX);
    assert_int_equal(skv_discovery_parse(&d, &used, &why, big, SKV_DISCOVERY_MAX, p), APR_EINVAL);
    assert_string_equal(why, "no answer line");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(guide_example),
        UNIT_TEST(ip_only_nodes),
        UNIT_TEST(refused),
        UNIT_TEST(servers_of_an_answer),
    };

    return UNIT_RUN("skv_discovery", tests);
}
