/* Unit tests of the memcached driver's auto-discovery (modules/session_kv/skv_memcached.c,
 * skv_driver_memcached_discovery) against a configuration endpoint played by a thread of the
 * test: each new version is reported once and taken by the connections (their errors name the
 * discovered nodes, on ports where nothing listens), the same version changes nothing, a bad
 * answer or an endpoint that is down keeps the list, the first operations of a process ask the
 * endpoint once between them, a failed first discovery makes the next operations fail at once,
 * and an endpoint that hangs or drips costs no more than the timeouts. The driver with real
 * memcached servers behind the stand-in of tests/integration/harness/discovery.py is tested in
 * tests/integration/test_06d_session_discovery.py. */
#include "unit.h"

#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "skv_backend.h"
#include "skv_driver.h"
#include "skv_memcached.h"
#include "skv_store.h"

#define MS(n) ((apr_interval_time_t)(n)*1000)

/* --- the endpoint ------------------------------------------------------------------------- */

typedef enum { EP_ANSWER, EP_SILENT, EP_DRIP } ep_mode_e;

typedef struct {
    int lfd;
    apr_port_t port;
    pthread_t tid;
    volatile int stop;
    ep_mode_e mode;
    pthread_mutex_t lock;
    char answer[70000]; /* what a `config get cluster` gets */
    apr_size_t answer_len;
    int delay_ms; /* before answering */
    int asked;    /* `config get cluster` requests */
} ep_t;

static void ep_set(ep_t *e, const char *text, apr_size_t len)
{
    pthread_mutex_lock(&e->lock);
    memcpy(e->answer, text, len);
    e->answer_len = len;
    pthread_mutex_unlock(&e->lock);
}

/* The answer for @p version and the nodes 127.0.0.1|<port> of @p ports (n of them). */
static void ep_nodes(ep_t *e, int version, const apr_port_t *ports, int n, apr_pool_t *p)
{
    const char *payload = apr_psprintf(p, "%d\n", version), *text;
    int i;

    for (i = 0; i < n; i++) {
        payload = apr_psprintf(p, "%snode%d.invalid|127.0.0.1|%u%s", payload, i, ports[i],
                               i + 1 < n ? " " : "\n");
    }
    text = apr_psprintf(p, "CONFIG cluster 0 %lu\r\n%s\r\nEND\r\n", (unsigned long)strlen(payload),
                        payload);
    ep_set(e, text, strlen(text));
}

static int ep_asked(ep_t *e)
{
    int n;

    pthread_mutex_lock(&e->lock);
    n = e->asked;
    pthread_mutex_unlock(&e->lock);
    return n;
}

static void ep_serve(ep_t *e, int fd)
{
    char buf[256];
    apr_size_t len = 0;
    ssize_t n;

    while (!e->stop && len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
        struct pollfd pfd = {fd, POLLIN, 0};

        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        if ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0) {
            close(fd);
            return;
        }
        len += (apr_size_t)n;
    }
    pthread_mutex_lock(&e->lock);
    e->asked++;
    pthread_mutex_unlock(&e->lock);
    if (e->delay_ms) {
        usleep((useconds_t)e->delay_ms * 1000);
    }
    if (e->mode == EP_ANSWER) {
        pthread_mutex_lock(&e->lock);
        send(fd, e->answer, e->answer_len, MSG_NOSIGNAL);
        pthread_mutex_unlock(&e->lock);
    }
    /* EP_SILENT: nothing; EP_DRIP: the header, a byte every 50 ms, never the end */
    if (e->mode == EP_DRIP) {
        send(fd, "CONFIG cluster 0 60000\r\n", 24, MSG_NOSIGNAL);
    }
    while (!e->stop && e->mode != EP_ANSWER) {
        if (e->mode == EP_DRIP && send(fd, "x", 1, MSG_NOSIGNAL) != 1) {
            break;
        }
        usleep(50 * 1000);
    }
    close(fd);
}

static void *ep_run(void *arg)
{
    ep_t *e = arg;

    while (!e->stop) {
        struct pollfd pfd = {e->lfd, POLLIN, 0};
        int fd;

        if (poll(&pfd, 1, 50) <= 0 || (fd = accept(e->lfd, NULL, NULL)) < 0) {
            continue;
        }
        ep_serve(e, fd);
    }
    return NULL;
}

/* A port of 127.0.0.1 on which nothing listens (it was free a moment ago). */
static apr_port_t free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* The endpoint on @p port (0: any), answering in @p mode. */
static ep_t *ep_start(apr_port_t port, ep_mode_e mode, apr_pool_t *p)
{
    ep_t *e = apr_pcalloc(p, sizeof(*e));
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int one = 1;

    e->mode = mode;
    pthread_mutex_init(&e->lock, NULL);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    e->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(e->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(e->lfd, 16), 0);
    getsockname(e->lfd, (struct sockaddr *)&a, &len);
    e->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&e->tid, NULL, ep_run, e), 0);
    return e;
}

static void ep_stop(ep_t *e)
{
    e->stop = 1;
    pthread_join(e->tid, NULL);
    close(e->lfd);
    pthread_mutex_destroy(&e->lock);
}

/* --- the driver --------------------------------------------------------------------------- */

static const skv_driver_t *const D = &skv_driver_memcached_discovery;

/* The backend of the endpoint on @p port. */
static skv_backend_t *backend(apr_port_t port, apr_pool_t *p)
{
    skv_backend_t *be;
    const char *why;

    assert_int_equal(
        skv_backend_parse(&be, &why, apr_psprintf(p, "memcached://127.0.0.1:%u", port), p),
        APR_SUCCESS);
    be->connect_timeout = MS(200);
    be->io_timeout = MS(300);
    be->retry_interval = MS(300);
    return be;
}

/* The node that a get() on @p c went to, by the port its error names; 0 when it names none. */
static apr_port_t node_of_get(skv_conn_t *c, apr_pool_t *p)
{
    skv_value_t val;
    const char *err, *at;

    assert_int_not_equal(D->get(&val, c, "skv:somekey", p), APR_SUCCESS);
    err = D->error(c);
    at = strstr(err, "memcached 127.0.0.1:");
    return at ? (apr_port_t)atoi(at + strlen("memcached 127.0.0.1:")) : 0;
}

static void each_version_reported_once(void **state)
{
    apr_pool_t *p = *state;
    ep_t *e = ep_start(0, EP_ANSWER, p);
    apr_port_t nodes[3] = {free_port(), free_port(), free_port()};
    skv_backend_t *be = backend(e->port, p);
    const char *why;
    skv_conn_t *c;
    void *shared;
    apr_port_t at;
    int changed;

    /* the plain driver has nothing to share or refresh: it works as it always did */
    assert_null(skv_driver_memcached.share);
    assert_null(skv_driver_memcached.refresh);

    ep_nodes(e, 4, nodes, 2, p);
    assert_int_equal(D->share(&shared, be, p), APR_SUCCESS);
    assert_int_equal(D->open(&c, be, shared, p), APR_SUCCESS);
    assert_int_equal(D->server(c, "skv:somekey"), -1);
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_SUCCESS);
    assert_true(changed);
    assert_string_equal(why, apr_psprintf(p, "version 4, 2 nodes: 127.0.0.1:%u, 127.0.0.1:%u",
                                          nodes[0] < nodes[1] ? nodes[0] : nodes[1],
                                          nodes[0] < nodes[1] ? nodes[1] : nodes[0]));
    at = node_of_get(c, p);
    assert_true(at == nodes[0] || at == nodes[1]);
    /* the same version again: nothing to say */
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_SUCCESS);
    assert_false(changed);
    assert_int_equal(ep_asked(e), 2);

    /* a new version: the connection takes it at its next operation */
    ep_nodes(e, 5, nodes + 2, 1, p);
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_SUCCESS);
    assert_true(changed);
    assert_string_equal(why, apr_psprintf(p, "version 5, 1 node: 127.0.0.1:%u", nodes[2]));
    assert_int_equal(node_of_get(c, p), nodes[2]);
    /* the same nodes under a new version: reported, still the same node */
    ep_nodes(e, 6, nodes + 2, 1, p);
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_SUCCESS);
    assert_true(changed);
    assert_int_equal(node_of_get(c, p), nodes[2]);
    ep_stop(e);
}

static void bad_answers_keep_the_list(void **state)
{
    apr_pool_t *p = *state;
    ep_t *e = ep_start(0, EP_ANSWER, p);
    apr_port_t nodes[2] = {free_port(), free_port()};
    skv_backend_t *be = backend(e->port, p);
    static const char *const bad[][2] = {
        {"ERROR\r\n", "a bad answer: not an answer to config get cluster: 'ERROR'"},
        {"CONFIG cluster 0 3\r\n7\n\n\r\nEND\r\n", "a bad answer: no node"},
        {"CONFIG cluster 0 999999\r\n", "a bad answer: bad header 'CONFIG cluster 0 999999'"},
        {"CONFIG cluster 0 9\r\n8\nh|i|1\n", "the connection was closed after 28 bytes"},
    };
    const char *why, *text;
    skv_conn_t *c;
    void *shared;
    apr_size_t i;
    int changed;
    char *many;

    ep_nodes(e, 1, nodes, 2, p);
    assert_int_equal(D->share(&shared, be, p), APR_SUCCESS);
    assert_int_equal(D->open(&c, be, shared, p), APR_SUCCESS);
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_SUCCESS);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ep_set(e, bad[i][0], strlen(bad[i][0]));
        why = NULL;
        assert_int_not_equal(D->refresh(&changed, &why, shared, p), APR_SUCCESS);
        assert_false(changed);
        if (!strstr(why, bad[i][1])) {
            fail_msg("%s", why);
        }
        assert_non_null(strstr(why, "; the 2 nodes of version 1 are kept"));
        assert_non_null(
            strstr(why, apr_psprintf(p, "config get cluster at 127.0.0.1:%u: ", e->port)));
        assert_true(node_of_get(c, p) == nodes[0] || node_of_get(c, p) == nodes[1]);
    }
    /* 301 nodes: more than a cluster can have */
    many = apr_pstrdup(p, "2\n");
    for (i = 0; i < 301; i++) {
        many =
            apr_psprintf(p, "%s|127.0.0.1|%u%s", many, (unsigned)(20000 + i), i < 300 ? " " : "\n");
    }
    text =
        apr_psprintf(p, "CONFIG cluster 0 %lu\r\n%s\r\nEND\r\n", (unsigned long)strlen(many), many);
    ep_set(e, text, strlen(text));
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_EINVAL);
    assert_non_null(strstr(why, "301 nodes, more than the 300 taken; the 2 nodes of version 1"));
    /* the endpoint down */
    ep_stop(e);
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_ECONNREFUSED);
    assert_non_null(strstr(why, "connect: Connection refused; the 2 nodes of version 1 are kept"));
    assert_true(node_of_get(c, p) == nodes[0] || node_of_get(c, p) == nodes[1]);
}

typedef struct {
    const skv_backend_t *be;
    void *shared;
    apr_port_t at; /* out */
} first_t;

static void *first_get(void *arg)
{
    first_t *f = arg;
    apr_pool_t *p;
    skv_conn_t *c;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (D->open(&c, f->be, f->shared, p) == APR_SUCCESS) {
        skv_value_t val;
        const char *at;

        (void)D->get(&val, c, "skv:somekey", p);
        at = strstr(D->error(c), "memcached 127.0.0.1:");
        f->at = at ? (apr_port_t)atoi(at + strlen("memcached 127.0.0.1:")) : 0;
    }
    apr_pool_destroy(p);
    return NULL;
}

/* Eight threads with no list yet: one asks the endpoint, the others wait for its answer. */
static void first_use_asks_once(void **state)
{
    apr_pool_t *p = *state;
    ep_t *e = ep_start(0, EP_ANSWER, p);
    apr_port_t node = free_port();
    skv_backend_t *be = backend(e->port, p);
    first_t f[8];
    pthread_t t[8];
    void *shared;
    int i;

    e->delay_ms = 150;
    ep_nodes(e, 1, &node, 1, p);
    assert_int_equal(D->share(&shared, be, p), APR_SUCCESS);
    for (i = 0; i < 8; i++) {
        f[i].be = be;
        f[i].shared = shared;
        f[i].at = 0;
        assert_int_equal(pthread_create(&t[i], NULL, first_get, &f[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(f[i].at, node);
    }
    assert_int_equal(ep_asked(e), 1);
    ep_stop(e);
}

/* The endpoint down at the first operation: a clear error, the next ones fail at once until the
 * retry interval has passed, then one asks again. */
static void first_use_failure(void **state)
{
    apr_pool_t *p = *state;
    apr_port_t port = free_port(), node = free_port();
    skv_backend_t *be = backend(port, p);
    skv_value_t val;
    skv_conn_t *c;
    ep_t *e;

    assert_int_equal(D->open(&c, be, NULL, p), APR_SUCCESS); /* not a store: its own list */
    assert_int_equal(D->get(&val, c, "skv:k", p), APR_ECONNREFUSED);
    assert_string_equal(D->error(c),
                        apr_psprintf(p,
                                     "no memcached nodes discovered yet: config get cluster at "
                                     "127.0.0.1:%u: connect: Connection refused",
                                     port));
    e = ep_start(port, EP_ANSWER, p);
    ep_nodes(e, 1, &node, 1, p);
    assert_int_equal(D->touch(c, "skv:k", MS(1000)), APR_ECONNREFUSED);
    assert_non_null(strstr(D->error(c), "(asked again 0.3 s after a failure)"));
    assert_int_equal(ep_asked(e), 0);
    apr_sleep(MS(350));
    assert_int_equal(node_of_get(c, p), node);
    assert_int_equal(ep_asked(e), 1);
    ep_stop(e);
}

/* An endpoint that never answers, or drips bytes: the refresh ends within the timeouts. */
static void endpoint_that_hangs(void **state)
{
    apr_pool_t *p = *state;
    ep_t *e = ep_start(0, EP_SILENT, p);
    skv_backend_t *be = backend(e->port, p);
    const char *why;
    void *shared;
    apr_time_t t;
    int changed;

    assert_int_equal(D->share(&shared, be, p), APR_SUCCESS);
    t = apr_time_now();
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_TIMEUP);
    assert_true(apr_time_now() - t < MS(800)); /* connect, then io 300 ms for the read */
    assert_non_null(strstr(why, "read: timed out; no nodes known yet"));
    ep_stop(e);

    e = ep_start(0, EP_DRIP, p);
    be = backend(e->port, p);
    assert_int_equal(D->share(&shared, be, p), APR_SUCCESS);
    t = apr_time_now();
    assert_int_equal(D->refresh(&changed, &why, shared, p), APR_TIMEUP);
    assert_true(apr_time_now() - t < MS(1000)); /* io 300 ms for the whole answer, + one read */
    assert_non_null(strstr(why, "no whole answer within 300ms"));
    ep_stop(e);
}

/* Through a store: skv_store_refresh() reaches the driver's refresh(), or answers APR_ENOTIMPL
 * for the plain driver, which has none. */
static void store_refresh(void **state)
{
    apr_pool_t *p = *state;
    ep_t *e = ep_start(0, EP_ANSWER, p);
    apr_port_t node = free_port();
    skv_store_conf_t conf;
    skv_stats_t stats;
    skv_store_t *st;
    const char *why;
    int changed;

    memset(&conf, 0, sizeof(conf));
    memset(&stats, 0, sizeof(stats));
    conf.backend = backend(e->port, p);
    conf.prefix = "skv:";
    conf.idle_timeout = apr_time_from_sec(60);
    conf.max_size = 1024;
    conf.max_attempts = 1;
    conf.max_conns = 2;
    assert_int_equal(skv_store_create(&st, &conf, &stats, p), APR_SUCCESS);
    assert_int_equal(skv_store_refresh(&changed, &why, st, p), APR_ENOTIMPL);

    ep_nodes(e, 9, &node, 1, p);
    conf.driver = D;
    assert_int_equal(skv_store_create(&st, &conf, &stats, p), APR_SUCCESS);
    assert_int_equal(skv_store_refresh(&changed, &why, st, p), APR_SUCCESS);
    assert_true(changed);
    assert_string_equal(why, apr_psprintf(p, "version 9, 1 node: 127.0.0.1:%u", node));
    ep_stop(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(each_version_reported_once), UNIT_TEST(bad_answers_keep_the_list),
        UNIT_TEST(first_use_asks_once),        UNIT_TEST(first_use_failure),
        UNIT_TEST(endpoint_that_hangs),        UNIT_TEST(store_refresh),
    };

    return UNIT_RUN("skv_memcached_discovery", tests);
}
