/* hc_check — the pure core of mod_health: a check's rise/fall state machine, the readiness
 * verdict over all checks, and the shared-memory record both live in.
 *
 * One writer per check (the task that ran it, in the single process that runs checks) and many
 * readers (every request thread of every child): records are copied in and out under a
 * sequence lock, so readers never block and never see a torn record.
 */
#ifndef HC_CHECK_H
#define HC_CHECK_H

#include <apr_time.h>

/** Upper bound on HealthCheck lines; the shared segment is sized for it once, at first start. */
#define HC_MAX_CHECKS 64
#define HC_NAME_LEN   64
#define HC_ERROR_LEN  200

typedef enum {
    HC_STATE_UNKNOWN = 0, /* no result yet */
    HC_STATE_UP,
    HC_STATE_DOWN
} hc_state_e;

typedef enum {
    HC_SEV_CRITICAL = 0, /* a DOWN check makes readiness fail */
    HC_SEV_DEGRADED      /* shown in the details only */
} hc_severity_e;

/** How a check's results turn into a state. */
typedef struct hc_params_t {
    int rise; /* consecutive successes that bring a DOWN check UP */
    int fall; /* consecutive failures that bring an UP check DOWN */
} hc_params_t;

/** A check's state as shared between processes: plain data, no pointers. */
typedef struct hc_status_t {
    apr_uint32_t seq;            /* sequence lock: odd while a write is in progress */
    char name[HC_NAME_LEN];      /* the check this slot belongs to */
    int state;                   /* hc_state_e */
    int ok_streak;               /* consecutive successes */
    int fail_streak;             /* consecutive failures */
    apr_time_t since;            /* when state last changed; 0 = never */
    apr_time_t checked_at;       /* when the last result came; 0 = never */
    apr_interval_time_t latency; /* microseconds the last run took */
    char error[HC_ERROR_LEN];    /* why the last run failed; "" after a success */
    apr_uint64_t runs;           /* results so far */
    apr_uint64_t failures;       /* failed results so far */
} hc_status_t;

/** The shared segment: created once per parent process, kept across graceful restarts. Plain
 * data: every child maps it, and the one process that runs the checks writes the slots. */
typedef struct hc_shared_t {
    apr_uint32_t generation;          /* bumped at every (re)start; old writers stop */
    apr_time_t started;               /* when this configuration generation started */
    apr_time_t heartbeat;             /* last tick of the check thread; 0 = never */
    apr_time_t drain_since;           /* draining via the API since; 0 = not */
    apr_uint32_t stall_logged;        /* LF04015 logged for this stall */
    hc_status_t slots[HC_MAX_CHECKS]; /* slot i belongs to check i */
} hc_shared_t;

/**
 * Whether the check thread has stalled: no tick for longer than @p stall_timeout since the
 * later of its last tick and the start of this generation.
 */
int hc_shared_stalled(const hc_shared_t *shared, apr_interval_time_t stall_timeout, apr_time_t now);

/** Why readiness is what it is. */
typedef enum {
    HC_READY = 0,
    HC_NOT_READY_DRAINING,
    HC_NOT_READY_STARTING,
    HC_NOT_READY_CHECK
} hc_verdict_e;

/**
 * Apply one result to a check's state: the first result sets the state directly, then `fall`
 * failures in a row take an UP check DOWN and `rise` successes in a row bring it back.
 * @param error why it failed (ignored on success); truncated to fit
 * @param latency microseconds the run took
 * @return the previous state when the state changed, -1 otherwise
 */
int hc_status_apply(hc_status_t *st, const hc_params_t *params, int ok, const char *error,
                    apr_interval_time_t latency, apr_time_t now);

/** Reset @p st to a fresh record for check @p name (no result yet). */
void hc_status_init(hc_status_t *st, const char *name);

/**
 * The readiness verdict: draining wins, then a critical check that is DOWN, then a critical
 * check with no result yet (starting). Degraded checks never matter.
 * @param checks the statuses, @p n of them
 * @param severities each check's hc_severity_e
 * @param failed out: index of the check that decided HC_NOT_READY_CHECK/STARTING, else -1
 */
hc_verdict_e hc_verdict(const hc_status_t *checks, const int *severities, int n, int draining,
                        int *failed);

/** Copy @p src into shared @p dst as the single writer of @p dst (sequence lock). */
void hc_status_publish(hc_status_t *dst, const hc_status_t *src);

/** Reader retries before hc_status_snapshot() gives up on a record that stays mid-write. */
#define HC_SNAPSHOT_TRIES 1000

/**
 * Copy shared @p src into @p dst without blocking the writer; retries a torn read.
 * @return 1 for a consistent copy, 0 if the record stayed mid-write (its writer died)
 */
int hc_status_snapshot(hc_status_t *dst, const hc_status_t *src);

/**
 * Read check @p name's record from shared @p src (hc_status_snapshot()); a slot that still
 * belongs to another check (in the middle of a restart) reads as a record without results.
 */
void hc_status_read(hc_status_t *dst, const hc_status_t *src, const char *name);

/** Name of a state for messages and JSON: "unknown", "up", "down". */
const char *hc_state_name(int state);

#endif /* HC_CHECK_H */
