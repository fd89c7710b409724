/* mod_cloudwatch_status.c — what mod_cloudwatch shows of itself: the publisher's figures in
 * server-status (mod_status) and, with SetHandler cloudwatch-status, as JSON with each group's
 * last interval. Everything is read from the shared memory (cw_shm), which the publisher writes.
 */
#include <httpd.h>

#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "lf_json.h"
#include "mod_cloudwatch_record.h"
#include "mod_cloudwatch_status.h"

APLOG_USE_MODULE(cloudwatch);

static const char *time_str(apr_int64_t t, apr_pool_t *p)
{
    char *buf;

    if (!t) {
        return "never";
    }
    buf = apr_palloc(p, APR_RFC822_DATE_LEN);
    apr_rfc822_date(buf, (apr_time_t)t);
    return buf;
}

static const struct {
    const char *name;
    apr_size_t offset;
} pub_counters[] = {
    {"Intervals", APR_OFFSETOF(cw_pub_status_t, intervals)},
    {"RequestsSent", APR_OFFSETOF(cw_pub_status_t, requests_ok)},
    {"RequestsFailed", APR_OFFSETOF(cw_pub_status_t, requests_failed)},
    {"DatumsSent", APR_OFFSETOF(cw_pub_status_t, datums)},
    {"Rejected", APR_OFFSETOF(cw_pub_status_t, rejected)},
    {"DroppedIntervals", APR_OFFSETOF(cw_pub_status_t, dropped)},
    {"Backlog", APR_OFFSETOF(cw_pub_status_t, backlog)},
    {"BytesSent", APR_OFFSETOF(cw_pub_status_t, bytes_sent)},
};

#define PUB_COUNTER(st, i) (*(const apr_uint64_t *)((const char *)(st) + pub_counters[i].offset))

int cw_status_hook(request_rec *r, int flags)
{
    const cw_shm_t *shm = cw_record_shm();
    cw_pub_status_t st;
    int i;

    if (!shm) {
        return OK;
    }
    cw_shm_pub_copy(&st, shm);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "CloudWatchLastSuccess: %" APR_INT64_T_FMT "\n",
                   st.last_success / APR_USEC_PER_SEC);
        ap_rprintf(r, "CloudWatchLastStatus: %d\n", (int)st.last_status);
        for (i = 0; i < (int)(sizeof(pub_counters) / sizeof(pub_counters[0])); ++i) {
            ap_rprintf(r, "CloudWatch%s: %" APR_UINT64_T_FMT "\n", pub_counters[i].name,
                       PUB_COUNTER(&st, i));
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_cloudwatch</h2>\n<table>\n", r);
    ap_rprintf(r, "<tr><td>last sent</td><td>%s</td></tr>\n", time_str(st.last_attempt, r->pool));
    ap_rprintf(r, "<tr><td>last accepted</td><td>%s</td></tr>\n",
               time_str(st.last_success, r->pool));
    ap_rprintf(r, "<tr><td>last result</td><td>%s</td></tr>\n",
               ap_escape_html(r->pool, st.last_error[0]  ? st.last_error
                                       : st.last_attempt ? "accepted"
                                                         : "nothing sent yet"));
    for (i = 0; i < (int)(sizeof(pub_counters) / sizeof(pub_counters[0])); ++i) {
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n", pub_counters[i].name,
                   PUB_COUNTER(&st, i));
    }
    ap_rputs("</table>\n", r);
    return OK;
}

int cw_status_handler(request_rec *r)
{
    const cw_shm_t *shm = cw_record_shm();
    cw_pub_status_t st;
    apr_uint32_t i;
    int k, first = 1;

    if (strcmp(r->handler, "cloudwatch-status")) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!shm) {
        return HTTP_NOT_FOUND;
    }
    cw_shm_pub_copy(&st, shm);
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    ap_rprintf(r,
               "{\"last_attempt\": %" APR_INT64_T_FMT ", \"last_success\": %" APR_INT64_T_FMT
               ", \"last_interval\": %" APR_INT64_T_FMT ", \"last_status\": %d, "
               "\"last_error\": %s",
               st.last_attempt / APR_USEC_PER_SEC, st.last_success / APR_USEC_PER_SEC,
               st.last_interval / APR_USEC_PER_SEC, (int)st.last_status,
               lf_json_str(st.last_error, r->pool));
    for (k = 0; k < (int)(sizeof(pub_counters) / sizeof(pub_counters[0])); ++k) {
        ap_rprintf(r, ", \"%s\": %" APR_UINT64_T_FMT, pub_counters[k].name, PUB_COUNTER(&st, k));
    }
    ap_rputs(", \"groups\": [", r);
    for (i = 0; i <= shm->nslots; ++i) {
        const cw_slot_t *s = &shm->slots[i];

        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != CW_SLOT_USED
            || !__atomic_load_n(&s->last_count, __ATOMIC_RELAXED)) {
            continue;
        }
        ap_rprintf(r,
                   "%s{\"virtual_host\": %s, \"group\": %s, \"requests\": %" APR_UINT64_T_FMT
                   ", \"p50_us\": %" APR_UINT64_T_FMT ", \"p90_us\": %" APR_UINT64_T_FMT
                   ", \"p99_us\": %" APR_UINT64_T_FMT ", \"max_us\": %" APR_UINT64_T_FMT
                   ", \"5xx\": %" APR_UINT64_T_FMT "}",
                   first ? "" : ", ", lf_json_str(s->vhost, r->pool),
                   lf_json_str(s->group, r->pool),
                   __atomic_load_n(&s->last_count, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_p50, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_p90, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_p99, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_max, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_5xx, __ATOMIC_RELAXED));
        first = 0;
    }
    ap_rputs("]}\n", r);
    return OK;
}
