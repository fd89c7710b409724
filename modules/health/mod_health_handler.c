/* mod_health_handler — the quick handler of mod_health (see mod_health_handler.h): which
 * endpoint a request is for, who may see details or control draining, and the answers, whose
 * content the core builds (hc_details).
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <scoreboard.h>

#include "lf_log.h"
#include "lf_parse.h"
#include "lf_secret.h"
#include "hc_details.h"
#include "mod_health_config.h"
#include "mod_health_handler.h"

APLOG_USE_MODULE(health);

/* The segment, set in post_config before the children fork; read only afterwards. */
static hc_shared_t *shared;

typedef enum { EP_READY, EP_LIVE, EP_DRAIN } endpoint_e;

void health_handler_attach(hc_shared_t *segment)
{
    shared = segment;
}

static int allowed(request_rec *r, const health_srv_conf *c)
{
    const apr_array_header_t *list = health_conf_allow(c);
    int i;

    for (i = 0; i < list->nelts; ++i) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(list, i, apr_ipsubnet_t *), r->useragent_addr)) {
            return 1;
        }
    }
    return 0;
}

/* Requests being processed now on this server, this one excluded (from the scoreboard). */
static int in_flight(void)
{
    int i, j, n = 0;

    if (!ap_scoreboard_image) {
        return 0;
    }
    for (i = 0; i < ap_scoreboard_image->global->server_limit; ++i) {
        for (j = 0; j < ap_scoreboard_image->global->thread_limit; ++j) {
            int st = ap_scoreboard_image->servers[i][j].status;
            n += st == SERVER_BUSY_WRITE || st == SERVER_BUSY_LOG || st == SERVER_BUSY_DNS;
        }
    }
    return n > 0 ? n - 1 : 0;
}

static int respond(request_rec *r, int status, const char *type, const char *body)
{
    r->status = status;
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, strlen(body));
    if (!r->header_only) {
        ap_rputs(body, r);
    }
    return OK;
}

static int serve_health(request_rec *r, const health_srv_conf *c, const health_srv_conf *main,
                        endpoint_e ep)
{
    int n = main->checks ? main->checks->nelts : 0;
    hc_status_t *snap = apr_pcalloc(r->pool, sizeof(hc_status_t) * (n ? n : 1));
    apr_interval_time_t stall_timeout = health_conf_stall_timeout(main);
    hc_details_t d = {0, HC_READY, -1, 1, {0, NULL}, 0};

    d.live = !hc_shared_stalled(shared, stall_timeout, apr_time_now());
    if (!d.live && !__atomic_exchange_n(&shared->stall_logged, 1, __ATOMIC_ACQ_REL)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(04015) "liveness failing: the check "
                                     "thread has not run for more than %s",
                      lf_format_duration(stall_timeout, r->pool));
    }
    if (ep == EP_READY || r->args) {
        hc_drain_read(&d.drain, main->drain_file, shared, r->pool);
        d.verdict =
            hc_details_verdict(snap, &d.failed, main->checks, shared, d.drain.since != 0, r->pool);
        if (d.verdict == HC_READY && !d.live) {
            d.verdict = HC_NOT_READY_STARTING;
        }
    }
    d.ready = ep == EP_LIVE ? d.live : d.verdict == HC_READY;
    if (!r->args || strcmp(r->args, "details") || !allowed(r, c)) {
        return respond(r, d.ready ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, "text/plain",
                       d.ready ? "OK\n" : "UNAVAILABLE\n");
    }
    d.in_flight = in_flight();
    return respond(r, d.ready ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, "application/json",
                   hc_details_json(&d, main->checks, snap, r->pool));
}

static int refuse(request_rec *r, int status, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  LFLOGNO(04014) "drain request (%s) from %s "
                                 "refused: %s",
                  r->method, r->useragent_ip, why);
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer realm=\"lampfarm-health\"");
    }
    return respond(r, status, "text/plain",
                   status == HTTP_UNAUTHORIZED ? "Unauthorized\n" : "Forbidden\n");
}

static int serve_drain(request_rec *r, const health_srv_conf *c, const health_srv_conf *main)
{
    const char *auth;
    hc_drain_t d;
    apr_time_t zero = 0, since;

    if (r->method_number != M_GET && r->method_number != M_POST && r->method_number != M_DELETE) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST, DELETE");
        return respond(r, HTTP_METHOD_NOT_ALLOWED, "text/plain", "Method Not Allowed\n");
    }
    if (!allowed(r, c)) {
        if (r->method_number == M_GET) {
            return respond(r, HTTP_FORBIDDEN, "text/plain", "Forbidden\n");
        }
        return refuse(r, HTTP_FORBIDDEN, "client not in " HEALTH_DETAILS_ALLOW);
    }
    if (r->method_number == M_GET) {
        hc_drain_read(&d, main->drain_file, shared, r->pool);
        return respond(r, HTTP_OK, "application/json", hc_drain_json(&d, r->pool));
    }
    if (ap_discard_request_body(r) != OK) {
        return respond(r, HTTP_BAD_REQUEST, "text/plain", "Bad Request\n");
    }
    if (!main->drain_token) {
        return refuse(r, HTTP_FORBIDDEN, "no " HEALTH_DRAIN_TOKEN " configured");
    }
    auth = apr_table_get(r->headers_in, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) {
        return refuse(r, HTTP_UNAUTHORIZED, "no bearer token");
    }
    if (!lf_secret_equals(auth + 7, main->drain_token)) {
        return refuse(r, HTTP_UNAUTHORIZED, "wrong token");
    }
    if (r->method_number == M_POST) {
        since = apr_time_now();
        if (__atomic_compare_exchange_n(&shared->drain_since, &zero, since, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          LFLOGNO(04012) "draining started "
                                         "(requested by %s): readiness answers 503",
                          r->useragent_ip);
        }
    }
    else {
        hc_drain_read(&d, main->drain_file, shared, r->pool);
        if (d.source && !strcmp(d.source, "file")) {
            return respond(
                r, HTTP_CONFLICT, "text/plain",
                apr_psprintf(r->pool, "draining by file %s: remove the file\n", main->drain_file));
        }
        if (__atomic_exchange_n(&shared->drain_since, 0, __ATOMIC_ACQ_REL)) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          LFLOGNO(04013) "draining stopped "
                                         "(requested by %s)",
                          r->useragent_ip);
        }
    }
    hc_drain_read(&d, main->drain_file, shared, r->pool);
    return respond(r, HTTP_OK, "application/json", hc_drain_json(&d, r->pool));
}

int health_handler(request_rec *r, int lookup)
{
    const health_srv_conf *c = health_conf(r->server), *main = health_conf(ap_server_conf);
    const char *path = r->parsed_uri.path;
    endpoint_e ep;

    if (lookup || r->main || !path || !shared) {
        return DECLINED;
    }
    if (!strcmp(path, health_conf_ready_path(c))) {
        ep = EP_READY;
    }
    else if (!strcmp(path, health_conf_live_path(c))) {
        ep = EP_LIVE;
    }
    else if (!strcmp(path, health_conf_drain_path(c))) {
        ep = EP_DRAIN;
    }
    else {
        return DECLINED;
    }
    apr_table_setn(r->subprocess_env, health_conf_env(c), "1");
    if (ep == EP_DRAIN) {
        return serve_drain(r, c, main);
    }
    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return respond(r, HTTP_METHOD_NOT_ALLOWED, "text/plain", "Method Not Allowed\n");
    }
    return serve_health(r, c, main, ep);
}
