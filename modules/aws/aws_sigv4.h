/* aws_sigv4 — AWS Signature Version 4: header signing (Authorization) and presigned URLs.
 *
 * Pure core (APR + OpenSSL): used by the modules that talk to AWS, by build/bin/lampfarm-sigv4
 * and by the unit tests. Two path modes: the general service mode (path normalized, encoded
 * once more) and the S3 mode (path taken as already encoded once, never normalized). The
 * signing time is a parameter, so tests pin the clock.
 */
#ifndef AWS_SIGV4_H
#define AWS_SIGV4_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** The payload hash for bodies that are not signed (S3 streaming uploads, presigned GETs). */
#define AWS_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/** One request header, in the order of the request; a name may repeat. */
typedef struct aws_sigv4_header_t {
    const char *name;
    const char *value; /* unfolded: continuation lines joined with single spaces */
} aws_sigv4_header_t;

/** The request to sign. */
typedef struct aws_sigv4_request_t {
    const char *method;
    const char *path;            /* as in the request line, before '?' */
    const char *query;           /* after '?', as in the request line; NULL or "" for none */
    apr_array_header_t *headers; /* aws_sigv4_header_t; all of them are signed */
    const void *body;            /* used for the payload hash when payload_hash is NULL */
    apr_size_t body_len;
} aws_sigv4_request_t;

/** Append a header (@p name and @p value are not copied). */
void aws_sigv4_header_add(apr_array_header_t *headers, const char *name, const char *value);

typedef struct aws_sigv4_cache_t aws_sigv4_cache_t;

/** How to sign. */
typedef struct aws_sigv4_params_t {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL when the credentials have none */
    const char *region;
    const char *service;
    apr_time_t time;           /* the signing time (injected: tests pin it) */
    int normalize_path;        /* remove dot segments and empty segments (not for S3) */
    int double_encode;         /* encode the path once more (every service but S3) */
    int omit_session_token;    /* token added after signing, not signed (some services) */
    int content_sha256_header; /* add and sign x-amz-content-sha256 (S3 requires it) */
    const char *payload_hash;  /* hex SHA-256, AWS_SIGV4_UNSIGNED_PAYLOAD, or NULL: hash body */
    apr_int64_t expires;       /* presigning: seconds the URL is valid, 1 to 604800 */
    aws_sigv4_cache_t *cache;  /* signing keys; NULL derives the key every time */
} aws_sigv4_params_t;

/** What signing produced; allocated from the pool given to the signing call. */
typedef struct aws_sigv4_result_t {
    const char *canonical_request;
    const char *string_to_sign;
    const char *signature;      /* hex */
    const char *signed_headers; /* "host;x-amz-date" */
    /** Header signing: headers to set on the request, in this order (aws_sigv4_header_t):
     *  X-Amz-Security-Token, X-Amz-Date, x-amz-content-sha256, Authorization (each if used). */
    apr_array_header_t *set_headers;
    /** Presigning: the query to send: the request's own, then the X-Amz-* parameters. */
    const char *query;
} aws_sigv4_result_t;

/**
 * Sign @p req for the Authorization header.
 * @param result out, allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL for missing parameters
 */
apr_status_t aws_sigv4_sign(aws_sigv4_result_t **result, const aws_sigv4_request_t *req,
                            const aws_sigv4_params_t *params, apr_pool_t *p);

/**
 * Sign @p req as a presigned URL (query-string authentication), valid params->expires seconds.
 * Headers of @p req are signed as they are; X-Amz-Date goes into the query.
 * @param result out, allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL for missing parameters or a bad expiry
 */
apr_status_t aws_sigv4_presign(aws_sigv4_result_t **result, const aws_sigv4_request_t *req,
                               const aws_sigv4_params_t *params, apr_pool_t *p);

/**
 * Create a thread-safe cache of signing keys, per (access key, date, region, service): a key
 * is valid for a day, and deriving it costs four HMACs per request otherwise.
 * @param cache out, allocated from @p p, which owns its mutex
 */
apr_status_t aws_sigv4_cache_create(aws_sigv4_cache_t **cache, apr_pool_t *p);

/**
 * Percent-encode @p len bytes of @p s as SigV4 wants: everything but A-Z a-z 0-9 - . _ ~ is
 * %XX (upper-case hex); '/' is kept when @p keep_slash.
 * @return the encoded string, allocated from @p p
 */
const char *aws_sigv4_uri_encode(const char *s, apr_size_t len, int keep_slash, apr_pool_t *p);

/** Hex SHA-256 of @p len bytes at @p data, allocated from @p p. */
const char *aws_sigv4_sha256_hex(const void *data, apr_size_t len, apr_pool_t *p);

/** "YYYYMMDDTHHMMSSZ" for @p t, allocated from @p p. */
const char *aws_sigv4_amz_date(apr_time_t t, apr_pool_t *p);

/**
 * Parse "YYYYMMDDTHHMMSSZ".
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t aws_sigv4_parse_amz_date(apr_time_t *t, const char *s);

#endif /* AWS_SIGV4_H */
