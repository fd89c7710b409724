/* aws_elasticache — IAM authentication tokens for ElastiCache (see aws_elasticache.h).
 *
 * How the token is built follows AWS's own code, not a guess:
 *  - the ElastiCache user guide, "Authenticating with IAM": its IAMAuthTokenRequest presigns
 *    GET http://<replication group id>/ with Action=connect and User=<user id>, service
 *    "elasticache", 900 seconds, with the AWS SDK for Java's AWS4Signer, and strips "http://";
 *    the same guide: a token is valid 15 minutes, a connection is dropped 12 hours after it
 *    authenticated unless AUTH or HELLO renews it with a new token;
 *  - AWS's Developer Toolkit for ElastiCache (Python, botocore's SigV4QueryAuth): the cache name
 *    in lower case as the host ("cache names are lowercased at creation time"),
 *    ResourceType=ServerlessCache signed for a serverless cache and absent for a replication
 *    group, and the naming rules that aws_elasticache_iam_check() applies.
 * Temporary credentials put X-Amz-Security-Token into the query before signing (both the Java
 * SDK and botocore do), so the token is signed: omit_session_token stays 0.
 *
 * The order of the query parameters on the wire is aws_sigv4_presign()'s: the operation's own
 * (Action, User, ResourceType), then X-Amz-Algorithm, -Credential, -Date, -SignedHeaders,
 * -Expires, -Security-Token, -Signature. ElastiCache checks the signature over the canonical
 * query, which is sorted, so the order does not matter; AWS's two references above do not agree
 * on one either (the Java SDK puts X-Amz-Security-Token first, botocore after
 * X-Amz-SignedHeaders). tests/integration/test_032_elasticache_token.py compares our tokens
 * with botocore's, parameter by parameter.
 *
 * Threads (the token holder): the settings are written at creation and read-only afterwards;
 * the current token and the refresh state live under one mutex. A new token is made outside of
 * it, by the one thread that set `refreshing` (getting the credentials may mean an IMDS call),
 * while the threads that still hold a usable token go on with it and the others wait on a
 * condition variable for the outcome, as aws_creds does.
 *
 * Memory: the holder's pool has its own allocator and is used under the mutex only; the current
 * token lives in a subpool per generation, wiped and destroyed when the next one replaces it.
 * Callers get copies in their own pool.
 */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <openssl/crypto.h>

#include "aws_elasticache.h"

#if !APR_HAS_THREADS
#error "aws_elasticache needs APR with thread support"
#endif

#define EC_SERVICE "elasticache"
/* A token (or the credentials that signed it) this close to its end is not handed out: the
 * AUTH it is for still has to reach the server. */
#define EC_MARGIN  apr_time_from_sec(60)
#define EC_WHY_MAX 512

/* --- checks ----------------------------------------------------------------------------------- */

/* @p s for a message: at most 64 bytes, anything but printable ASCII as '?' (a mangled value
 * must not bring control characters into a log line). */
static const char *shown(const char *s, apr_pool_t *p)
{
    apr_size_t n = strlen(s) > 64 ? 64 : strlen(s), i;
    char *out = apr_pstrmemdup(p, s, n);

    for (i = 0; i < n; ++i) {
        if (!apr_isprint(out[i])) {
            out[i] = '?';
        }
    }
    return strlen(s) > 64 ? apr_pstrcat(p, out, "...", NULL) : out;
}

static int region_ok(const char *r)
{
    const char *c;

    for (c = r; *c; ++c) {
        if (!(apr_islower(*c) || apr_isdigit(*c) || *c == '-')) {
            return 0;
        }
    }
    return c != r && c - r <= 32;
}

/* ElastiCache's rules for replication group ids and serverless cache names. */
static int cache_name_ok(const char *n)
{
    apr_size_t len = strlen(n), i;

    if (len < 1 || len > AWS_ELASTICACHE_NAME_MAX || !apr_isalpha(n[0]) || n[len - 1] == '-') {
        return 0;
    }
    for (i = 1; i < len; ++i) {
        if (!(apr_isalnum(n[i]) || n[i] == '-') || (n[i] == '-' && n[i - 1] == '-')) {
            return 0;
        }
    }
    return 1;
}

/* ElastiCache's own rule for user ids is stricter ([a-zA-Z][a-zA-Z0-9-]*); this check only keeps
 * out what cannot be a RESP user name nor a log line, and leaves the rest to the server. */
static int user_ok(const char *u)
{
    const unsigned char *c;

    for (c = (const unsigned char *)u; *c; ++c) {
        if (*c <= ' ' || *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

apr_status_t aws_elasticache_iam_check(const char **why, const aws_elasticache_iam_t *iam,
                                       apr_pool_t *p)
{
    const char *w = NULL;

    if (!iam->region || !*iam->region) {
        w = "the ElastiCache region is missing";
    }
    else if (!region_ok(iam->region)) {
        w = apr_psprintf(p,
                         "the ElastiCache region '%s' is not a region name (lower-case letters, "
                         "digits and '-')",
                         shown(iam->region, p));
    }
    else if (!iam->user_id || !*iam->user_id) {
        w = "the ElastiCache user id is missing";
    }
    else if (strlen(iam->user_id) > AWS_ELASTICACHE_USER_MAX) {
        w = apr_psprintf(p, "the ElastiCache user id '%s' is longer than %d bytes",
                         shown(iam->user_id, p), AWS_ELASTICACHE_USER_MAX);
    }
    else if (!user_ok(iam->user_id)) {
        w = apr_psprintf(p, "the ElastiCache user id '%s' holds a space or a control character",
                         shown(iam->user_id, p));
    }
    else if (!iam->cache_name || !*iam->cache_name) {
        w = "the ElastiCache cache name (replication group id, or serverless cache name) is "
            "missing";
    }
    else if (!cache_name_ok(iam->cache_name)) {
        w = apr_psprintf(p,
                         "the ElastiCache cache name '%s' is not valid: 1 to %d letters, digits "
                         "and hyphens, starting with a letter, without two hyphens in a row or "
                         "one at the end%s",
                         shown(iam->cache_name, p), AWS_ELASTICACHE_NAME_MAX,
                         strchr(iam->cache_name, '.')
                             ? " (the replication group id or serverless cache name, not the "
                               "host name of an endpoint)"
                             : "");
    }
    if (w) {
        *why = w;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* --- the token -------------------------------------------------------------------------------- */

apr_status_t aws_elasticache_token(const char **token, aws_sigv4_result_t **sig, const char **why,
                                   const aws_elasticache_iam_t *iam, const aws_creds_t *creds,
                                   apr_time_t now, apr_pool_t *p)
{
    aws_sigv4_request_t req;
    aws_sigv4_params_t params;
    aws_sigv4_result_t *res;
    char *host, *c;
    apr_status_t rv;

    if ((rv = aws_elasticache_iam_check(why, iam, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!creds || !creds->access_key || !*creds->access_key || !creds->secret_key
        || !*creds->secret_key) {
        *why = "no AWS credentials to sign the ElastiCache IAM token with";
        return APR_EINVAL;
    }
    host = apr_pstrdup(p, iam->cache_name);
    for (c = host; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.path = "/";
    req.query = apr_pstrcat(
        p, "Action=connect&User=", aws_sigv4_uri_encode(iam->user_id, strlen(iam->user_id), 0, p),
        iam->serverless ? "&ResourceType=ServerlessCache" : "", NULL);
    req.headers = apr_array_make(p, 1, sizeof(aws_sigv4_header_t));
    aws_sigv4_header_add(req.headers, "Host", host);

    memset(&params, 0, sizeof(params));
    params.access_key = creds->access_key;
    params.secret_key = creds->secret_key;
    params.session_token =
        creds->session_token && *creds->session_token ? creds->session_token : NULL;
    params.region = iam->region;
    params.service = EC_SERVICE;
    params.time = now;
    params.normalize_path = 1;
    params.double_encode = 1;
    params.payload_hash = NULL; /* the SHA-256 of the empty body, as the AWS SDKs sign it */
    params.expires = AWS_ELASTICACHE_TOKEN_EXPIRES;
    if ((rv = aws_sigv4_presign(&res, &req, &params, p)) != APR_SUCCESS) {
        *why = "signing the ElastiCache IAM token failed";
        return rv;
    }
    *token = apr_pstrcat(p, host, "/?", res->query, NULL);
    if (sig) {
        *sig = res;
    }
    return APR_SUCCESS;
}

/* --- the token holder ------------------------------------------------------------------------- */

struct aws_elasticache_tokens_t {
    apr_pool_t *pool; /* own allocator; used under the mutex only, after creation */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;

    /* Settings: written at creation, then read-only. */
    aws_elasticache_iam_t iam;
    aws_creds_provider_t *creds;
    apr_interval_time_t refresh_age;

    /* Under the mutex. */
    apr_pool_t *generation;  /* holds `token` */
    char *token;             /* NULL: none yet */
    apr_size_t token_len;    /* for wiping it */
    apr_time_t created;      /* its X-Amz-Date */
    apr_time_t fresh_until;  /* make a new one from then on */
    apr_time_t usable_until; /* others may go on with it while one thread makes the next */
    int refreshing;          /* a thread is making a token outside of the mutex */
    apr_uint64_t attempts;   /* attempts finished, for the waiters */
    apr_status_t last_rv;    /* the outcome of the last failed attempt, for the waiters */
    char last_why[EC_WHY_MAX];
};

apr_status_t aws_elasticache_tokens_create(aws_elasticache_tokens_t **out, const char **why,
                                           const aws_elasticache_iam_t *iam,
                                           aws_creds_provider_t *creds,
                                           apr_interval_time_t refresh_age, apr_pool_t *p)
{
    aws_elasticache_tokens_t *t;
    apr_allocator_t *allocator = NULL;
    apr_pool_t *pool = NULL;
    apr_status_t rv;

    if ((rv = aws_elasticache_iam_check(why, iam, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!creds) {
        *why = "no AWS credentials provider for the ElastiCache IAM token";
        return APR_EINVAL;
    }
    if (refresh_age == 0) {
        refresh_age = AWS_ELASTICACHE_REFRESH_DEFAULT;
    }
    if (refresh_age < apr_time_from_sec(1) || refresh_age > AWS_ELASTICACHE_REFRESH_MAX) {
        *why = apr_psprintf(p,
                            "the age at which a new ElastiCache IAM token is made must be 1 to "
                            "%d seconds (a token is valid %d seconds)",
                            (int)apr_time_sec(AWS_ELASTICACHE_REFRESH_MAX),
                            AWS_ELASTICACHE_TOKEN_EXPIRES);
        return APR_EINVAL;
    }
    /* Its own allocator: the holder allocates on request threads, under its own mutex, which
     * the allocator of a shared parent pool knows nothing about. */
    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        *why = "out of memory";
        return rv;
    }
    if ((rv = apr_pool_create_ex(&pool, p, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        *why = "out of memory";
        return rv;
    }
    apr_allocator_owner_set(allocator, pool);
    t = apr_pcalloc(pool, sizeof(*t));
    t->pool = pool;
    if ((rv = apr_thread_mutex_create(&t->mutex, APR_THREAD_MUTEX_DEFAULT, pool)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&t->cond, pool)) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        *why = "cannot create the lock of the ElastiCache IAM token";
        return rv;
    }
    t->iam.region = apr_pstrdup(pool, iam->region);
    t->iam.user_id = apr_pstrdup(pool, iam->user_id);
    t->iam.cache_name = apr_pstrdup(pool, iam->cache_name);
    t->iam.serverless = iam->serverless;
    t->creds = creds;
    t->refresh_age = refresh_age;
    *out = t;
    return APR_SUCCESS;
}

static apr_time_t earlier(apr_time_t a, apr_time_t b)
{
    return a < b ? a : b;
}

/* Under the mutex. A clock that went back behind the token's date gets a new token; but the
 * threads of a process read the clock at slightly different moments (one that read it before
 * another made a token may come after), so "behind" allows EC_MARGIN. */
static int token_fresh(const aws_elasticache_tokens_t *t, apr_time_t now)
{
    return t->token && now >= t->created - EC_MARGIN && now < t->fresh_until;
}

static int token_usable(const aws_elasticache_tokens_t *t, apr_time_t now)
{
    return t->token && now >= t->created - EC_MARGIN && now < t->usable_until;
}

static void token_copy(const char **token, apr_time_t *created, const aws_elasticache_tokens_t *t,
                       apr_pool_t *p)
{
    *token = apr_pstrmemdup(p, t->token, t->token_len);
    if (created) {
        *created = t->created;
    }
}

/* Under the mutex: make @p token (signed at @p now with credentials valid until @p expiration,
 * 0 for never) the current one. */
static apr_status_t token_keep(aws_elasticache_tokens_t *t, const char *token, apr_time_t now,
                               apr_time_t expiration)
{
    apr_pool_t *gen;
    apr_status_t rv = apr_pool_create(&gen, t->pool);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (t->generation) {
        OPENSSL_cleanse(t->token, t->token_len);
        apr_pool_destroy(t->generation);
    }
    t->generation = gen;
    t->token_len = strlen(token);
    t->token = apr_pstrmemdup(gen, token, t->token_len);
    t->created = now;
    t->fresh_until = now + t->refresh_age;
    t->usable_until = now + apr_time_from_sec(AWS_ELASTICACHE_TOKEN_EXPIRES) - EC_MARGIN;
    if (expiration) {
        /* Temporary credentials: a token outlives them by nothing. */
        t->fresh_until = earlier(t->fresh_until, expiration - EC_MARGIN);
        t->usable_until = earlier(t->usable_until, expiration - EC_MARGIN);
    }
    return APR_SUCCESS;
}

apr_status_t aws_elasticache_tokens_get(const char **token, apr_time_t *created, const char **why,
                                        aws_elasticache_tokens_t *t, apr_time_t now, apr_pool_t *p)
{
    const char *reason = NULL, *fresh = NULL;
    apr_status_t rv = APR_SUCCESS;
    apr_pool_t *tmp = NULL;
    aws_creds_t creds;
    apr_uint64_t seen;

    memset(&creds, 0, sizeof(creds));
    apr_thread_mutex_lock(t->mutex);
    for (;;) {
        if (token_fresh(t, now) || (t->refreshing && token_usable(t, now))) {
            token_copy(token, created, t, p);
            goto unlock;
        }
        if (!t->refreshing) {
            break;
        }
        /* No usable token, and another thread is making one: share its outcome. */
        seen = t->attempts;
        while (t->refreshing && t->attempts == seen) {
            apr_thread_cond_wait(t->cond, t->mutex);
        }
        if (t->attempts != seen) {
            if (token_usable(t, now)) {
                token_copy(token, created, t, p);
                goto unlock;
            }
            if (t->last_rv != APR_SUCCESS) {
                rv = t->last_rv;
                reason = apr_pstrdup(p, t->last_why);
                goto unlock;
            }
            /* a token that does not fit this clock (one far behind): look again */
        }
    }
    t->refreshing = 1;
    apr_thread_mutex_unlock(t->mutex);

    if ((rv = apr_pool_create(&tmp, p)) != APR_SUCCESS) {
        reason = "out of memory";
    }
    else if ((rv = aws_creds_get(&creds, &reason, t->creds, tmp)) == APR_SUCCESS) {
        rv = aws_elasticache_token(&fresh, NULL, &reason, &t->iam, &creds, now, tmp);
    }

    apr_thread_mutex_lock(t->mutex);
    if (rv == APR_SUCCESS && (rv = token_keep(t, fresh, now, creds.expiration)) == APR_SUCCESS) {
        token_copy(token, created, t, p);
        t->last_rv = APR_SUCCESS;
    }
    else if (token_usable(t, now)) {
        /* Keep what still works; the next call tries again. */
        token_copy(token, created, t, p);
        rv = APR_SUCCESS;
    }
    else {
        reason = apr_psprintf(p, "no IAM token for ElastiCache user '%s' of '%s': %s",
                              shown(t->iam.user_id, p), t->iam.cache_name,
                              reason ? reason : "out of memory");
        t->last_rv = rv;
        apr_cpystrn(t->last_why, reason, sizeof(t->last_why));
    }
    t->refreshing = 0;
    ++t->attempts;
    apr_thread_cond_broadcast(t->cond);
unlock:
    apr_thread_mutex_unlock(t->mutex);

    if (tmp) {
        if (fresh) {
            OPENSSL_cleanse((char *)fresh, strlen(fresh));
        }
        apr_pool_destroy(tmp);
    }
    if (why) {
        *why = rv == APR_SUCCESS ? NULL : reason;
    }
    return rv;
}

int aws_elasticache_reauth_due(apr_time_t authenticated, apr_time_t now,
                               apr_interval_time_t max_age)
{
    if (max_age <= 0) {
        max_age = AWS_ELASTICACHE_REAUTH_DEFAULT;
    }
    return now < authenticated || now - authenticated >= max_age;
}
