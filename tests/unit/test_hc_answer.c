/* Unit tests of modules/health/hc_answer.c: which endpoint a path is, who may see details and
 * control draining, readiness "starting" until every critical check has answered, liveness
 * against a stalled check thread, and the drain state machine (started by the API, readiness
 * 503 while liveness and the requests in flight go on, stopped; never over the drain file) with
 * its refusals. The clock is a parameter and the server's part (request body, scoreboard) is
 * faked. */
#include "unit.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "hc_answer.h"
#include "hc_conf.h"

#define T(sec) apr_time_from_sec(sec)

static const hc_params_t once = {1, 1};

/* The server's part of a request. */
typedef struct fake {
    apr_status_t body_rv; /* what discarding the body returns */
    int bodies;           /* bodies discarded */
    int in_flight_asked;
} fake;

static apr_status_t fake_discard(void *baton)
{
    fake *f = baton;

    f->bodies++;
    return f->body_rv;
}

static int fake_in_flight(void *baton)
{
    fake *f = baton;

    f->in_flight_asked++;
    return 3;
}

/* Two checks, "cache" (degraded) and "db" (critical), no results yet, the check thread ticking
 * at T(100); the drain token "s3cret". */
static hc_server_t *server_of(apr_pool_t *p)
{
    static const char *const cache[] = {"cache", "tcp", "127.0.0.1:11211", "severity=degraded"};
    static const char *const db[] = {"db", "tcp", "127.0.0.1:3306"};
    hc_server_t *srv = apr_pcalloc(p, sizeof(*srv));
    apr_array_header_t *checks = apr_array_make(p, 2, sizeof(hc_conf_check_t));
    hc_conf_check_t *hc;
    const char *why;

    assert_int_equal(hc_conf_add(&hc, &why, checks, 4, cache, p), APR_SUCCESS);
    assert_int_equal(hc_conf_add(&hc, &why, checks, 3, db, p), APR_SUCCESS);
    srv->shared = apr_pcalloc(p, sizeof(hc_shared_t));
    srv->shared->started = T(90);
    srv->shared->heartbeat = T(100);
    srv->checks = checks;
    srv->drain_token = "s3cret";
    srv->stall_timeout = T(30);
    return srv;
}

static void publish(hc_shared_t *shared, int slot, const char *name, int ok)
{
    hc_status_t st;

    hc_status_init(&st, name);
    hc_status_apply(&st, &once, ok, ok ? NULL : "refused", 1500, T(99));
    hc_status_publish(&shared->slots[slot], &st);
}

/* server_of() once its critical check is up: ready. */
static hc_server_t *ready_server(apr_pool_t *p)
{
    hc_server_t *srv = server_of(p);

    publish(srv->shared, 1, "db", 1);
    return srv;
}

/* A request from @p ip with the default HealthDetailsAllow (loopback). */
static hc_request_t request(hc_endpoint_e ep, hc_method_e method, const char *args, const char *ip,
                            fake *f, apr_pool_t *p)
{
    hc_request_t q;
    apr_array_header_t *allow;

    memset(&q, 0, sizeof(q));
    q.endpoint = ep;
    q.method = method;
    q.args = args;
    assert_int_equal(apr_sockaddr_info_get(&q.client, ip, APR_INET, 80, 0, p), APR_SUCCESS);
    assert_int_equal(hc_conf_allow_loopback(&allow, p), APR_SUCCESS);
    q.allow = allow;
    q.discard_body = fake_discard;
    q.in_flight = fake_in_flight;
    q.baton = f;
    return q;
}

/* The answer to a request from loopback, at T(101). */
static hc_reply_t ask(const hc_server_t *srv, hc_endpoint_e ep, hc_method_e method,
                      const char *args, fake *f, apr_pool_t *p)
{
    hc_request_t q = request(ep, method, args, "127.0.0.1", f, p);
    hc_reply_t a;

    hc_answer(&a, &q, srv, T(101), p);
    return a;
}

/* A drain request from loopback with @p authorization, at @p now. */
static hc_reply_t drain(const hc_server_t *srv, hc_method_e method, const char *authorization,
                        apr_time_t now, fake *f, apr_pool_t *p)
{
    hc_request_t q = request(HC_EP_DRAIN, method, NULL, "127.0.0.1", f, p);
    hc_reply_t a;

    q.authorization = authorization;
    hc_answer(&a, &q, srv, now, p);
    return a;
}

static void endpoints(void **state)
{
    (void)state;
    assert_int_equal(hc_answer_endpoint("/r", "/r", "/l", "/d"), HC_EP_READY);
    assert_int_equal(hc_answer_endpoint("/l", "/r", "/l", "/d"), HC_EP_LIVE);
    assert_int_equal(hc_answer_endpoint("/d", "/r", "/l", "/d"), HC_EP_DRAIN);
    assert_int_equal(hc_answer_endpoint("/r/", "/r", "/l", "/d"), HC_EP_NONE);
    assert_int_equal(hc_answer_endpoint("/", "", "", ""), HC_EP_NONE); /* all off */
}

static void who_is_allowed(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *allow = apr_array_make(p, 1, sizeof(apr_ipsubnet_t *));
    apr_sockaddr_t *lo, *other;
    const char *why;

    assert_int_equal(apr_sockaddr_info_get(&lo, "127.0.0.1", APR_INET, 80, 0, p), APR_SUCCESS);
    assert_int_equal(apr_sockaddr_info_get(&other, "10.1.2.3", APR_INET, 80, 0, p), APR_SUCCESS);
    assert_false(hc_answer_allowed(allow, lo)); /* none: nobody */
    assert_int_equal(hc_conf_allow(allow, &why, "10.0.0.0/8", p), APR_SUCCESS);
    assert_true(hc_answer_allowed(allow, other));
    assert_false(hc_answer_allowed(allow, lo));
}

static void starting_until_every_critical_check_answered(void **state)
{
    apr_pool_t *p = *state;
    hc_server_t *srv = server_of(p);
    fake f = {0};
    hc_reply_t a;

    a = ask(srv, HC_EP_READY, HC_METHOD_GET, NULL, &f, p);
    assert_int_equal(a.status, 503);
    assert_string_equal(a.type, "text/plain");
    assert_string_equal(a.body, "UNAVAILABLE\n");
    a = ask(srv, HC_EP_READY, HC_METHOD_GET, "details", &f, p);
    assert_int_equal(a.status, 503);
    assert_string_equal(a.type, "application/json");
    assert_non_null(strstr(a.body, "\"reason\":\"starting\""));
    /* liveness does not wait for the checks */
    a = ask(srv, HC_EP_LIVE, HC_METHOD_GET, NULL, &f, p);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "OK\n");
    /* a degraded check's answer changes nothing */
    publish(srv->shared, 0, "cache", 0);
    assert_int_equal(ask(srv, HC_EP_READY, HC_METHOD_GET, NULL, &f, p).status, 503);
    /* the critical one answers: ready */
    publish(srv->shared, 1, "db", 1);
    a = ask(srv, HC_EP_READY, HC_METHOD_GET, NULL, &f, p);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "OK\n");
    /* and once it is down, not */
    publish(srv->shared, 1, "db", 0);
    a = ask(srv, HC_EP_READY, HC_METHOD_GET, "details", &f, p);
    assert_int_equal(a.status, 503);
    assert_non_null(strstr(a.body, "\"reason\":\"check failed: db\""));
    assert_int_equal(f.bodies, 0);
    assert_false(a.stalled);
    assert_null(a.refused);
    assert_int_equal(a.change, HC_DRAIN_UNCHANGED);
}

static void details_only_for_allowed_clients(void **state)
{
    apr_pool_t *p = *state;
    hc_server_t *srv = ready_server(p);
    fake f = {0};
    hc_request_t q = request(HC_EP_READY, HC_METHOD_GET, "details", "10.1.2.3", &f, p);
    hc_reply_t a;

    hc_answer(&a, &q, srv, T(101), p);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "OK\n");
    a = ask(srv, HC_EP_READY, HC_METHOD_GET, "verbose", &f, p);
    assert_string_equal(a.body, "OK\n");
    assert_int_equal(f.in_flight_asked, 0); /* the scoreboard is read for details only */
    a = ask(srv, HC_EP_LIVE, HC_METHOD_GET, "details", &f, p);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"status\":\"ready\",\"reason\":\"ok\",\"live\":true"));
    assert_non_null(strstr(a.body, "\"in_flight\":3"));
    assert_int_equal(f.in_flight_asked, 1);
    /* only GET and HEAD */
    a = ask(srv, HC_EP_LIVE, HC_METHOD_POST, NULL, &f, p);
    assert_int_equal(a.status, 405);
    assert_string_equal(a.allow, "GET, HEAD");
    assert_string_equal(a.body, "Method Not Allowed\n");
    assert_int_equal(f.bodies, 0);
}

static void a_stalled_check_thread(void **state)
{
    apr_pool_t *p = *state;
    hc_server_t *srv = ready_server(p);
    fake f = {0};
    hc_request_t q = request(HC_EP_LIVE, HC_METHOD_GET, NULL, "127.0.0.1", &f, p);
    hc_reply_t a;

    /* 30s after the last tick is still live; later, not, and readiness follows */
    hc_answer(&a, &q, srv, T(130), p);
    assert_int_equal(a.status, 200);
    hc_answer(&a, &q, srv, T(131), p);
    assert_int_equal(a.status, 503);
    assert_true(a.stalled); /* the first to see it logs it */
    q.endpoint = HC_EP_READY;
    q.args = "details";
    hc_answer(&a, &q, srv, T(131), p);
    assert_int_equal(a.status, 503);
    assert_false(a.stalled);
    assert_non_null(strstr(a.body, "\"reason\":\"check thread stalled\",\"live\":false"));
    /* a tick, then another stall: told again */
    srv->shared->heartbeat = T(200);
    srv->shared->stall_logged = 0;
    hc_answer(&a, &q, srv, T(231), p);
    assert_true(a.stalled);
}

static void the_drain_state_machine(void **state)
{
    apr_pool_t *p = *state;
    hc_server_t *srv = ready_server(p);
    fake f = {0};
    hc_reply_t a;

    a = drain(srv, HC_METHOD_GET, NULL, T(101), &f, p);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "{\"draining\":false,\"since\":null,\"source\":null}\n");
    /* drain requested */
    a = drain(srv, HC_METHOD_POST, "Bearer s3cret", T(105), &f, p);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.type, "application/json");
    assert_int_equal(a.change, HC_DRAIN_STARTED);
    assert_string_equal(a.body, "{\"draining\":true,\"since\":\"1970-01-01T00:01:45.000Z\","
                                "\"source\":\"api\"}\n");
    assert_int_equal(f.bodies, 1);
    /* readiness answers 503; liveness, and the requests in progress, go on */
    a = ask(srv, HC_EP_READY, HC_METHOD_GET, "details", &f, p);
    assert_int_equal(a.status, 503);
    assert_non_null(strstr(a.body, "\"reason\":\"draining\",\"live\":true,\"draining\":true"));
    assert_non_null(strstr(a.body, "\"in_flight\":3"));
    assert_int_equal(ask(srv, HC_EP_LIVE, HC_METHOD_GET, NULL, &f, p).status, 200);
    /* asked again: still since the first time, nothing to tell */
    a = drain(srv, HC_METHOD_POST, "bearer s3cret", T(110), &f, p);
    assert_int_equal(a.change, HC_DRAIN_UNCHANGED);
    assert_non_null(strstr(a.body, "00:01:45.000Z"));
    /* undrain */
    a = drain(srv, HC_METHOD_DELETE, "Bearer s3cret", T(120), &f, p);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.change, HC_DRAIN_STOPPED);
    assert_string_equal(a.body, "{\"draining\":false,\"since\":null,\"source\":null}\n");
    assert_int_equal(ask(srv, HC_EP_READY, HC_METHOD_GET, NULL, &f, p).status, 200);
    a = drain(srv, HC_METHOD_DELETE, "Bearer s3cret", T(121), &f, p);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.change, HC_DRAIN_UNCHANGED);
}

static void the_drain_file_wins(void **state)
{
    apr_pool_t *p = *state;
    hc_server_t *srv = ready_server(p);
    fake f = {0};
    hc_reply_t a;

    srv->drain_file = unit_write_temp(p, "");
    assert_int_equal(ask(srv, HC_EP_READY, HC_METHOD_GET, NULL, &f, p).status, 503);
    a = drain(srv, HC_METHOD_GET, NULL, T(101), &f, p);
    assert_non_null(strstr(a.body, "\"source\":\"file\""));
    a = drain(srv, HC_METHOD_DELETE, "Bearer s3cret", T(101), &f, p);
    assert_int_equal(a.status, 409);
    assert_string_equal(a.body,
                        apr_psprintf(p, "draining by file %s: remove the file\n", srv->drain_file));
    assert_int_equal(a.change, HC_DRAIN_UNCHANGED);
    unlink(srv->drain_file);
    assert_int_equal(ask(srv, HC_EP_READY, HC_METHOD_GET, NULL, &f, p).status, 200);
}

static void drain_requests_refused(void **state)
{
    apr_pool_t *p = *state;
    hc_server_t *srv = server_of(p);
    fake f = {0};
    hc_request_t q = request(HC_EP_DRAIN, HC_METHOD_GET, NULL, "10.1.2.3", &f, p);
    hc_reply_t a;

    /* a client outside HealthDetailsAllow: looking is merely forbidden, acting is logged */
    hc_answer(&a, &q, srv, T(101), p);
    assert_int_equal(a.status, 403);
    assert_string_equal(a.body, "Forbidden\n");
    assert_null(a.refused);
    q.method = HC_METHOD_POST;
    q.authorization = "Bearer s3cret";
    hc_answer(&a, &q, srv, T(101), p);
    assert_int_equal(a.status, 403);
    assert_string_equal(a.refused, "client not in HealthDetailsAllow");
    assert_int_equal(f.bodies, 0);
    /* other methods */
    a = drain(srv, HC_METHOD_OTHER, "Bearer s3cret", T(101), &f, p);
    assert_int_equal(a.status, 405);
    assert_string_equal(a.allow, "GET, HEAD, POST, DELETE");
    assert_null(a.refused);
    /* a body that cannot be read */
    f.body_rv = APR_EGENERAL;
    a = drain(srv, HC_METHOD_DELETE, "Bearer s3cret", T(101), &f, p);
    assert_int_equal(a.status, 400);
    assert_string_equal(a.body, "Bad Request\n");
    f.body_rv = APR_SUCCESS;
    /* the token */
    a = drain(srv, HC_METHOD_POST, NULL, T(101), &f, p);
    assert_int_equal(a.status, 401);
    assert_string_equal(a.refused, "no bearer token");
    assert_string_equal(a.authenticate, "Bearer realm=\"lampfarm-health\"");
    assert_string_equal(a.body, "Unauthorized\n");
    a = drain(srv, HC_METHOD_POST, "Basic czNjcmV0", T(101), &f, p);
    assert_string_equal(a.refused, "no bearer token");
    a = drain(srv, HC_METHOD_POST, "Bearer s3cre", T(101), &f, p);
    assert_int_equal(a.status, 401);
    assert_string_equal(a.refused, "wrong token");
    srv->drain_token = NULL;
    a = drain(srv, HC_METHOD_POST, "Bearer s3cret", T(101), &f, p);
    assert_int_equal(a.status, 403);
    assert_string_equal(a.refused, "no HealthDrainToken configured");
    assert_null(a.authenticate);
    assert_int_equal(srv->shared->drain_since, 0); /* none of them drained */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(endpoints),
        UNIT_TEST(who_is_allowed),
        UNIT_TEST(starting_until_every_critical_check_answered),
        UNIT_TEST(details_only_for_allowed_clients),
        UNIT_TEST(a_stalled_check_thread),
        UNIT_TEST(the_drain_state_machine),
        UNIT_TEST(the_drain_file_wins),
        UNIT_TEST(drain_requests_refused),
    };
    return UNIT_RUN("hc_answer", tests);
}
