/* aws_sign — SigV4 signing of transport requests with current credentials (see aws_sign.h). */
#include <apr_strings.h>
#include <apr_uri.h>

#include "aws_sign.h"

/* The parts of @p url that SigV4 signs: the Host header value, the path and the query. */
static apr_status_t split_url(const char **host, const char **path, const char **query,
                              const char *url, apr_pool_t *p)
{
    apr_uri_t u;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.hostname || !u.scheme) {
        return APR_EINVAL;
    }
    /* The Host header as a client sends it: the port only when it is not the scheme's own. */
    if (u.port_str && u.port != apr_uri_port_of_scheme(u.scheme)) {
        *host = apr_pstrcat(p, u.hostname, ":", u.port_str, NULL);
    }
    else {
        *host = u.hostname;
    }
    *path = u.path && *u.path ? u.path : "/";
    *query = u.query;
    return APR_SUCCESS;
}

static apr_time_t signer_now(const aws_signer_t *s)
{
    return s->now ? s->now() : apr_time_now();
}

static void params_init(aws_sigv4_params_t *params, const aws_signer_t *s, const aws_creds_t *c)
{
    memset(params, 0, sizeof(*params));
    params->access_key = c->access_key;
    params->secret_key = c->secret_key;
    params->session_token = c->session_token;
    params->region = s->region;
    params->service = s->service;
    params->time = signer_now(s);
    params->normalize_path = !s->s3;
    params->double_encode = !s->s3;
    params->content_sha256_header = s->s3;
    params->cache = s->cache;
}

/* The request to sign: Host first, then the request's own headers. */
static apr_status_t sigv4_request(aws_sigv4_request_t *sreq, const char *method, const char *url,
                                  const apr_array_header_t *headers, apr_pool_t *p)
{
    const char *host;
    apr_status_t rv = split_url(&host, &sreq->path, &sreq->query, url, p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    sreq->method = method;
    sreq->headers = apr_array_make(p, 8, sizeof(aws_sigv4_header_t));
    aws_sigv4_header_add(sreq->headers, "Host", host);
    if (headers) {
        apr_array_cat(sreq->headers, headers);
    }
    return APR_SUCCESS;
}

apr_status_t aws_sign_request(apr_array_header_t **headers, const aws_http_request_t *req,
                              void *baton, apr_pool_t *p)
{
    aws_sign_baton_t *b = baton;
    aws_sigv4_request_t sreq;
    aws_sigv4_params_t params;
    aws_sigv4_result_t *res;
    aws_creds_t creds;
    apr_status_t rv;

    memset(&sreq, 0, sizeof(sreq));
    if ((rv = sigv4_request(&sreq, req->method, req->url, NULL, p)) != APR_SUCCESS) {
        return rv;
    }
    if (req->headers) {
        apr_array_cat(sreq.headers, req->headers);
    }
    sreq.body = req->body;
    sreq.body_len = req->read ? 0 : req->body_len;
    if ((rv = aws_creds_get(&creds, &b->why, b->signer->creds, p)) != APR_SUCCESS) {
        return rv;
    }
    params_init(&params, b->signer, &creds);
    params.payload_hash = b->payload_hash;
    if ((rv = aws_sigv4_sign(&res, &sreq, &params, p)) != APR_SUCCESS) {
        return rv;
    }
    b->access_key = creds.access_key;
    /* Host goes out as signed (curl would write the same, but need not); the request's own
     * headers are sent by the transport already. */
    *headers = apr_array_make(p, res->set_headers->nelts + 1, sizeof(aws_sigv4_header_t));
    APR_ARRAY_PUSH(*headers, aws_sigv4_header_t) =
        APR_ARRAY_IDX(sreq.headers, 0, aws_sigv4_header_t);
    apr_array_cat(*headers, res->set_headers);
    return APR_SUCCESS;
}

/* Errors that mean "these credentials are stale": temporary credentials expired or rotated. */
static int credentials_stale(const aws_http_response_t *r)
{
    const char *code = r->error ? r->error->code : NULL;

    return code
           && (!strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken")
               || !strcmp(code, "TokenRefreshRequired") || !strcmp(code, "InvalidAccessKeyId"));
}

apr_status_t aws_sign_perform(aws_http_response_t **resp, aws_http_client_t *http,
                              const aws_signer_t *signer, aws_http_request_t *req,
                              const char *payload_hash, apr_pool_t *p)
{
    aws_sign_baton_t sb;
    apr_status_t rv;
    int again;

    memset(&sb, 0, sizeof(sb));
    sb.signer = signer;
    sb.payload_hash = payload_hash;
    req->sign = aws_sign_request;
    req->sign_baton = &sb;
    for (again = 1;; again = 0) {
        rv = aws_http_perform(resp, http, req, p);
        if (!again || rv != APR_SUCCESS || !credentials_stale(*resp) || !sb.access_key
            || (req->read && (!req->rewind || req->rewind(req->read_baton) != APR_SUCCESS))) {
            break;
        }
        aws_creds_provider_invalidate(signer->creds, sb.access_key);
    }
    if (rv != APR_SUCCESS && sb.why) { /* the provider's reason beats the transport's guess */
        (*resp)->transport_error = apr_pstrcat(p, "no credentials: ", sb.why, NULL);
    }
    req->sign_baton = NULL; /* sb goes out of scope */
    return rv;
}

apr_status_t aws_sign_presign(const char **signed_url, const char **why, const aws_signer_t *signer,
                              const char *method, const char *url, apr_int64_t expires,
                              apr_pool_t *p)
{
    aws_sigv4_request_t sreq;
    aws_sigv4_params_t params;
    aws_sigv4_result_t *res;
    aws_creds_t creds;
    const char *q;
    apr_status_t rv;

    memset(&sreq, 0, sizeof(sreq));
    if ((rv = sigv4_request(&sreq, method, url, NULL, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = aws_creds_get(&creds, why, signer->creds, p)) != APR_SUCCESS) {
        return rv;
    }
    params_init(&params, signer, &creds);
    params.content_sha256_header = 0; /* a browser sends no such header */
    params.payload_hash = AWS_SIGV4_UNSIGNED_PAYLOAD;
    if (creds.expiration) {
        apr_int64_t left = apr_time_sec(creds.expiration - params.time);
        if (left < expires) {
            expires = left;
        }
        if (expires < 1) {
            *why = "the credentials expire too soon to presign a URL";
            return APR_EINVAL;
        }
    }
    params.expires = expires;
    if ((rv = aws_sigv4_presign(&res, &sreq, &params, p)) != APR_SUCCESS) {
        return rv;
    }
    q = strchr(url, '?');
    /* res->query holds the URL's own query, then the X-Amz-* parameters and the signature. */
    *signed_url = apr_pstrcat(p, q ? apr_pstrmemdup(p, url, (apr_size_t)(q - url)) : url, "?",
                              res->query, NULL);
    return APR_SUCCESS;
}
