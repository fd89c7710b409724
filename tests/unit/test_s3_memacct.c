/* Unit tests of modules/s3/s3_memacct.c: the cap, release, the reservations of a process that
 * died (ignored, their slot freed and taken over, also mid-takeover), a table with every slot
 * taken, reservers racing in threads, and the real liveness check against a reaped child. The
 * liveness check is injected: "processes" are numbers, and a test says which ones are dead. */
#include "unit.h"

#include <signal.h>
#include <sys/wait.h>

#include <apr_thread_proc.h>

#include "s3_memacct.h"

/* The pids that are gone; pid < 64. Written between steps, read by the threads of one test. */
static int dead[64];

static int alive(apr_int64_t pid)
{
    return pid > 0 && pid < 64 && !__atomic_load_n(&dead[pid], __ATOMIC_SEQ_CST);
}

static int setup(void **state)
{
    memset(dead, 0, sizeof(dead));
    return unit_setup(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, unit_teardown)

static s3_memacct_t *table(int nslots, apr_pool_t *p)
{
    /* garbage first: init must lay out everything itself */
    apr_size_t size = s3_memacct_size(nslots);
    void *base = apr_palloc(p, size);

    memset(base, 0xa5, size);
    return s3_memacct_init(base, nslots);
}

static void cap_and_release(void **state)
{
    s3_memacct_t *m = table(4, *state);
    int a, b, c;

    assert_int_equal(s3_memacct_reserve(&a, m, 1, 5, 10, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&b, m, 2, 5, 10, alive), APR_SUCCESS);
    assert_int_not_equal(a, b);
    assert_int_equal(s3_memacct_used(m, 1, alive), 10);
    assert_int_equal(s3_memacct_reserve(&c, m, 3, 1, 10, alive), APR_ENOSPC);
    assert_int_equal(s3_memacct_reserve(&c, m, 1, 1, 10, alive), APR_ENOSPC);
    assert_int_equal(s3_memacct_used(m, 3, alive), 10); /* a refusal leaves nothing behind */
    s3_memacct_release(m, a, 5);
    assert_int_equal(s3_memacct_used(m, 3, alive), 5);
    assert_int_equal(s3_memacct_reserve(&c, m, 3, 5, 10, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&a, m, 1, 11, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&a, m, 1, 1, 10, alive), APR_ENOSPC);
    assert_int_equal(s3_memacct_reserve(&a, m, 1, 11, 10, alive), APR_ENOSPC); /* over the cap */
}

/* Two reservations of one process share its slot; each release takes back its own bytes. */
static void one_slot_per_process(void **state)
{
    s3_memacct_t *m = table(2, *state);
    int a, b, c;

    assert_int_equal(s3_memacct_reserve(&a, m, 7, 3, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&b, m, 7, 4, 100, alive), APR_SUCCESS);
    assert_int_equal(a, b);
    assert_int_equal(s3_memacct_reserve(&c, m, 8, 1, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_used(m, 8, alive), 8);
    s3_memacct_release(m, a, 3);
    assert_int_equal(s3_memacct_used(m, 8, alive), 5);
    s3_memacct_release(m, b, 4);
    s3_memacct_release(m, c, 1);
    assert_int_equal(s3_memacct_used(m, 8, alive), 0);
}

/* A process killed during its uploads never releases: the total ignores its reservations, and
 * the cap admits as much as before. */
static void dead_process_ignored(void **state)
{
    s3_memacct_t *m = table(4, *state);
    int a, b, c;

    assert_int_equal(s3_memacct_reserve(&a, m, 1, 6, 10, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&b, m, 2, 6, 10, alive), APR_ENOSPC);
    dead[1] = 1;
    assert_int_equal(s3_memacct_used(m, 2, alive), 0);
    assert_int_equal(s3_memacct_reserve(&b, m, 2, 6, 10, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&c, m, 3, 4, 10, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&c, m, 3, 1, 10, alive), APR_ENOSPC);
    assert_int_equal(s3_memacct_used(m, 3, alive), 10);
}

/* With every slot taken, a new process gets the slot of one that is gone, emptied; while all of
 * them exist, it is told so (not "over the cap"). */
static void dead_slot_taken_over(void **state)
{
    s3_memacct_t *m = table(2, *state);
    int a, b, c;

    assert_int_equal(s3_memacct_reserve(&a, m, 1, 4, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&b, m, 2, 4, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_reserve(&c, m, 3, 4, 100, alive), APR_EAGAIN);
    assert_int_equal(s3_memacct_used(m, 3, alive), 8);
    dead[1] = 1;
    assert_int_equal(s3_memacct_reserve(&c, m, 3, 5, 100, alive), APR_SUCCESS);
    assert_int_equal(c, a);
    assert_int_equal(s3_memacct_used(m, 3, alive), 9); /* 4 of pid 2, 5 of pid 3: none of 1 */
    s3_memacct_release(m, c, 5);
    assert_int_equal(s3_memacct_used(m, 3, alive), 4);
    /* a process that exited normally left an empty slot: taken over just the same */
    s3_memacct_release(m, b, 4);
    dead[2] = 1;
    assert_int_equal(s3_memacct_reserve(&a, m, 4, 1, 100, alive), APR_SUCCESS);
    assert_int_equal(a, b);
}

/* A dead process that freed a slot is no longer counted; nor is its emptied slot a reason to
 * refuse: s3_memacct_used() frees it, and a later process reuses it. */
static void used_frees_dead_slots(void **state)
{
    s3_memacct_t *m = table(1, *state);
    int a;

    assert_int_equal(s3_memacct_reserve(&a, m, 1, 4, 100, alive), APR_SUCCESS);
    dead[1] = 1;
    assert_int_equal(s3_memacct_used(m, 2, alive), 0);
    dead[1] = 0; /* its pid, taken again by a new process: the slot was freed, nothing inherited */
    assert_int_equal(s3_memacct_reserve(&a, m, 1, 1, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_used(m, 2, alive), 1);
}

/* A process that died while it took a slot over leaves the slot marked with its negated pid:
 * found dead like any other, and taken over. Laid out by hand: the layout is the core's, but the
 * marker is what a process killed at that instruction leaves. */
static void dead_takeover_taken_over(void **state)
{
    s3_memacct_t *m = table(1, *state);
    apr_int64_t *slot_pid;
    int a;

    assert_int_equal(s3_memacct_reserve(&a, m, 1, 4, 100, alive), APR_SUCCESS);
    /* the slot's pid is the first field after the header (two 32-bit counts) */
    slot_pid = (apr_int64_t *)((char *)m + 8);
    assert_int_equal(*slot_pid, 1);
    *slot_pid = -5;
    assert_int_equal(s3_memacct_reserve(&a, m, 6, 1, 100, alive), APR_EAGAIN);
    dead[5] = 1;
    assert_int_equal(s3_memacct_reserve(&a, m, 6, 1, 100, alive), APR_SUCCESS);
    assert_int_equal(s3_memacct_used(m, 6, alive), 1);
}

/* Threads of several processes reserve and release at once: never more than the cap admitted,
 * and everything given back at the end. */
typedef struct racer_t {
    s3_memacct_t *m;
    apr_int64_t pid;
    apr_uint64_t *admitted; /* bytes held right now, by all racers */
    apr_uint64_t *peak;
    int refused;
} racer_t;

#define RACE_CAP    100
#define RACE_ROUNDS 20000

static void *APR_THREAD_FUNC race(apr_thread_t *thread, void *data)
{
    racer_t *r = data;
    int i, slot;

    for (i = 0; i < RACE_ROUNDS; ++i) {
        apr_uint64_t bytes = 10 + (apr_uint64_t)(i % 7) * 5, now, peak;
        if (s3_memacct_reserve(&slot, r->m, r->pid, bytes, RACE_CAP, alive) != APR_SUCCESS) {
            ++r->refused;
            continue;
        }
        now = __atomic_add_fetch(r->admitted, bytes, __ATOMIC_SEQ_CST);
        peak = __atomic_load_n(r->peak, __ATOMIC_SEQ_CST);
        while (now > peak
               && !__atomic_compare_exchange_n(r->peak, &peak, now, 0, __ATOMIC_SEQ_CST,
                                               __ATOMIC_SEQ_CST)) {
        }
        __atomic_sub_fetch(r->admitted, bytes, __ATOMIC_SEQ_CST);
        s3_memacct_release(r->m, slot, bytes);
    }
    (void)thread;
    return NULL;
}

static void racing_reservers(void **state)
{
    apr_pool_t *p = *state;
    s3_memacct_t *m = table(16, p);
    apr_uint64_t admitted = 0, peak = 0;
    apr_thread_t *threads[8];
    racer_t racers[8];
    apr_status_t rv;
    int i, refused = 0;

    for (i = 0; i < 8; ++i) {
        racers[i].m = m;
        racers[i].pid = 1 + i % 3; /* three processes, several threads each */
        racers[i].admitted = &admitted;
        racers[i].peak = &peak;
        racers[i].refused = 0;
        assert_int_equal(apr_thread_create(&threads[i], NULL, race, &racers[i], p), APR_SUCCESS);
    }
    for (i = 0; i < 8; ++i) {
        apr_thread_join(&rv, threads[i]);
        refused += racers[i].refused;
    }
    assert_true(peak <= RACE_CAP);
    assert_true(peak > 0);
    assert_int_equal(s3_memacct_used(m, 1, alive), 0);
    (void)refused; /* how many depends on the scheduler */
}

/* The real check: this process exists; a child that exited and was reaped does not. */
static void pid_alive_real(void **state)
{
    pid_t child;
    int status;

    (void)state;
    assert_true(s3_memacct_pid_alive(getpid()));
    assert_true(s3_memacct_pid_alive(1)); /* another user's process exists too (EPERM) */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_false(s3_memacct_pid_alive(child));
    assert_false(s3_memacct_pid_alive(0));
    assert_false(s3_memacct_pid_alive(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(cap_and_release),      TEST(one_slot_per_process),  TEST(dead_process_ignored),
        TEST(dead_slot_taken_over), TEST(used_frees_dead_slots), TEST(dead_takeover_taken_over),
        TEST(racing_reservers),     TEST(pid_alive_real),
    };
    return UNIT_RUN("s3_memacct", tests);
}
