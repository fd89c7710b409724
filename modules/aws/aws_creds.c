/* aws_creds — the AWS credentials provider and its single-flight cache (see aws_creds.h); the
 * sources it asks are in aws_creds_source.c.
 *
 * Threads: the provider's settings are written once, at creation, and read-only afterwards. The
 * credentials and the refresh state live under one mutex; the HTTP calls of a refresh run
 * outside of it, by the one thread that set `refreshing`, so a slow endpoint never blocks the
 * threads that still hold valid credentials. A condition variable lets the threads that have
 * none wait for that refresh and share its outcome, success or failure, instead of each trying
 * again in turn.
 *
 * Memory: the provider's pool has its own allocator and is used under the mutex only. The
 * strings of the current credentials live in a subpool per generation, destroyed when the next
 * generation replaces it; callers get copies in their own pool, so nothing refers to an old
 * generation and the provider does not grow across refreshes.
 */
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "aws_creds.h"
#include "aws_creds_source.h"
#include "lf_parse.h"
#include "lf_log.h"

#if !APR_HAS_THREADS
#error "aws_creds needs APR with thread support"
#endif

#define AWS_CREDS_MARGIN  apr_time_from_sec(300)
#define AWS_CREDS_JITTER  apr_time_from_sec(60)
#define AWS_CREDS_RETRY   apr_time_from_sec(30)
#define AWS_CREDS_WHY_MAX 1024

struct aws_creds_provider_t {
    apr_pool_t *pool; /* own allocator; used under the mutex only, after creation */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;

    /* Settings: written at creation (and by the test seams before first use), then read-only. */
    aws_creds_sources_t sources;
    apr_time_t (*now)(void);
    apr_interval_time_t margin;

    /* Under the mutex. */
    apr_pool_t *generation; /* holds the strings of `current` */
    aws_creds_t current;    /* access_key NULL: none yet */
    apr_time_t refresh_at;  /* when `current` expires: refresh from then on */
    int source;             /* the source that won, or -1 */
    int refreshing;         /* a thread is refreshing outside of the mutex */
    apr_uint64_t attempts;  /* refreshes finished, for the waiters */
    apr_status_t last_rv;   /* the outcome of the last failed refresh, for the waiters */
    char last_why[AWS_CREDS_WHY_MAX];
    apr_uint64_t rng; /* xorshift64* state for the jitter */
};

static const char *format_time(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t x;

    if (apr_time_exp_gmt(&x, t) != APR_SUCCESS) {
        return "(invalid time)";
    }
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", x.tm_year + 1900, x.tm_mon + 1,
                        x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
}

apr_status_t aws_creds_provider_create(aws_creds_provider_t **out, const char **why,
                                       const aws_creds_config_t *cfg, apr_pool_t *p)
{
    apr_allocator_t *allocator = NULL;
    aws_creds_provider_t *prov;
    const char *reason = NULL;
    apr_pool_t *pool = NULL;
    apr_status_t rv;

    /* Its own allocator: the provider allocates on request threads, under its own mutex, which
     * must not race with other users of @p p. */
    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = apr_pool_create_ex(&pool, p, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        goto leave;
    }
    apr_allocator_owner_set(allocator, pool);
    apr_pool_tag(pool, "aws_creds");
    prov = apr_pcalloc(pool, sizeof(*prov));
    prov->pool = pool;
    prov->now = apr_time_now;
    prov->margin = cfg->refresh_margin > 0 ? cfg->refresh_margin : AWS_CREDS_MARGIN;
    prov->source = -1;
    if ((rv = apr_thread_mutex_create(&prov->mutex, APR_THREAD_MUTEX_DEFAULT, pool)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&prov->cond, pool)) != APR_SUCCESS) {
        reason = "cannot create a mutex";
        goto leave;
    }
    if ((rv = aws_creds_sources_init(&prov->sources, &reason, cfg, pool)) != APR_SUCCESS) {
        goto leave;
    }
    if (apr_generate_random_bytes((unsigned char *)&prov->rng, sizeof(prov->rng)) != APR_SUCCESS) {
        prov->rng = (apr_uint64_t)apr_time_now() ^ (apr_uint64_t)(apr_uintptr_t)prov;
    }
    prov->rng |= 1; /* xorshift never leaves 0 */
    *out = prov;
leave:
    if (rv != APR_SUCCESS) {
        if (why) {
            /* @p pool goes away with the failure: the message moves to @p p */
            *why = apr_pstrdup(p, reason ? reason : aws_creds_strerror(rv, p));
        }
        if (pool) {
            apr_pool_destroy(pool);
        }
    }
    return rv;
}

void aws_creds_provider_set_fetch(aws_creds_provider_t *prov, aws_creds_fetch_fn *fn, void *baton)
{
    aws_creds_sources_set_fetch(&prov->sources, fn, baton);
}

void aws_creds_provider_set_clock(aws_creds_provider_t *prov, apr_time_t (*now)(void))
{
    prov->now = now ? now : apr_time_now;
}

/* Outside of the mutex: credentials from the remembered source, or from the first source of the
 * chain that has them. *source in: the remembered source or -1; out: the one that answered. */
static apr_status_t refresh(aws_creds_t *out, const char **why, int *source,
                            aws_creds_provider_t *prov, apr_pool_t *p)
{
    int i = *source >= 0 ? *source : 0, last = *source >= 0 ? *source : AWS_CREDS_SRC_COUNT - 1;
    apr_status_t rv, result = APR_NOTFOUND;
    const char *reasons = NULL, *one;

    for (; i <= last; ++i) {
        memset(out, 0, sizeof(*out));
        one = NULL;
        rv = aws_creds_source_get(out, &one, &prov->sources, i, p);
        if (rv == APR_SUCCESS && out->expiration && out->expiration <= prov->now()) {
            one = apr_psprintf(p, "the credentials expired at %s already",
                               format_time(out->expiration, p));
            rv = APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            out->source = aws_creds_source_name(i);
            *source = i;
            return APR_SUCCESS;
        }
        one = one ? one : aws_creds_strerror(rv, p);
        lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, rv, LFLOGNO(00101) "AWS credentials from %s: %s",
                      aws_creds_source_name(i), one);
        reasons = apr_psprintf(p, "%s%s%s: %s", reasons ? reasons : "", reasons ? "; " : "",
                               aws_creds_source_name(i), one);
        if (result == APR_NOTFOUND) {
            result = rv; /* the first real failure says more than "not found" */
        }
    }
    *why = reasons;
    return result;
}

static int creds_valid(const aws_creds_provider_t *prov, apr_time_t now)
{
    return prov->current.access_key
           && (!prov->current.expiration || now < prov->current.expiration);
}

/* Whether `current` is valid and not due for a refresh. */
static int creds_fresh(const aws_creds_provider_t *prov, apr_time_t now)
{
    return creds_valid(prov, now) && (!prov->current.expiration || now < prov->refresh_at);
}

static void creds_copy(aws_creds_t *out, const aws_creds_t *in, apr_pool_t *p)
{
    out->access_key = apr_pstrdup(p, in->access_key);
    out->secret_key = apr_pstrdup(p, in->secret_key);
    out->session_token = in->session_token ? apr_pstrdup(p, in->session_token) : NULL;
    out->expiration = in->expiration;
    out->source = in->source; /* a static string */
}

static apr_uint64_t next_random(aws_creds_provider_t *prov)
{
    apr_uint64_t x = prov->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    prov->rng = x;
    return x * APR_UINT64_C(0x2545F4914F6CDD1D);
}

/* Under the mutex: @p fresh becomes the current generation. */
static apr_status_t creds_keep(aws_creds_provider_t *prov, const aws_creds_t *fresh, apr_time_t now)
{
    apr_pool_t *generation;
    apr_status_t rv;

    if ((rv = apr_pool_create(&generation, prov->pool)) != APR_SUCCESS) {
        return rv;
    }
    creds_copy(&prov->current, fresh, generation);
    if (prov->generation) {
        apr_pool_destroy(prov->generation);
    }
    prov->generation = generation;
    if (fresh->expiration) {
        /* The jitter spreads the refreshes of many processes started together; the floor keeps
         * short-lived credentials from being refreshed at every call. */
        prov->refresh_at = fresh->expiration - prov->margin
                           - (apr_time_t)(next_random(prov) % (apr_uint64_t)(AWS_CREDS_JITTER + 1));
        if (prov->refresh_at < now + AWS_CREDS_RETRY) {
            prov->refresh_at = now + AWS_CREDS_RETRY;
        }
    }
    return APR_SUCCESS;
}

apr_status_t aws_creds_get(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                           apr_pool_t *p)
{
    const char *reason = NULL, *source_name = NULL;
    apr_time_t now, valid_until = 0;
    apr_status_t rv = APR_SUCCESS;
    apr_pool_t *tmp = NULL;
    aws_creds_t fresh;
    apr_uint64_t seen;
    int source, first = 0, kept = 0;

    apr_thread_mutex_lock(prov->mutex);
    for (;;) {
        now = prov->now();
        if (creds_fresh(prov, now) || (prov->refreshing && creds_valid(prov, now))) {
            creds_copy(out, &prov->current, p);
            goto unlock;
        }
        if (!prov->refreshing) {
            break;
        }
        /* None valid and another thread is getting them: share its outcome. */
        seen = prov->attempts;
        while (prov->refreshing && prov->attempts == seen) {
            apr_thread_cond_wait(prov->cond, prov->mutex);
        }
        if (prov->attempts != seen) {
            if (creds_valid(prov, prov->now())) {
                creds_copy(out, &prov->current, p);
            }
            else {
                rv = prov->last_rv;
                reason = apr_pstrdup(p, prov->last_why);
            }
            goto unlock;
        }
    }
    prov->refreshing = 1;
    source = prov->source;
    apr_thread_mutex_unlock(prov->mutex);

    if ((rv = apr_pool_create(&tmp, p)) == APR_SUCCESS) {
        rv = refresh(&fresh, &reason, &source, prov, tmp);
    }
    else {
        reason = "out of memory";
    }

    apr_thread_mutex_lock(prov->mutex);
    now = prov->now();
    if (rv == APR_SUCCESS && (rv = creds_keep(prov, &fresh, now)) == APR_SUCCESS) {
        first = prov->source < 0;
        prov->source = source;
        source_name = prov->current.source;
        creds_copy(out, &prov->current, p);
    }
    else if (creds_valid(prov, now)) {
        /* Keep what still works, and try again a little later rather than at every call. */
        prov->refresh_at = now + AWS_CREDS_RETRY;
        kept = 1;
        source_name = prov->current.source;
        valid_until = prov->current.expiration;
        reason = apr_pstrdup(p, reason ? reason : aws_creds_strerror(rv, p));
        creds_copy(out, &prov->current, p);
        rv = APR_SUCCESS;
    }
    else {
        if (prov->current.access_key) {
            reason = apr_psprintf(p,
                                  "the AWS credentials from %s expired at %s and getting new "
                                  "ones failed: %s",
                                  prov->current.source, format_time(prov->current.expiration, p),
                                  reason ? reason : aws_creds_strerror(rv, p));
        }
        else {
            reason = apr_psprintf(p, "no AWS credentials: %s",
                                  reason ? reason : aws_creds_strerror(rv, p));
        }
        prov->last_rv = rv;
        apr_cpystrn(prov->last_why, reason, sizeof(prov->last_why));
    }
    prov->refreshing = 0;
    ++prov->attempts;
    apr_thread_cond_broadcast(prov->cond);
unlock:
    apr_thread_mutex_unlock(prov->mutex);

    if (rv == APR_SUCCESS && kept) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, APR_SUCCESS,
                      LFLOGNO(00102) "refreshing the AWS credentials from %s failed, keeping the "
                                     "current ones (valid until %s): %s",
                      source_name, format_time(valid_until, p), reason);
    }
    else if (rv == APR_SUCCESS && source_name) {
        lf_log_perror(LF_LOG_MARK, first ? LF_LOG_INFO : LF_LOG_DEBUG, APR_SUCCESS,
                      LFLOGNO(00103) "AWS credentials from %s%s%s", source_name,
                      out->expiration ? ", valid until " : "",
                      out->expiration ? format_time(out->expiration, p) : "");
    }
    else if (rv != APR_SUCCESS) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, rv, LFLOGNO(00104) "%s", reason);
    }
    if (tmp) {
        apr_pool_destroy(tmp);
    }
    if (why) {
        *why = rv == APR_SUCCESS ? NULL : reason;
    }
    return rv;
}

void aws_creds_provider_invalidate(aws_creds_provider_t *prov, const char *access_key)
{
    const char *source = NULL;

    if (!access_key) {
        return;
    }
    apr_thread_mutex_lock(prov->mutex);
    /* Only the credentials the caller saw rejected: when another thread has replaced them since,
     * the new ones have not been tried yet. Static sources would only answer the same again. */
    if (prov->current.access_key && !strcmp(prov->current.access_key, access_key)
        && aws_creds_source_refreshable(prov->source)) {
        source = prov->current.source;
        memset(&prov->current, 0, sizeof(prov->current));
        prov->refresh_at = 0;
        if (prov->generation) {
            apr_pool_destroy(prov->generation);
            prov->generation = NULL;
        }
    }
    apr_thread_mutex_unlock(prov->mutex);
    if (source) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_INFO, APR_SUCCESS,
                      LFLOGNO(00105) "the AWS credentials from %s were rejected, getting new ones",
                      source);
    }
}

apr_status_t aws_creds_imds_get(const char **body, const char **why, aws_creds_provider_t *prov,
                                const char *path, apr_pool_t *p)
{
    return aws_creds_sources_imds_get(body, why, &prov->sources, path, p);
}

const char *aws_creds_source_parse(const char *word, const char *arg)
{
    if (!strcasecmp(word, "default") && !arg) {
        return "default";
    }
    if (!strcasecmp(word, "keyfile") && arg && *arg) {
        return "keyfile";
    }
    if (!strcasecmp(word, "profile") && arg && *arg) {
        return "profile";
    }
    return NULL;
}

apr_status_t aws_creds_source_conf(const char **source, const char **arg, const char *word,
                                   const char *warg, const char *root, apr_pool_t *p)
{
    if (!(*source = aws_creds_source_parse(word, warg))) {
        return APR_EINVAL;
    }
    *arg = warg;
    if (!strcmp(*source, "keyfile")) {
        return lf_parse_path(arg, warg, root, p);
    }
    return APR_SUCCESS;
}

void aws_creds_config_set_source(aws_creds_config_t *cfg, const char *source, const char *arg)
{
    if (!strcmp(source, "keyfile")) {
        cfg->key_file = arg;
    }
    else if (!strcmp(source, "profile")) {
        cfg->profile = arg;
    }
}
