/* skv_merge — per-key changes of a session (see skv_merge.h). */
#include <string.h>
#include <strings.h>

#include "skv_merge.h"

typedef struct diff_ctx_t {
    const apr_table_t *other;
    const char *ignore;
    apr_array_header_t *changes;
    int removals; /* walking @c before: record keys missing from @c other */
} diff_ctx_t;

static int diff_one(void *baton, const char *key, const char *value)
{
    diff_ctx_t *ctx = baton;
    const char *there;

    if (ctx->ignore && !strcasecmp(key, ctx->ignore)) {
        return 1;
    }
    there = ctx->other ? apr_table_get(ctx->other, key) : NULL;
    if (ctx->removals) {
        if (!there) {
            skv_change_t *c = apr_array_push(ctx->changes);
            c->key = key;
            c->value = NULL;
        }
    }
    else if (!there || strcmp(there, value)) {
        skv_change_t *c = apr_array_push(ctx->changes);
        c->key = key;
        c->value = value;
    }
    return 1;
}

apr_array_header_t *skv_merge_diff(const apr_table_t *before, const apr_table_t *after,
                                   const char *ignore, apr_pool_t *p)
{
    diff_ctx_t ctx = {before, ignore, apr_array_make(p, 4, sizeof(skv_change_t)), 0};

    /* keys set or changed: walk @p after against @p before */
    apr_table_do(diff_one, &ctx, after, NULL);
    if (before) {
        /* keys removed: walk @p before against @p after */
        ctx.other = after;
        ctx.removals = 1;
        apr_table_do(diff_one, &ctx, before, NULL);
    }
    return ctx.changes;
}

void skv_merge_apply(apr_table_t *t, const apr_array_header_t *changes)
{
    int i;

    for (i = 0; i < changes->nelts; ++i) {
        const skv_change_t *c = &APR_ARRAY_IDX(changes, i, skv_change_t);
        if (c->value) {
            apr_table_set(t, c->key, c->value);
        }
        else {
            apr_table_unset(t, c->key);
        }
    }
}
