/* hc_answer — the answers of mod_health's endpoints (see hc_answer.h). */
#include <apr_strings.h>
#include <strings.h>

#include "lf_secret.h"
#include "hc_conf.h"
#include "hc_details.h"
#include "hc_answer.h"

hc_endpoint_e hc_answer_endpoint(const char *path, const char *ready_path, const char *live_path,
                                 const char *drain_path)
{
    if (!strcmp(path, ready_path)) {
        return HC_EP_READY;
    }
    if (!strcmp(path, live_path)) {
        return HC_EP_LIVE;
    }
    return strcmp(path, drain_path) ? HC_EP_NONE : HC_EP_DRAIN;
}

int hc_answer_allowed(const apr_array_header_t *allow, apr_sockaddr_t *client)
{
    int i;

    for (i = 0; i < allow->nelts; ++i) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(allow, i, apr_ipsubnet_t *), client)) {
            return 1;
        }
    }
    return 0;
}

static void text(hc_reply_t *reply, int status, const char *body)
{
    reply->status = status;
    reply->type = "text/plain";
    reply->body = body;
}

static void json(hc_reply_t *reply, int status, const char *body)
{
    reply->status = status;
    reply->type = "application/json";
    reply->body = body;
}

static void answer_health(hc_reply_t *reply, const hc_request_t *req, const hc_server_t *srv,
                          apr_time_t now, apr_pool_t *p)
{
    int n = srv->checks ? srv->checks->nelts : 0;
    hc_status_t *snap = apr_pcalloc(p, sizeof(hc_status_t) * (n ? n : 1));
    hc_details_t d = {0, HC_READY, -1, 1, {0, NULL}, 0};

    d.live = !hc_shared_stalled(srv->shared, srv->stall_timeout, now);
    reply->stalled =
        !d.live && !__atomic_exchange_n(&srv->shared->stall_logged, 1, __ATOMIC_ACQ_REL);
    if (req->endpoint == HC_EP_READY || req->args) {
        hc_drain_read(&d.drain, srv->drain_file, srv->shared, p);
        d.verdict =
            hc_details_verdict(snap, &d.failed, srv->checks, srv->shared, d.drain.since != 0, p);
        if (d.verdict == HC_READY && !d.live) {
            d.verdict = HC_NOT_READY_STARTING;
        }
    }
    d.ready = req->endpoint == HC_EP_LIVE ? d.live : d.verdict == HC_READY;
    if (!req->args || strcmp(req->args, "details") || !hc_answer_allowed(req->allow, req->client)) {
        text(reply, d.ready ? 200 : 503, d.ready ? "OK\n" : "UNAVAILABLE\n");
        return;
    }
    d.in_flight = req->in_flight(req->baton);
    json(reply, d.ready ? 200 : 503, hc_details_json(&d, srv->checks, snap, p));
}

static void refuse(hc_reply_t *reply, int status, const char *why)
{
    reply->refused = why;
    if (status == 401) {
        reply->authenticate = "Bearer realm=\"lampfarm-health\"";
    }
    text(reply, status, status == 401 ? "Unauthorized\n" : "Forbidden\n");
}

static void answer_drain(hc_reply_t *reply, const hc_request_t *req, const hc_server_t *srv,
                         apr_time_t now, apr_pool_t *p)
{
    const char *auth = req->authorization;
    hc_drain_t d;
    apr_time_t zero = 0;

    if (req->method == HC_METHOD_OTHER) {
        reply->allow = "GET, HEAD, POST, DELETE";
        text(reply, 405, "Method Not Allowed\n");
        return;
    }
    if (!hc_answer_allowed(req->allow, req->client)) {
        if (req->method == HC_METHOD_GET) {
            text(reply, 403, "Forbidden\n");
            return;
        }
        refuse(reply, 403, "client not in " HEALTH_DETAILS_ALLOW);
        return;
    }
    if (req->method != HC_METHOD_GET) {
        if (req->discard_body(req->baton) != APR_SUCCESS) {
            text(reply, 400, "Bad Request\n");
            return;
        }
        if (!srv->drain_token) {
            refuse(reply, 403, "no " HEALTH_DRAIN_TOKEN " configured");
            return;
        }
        if (!auth || strncasecmp(auth, "Bearer ", 7)) {
            refuse(reply, 401, "no bearer token");
            return;
        }
        if (!lf_secret_equals(auth + 7, srv->drain_token)) {
            refuse(reply, 401, "wrong token");
            return;
        }
    }
    if (req->method == HC_METHOD_POST) {
        if (__atomic_compare_exchange_n(&srv->shared->drain_since, &zero, now, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            reply->change = HC_DRAIN_STARTED;
        }
    }
    else if (req->method == HC_METHOD_DELETE) {
        hc_drain_read(&d, srv->drain_file, srv->shared, p);
        if (d.source && !strcmp(d.source, "file")) {
            text(reply, 409,
                 apr_psprintf(p, "draining by file %s: remove the file\n", srv->drain_file));
            return;
        }
        if (__atomic_exchange_n(&srv->shared->drain_since, 0, __ATOMIC_ACQ_REL)) {
            reply->change = HC_DRAIN_STOPPED;
        }
    }
    hc_drain_read(&d, srv->drain_file, srv->shared, p);
    json(reply, 200, hc_drain_json(&d, p));
}

void hc_answer(hc_reply_t *reply, const hc_request_t *req, const hc_server_t *srv, apr_time_t now,
               apr_pool_t *p)
{
    memset(reply, 0, sizeof(*reply));
    if (req->endpoint == HC_EP_DRAIN) {
        answer_drain(reply, req, srv, now, p);
    }
    else if (req->method != HC_METHOD_GET) {
        reply->allow = "GET, HEAD";
        text(reply, 405, "Method Not Allowed\n");
    }
    else {
        answer_health(reply, req, srv, now, p);
    }
}
