/* mod_health_handler — the quick handler of mod_health (see mod_health_handler.h): the request
 * read into what the core (hc_answer) decides on, the answer written out, and the log lines of
 * what happened. Only the requests in flight, from the scoreboard, are counted here.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <scoreboard.h>

#include "lf_log.h"
#include "lf_parse.h"
#include "hc_answer.h"
#include "mod_health_config.h"
#include "mod_health_handler.h"

APLOG_USE_MODULE(health);

/* What the answers come from, set in post_config before the children fork; read only
 * afterwards. */
static hc_server_t server;

void health_handler_attach(hc_shared_t *shared, server_rec *s)
{
    const health_srv_conf *main = health_conf(s);

    server.shared = shared;
    server.checks = main->checks;
    server.drain_file = main->drain_file;
    server.drain_token = main->drain_token;
    server.stall_timeout = health_conf_stall_timeout(main);
}

/* Requests being processed now on this server, this one excluded (from the scoreboard). */
static int in_flight(void *baton)
{
    int i, j, n = 0;

    (void)baton;
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

static apr_status_t discard_body(void *baton)
{
    return ap_discard_request_body(baton) == OK ? APR_SUCCESS : APR_EGENERAL;
}

static hc_method_e method(const request_rec *r)
{
    switch (r->method_number) {
    case M_GET:
        return HC_METHOD_GET;
    case M_POST:
        return HC_METHOD_POST;
    case M_DELETE:
        return HC_METHOD_DELETE;
    default:
        return HC_METHOD_OTHER;
    }
}

static void log_reply(request_rec *r, const hc_reply_t *a)
{
    if (a->stalled) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(04015) "liveness failing: the check "
                                     "thread has not run for more than %s",
                      lf_format_duration(server.stall_timeout, r->pool));
    }
    if (a->refused) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      LFLOGNO(04014) "drain request (%s) from %s "
                                     "refused: %s",
                      r->method, r->useragent_ip, a->refused);
    }
    if (a->change == HC_DRAIN_STARTED) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      LFLOGNO(04012) "draining started "
                                     "(requested by %s): readiness answers 503",
                      r->useragent_ip);
    }
    else if (a->change == HC_DRAIN_STOPPED) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      LFLOGNO(04013) "draining stopped "
                                     "(requested by %s)",
                      r->useragent_ip);
    }
}

static int respond(request_rec *r, const hc_reply_t *a)
{
    r->status = a->status;
    if (a->allow) {
        apr_table_setn(r->headers_out, "Allow", a->allow);
    }
    if (a->authenticate) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", a->authenticate);
    }
    ap_set_content_type(r, a->type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, strlen(a->body));
    if (!r->header_only) {
        ap_rputs(a->body, r);
    }
    return OK;
}

int health_handler(request_rec *r, int lookup)
{
    const health_srv_conf *c = health_conf(r->server);
    hc_request_t q = {0};
    hc_reply_t a;

    if (lookup || r->main || !r->parsed_uri.path || !server.shared) {
        return DECLINED;
    }
    q.endpoint = hc_answer_endpoint(r->parsed_uri.path, health_conf_ready_path(c),
                                    health_conf_live_path(c), health_conf_drain_path(c));
    if (q.endpoint == HC_EP_NONE) {
        return DECLINED;
    }
    apr_table_setn(r->subprocess_env, health_conf_env(c), "1");
    q.method = method(r);
    q.args = r->args;
    q.authorization = apr_table_get(r->headers_in, "Authorization");
    q.client = r->useragent_addr;
    q.allow = health_conf_allow(c);
    q.discard_body = discard_body;
    q.in_flight = in_flight;
    q.baton = r;
    hc_answer(&a, &q, &server, apr_time_now(), r->pool);
    log_reply(r, &a);
    return respond(r, &a);
}
