/* s3_client — S3 operations over the AWS transport (see s3_client.h). */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_uri.h>

#include "aws_error.h"
#include "s3_client.h"
#include "s3_key.h"

/* How S3 names the checksum of unsigned upload bodies, in each place it appears. */
#define CHECKSUM_ALGORITHM "CRC32"
#define CHECKSUM_HEADER    "x-amz-checksum-crc32"

struct s3_client_t {
    const char *base_url; /* objects are base_url "/" key */
    aws_signer_t signer;
    aws_http_client_t *http;
    int sign_payload; /* upload bodies: SHA-256 signed (1), or UNSIGNED-PAYLOAD + CRC32 (0) */
};

/* Bucket names as S3 allows them today (3 to 63 of a-z 0-9 . -), plus the '_' and capitals
 * of legacy us-east-1 buckets, which only path-style addressing can reach. */
static int bucket_name_ok(const char *b, int *dns_safe)
{
    apr_size_t n = strlen(b);
    const char *s;

    *dns_safe = 1;
    if (n < 3 || n > 255) {
        return 0;
    }
    for (s = b; *s; ++s) {
        if (apr_isupper(*s) || *s == '_' || *s == '.') {
            *dns_safe = 0; /* '.' breaks the wildcard TLS certificate of virtual-hosted names */
        }
        else if (!apr_islower(*s) && !apr_isdigit(*s) && *s != '-') {
            return 0;
        }
    }
    if (n > 63) {
        *dns_safe = 0;
    }
    return 1;
}

apr_status_t s3_client_create(s3_client_t **client, const char **why, const s3_client_config_t *cfg,
                              aws_creds_provider_t *creds, aws_http_client_t *http,
                              aws_sigv4_cache_t *keys, apr_pool_t *p)
{
    s3_client_t *c = apr_pcalloc(p, sizeof(*c));
    const char *endpoint = cfg->endpoint;
    int dns_safe, path_style = cfg->path_style;
    apr_uri_t u;

    if (!cfg->bucket || !bucket_name_ok(cfg->bucket, &dns_safe)) {
        *why = "not a valid bucket name";
        return APR_EINVAL;
    }
    if (!cfg->region || !*cfg->region) {
        *why = "no region";
        return APR_EINVAL;
    }
    if (!endpoint) {
        endpoint = apr_pstrcat(p, "https://s3.", cfg->region, ".amazonaws.com", NULL);
        if (path_style < 0) {
            path_style = !dns_safe;
        }
    }
    else if (path_style < 0) {
        path_style = 1; /* S3-compatible servers and local endpoints rarely have wildcard DNS */
    }
    if (apr_uri_parse(p, endpoint, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https"))
        || (u.path && strcmp(u.path, "/") && *u.path) || u.query || u.user) {
        *why = "the endpoint is not a URL like https://host[:port]";
        return APR_EINVAL;
    }
    if (!path_style && !dns_safe) {
        *why = "this bucket name can only be reached with path-style addressing";
        return APR_EINVAL;
    }
    /* Unsigned bodies only where TLS protects them on the way, unless told otherwise: over
     * plain http anyone on the path could change a body and its CRC32 together. */
    c->sign_payload = cfg->payload == S3_PAYLOAD_SIGNED
                      || (cfg->payload == S3_PAYLOAD_AUTO && strcasecmp(u.scheme, "https"));
    if (path_style) {
        c->base_url = apr_pstrcat(p, u.scheme, "://", u.hostinfo, "/", cfg->bucket, NULL);
    }
    else {
        c->base_url = apr_pstrcat(p, u.scheme, "://", cfg->bucket, ".", u.hostinfo, NULL);
    }
    c->signer.creds = creds;
    c->signer.cache = keys;
    c->signer.region = apr_pstrdup(p, cfg->region);
    c->signer.service = "s3";
    c->signer.s3 = 1;
    c->http = http;
    *client = c;
    return APR_SUCCESS;
}

const char *s3_client_object_url(const s3_client_t *c, const char *key, apr_pool_t *p)
{
    return apr_pstrcat(p, c->base_url, "/", s3_key_url_path(key, p), NULL);
}

int s3_client_signs_payload(const s3_client_t *c)
{
    return c->sign_payload;
}

apr_status_t s3_client_body_checksum(const char **payload_hash, apr_array_header_t *headers,
                                     const s3_client_t *c, const s3_body_t *body)
{
    if (c->sign_payload) {
        *payload_hash = body->sha256_hex;
        return body->sha256_hex ? APR_SUCCESS : APR_EINVAL;
    }
    if (!body->crc32) {
        return APR_EINVAL;
    }
    *payload_hash = AWS_SIGV4_UNSIGNED_PAYLOAD;
    /* Both signed like every header we send. x-amz-sdk-checksum-algorithm is what the SDKs send
     * with the checksum; S3 wants the two to agree. */
    aws_sigv4_header_add(headers, CHECKSUM_HEADER, body->crc32);
    aws_sigv4_header_add(headers, "x-amz-sdk-checksum-algorithm", CHECKSUM_ALGORITHM);
    return APR_SUCCESS;
}

/* Every S3 call: signed per attempt, once more after stale credentials (aws_sign_perform). */
static apr_status_t call(aws_http_response_t **resp, s3_client_t *c, aws_http_request_t *req,
                         const char *payload_hash, apr_pool_t *p)
{
    return aws_sign_perform(resp, c->http, &c->signer, req, payload_hash, p);
}

static void request_init(aws_http_request_t *req, const char *method, const char *url,
                         const apr_array_header_t *headers, apr_pool_t *p)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->url = url;
    req->headers =
        headers ? apr_array_copy(p, headers) : apr_array_make(p, 4, sizeof(aws_sigv4_header_t));
    req->idempotent = 1;
}

/* The body, its length and its checksum; @p payload_hash out, for the signature. */
static apr_status_t set_body(const char **payload_hash, aws_http_request_t *req,
                             const s3_client_t *c, const s3_body_t *body, apr_pool_t *p)
{
    apr_status_t rv = s3_client_body_checksum(payload_hash, req->headers, c, body);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    req->read = body->read;
    req->rewind = body->rewind;
    req->read_baton = body->baton;
    req->body_len = (apr_size_t)body->len;
    /* A slow part upload is bounded by the low-speed limit, not by a total time. */
    req->timeout = -1;
    aws_sigv4_header_add(req->headers, "Content-Length", apr_off_t_toa(p, body->len));
    return APR_SUCCESS;
}

/* The answer of a call that was not sent: the caller passed a body without its checksum. */
static apr_status_t not_sent(aws_http_response_t **resp, apr_status_t rv, apr_pool_t *p)
{
    *resp = apr_pcalloc(p, sizeof(**resp));
    (*resp)->transport_error = "the body has no checksum for this endpoint (a bug)";
    return rv;
}

apr_status_t s3_object_get(aws_http_response_t **resp, s3_client_t *c, const char *method,
                           const char *key, const apr_array_header_t *headers,
                           const aws_http_request_t *sink, apr_pool_t *p)
{
    aws_http_request_t req;

    request_init(&req, method, s3_client_object_url(c, key, p), headers, p);
    if (sink) {
        req.on_head = sink->on_head;
        req.on_data = sink->on_data;
        req.sink_baton = sink->sink_baton;
        req.timeout = -1; /* a large download to a slow client takes its time */
    }
    return call(resp, c, &req, AWS_SIGV4_UNSIGNED_PAYLOAD, p);
}

apr_status_t s3_object_put(aws_http_response_t **resp, s3_client_t *c, const char *key,
                           const apr_array_header_t *headers, const s3_body_t *body, apr_pool_t *p)
{
    aws_http_request_t req;
    const char *payload_hash;
    apr_status_t rv;

    request_init(&req, "PUT", s3_client_object_url(c, key, p), headers, p);
    if ((rv = set_body(&payload_hash, &req, c, body, p)) != APR_SUCCESS) {
        return not_sent(resp, rv, p);
    }
    return call(resp, c, &req, payload_hash, p);
}

apr_status_t s3_multipart_create(const char **upload_id, aws_http_response_t **resp, s3_client_t *c,
                                 const char *key, const apr_array_header_t *headers, apr_pool_t *p)
{
    aws_http_request_t req;
    apr_status_t rv;

    *upload_id = NULL;
    request_init(&req, "POST", apr_pstrcat(p, s3_client_object_url(c, key, p), "?uploads", NULL),
                 headers, p);
    if (!c->sign_payload) {
        /* else S3 refuses parts with a checksum ("Checksum Type mismatch") */
        aws_sigv4_header_add(req.headers, "x-amz-checksum-algorithm", CHECKSUM_ALGORITHM);
    }
    req.idempotent = 0; /* a repeat would start a second upload, orphaned */
    rv = call(resp, c, &req, NULL, p);
    if (s3_client_ok(rv, *resp)
        && aws_xml_child_text(upload_id, (*resp)->body, (*resp)->body_len,
                              "InitiateMultipartUploadResult", "UploadId", p)
               != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return rv;
}

static const char *upload_query(const char *upload_id, apr_pool_t *p)
{
    return aws_sigv4_uri_encode(upload_id, strlen(upload_id), 0, p);
}

apr_status_t s3_multipart_upload_part(s3_part_t *out, aws_http_response_t **resp, s3_client_t *c,
                                      const char *key, const char *upload_id, int part,
                                      const s3_body_t *body, apr_pool_t *p)
{
    aws_http_request_t req;
    const char *payload_hash, *etag;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    request_init(&req, "PUT",
                 apr_psprintf(p, "%s?partNumber=%d&uploadId=%s", s3_client_object_url(c, key, p),
                              part, upload_query(upload_id, p)),
                 NULL, p);
    /* a part may be sent again: it replaces itself */
    if ((rv = set_body(&payload_hash, &req, c, body, p)) != APR_SUCCESS) {
        return not_sent(resp, rv, p);
    }
    rv = call(resp, c, &req, payload_hash, p);
    if (s3_client_ok(rv, *resp)) {
        if (!(etag = apr_table_get((*resp)->headers, "ETag"))) {
            return APR_EGENERAL;
        }
        out->etag = apr_pstrdup(p, etag);
        out->crc32 = c->sign_payload ? NULL : apr_pstrdup(p, body->crc32);
    }
    return rv;
}

const char *s3_multipart_complete_xml(const apr_array_header_t *parts, apr_pool_t *p)
{
    apr_array_header_t *xml = apr_array_make(p, parts->nelts + 2, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(xml, const char *) = "<CompleteMultipartUpload>";
    for (i = 0; i < parts->nelts; ++i) {
        const s3_part_t *part = &APR_ARRAY_IDX(parts, i, s3_part_t);
        /* ETags are quoted hex from S3 and checksums base64: nothing in them needs escaping,
         * but be safe. */
        const char *crc =
            part->crc32 ? apr_pstrcat(p, "<ChecksumCRC32>", apr_pescape_entity(p, part->crc32, 0),
                                      "</ChecksumCRC32>", NULL)
                        : "";
        APR_ARRAY_PUSH(xml, const char *) =
            apr_psprintf(p, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>%s</Part>", i + 1,
                         apr_pescape_entity(p, part->etag, 0), crc);
    }
    APR_ARRAY_PUSH(xml, const char *) = "</CompleteMultipartUpload>";
    return apr_array_pstrcat(p, xml, 0);
}

apr_status_t s3_multipart_complete(const char **etag, aws_http_response_t **resp, s3_client_t *c,
                                   const char *key, const char *upload_id,
                                   const apr_array_header_t *parts,
                                   const apr_array_header_t *headers, apr_pool_t *p)
{
    aws_http_request_t req;
    apr_status_t rv;

    *etag = NULL;
    request_init(&req, "POST",
                 apr_pstrcat(p, s3_client_object_url(c, key, p),
                             "?uploadId=", upload_query(upload_id, p), NULL),
                 headers, p);
    req.body = s3_multipart_complete_xml(parts, p);
    req.body_len = strlen(req.body);
    aws_sigv4_header_add(req.headers, "Content-Type", "application/xml");
    /* Completing twice is harmless (the second answers NoSuchUpload or the same result), and a
     * lost answer would otherwise leave the upload open. */
    req.idempotent = 1;
    req.timeout = -1; /* S3 may take minutes to assemble a large object, sending spaces */
    rv = call(resp, c, &req, NULL, p);
    /* Any root: S3 says CompleteMultipartUploadResult, some S3-compatible servers (moto among
     * them) ...Response; an <Error> root was parsed as resp->error already. */
    if (s3_client_ok(rv, *resp)
        && aws_xml_child_text(etag, (*resp)->body, (*resp)->body_len, NULL, "ETag", p)
               != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return rv;
}

apr_status_t s3_multipart_abort(aws_http_response_t **resp, s3_client_t *c, const char *key,
                                const char *upload_id, apr_pool_t *p)
{
    aws_http_request_t req;

    request_init(&req, "DELETE",
                 apr_pstrcat(p, s3_client_object_url(c, key, p),
                             "?uploadId=", upload_query(upload_id, p), NULL),
                 NULL, p);
    return call(resp, c, &req, NULL, p);
}

apr_status_t s3_object_delete(aws_http_response_t **resp, s3_client_t *c, const char *key,
                              apr_pool_t *p)
{
    aws_http_request_t req;

    request_init(&req, "DELETE", s3_client_object_url(c, key, p), NULL, p);
    return call(resp, c, &req, NULL, p);
}

apr_status_t s3_bucket_head(aws_http_response_t **resp, s3_client_t *c, apr_interval_time_t timeout,
                            apr_pool_t *p)
{
    aws_http_request_t req;

    request_init(&req, "HEAD", apr_pstrcat(p, c->base_url, "/", NULL), NULL, p);
    req.timeout = timeout;
    req.max_attempts = 1; /* a health check reports how things are now */
    return call(resp, c, &req, NULL, p);
}

apr_status_t s3_object_presign(const char **url, const char **why, s3_client_t *c, const char *key,
                               const char *disposition, apr_int64_t expires, apr_pool_t *p)
{
    const char *u = s3_client_object_url(c, key, p);

    if (disposition) {
        u = apr_pstrcat(p, u, "?response-content-disposition=",
                        aws_sigv4_uri_encode(disposition, strlen(disposition), 0, p), NULL);
    }
    return aws_sign_presign(url, why, &c->signer, "GET", u, expires, p);
}

int s3_client_ok(apr_status_t rv, const aws_http_response_t *resp)
{
    return rv == APR_SUCCESS && resp->status >= 200 && resp->status < 300 && !resp->error;
}

int s3_client_status(apr_status_t rv, const aws_http_response_t *resp)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"NoSuchKey", 404},          {"NoSuchUpload", 404},       {"AccessDenied", 403},
        {"PreconditionFailed", 412}, {"InvalidRange", 416},       {"EntityTooLarge", 413},
        {"SlowDown", 503},           {"ServiceUnavailable", 503}, {"RequestTimeout", 504},
    };
    const char *code = resp && resp->error ? resp->error->code : NULL;
    apr_size_t i;

    if (rv == APR_TIMEUP) {
        return 504;
    }
    if (rv != APR_SUCCESS || !resp || !resp->status) {
        return 502;
    }
    for (i = 0; code && i < sizeof(map) / sizeof(map[0]); ++i) {
        if (!strcmp(code, map[i].code)) {
            return map[i].status;
        }
    }
    if (code) {
        return 502;
    }
    if (resp->status == 304 || (resp->status >= 200 && resp->status < 300)) {
        return resp->status;
    }
    switch (resp->status) {
    case 404: /* a HEAD has no body to say why */
    case 403:
    case 412:
    case 416:
    case 503:
        return resp->status;
    default:
        return 502;
    }
}
