/* skv_breaker — whether a backend server is worth asking now: a server that did not answer in
 * time is marked down, requests for it fail at once (the failure policy applies without a wait)
 * until the retry interval has passed, then one request at a time tries it again (a probe),
 * and the first answer marks it up.
 *
 * Why: a server that hangs (stopped, overloaded, a network path that drops packets) keeps its
 * connections open and refuses nothing, so without this every request would wait the whole
 * I/O timeout, each holding a worker thread, and a hung cache would take the site down with it.
 * With it, a hung server costs one timeout per retry interval, wherever the state is shared.
 *
 * Only "no answer in time" marks a server down: a refused connection fails fast anyway and
 * often means a restart that is over in a moment, and an error reply proves that the server is
 * there. Any answer to a probe (a value, "not found", an error reply) marks it up; answers that
 * come late to requests sent before it was marked down do not, so a server that answers some
 * requests and not others is marked down at most once per interval, not once per request.
 *
 * The state of one server is three integers changed with atomics only, without a lock or a
 * pointer, so it works the same shared by the threads of one process or placed in shared
 * memory for all children. A probe is claimed by moving retry_at one interval ahead with a
 * compare-and-swap: exactly one caller wins it, and a prober that dies (a child that exits)
 * leaves nothing to clean up, the next probe simply comes an interval later.
 * Pure core: APR only. The clock is the caller's (an argument), so tests inject it.
 */
#ifndef SKV_BREAKER_H
#define SKV_BREAKER_H

#include <apr_time.h>

/** The state of one backend server; all zero = up. Keep it free of pointers (see above). */
typedef struct skv_breaker_t {
    apr_time_t retry_at;   /* 0 = up; else down, and a probe may start at this time (usec) */
    apr_time_t down_since; /* when it was last marked down (usec; for the log) */
    apr_uint64_t refused;  /* operations failed at once since it was marked down */
} skv_breaker_t;

/** What a caller may do. */
typedef enum {
    SKV_BREAKER_PASS,  /* the server is up: go ahead */
    SKV_BREAKER_PROBE, /* it is down and due: this caller, and no other, tries it */
    SKV_BREAKER_REFUSE /* it is down: fail at once, without touching the network */
} skv_breaker_admit_e;

/** How an operation that was let through went. */
typedef enum {
    SKV_BREAKER_ANSWERED,  /* the server answered (whatever it said) */
    SKV_BREAKER_NO_ANSWER, /* nothing within the connect or I/O timeout */
    SKV_BREAKER_UNKNOWN    /* says nothing about the server (refused, out of memory) */
} skv_breaker_outcome_e;

/** What a report changed: the caller logs the changes. */
typedef enum {
    SKV_BREAKER_SAME,       /* nothing */
    SKV_BREAKER_DOWN,       /* it was up and is marked down now */
    SKV_BREAKER_STILL_DOWN, /* a probe got no answer: down for another interval */
    SKV_BREAKER_UP          /* it was down and answered: up again */
} skv_breaker_change_e;

/**
 * Whether an operation may go to the server of @p b at @p now. A refusal is counted in
 * b->refused. While down, exactly one caller per interval gets SKV_BREAKER_PROBE.
 * @param retry the retry interval, microseconds
 */
skv_breaker_admit_e skv_breaker_admit(skv_breaker_t *b, apr_time_t now, apr_interval_time_t retry);

/**
 * Record how an operation that skv_breaker_admit() let through went.
 * @param admitted what skv_breaker_admit() answered for it
 * @param down_for out on SKV_BREAKER_UP: how long the server was down (usec); may be NULL
 * @param refused out on SKV_BREAKER_UP: how many operations failed at once meanwhile; may be
 *        NULL
 * @return the change, to be logged by the caller (each change is seen by one caller only)
 */
skv_breaker_change_e skv_breaker_report(skv_breaker_t *b, skv_breaker_admit_e admitted,
                                        skv_breaker_outcome_e outcome, apr_time_t now,
                                        apr_interval_time_t retry, apr_interval_time_t *down_for,
                                        apr_uint64_t *refused);

/** Whether the server of @p b is marked down now. */
int skv_breaker_is_down(const skv_breaker_t *b);

#endif /* SKV_BREAKER_H */
