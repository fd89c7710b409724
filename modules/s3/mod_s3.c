/* mod_s3 — serves downloads from and accepts uploads into S3, streamed by Apache itself.
 *
 * A <Location> with `SetHandler s3` maps its URL space onto a bucket and key prefix: GET and
 * HEAD stream the object (or redirect to a presigned URL), PUT and multipart/form-data POST
 * stream the body into S3, never whole in memory. The application can hand a download over with
 * an X-S3-Key response header. Writes need an authorization the application grants.
 *
 * This file: the module and its hooks: the handler's dispatch, the hand-off filter's insertion,
 * startup, and the mod_health check. The configuration, the runtimes and the helpers every
 * request path uses are in mod_s3_config.c; downloads and the hand-off filter in mod_s3_get.c,
 * uploads in mod_s3_put.c. What needs no httpd is in the s3_*.c core: among others s3_conf.c
 * (the configuration's fields, defaults, merge and directive parsers), s3_runtime.c (one S3
 * client per bucket setting, shared), s3_download.c and s3_upload.c (what goes back and forth).
 */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <unistd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <ap_provider.h>

#include "lf_log.h"
#include "lf_parse.h"
#include "s3_handoff.h"
#include "s3_key.h"
#include "s3_memacct.h"
#include "s3_mime.h"
#include "mod_lf_health.h"
#include "mod_s3_private.h"

APLOG_USE_MODULE(s3);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

/* Registered once at startup, read-only afterwards. */
static ap_filter_rec_t *handoff_filter;

/* The hand-off filter goes on every main response, wherever mod_s3 is loaded and whether or not
 * hand-off is on there: an X-S3-Key that is not acted on must never reach the client, and the
 * servers where S3HandOff is missing are exactly those where it would. What it costs a response
 * that carries no X-S3-Key: one filter in the chain, and two table look-ups when the first
 * data passes, after which it removes itself. Subrequests get none: their headers never reach
 * the client, and they are never handed off. */

/* --- handler ----------------------------------------------------------------------------- */

static int s3_handler(request_rec *r)
{
    const s3_dir_conf *conf;
    const char *key, *type;
    int rc;

    if (!r->handler || strcmp(r->handler, "s3")) {
        return DECLINED;
    }
    conf = s3_conf(r);
    /* the Allow header of 405 and OPTIONS answers */
    ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", "OPTIONS", NULL);
    if (conf->upload) {
        ap_allow_methods(r, MERGE_ALLOW, "PUT", "POST", NULL);
    }
    if (!conf->bucket) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, LFLOGNO(02006) "SetHandler s3 without %s for %s",
                      S3_BUCKET, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    switch (r->method_number) {
    case M_GET: /* HEAD too */
        if (conf->download == S3_DL_OFF) {
            return HTTP_METHOD_NOT_ALLOWED;
        }
        if ((rc = s3_request_key(&key, r, conf)) != OK) {
            return rc;
        }
        return s3_handle_get(r, conf, key);
    case M_PUT:
        if (!conf->upload) {
            return HTTP_METHOD_NOT_ALLOWED;
        }
        if ((rc = s3_request_key(&key, r, conf)) != OK) {
            return rc;
        }
        return s3_handle_put(r, conf, key);
    case M_POST:
        if (!conf->upload) {
            return HTTP_METHOD_NOT_ALLOWED;
        }
        type = apr_table_get(r->headers_in, "Content-Type");
        if (!type || strncasecmp(type, "multipart/form-data", 19)) {
            return HTTP_UNSUPPORTED_MEDIA_TYPE;
        }
        return s3_handle_form(r, conf);
    case M_OPTIONS:
        return DECLINED; /* the core answers with r->allowed */
    default:
        return HTTP_METHOD_NOT_ALLOWED;
    }
}

static void s3_insert_filter(request_rec *r)
{
    if (!r->main) {
        ap_add_output_filter_handle(handoff_filter, NULL, r, r->connection);
    }
}

/* --- startup ------------------------------------------------------------------------------ */

static int s3_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    s3_copy_configured(1); /* until a section's S3FallbackCopy On says otherwise */
    return mod_lf_libs_init() == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* Cross-field checks run here, not in post_config: `apachectl configtest` runs this hook and
 * so refuses a bad configuration before a reload would. */
static int s3_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err;

    (void)pconf;
    (void)plog;
    mod_lf_log_install(s);
    if ((err = s3_check_sections(s, 0, ptemp))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(02007) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int s3_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    if ((rv = s3_runtimes_init(pconf)) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if ((err = s3_check_sections(s, 1, pconf))) { /* checked already: should not happen */
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(02009) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = s3_memory_attach(s)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(02008) "cannot create the shared memory for upload accounting");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = s3_fallback_copies_init(s, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, LFLOGNO(02055) "cannot create the thread of %s",
                     S3_FALLBACK_COPY);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void s3_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    s3_fallback_copies_child_init(pchild);
}

/* --- mod_health check "s3": HeadBucket -------------------------------------------------- */

static const char *health_configure(void **ctx, const char *target, apr_table_t *options,
                                    apr_pool_t *p)
{
    (void)options;
    *ctx = apr_pstrdup(p, target);
    return NULL;
}

/* The target names a bucket of an S3 section; the check uses that section's settings. */
static apr_status_t health_run(const char **error, void *ctx, server_rec *s,
                               apr_interval_time_t timeout, apr_pool_t *p)
{
    const char *bucket = ctx;
    s3_runtime *rt = s3_runtime_of_bucket(bucket, p);
    aws_http_response_t *resp;
    apr_status_t rv;

    (void)s;
    if (!rt) {
        *error = apr_psprintf(p, "no S3 section for bucket %s", bucket);
        return APR_NOTFOUND;
    }
    rv = s3_bucket_head(&resp, rt->client, timeout, p);
    if (s3_client_ok(rv, resp)) {
        return APR_SUCCESS;
    }
    *error = resp->error             ? apr_psprintf(p, "HeadBucket: %s", resp->error->code)
             : resp->transport_error ? apr_psprintf(p, "HeadBucket: %s", resp->transport_error)
                                     : apr_psprintf(p, "HeadBucket: HTTP %d", resp->status);
    return rv != APR_SUCCESS ? rv : APR_EGENERAL;
}

static const health_check_provider health_s3 = {HEALTH_TARGET_REQUIRED, health_configure,
                                                health_run};

static void s3_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(s3_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(s3_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(s3_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(s3_child_init, NULL, NULL, APR_HOOK_REALLY_LAST); /* lifecycle kit */
    ap_hook_handler(s3_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* before mod_rewrite (APR_HOOK_FIRST) and mod_alias change what the client asked for */
    ap_hook_translate_name(s3_note_client_conf, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_insert_filter(s3_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    handoff_filter =
        ap_register_output_filter("S3_HANDOFF", s3_handoff_filter, NULL, AP_FTYPE_CONTENT_SET);
    ap_register_provider(p, HEALTH_PROVIDER_GROUP, "s3", HEALTH_PROVIDER_VERSION, &health_s3);
}

module AP_MODULE_DECLARE_DATA s3_module = {
    STANDARD20_MODULE_STUFF,
    s3_create_dir_conf,
    s3_merge_dir_conf,
    s3_create_srv_conf,
    NULL,
    s3_cmds,
    s3_register_hooks,
    AP_MODULE_FLAG_NONE,
};
