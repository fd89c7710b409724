/* Unit tests of modules/session_kv/skv_breaker.c: the down / retry / up state of a backend
 * server, on an injected clock (every call takes "now"), and its claims from many threads. */
#include "unit.h"

#include "skv_breaker.h"

#define T0    APR_INT64_C(1700000000000000) /* microseconds */
#define SEC   APR_USEC_PER_SEC
#define RETRY (10 * SEC)

static skv_breaker_change_e report(skv_breaker_t *b, skv_breaker_admit_e admitted,
                                   skv_breaker_outcome_e outcome, apr_time_t now)
{
    return skv_breaker_report(b, admitted, outcome, now, RETRY, NULL, NULL);
}

/* Up: everything passes, answers change nothing, and neither do refusals or local errors. */
static void up_passes(void **state)
{
    skv_breaker_t b = {0};

    (void)state;
    assert_int_equal(skv_breaker_admit(&b, T0, RETRY), SKV_BREAKER_PASS);
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_ANSWERED, T0), SKV_BREAKER_SAME);
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_UNKNOWN, T0), SKV_BREAKER_SAME);
    assert_int_equal(skv_breaker_admit(&b, T0 + 1, RETRY), SKV_BREAKER_PASS);
    assert_false(skv_breaker_is_down(&b));
    assert_int_equal(b.refused, 0);
}

/* A timeout marks it down; until the interval has passed, everything is refused (and
 * counted), and more timeouts of requests under way meanwhile neither log nor postpone. */
static void no_answer_marks_down(void **state)
{
    skv_breaker_t b = {0};

    (void)state;
    assert_int_equal(skv_breaker_admit(&b, T0, RETRY), SKV_BREAKER_PASS);
    assert_int_equal(skv_breaker_admit(&b, T0, RETRY), SKV_BREAKER_PASS);
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0 + SEC),
                     SKV_BREAKER_DOWN);
    assert_true(skv_breaker_is_down(&b));
    assert_true(b.down_since == T0 + SEC);
    /* the second request under way times out a moment later: no second change */
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0 + 2 * SEC),
                     SKV_BREAKER_SAME);
    assert_int_equal(skv_breaker_admit(&b, T0 + SEC, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(skv_breaker_admit(&b, T0 + SEC + RETRY - 1, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(b.refused, 2);
    /* due one interval after the first timeout, not the second */
    assert_int_equal(skv_breaker_admit(&b, T0 + SEC + RETRY, RETRY), SKV_BREAKER_PROBE);
}

/* Once due, one caller probes and the others keep being refused while it does. */
static void one_probe_at_a_time(void **state)
{
    skv_breaker_t b = {0};
    apr_time_t due = T0 + RETRY;

    (void)state;
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0), SKV_BREAKER_DOWN);
    assert_int_equal(skv_breaker_admit(&b, due, RETRY), SKV_BREAKER_PROBE);
    assert_int_equal(skv_breaker_admit(&b, due, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(skv_breaker_admit(&b, due + SEC, RETRY), SKV_BREAKER_REFUSE);
    /* a prober that never reports (its process ended) holds nothing: one more interval */
    assert_int_equal(skv_breaker_admit(&b, due + RETRY - 1, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(skv_breaker_admit(&b, due + RETRY, RETRY), SKV_BREAKER_PROBE);
    assert_int_equal(skv_breaker_admit(&b, due + RETRY, RETRY), SKV_BREAKER_REFUSE);
}

/* A probe without an answer: down for another interval, counted from its failure. */
static void failed_probe_stays_down(void **state)
{
    skv_breaker_t b = {0};
    apr_time_t due = T0 + RETRY, failed = due + SEC;

    (void)state;
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0), SKV_BREAKER_DOWN);
    assert_int_equal(skv_breaker_admit(&b, due, RETRY), SKV_BREAKER_PROBE);
    assert_int_equal(report(&b, SKV_BREAKER_PROBE, SKV_BREAKER_NO_ANSWER, failed),
                     SKV_BREAKER_STILL_DOWN);
    assert_true(b.down_since == T0); /* still the first marking down */
    assert_int_equal(skv_breaker_admit(&b, failed + RETRY - 1, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(skv_breaker_admit(&b, failed + RETRY, RETRY), SKV_BREAKER_PROBE);
}

/* A probe that is refused or fails locally says nothing: still down, next probe as claimed. */
static void unknown_probe_stays_down(void **state)
{
    skv_breaker_t b = {0};
    apr_time_t due = T0 + RETRY;

    (void)state;
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0), SKV_BREAKER_DOWN);
    assert_int_equal(skv_breaker_admit(&b, due, RETRY), SKV_BREAKER_PROBE);
    assert_int_equal(report(&b, SKV_BREAKER_PROBE, SKV_BREAKER_UNKNOWN, due), SKV_BREAKER_SAME);
    assert_true(skv_breaker_is_down(&b));
    assert_int_equal(skv_breaker_admit(&b, due + RETRY - 1, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(skv_breaker_admit(&b, due + RETRY, RETRY), SKV_BREAKER_PROBE);
}

/* An answer marks it up, once, saying how long it was down and how much was refused. */
static void answer_marks_up(void **state)
{
    skv_breaker_t b = {0};
    apr_time_t due = T0 + RETRY;
    apr_interval_time_t down_for = 0;
    apr_uint64_t refused = 0;
    int i;

    (void)state;
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0), SKV_BREAKER_DOWN);
    for (i = 0; i < 5; i++) {
        assert_int_equal(skv_breaker_admit(&b, T0 + i * SEC, RETRY), SKV_BREAKER_REFUSE);
    }
    assert_int_equal(skv_breaker_admit(&b, due, RETRY), SKV_BREAKER_PROBE);
    assert_int_equal(skv_breaker_report(&b, SKV_BREAKER_PROBE, SKV_BREAKER_ANSWERED, due + 5, RETRY,
                                        &down_for, &refused),
                     SKV_BREAKER_UP);
    assert_true(down_for == RETRY + 5);
    assert_int_equal(refused, 5);
    assert_false(skv_breaker_is_down(&b));
    assert_int_equal(b.refused, 0);
    assert_int_equal(skv_breaker_admit(&b, due + 6, RETRY), SKV_BREAKER_PASS);
    /* a second answer changes nothing */
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_ANSWERED, due + 7), SKV_BREAKER_SAME);
    /* and it can go down again */
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, due + 8),
                     SKV_BREAKER_DOWN);
    assert_true(b.down_since == due + 8);
}

/* Only a probe's answer marks it up: not a late one to a request sent before it went down
 * (a server that answers reads but not writes would go up and down with every request). */
static void late_answer_leaves_it_down(void **state)
{
    skv_breaker_t b = {0};

    (void)state;
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0), SKV_BREAKER_DOWN);
    assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_ANSWERED, T0 + 1), SKV_BREAKER_SAME);
    assert_int_equal(skv_breaker_admit(&b, T0 + 2, RETRY), SKV_BREAKER_REFUSE);
    assert_int_equal(skv_breaker_admit(&b, T0 + RETRY, RETRY), SKV_BREAKER_PROBE);
    assert_int_equal(report(&b, SKV_BREAKER_PROBE, SKV_BREAKER_ANSWERED, T0 + RETRY + 1),
                     SKV_BREAKER_UP);
}

/* Many threads find it due at the same moment: exactly one of them probes. */
#define THREADS 8
#define ROUNDS  500

typedef struct race_t {
    skv_breaker_t *b;
    pthread_barrier_t *start;
    apr_time_t now;
    int probes;
} race_t;

static void *race(void *arg)
{
    race_t *r = arg;

    pthread_barrier_wait(r->start);
    r->probes = skv_breaker_admit(r->b, r->now, RETRY) == SKV_BREAKER_PROBE;
    return NULL;
}

static void threads_one_prober(void **state)
{
    pthread_barrier_t start;
    pthread_t th[THREADS];
    race_t r[THREADS];
    int round, i, probes;

    (void)state;
    for (round = 0; round < ROUNDS; round++) {
        skv_breaker_t b = {0};

        assert_int_equal(report(&b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0), SKV_BREAKER_DOWN);
        assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
        for (i = 0; i < THREADS; i++) {
            r[i].b = &b;
            r[i].start = &start;
            r[i].now = T0 + RETRY + i; /* all due */
            r[i].probes = 0;
            assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
        }
        probes = 0;
        for (i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            probes += r[i].probes;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(probes, 1);
        assert_int_equal(b.refused, THREADS - 1);
    }
}

/* Many threads time out at once on a server that was up: exactly one of them marks it down. */
typedef struct timeout_t {
    skv_breaker_t *b;
    pthread_barrier_t *start;
    skv_breaker_change_e change;
} timeout_t;

static void *time_out(void *arg)
{
    timeout_t *t = arg;

    pthread_barrier_wait(t->start);
    t->change = report(t->b, SKV_BREAKER_PASS, SKV_BREAKER_NO_ANSWER, T0);
    return NULL;
}

static void threads_one_marks_down(void **state)
{
    pthread_barrier_t start;
    pthread_t th[THREADS];
    timeout_t t[THREADS];
    int round, i, downs;

    (void)state;
    for (round = 0; round < ROUNDS; round++) {
        skv_breaker_t b = {0};

        assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
        for (i = 0; i < THREADS; i++) {
            t[i].b = &b;
            t[i].start = &start;
            assert_int_equal(pthread_create(&th[i], NULL, time_out, &t[i]), 0);
        }
        downs = 0;
        for (i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            downs += t[i].change == SKV_BREAKER_DOWN;
            assert_true(t[i].change == SKV_BREAKER_DOWN || t[i].change == SKV_BREAKER_SAME);
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(downs, 1);
        assert_true(b.retry_at == T0 + RETRY);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(up_passes),
        UNIT_TEST(no_answer_marks_down),
        UNIT_TEST(one_probe_at_a_time),
        UNIT_TEST(failed_probe_stays_down),
        UNIT_TEST(unknown_probe_stays_down),
        UNIT_TEST(answer_marks_up),
        UNIT_TEST(late_answer_leaves_it_down),
        UNIT_TEST(threads_one_prober),
        UNIT_TEST(threads_one_marks_down),
    };
    return UNIT_RUN("skv_breaker", tests);
}
