/* aws_elasticache — IAM authentication tokens for ElastiCache (Valkey 7.2+, Redis OSS 7.0+).
 *
 * With IAM authentication the password of AUTH (or HELLO ... AUTH) is a token: a SigV4
 * presigned GET of
 *
 *     http://<cache name, lower case>/?Action=connect&User=<user id>[&ResourceType=ServerlessCache]
 *
 * for the service "elasticache", valid 900 seconds (X-Amz-Expires=900), the session token of
 * temporary credentials inside the signed query, and "http://" stripped. The cache name is the
 * replication group id, or the serverless cache name (then ResourceType=ServerlessCache is
 * signed too). This is what AWS's own code does (the ElastiCache guide's IAMAuthTokenRequest,
 * AWS's Developer Toolkit for ElastiCache on botocore's SigV4QueryAuth); see aws_elasticache.c.
 *
 * ElastiCache accepts a token for 15 minutes after its X-Amz-Date, and drops a connection 12
 * hours after it last authenticated, unless it sends AUTH (or HELLO) again with a fresh token.
 * So a client makes a new token well before 15 minutes (aws_elasticache_tokens_get()), and
 * re-authenticates or replaces every connection before it is 12 hours old
 * (aws_elasticache_reauth_due()).
 *
 * Tokens are bearer secrets for their 15 minutes: they never appear in an error message.
 *
 * Pure core (APR, OpenSSL through aws_sigv4, credentials through aws_creds). The clock is a
 * parameter everywhere, so tests pin it.
 */
#ifndef AWS_ELASTICACHE_H
#define AWS_ELASTICACHE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "aws_creds.h"
#include "aws_sigv4.h"

/** Seconds a token is valid (its X-Amz-Expires): what ElastiCache accepts, 15 minutes. */
#define AWS_ELASTICACHE_TOKEN_EXPIRES 900
/** Default age at which aws_elasticache_tokens_get() makes a new token: 10 minutes, so that a
 *  token handed out has at least 5 of its 15 minutes left for the AUTH it is made for. */
#define AWS_ELASTICACHE_REFRESH_DEFAULT apr_time_from_sec(600)
/** The longest refresh age allowed: 14 minutes (a token handed out keeps a minute to spare). */
#define AWS_ELASTICACHE_REFRESH_MAX apr_time_from_sec(840)
/** Default age after which a connection must authenticate again: 11 hours, an hour before
 *  ElastiCache drops it at 12 hours (room for a connection that sits in a pool, a request that
 *  holds it, and clocks that differ). */
#define AWS_ELASTICACHE_REAUTH_DEFAULT apr_time_from_sec(11 * 3600)
/** The longest cache name: replication group ids and serverless cache names have at most 40. */
#define AWS_ELASTICACHE_NAME_MAX 40
/** The longest user id we sign (our sanity bound; ElastiCache states no maximum). */
#define AWS_ELASTICACHE_USER_MAX 128

/** What a token is for. The strings are not copied by the functions that take it. */
typedef struct aws_elasticache_iam_t {
    const char *region;     /* the cache's region, e.g. "eu-west-1" */
    const char *user_id;    /* the ElastiCache user id (for IAM users also its user name, which
                               goes with the token into AUTH) */
    const char *cache_name; /* replication group id, or serverless cache name; any case (it is
                               signed in lower case, as ElastiCache stores it) */
    int serverless;         /* 1: a serverless cache (ResourceType=ServerlessCache is signed) */
} aws_elasticache_iam_t;

/**
 * Check what a token would be for: a region (lower-case letters, digits, '-'), a user id (1 to
 * AWS_ELASTICACHE_USER_MAX bytes, no control characters or spaces), and a cache name as
 * ElastiCache names them (1 to 40 letters, digits and hyphens, starting with a letter, no two
 * hyphens in a row, not ending with one). For a module's post_config, and done again by the
 * functions below.
 * @param why out on APR_EINVAL: what is wrong, allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t aws_elasticache_iam_check(const char **why, const aws_elasticache_iam_t *iam,
                                       apr_pool_t *p);

/**
 * Make a token for @p iam with @p creds, signed at @p now, valid AWS_ELASTICACHE_TOKEN_EXPIRES
 * seconds from then.
 * @param token out: "<cache name>/?Action=connect&User=...&X-Amz-...&X-Amz-Signature=...",
 *        allocated from @p p
 * @param sig out, may be NULL: the signing details (canonical request, string to sign; they
 *        hold the session token, never log them), allocated from @p p
 * @param why out on error: what is wrong (never a secret), allocated from @p p
 * @param creds the credentials; NULL or without access key / secret key is an error
 * @return APR_SUCCESS, or APR_EINVAL (bad @p iam, no credentials)
 */
apr_status_t aws_elasticache_token(const char **token, aws_sigv4_result_t **sig, const char **why,
                                   const aws_elasticache_iam_t *iam, const aws_creds_t *creds,
                                   apr_time_t now, apr_pool_t *p);

/** The current token of a process, for all its threads. */
typedef struct aws_elasticache_tokens_t aws_elasticache_tokens_t;

/**
 * Create the token holder of a process for @p iam, with credentials from @p creds (the aws_creds
 * chain: the instance role through IMDSv2 in production).
 * @param out the holder; it lives in a subpool of @p p with its own allocator, and holds the
 *        current token in memory until @p p is destroyed
 * @param why out on error: what is wrong, allocated from @p p
 * @param iam copied, need not outlive the call
 * @param refresh_age make a new token once the current one is this old; 0 for
 *        AWS_ELASTICACHE_REFRESH_DEFAULT; at most AWS_ELASTICACHE_REFRESH_MAX
 * @return APR_SUCCESS; APR_EINVAL for a bad @p iam or @p refresh_age; an APR error creating the
 *         mutex
 */
apr_status_t aws_elasticache_tokens_create(aws_elasticache_tokens_t **out, const char **why,
                                           const aws_elasticache_iam_t *iam,
                                           aws_creds_provider_t *creds,
                                           apr_interval_time_t refresh_age, apr_pool_t *p);

/**
 * A token to authenticate with at @p now: the current one while it is younger than the refresh
 * age (and its credentials have more than a minute to live), else a new one. Thread-safe; one
 * thread makes a new token at a time, while the others keep using the current one if it is still
 * valid for more than a minute, or wait for the new one otherwise. A failure is not kept: the
 * next call tries again.
 * @param token out: the token, allocated from @p p
 * @param created out, may be NULL: when the token was signed (its X-Amz-Date)
 * @param why out on error: why there is no token (the credentials' reason; never a secret),
 *        allocated from @p p
 * @param now the time (injected: tests pin it; apr_time_now() otherwise)
 * @param p also used for the scratch work of a new token (in a subpool, destroyed before return)
 * @return APR_SUCCESS, or the error of aws_creds_get()
 */
apr_status_t aws_elasticache_tokens_get(const char **token, apr_time_t *created, const char **why,
                                        aws_elasticache_tokens_t *tokens, apr_time_t now,
                                        apr_pool_t *p);

/**
 * Whether a connection that last authenticated (AUTH or HELLO with a token that was accepted) at
 * @p authenticated must authenticate again with a fresh token, or be replaced, before it is used
 * at @p now. A clock that went back counts as due: re-authenticating costs a round trip, missing
 * ElastiCache's limit costs a dropped connection.
 * @param max_age 0 for AWS_ELASTICACHE_REAUTH_DEFAULT
 * @return 1 when due, else 0
 */
int aws_elasticache_reauth_due(apr_time_t authenticated, apr_time_t now,
                               apr_interval_time_t max_age);

#endif /* AWS_ELASTICACHE_H */
