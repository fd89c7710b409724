/* hc_sched — when mod_health runs each check and what becomes of a run: the check thread's
 * schedule (a check is due every interval from the tick that started its last run, and never
 * runs twice at once), one run measured against the clock and published to the shared segment,
 * a new configuration generation's claim on the segment, and the drain file's comings and
 * goings. Pure core: APR only. The clock, the check types' run functions and the thread pool
 * the runs go to are the caller's (the glue's, or a unit test's fakes), so no test sleeps.
 */
#ifndef HC_SCHED_H
#define HC_SCHED_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "hc_check.h"
#include "hc_conf.h"

/** The clock: apr_time_now() in the server. */
typedef apr_time_t hc_sched_clock_fn(void);

/**
 * Run @p check once, for at most its timeout (the check type's provider, in the glue).
 * @param error out on failure: why, from @p p
 * @param baton hc_sched_t.baton
 * @param p cleared before each run of this check
 * @return APR_SUCCESS when healthy
 */
typedef apr_status_t hc_sched_run_fn(const char **error, const hc_conf_check_t *check, void *baton,
                                     apr_pool_t *p);

/** Makes a check's pool: a child of @p parent with its own allocator (mod_lf_pool_create()). */
typedef apr_status_t hc_sched_pool_fn(apr_pool_t **out, apr_pool_t *parent);

struct hc_sched_check_t;

/**
 * Hand a due check to a thread that calls hc_sched_run() then hc_sched_done() (the glue's
 * thread pool). On failure the check is due again one interval later, as after a run.
 * @param baton hc_sched_t.baton
 */
typedef apr_status_t hc_sched_submit_fn(struct hc_sched_check_t *sc, void *baton);

/** One check as the check thread sees it; from the thread's pool. */
typedef struct hc_sched_check_t {
    const hc_conf_check_t *check;
    struct hc_sched_t *sched;
    int slot;           /* its record in the shared segment */
    hc_status_t status; /* our copy: this check's runs are the slot's only writer */
    apr_pool_t *pool;   /* own allocator, cleared before each run */
    apr_time_t next_due;
    apr_uint32_t busy; /* atomic: a run is queued or in progress */
} hc_sched_check_t;

/** The check thread's schedule; from the thread's pool, for as long as the thread runs. */
typedef struct hc_sched_t {
    hc_shared_t *shared;
    apr_uint32_t generation;    /* of the configuration that made this schedule */
    apr_array_header_t *checks; /* hc_sched_check_t, slot i = check i */
    hc_sched_clock_fn *now;     /* apr_time_now, or a test's */
    hc_sched_run_fn *run;       /* runs one check */
    hc_sched_submit_fn *submit; /* queues a due check */
    void *baton;                /* for run and submit */
    const char *drain_file;     /* HealthDrainFile, or NULL */
    int drain_file_seen;        /* whether it existed at the last look; -1 before the first */
} hc_sched_t;

/** What became of the drain file since the last look. */
typedef enum {
    HC_DRAIN_FILE_SAME = 0,
    HC_DRAIN_FILE_APPEARED, /* present now, absent (or not looked at) before */
    HC_DRAIN_FILE_REMOVED   /* absent now, present before */
} hc_drain_file_e;

/**
 * Claim the shared segment for a new configuration generation (post_config, before the check
 * thread starts): older runs stop publishing, and a slot keeps its record only if it still
 * belongs to the check of the same name.
 * @param checks the configured checks (hc_conf_check_t), or NULL
 * @param now when this generation starts (its stall clock starts there)
 */
void hc_sched_shared_begin(hc_shared_t *shared, const apr_array_header_t *checks, apr_time_t now);

/**
 * Make the schedule of @p checks for the current generation of @p shared, every check due at
 * once, each carrying its record over from the segment (a graceful restart keeps the states).
 * The caller sets now, run, submit and baton before the first tick.
 * @param checks the configured checks (hc_conf_check_t), or NULL; must outlive the schedule
 * @param drain_file HealthDrainFile, or NULL
 * @param pool_create makes each check's pool, a child of @p p
 * @param p the thread's pool: owns the schedule
 * @return APR_SUCCESS, or the error making a check's pool
 */
apr_status_t hc_sched_create(hc_sched_t **sched, const apr_array_header_t *checks,
                             hc_shared_t *shared, const char *drain_file,
                             hc_sched_pool_fn *pool_create, apr_pool_t *p);

/**
 * One tick of the check thread: beat the heartbeat (liveness) and hand each check that is due
 * and not running to sched->submit; it is next due one interval after this tick.
 */
void hc_sched_tick(hc_sched_t *sched);

/**
 * Run @p sc once (from the thread it was submitted to): the result, timed by sched->now, goes
 * into its state and, while its generation still owns the segment, into its slot.
 * @return the previous state when the state changed and was published, else -1
 */
int hc_sched_run(hc_sched_check_t *sc);

/** @p sc's run is over (after hc_sched_run() and what the caller logs of it): due again. */
void hc_sched_done(hc_sched_check_t *sc);

/**
 * Look at the drain file, so that its coming and going is told once for the whole server (the
 * answers themselves read it on every request).
 * @param ptemp for the file's status
 */
hc_drain_file_e hc_sched_drain_file(hc_sched_t *sched, apr_pool_t *ptemp);

#endif /* HC_SCHED_H */
