/* mod_cloudwatch_record.c — every request counted into shared memory, off CloudWatch's path.
 *
 * In log_transaction a request finds its group slot (virtual host and group) and adds its
 * latency, status class and bytes with atomic updates (cw_shm: no lock, no system call); an
 * input filter counts the request body as the handler reads it, and an output filter on the
 * connection notes when the first byte of the response leaves. The shared memory is made in
 * post_config and outlives graceful restarts, with the figures of the interval under way.
 */
#include <httpd.h>

#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "lf_log.h"
#include "mod_cloudwatch_record.h"

APLOG_USE_MODULE(cloudwatch);
#include "mod_lf_life.h"

#define CW_SHM_KEY "lampfarm:cloudwatch"

/* The request note and environment variable by which the application names a request's group. */
#define CW_GROUP_NOTE "cloudwatch-group"
#define CW_GROUP_ENV  "CLOUDWATCH_GROUP"
/* The group of the requests of a server that no CloudWatchGroup or application names. */
#define CW_GROUP_DEFAULT "default"

/* This generation's (set in post_config, inherited by the children). */
static cw_shm_t *shm;
/* CloudWatchTimeToFirstByte of the configuration in force (set in post_config). */
static int ttfb_enabled;

/* Per request: the request body bytes read and when the first byte of the response left. */
typedef struct cw_req {
    apr_off_t bytes_in;    /* of the request body, as the application read it (dechunked) */
    apr_time_t first_byte; /* CloudWatchTimeToFirstByte; 0: not yet */
} cw_req;

cw_shm_t *cw_record_shm(void)
{
    return shm;
}

void cw_record_reset(void)
{
    shm = NULL;
}

apr_status_t cw_record_setup(server_rec *s, const cw_srv_conf *c)
{
    apr_size_t size = cw_shm_size(c->max_groups);
    mod_lf_shm_e how;
    apr_status_t rv;

    ttfb_enabled = c->ttfb;
    /* It outlives graceful restarts, and with it the figures of the interval under way
     * (nothing is lost or counted twice across a restart). */
    rv = mod_lf_shm_attach((void **)&shm, &how, CW_SHM_KEY, size, cw_shm_layout(c->max_groups), s);
    if (rv != APR_SUCCESS) {
        shm = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(03002) "cannot create %" APR_SIZE_T_FMT " bytes of shared memory",
                     size);
        return rv;
    }
    if (how == MOD_LF_SHM_REPLACED) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     LFLOGNO(03001) "%s changed: the measurements of the current interval are "
                                    "dropped",
                     CW_MAX_GROUPS);
    }
    cw_shm_init(shm, c->max_groups);
    return APR_SUCCESS;
}

apr_status_t cw_record_ttfb_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    cw_req *q = f->ctx;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (!APR_BUCKET_IS_METADATA(b) && b->length) {
            q->first_byte = apr_time_now();
            ap_remove_output_filter(f);
            break;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* Counts the request body as the handler reads it (r->read_length only counts what is read
 * through ap_get_client_block(), which mod_cgid and mod_proxy do not use). */
apr_status_t cw_record_bytes_in_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                       apr_read_type_e block, apr_off_t readbytes)
{
    cw_req *q = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_off_t len = 0;

    if (rv == APR_SUCCESS && mode != AP_MODE_SPECULATIVE
        && apr_brigade_length(bb, 0, &len) == APR_SUCCESS && len > 0) {
        q->bytes_in += len;
    }
    return rv;
}

void cw_record_insert_filter(request_rec *r)
{
    cw_req *q;

    if (r->main || !shm || !cw_config_enabled(r)
        || ap_get_module_config(r->request_config, &cloudwatch_module)) {
        return;
    }
    q = apr_pcalloc(r->pool, sizeof(*q));
    ap_set_module_config(r->request_config, &cloudwatch_module, q);
    ap_add_input_filter("CLOUDWATCH_IN", q, r, r->connection);
    if (ttfb_enabled) {
        /* on the connection: the headers count as the first byte too */
        ap_add_output_filter("CLOUDWATCH_TTFB", q, r, r->connection);
    }
}

/* The application's group (note or environment variable), if it is a usable name. */
static const char *app_group(request_rec *r)
{
    const char *g = apr_table_get(r->notes, CW_GROUP_NOTE);
    const char *c;

    if (!g) {
        g = apr_table_get(r->subprocess_env, CW_GROUP_ENV);
    }
    if (!g || !*g || strlen(g) >= CW_NAME_MAX) {
        return NULL;
    }
    for (c = g; *c; ++c) {
        if (*c < 0x21 || *c > 0x7e) {
            return NULL;
        }
    }
    return g;
}

int cw_record_log_transaction(request_rec *r)
{
    const cw_dir_conf *dc;
    request_rec *last = r;
    const char *group, *vhost;
    cw_shm_sample_t m;
    cw_req *q;
    apr_time_t now;

    if (!shm) {
        return DECLINED;
    }
    while (last->next) { /* the final request of an internal redirect: its status and location */
        last = last->next;
    }
    /* not a client's: the parent's "OPTIONS *" that wakes a child (internal dummy connection) */
    if (!cw_config_enabled(last) || (r->method_number == M_OPTIONS && !strcmp(r->uri, "*"))) {
        return DECLINED;
    }
    now = apr_time_now();
    dc = ap_get_module_config(last->per_dir_config, &cloudwatch_module);
    group = app_group(last);
    if (!group && last != r) {
        group = app_group(r);
    }
    if (!group) {
        group = dc->group ? dc->group : CW_GROUP_DEFAULT;
    }
    vhost = r->server->server_hostname ? r->server->server_hostname : "";

    memset(&m, 0, sizeof(m));
    m.cls = cw_shm_class(last->status, r->connection->aborted);
    m.latency = (apr_uint64_t)(now > r->request_time ? now - r->request_time : 0);
    q = ap_get_module_config(r->request_config, &cloudwatch_module);
    if (!q && last != r) {
        q = ap_get_module_config(last->request_config, &cloudwatch_module);
    }
    if (q && q->first_byte) {
        m.has_ttfb = 1;
        m.ttfb =
            (apr_uint64_t)(q->first_byte > r->request_time ? q->first_byte - r->request_time : 0);
    }
    m.bytes_in = q && q->bytes_in > 0 ? (apr_uint64_t)q->bytes_in : 0;
    m.bytes_out = (apr_uint64_t)(last->bytes_sent > 0 ? last->bytes_sent : 0);
    cw_shm_record(cw_shm_slot(shm, vhost, group), &m);
    return DECLINED;
}
