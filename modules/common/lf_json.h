/* lf_json — the two pieces the modules' JSON status bodies need: a quoted, escaped string and
 * an RFC 3339 time. (APR 1.7 has no JSON escaper.) Pure: APR only.
 */
#ifndef LF_JSON_H
#define LF_JSON_H

#include <apr_pools.h>
#include <apr_time.h>

/** @p s as a JSON string literal with quotes, or "null" for NULL; allocated from @p p. */
const char *lf_json_str(const char *s, apr_pool_t *p);

/** @p t as a quoted JSON RFC 3339 UTC time with milliseconds, or "null" for 0; from @p p. */
const char *lf_json_time(apr_time_t t, apr_pool_t *p);

#endif /* LF_JSON_H */
