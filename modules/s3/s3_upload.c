/* s3_upload — one object streamed into S3, one part at a time (see s3_upload.h). */
#include <apr_escape.h>
#include <apr_strings.h>

#include "lf_json.h"
#include "s3_key.h"
#include "s3_upload.h"

const s3_upload_calls_t s3_upload_calls_client = {
    s3_client_signs_payload, s3_object_put,      s3_multipart_create, s3_multipart_upload_part,
    s3_multipart_complete,   s3_multipart_abort, s3_object_delete,
};

static const s3_upload_calls_t *calls_or_default(const s3_upload_calls_t *calls)
{
    return calls ? calls : &s3_upload_calls_client;
}

apr_off_t s3_upload_part_size(apr_off_t part_size, apr_off_t expected)
{
    /* A known length decides the part size: at most 10,000 parts, in whole MiB. */
    if (expected > 0 && (expected + part_size - 1) / part_size > S3_UPLOAD_MAX_PARTS) {
        return ((expected / S3_UPLOAD_MAX_PARTS) | 0xfffff) + 1;
    }
    return part_size;
}

unsigned int s3_upload_spool_digests(const s3_upload_calls_t *calls, const s3_client_t *client)
{
    return calls_or_default(calls)->signs_payload(client) ? S3_SPOOL_SHA256 : S3_SPOOL_CRC32;
}

void s3_upload_create(s3_upload_t **up, const s3_upload_config_t *cfg, apr_off_t expected,
                      const char *key, const char *type, const char *disposition, int no_overwrite,
                      apr_pool_t *p)
{
    s3_upload_t *u = apr_pcalloc(p, sizeof(*u));

    u->cfg = *cfg;
    u->cfg.calls = calls_or_default(cfg->calls);
    u->cfg.part_size = s3_upload_part_size(cfg->part_size, expected);
    u->pool = p;
    u->key = key;
    /* copied: a form part's strings last only as long as the part's headers */
    u->content_type = type && *type ? apr_pstrdup(p, type) : "application/octet-stream";
    u->headers = apr_array_make(p, 6, sizeof(aws_sigv4_header_t));
    aws_sigv4_header_add(u->headers, "Content-Type", u->content_type);
    if (disposition) {
        aws_sigv4_header_add(u->headers, "Content-Disposition", disposition);
    }
    u->no_overwrite = no_overwrite;
    u->parts = apr_array_make(p, 8, sizeof(s3_part_t));
    *up = u;
}

/* Record what failed; the status to return. */
static apr_status_t fail(s3_upload_t *u, s3_upload_failure_e failure, const char *name,
                         apr_status_t rv, const aws_http_response_t *resp)
{
    u->failure = failure;
    u->call.name = name;
    u->call.rv = rv;
    u->call.resp = resp;
    /* S3 may answer a failure with APR_SUCCESS and an error status or body */
    return rv != APR_SUCCESS ? rv : APR_EGENERAL;
}

/* The spooled bytes as a body, with the digest the client sends them with (the spool keeps only
 * that one: s3_upload_spool_digests()). A digest that fails leaves it NULL, and the client
 * refuses to send the body. */
static void spool_body(s3_body_t *b, s3_upload_t *u)
{
    s3_spool_t *spool = u->cfg.spool;

    memset(b, 0, sizeof(*b));
    b->read = s3_spool_read;
    b->rewind = s3_spool_rewind;
    b->baton = spool;
    b->len = s3_spool_size(spool);
    if (u->cfg.calls->signs_payload(u->cfg.client)) {
        s3_spool_sha256(spool, &b->sha256_hex, u->pool);
    }
    else {
        s3_spool_crc32(spool, &b->crc32, u->pool);
    }
    s3_spool_rewind(spool);
}

/* Send the spooled bytes as the next part, opening the multipart upload first if needed. */
static apr_status_t flush_part(s3_upload_t *u)
{
    const s3_upload_calls_t *calls = u->cfg.calls;
    aws_http_response_t *resp = NULL;
    s3_part_t part;
    s3_body_t body;
    apr_status_t rv;

    if (!u->upload_id) {
        rv = calls->multipart_create(&u->upload_id, &resp, u->cfg.client, u->key, u->headers,
                                     u->pool);
        if (!s3_client_ok(rv, resp) || !u->upload_id) {
            u->upload_id = NULL;
            return fail(u, S3_UPLOAD_FAILED_CALL, "CreateMultipartUpload", rv, resp);
        }
    }
    if (u->parts->nelts >= S3_UPLOAD_MAX_PARTS) {
        return fail(u, S3_UPLOAD_FAILED_PARTS, NULL, APR_ENOSPC, NULL);
    }
    spool_body(&body, u);
    memset(&part, 0, sizeof(part));
    resp = NULL;
    rv = calls->multipart_upload_part(&part, &resp, u->cfg.client, u->key, u->upload_id,
                                      u->parts->nelts + 1, &body, u->pool);
    if (!s3_client_ok(rv, resp) || !part.etag) {
        return fail(u, S3_UPLOAD_FAILED_CALL, "UploadPart", rv, resp);
    }
    APR_ARRAY_PUSH(u->parts, s3_part_t) = part;
    if ((rv = s3_spool_reset(u->cfg.spool)) != APR_SUCCESS) {
        return fail(u, S3_UPLOAD_FAILED_SPOOL_RESET, NULL, rv, NULL);
    }
    return APR_SUCCESS;
}

apr_status_t s3_upload_write(s3_upload_t *u, const char *data, apr_size_t len)
{
    apr_status_t rv;

    if (u->size + (apr_off_t)len > u->cfg.max) {
        return fail(u, S3_UPLOAD_FAILED_TOO_LARGE, NULL, APR_ENOSPC, NULL);
    }
    u->size += len;
    while (len) {
        apr_off_t room = u->cfg.part_size - s3_spool_size(u->cfg.spool);
        apr_size_t n;
        /* A full spool is sent only when more bytes come: the last part may be a full one,
         * and a body of exactly one part stays a single PutObject. */
        if (room == 0 && (rv = flush_part(u)) != APR_SUCCESS) {
            return rv;
        }
        room = u->cfg.part_size - s3_spool_size(u->cfg.spool);
        n = (apr_off_t)len < room ? len : (apr_size_t)room;
        if ((rv = s3_spool_write(u->cfg.spool, data, n)) != APR_SUCCESS) {
            return fail(u, S3_UPLOAD_FAILED_SPOOL_WRITE, NULL, rv, NULL);
        }
        data += n;
        len -= n;
    }
    return APR_SUCCESS;
}

apr_status_t s3_upload_finish(s3_upload_t *u)
{
    const s3_upload_calls_t *calls = u->cfg.calls;
    apr_array_header_t *conditions = NULL;
    aws_http_response_t *resp = NULL;
    s3_body_t body;
    apr_status_t rv;

    if (u->no_overwrite) { /* not on CreateMultipartUpload, which ignores it */
        conditions = apr_array_make(u->pool, 1, sizeof(aws_sigv4_header_t));
        aws_sigv4_header_add(conditions, "If-None-Match", "*");
    }
    if (!u->upload_id) {
        apr_array_header_t *headers = u->headers;
        if (conditions) {
            headers = apr_array_append(u->pool, u->headers, conditions);
        }
        spool_body(&body, u);
        rv = calls->object_put(&resp, u->cfg.client, u->key, headers, &body, u->pool);
        if (!s3_client_ok(rv, resp)) {
            return fail(u, S3_UPLOAD_FAILED_CALL, "PutObject", rv, resp);
        }
        u->etag = apr_table_get(resp->headers, "ETag");
        u->stored_parts = 1;
        return APR_SUCCESS;
    }
    if ((rv = flush_part(u)) != APR_SUCCESS) {
        return rv;
    }
    resp = NULL;
    rv = calls->multipart_complete(&u->etag, &resp, u->cfg.client, u->key, u->upload_id, u->parts,
                                   conditions, u->pool);
    if (!s3_client_ok(rv, resp) || !u->etag) {
        return fail(u, S3_UPLOAD_FAILED_CALL, "CompleteMultipartUpload", rv, resp);
    }
    u->upload_id = NULL; /* done: nothing to abort */
    u->stored_parts = u->parts->nelts;
    return APR_SUCCESS;
}

apr_status_t s3_upload_abort(s3_upload_call_t *call, s3_upload_t *u)
{
    aws_http_response_t *resp = NULL;
    apr_status_t rv;

    if (!u->upload_id) {
        return APR_ENOENT;
    }
    rv = u->cfg.calls->multipart_abort(&resp, u->cfg.client, u->key, u->upload_id, u->pool);
    u->upload_id = NULL;
    if (!s3_client_ok(rv, resp) && !(resp && resp->status == 404)) {
        call->name = "AbortMultipartUpload";
        call->rv = rv;
        call->resp = resp;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t s3_upload_delete(s3_upload_call_t *call, s3_upload_t *u)
{
    aws_http_response_t *resp = NULL;
    apr_status_t rv = u->cfg.calls->object_delete(&resp, u->cfg.client, u->key, u->pool);

    if (!s3_client_ok(rv, resp)) {
        call->name = "DeleteObject";
        call->rv = rv;
        call->resp = resp;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

const char *s3_upload_summary(const s3_upload_t *u)
{
    return apr_psprintf(u->pool, "%" APR_OFF_T_FMT " bytes in %d part%s, %s", u->size,
                        u->stored_parts, u->stored_parts == 1 ? "" : "s",
                        u->cfg.calls->signs_payload(u->cfg.client)
                            ? "payload signed (SHA-256)"
                            : "payload unsigned, with CRC32");
}

/* The path @p key is served at through the <Location>, or NULL when it is outside it. */
static const char *object_url(const char *key, const char *location, const char *key_prefix,
                              apr_pool_t *p)
{
    apr_size_t n = strlen(key_prefix);

    if (strncmp(key, key_prefix, n)) {
        return NULL;
    }
    return apr_pstrcat(p, location ? location : "", "/", s3_key_url_path(key + n, p), NULL);
}

const char *s3_upload_json(const s3_upload_t *u, const char *location, const char *key_prefix,
                           apr_pool_t *p)
{
    const char *url = object_url(u->key, location, key_prefix, p);

    return apr_psprintf(p,
                        "{\"key\":%s,\"size\":%" APR_OFF_T_FMT ",\"etag\":%s,"
                        "\"content_type\":%s,\"url\":%s}",
                        lf_json_str(u->key, p), u->size, lf_json_str(u->etag ? u->etag : "", p),
                        lf_json_str(u->content_type, p), url ? lf_json_str(url, p) : "null");
}

const char *s3_upload_form_json(const apr_array_header_t *done, const char *location,
                                const char *key_prefix, apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, done->nelts + 1, sizeof(const char *));
    int i;

    for (i = 0; i < done->nelts; ++i) {
        APR_ARRAY_PUSH(parts, const char *) =
            s3_upload_json(APR_ARRAY_IDX(done, i, s3_upload_t *), location, key_prefix, p);
    }
    return apr_pstrcat(p, "{\"files\":[", apr_array_pstrcat(p, parts, ','), "]}", NULL);
}

const char *s3_upload_form_redirect(const char *redirect, const apr_array_header_t *done,
                                    apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, done->nelts + 1, sizeof(const char *));
    const char *sep = strchr(redirect, '?') ? "&" : "?";
    int i;

    for (i = 0; i < done->nelts; ++i) {
        const s3_upload_t *u = APR_ARRAY_IDX(done, i, s3_upload_t *);
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(p, i ? "&" : sep, "key=", apr_pescape_urlencoded(p, u->key), NULL);
    }
    return apr_pstrcat(p, redirect, apr_array_pstrcat(p, parts, 0), NULL);
}
