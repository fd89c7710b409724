/* mod_s3_put — uploads: PUT and multipart/form-data POST, streamed into S3.
 *
 * The body is read as it arrives and handed to s3_upload (the core), which spools it one part at
 * a time (memory up to S3SpoolMemory, then a temp file), so every part can be retried and a slow
 * client never keeps an S3 connection idle: a body that fits in one part becomes one PutObject
 * with its checksum, a larger or unknown-length body a multipart upload, aborted here on any
 * error or disconnect so no parts are left behind. This file keeps the HTTP side: writes need an
 * authorization (an upload token, httpd's own auth, or both, as configured), the spool memory is
 * reserved, forms are parsed, failures are logged and answered.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <util_script.h>

#include "lf_log.h"
#include "s3_form.h"
#include "s3_key.h"
#include "s3_mime.h"
#include "s3_spool.h"
#include "s3_token.h"
#include "s3_upload.h"
#include "mod_s3_private.h"

APLOG_USE_MODULE(s3);

#define READ_BLOCK  (64 * 1024)
#define RETRY_AFTER "5" /* seconds, when the server's spool memory is taken */

/* What a request may write, after its authorization. */
typedef struct grant_t {
    const s3_token_t *token; /* NULL: no token needed */
    apr_off_t max;
} grant_t;

/* --- authorization and limits --------------------------------------------------------------- */

static const char *token_of(request_rec *r)
{
    const char *t = apr_table_get(r->headers_in, S3_TOKEN_HEADER);
    apr_table_t *args;

    if (t || !r->args) {
        return t;
    }
    ap_args_to_table(r, &args);
    return apr_table_get(args, S3_TOKEN_PARAM);
}

/* Check that the request may write at all; fills @p g. OK or an HTTP status. */
static int authorize(grant_t *g, request_rec *r, const s3_dir_conf *conf)
{
    const char *token, *why;
    s3_token_t *tok;

    memset(g, 0, sizeof(*g));
    g->max = conf->max_upload;
    if (!conf->token_secret && !conf->require_user) {
        /* startup refuses this; a nested section could still merge into it */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(02020) "upload refused: no %s and no %s On for %s",
                      S3_UPLOAD_TOKEN_KEY, S3_UPLOAD_REQUIRE_USER, r->uri);
        return HTTP_FORBIDDEN;
    }
    if (conf->require_user && !r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(02021) "upload refused: %s On but no user was authenticated for %s "
                                     "(is there an AuthType and Require?)",
                      S3_UPLOAD_REQUIRE_USER, r->uri);
        return HTTP_FORBIDDEN;
    }
    if (!conf->token_secret) {
        return OK;
    }
    if (!(token = token_of(r))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02022) "upload refused: no upload token (%s header or %s parameter)",
                      S3_TOKEN_HEADER, S3_TOKEN_PARAM);
        return HTTP_FORBIDDEN;
    }
    if (s3_token_verify(&tok, &why, token, (const unsigned char *)conf->token_secret,
                        strlen(conf->token_secret), apr_time_now(), r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02023) "upload refused: upload token: %s", why);
        return HTTP_FORBIDDEN;
    }
    g->token = tok;
    if (tok->max_size >= 0 && tok->max_size < g->max) {
        g->max = tok->max_size;
    }
    return OK;
}

static int type_allowed(request_rec *r, const s3_dir_conf *conf, const grant_t *g, const char *type)
{
    if (!s3_mime_type_allowed(conf->allowed_types, type)
        || (g->token && !s3_token_allows_type(g->token, type))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02024) "upload refused: content type '%s' is not allowed",
                      type ? type : "(none)");
        return 0;
    }
    return 1;
}

/* --- one object ----------------------------------------------------------------------------- */

/* An upload and the request it logs to. */
typedef struct upload_t {
    request_rec *r;
    s3_upload_t *up;
} upload_t;

static void upload_start(upload_t *u, request_rec *r, const s3_dir_conf *conf, s3_runtime *rt,
                         s3_spool_t *spool, apr_off_t max, apr_off_t expected, const char *key,
                         const char *type, const char *disposition, int no_overwrite)
{
    s3_upload_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.client = rt->client;
    cfg.spool = spool;
    cfg.part_size = conf->part_size;
    cfg.max = max;
    u->r = r;
    s3_upload_create(&u->up, &cfg, expected, key, type, disposition, no_overwrite, r->pool);
}

/* Log why the upload stopped; the HTTP status to answer. */
static int upload_failed(upload_t *u)
{
    const s3_upload_t *up = u->up;

    switch (up->failure) {
    case S3_UPLOAD_FAILED_CALL:
        return s3_log_failure(u->r, up->call.name, up->key, up->call.rv, up->call.resp);
    case S3_UPLOAD_FAILED_TOO_LARGE:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, u->r,
                      LFLOGNO(02027) "upload of %s: over the %" APR_OFF_T_FMT " bytes allowed",
                      up->key, up->cfg.max);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case S3_UPLOAD_FAILED_PARTS:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, u->r,
                      LFLOGNO(02025) "upload of %s: over 10,000 parts (raise %s)", up->key,
                      S3_PART_SIZE);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case S3_UPLOAD_FAILED_SPOOL_WRITE:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, up->call.rv, u->r,
                      LFLOGNO(02028) "upload of %s: cannot spool the body (temp dir full?)",
                      up->key);
        return HTTP_INTERNAL_SERVER_ERROR;
    case S3_UPLOAD_FAILED_SPOOL_RESET:
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, up->call.rv, u->r,
                      LFLOGNO(02026) "upload of %s: cannot reset the spool", up->key);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

static int upload_write(upload_t *u, const char *data, apr_size_t len)
{
    return s3_upload_write(u->up, data, len) == APR_SUCCESS ? OK : upload_failed(u);
}

static int upload_finish(upload_t *u)
{
    if (s3_upload_finish(u->up) != APR_SUCCESS) {
        return upload_failed(u);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, u->r, LFLOGNO(02044) "upload of %s stored: %s",
                  u->up->key, s3_upload_summary(u->up));
    return OK;
}

/* Abort an open multipart upload, so no parts stay behind (and are billed). */
static void upload_abort(upload_t *u)
{
    s3_upload_call_t call;
    apr_status_t rv = s3_upload_abort(&call, u->up);

    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, u->r,
                      LFLOGNO(02029) "upload of %s aborted after %" APR_OFF_T_FMT " bytes",
                      u->up->key, u->up->size);
    }
    else if (rv != APR_ENOENT) {
        s3_log_failure(u->r, "AbortMultipartUpload (a bucket lifecycle rule will clean up)",
                       u->up->key, call.rv, call.resp);
    }
}

static int send_json(request_rec *r, int status, const char *json)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rputs(json, r);
    ap_rputs("\n", r);
    return OK;
}

/* --- the request body ------------------------------------------------------------------------ */

typedef int body_sink_fn(void *baton, const char *data, apr_size_t len);

/* Read the request body into @p sink; OK, the sink's status, or the status of a read error. */
static int read_body(request_rec *r, body_sink_fn *sink, void *baton)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    int seen_eos = 0, rc = OK;

    while (!seen_eos && rc == OK) {
        apr_bucket *b;
        apr_status_t rv =
            ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, READ_BLOCK);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                          LFLOGNO(02030) "reading the upload body failed (client gone?)");
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb) && rc == OK;
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            if ((rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ)) != APR_SUCCESS) {
                return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            }
            if (len) {
                rc = sink(baton, data, len);
            }
        }
        apr_brigade_cleanup(bb);
    }
    return rc;
}

/* Set up what every upload request needs: runtime, spool memory, spool. On OK, the caller
 * gives the spool memory back with s3_memory_release(*slot, *reserved). */
static int upload_setup(s3_runtime **rt, s3_spool_t **spool, apr_off_t *reserved, int *slot,
                        request_rec *r, const s3_dir_conf *conf)
{
    apr_off_t mem = conf->spool_memory < conf->part_size ? conf->spool_memory : conf->part_size;
    const char *tmp = conf->temp_dir;
    apr_status_t rv;

    *reserved = 0;
    if (!(*rt = s3_runtime_get(r, conf))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = s3_memory_reserve(slot, mem)) != APR_SUCCESS) {
        if (rv == APR_ENOSPC) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          LFLOGNO(02031) "upload refused for now: the spool memory of all uploads "
                                         "(%s %" APR_OFF_T_FMT ") is taken",
                          S3_MEMORY_LIMIT, s3_memory_limit(r->server));
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          LFLOGNO(02043) "upload refused for now: the accounting of %s has no "
                                         "slot left for this process (more processes than "
                                         "ServerLimit?)",
                          S3_MEMORY_LIMIT);
        }
        apr_table_setn(r->err_headers_out, "Retry-After", RETRY_AFTER);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!tmp && (rv = apr_temp_dir_get(&tmp, r->pool)) != APR_SUCCESS) {
        tmp = "/tmp";
    }
    if ((rv = s3_spool_create(spool, (apr_size_t)mem, tmp,
                              s3_upload_spool_digests(NULL, (*rt)->client), r->pool))
        != APR_SUCCESS) {
        s3_memory_release(*slot, mem); /* the caller gives back only what setup leaves reserved */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, LFLOGNO(02032) "cannot create a spool in %s",
                      tmp);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    *reserved = mem;
    return OK;
}

/* --- PUT ------------------------------------------------------------------------------------ */

static int put_sink(void *baton, const char *data, apr_size_t len)
{
    return upload_write(baton, data, len);
}

int s3_handle_put(request_rec *r, const s3_dir_conf *conf, const char *key)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *inm = apr_table_get(r->headers_in, "If-None-Match");
    apr_off_t length = -1, reserved;
    int slot;
    s3_runtime *rt;
    s3_spool_t *spool;
    upload_t u;
    grant_t g;
    int rc;

    if ((rc = authorize(&g, r, conf)) != OK) {
        return rc;
    }
    if (g.token && !s3_token_allows_key(g.token, key)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02033) "upload refused: the token does not grant key %s", key);
        return HTTP_FORBIDDEN;
    }
    if (cl && (apr_strtoff(&length, cl, NULL, 10) != APR_SUCCESS || length < 0)) {
        return HTTP_BAD_REQUEST;
    }
    if (length > g.max) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02034) "upload refused: %" APR_OFF_T_FMT
                                     " bytes is over the %" APR_OFF_T_FMT " allowed",
                      length, g.max);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (!type_allowed(r, conf, &g, type)) {
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if (inm && strcmp(inm, "*")) {
        return HTTP_NOT_IMPLEMENTED; /* only "*" (create-only) has a meaning for an upload */
    }
    if ((rc = upload_setup(&rt, &spool, &reserved, &slot, r, conf)) != OK) {
        return rc;
    }
    upload_start(&u, r, conf, rt, spool, g.max, length, key, type, NULL, conf->no_overwrite || inm);
    rc = read_body(r, put_sink, &u);
    if (rc == OK) {
        rc = upload_finish(&u);
    }
    if (rc != OK) {
        upload_abort(&u);
    }
    s3_memory_release(slot, reserved);
    if (rc != OK) {
        return rc;
    }
    apr_table_setn(r->headers_out, "Location", r->uri);
    if (u.up->etag) {
        apr_table_setn(r->headers_out, "ETag", u.up->etag);
    }
    return send_json(r, HTTP_CREATED,
                     s3_upload_json(u.up, conf->location, conf->key_prefix, r->pool));
}

/* --- multipart/form-data POST --------------------------------------------------------------- */

typedef struct form_t {
    request_rec *r;
    const s3_dir_conf *conf;
    const grant_t *grant;
    s3_runtime *rt;
    s3_spool_t *spool;
    s3_form_parser_t *parser;
    upload_t *cur;            /* the file being uploaded, or NULL (a field, skipped) */
    apr_array_header_t *done; /* s3_upload_t *: stored objects */
    apr_size_t field_bytes;   /* bytes of plain fields, bounded */
    int status;               /* the HTTP status that stopped the parser */
} form_t;

#define MAX_FIELD_BYTES (64 * 1024)

static apr_status_t form_stop(form_t *f, int status)
{
    f->status = status;
    return APR_EGENERAL;
}

static apr_status_t form_begin(void *baton, const char *name, const char *filename,
                               const char *type)
{
    form_t *f = baton;
    const char *key, *prefix;
    upload_t *u;

    (void)name;
    f->cur = NULL;
    if (!filename || !*filename) {
        return APR_SUCCESS; /* a plain field, or a file input left empty: nothing to store */
    }
    if (!type_allowed(f->r, f->conf, f->grant, type)) {
        return form_stop(f, HTTP_UNSUPPORTED_MEDIA_TYPE);
    }
    switch (
        s3_token_form_target(&key, &prefix, f->grant->token, f->conf->key_prefix, f->done->nelts)) {
    case APR_SUCCESS:
        break;
    case APR_EEXIST:
        return form_stop(f, HTTP_FORBIDDEN); /* a token for one key grants one file */
    default:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, f->r,
                      LFLOGNO(02040) "upload refused: the token's key or prefix is outside %s %s",
                      S3_KEY_PREFIX, f->conf->key_prefix);
        return form_stop(f, HTTP_FORBIDDEN);
    }
    if (!key && s3_key_generate(&key, prefix, filename, f->r->pool) != APR_SUCCESS) {
        return form_stop(f, HTTP_INTERNAL_SERVER_ERROR);
    }
    u = apr_palloc(f->r->pool, sizeof(*u));
    upload_start(u, f->r, f->conf, f->rt, f->spool, f->grant->max, -1, key, type,
                 s3_mime_disposition("attachment", filename, f->r->pool), f->conf->no_overwrite);
    f->cur = u;
    return APR_SUCCESS;
}

static apr_status_t form_data(void *baton, const char *data, apr_size_t len)
{
    form_t *f = baton;
    int rc;

    if (!f->cur) {
        f->field_bytes += len;
        return f->field_bytes > MAX_FIELD_BYTES ? form_stop(f, HTTP_REQUEST_ENTITY_TOO_LARGE)
                                                : APR_SUCCESS;
    }
    rc = upload_write(f->cur, data, len);
    return rc == OK ? APR_SUCCESS : form_stop(f, rc);
}

static apr_status_t form_end(void *baton)
{
    form_t *f = baton;
    int rc;

    if (!f->cur) {
        return APR_SUCCESS;
    }
    if ((rc = upload_finish(f->cur)) != OK) {
        return form_stop(f, rc);
    }
    APR_ARRAY_PUSH(f->done, s3_upload_t *) = f->cur->up;
    f->cur = NULL;
    return s3_spool_reset(f->spool);
}

static int form_sink(void *baton, const char *data, apr_size_t len)
{
    form_t *f = baton;

    if (s3_form_parser_feed(f->parser, data, len) == APR_SUCCESS) {
        return OK;
    }
    if (f->status) {
        return f->status;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, f->r, LFLOGNO(02035) "malformed form upload: %s",
                  s3_form_parser_error(f->parser));
    return HTTP_BAD_REQUEST;
}

/* A failed form stores nothing: the objects it already completed are deleted. */
static void form_undo(form_t *f)
{
    int i;

    if (f->cur) {
        upload_abort(f->cur);
    }
    for (i = 0; i < f->done->nelts; ++i) {
        s3_upload_t *u = APR_ARRAY_IDX(f->done, i, s3_upload_t *);
        s3_upload_call_t call;
        if (s3_upload_delete(&call, u) != APR_SUCCESS) {
            s3_log_failure(f->r, "DeleteObject (undoing a failed form)", u->key, call.rv,
                           call.resp);
        }
    }
}

static int form_answer(request_rec *r, const s3_dir_conf *conf, const form_t *f)
{
    if (conf->form_redirect) {
        apr_table_setn(r->headers_out, "Location",
                       s3_upload_form_redirect(conf->form_redirect, f->done, r->pool));
        return HTTP_SEE_OTHER;
    }
    return send_json(r, HTTP_CREATED,
                     s3_upload_form_json(f->done, conf->location, conf->key_prefix, r->pool));
}

int s3_handle_form(request_rec *r, const s3_dir_conf *conf)
{
    static const s3_form_callbacks_t callbacks = {form_begin, form_data, form_end};
    const char *cl = apr_table_get(r->headers_in, "Content-Length"), *why;
    apr_off_t length = -1, reserved;
    int slot;
    form_t f;
    grant_t g;
    int rc;

    if ((rc = authorize(&g, r, conf)) != OK) {
        return rc;
    }
    if (cl && (apr_strtoff(&length, cl, NULL, 10) != APR_SUCCESS || length < 0)) {
        return HTTP_BAD_REQUEST;
    }
    /* A form holding more than the allowed files plus their fields can be refused unread. */
    if (length > g.max + MAX_FIELD_BYTES) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02036) "form upload refused: %" APR_OFF_T_FMT
                                     " bytes is over the %" APR_OFF_T_FMT " allowed",
                      length, g.max);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    memset(&f, 0, sizeof(f));
    f.r = r;
    f.conf = conf;
    f.grant = &g;
    f.done = apr_array_make(r->pool, 4, sizeof(s3_upload_t *));
    if (s3_form_parser_create(&f.parser, &why, apr_table_get(r->headers_in, "Content-Type"),
                              &callbacks, &f, NULL, r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, LFLOGNO(02037) "form upload refused: %s", why);
        return HTTP_BAD_REQUEST;
    }
    if ((rc = upload_setup(&f.rt, &f.spool, &reserved, &slot, r, conf)) != OK) {
        return rc;
    }
    rc = read_body(r, form_sink, &f);
    if (rc == OK && s3_form_parser_finish(f.parser) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, LFLOGNO(02038) "malformed form upload: %s",
                      s3_form_parser_error(f.parser));
        rc = HTTP_BAD_REQUEST;
    }
    if (rc == OK && !f.done->nelts) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(02039) "form upload without a file field");
        rc = HTTP_BAD_REQUEST;
    }
    if (rc != OK) {
        form_undo(&f);
    }
    s3_memory_release(slot, reserved);
    return rc == OK ? form_answer(r, conf, &f) : rc;
}
