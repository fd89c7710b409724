/* Unit tests of modules/health/hc_check.c: rise/fall state machine, readiness verdict and the
 * shared record's sequence lock. The clock is a parameter, so no test sleeps. */
#include "unit.h"

#include <apr_strings.h>

#include "hc_check.h"

static const hc_params_t rise2_fall3 = {2, 3};

#define T(sec) apr_time_from_sec(sec)

static void first_result_sets_state(void **state)
{
    hc_status_t up, down;

    (void)state;
    hc_status_init(&up, "a");
    hc_status_init(&down, "b");
    assert_int_equal(up.state, HC_STATE_UNKNOWN);
    assert_int_equal(hc_status_apply(&up, &rise2_fall3, 1, NULL, 1500, T(10)), HC_STATE_UNKNOWN);
    assert_int_equal(up.state, HC_STATE_UP);
    assert_int_equal(up.since, T(10));
    assert_int_equal(up.latency, 1500);
    assert_int_equal(hc_status_apply(&down, &rise2_fall3, 0, "refused", 10, T(10)),
                     HC_STATE_UNKNOWN);
    assert_int_equal(down.state, HC_STATE_DOWN);
    assert_string_equal(down.error, "refused");
}

static void falls_after_fall_failures(void **state)
{
    hc_status_t st;

    (void)state;
    hc_status_init(&st, "db");
    hc_status_apply(&st, &rise2_fall3, 1, NULL, 1, T(1));
    assert_int_equal(hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(2)), -1);
    assert_int_equal(hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(3)), -1);
    assert_int_equal(st.state, HC_STATE_UP);
    assert_int_equal(hc_status_apply(&st, &rise2_fall3, 0, "timeout", 1, T(4)), HC_STATE_UP);
    assert_int_equal(st.state, HC_STATE_DOWN);
    assert_int_equal(st.since, T(4));
    assert_string_equal(st.error, "timeout");
    assert_int_equal(st.failures, 3);
    assert_int_equal(st.runs, 4);
}

static void a_success_resets_the_failure_streak(void **state)
{
    hc_status_t st;

    (void)state;
    hc_status_init(&st, "db");
    hc_status_apply(&st, &rise2_fall3, 1, NULL, 1, T(1));
    hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(2));
    hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(3));
    hc_status_apply(&st, &rise2_fall3, 1, NULL, 1, T(4)); /* blip over */
    assert_string_equal(st.error, "");
    hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(5));
    hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(6));
    assert_int_equal(st.state, HC_STATE_UP);
}

static void rises_after_rise_successes(void **state)
{
    hc_status_t st;

    (void)state;
    hc_status_init(&st, "db");
    hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(1));
    assert_int_equal(hc_status_apply(&st, &rise2_fall3, 1, NULL, 1, T(2)), -1);
    assert_int_equal(st.state, HC_STATE_DOWN);
    hc_status_apply(&st, &rise2_fall3, 0, "x", 1, T(3)); /* flap resets the streak */
    assert_int_equal(hc_status_apply(&st, &rise2_fall3, 1, NULL, 1, T(4)), -1);
    assert_int_equal(hc_status_apply(&st, &rise2_fall3, 1, NULL, 1, T(5)), HC_STATE_DOWN);
    assert_int_equal(st.state, HC_STATE_UP);
    assert_int_equal(st.since, T(5));
}

static void long_errors_are_truncated(void **state)
{
    hc_status_t st;
    char big[HC_ERROR_LEN * 2];

    (void)state;
    memset(big, 'e', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hc_status_init(&st, "x");
    hc_status_apply(&st, &rise2_fall3, 0, big, 1, T(1));
    assert_int_equal(strlen(st.error), HC_ERROR_LEN - 1);
    hc_status_apply(&st, &rise2_fall3, 0, NULL, 1, T(2));
    assert_string_equal(st.error, "failed");
}

static void verdict_order(void **state)
{
    hc_status_t c[3];
    int sev[3] = {HC_SEV_CRITICAL, HC_SEV_DEGRADED, HC_SEV_CRITICAL};
    int failed;

    (void)state;
    hc_status_init(&c[0], "a");
    hc_status_init(&c[1], "b");
    hc_status_init(&c[2], "c");
    /* nothing has a result yet: starting, naming the first critical check */
    assert_int_equal(hc_verdict(c, sev, 3, 0, &failed), HC_NOT_READY_STARTING);
    assert_int_equal(failed, 0);
    c[0].state = HC_STATE_UP;
    c[2].state = HC_STATE_UP;
    /* the degraded check never decides */
    assert_int_equal(hc_verdict(c, sev, 3, 0, &failed), HC_READY);
    c[1].state = HC_STATE_DOWN;
    assert_int_equal(hc_verdict(c, sev, 3, 0, &failed), HC_READY);
    assert_int_equal(failed, -1);
    c[2].state = HC_STATE_DOWN;
    assert_int_equal(hc_verdict(c, sev, 3, 0, &failed), HC_NOT_READY_CHECK);
    assert_int_equal(failed, 2);
    /* draining wins over everything */
    assert_int_equal(hc_verdict(c, sev, 3, 1, &failed), HC_NOT_READY_DRAINING);
    /* no checks at all: ready */
    assert_int_equal(hc_verdict(c, sev, 0, 0, &failed), HC_READY);
}

static void publish_and_snapshot(void **state)
{
    hc_status_t shared, mine, seen;

    (void)state;
    memset(&shared, 0, sizeof(shared));
    hc_status_init(&mine, "cache");
    hc_status_apply(&mine, &rise2_fall3, 0, "refused", 7, T(9));
    hc_status_publish(&shared, &mine);
    assert_int_equal(shared.seq, 2);
    assert_int_equal(hc_status_snapshot(&seen, &shared), 1);
    assert_string_equal(seen.name, "cache");
    assert_string_equal(seen.error, "refused");
    assert_int_equal(seen.state, HC_STATE_DOWN);
}

static void snapshot_of_a_dead_writer_gives_up(void **state)
{
    hc_status_t shared, mine, seen;

    (void)state;
    hc_status_init(&mine, "cache");
    hc_status_init(&shared, "cache");
    shared.seq = 7; /* a writer was killed mid-copy */
    assert_int_equal(hc_status_snapshot(&seen, &shared), 0);
    /* the next writer recovers the record */
    hc_status_publish(&shared, &mine);
    assert_int_equal(shared.seq % 2, 0);
    assert_int_equal(hc_status_snapshot(&seen, &shared), 1);
}

static void state_names(void **state)
{
    (void)state;
    assert_string_equal(hc_state_name(HC_STATE_UP), "up");
    assert_string_equal(hc_state_name(HC_STATE_DOWN), "down");
    assert_string_equal(hc_state_name(HC_STATE_UNKNOWN), "unknown");
    assert_string_equal(hc_state_name(99), "unknown");
}

static void stall_counts_from_the_later_of_tick_and_start(void **state)
{
    apr_pool_t *p = *state;
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));

    shared->started = T(100);
    /* no tick yet: counted from the start of the generation */
    assert_false(hc_shared_stalled(shared, T(30), T(130)));
    assert_true(hc_shared_stalled(shared, T(30), T(131)));
    shared->heartbeat = T(120);
    assert_false(hc_shared_stalled(shared, T(30), T(150)));
    assert_true(hc_shared_stalled(shared, T(30), T(151)));
    /* a tick of the previous generation does not count */
    shared->heartbeat = T(90);
    assert_false(hc_shared_stalled(shared, T(30), T(130)));
}

static void read_of_another_checks_slot_is_fresh(void **state)
{
    hc_status_t shared, mine, seen;

    (void)state;
    memset(&shared, 0, sizeof(shared));
    hc_status_init(&mine, "db");
    hc_status_apply(&mine, &rise2_fall3, 0, "refused", 1, T(1));
    hc_status_publish(&shared, &mine);
    hc_status_read(&seen, &shared, "db");
    assert_int_equal(seen.state, HC_STATE_DOWN);
    assert_int_equal(seen.runs, 1);
    hc_status_read(&seen, &shared, "cache");
    assert_string_equal(seen.name, "cache");
    assert_int_equal(seen.state, HC_STATE_UNKNOWN);
    assert_int_equal(seen.runs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(first_result_sets_state),
        UNIT_TEST(falls_after_fall_failures),
        UNIT_TEST(a_success_resets_the_failure_streak),
        UNIT_TEST(rises_after_rise_successes),
        UNIT_TEST(long_errors_are_truncated),
        UNIT_TEST(verdict_order),
        UNIT_TEST(publish_and_snapshot),
        UNIT_TEST(snapshot_of_a_dead_writer_gives_up),
        UNIT_TEST(state_names),
        UNIT_TEST(stall_counts_from_the_later_of_tick_and_start),
        UNIT_TEST(read_of_another_checks_slot_is_fresh),
    };
    return UNIT_RUN("hc_check", tests);
}
