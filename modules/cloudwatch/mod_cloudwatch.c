/* mod_cloudwatch — request latency, status and bytes to Amazon CloudWatch, off the request path.
 *
 * Every request is measured in log_transaction and counted into shared memory with atomic
 * updates (mod_cloudwatch_record.c, cw_shm: a histogram per group, no lock, no system call); one
 * background thread per httpd (a singleton thread of the lifecycle kit,
 * mod_cloudwatch_publish.c, running cw_pub) empties that memory every interval and sends it with
 * PutMetricData. A request never waits for CloudWatch. The status views are in
 * mod_cloudwatch_status.c, the directives in mod_cloudwatch_config.c (their parsing in cw_conf).
 *
 * This file: the module, its hooks, and the startup that ties the parts together.
 */
#include <httpd.h>

#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "cw_datum.h"
#include "lf_parse.h"
#include "mod_cloudwatch_config.h"
#include "mod_cloudwatch_publish.h"
#include "mod_cloudwatch_record.h"
#include "mod_cloudwatch_status.h"

APLOG_USE_MODULE(cloudwatch);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

/* Log what the configuration will cost: custom metrics and PutMetricData requests a month. */
static void log_cost(server_rec *s, const cw_srv_conf *c, apr_pool_t *p)
{
    const apr_array_header_t *sets = cw_conf_dim_sets(c, p);
    apr_int64_t metrics, requests;
    int vhosts = 0;
    server_rec *v;

    for (v = s; v; v = v->next) {
        ++vhosts;
    }
    cw_datum_estimate(&metrics, &requests, sets, vhosts, c->max_groups, c->ttfb, c->interval);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 LFLOGNO(03003) "namespace %s: up to %" APR_INT64_T_FMT " custom metrics (%d "
                                "dimension set(s), up to %d groups) and about %" APR_INT64_T_FMT
                                " PutMetricData requests a month (one or more every %s)",
                 c->ns, metrics, sets->nelts, c->max_groups, requests,
                 lf_format_duration(c->interval, p));
}

/* httpd -t runs up to here: every check that can fail on the configuration is made here. */
static int cw_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    mod_lf_log_install(s);
    return cw_config_used() ? cw_config_check(s, ptemp) : OK;
}

static int cw_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const cw_srv_conf *c;

    (void)plog;
    cw_record_reset();
    if (!cw_config_used() || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* not used, or the first, dry run of post_config */
    }
    c = cw_config_server(s, pconf);
    if (cw_record_setup(s, c) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    log_cost(s, c, ptemp);
    if (cw_publish_create(s, c, cw_record_shm(), pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int cw_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    cw_config_reset();
    /* aws_creds and aws_http use libcurl */
    return mod_lf_libs_init() == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static void cw_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    cw_publish_child_init(pchild);
}

static void cw_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(cw_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(cw_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(cw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* last, as every background thread of the kit (mod_lf_life.h) */
    ap_hook_child_init(cw_child_init, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_insert_filter(cw_record_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(cw_record_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(cw_record_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(cw_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter("CLOUDWATCH_TTFB", cw_record_ttfb_filter, NULL, AP_FTYPE_CONNECTION);
    /* after HTTP_IN (AP_FTYPE_PROTOCOL): the body without its chunk framing */
    ap_register_input_filter("CLOUDWATCH_IN", cw_record_bytes_in_filter, NULL,
                             AP_FTYPE_CONTENT_SET);
    APR_OPTIONAL_HOOK(ap, status_hook, cw_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}

/* No server merge: the publishing settings are the main server's only. */
module AP_MODULE_DECLARE_DATA cloudwatch_module = {
    STANDARD20_MODULE_STUFF, cw_config_create_dir, cw_config_merge_dir, cw_config_create_srv, NULL,
    cw_config_cmds,          cw_register_hooks,    AP_MODULE_FLAG_NONE,
};
