/* lf_json — the two pieces the modules' JSON status bodies need: a quoted, escaped string and
 * an RFC 3339 time. (APR 1.7 has no JSON escaper.) Pure: APR only.
 *
 * And the reverse, for the few JSON answers the core reads (the ECS and EC2 instance metadata
 * credentials): a flat JSON object into a table, an RFC 3339 time into an apr_time_t. No JSON
 * library is among the allowed dependencies, and these answers need no more than this.
 */
#ifndef LF_JSON_H
#define LF_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** @p s as a JSON string literal with quotes, or "null" for NULL; allocated from @p p. */
const char *lf_json_str(const char *s, apr_pool_t *p);

/** @p t as a quoted JSON RFC 3339 UTC time with milliseconds, or "null" for 0; from @p p. */
const char *lf_json_time(apr_time_t t, apr_pool_t *p);

/**
 * Parse a JSON object (RFC 8259) of scalar members, such as {"Code":"Success","Token":"..."}.
 *
 * String values are unescaped (\\uXXXX into UTF-8, surrogate pairs joined); numbers, true and
 * false are kept as their literal text; members whose value is null are left out. A nested object
 * or array is checked and kept as its raw JSON text, so that a new member in an answer never
 * breaks the parse. Table keys compare case-insensitively (apr_table_t); a repeated key keeps
 * its last value.
 * @param out the members, key -> value, allocated from @p p
 * @param json the text; need not be NUL-terminated
 * @param len its length in bytes
 * @return APR_SUCCESS; APR_EINVAL when the text is not one JSON object (empty, truncated, trailing
 *         text, a top-level array, a string holding \\u0000 or a lone surrogate, nesting deeper
 *         than 64)
 */
apr_status_t lf_json_parse_object(apr_table_t **out, const char *json, apr_size_t len,
                                  apr_pool_t *p);

/**
 * Parse an RFC 3339 time, "2026-11-25T12:00:00Z" or with fractional seconds and/or a numeric
 * offset ("2026-11-25T13:00:00.5+01:00"); the inverse of lf_json_time() without its quotes.
 * @return APR_SUCCESS; APR_EINVAL for anything else (out-of-range fields, trailing text)
 */
apr_status_t lf_json_parse_time(apr_time_t *out, const char *s);

#endif /* LF_JSON_H */
