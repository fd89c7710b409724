/* aws_sign — signs the transport's requests with SigV4 and the current credentials.
 *
 * Glue between aws_http (which calls a sign function before every attempt), aws_creds (which
 * hands out fresh credentials) and aws_sigv4 (which signs): each attempt is signed with the
 * credentials and the time of that attempt, so a retry after a refresh or a long backoff is
 * still valid. The Host header is signed and sent explicitly, so what the server sees is what
 * was signed whatever the URL's port.
 *
 * Pure core (APR, APR-util): used by every module that talks to AWS.
 */
#ifndef AWS_SIGN_H
#define AWS_SIGN_H

#include "aws_creds.h"
#include "aws_http.h"
#include "aws_sigv4.h"

/** What to sign for: one per service endpoint, shared by all threads (read-only). */
typedef struct aws_signer_t {
    aws_creds_provider_t *creds;
    aws_sigv4_cache_t *cache; /* signing keys; may be NULL */
    const char *region;
    const char *service;
    int s3; /* S3 rules: path encoded once and not normalized, x-amz-content-sha256 signed */
    apr_time_t (*now)(void); /* NULL: apr_time_now (tests pin the clock) */
} aws_signer_t;

/** The baton of aws_sign_request(), one per request. */
typedef struct aws_sign_baton_t {
    const aws_signer_t *signer;
    const char *payload_hash; /* hex SHA-256 of the body, AWS_SIGV4_UNSIGNED_PAYLOAD, or NULL:
                                 hash the in-memory body */
    const char *access_key;   /* out: the access key of the last signature (to invalidate it
                                 when the service says it expired) */
    const char *why;          /* out: why there were no credentials, for the log */
} aws_sign_baton_t;

/**
 * An aws_http_sign_fn: sign @p req (its URL, method and headers, all of which are signed) for
 * the Authorization header; @p baton is an aws_sign_baton_t.
 * @param headers out: Host, then the signer's headers, allocated from @p p
 * @return APR_SUCCESS; the error of aws_creds_get() (baton->why says why); APR_EINVAL for a URL
 *         that does not parse
 */
apr_status_t aws_sign_request(apr_array_header_t **headers, const aws_http_request_t *req,
                              void *baton, apr_pool_t *p);

/**
 * Send @p req through @p http signed by @p signer (aws_sign_request() for every attempt). When
 * the service says the credentials are stale (ExpiredToken, InvalidToken, TokenRefreshRequired,
 * InvalidAccessKeyId: temporary credentials rotated under us), they are dropped and the request
 * is signed and sent once more with fresh ones; a rejected request had no effect, so even a
 * POST may be repeated. Sets req->sign and req->sign_baton.
 * @param payload_hash as aws_sign_baton_t's
 * @return as aws_http_perform(); without credentials, resp->transport_error says why
 */
apr_status_t aws_sign_perform(aws_http_response_t **resp, aws_http_client_t *http,
                              const aws_signer_t *signer, aws_http_request_t *req,
                              const char *payload_hash, apr_pool_t *p);

/**
 * Presign a GET (or HEAD) of @p url for @p expires seconds, or less: a URL never outlives the
 * temporary credentials that signed it (it would fail with ExpiredToken).
 * @param signed_url out: @p url with the X-Amz-* query parameters, allocated from @p p
 * @param why out on error: why there were no credentials, allocated from @p p
 * @return as aws_sign_request(); APR_EINVAL also for credentials that expire within a second
 */
apr_status_t aws_sign_presign(const char **signed_url, const char **why, const aws_signer_t *signer,
                              const char *method, const char *url, apr_int64_t expires,
                              apr_pool_t *p);

#endif /* AWS_SIGN_H */
