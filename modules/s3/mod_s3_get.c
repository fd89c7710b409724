/* mod_s3_get — downloads: GET and HEAD streamed from S3 through httpd's output filters, the
 * redirect to a presigned URL, and the hand-off of an application response carrying X-S3-Key
 * (or its refusal where S3HandOff is not on).
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "lf_log.h"
#include "s3_cloudfront.h"
#include "s3_download.h"
#include "s3_handoff.h"
#include "mod_s3_private.h"

APLOG_USE_MODULE(s3);

typedef struct stream_ctx {
    request_rec *r;
    const s3_dir_conf *conf;
    const char *key;
    const char *disposition; /* from the application (hand-off), or NULL */
    ap_filter_t *out;        /* where the body goes */
    apr_bucket_brigade *bb;
    int started;            /* headers are set and the body began: no error page possible */
    apr_status_t client_rv; /* why writing to the client failed */
} stream_ctx;

static apr_status_t on_head(int status, const apr_table_t *headers, void *baton)
{
    stream_ctx *sc = baton;
    request_rec *r = sc->r;
    const char *v, *disp;

    r->status = status;
    s3_download_response_headers(r->headers_out, headers, sc->conf->expose_meta);
    if ((disp =
             s3_download_disposition(sc->disposition, sc->conf->disposition, sc->key, r->pool))) {
        apr_table_setn(r->headers_out, "Content-Disposition", disp);
    }
    if ((v = apr_table_get(headers, "Content-Type"))) {
        ap_set_content_type(r, apr_pstrdup(r->pool, v));
    }
    if ((v = apr_table_get(headers, "Content-Length"))) {
        apr_off_t len;
        if (apr_strtoff(&len, v, NULL, 10) == APR_SUCCESS && len >= 0) {
            ap_set_content_length(r, len);
        }
    }
    sc->started = 1;
    return APR_SUCCESS;
}

static apr_status_t on_data(const char *data, apr_size_t len, void *baton)
{
    stream_ctx *sc = baton;
    conn_rec *c = sc->r->connection;
    apr_status_t rv;

    if (c->aborted) {
        return sc->client_rv = APR_ECONNABORTED;
    }
    /* Transient: the core output filter copies only what it cannot write at once, and blocks
     * once too much is pending, so memory stays bounded by its flow control. */
    APR_BRIGADE_INSERT_TAIL(sc->bb, apr_bucket_transient_create(data, len, c->bucket_alloc));
    rv = ap_pass_brigade(sc->out, sc->bb);
    apr_brigade_cleanup(sc->bb);
    if (rv != APR_SUCCESS || c->aborted) {
        return sc->client_rv = rv != APR_SUCCESS ? rv : APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

/* Stream @p key to @p out; OK once the response went out, else the status of an error page. */
static int stream_object(request_rec *r, ap_filter_t *out, const s3_dir_conf *conf, const char *key,
                         const char *disposition)
{
    s3_runtime *rt = s3_runtime_get(r, conf);
    apr_array_header_t *headers = apr_array_make(r->pool, 4, sizeof(aws_sigv4_header_t));
    aws_http_request_t sink;
    aws_http_response_t *resp;
    stream_ctx sc;
    apr_status_t rv;
    int status;

    if (!rt) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    s3_download_request_headers(headers, r->headers_in);
    memset(&sc, 0, sizeof(sc));
    sc.r = r;
    sc.conf = conf;
    sc.key = key;
    sc.disposition = disposition;
    sc.out = out;
    sc.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    memset(&sink, 0, sizeof(sink));
    sink.on_head = on_head;
    sink.on_data = on_data;
    sink.sink_baton = &sc;
    rv = s3_object_get(&resp, rt->client, r->header_only ? "HEAD" : "GET", key, headers, &sink,
                       r->pool);
    if (sc.started) {
        if (sc.client_rv) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, sc.client_rv, r,
                          LFLOGNO(02010) "client went away during %s: S3 transfer cancelled", key);
            return OK;
        }
        if (!s3_client_ok(rv, resp)) {
            /* The status line is out: all that is left is to cut the connection, so the client
             * sees a short body rather than a complete-looking one. */
            s3_log_failure(r, "GET (body)", key, rv, resp);
            APR_BRIGADE_INSERT_TAIL(sc.bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool,
                                                                  r->connection->bucket_alloc));
        }
        APR_BRIGADE_INSERT_TAIL(sc.bb, apr_bucket_eos_create(r->connection->bucket_alloc));
        ap_pass_brigade(out, sc.bb);
        return OK;
    }
    status = s3_log_failure(r, r->header_only ? "HEAD" : "GET", key, rv, resp);
    if (status == HTTP_NOT_MODIFIED || status == HTTP_PRECONDITION_FAILED) {
        s3_download_response_headers(r->headers_out, resp->headers, conf->expose_meta);
    }
    return status;
}

/* The redirect to a signed URL of the CloudFront distribution in front of the bucket. */
static int redirect_cloudfront(request_rec *r, const s3_dir_conf *conf, const char *key)
{
    const s3_cf_key_t *signer = APR_ARRAY_IDX(conf->cf_keys, 0, const s3_cf_key_t *);
    const char *url, *why = "";
    apr_status_t rv;

    rv = s3_cf_sign_url(&url, &why, signer, s3_cf_object_url(conf->cf_domain, key, r->pool),
                        s3_cf_expires(apr_time_now(), conf->redirect_expires), conf->cf_allow_ip,
                        r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(02050) "cannot sign a CloudFront URL for %s: %s", key, why);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    apr_table_setn(r->headers_out, "Location", url);
    apr_table_setn(r->err_headers_out, "Cache-Control", "private, no-store"); /* as below */
    return conf->redirect_status;
}

static int redirect(request_rec *r, const s3_dir_conf *conf, const char *key)
{
    s3_runtime *rt = s3_runtime_get(r, conf);
    const char *url, *why = "";
    const char *disp = s3_download_disposition(NULL, conf->disposition, key, r->pool);
    apr_status_t rv;

    if (!rt) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = s3_object_presign(&url, &why, rt->client, key, disp, conf->redirect_expires, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, lf_log_status(rv), r,
                      LFLOGNO(02011) "cannot presign a URL for %s: %s", key, why);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    apr_table_setn(r->headers_out, "Location", url);
    /* The URL carries a signature: no shared cache keeps it, and it expires anyway. */
    apr_table_setn(r->err_headers_out, "Cache-Control", "private, no-store"); /* kept by ap_die */
    return conf->redirect_status;
}

int s3_handle_get(request_rec *r, const s3_dir_conf *conf, const char *key)
{
    int status;

    if (conf->download == S3_DL_REDIRECT && conf->cf_domain) {
        return redirect_cloudfront(r, conf, key);
    }
    if (conf->download == S3_DL_REDIRECT) {
        return redirect(r, conf, key);
    }
    status = stream_object(r, r->output_filters, conf, key, NULL);
    if (status == HTTP_NOT_FOUND && conf->fallback_dir && *conf->fallback_dir) {
        return s3_fallback_serve(r, conf, key); /* nothing went to the client yet */
    }
    return status;
}

/* --- hand-off: the application answers X-S3-Key, Apache sends the object ------------------ */

typedef enum { HANDOFF_DISCARD = 1, HANDOFF_ERROR_PAGE } handoff_state_e;

/* Take (and remove) a hand-off header wherever the application put it. */
static const char *take_header(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_out, name);

    if (!v) {
        v = apr_table_get(r->err_headers_out, name);
    }
    apr_table_unset(r->headers_out, name);
    apr_table_unset(r->err_headers_out, name);
    return v;
}

/* X-S3-Key where S3HandOff is not on: say so, and where S3HandOff belongs. */
static void log_stray_key(request_rec *r)
{
    const char *client = s3_handoff_client_path(r);
    const char *served =
        strcmp(client, r->uri) ? apr_psprintf(r->pool, " (served by %s)", r->uri) : "";
    const char *outcome =
        r->status == HTTP_OK
            ? "the response is refused with 500"
            : apr_psprintf(r->pool, "the header is removed from its %d response", r->status);

    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  LFLOGNO(02041) "X-S3-Key from the application, but %s is not On for %s%s: %s; "
                                 "put %s On (with %s) in the <Location> of the URL the client "
                                 "asks for, e.g. <Location %s>",
                  S3_HAND_OFF, client, served, outcome, S3_HAND_OFF, S3_BUCKET,
                  s3_handoff_route(client, r->pool));
}

/* Replace the application's response: with the object, or else (status != OK) an error page. */
static void replace_response(ap_filter_t *f, int *state, int status, const s3_dir_conf *conf,
                             const char *key, const char *disp)
{
    request_rec *r = f->r;

    s3_download_drop_entity_headers(r->headers_out); /* they describe the discarded body */
    if (status == OK) {
        status = stream_object(r, f->next, conf, key, disp);
    }
    if (status != OK) {
        /* An error page instead, through the rest of the chain. */
        *state = HANDOFF_ERROR_PAGE;
        r->status = status;
        ap_send_error_response(r, 0);
        *state = HANDOFF_DISCARD;
    }
}

apr_status_t s3_handoff_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    int *state = f->ctx;
    const s3_dir_conf *conf;
    const char *raw, *disp, *key = NULL, *why, *section = NULL;
    int status = OK;

    if (state) {
        if (*state == HANDOFF_ERROR_PAGE) {
            return ap_pass_brigade(f->next, bb);
        }
        apr_brigade_cleanup(bb); /* the application's own body: replaced */
        return APR_SUCCESS;
    }
    /* Both headers go, whatever happens next: neither is meant for the client. CGI and FastCGI
     * answers put them in err_headers_out, mod_proxy_http and mod_php in headers_out. */
    raw = take_header(r, S3_HANDOFF_KEY);
    disp = take_header(r, S3_HANDOFF_DISPOSITION);
    if (!raw || r->main) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    if (!(conf = s3_handoff_conf(&section, r))) {
        /* Fail closed: the application meant this response to be replaced, so it is no answer
         * for the client (often an empty 200). Its own error statuses pass, as with hand-off. */
        log_stray_key(r);
        if (r->status != HTTP_OK) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    else if (r->status != HTTP_OK) {
        ap_remove_output_filter(f); /* the application's own answer: not handed off */
        return ap_pass_brigade(f->next, bb);
    }
    else if (s3_handoff_parse(&key, &disp, &why, conf->key_prefix, raw, disp, r->pool)
             != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(02012) "the application handed off a bad key (%s): %s", raw, why);
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      LFLOGNO(02042) "hand-off of %s, with the S3 settings of %s", key, section);
    }
    state = apr_pcalloc(r->pool, sizeof(*state));
    *state = HANDOFF_DISCARD;
    f->ctx = state;
    apr_brigade_cleanup(bb);
    replace_response(f, state, status, conf, key, disp);
    return APR_SUCCESS;
}
