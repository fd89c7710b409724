/* mod_s3_put — uploads: PUT and multipart/form-data POST, streamed into S3.
 *
 * The body is read as it arrives and spooled one part at a time (memory up to S3SpoolMemory,
 * then a temp file), so every part can be retried and a slow client never keeps an S3
 * connection idle. A body that fits in one part becomes one PutObject with its checksum; a
 * larger or unknown-length body a multipart upload, aborted on any error or disconnect so no
 * parts are left behind. Writes need an authorization: an upload token, httpd's own auth, or
 * both, as configured.
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

#include "lf_json.h"
#include "lf_log.h"
#include "s3_form.h"
#include "s3_key.h"
#include "s3_mime.h"
#include "s3_spool.h"
#include "s3_token.h"
#include "mod_s3_private.h"

APLOG_USE_MODULE(s3);

#define READ_BLOCK  (64 * 1024)
#define MAX_PARTS   10000
#define RETRY_AFTER "5" /* seconds, when the server's spool memory is taken */

/* One object being uploaded. */
typedef struct upload_t {
    request_rec *r;
    const s3_dir_conf *conf;
    s3_runtime *rt;
    s3_spool_t *spool;
    apr_off_t part_size;
    const char *key;
    const char *content_type;
    apr_array_header_t *headers; /* for PutObject / CreateMultipartUpload */
    apr_off_t max;               /* bytes allowed */
    apr_off_t size;              /* bytes received */
    const char *upload_id;       /* when a multipart upload is open */
    apr_array_header_t *parts;   /* s3_part_t of the parts sent */
    const char *etag;            /* of the stored object */
    int no_overwrite;            /* If-None-Match: *, checked by S3 at PutObject or Complete */
    int status;                  /* the HTTP status of a failure */
} upload_t;

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

static void upload_init(upload_t *u, request_rec *r, const s3_dir_conf *conf, s3_runtime *rt,
                        s3_spool_t *spool, apr_off_t expected)
{
    memset(u, 0, sizeof(*u));
    u->r = r;
    u->conf = conf;
    u->rt = rt;
    u->spool = spool;
    u->part_size = conf->part_size;
    /* A known length decides the part size: at most 10,000 parts, in whole MiB. */
    if (expected > 0 && (expected + u->part_size - 1) / u->part_size > MAX_PARTS) {
        u->part_size = ((expected / MAX_PARTS) | 0xfffff) + 1;
    }
    u->headers = apr_array_make(r->pool, 6, sizeof(aws_sigv4_header_t));
    u->parts = apr_array_make(r->pool, 8, sizeof(s3_part_t));
}

static void upload_set_object(upload_t *u, const char *key, const char *type,
                              const char *disposition, int no_overwrite)
{
    u->key = key;
    /* copied: a form part's strings last only as long as the part's headers */
    u->content_type = type && *type ? apr_pstrdup(u->r->pool, type) : "application/octet-stream";
    aws_sigv4_header_add(u->headers, "Content-Type", u->content_type);
    if (disposition) {
        aws_sigv4_header_add(u->headers, "Content-Disposition", disposition);
    }
    u->no_overwrite = no_overwrite;
}

/* The spooled bytes as a body, with the digest the client sends them with (the spool keeps only
 * that one: spool_digests()). A digest that fails leaves it NULL, and the client refuses to
 * send the body. */
static void spool_body(s3_body_t *b, upload_t *u)
{
    memset(b, 0, sizeof(*b));
    b->read = s3_spool_read;
    b->rewind = s3_spool_rewind;
    b->baton = u->spool;
    b->len = s3_spool_size(u->spool);
    if (s3_client_signs_payload(u->rt->client)) {
        s3_spool_sha256(u->spool, &b->sha256_hex, u->r->pool);
    }
    else {
        s3_spool_crc32(u->spool, &b->crc32, u->r->pool);
    }
    s3_spool_rewind(u->spool);
}

/* The running digest a spool keeps for @p client's bodies: SHA-256 costs several times the CPU
 * of CRC32, so never both. */
static unsigned int spool_digests(const s3_client_t *client)
{
    return s3_client_signs_payload(client) ? S3_SPOOL_SHA256 : S3_SPOOL_CRC32;
}

static int fail(upload_t *u, const char *what, apr_status_t rv, const aws_http_response_t *resp)
{
    u->status = s3_log_failure(u->r, what, u->key, rv, resp);
    return u->status;
}

/* Send the spooled bytes as the next part, opening the multipart upload first if needed. */
static int flush_part(upload_t *u)
{
    aws_http_response_t *resp;
    s3_part_t part;
    s3_body_t body;
    apr_status_t rv;

    if (!u->upload_id) {
        rv = s3_multipart_create(&u->upload_id, &resp, u->rt->client, u->key, u->headers,
                                 u->r->pool);
        if (!s3_client_ok(rv, resp) || !u->upload_id) {
            u->upload_id = NULL;
            return fail(u, "CreateMultipartUpload", rv, resp);
        }
    }
    if (u->parts->nelts >= MAX_PARTS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, u->r,
                      LFLOGNO(02025) "upload of %s: over 10,000 parts (raise %s)", u->key,
                      S3_PART_SIZE);
        return u->status = HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    spool_body(&body, u);
    rv = s3_multipart_upload_part(&part, &resp, u->rt->client, u->key, u->upload_id,
                                  u->parts->nelts + 1, &body, u->r->pool);
    if (!s3_client_ok(rv, resp) || !part.etag) {
        return fail(u, "UploadPart", rv, resp);
    }
    APR_ARRAY_PUSH(u->parts, s3_part_t) = part;
    if ((rv = s3_spool_reset(u->spool)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, u->r,
                      LFLOGNO(02026) "upload of %s: cannot reset the spool", u->key);
        return u->status = HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int upload_write(upload_t *u, const char *data, apr_size_t len)
{
    apr_status_t rv;

    if (u->size + (apr_off_t)len > u->max) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, u->r,
                      LFLOGNO(02027) "upload of %s: over the %" APR_OFF_T_FMT " bytes allowed",
                      u->key, u->max);
        return u->status = HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    u->size += len;
    while (len) {
        apr_off_t room = u->part_size - s3_spool_size(u->spool);
        apr_size_t n;
        int rc;
        /* A full spool is sent only when more bytes come: the last part may be a full one,
         * and a body of exactly one part stays a single PutObject. */
        if (room == 0 && (rc = flush_part(u)) != OK) {
            return rc;
        }
        room = u->part_size - s3_spool_size(u->spool);
        n = (apr_off_t)len < room ? len : (apr_size_t)room;
        if ((rv = s3_spool_write(u->spool, data, n)) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, u->r,
                          LFLOGNO(02028) "upload of %s: cannot spool the body (temp dir full?)",
                          u->key);
            return u->status = HTTP_INTERNAL_SERVER_ERROR;
        }
        data += n;
        len -= n;
    }
    return OK;
}

static void log_stored(upload_t *u, int parts)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, u->r,
                  LFLOGNO(02044) "upload of %s stored: %" APR_OFF_T_FMT " bytes in %d part%s, %s",
                  u->key, u->size, parts, parts == 1 ? "" : "s",
                  s3_client_signs_payload(u->rt->client) ? "payload signed (SHA-256)"
                                                         : "payload unsigned, with CRC32");
}

static int upload_finish(upload_t *u)
{
    apr_array_header_t *conditions = NULL;
    aws_http_response_t *resp;
    s3_body_t body;
    apr_status_t rv;
    int rc;

    if (u->no_overwrite) { /* not on CreateMultipartUpload, which ignores it */
        conditions = apr_array_make(u->r->pool, 1, sizeof(aws_sigv4_header_t));
        aws_sigv4_header_add(conditions, "If-None-Match", "*");
    }
    if (!u->upload_id) {
        apr_array_header_t *headers = u->headers;
        if (conditions) {
            headers = apr_array_append(u->r->pool, u->headers, conditions);
        }
        spool_body(&body, u);
        rv = s3_object_put(&resp, u->rt->client, u->key, headers, &body, u->r->pool);
        if (!s3_client_ok(rv, resp)) {
            return fail(u, "PutObject", rv, resp);
        }
        u->etag = apr_table_get(resp->headers, "ETag");
        log_stored(u, 1);
        return OK;
    }
    if ((rc = flush_part(u)) != OK) {
        return rc;
    }
    rv = s3_multipart_complete(&u->etag, &resp, u->rt->client, u->key, u->upload_id, u->parts,
                               conditions, u->r->pool);
    if (!s3_client_ok(rv, resp) || !u->etag) {
        return fail(u, "CompleteMultipartUpload", rv, resp);
    }
    u->upload_id = NULL; /* done: nothing to abort */
    log_stored(u, u->parts->nelts);
    return OK;
}

/* Abort an open multipart upload, so no parts stay behind (and are billed). */
static void upload_abort(upload_t *u)
{
    aws_http_response_t *resp;
    apr_status_t rv;

    if (!u->upload_id) {
        return;
    }
    rv = s3_multipart_abort(&resp, u->rt->client, u->key, u->upload_id, u->r->pool);
    if (!s3_client_ok(rv, resp) && !(resp && resp->status == 404)) {
        s3_log_failure(u->r, "AbortMultipartUpload (a bucket lifecycle rule will clean up)", u->key,
                       rv, resp);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, u->r,
                      LFLOGNO(02029) "upload of %s aborted after %" APR_OFF_T_FMT " bytes", u->key,
                      u->size);
    }
    u->upload_id = NULL;
}

/* The URL the object is served at through this location, or NULL if it is outside it. */
static const char *object_url(request_rec *r, const s3_dir_conf *conf, const char *key)
{
    apr_size_t n = strlen(conf->key_prefix);

    if (strncmp(key, conf->key_prefix, n)) {
        return NULL;
    }
    return apr_pstrcat(r->pool, conf->location ? conf->location : "", "/",
                       s3_key_url_path(key + n, r->pool), NULL);
}

static const char *result_json(request_rec *r, const s3_dir_conf *conf, const upload_t *u)
{
    const char *url = object_url(r, conf, u->key);

    return apr_psprintf(
        r->pool,
        "{\"key\":%s,\"size\":%" APR_OFF_T_FMT ",\"etag\":%s,"
        "\"content_type\":%s,\"url\":%s}",
        lf_json_str(u->key, r->pool), u->size, lf_json_str(u->etag ? u->etag : "", r->pool),
        lf_json_str(u->content_type, r->pool), url ? lf_json_str(url, r->pool) : "null");
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
    if ((rv = s3_spool_create(spool, (apr_size_t)mem, tmp, spool_digests((*rt)->client), r->pool))
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
    upload_init(&u, r, conf, rt, spool, length);
    upload_set_object(&u, key, type, NULL, conf->no_overwrite || inm);
    u.max = g.max;
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
    if (u.etag) {
        apr_table_setn(r->headers_out, "ETag", u.etag);
    }
    return send_json(r, HTTP_CREATED, result_json(r, conf, &u));
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
    apr_array_header_t *done; /* upload_t *: stored objects */
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
    const s3_token_t *tok = f->grant->token;
    const char *key, *prefix = f->conf->key_prefix;
    upload_t *u;

    (void)name;
    f->cur = NULL;
    if (!filename || !*filename) {
        return APR_SUCCESS; /* a plain field, or a file input left empty: nothing to store */
    }
    if (!type_allowed(f->r, f->conf, f->grant, type)) {
        return form_stop(f, HTTP_UNSUPPORTED_MEDIA_TYPE);
    }
    if (tok && strncmp(tok->key ? tok->key : tok->prefix, prefix, strlen(prefix))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, f->r,
                      LFLOGNO(02040) "upload refused: the token's key or prefix is outside %s %s",
                      S3_KEY_PREFIX, prefix);
        return form_stop(f, HTTP_FORBIDDEN);
    }
    if (tok && tok->key) {
        if (f->done->nelts) {
            return form_stop(f, HTTP_FORBIDDEN); /* a token for one key grants one file */
        }
        key = tok->key;
    }
    else {
        if (tok && tok->prefix) {
            prefix = tok->prefix;
        }
        if (s3_key_generate(&key, prefix, filename, f->r->pool) != APR_SUCCESS) {
            return form_stop(f, HTTP_INTERNAL_SERVER_ERROR);
        }
    }
    u = apr_palloc(f->r->pool, sizeof(*u));
    upload_init(u, f->r, f->conf, f->rt, f->spool, -1);
    upload_set_object(u, key, type, s3_mime_disposition("attachment", filename, f->r->pool),
                      f->conf->no_overwrite);
    u->max = f->grant->max;
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
    APR_ARRAY_PUSH(f->done, upload_t *) = f->cur;
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
        upload_t *u = APR_ARRAY_IDX(f->done, i, upload_t *);
        aws_http_response_t *resp;
        apr_status_t rv = s3_object_delete(&resp, f->rt->client, u->key, f->r->pool);
        if (!s3_client_ok(rv, resp)) {
            s3_log_failure(f->r, "DeleteObject (undoing a failed form)", u->key, rv, resp);
        }
    }
}

static int form_answer(request_rec *r, const s3_dir_conf *conf, const form_t *f)
{
    apr_array_header_t *parts = apr_array_make(r->pool, f->done->nelts + 1, sizeof(const char *));
    int i;

    if (conf->form_redirect) {
        const char *sep = strchr(conf->form_redirect, '?') ? "&" : "?";
        for (i = 0; i < f->done->nelts; ++i) {
            const upload_t *u = APR_ARRAY_IDX(f->done, i, upload_t *);
            APR_ARRAY_PUSH(parts, const char *) = apr_pstrcat(
                r->pool, i ? "&" : sep, "key=", ap_escape_urlencoded(r->pool, u->key), NULL);
        }
        apr_table_setn(
            r->headers_out, "Location",
            apr_pstrcat(r->pool, conf->form_redirect, apr_array_pstrcat(r->pool, parts, 0), NULL));
        return HTTP_SEE_OTHER;
    }
    for (i = 0; i < f->done->nelts; ++i) {
        APR_ARRAY_PUSH(parts, const char *) =
            result_json(r, conf, APR_ARRAY_IDX(f->done, i, upload_t *));
    }
    return send_json(
        r, HTTP_CREATED,
        apr_pstrcat(r->pool, "{\"files\":[", apr_array_pstrcat(r->pool, parts, ','), "]}", NULL));
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
    f.done = apr_array_make(r->pool, 4, sizeof(upload_t *));
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
