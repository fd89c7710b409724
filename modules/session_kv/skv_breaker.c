/* skv_breaker — the down / retry / up state of one backend server (see skv_breaker.h).
 *
 * retry_at is the state: 0 up, otherwise down until that time. Every change of it is a single
 * atomic operation, so two callers never both see themselves make the same change: one marks
 * the server down, one claims a probe, one marks it up.
 */
#include "skv_breaker.h"

/* A retry interval of at least a microsecond: retry_at must never become 0 (up) by itself. */
static apr_interval_time_t at_least_1(apr_interval_time_t t)
{
    return t > 0 ? t : 1;
}

skv_breaker_admit_e skv_breaker_admit(skv_breaker_t *b, apr_time_t now, apr_interval_time_t retry)
{
    apr_time_t at = __atomic_load_n(&b->retry_at, __ATOMIC_ACQUIRE);

    for (;;) {
        if (!at) {
            return SKV_BREAKER_PASS;
        }
        if (now < at) {
            __atomic_fetch_add(&b->refused, 1, __ATOMIC_RELAXED);
            return SKV_BREAKER_REFUSE;
        }
        /* due: the caller that moves retry_at an interval ahead is the one prober; a failed
         * exchange reloads @at (claimed by another, or up again) and looks again */
        if (__atomic_compare_exchange_n(&b->retry_at, &at, now + at_least_1(retry), 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return SKV_BREAKER_PROBE;
        }
    }
}

skv_breaker_change_e skv_breaker_report(skv_breaker_t *b, skv_breaker_admit_e admitted,
                                        skv_breaker_outcome_e outcome, apr_time_t now,
                                        apr_interval_time_t retry, apr_interval_time_t *down_for,
                                        apr_uint64_t *refused)
{
    apr_time_t at = 0;
    apr_uint64_t n;

    switch (outcome) {
    case SKV_BREAKER_ANSWERED:
        /* only the probe's answer counts: one that comes late to a request sent before the
         * server was marked down proves little (a server that answers reads but times out on
         * writes would go up and down with every request) */
        if (admitted != SKV_BREAKER_PROBE
            || !__atomic_exchange_n(&b->retry_at, 0, __ATOMIC_ACQ_REL)) {
            return SKV_BREAKER_SAME;
        }
        if (down_for) {
            *down_for = now - __atomic_load_n(&b->down_since, __ATOMIC_RELAXED);
        }
        n = __atomic_exchange_n(&b->refused, 0, __ATOMIC_RELAXED);
        if (refused) {
            *refused = n;
        }
        return SKV_BREAKER_UP;
    case SKV_BREAKER_NO_ANSWER:
        if (__atomic_compare_exchange_n(&b->retry_at, &at, now + at_least_1(retry), 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&b->down_since, now, __ATOMIC_RELAXED);
            return SKV_BREAKER_DOWN;
        }
        if (admitted == SKV_BREAKER_PROBE) {
            /* the next probe one interval after this failure, not after the claim */
            __atomic_store_n(&b->retry_at, now + at_least_1(retry), __ATOMIC_RELEASE);
            return SKV_BREAKER_STILL_DOWN;
        }
        /* down already: a request that was under way when another one marked it down; its
         * timeout must not postpone the next probe */
        return SKV_BREAKER_SAME;
    case SKV_BREAKER_UNKNOWN:
        break;
    }
    return SKV_BREAKER_SAME;
}

int skv_breaker_is_down(const skv_breaker_t *b)
{
    return __atomic_load_n(&b->retry_at, __ATOMIC_ACQUIRE) != 0;
}
