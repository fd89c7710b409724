/* s3_download — the headers between a client and S3 when mod_s3 serves an object (see
 * s3_download.h).
 */
#include <apr_strings.h>

#include "aws_sigv4.h"
#include "s3_download.h"
#include "s3_key.h"
#include "s3_mime.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Request headers passed on to S3: ranges and conditions, which S3 answers itself. */
static const char *const passed_request[] = {
    "Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
};

/* Response headers passed on to the client; everything else of S3's (x-amz-*, Server) is not. */
static const char *const passed_response[] = {
    "ETag",          "Last-Modified",       "Accept-Ranges",    "Content-Range",
    "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language",
    "Expires",
};

/* The headers of an application's own body, which a hand-off discards. */
static const char *const entity[] = {
    "Content-Length",
    "ETag",
    "Last-Modified",
    "Content-Encoding",
};

void s3_download_request_headers(apr_array_header_t *headers, const apr_table_t *client)
{
    apr_size_t i;

    for (i = 0; i < COUNT(passed_request); ++i) {
        const char *v = apr_table_get(client, passed_request[i]);
        if (v) {
            aws_sigv4_header_add(headers, passed_request[i], v);
        }
    }
}

/* Set @p name in @p to when @p from has it. */
static void pass(apr_table_t *to, const apr_table_t *from, const char *name)
{
    const char *v = apr_table_get(from, name);

    if (v) {
        apr_table_setn(to, name, v);
    }
}

void s3_download_response_headers(apr_table_t *to, const apr_table_t *from,
                                  const apr_array_header_t *expose_meta)
{
    apr_size_t i;
    int j;

    for (i = 0; i < COUNT(passed_response); ++i) {
        pass(to, from, passed_response[i]);
    }
    for (j = 0; expose_meta && j < expose_meta->nelts; ++j) {
        pass(to, from, APR_ARRAY_IDX(expose_meta, j, const char *));
    }
}

const char *s3_download_disposition(const char *handed_off, const char *configured, const char *key,
                                    apr_pool_t *p)
{
    if (handed_off) {
        return handed_off;
    }
    if (strcmp(configured, "none")) {
        return s3_mime_disposition(configured, s3_key_basename(key), p);
    }
    return NULL;
}

void s3_download_drop_entity_headers(apr_table_t *headers)
{
    apr_size_t i;

    for (i = 0; i < COUNT(entity); ++i) {
        apr_table_unset(headers, entity[i]);
    }
}
