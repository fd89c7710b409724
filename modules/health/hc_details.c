/* hc_details — drain state, verdict and the JSON answers of mod_health (see hc_details.h). */
#include <apr_file_info.h>
#include <apr_strings.h>

#include "lf_json.h"
#include "hc_details.h"

void hc_drain_read(hc_drain_t *drain, const char *drain_file, const hc_shared_t *shared,
                   apr_pool_t *p)
{
    apr_finfo_t finfo;

    drain->since = 0;
    drain->source = NULL;
    if (drain_file && apr_stat(&finfo, drain_file, APR_FINFO_MTIME, p) == APR_SUCCESS) {
        drain->since = finfo.mtime;
        drain->source = "file";
    }
    else if ((drain->since = __atomic_load_n(&shared->drain_since, __ATOMIC_ACQUIRE))) {
        drain->source = "api";
    }
}

const char *hc_drain_json(const hc_drain_t *drain, apr_pool_t *p)
{
    return apr_psprintf(p, "{\"draining\":%s,\"since\":%s,\"source\":%s}\n",
                        drain->since ? "true" : "false", lf_json_time(drain->since, p),
                        lf_json_str(drain->source, p));
}

hc_verdict_e hc_details_verdict(hc_status_t *snap, int *failed, const apr_array_header_t *checks,
                                const hc_shared_t *shared, int draining, apr_pool_t *p)
{
    int n = checks ? checks->nelts : 0, i;
    int *sev = apr_pcalloc(p, sizeof(int) * (n ? n : 1));

    for (i = 0; i < n; ++i) {
        const hc_conf_check_t *hc = &APR_ARRAY_IDX(checks, i, hc_conf_check_t);
        hc_status_read(&snap[i], &shared->slots[i], hc->name);
        sev[i] = hc->severity;
    }
    return hc_verdict(snap, sev, n, draining, failed);
}

static const char *reason(const hc_details_t *d, const apr_array_header_t *checks, apr_pool_t *p)
{
    switch (d->verdict) {
    case HC_READY:
        return "ok";
    case HC_NOT_READY_DRAINING:
        return "draining";
    case HC_NOT_READY_STARTING:
        return d->live ? "starting" : "check thread stalled";
    default:
        return apr_pstrcat(
            p, "check failed: ", APR_ARRAY_IDX(checks, d->failed, hc_conf_check_t).name, NULL);
    }
}

const char *hc_details_json(const hc_details_t *d, const apr_array_header_t *checks,
                            const hc_status_t *snap, apr_pool_t *p)
{
    int n = checks ? checks->nelts : 0, i;
    apr_array_header_t *parts = apr_array_make(p, n + 2, sizeof(const char *));

    APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
        p,
        "{\"status\":\"%s\",\"reason\":%s,\"live\":%s,\"draining\":%s,\"draining_since\":%s,"
        "\"drain_source\":%s,\"in_flight\":%d,\"checks\":[",
        d->ready ? "ready" : "unavailable", lf_json_str(reason(d, checks, p), p),
        d->live ? "true" : "false", d->drain.since ? "true" : "false",
        lf_json_time(d->drain.since, p), lf_json_str(d->drain.source, p), d->in_flight);
    for (i = 0; i < n; ++i) {
        const hc_conf_check_t *hc = &APR_ARRAY_IDX(checks, i, hc_conf_check_t);
        const hc_status_t *st = &snap[i];
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
            p,
            "%s{\"name\":%s,\"type\":%s,\"target\":%s,\"severity\":\"%s\",\"state\":\"%s\","
            "\"since\":%s,\"latency_ms\":%s,\"error\":%s,\"checked_at\":%s,\"runs\":"
            "%" APR_UINT64_T_FMT ",\"failures\":%" APR_UINT64_T_FMT "}",
            i ? "," : "", lf_json_str(hc->name, p), lf_json_str(hc->type, p),
            lf_json_str(hc->target, p), hc->severity == HC_SEV_CRITICAL ? "critical" : "degraded",
            hc_state_name(st->state), lf_json_time(st->since, p),
            st->checked_at ? apr_psprintf(p, "%.3f", st->latency / 1000.0) : "null",
            lf_json_str(st->checked_at && st->error[0] ? st->error : NULL, p),
            lf_json_time(st->checked_at, p), st->runs, st->failures);
    }
    APR_ARRAY_PUSH(parts, const char *) = "]}\n";
    return apr_array_pstrcat(p, parts, 0);
}
