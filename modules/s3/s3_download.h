/* s3_download — what mod_s3 passes between a client and S3 when it serves an object: the
 * request headers S3 answers itself (ranges, conditions), the response headers the client sees,
 * and the Content-Disposition of a download. Pure core: APR only.
 */
#ifndef S3_DOWNLOAD_H
#define S3_DOWNLOAD_H

#include <apr_pools.h>
#include <apr_tables.h>

/**
 * Add to a GET/HEAD for S3 the client's Range and conditional headers (If-Range, If-Match,
 * If-None-Match, If-Modified-Since, If-Unmodified-Since): S3 answers them itself.
 * @param headers aws_sigv4_header_t elements to append to (values not copied)
 * @param client the client's request headers
 */
void s3_download_request_headers(apr_array_header_t *headers, const apr_table_t *client);

/**
 * Set in @p to those of S3's response headers that a client sees: the object's validators,
 * ranges and representation headers, and the x-amz-meta-* headers of @p expose_meta; nothing
 * else of S3's (x-amz-*, Server). Content-Type and Content-Length are left to the caller.
 * @param to the client's response headers (values not copied)
 * @param expose_meta lower-case x-amz-meta-* names (S3ExposeMeta), or NULL
 */
void s3_download_response_headers(apr_table_t *to, const apr_table_t *from,
                                  const apr_array_header_t *expose_meta);

/**
 * The Content-Disposition of a download of @p key.
 * @param handed_off what the application asked for (hand-off, s3_handoff_parse()), or NULL
 * @param configured S3Disposition: "none", "attachment" or "inline"
 * @return @p handed_off when set; for "attachment" or "inline", that type with the key's last
 *         segment as file name (s3_mime_disposition(), allocated from @p p); NULL for "none"
 *         (what S3 stored, if anything, passes)
 */
const char *s3_download_disposition(const char *handed_off, const char *configured, const char *key,
                                    apr_pool_t *p);

/**
 * Remove the headers that describe an application's own body (Content-Length, ETag,
 * Last-Modified, Content-Encoding) when its response is replaced by an object (hand-off).
 */
void s3_download_drop_entity_headers(apr_table_t *headers);

#endif /* S3_DOWNLOAD_H */
