/* s3_upload — one object streamed into S3: part planning, a single PutObject or a multipart
 * upload, and the abort that leaves no parts behind.
 *
 * The caller writes the body as it arrives (s3_upload_write()); the bytes collect in a spool one
 * part at a time, and a full spool goes out as the next part only when more bytes come, so a body
 * of at most one part stays a single PutObject and the last part of a larger one may be a full
 * one. s3_upload_finish() sends the last part and completes the upload; after any failure the
 * caller calls s3_upload_abort(), which aborts an open multipart upload (S3 would keep, and bill,
 * its parts). Every part is sent from the spool, which can be read again from its start: the
 * client's transport (aws_http) retries a failed attempt by rewinding it, with the checksum the
 * spool computed as the bytes came.
 *
 * The S3 calls go through a table of functions (s3_upload_calls_t), s3_client's by default and a
 * fake in the unit tests. Nothing here logs: a failure leaves its cause in the upload
 * (s3_upload_t.failure and .call) for the caller's log line and answer.
 *
 * Pure core: APR, s3_client, s3_spool; no httpd. One upload belongs to one request.
 */
#ifndef S3_UPLOAD_H
#define S3_UPLOAD_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "s3_client.h"
#include "s3_spool.h"

/** The most parts S3 takes in one multipart upload. */
#define S3_UPLOAD_MAX_PARTS 10000

/**
 * The S3 calls of an upload, with the signatures of s3_client's functions
 * (s3_upload_calls_client): the seam through which unit tests drive the upload with a fake.
 */
typedef struct s3_upload_calls_t {
    int (*signs_payload)(const s3_client_t *c);
    apr_status_t (*object_put)(aws_http_response_t **resp, s3_client_t *c, const char *key,
                               const apr_array_header_t *headers, const s3_body_t *body,
                               apr_pool_t *p);
    apr_status_t (*multipart_create)(const char **upload_id, aws_http_response_t **resp,
                                     s3_client_t *c, const char *key,
                                     const apr_array_header_t *headers, apr_pool_t *p);
    apr_status_t (*multipart_upload_part)(s3_part_t *out, aws_http_response_t **resp,
                                          s3_client_t *c, const char *key, const char *upload_id,
                                          int part, const s3_body_t *body, apr_pool_t *p);
    apr_status_t (*multipart_complete)(const char **etag, aws_http_response_t **resp,
                                       s3_client_t *c, const char *key, const char *upload_id,
                                       const apr_array_header_t *parts,
                                       const apr_array_header_t *headers, apr_pool_t *p);
    apr_status_t (*multipart_abort)(aws_http_response_t **resp, s3_client_t *c, const char *key,
                                    const char *upload_id, apr_pool_t *p);
    apr_status_t (*object_delete)(aws_http_response_t **resp, s3_client_t *c, const char *key,
                                  apr_pool_t *p);
} s3_upload_calls_t;

/** s3_client's functions: what an upload calls unless told otherwise. */
extern const s3_upload_calls_t s3_upload_calls_client;

/** What an upload needs from its caller. */
typedef struct s3_upload_config_t {
    s3_client_t *client;
    const s3_upload_calls_t *calls; /* NULL: s3_upload_calls_client */
    s3_spool_t *spool;              /* empty; made with s3_upload_spool_digests()'s digests */
    apr_off_t part_size;            /* bytes per part (S3PartSize), before planning */
    apr_off_t max;                  /* bytes the object may have */
} s3_upload_config_t;

/** What stopped an upload: which of its fields tell more, and what the caller answers. */
typedef enum {
    S3_UPLOAD_OK = 0,
    S3_UPLOAD_FAILED_CALL,        /* an S3 call failed: s3_upload_t.call */
    S3_UPLOAD_FAILED_TOO_LARGE,   /* more bytes than s3_upload_config_t.max */
    S3_UPLOAD_FAILED_PARTS,       /* more than S3_UPLOAD_MAX_PARTS parts */
    S3_UPLOAD_FAILED_SPOOL_WRITE, /* the spool refused the bytes: call.rv (temp dir full?) */
    S3_UPLOAD_FAILED_SPOOL_RESET  /* the spool could not be emptied for the next part: call.rv */
} s3_upload_failure_e;

/** An S3 call that failed, as the client returned it (what mod_s3's s3_log_failure() takes). */
typedef struct s3_upload_call_t {
    const char *name;                /* "PutObject", "UploadPart", ... */
    apr_status_t rv;                 /* the client's status (may be APR_SUCCESS: see resp) */
    const aws_http_response_t *resp; /* S3's answer, or NULL */
} s3_upload_call_t;

/** One object being uploaded. The caller reads these fields; the functions below write them. */
typedef struct s3_upload_t {
    s3_upload_config_t cfg; /* with the planned part size and the calls */
    const char *key;
    const char *content_type;    /* as stored; application/octet-stream when none was given */
    apr_array_header_t *headers; /* aws_sigv4_header_t for PutObject / CreateMultipartUpload */
    int no_overwrite;            /* If-None-Match: *, checked by S3 at PutObject or Complete */
    apr_off_t size;              /* bytes received */
    const char *upload_id;       /* while a multipart upload is open */
    apr_array_header_t *parts;   /* s3_part_t of the parts sent */
    int stored_parts;            /* once stored: 1 for a PutObject, else the parts completed */
    const char *etag;            /* of the stored object (may stay NULL after a PutObject) */
    s3_upload_failure_e failure; /* of the last function that failed */
    s3_upload_call_t call;       /* the failed S3 call, or the spool's status */
    apr_pool_t *pool;
} s3_upload_t;

/**
 * The part size for a body of @p expected bytes: @p part_size, or, when that would take more than
 * S3_UPLOAD_MAX_PARTS parts, the smallest size in whole MiB that does not.
 * @param expected the body's length; <= 0 when it is not known
 */
apr_off_t s3_upload_part_size(apr_off_t part_size, apr_off_t expected);

/** The running digests a spool must keep for @p client's bodies (s3_spool_create()): SHA-256
 *  costs several times the CPU of CRC32, so never both. @p calls NULL: s3_client's. */
unsigned int s3_upload_spool_digests(const s3_upload_calls_t *calls, const s3_client_t *client);

/**
 * Start an upload of @p key.
 * @param u out, allocated from @p p, which also holds everything the upload allocates later
 * @param expected the body's length, for the part size; -1 when it is not known
 * @param type the Content-Type, or NULL or "" for application/octet-stream; copied
 * @param disposition a Content-Disposition to store, or NULL
 * @param no_overwrite nonzero: only create the object (If-None-Match: *)
 */
void s3_upload_create(s3_upload_t **u, const s3_upload_config_t *cfg, apr_off_t expected,
                      const char *key, const char *type, const char *disposition, int no_overwrite,
                      apr_pool_t *p);

/**
 * Take the next @p len bytes of the body; a full spool is sent as a part first (the multipart
 * upload opened before the first one).
 * @return APR_SUCCESS; on failure an error, with u->failure and u->call saying what failed
 */
apr_status_t s3_upload_write(s3_upload_t *u, const char *data, apr_size_t len);

/**
 * Store the object: the spooled bytes as one PutObject, or as the last part followed by
 * CompleteMultipartUpload. Sets u->etag and u->stored_parts.
 * @return APR_SUCCESS; on failure an error, with u->failure and u->call saying what failed
 */
apr_status_t s3_upload_finish(s3_upload_t *u);

/**
 * Abort the multipart upload @p u has open, if any.
 * @param call out when the abort failed: the AbortMultipartUpload call
 * @return APR_SUCCESS when it was aborted (or S3 no longer knows it: 404); APR_ENOENT when no
 *         multipart upload was open; APR_EGENERAL when the abort failed (a bucket lifecycle rule
 *         must clean up). Either way nothing is left to abort.
 */
apr_status_t s3_upload_abort(s3_upload_call_t *call, s3_upload_t *u);

/**
 * Delete the object @p u stored (undoing a request that fails after it).
 * @param call out when the deletion failed: the DeleteObject call
 * @return APR_SUCCESS; APR_EGENERAL when the deletion failed
 */
apr_status_t s3_upload_delete(s3_upload_call_t *call, s3_upload_t *u);

/**
 * How a stored object went: "<size> bytes in <n> part(s), payload signed (SHA-256)" or "...,
 * payload unsigned, with CRC32"; allocated from the upload's pool.
 */
const char *s3_upload_summary(const s3_upload_t *u);

/**
 * What an upload answers for a stored object, as JSON:
 * {"key":...,"size":...,"etag":...,"content_type":...,"url":...}, where url is the path the object
 * is served at through the <Location> (the key below @p key_prefix, URL-encoded, after
 * @p location), or null when the key is outside @p key_prefix.
 * @param location the <Location> path without a trailing '/', or NULL
 * @return allocated from @p p
 */
const char *s3_upload_json(const s3_upload_t *u, const char *location, const char *key_prefix,
                           apr_pool_t *p);

/**
 * What a form upload answers without S3FormRedirect: {"files":[...]} with s3_upload_json() of
 * each stored object.
 * @param done s3_upload_t * of the stored objects, in the form's order
 * @return allocated from @p p
 */
const char *s3_upload_form_json(const apr_array_header_t *done, const char *location,
                                const char *key_prefix, apr_pool_t *p);

/**
 * Where a form upload redirects with S3FormRedirect: @p redirect with "key=<key>" of each stored
 * object added to its query (form-URL-encoded: ' ' as '+', '/' as %2f).
 * @param done s3_upload_t * of the stored objects, in the form's order
 * @return allocated from @p p
 */
const char *s3_upload_form_redirect(const char *redirect, const apr_array_header_t *done,
                                    apr_pool_t *p);

#endif /* S3_UPLOAD_H */
