/* s3_mime — content types and dispositions for mod_s3: which content types an upload may have
 * (patterns from the configuration or an upload token), and the Content-Disposition header of
 * a download, safe for any file name a client sent (RFC 6266 with an RFC 5987 UTF-8 name).
 * Pure core: APR only, no httpd.
 */
#ifndef S3_MIME_H
#define S3_MIME_H

#include <apr_pools.h>
#include <apr_tables.h>

/**
 * Parse a list of content-type patterns separated by commas and/or whitespace:
 * "image/png, image/\* text/plain". A pattern is "type/subtype", "type/\*" or "\*\/\*" (RFC 9110
 * tokens, no parameters); a '*' is only ever a whole type or subtype. (These comments write '\*'
 * and '\/' where a C comment cannot hold "*" next to "/".)
 * @param patterns out: an array of const char *, lower-cased, at least one, allocated from @p p
 * @param why out on APR_EINVAL: what is wrong (the offending entry, escaped), from @p p
 * @return APR_SUCCESS, or APR_EINVAL for a malformed entry or an empty list
 */
apr_status_t s3_mime_parse_list(apr_array_header_t **patterns, const char **why, const char *list,
                                apr_pool_t *p);

/**
 * Whether @p content_type matches one of @p patterns (as s3_mime_parse_list() makes them).
 *
 * Comparison is case-insensitive; the content type's parameters (";charset=utf-8") and the
 * whitespace around it are ignored. A NULL or empty @p patterns allows everything. A content
 * type that is NULL, empty or not "type/subtype" (a '*' in it included) matches only "\*\/\*":
 * a client that sends no usable type cannot pass a narrower rule.
 * @return non-zero when allowed
 */
int s3_mime_type_allowed(const apr_array_header_t *patterns, const char *content_type);

/**
 * The part of a client's file name that is safe to show and to store: the base name (after
 * the last '/' or '\\'), with control characters (below 0x20, 0x7f) and bytes that are not
 * UTF-8 each replaced by '_'. The result is valid UTF-8 and may hold any other character.
 * @param filename the client's name, or NULL
 * @return the name, allocated from @p p; "" for NULL or a name that ends in a separator
 */
const char *s3_mime_sanitize_filename(const char *filename, apr_pool_t *p);

/**
 * A Content-Disposition value (RFC 6266) for a download.
 *
 * Without a file name (NULL, or nothing left after s3_mime_sanitize_filename()), just the
 * type. Otherwise `type; filename="..."` with an ASCII fallback in which quotes, backslashes,
 * '%' and every non-ASCII character become '_'; and when that fallback is not the name itself,
 * also `filename*=UTF-8''...` with the name percent-encoded outside the RFC 5987 attr-chars
 * (RFC 6266 appendix D: the '%' stays out of the fallback because some clients decode it).
 * @param type "attachment" or "inline"; NULL is taken as "attachment"
 * @param filename the file name, or NULL; any path in it is dropped
 * @return the header value, allocated from @p p (or @p type itself)
 */
const char *s3_mime_disposition(const char *type, const char *filename, apr_pool_t *p);

#endif /* S3_MIME_H */
