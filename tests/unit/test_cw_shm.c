/* Unit tests of modules/cloudwatch/cw_shm.c: the layout and the "other" slot, claiming group slots
 * (found again, names cut, "other" once all are in use, a claim left half-way), status classes,
 * recording and taking (counts add up, a take empties, the status page's figures), and threads
 * racing to claim slots for the same and different groups while they count into them. */
#include "unit.h"

#include <sched.h>

#include "cw_shm.h"

static cw_shm_t *shm_make(apr_pool_t *p, int max_groups)
{
    cw_shm_t *sh = apr_pcalloc(p, cw_shm_size(max_groups));

    cw_shm_init(sh, max_groups);
    return sh;
}

/* The slots in use named @p vhost / @p group. */
static int slots_named(const cw_shm_t *sh, const char *vhost, const char *group)
{
    apr_uint32_t i;
    int n = 0;

    for (i = 0; i <= sh->nslots; ++i) {
        const cw_slot_t *s = &sh->slots[i];

        n += s->state == CW_SLOT_USED && !strcmp(s->vhost, vhost) && !strcmp(s->group, group);
    }
    return n;
}

static void layout(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_make(p, 3);

    assert_int_equal(cw_shm_size(3), sizeof(cw_shm_t) + 3 * sizeof(cw_slot_t));
    assert_true(cw_shm_layout(3) != cw_shm_layout(4));
    assert_int_equal(sh->nslots, 3);
    assert_int_equal(sh->slots[3].state, CW_SLOT_USED);
    assert_string_equal(sh->slots[3].vhost, CW_GROUP_OTHER);
    assert_string_equal(sh->slots[3].group, CW_GROUP_OTHER);
    assert_int_equal(sh->slots[0].state, CW_SLOT_FREE);
    /* kept memory keeps its counts: init only names "other" again */
    sh->slots[3].classes[CW_C2XX] = 5;
    cw_shm_init(sh, 3);
    assert_int_equal(sh->slots[3].classes[CW_C2XX], 5);
}

static void claim(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_make(p, 3);
    char long_a[100], long_b[100];
    cw_slot_t *a, *b, *c, *d;

    a = cw_shm_slot(sh, "www.example.com", "default");
    assert_int_equal(a->state, CW_SLOT_USED);
    assert_string_equal(a->vhost, "www.example.com");
    assert_string_equal(a->group, "default");
    assert_ptr_equal(cw_shm_slot(sh, "www.example.com", "default"), a);
    /* the same names split otherwise are another group */
    b = cw_shm_slot(sh, "www.example.comdefault", "");
    assert_ptr_not_equal(b, a);
    c = cw_shm_slot(sh, "www.example.com", "api");
    assert_ptr_not_equal(c, a);
    assert_ptr_not_equal(c, b);
    /* all three taken: a fourth group goes to "other", every time */
    d = cw_shm_slot(sh, "www.example.com", "admin");
    assert_ptr_equal(d, &sh->slots[3]);
    assert_ptr_equal(cw_shm_slot(sh, "other.example.com", "x"), d);
    assert_ptr_equal(cw_shm_slot(sh, "www.example.com", "api"), c);

    /* names are cut to 63 characters: those that differ after are one group */
    sh = shm_make(p, 4);
    memset(long_a, 'a', sizeof(long_a));
    long_a[99] = '\0';
    memcpy(long_b, long_a, sizeof(long_b));
    long_b[80] = 'b';
    a = cw_shm_slot(sh, long_a, long_b);
    assert_int_equal(strlen(a->vhost), CW_NAME_MAX - 1);
    assert_int_equal(strlen(a->group), CW_NAME_MAX - 1);
    assert_ptr_equal(cw_shm_slot(sh, long_b, long_a), a);
    long_b[10] = 'b';
    assert_ptr_not_equal(cw_shm_slot(sh, long_a, long_b), a);
}

/* A claim left half-way (its process killed between taking the slot and naming it): a request
 * waits for it a bounded time, then passes it by for good; the stalled slot is never published. */
static void claim_stalled(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_make(p, 1);
    cw_slot_t *s;
    apr_array_header_t *taken;

    sh->slots[0].state = CW_SLOT_CLAIMING;
    s = cw_shm_slot(sh, "v", "g");
    assert_ptr_equal(s, &sh->slots[1]); /* the only slot is stuck: "other" */
    assert_int_equal(sh->slots[0].state, CW_SLOT_STALLED);
    assert_ptr_equal(cw_shm_slot(sh, "v", "g"), &sh->slots[1]); /* no second wait */
    cw_shm_record(&sh->slots[0], &(cw_shm_sample_t){.cls = CW_C2XX, .latency = 1});
    taken = cw_shm_take(sh, p);
    assert_int_equal(taken->nelts, 0);
    /* a claimer that finishes after all puts the slot in use */
    __atomic_store_n(&sh->slots[0].state, CW_SLOT_USED, __ATOMIC_RELEASE);
    taken = cw_shm_take(sh, p);
    assert_int_equal(taken->nelts, 1);
}

static void classes(void **state)
{
    (void)state;
    assert_int_equal(cw_shm_class(101, 0), CW_C2XX);
    assert_int_equal(cw_shm_class(200, 0), CW_C2XX);
    assert_int_equal(cw_shm_class(304, 0), CW_C3XX);
    assert_int_equal(cw_shm_class(404, 0), CW_C4XX);
    assert_int_equal(cw_shm_class(503, 0), CW_C5XX);
    assert_int_equal(cw_shm_class(600, 0), CW_C5XX);
    assert_int_equal(cw_shm_class(0, 0), CW_C2XX);
    assert_int_equal(cw_shm_class(200, 1), CW_CABORTED);
    assert_int_equal(cw_shm_class(500, 1), CW_CABORTED);
}

static void record_take(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_make(p, 4);
    cw_slot_t *a = cw_shm_slot(sh, "v", "a"), *b = cw_shm_slot(sh, "v", "b");
    cw_shm_sample_t m;
    const cw_slot_snapshot_t *t;
    apr_array_header_t *taken;
    int i;

    (void)cw_shm_slot(sh, "v", "idle"); /* claimed, never counted into */
    assert_false(cw_shm_pending(sh));
    for (i = 1; i <= 100; ++i) {
        memset(&m, 0, sizeof(m));
        m.cls = i % 10 ? CW_C2XX : CW_C5XX;
        m.latency = (apr_uint64_t)i * 1000;
        m.has_ttfb = i % 2;
        m.ttfb = 7;
        m.bytes_in = 10;
        m.bytes_out = 100;
        cw_shm_record(a, &m);
    }
    m.cls = CW_CABORTED;
    cw_shm_record(b, &m);
    assert_true(cw_shm_pending(sh));

    taken = cw_shm_take(sh, p);
    assert_int_equal(taken->nelts, 2); /* the idle group counted nothing */
    t = &APR_ARRAY_IDX(taken, 0, cw_slot_snapshot_t);
    if (strcmp(t->group, "a")) {
        t = &APR_ARRAY_IDX(taken, 1, cw_slot_snapshot_t);
    }
    assert_string_equal(t->vhost, "v");
    assert_string_equal(t->group, "a");
    assert_int_equal(t->latency.count, 100);
    assert_int_equal(t->latency.sum, 5050 * 1000);
    assert_int_equal(t->ttfb.count, 50);
    assert_int_equal(t->ttfb.sum, 350);
    assert_int_equal(t->classes[CW_C2XX], 90);
    assert_int_equal(t->classes[CW_C5XX], 10);
    assert_int_equal(t->classes[CW_CABORTED], 0);
    assert_int_equal(t->bytes_in, 1000);
    assert_int_equal(t->bytes_out, 10000);
    /* what the status page shows of the interval */
    assert_int_equal(a->last_count, 100);
    assert_int_equal(a->last_5xx, 10);
    assert_int_equal(a->last_max, 100000);
    assert_true(a->last_p50 >= 50000 * 0.95 && a->last_p50 <= 50000 * 1.05);
    assert_true(a->last_p99 >= 99000 * 0.95 && a->last_p99 <= 99000 * 1.05);
    assert_int_equal(b->last_count, 1);

    /* taken means gone; the slots keep their names */
    assert_false(cw_shm_pending(sh));
    taken = cw_shm_take(sh, p);
    assert_int_equal(taken->nelts, 0);
    assert_int_equal(a->last_count, 0);
    assert_ptr_equal(cw_shm_slot(sh, "v", "a"), a);
}

static void pub_copy(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_make(p, 1);
    cw_pub_status_t st;

    sh->pub.last_attempt = 11;
    sh->pub.last_success = 12;
    sh->pub.last_interval = 13;
    sh->pub.intervals = 1;
    sh->pub.requests_ok = 2;
    sh->pub.requests_failed = 3;
    sh->pub.datums = 4;
    sh->pub.rejected = 5;
    sh->pub.dropped = 6;
    sh->pub.backlog = 7;
    sh->pub.bytes_sent = 8;
    sh->pub.last_status = 503;
    memset(sh->pub.last_error, 'x', sizeof(sh->pub.last_error)); /* no NUL: a torn write */
    cw_shm_pub_copy(&st, sh);
    assert_int_equal(st.last_attempt, 11);
    assert_int_equal(st.last_success, 12);
    assert_int_equal(st.last_interval, 13);
    assert_int_equal(st.intervals + st.requests_ok + st.requests_failed + st.datums, 10);
    assert_int_equal(st.rejected + st.dropped + st.backlog + st.bytes_sent, 26);
    assert_int_equal(st.last_status, 503);
    assert_int_equal(strlen(st.last_error), sizeof(st.last_error) - 1);
}

/* --- threads racing to claim and count ----------------------------------------------------- */

#define RACERS      8
#define SHARED_KEYS 24 /* every thread counts into these */
#define OWN_KEYS    4  /* and into its own */
#define ROUNDS      2000

typedef struct racer_t {
    cw_shm_t *sh;
    int id;
    int *go; /* atomic: all start at once */
} racer_t;

static void key_of(char *vhost, char *group, int owner, int k)
{
    apr_snprintf(vhost, 32, "vhost-%d.example.com", k % 3);
    if (owner < 0) {
        apr_snprintf(group, 32, "shared-%d", k);
    }
    else {
        apr_snprintf(group, 32, "own-%d-%d", owner, k);
    }
}

static void *racer_run(void *arg)
{
    racer_t *r = arg;
    cw_shm_sample_t m;
    char vhost[32], group[32];
    int round, k;

    while (!__atomic_load_n(r->go, __ATOMIC_ACQUIRE)) {
    }
    memset(&m, 0, sizeof(m));
    for (round = 0; round < ROUNDS; ++round) {
        /* the first round claims: each thread starts at another key, in another order */
        for (k = 0; k < SHARED_KEYS; ++k) {
            int key = (r->id % 2 ? SHARED_KEYS - 1 - k : k + r->id) % SHARED_KEYS;

            key_of(vhost, group, -1, key);
            m.cls = key % CW_CLASSES;
            m.latency = (apr_uint64_t)key + 1;
            m.bytes_out = 1;
            cw_shm_record(cw_shm_slot(r->sh, vhost, group), &m);
        }
        for (k = 0; k < OWN_KEYS; ++k) {
            key_of(vhost, group, r->id, k);
            m.cls = CW_C4XX;
            m.latency = 1000;
            m.bytes_out = 3;
            cw_shm_record(cw_shm_slot(r->sh, vhost, group), &m);
        }
    }
    return NULL;
}

static void race(void **state, int nslots)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_make(p, nslots);
    racer_t r[RACERS];
    pthread_t th[RACERS];
    apr_array_header_t *taken;
    apr_uint64_t requests = 0, bytes = 0, latency = 0, other = 0;
    char vhost[32], group[32];
    int go = 0, i, k, c;

    for (i = 0; i < RACERS; ++i) {
        r[i].sh = sh;
        r[i].id = i;
        r[i].go = &go;
        assert_int_equal(pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
    }
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (i = 0; i < RACERS; ++i) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
    }

    if (nslots >= SHARED_KEYS + RACERS * OWN_KEYS) {
        /* room for every group: each has exactly one slot, with everything counted in it */
        for (k = 0; k < SHARED_KEYS; ++k) {
            const cw_slot_t *s;

            key_of(vhost, group, -1, k);
            assert_int_equal(slots_named(sh, vhost, group), 1);
            s = cw_shm_slot(sh, vhost, group);
            assert_int_equal(s->classes[k % CW_CLASSES], (apr_uint64_t)RACERS * ROUNDS);
            assert_int_equal(s->latency.sum, (apr_uint64_t)RACERS * ROUNDS * (k + 1));
        }
        for (i = 0; i < RACERS; ++i) {
            for (k = 0; k < OWN_KEYS; ++k) {
                const cw_slot_t *s;

                key_of(vhost, group, i, k);
                assert_int_equal(slots_named(sh, vhost, group), 1);
                s = cw_shm_slot(sh, vhost, group);
                assert_int_equal(s->classes[CW_C4XX], ROUNDS);
                assert_int_equal(s->bytes_out, 3 * ROUNDS);
            }
        }
    }
    else {
        /* more groups than slots: every slot is used once, the rest went to "other" */
        for (i = 0; i < nslots; ++i) {
            assert_int_equal(sh->slots[i].state, CW_SLOT_USED);
            assert_int_equal(slots_named(sh, sh->slots[i].vhost, sh->slots[i].group), 1);
        }
        for (c = 0; c < CW_CLASSES; ++c) {
            other += sh->slots[nslots].classes[c];
        }
        assert_true(other > 0);
    }
    /* and whatever the slots, the counts add up */
    taken = cw_shm_take(sh, p);
    for (i = 0; i < taken->nelts; ++i) {
        const cw_slot_snapshot_t *t = &APR_ARRAY_IDX(taken, i, cw_slot_snapshot_t);

        for (c = 0; c < CW_CLASSES; ++c) {
            requests += t->classes[c];
        }
        bytes += t->bytes_out;
        latency += t->latency.count;
    }
    assert_int_equal(requests, (apr_uint64_t)RACERS * ROUNDS * (SHARED_KEYS + OWN_KEYS));
    assert_int_equal(latency, requests);
    assert_int_equal(bytes, (apr_uint64_t)RACERS * ROUNDS * (SHARED_KEYS + 3 * OWN_KEYS));
}

static void race_room_for_all(void **state)
{
    race(state, 64);
}

static void race_more_groups_than_slots(void **state)
{
    race(state, 20);
}

/* Threads let go at once on the same new group, round after round: one slot, every count in it.
 * As many threads as CPUs, spinning between rounds, so that they do reach the slot together (a
 * request that lost the race to claim a slot used to claim the next one for the same group);
 * the last one through a round checks it and starts the next. */
#define CLASH_ROUNDS  200000
#define CLASH_SECONDS 2

typedef struct clash_t {
    cw_shm_t *sh;
    int n;             /* threads */
    unsigned round;    /* atomic: the round under way; 0 when over */
    unsigned done;     /* atomic: threads through with it */
    apr_time_t until;  /* no round starts after this */
    unsigned rounds;   /* played */
    unsigned twice;    /* rounds that gave the group a second slot */
    unsigned miscount; /* rounds whose counts do not add up */
} clash_t;

static void *clash_run(void *arg)
{
    clash_t *c = arg;
    cw_shm_sample_t m;
    unsigned i, r;

    memset(&m, 0, sizeof(m));
    m.cls = CW_C2XX;
    for (i = 1;; ++i) {
        while ((r = __atomic_load_n(&c->round, __ATOMIC_ACQUIRE)) != i && r) {
        }
        if (!r) {
            return NULL;
        }
        cw_shm_record(cw_shm_slot(c->sh, "www", "new"), &m);
        if (__atomic_add_fetch(&c->done, 1, __ATOMIC_ACQ_REL) != (unsigned)c->n) {
            continue;
        }
        c->rounds++;
        c->twice += slots_named(c->sh, "www", "new") != 1;
        c->miscount += cw_shm_slot(c->sh, "www", "new")->classes[CW_C2XX] != (unsigned)c->n;
        memset(c->sh, 0, cw_shm_size(8));
        cw_shm_init(c->sh, 8);
        __atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&c->round, i < CLASH_ROUNDS && apr_time_now() < c->until ? i + 1 : 0,
                         __ATOMIC_RELEASE);
    }
}

static void race_same_new_group(void **state)
{
    apr_pool_t *p = *state;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t th[RACERS];
    clash_t c;
    int k;

    memset(&c, 0, sizeof(c));
    c.sh = shm_make(p, 8);
    c.n = cpus < 2 ? 2 : cpus > RACERS ? RACERS : (int)cpus;
    c.until = apr_time_now() + apr_time_from_sec(CLASH_SECONDS);
    c.round = 1;
    for (k = 0; k < c.n; ++k) {
        assert_int_equal(pthread_create(&th[k], NULL, clash_run, &c), 0);
    }
    for (k = 0; k < c.n; ++k) {
        assert_int_equal(pthread_join(th[k], NULL), 0);
    }
    print_message("race_same_new_group: %d threads, %u rounds, %u with a second slot\n", c.n,
                  c.rounds, c.twice);
    assert_true(c.rounds >= 100); /* however loaded the machine: it did race */
    assert_int_equal(c.twice, 0);
    assert_int_equal(c.miscount, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(layout),
        UNIT_TEST(claim),
        UNIT_TEST(claim_stalled),
        UNIT_TEST(classes),
        UNIT_TEST(record_take),
        UNIT_TEST(pub_copy),
        UNIT_TEST(race_room_for_all),
        UNIT_TEST(race_more_groups_than_slots),
        UNIT_TEST(race_same_new_group),
    };
    return UNIT_RUN("cw_shm", tests);
}
