/* Unit tests of modules/health/hc_details.c: the drain state (file before API), the verdict over
 * the shared records (a slot of another configuration reads as fresh) and the exact text of the
 * `?details` and drain-control JSON. */
#include "unit.h"

#include <apr_file_info.h>
#include <apr_strings.h>

#include "hc_details.h"

#define T(sec) apr_time_from_sec(sec)

static const hc_params_t once = {1, 1};

/* Two checks: "cache" (session-kv, no target, degraded) and "db" (tcp, critical). */
static apr_array_header_t *two_checks(apr_pool_t *p)
{
    static const char *const cache[] = {"cache", "session-kv", "severity=degraded"};
    static const char *const db[] = {"db", "tcp", "127.0.0.1:3306"};
    apr_array_header_t *checks = apr_array_make(p, 2, sizeof(hc_conf_check_t));
    hc_conf_check_t *hc;
    const char *why;

    assert_int_equal(hc_conf_add(&hc, &why, checks, 3, cache, p), APR_SUCCESS);
    assert_int_equal(hc_conf_add(&hc, &why, checks, 3, db, p), APR_SUCCESS);
    return checks;
}

static void publish(hc_shared_t *shared, int slot, const char *name, int ok, apr_time_t at)
{
    hc_status_t st;

    hc_status_init(&st, name);
    hc_status_apply(&st, &once, ok, ok ? NULL : "refused", 1500, at);
    hc_status_publish(&shared->slots[slot], &st);
}

static void verdict_over_shared_records(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = two_checks(p);
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));
    hc_status_t snap[2];
    int failed;

    /* no results yet: the critical check keeps readiness at "starting" */
    assert_int_equal(hc_details_verdict(snap, &failed, checks, shared, 0, p),
                     HC_NOT_READY_STARTING);
    assert_int_equal(failed, 1);
    assert_string_equal(snap[1].name, "db");
    /* a slot still named for another configuration's check reads as fresh */
    publish(shared, 1, "old", 0, T(5));
    assert_int_equal(hc_details_verdict(snap, &failed, checks, shared, 0, p),
                     HC_NOT_READY_STARTING);
    assert_string_equal(snap[1].name, "db");
    assert_int_equal(snap[1].runs, 0);
    /* down: the critical check decides; the degraded one never does */
    publish(shared, 0, "cache", 0, T(5));
    publish(shared, 1, "db", 0, T(10));
    assert_int_equal(hc_details_verdict(snap, &failed, checks, shared, 0, p), HC_NOT_READY_CHECK);
    assert_int_equal(failed, 1);
    assert_int_equal(snap[1].state, HC_STATE_DOWN);
    publish(shared, 1, "db", 1, T(11));
    assert_int_equal(hc_details_verdict(snap, &failed, checks, shared, 0, p), HC_READY);
    assert_int_equal(failed, -1);
    /* draining wins */
    assert_int_equal(hc_details_verdict(snap, &failed, checks, shared, 1, p),
                     HC_NOT_READY_DRAINING);
    /* no checks at all */
    assert_int_equal(hc_details_verdict(snap, &failed, NULL, shared, 0, p), HC_READY);
}

static void details_json_text(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *checks = two_checks(p);
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));
    hc_details_t d = {0, HC_READY, -1, 1, {0, NULL}, 3};
    hc_status_t snap[2];

    publish(shared, 1, "db", 0, T(10));
    d.verdict = hc_details_verdict(snap, &d.failed, checks, shared, 0, p);
    assert_string_equal(
        hc_details_json(&d, checks, snap, p),
        "{\"status\":\"unavailable\",\"reason\":\"check failed: db\",\"live\":true,"
        "\"draining\":false,\"draining_since\":null,\"drain_source\":null,\"in_flight\":3,"
        "\"checks\":["
        "{\"name\":\"cache\",\"type\":\"session-kv\",\"target\":null,\"severity\":\"degraded\","
        "\"state\":\"unknown\",\"since\":null,\"latency_ms\":null,\"error\":null,"
        "\"checked_at\":null,\"runs\":0,\"failures\":0},"
        "{\"name\":\"db\",\"type\":\"tcp\",\"target\":\"127.0.0.1:3306\",\"severity\":\"critical\","
        "\"state\":\"down\",\"since\":\"1970-01-01T00:00:10.000Z\",\"latency_ms\":1.500,"
        "\"error\":\"refused\",\"checked_at\":\"1970-01-01T00:00:10.000Z\",\"runs\":1,"
        "\"failures\":1}]}\n");
    /* ready, draining by file, no checks */
    d.ready = 1;
    d.verdict = HC_READY;
    d.drain.since = T(20);
    d.drain.source = "file";
    d.in_flight = 0;
    assert_string_equal(hc_details_json(&d, NULL, NULL, p),
                        "{\"status\":\"ready\",\"reason\":\"ok\",\"live\":true,\"draining\":true,"
                        "\"draining_since\":\"1970-01-01T00:00:20.000Z\",\"drain_source\":\"file\","
                        "\"in_flight\":0,\"checks\":[]}\n");
}

static void details_reasons(void **state)
{
    apr_pool_t *p = *state;
    hc_details_t d = {0, HC_NOT_READY_DRAINING, -1, 1, {0, NULL}, 0};

    assert_non_null(strstr(hc_details_json(&d, NULL, NULL, p), "\"reason\":\"draining\""));
    d.verdict = HC_NOT_READY_STARTING;
    assert_non_null(strstr(hc_details_json(&d, NULL, NULL, p), "\"reason\":\"starting\""));
    d.live = 0;
    assert_non_null(strstr(hc_details_json(&d, NULL, NULL, p),
                           "\"reason\":\"check thread stalled\",\"live\":false"));
}

static void drain_file_before_api(void **state)
{
    apr_pool_t *p = *state;
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));
    const char *file = unit_write_temp(p, "");
    apr_finfo_t finfo;
    hc_drain_t d;

    hc_drain_read(&d, NULL, shared, p);
    assert_int_equal(d.since, 0);
    assert_null(d.source);
    assert_string_equal(hc_drain_json(&d, p),
                        "{\"draining\":false,\"since\":null,\"source\":null}\n");
    shared->drain_since = T(7);
    hc_drain_read(&d, "/tmp/lf-unit-no-such-drain-file", shared, p);
    assert_int_equal(d.since, T(7));
    assert_string_equal(d.source, "api");
    assert_string_equal(hc_drain_json(&d, p), "{\"draining\":true,"
                                              "\"since\":\"1970-01-01T00:00:07.000Z\","
                                              "\"source\":\"api\"}\n");
    /* the file wins, since its modification time */
    assert_int_equal(apr_stat(&finfo, file, APR_FINFO_MTIME, p), APR_SUCCESS);
    hc_drain_read(&d, file, shared, p);
    assert_int_equal(d.since, finfo.mtime);
    assert_string_equal(d.source, "file");
    unlink(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(verdict_over_shared_records),
        UNIT_TEST(details_json_text),
        UNIT_TEST(details_reasons),
        UNIT_TEST(drain_file_before_api),
    };
    return UNIT_RUN("hc_details", tests);
}
