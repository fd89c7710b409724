/* Unit tests of modules/session_kv/skv_lease.c over the in-memory fake driver of unit_kv.h
 * (skv_driver.h semantics: add only if absent, cas tokens, TTLs on the store's clock, injected
 * faults) and nodes whose clocks differ from the store's by an injected skew. */
#include "unit.h"
#include "unit_kv.h"

#include "skv_lease.h"

#define SEC    APR_USEC_PER_SEC
#define DAY    (86400 * SEC)
#define T0     UNIT_KV_T0 /* the store's clock at the start */
#define TTL    (30 * SEC)
#define MARGIN (3 * SEC)

/* --- the fake driver (unit_kv.h) ----------------------------------------------------------- */

static apr_interval_time_t skew; /* the node's clock minus the store's */

/* A fresh store, the node's clock right. */
static void reset(apr_pool_t *p)
{
    fake_reset(p);
    skew = 0;
}

/* The node's clock: the store's plus the node's skew. */
static apr_time_t node_now(void)
{
    return fake.now + skew;
}

/* The value stored at @p key, or NULL. */
static const char *stored(const char *key)
{
    fake_entry_t *e = fake_find(key);

    return e ? e->data : NULL;
}

static skv_lease_conf_t *conf_make(const char *name, const char *holder, apr_pool_t *p)
{
    skv_lease_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->driver = &fake_driver;
    fake_open(&c->conn, NULL, NULL, p);
    c->name = name;
    c->holder = holder;
    c->ttl = TTL;
    c->margin = MARGIN;
    c->now = node_now;
    return c;
}

/* A fresh store, and node A's lease "job" in it. */
static skv_lease_conf_t *node_a(apr_pool_t *p)
{
    reset(p);
    return conf_make("job", "A", p);
}

static skv_lease_t *take_ok(const skv_lease_conf_t *c, apr_pool_t *p)
{
    skv_lease_t *lease = NULL;
    const char *why = NULL;

    assert_int_equal(skv_lease_take(&lease, &why, c, p), APR_SUCCESS);
    assert_non_null(lease);
    return lease;
}

/* --- keys --------------------------------------------------------------------------------- */

static void test_key_plain_names_kept(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(skv_lease_key("nightly-report_2.v1", p),
                        "lampfarm-once:nightly-report_2.v1");
}

/* Whether @p key is a key for memcached (at most 250 bytes, no spaces or control characters). */
static int memcached_key(const char *key)
{
    const char *s;

    for (s = key; *s; s++) {
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f) {
            return 0;
        }
    }
    return strlen(key) <= 250;
}

static void test_key_other_names_hashed(void **state)
{
    apr_pool_t *p = *state;
    const char *names[] = {"two words", "a:b", "line\nbreak", "caf\xc3\xa9", "~", "x\x01"};
    char *longname = apr_palloc(p, 1001);
    const char *k;
    apr_size_t i;

    memset(longname, 'a', 1000);
    longname[1000] = '\0';
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        k = skv_lease_key(names[i], p);
        assert_true(memcached_key(k));
        assert_int_equal(strlen(k), strlen(SKV_LEASE_PREFIX) + 1 + 64);
        assert_int_equal(strncmp(k, SKV_LEASE_PREFIX "~", strlen(SKV_LEASE_PREFIX) + 1), 0);
    }
    /* the hash of "a b" is not the key of another name; 100 bytes kept, 101 hashed */
    assert_string_not_equal(skv_lease_key("a b", p), skv_lease_key("a_b", p));
    assert_string_equal(skv_lease_key(longname + 900, p) + strlen(SKV_LEASE_PREFIX),
                        longname + 900);
    k = skv_lease_key(longname + 899, p);
    assert_true(memcached_key(k) && k[strlen(SKV_LEASE_PREFIX)] == '~');
    assert_true(memcached_key(skv_lease_key(longname, p)));
    /* the period and fence keys stay within memcached's limit too */
    assert_true(strlen(skv_lease_key(longname + 900, p)) + strlen(":p31536000:99999999999") < 250);
}

/* --- take, renew, release ---------------------------------------------------------------- */

static void test_take_then_others_skip(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a, *b;
    skv_lease_t *lease, *none = NULL;
    const char *why = NULL;

    reset(p);
    a = conf_make("job", "nodeA/1/aa", p);
    b = conf_make("job", "nodeB/2/bb", p);
    lease = take_ok(a, p);
    assert_true(lease->token >= (apr_uint64_t)apr_time_sec(T0));
    assert_string_equal(stored("lampfarm-once:job"),
                        apr_psprintf(p, "%" APR_UINT64_T_FMT " nodeA/1/aa", lease->token));
    assert_int_equal(fake.ttl_of_last, TTL);
    assert_int_equal(lease->valid_until, T0 + TTL);
    assert_int_equal(lease->period_number, -1);

    assert_int_equal(skv_lease_take(&none, &why, b, p), APR_EBUSY);
    assert_null(none);
    assert_non_null(strstr(why, "held by nodeA/1/aa (token "));
    /* the same node again (another cron run while the job still runs) skips too */
    assert_int_equal(skv_lease_take(&none, &why, a, p), APR_EBUSY);
}

static void test_tokens_grow_at_every_take(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a = NULL, *b = NULL;
    apr_uint64_t last = 0;
    const char *why;
    int i;

    a = node_a(p);
    b = conf_make("job", "B", p);
    for (i = 0; i < 10; i++) {
        skv_lease_t *lease = take_ok(i % 2 ? a : b, p);

        /* the clock does not move: the counter does */
        assert_true(lease->token > last);
        last = lease->token;
        assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);
        assert_null(stored("lampfarm-once:job"));
    }
    assert_int_equal(last, (apr_uint64_t)apr_time_sec(T0) + 9);
}

static void test_token_after_counter_lost_starts_from_clock(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a;
    skv_lease_t *l1, *l2;
    const char *why;

    a = node_a(p);
    l1 = take_ok(a, p);
    assert_int_equal(skv_lease_release(&why, l1, p), APR_SUCCESS);
    /* evicted or flushed; a minute later */
    fake_drop("lampfarm-once:job:fence");
    fake.now += 60 * SEC;
    l2 = take_ok(a, p);
    assert_true(l2->token > l1->token);
    /* a counter that is not a number starts again from the clock too */
    assert_int_equal(skv_lease_release(&why, l2, p), APR_SUCCESS);
    fake_put("lampfarm-once:job:fence", "garbage", 7, DAY);
    fake.now += SEC;
    assert_int_equal(take_ok(a, p)->token, (apr_uint64_t)apr_time_sec(fake.now));
}

static void test_holder_killed_lease_expires_after_ttl(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a, *b;
    skv_lease_t *l1, *l2, *none;
    const char *why;

    a = node_a(p);
    b = conf_make("job", "B", p);
    l1 = take_ok(a, p);
    /* A is killed: no renewal, no release */
    fake.now += TTL - 1;
    assert_int_equal(skv_lease_take(&none, &why, b, p), APR_EBUSY);
    fake.now += 1;
    l2 = take_ok(b, p);
    assert_true(l2->token > l1->token);
}

static void test_renew_extends_and_detects_loss(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a, *b;
    skv_lease_t *lease;
    const char *why;
    int i;

    a = node_a(p);
    b = conf_make("job", "B", p);
    lease = take_ok(a, p);
    /* renewed every TTL/3 for 10 TTLs: never taken by B */
    for (i = 0; i < 30; i++) {
        skv_lease_t *none = NULL;

        fake.now += TTL / 3;
        assert_int_equal(skv_lease_renew(&why, lease, p), APR_SUCCESS);
        assert_int_equal(lease->valid_until, node_now() + TTL);
        assert_int_equal(skv_lease_take(&none, &why, b, p), APR_EBUSY);
    }
    /* deleted by hand: lost */
    fake_drop("lampfarm-once:job");
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_EBUSY);
    assert_true(lease->lost);
    assert_non_null(strstr(why, "gone"));
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_EBUSY);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_EBUSY);
}

static void test_renew_after_another_took_it(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a, *b;
    skv_lease_t *la, *lb;
    const char *why;

    a = node_a(p);
    b = conf_make("job", "B", p);
    la = take_ok(a, p);
    /* A stopped (SIGSTOP, a long GC pause) for longer than the TTL; B takes the lease */
    fake.now += TTL;
    lb = take_ok(b, p);
    assert_int_equal(skv_lease_renew(&why, la, p), APR_EBUSY);
    assert_non_null(strstr(why, "held by B (token "));
    /* A's release leaves B's lease alone; B's token still holds it, A's does not */
    assert_int_equal(skv_lease_release(&why, la, p), APR_EBUSY);
    assert_non_null(stored("lampfarm-once:job"));
    assert_int_equal(skv_lease_check(&why, a, lb->token, p), APR_SUCCESS);
    assert_int_equal(skv_lease_check(&why, a, la->token, p), APR_EBUSY);
    assert_true(lb->token > la->token);
}

static void test_renew_failures_within_and_past_ttl(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a;
    skv_lease_t *lease;
    const char *why;

    a = node_a(p);
    lease = take_ok(a, p);
    /* the store fails twice: still ours as far as we know */
    fake_fail(F_GET, 1, 1, APR_ECONNREFUSED);
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_ECONNREFUSED);
    assert_false(lease->lost);
    assert_non_null(strstr(why, "fake: down"));
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_ECONNREFUSED);
    /* it answers again in time */
    fake.now += TTL / 3 - 1;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_SUCCESS);
    /* a cas that times out: still ours, the next renewal works */
    fake_fail(F_CAS, 1, 0, APR_TIMEUP);
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_TIMEUP);
    assert_false(lease->lost);
    assert_non_null(strstr(why, "writing the lease"));
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_SUCCESS);
    /* the store times out for a whole TTL: lost */
    fake_fail(F_GET, 1, 10, APR_TIMEUP);
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_TIMEUP);
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_TIMEUP);
    fake.now += TTL / 3;
    assert_int_equal(skv_lease_renew(&why, lease, p), APR_EBUSY);
    assert_true(lease->lost);
    assert_non_null(strstr(why, "not renewed within the TTL"));
}

static void test_release_near_expiry_leaves_it(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a;
    skv_lease_t *lease;
    const char *why;

    a = node_a(p);
    lease = take_ok(a, p);
    fake.now += TTL - MARGIN + 1;
    assert_int_equal(skv_lease_release(&why, lease, p), APR_INCOMPLETE);
    assert_non_null(stored("lampfarm-once:job"));
    fake.now += MARGIN;
    assert_null(stored("lampfarm-once:job"));
    /* released in time: gone at once; released again: gone already */
    lease = take_ok(a, p);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);
    assert_null(stored("lampfarm-once:job"));
    assert_int_equal(skv_lease_release(&why, lease, p), APR_NOTFOUND);
    assert_non_null(strstr(why, "gone"));
    /* a store error is the caller's to report */
    lease = take_ok(a, p);
    fake_fail(F_DEL, 1, 0, APR_TIMEUP);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_TIMEUP);
    assert_non_null(strstr(why, "deleting the lease"));
}

static void test_check(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a;
    skv_lease_t *lease;
    const char *why;

    a = node_a(p);
    assert_int_equal(skv_lease_check(&why, a, 1, p), APR_NOTFOUND);
    lease = take_ok(a, p);
    assert_int_equal(skv_lease_check(&why, a, lease->token, p), APR_SUCCESS);
    assert_int_equal(skv_lease_check(&why, a, lease->token + 1, p), APR_EBUSY);
    assert_int_equal(skv_lease_check(&why, a, 0, p), APR_EBUSY);
    fake_fail(F_GET, 1, 0, APR_ECONNREFUSED);
    assert_int_equal(skv_lease_check(&why, a, lease->token, p), APR_ECONNREFUSED);
    assert_non_null(strstr(why, "fake: down"));
}

/* A store that fails at any step of a take leaves nothing held: the next take works. */
static void test_take_store_errors_leave_nothing(void **state)
{
    apr_pool_t *p = *state;
    static const struct {
        fake_op_e op;
        int nth;
    } steps[] = {
        {F_ADD, 1}, /* the lease */
        {F_GET, 1}, /* the counter */
        {F_ADD, 2}, /* the counter's first value */
        {F_GET, 2}, /* the lease, before writing its token */
        {F_CAS, 1}, /* the lease's token */
    };
    skv_lease_conf_t *a;
    skv_lease_t *none;
    const char *why;
    apr_size_t i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        reset(p);
        a = conf_make("job", "A", p);
        fake_fail(steps[i].op, steps[i].nth, 0, APR_ECONNREFUSED);
        none = NULL;
        assert_int_equal(skv_lease_take(&none, &why, a, p), APR_ECONNREFUSED);
        assert_null(none);
        assert_non_null(strstr(why, "fake: down"));
        assert_null(stored("lampfarm-once:job"));
        take_ok(a, p);
    }
}

/* --- periodic mode ------------------------------------------------------------------------ */

static skv_lease_conf_t *daily(const char *holder, apr_pool_t *p)
{
    skv_lease_conf_t *c = conf_make("report", holder, p);

    c->period = DAY;
    return c;
}

static void test_period_number_and_ttl(void **state)
{
    (void)state;
    assert_int_equal(skv_lease_period_number(0, DAY), 0);
    assert_int_equal(skv_lease_period_number(DAY - 1, DAY), 0);
    assert_int_equal(skv_lease_period_number(DAY, DAY), 1);
    assert_int_equal(skv_lease_period_number(-1, DAY), -1);
    assert_int_equal(skv_lease_period_number(T0, DAY), T0 / DAY);
    assert_int_equal(skv_lease_period_ttl(DAY), DAY + 3600 * SEC);
    assert_int_equal(skv_lease_period_ttl(60 * SEC), 120 * SEC);
}

static void test_period_runs_once(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a, *b;
    skv_lease_t *lease, *none = NULL;
    const char *why, *pkey;
    apr_int64_t n;

    reset(p);
    a = daily("A", p);
    b = daily("B", p);
    lease = take_ok(a, p);
    n = T0 / DAY;
    assert_int_equal(lease->period_number, n);
    pkey = apr_psprintf(p, "lampfarm-once:report:p86400:%" APR_INT64_T_FMT, n);
    assert_string_equal(stored(pkey), lease->value);
    assert_int_equal(fake.ttl_of_last, DAY + 3600 * SEC);
    /* while it runs: busy; after it ran: done for the period, and the lease is given back */
    assert_int_equal(skv_lease_take(&none, &why, b, p), APR_EBUSY);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);
    fake.now += 3600 * SEC;
    assert_int_equal(skv_lease_take(&none, &why, b, p), APR_EEXIST);
    assert_null(none);
    assert_non_null(strstr(why, "already run by A (token "));
    assert_non_null(strstr(why, "(from 2023-11-1"));
    assert_null(stored("lampfarm-once:report"));
    /* the next period runs */
    fake.now = (n + 1) * DAY + 10 * SEC;
    lease = take_ok(b, p);
    assert_int_equal(lease->period_number, n + 1);
}

/* Nodes whose clocks differ by seconds, asking around the boundary between periods N and N+1
 * (true time B): each period runs once, as the docs say. */
static void test_period_clock_skew(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *ahead, *exact, *behind;
    skv_lease_t *lease, *none = NULL;
    const char *why;
    apr_int64_t n = T0 / DAY;
    apr_time_t boundary = (n + 1) * DAY;

    reset(p);
    ahead = daily("ahead", p);
    exact = daily("exact", p);
    behind = daily("behind", p);

    /* period N ran in the middle of the day */
    fake.now = n * DAY + 12 * 3600 * SEC;
    lease = take_ok(exact, p);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);

    /* 1 s before the boundary, a node 3 s ahead believes it is N+1: it runs N+1 */
    fake.now = boundary - SEC;
    skew = 3 * SEC;
    lease = take_ok(ahead, p);
    assert_int_equal(lease->period_number, n + 1);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);
    /* the exact node at the boundary asks N+1: run */
    fake.now = boundary;
    skew = 0;
    assert_int_equal(skv_lease_take(&none, &why, exact, p), APR_EEXIST);
    /* a node 3 s behind, 2 s after the boundary, still asks N: N's key is there, run */
    fake.now = boundary + 2 * SEC;
    skew = -3 * SEC;
    assert_int_equal(skv_lease_take(&none, &why, behind, p), APR_EEXIST);
    assert_non_null(strstr(why, "already run by exact"));
    /* N's key lives until an hour past the boundary, and by then every clock has moved on */
    fake.now = boundary + 3600 * SEC - SEC;
    assert_int_equal(skv_lease_take(&none, &why, behind, p), APR_EEXIST);
    fake.now = boundary + 3600 * SEC + SEC;
    assert_int_equal(skv_lease_take(&none, &why, behind, p), APR_EEXIST); /* N+1's key */
    assert_null(none);
}

/* The first node to ask in a period runs it, whichever clock says so first: a period nobody ran
 * before the boundary is run by the first node behind, the others skip. */
static void test_period_first_asker_wins_across_boundary(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *ahead, *behind;
    skv_lease_t *lease, *none = NULL;
    const char *why;
    apr_int64_t n = T0 / DAY;
    apr_time_t boundary = (n + 1) * DAY;

    reset(p);
    ahead = daily("ahead", p);
    behind = daily("behind", p);
    /* the node behind asks at boundary + 1 s (its clock: boundary - 1 s): it runs N */
    fake.now = boundary + SEC;
    skew = -2 * SEC;
    lease = take_ok(behind, p);
    assert_int_equal(lease->period_number, n);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);
    /* the node ahead asks just after: N+1, which nobody ran: it runs it */
    skew = 2 * SEC;
    lease = take_ok(ahead, p);
    assert_int_equal(lease->period_number, n + 1);
    assert_int_equal(skv_lease_release(&why, lease, p), APR_SUCCESS);
    /* and neither runs again in its period */
    assert_int_equal(skv_lease_take(&none, &why, ahead, p), APR_EEXIST);
    skew = -2 * SEC;
    assert_int_equal(skv_lease_take(&none, &why, behind, p), APR_EEXIST);
}

static void test_period_store_error_gives_lease_back(void **state)
{
    apr_pool_t *p = *state;
    skv_lease_conf_t *a;
    skv_lease_t *none = NULL;
    const char *why;

    reset(p);
    a = daily("A", p);
    fake_fail(F_ADD, 3, 0, APR_TIMEUP); /* the lease, the counter, then the period */
    assert_int_equal(skv_lease_take(&none, &why, a, p), APR_TIMEUP);
    assert_non_null(strstr(why, "taking the period"));
    assert_null(stored("lampfarm-once:report"));
    take_ok(a, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_key_plain_names_kept),
        UNIT_TEST(test_key_other_names_hashed),
        UNIT_TEST(test_take_then_others_skip),
        UNIT_TEST(test_tokens_grow_at_every_take),
        UNIT_TEST(test_token_after_counter_lost_starts_from_clock),
        UNIT_TEST(test_holder_killed_lease_expires_after_ttl),
        UNIT_TEST(test_renew_extends_and_detects_loss),
        UNIT_TEST(test_renew_after_another_took_it),
        UNIT_TEST(test_renew_failures_within_and_past_ttl),
        UNIT_TEST(test_release_near_expiry_leaves_it),
        UNIT_TEST(test_check),
        UNIT_TEST(test_take_store_errors_leave_nothing),
        UNIT_TEST(test_period_number_and_ttl),
        UNIT_TEST(test_period_runs_once),
        UNIT_TEST(test_period_clock_skew),
        UNIT_TEST(test_period_first_asker_wins_across_boundary),
        UNIT_TEST(test_period_store_error_gives_lease_back),
    };

    return UNIT_RUN("skv_lease", tests);
}
