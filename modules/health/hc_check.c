/* hc_check — check state machine, readiness verdict and shared records (see hc_check.h). */
#include <apr_strings.h>

#include "hc_check.h"

void hc_status_init(hc_status_t *st, const char *name)
{
    memset(st, 0, sizeof(*st));
    apr_cpystrn(st->name, name, sizeof(st->name));
}

int hc_status_apply(hc_status_t *st, const hc_params_t *params, int ok, const char *error,
                    apr_interval_time_t latency, apr_time_t now)
{
    int old = st->state, next = old;

    st->checked_at = now;
    st->latency = latency;
    st->runs++;
    if (ok) {
        st->ok_streak++;
        st->fail_streak = 0;
        st->error[0] = '\0';
        if (old == HC_STATE_UNKNOWN || (old == HC_STATE_DOWN && st->ok_streak >= params->rise)) {
            next = HC_STATE_UP;
        }
    }
    else {
        st->fail_streak++;
        st->ok_streak = 0;
        st->failures++;
        apr_cpystrn(st->error, error && *error ? error : "failed", sizeof(st->error));
        if (old == HC_STATE_UNKNOWN || (old == HC_STATE_UP && st->fail_streak >= params->fall)) {
            next = HC_STATE_DOWN;
        }
    }
    if (next == old) {
        return -1;
    }
    st->state = next;
    st->since = now;
    return old;
}

hc_verdict_e hc_verdict(const hc_status_t *checks, const int *severities, int n, int draining,
                        int *failed)
{
    int i, starting = -1;

    *failed = -1;
    if (draining) {
        return HC_NOT_READY_DRAINING;
    }
    for (i = 0; i < n; ++i) {
        if (severities[i] != HC_SEV_CRITICAL) {
            continue;
        }
        if (checks[i].state == HC_STATE_DOWN) {
            *failed = i;
            return HC_NOT_READY_CHECK;
        }
        if (checks[i].state == HC_STATE_UNKNOWN && starting < 0) {
            starting = i;
        }
    }
    if (starting >= 0) {
        *failed = starting;
        return HC_NOT_READY_STARTING;
    }
    return HC_READY;
}

void hc_status_publish(hc_status_t *dst, const hc_status_t *src)
{
    apr_uint32_t seq = __atomic_load_n(&dst->seq, __ATOMIC_RELAXED);

    /* An odd count here means a writer died mid-copy (its process was killed): start over even. */
    seq += seq & 1;
    __atomic_store_n(&dst->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy((char *)dst + sizeof(dst->seq), (const char *)src + sizeof(src->seq),
           sizeof(*dst) - sizeof(dst->seq));
    __atomic_store_n(&dst->seq, seq + 2, __ATOMIC_RELEASE);
}

int hc_status_snapshot(hc_status_t *dst, const hc_status_t *src)
{
    apr_uint32_t before, after;
    int tries, consistent = 0;

    /* A write is a memcpy of a few hundred bytes, so a retry almost always succeeds at once. The
     * bound keeps a request thread from spinning on the record of a writer that was killed. */
    for (tries = 0; tries < HC_SNAPSHOT_TRIES && !consistent; ++tries) {
        before = __atomic_load_n(&src->seq, __ATOMIC_ACQUIRE);
        memcpy(dst, src, sizeof(*dst));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        after = __atomic_load_n(&src->seq, __ATOMIC_RELAXED);
        consistent = !(before & 1) && before == after;
    }
    dst->name[sizeof(dst->name) - 1] = '\0';
    dst->error[sizeof(dst->error) - 1] = '\0';
    return consistent;
}

void hc_status_read(hc_status_t *dst, const hc_status_t *src, const char *name)
{
    hc_status_snapshot(dst, src);
    if (strcmp(dst->name, name)) {
        hc_status_init(dst, name);
    }
}

const char *hc_state_name(int state)
{
    switch (state) {
    case HC_STATE_UP:
        return "up";
    case HC_STATE_DOWN:
        return "down";
    default:
        return "unknown";
    }
}

int hc_shared_stalled(const hc_shared_t *shared, apr_interval_time_t stall_timeout, apr_time_t now)
{
    apr_time_t beat = __atomic_load_n(&shared->heartbeat, __ATOMIC_ACQUIRE);
    apr_time_t since = beat > shared->started ? beat : shared->started;

    return now - since > stall_timeout;
}
