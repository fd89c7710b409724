/* s3_handoff — the rules of mod_s3's hand-off (the X-Sendfile pattern: the application answers
 * with an X-S3-Key header and Apache sends the object instead): which configuration decides
 * whether a response may be handed off, what the application's headers name, and where a
 * missing S3HandOff belongs. Pure core: APR only, no httpd.
 */
#ifndef S3_HANDOFF_H
#define S3_HANDOFF_H

#include <apr_pools.h>

/**
 * Which of the S3HandOff settings a response met decides whether it may be handed off.
 *
 * The settings are ordered from the most to the least authoritative (for mod_s3: the sections
 * of the URL the client asked for, then those of what httpd served in the end, e.g. a front
 * controller). The first one that is set decides: On hands off with the configuration it came
 * with, Off refuses, even when a later setting is On (the client's URL counts).
 * @param settings S3HandOff values: 1 On, 0 Off, -1 unset
 * @param n how many
 * @return the index of the setting that turned hand-off on, or -1 when hand-off is not on
 */
int s3_handoff_decide(const int *settings, int n);

/**
 * Read the application's hand-off headers.
 *
 * @p raw_key is a key below @p prefix in plain text (not URL-encoded), checked as a path below a
 * location is (s3_key_from_path(), with '/' allowed anywhere); leading slashes are dropped.
 * @p raw_disposition is kept when it is "attachment", "inline" or starts with "attachment;" or
 * "inline;" (any case); a bare type gets the key's last segment as file name
 * (s3_mime_disposition()); anything else is dropped.
 * @param key out: the full key, allocated from @p p
 * @param disposition out: the Content-Disposition to send, or NULL for none
 * @param why out on APR_EINVAL: what is wrong with the key, a short static message
 * @param prefix the configured key prefix, "" or e.g. "uploads/"
 * @param raw_key the X-S3-Key value
 * @param raw_disposition the X-S3-Disposition value, or NULL
 * @return APR_SUCCESS, or APR_EINVAL for an empty or bad key
 */
apr_status_t s3_handoff_parse(const char **key, const char **disposition, const char **why,
                              const char *prefix, const char *raw_key, const char *raw_disposition,
                              apr_pool_t *p);

/**
 * The <Location> to suggest for a URL whose application sent X-S3-Key where S3HandOff is not
 * on: the URL's first path segment, the public route ("/download/7/report.pdf" -> "/download").
 * @param path the decoded URL path the client asked for
 * @return "/" and the first segment, allocated from @p p; "/" for an empty path or "/"
 */
const char *s3_handoff_route(const char *path, apr_pool_t *p);

#endif /* S3_HANDOFF_H */
