/* Unit tests of modules/health/hc_sched.c: checks run at their intervals and never twice at
 * once, a hanging check is reported failed when its timeout ends, results go to the shared
 * segment only while their generation owns it, a restart keeps the states of the same checks,
 * and the drain file's coming and going. The clock, the runs and the thread pool are fakes, so
 * no test sleeps. */
#include "unit.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "hc_conf.h"
#include "hc_sched.h"

#define T(sec) apr_time_from_sec(sec)
#define MS(ms) apr_time_from_msec(ms)

/* The fake clock. */
static apr_time_t fake_now;

static apr_time_t fake_clock(void)
{
    return fake_now;
}

/* The fake check types and thread pool, in hc_sched_t.baton. */
typedef struct fake {
    apr_interval_time_t takes;  /* how long a run takes: the clock moves on by that much */
    apr_status_t result;        /* what a run returns */
    int run_at_once;            /* submit() runs the check (else it stays queued) */
    apr_status_t submit_rv;     /* what submit() returns */
    apr_array_header_t *starts; /* "name@seconds-from-T(1000)" of every run */
    apr_array_header_t *queued; /* hc_sched_check_t * submitted and not run */
    apr_pool_t *p;
} fake;

static apr_status_t fake_run(const char **error, const hc_conf_check_t *check, void *baton,
                             apr_pool_t *p)
{
    fake *f = baton;

    APR_ARRAY_PUSH(f->starts, const char *) =
        apr_psprintf(f->p, "%s@%.1f", check->name, (fake_now - T(1000)) / 1e6);
    fake_now += f->takes;
    if (f->result != APR_SUCCESS) {
        *error = apr_psprintf(p, "timed out after %d ms", (int)apr_time_as_msec(f->takes));
    }
    return f->result;
}

static apr_status_t fake_submit(hc_sched_check_t *sc, void *baton)
{
    fake *f = baton;

    if (f->submit_rv != APR_SUCCESS) {
        return f->submit_rv;
    }
    if (!f->run_at_once) {
        APR_ARRAY_PUSH(f->queued, hc_sched_check_t *) = sc;
        return APR_SUCCESS;
    }
    hc_sched_run(sc);
    hc_sched_done(sc);
    return APR_SUCCESS;
}

static apr_status_t plain_pool(apr_pool_t **out, apr_pool_t *parent)
{
    return apr_pool_create(out, parent);
}

static apr_status_t no_pool(apr_pool_t **out, apr_pool_t *parent)
{
    (void)out;
    (void)parent;
    return APR_ENOMEM;
}

/* Checks from HealthCheck lines ("name type target options", words split on spaces). */
static apr_array_header_t *checks_of(const char *const *lines, int n, apr_pool_t *p)
{
    apr_array_header_t *checks = apr_array_make(p, n, sizeof(hc_conf_check_t));
    int i;

    for (i = 0; i < n; ++i) {
        const char *argv[16], *why;
        char *copy = apr_pstrdup(p, lines[i]), *last, *w;
        hc_conf_check_t *hc;
        int argc = 0;
        for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
            argv[argc++] = w;
        }
        assert_int_equal(hc_conf_add(&hc, &why, checks, argc, argv, p), APR_SUCCESS);
    }
    return checks;
}

/* A schedule of the checks of @p lines over a new generation of @p shared (NULL: a new
 * segment), with the fakes of @p f, at T(1000). */
static hc_sched_t *sched_of(const char *const *lines, int n, hc_shared_t *shared, fake *f,
                            apr_pool_t *p)
{
    const apr_array_header_t *checks = checks_of(lines, n, p);
    hc_sched_t *sched;

    memset(f, 0, sizeof(*f));
    f->starts = apr_array_make(p, 16, sizeof(const char *));
    f->queued = apr_array_make(p, 4, sizeof(hc_sched_check_t *));
    f->p = p;
    f->run_at_once = 1;
    fake_now = T(1000);
    if (!shared) {
        shared = apr_pcalloc(p, sizeof(*shared));
    }
    hc_sched_shared_begin(shared, checks, fake_now);
    assert_int_equal(hc_sched_create(&sched, checks, shared, NULL, plain_pool, p), APR_SUCCESS);
    sched->now = fake_clock;
    sched->run = fake_run;
    sched->submit = fake_submit;
    sched->baton = f;
    return sched;
}

static const char *starts(const fake *f)
{
    return apr_array_pstrcat(f->p, f->starts, ' ');
}

static void checks_run_at_their_intervals(void **state)
{
    static const char *const lines[] = {"a tcp h:1 interval=1s timeout=500ms",
                                        "b tcp h:1 interval=3s timeout=1s"};
    apr_pool_t *p = *state;
    fake f;
    hc_sched_t *sched = sched_of(lines, 2, NULL, &f, p);
    hc_shared_t *shared = sched->shared;
    int tick;

    /* ten seconds of ticks, 100ms apart: every check due at once, then every interval */
    for (tick = 0; tick < 100; ++tick) {
        hc_sched_tick(sched);
        assert_int_equal(shared->heartbeat, fake_now);
        fake_now += MS(100);
    }
    assert_string_equal(starts(&f), "a@0.0 b@0.0 a@1.0 a@2.0 a@3.0 b@3.0 a@4.0 a@5.0 a@6.0 "
                                    "b@6.0 a@7.0 a@8.0 a@9.0 b@9.0");
    assert_int_equal(shared->slots[0].runs, 10);
    assert_int_equal(shared->slots[1].runs, 4);
    assert_int_equal(shared->slots[1].state, HC_STATE_UP);
}

/* The interval counts from the tick that started a run, not from its end. */
static void a_slow_run_does_not_shift_the_schedule(void **state)
{
    static const char *const lines[] = {"a tcp h:1 interval=1s timeout=1s"};
    apr_pool_t *p = *state;
    fake f;
    hc_sched_t *sched = sched_of(lines, 1, NULL, &f, p);

    f.takes = MS(700);
    hc_sched_tick(sched); /* runs 0.0 to 0.7 */
    fake_now = T(1000) + MS(900);
    hc_sched_tick(sched);
    fake_now = T(1000) + MS(1000);
    hc_sched_tick(sched);
    assert_string_equal(starts(&f), "a@0.0 a@1.0");
}

static void a_hanging_check_fails_when_its_timeout_ends(void **state)
{
    static const char *const lines[] = {"db mysql h:1 interval=1s timeout=500ms fall=1"};
    apr_pool_t *p = *state;
    fake f;
    hc_sched_t *sched = sched_of(lines, 1, NULL, &f, p);
    hc_shared_t *shared = sched->shared;
    hc_sched_check_t *sc;

    f.run_at_once = 0;
    hc_sched_tick(sched);
    assert_int_equal(f.queued->nelts, 1);
    sc = APR_ARRAY_IDX(f.queued, 0, hc_sched_check_t *);
    /* while it is queued or running, it is never handed out again, however late it gets */
    fake_now = T(1000) + MS(1500);
    hc_sched_tick(sched);
    assert_int_equal(f.queued->nelts, 1);
    /* its run starts now and hangs until the probe's timeout gives up */
    f.takes = MS(500);
    f.result = APR_TIMEUP;
    assert_int_equal(hc_sched_run(sc), HC_STATE_UNKNOWN);
    assert_int_equal(sc->status.state, HC_STATE_DOWN);
    assert_int_equal(shared->slots[0].state, HC_STATE_DOWN);
    assert_int_equal(shared->slots[0].checked_at, T(1000) + MS(2000));
    assert_int_equal(shared->slots[0].since, T(1000) + MS(2000));
    assert_int_equal(shared->slots[0].latency, MS(500));
    assert_string_equal(shared->slots[0].error, "timed out after 500 ms");
    /* a tick before it is done still leaves it alone; once done, it is due again */
    hc_sched_tick(sched);
    assert_int_equal(f.queued->nelts, 1);
    hc_sched_done(sc);
    hc_sched_tick(sched);
    assert_int_equal(f.queued->nelts, 2);
    /* still down: no change to report */
    assert_int_equal(hc_sched_run(sc), -1);
}

static void a_check_that_cannot_be_queued_waits_an_interval(void **state)
{
    static const char *const lines[] = {"a tcp h:1 interval=1s timeout=1s"};
    apr_pool_t *p = *state;
    fake f;
    hc_sched_t *sched = sched_of(lines, 1, NULL, &f, p);

    f.submit_rv = APR_ENOMEM;
    hc_sched_tick(sched);
    f.submit_rv = APR_SUCCESS;
    fake_now += MS(500);
    hc_sched_tick(sched);
    assert_string_equal(starts(&f), "");
    fake_now += MS(500);
    hc_sched_tick(sched);
    assert_string_equal(starts(&f), "a@1.0");
}

static void a_new_generation_owns_the_slots(void **state)
{
    static const char *const before[] = {"db tcp h:1", "cache tcp h:2 fall=1"};
    static const char *const after[] = {"db tcp h:1", "api tcp h:3"};
    apr_pool_t *p = *state;
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));
    fake f, f2;
    hc_sched_t *old = sched_of(before, 2, shared, &f, p), *sched;
    hc_sched_check_t *sc;

    hc_sched_tick(old);
    assert_int_equal(shared->slots[0].state, HC_STATE_UP);
    assert_int_equal(shared->slots[1].state, HC_STATE_UP);
    /* a graceful restart: the same check keeps its state, another check's slot starts over */
    sched = sched_of(after, 2, shared, &f2, p);
    assert_int_equal(shared->generation, 2);
    assert_int_equal(shared->started, T(1000));
    assert_int_equal(shared->slots[0].state, HC_STATE_UP);
    assert_int_equal(shared->slots[0].runs, 1);
    assert_string_equal(shared->slots[1].name, "api");
    assert_int_equal(shared->slots[1].state, HC_STATE_UNKNOWN);
    sc = &APR_ARRAY_IDX(sched->checks, 0, hc_sched_check_t);
    assert_int_equal(sc->status.state, HC_STATE_UP);
    assert_int_equal(sc->status.runs, 1);
    /* a run of the old generation still in flight finishes quietly: its change is not told */
    f.result = APR_EGENERAL;
    sc = &APR_ARRAY_IDX(old->checks, 1, hc_sched_check_t);
    assert_int_equal(hc_sched_run(sc), -1);
    assert_int_equal(sc->status.state, HC_STATE_DOWN);
    assert_string_equal(shared->slots[1].name, "api");
    assert_int_equal(shared->slots[1].runs, 0);
}

static void a_check_pool_that_cannot_be_made(void **state)
{
    static const char *const lines[] = {"a tcp h:1"};
    apr_pool_t *p = *state;
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));
    hc_sched_t *sched;

    assert_int_equal(hc_sched_create(&sched, checks_of(lines, 1, p), shared, NULL, no_pool, p),
                     APR_ENOMEM);
    /* no checks at all is a schedule too */
    assert_int_equal(hc_sched_create(&sched, NULL, shared, NULL, no_pool, p), APR_SUCCESS);
    assert_int_equal(sched->checks->nelts, 0);
}

static void the_drain_file_comes_and_goes(void **state)
{
    apr_pool_t *p = *state;
    hc_shared_t *shared = apr_pcalloc(p, sizeof(*shared));
    const char *file = unit_write_temp(p, "");
    hc_sched_t *sched;
    apr_file_t *fd;

    assert_int_equal(hc_sched_create(&sched, NULL, shared, NULL, plain_pool, p), APR_SUCCESS);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_SAME); /* none configured */
    /* present at the first look */
    assert_int_equal(hc_sched_create(&sched, NULL, shared, file, plain_pool, p), APR_SUCCESS);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_APPEARED);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_SAME);
    unlink(file);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_REMOVED);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_SAME);
    /* absent at the first look: nothing to tell until it comes */
    assert_int_equal(hc_sched_create(&sched, NULL, shared, file, plain_pool, p), APR_SUCCESS);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_SAME);
    assert_int_equal(
        apr_file_open(&fd, file, APR_FOPEN_CREATE | APR_FOPEN_WRITE, APR_FPROT_OS_DEFAULT, p),
        APR_SUCCESS);
    apr_file_close(fd);
    assert_int_equal(hc_sched_drain_file(sched, p), HC_DRAIN_FILE_APPEARED);
    unlink(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(checks_run_at_their_intervals),
        UNIT_TEST(a_slow_run_does_not_shift_the_schedule),
        UNIT_TEST(a_hanging_check_fails_when_its_timeout_ends),
        UNIT_TEST(a_check_that_cannot_be_queued_waits_an_interval),
        UNIT_TEST(a_new_generation_owns_the_slots),
        UNIT_TEST(a_check_pool_that_cannot_be_made),
        UNIT_TEST(the_drain_file_comes_and_goes),
    };
    return UNIT_RUN("hc_sched", tests);
}
