/* skv_merge — what one request changed in a session, and that change applied to a newer copy.
 *
 * Two requests of one user that run at the same time (parallel AJAX calls) both load the same
 * session; the one that saves second must not wipe what the first wrote. mod_session_kv writes
 * with compare-and-set and, when the stored session changed in between, applies only the keys
 * this request changed (set or removed) to the newer copy and tries again.
 * Pure core: APR.
 */
#ifndef SKV_MERGE_H
#define SKV_MERGE_H

#include <apr_tables.h>

/** One change: set @c key to @c value, or remove it when @c value is NULL. */
typedef struct skv_change_t {
    const char *key;
    const char *value;
} skv_change_t;

/**
 * The changes that turn @p before into @p after (keys are unique in both, as mod_session keeps
 * them), leaving out the key @p ignore (mod_session's "expiry", which changes on every save).
 * @param before the session as loaded; NULL for none
 * @return an array of skv_change_t, empty when nothing changed, allocated from @p p
 */
apr_array_header_t *skv_merge_diff(const apr_table_t *before, const apr_table_t *after,
                                   const char *ignore, apr_pool_t *p);

/** Apply @p changes (from skv_merge_diff()) to @p t. */
void skv_merge_apply(apr_table_t *t, const apr_array_header_t *changes);

#endif /* SKV_MERGE_H */
