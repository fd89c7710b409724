/* s3_runtime — a bucket's credentials, transport and client, and the registry that shares them
 * (see s3_runtime.h).
 */
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "aws_http.h"
#include "s3_runtime.h"

struct s3_runtimes_t {
    apr_pool_t *pool;         /* the runtimes' */
    apr_hash_t *by_id;        /* s3_runtime_id() -> s3_runtime */
    apr_thread_mutex_t *lock; /* over by_id and pool: request threads share the registry */
};

/* What distinguishes the runtimes of two sections: every setting that goes into one. */
static const char *runtime_id(const s3_dir_conf *c, apr_pool_t *p)
{
    return apr_psprintf(p, "%s|%s|%s|%d|%s|%s|%s|%d|%" APR_TIME_T_FMT "|%" APR_TIME_T_FMT "|%d",
                        c->bucket, c->region, c->endpoint ? c->endpoint : "", c->path_style,
                        c->creds_kind, c->creds_arg ? c->creds_arg : "",
                        c->ca_file ? c->ca_file : "", c->payload, c->connect_timeout, c->timeout,
                        c->attempts);
}

apr_status_t s3_runtime_create(s3_runtime **out, const char **why, const s3_dir_conf *c,
                               apr_pool_t *p)
{
    s3_runtime *rt = apr_pcalloc(p, sizeof(*rt));
    aws_creds_config_t cc;
    aws_http_config_t hc;
    aws_http_client_t *http;
    s3_client_config_t sc;
    apr_status_t rv;

    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, c->creds_kind, c->creds_arg);
    if ((rv = aws_creds_provider_create(&rt->creds, why, &cc, p)) != APR_SUCCESS) {
        return rv;
    }
    memset(&hc, 0, sizeof(hc));
    hc.connect_timeout = c->connect_timeout;
    hc.timeout = c->timeout;
    hc.low_speed_time = c->timeout; /* streams have no total time: a stall ends them */
    hc.max_attempts = c->attempts;
    hc.ca_file = c->ca_file;
    if ((rv = aws_http_client_create(&http, &hc, p)) != APR_SUCCESS) {
        *why = "cannot create the HTTP client";
        return rv;
    }
    memset(&sc, 0, sizeof(sc));
    sc.bucket = c->bucket;
    sc.region = c->region;
    sc.endpoint = c->endpoint;
    sc.path_style = c->path_style == 2 ? -1 : c->path_style;
    sc.payload = c->payload;
    if ((rv = s3_client_create(&rt->client, why, &sc, rt->creds, http, NULL, p)) != APR_SUCCESS) {
        return rv;
    }
    rt->id = runtime_id(c, p);
    rt->bucket = apr_pstrdup(p, c->bucket);
    *out = rt;
    return APR_SUCCESS;
}

apr_status_t s3_runtimes_create(s3_runtimes_t **out, apr_pool_t *p)
{
    s3_runtimes_t *reg = apr_pcalloc(p, sizeof(*reg));
    apr_status_t rv;

    reg->pool = p;
    reg->by_id = apr_hash_make(p);
    if ((rv = apr_thread_mutex_create(&reg->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    *out = reg;
    return APR_SUCCESS;
}

apr_status_t s3_runtimes_get(s3_runtime **out, const char **why, s3_runtimes_t *reg,
                             const s3_dir_conf *c, apr_pool_t *scratch)
{
    const char *id = runtime_id(c, scratch);
    s3_runtime *rt;
    apr_status_t rv = APR_SUCCESS;

    apr_thread_mutex_lock(reg->lock);
    rt = apr_hash_get(reg->by_id, id, APR_HASH_KEY_STRING);
    if (!rt && (rv = s3_runtime_create(&rt, why, c, reg->pool)) == APR_SUCCESS) {
        apr_hash_set(reg->by_id, rt->id, APR_HASH_KEY_STRING, rt);
    }
    apr_thread_mutex_unlock(reg->lock);
    if (rv == APR_SUCCESS) {
        *out = rt;
    }
    return rv;
}

s3_runtime *s3_runtimes_of_bucket(s3_runtimes_t *reg, const char *bucket, apr_pool_t *p)
{
    s3_runtime *rt = NULL;
    apr_hash_index_t *hi;

    apr_thread_mutex_lock(reg->lock);
    for (hi = apr_hash_first(p, reg->by_id); hi && !rt; hi = apr_hash_next(hi)) {
        s3_runtime *each = apr_hash_this_val(hi);
        if (!strcmp(each->bucket, bucket)) {
            rt = each;
        }
    }
    apr_thread_mutex_unlock(reg->lock);
    return rt;
}
