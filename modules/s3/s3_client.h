/* s3_client — the S3 operations mod_s3 needs, over the AWS transport.
 *
 * Object GET/HEAD (streamed to a sink), PutObject and the multipart upload calls (bodies read
 * from a source that can start again, so every attempt can be retried), HeadBucket, and
 * presigned GET URLs. Every request is signed per attempt (aws_sign); when S3 says the
 * credentials expired, they are dropped and the request is signed once more with fresh ones.
 * What S3 answered maps onto the status a client gets in s3_client_status().
 *
 * An upload body goes out one of two ways, each checked by S3 against the bytes it receives:
 * its SHA-256 signed as the payload hash (x-amz-content-sha256), or, over HTTPS, with
 * x-amz-content-sha256: UNSIGNED-PAYLOAD and its CRC32 in a signed x-amz-checksum-crc32 header,
 * as the AWS SDKs send uploads over TLS: CRC32 costs a fraction of SHA-256's CPU, and TLS already
 * protects the bytes on the way. A multipart upload then declares the algorithm when it is
 * created (x-amz-checksum-algorithm) and lists every part's CRC32 when it is completed.
 *
 * Pure core (APR, libcurl through aws_http): used by mod_s3 and the unit tests.
 */
#ifndef S3_CLIENT_H
#define S3_CLIENT_H

#include "aws_creds.h"
#include "aws_http.h"
#include "aws_sign.h"

/** How upload bodies (PutObject, UploadPart) go out. */
typedef enum {
    S3_PAYLOAD_AUTO = 0, /* CRC32 over https, SHA-256 signed over http */
    S3_PAYLOAD_SIGNED,   /* x-amz-content-sha256: the body's SHA-256, signed */
    S3_PAYLOAD_CRC32     /* UNSIGNED-PAYLOAD and x-amz-checksum-crc32, also over http */
} s3_payload_e;

/** Where the bucket is. */
typedef struct s3_client_config_t {
    const char *bucket;
    const char *region;
    const char *endpoint; /* any S3-compatible base URL; NULL: https://s3.<region>.amazonaws.com */
    int path_style;       /* 1: endpoint/bucket/key; 0: bucket.endpoint-host/key;
                             -1: path style for a configured endpoint, virtual-hosted for AWS */
    int payload;          /* s3_payload_e: how upload bodies are checked */
} s3_client_config_t;

typedef struct s3_client_t s3_client_t;

/** A request body that can be read again from its start (for retries). */
typedef struct s3_body_t {
    aws_http_read_fn *read;
    aws_http_rewind_fn *rewind;
    void *baton;
    apr_off_t len;
    const char *sha256_hex; /* hex SHA-256: the signed payload hash (s3_client_signs_payload) */
    const char *crc32;      /* base64 CRC32 (s3_spool_crc32): x-amz-checksum-crc32 otherwise */
} s3_body_t;

/** An uploaded part, for CompleteMultipartUpload. */
typedef struct s3_part_t {
    const char *etag;  /* as UploadPart answered it */
    const char *crc32; /* base64 CRC32 the part was sent with; NULL when its payload was signed */
} s3_part_t;

/**
 * Create a client; it holds no connection (aws_http keeps those per thread).
 * @param client out, allocated from @p p
 * @param why out on error: what is wrong with the configuration, allocated from @p p
 * @param creds, http, keys shared with other clients; @p keys may be NULL
 * @return APR_SUCCESS; APR_EINVAL for a bad endpoint or bucket name
 */
apr_status_t s3_client_create(s3_client_t **client, const char **why, const s3_client_config_t *cfg,
                              aws_creds_provider_t *creds, aws_http_client_t *http,
                              aws_sigv4_cache_t *keys, apr_pool_t *p);

/** The URL of @p key (no query), allocated from @p p. */
const char *s3_client_object_url(const s3_client_t *c, const char *key, apr_pool_t *p);

/**
 * Whether upload bodies are signed with their SHA-256 (1), or sent with UNSIGNED-PAYLOAD and
 * their CRC32 (0): S3PayloadSigning's choice for this endpoint. It says which digest an
 * s3_body_t must carry.
 */
int s3_client_signs_payload(const s3_client_t *c);

/**
 * How @p body goes out: the payload hash to sign, and the checksum headers to add to
 * @p headers (x-amz-checksum-crc32 and x-amz-sdk-checksum-algorithm, when not signed).
 * @param payload_hash out: body->sha256_hex or AWS_SIGV4_UNSIGNED_PAYLOAD
 * @return APR_SUCCESS; APR_EINVAL when the body lacks the digest the client needs
 */
apr_status_t s3_client_body_checksum(const char **payload_hash, apr_array_header_t *headers,
                                     const s3_client_t *c, const s3_body_t *body);

/**
 * GET or HEAD an object; 2xx answers go to @p sink (on_head, on_data and sink_baton used), other
 * answers (304, 404, 412, 416...) come back in *resp.
 * @param headers request headers to pass on (Range, If-None-Match, ...), aws_sigv4_header_t
 * @return as aws_http_perform()
 */
apr_status_t s3_object_get(aws_http_response_t **resp, s3_client_t *c, const char *method,
                           const char *key, const apr_array_header_t *headers,
                           const aws_http_request_t *sink, apr_pool_t *p);

/**
 * PutObject with a known length and checksum (s3_client_body_checksum()).
 * @param headers Content-Type, Content-Disposition, x-amz-meta-*, If-None-Match...
 * @return as aws_http_perform(); APR_EINVAL when the body lacks its checksum
 */
apr_status_t s3_object_put(aws_http_response_t **resp, s3_client_t *c, const char *key,
                           const apr_array_header_t *headers, const s3_body_t *body, apr_pool_t *p);

/**
 * CreateMultipartUpload; @p upload_id out, from @p p, when S3 answered with one. Without payload
 * signing it declares x-amz-checksum-algorithm: CRC32, which every part then carries.
 */
apr_status_t s3_multipart_create(const char **upload_id, aws_http_response_t **resp, s3_client_t *c,
                                 const char *key, const apr_array_header_t *headers, apr_pool_t *p);

/**
 * UploadPart number @p part (1..10000), with its checksum as s3_object_put().
 * @param out on success: the part's ETag and the CRC32 it was sent with (NULL when its payload
 *        was signed), allocated from @p p, for s3_multipart_complete()
 */
apr_status_t s3_multipart_upload_part(s3_part_t *out, aws_http_response_t **resp, s3_client_t *c,
                                      const char *key, const char *upload_id, int part,
                                      const s3_body_t *body, apr_pool_t *p);

/**
 * The body of CompleteMultipartUpload: every part's number, ETag and, when it was sent with
 * one, its ChecksumCRC32 (S3 refuses to complete an upload created with a checksum algorithm
 * without them).
 * @param parts s3_part_t, part 1 first
 * @return the XML, allocated from @p p
 */
const char *s3_multipart_complete_xml(const apr_array_header_t *parts, apr_pool_t *p);

/**
 * CompleteMultipartUpload (s3_multipart_complete_xml()). S3 can answer 200 and still fail: then
 * resp->error is set, and the caller must treat it as a failure.
 * @param parts s3_part_t, part 1 first
 * @param etag out, from @p p: the object's ETag, when it succeeded
 */
apr_status_t s3_multipart_complete(const char **etag, aws_http_response_t **resp, s3_client_t *c,
                                   const char *key, const char *upload_id,
                                   const apr_array_header_t *parts,
                                   const apr_array_header_t *headers, apr_pool_t *p);

/** AbortMultipartUpload (retried: it is safe to repeat). */
apr_status_t s3_multipart_abort(aws_http_response_t **resp, s3_client_t *c, const char *key,
                                const char *upload_id, apr_pool_t *p);

/** DeleteObject (retried: it is safe to repeat). */
apr_status_t s3_object_delete(aws_http_response_t **resp, s3_client_t *c, const char *key,
                              apr_pool_t *p);

/** HeadBucket: whether the bucket is there and these credentials may use it; one attempt,
 *  bounded by @p timeout (0: the client's). */
apr_status_t s3_bucket_head(aws_http_response_t **resp, s3_client_t *c, apr_interval_time_t timeout,
                            apr_pool_t *p);

/**
 * A presigned GET URL for @p key, valid @p expires seconds or until the credentials expire.
 * @param disposition a response-content-disposition to ask S3 for, or NULL
 * @param url out, allocated from @p p
 * @param why out on error, allocated from @p p
 */
apr_status_t s3_object_presign(const char **url, const char **why, s3_client_t *c, const char *key,
                               const char *disposition, apr_int64_t expires, apr_pool_t *p);

/**
 * Whether a call succeeded: an HTTP 2xx answer without an error body.
 */
int s3_client_ok(apr_status_t rv, const aws_http_response_t *resp);

/**
 * The HTTP status a client gets for what S3 answered: NoSuchKey and NoSuchUpload 404,
 * AccessDenied 403, PreconditionFailed 412, InvalidRange 416, EntityTooLarge 413, throttling and
 * 503 (after the retries) 503, a timeout 504, 304 and 2xx as they are, anything else 502.
 */
int s3_client_status(apr_status_t rv, const aws_http_response_t *resp);

#endif /* S3_CLIENT_H */
