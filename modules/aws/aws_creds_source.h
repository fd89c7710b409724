/* aws_creds_source — the sources of the AWS credentials chain (see aws_creds.h for the order and
 * what each reads): explicit keys or a key file, the environment, the shared credentials file,
 * the ECS/EKS container endpoint and the EC2 instance role through IMDSv2, and the HTTP calls of
 * the last two, which go through aws_http (one attempt, no proxy, the short timeout, a small
 * answer) unless a test swaps them.
 *
 * Internal to the AWS core: the provider (aws_creds.c) holds one aws_creds_sources_t, asks the
 * sources in turn and keeps what they answer; modules and tools use aws_creds.h. The sources
 * keep no state between calls: after aws_creds_sources_init() their settings are read-only, so
 * any thread may ask them, outside of the provider's mutex.
 * Pure core: APR, aws_http, no httpd.
 */
#ifndef AWS_CREDS_SOURCE_H
#define AWS_CREDS_SOURCE_H

#include "aws_creds.h"
#include "aws_http.h"

/** The sources, in the order of the chain. */
enum {
    AWS_CREDS_SRC_CONFIG,
    AWS_CREDS_SRC_ENV,
    AWS_CREDS_SRC_PROFILE,
    AWS_CREDS_SRC_ECS,
    AWS_CREDS_SRC_IMDS,
    AWS_CREDS_SRC_COUNT
};

/** The settings of the sources: the configuration and a snapshot of the environment. */
typedef struct aws_creds_sources_t {
    aws_creds_fetch_fn *fetch; /* the HTTP calls: through `http`, or a test's */
    void *baton;
    aws_http_client_t *http;     /* what the default HTTP calls use */
    apr_interval_time_t timeout; /* per HTTP call */
    aws_creds_t config;          /* access_key NULL: none configured */
    const char *env_access_key, *env_secret_key, *env_session_token, *env_why;
    const char *profile, *credentials_file, *profile_why; /* file NULL: profile_why */
    const char *ecs_url, *ecs_token, *ecs_token_file, *ecs_why;
    const char *imds_endpoint, *imds_why; /* endpoint NULL: disabled, imds_why */
} aws_creds_sources_t;

/**
 * Check @p cfg, read the key file if it names one, take a snapshot of the environment and create
 * the HTTP client of the default calls.
 * @param s out: the settings, strings and client allocated from @p p
 * @param why out on error: what is wrong with the configuration (never a secret), from @p p
 * @return APR_SUCCESS; APR_EINVAL for a bad configuration; the error reading the key file
 */
apr_status_t aws_creds_sources_init(aws_creds_sources_t *s, const char **why,
                                    const aws_creds_config_t *cfg, apr_pool_t *p);

/** Replace the HTTP calls (tests); NULL restores the calls through aws_http. */
void aws_creds_sources_set_fetch(aws_creds_sources_t *s, aws_creds_fetch_fn *fn, void *baton);

/**
 * Ask one source.
 * @param out the credentials (source not set), strings allocated from @p p or pointing into @p s
 * @param why out on error: why not, never a secret, from @p p (or static)
 * @param source AWS_CREDS_SRC_CONFIG .. AWS_CREDS_SRC_IMDS
 * @return APR_SUCCESS; APR_NOTFOUND when the source has nothing (not configured, no such file);
 *         another error when it failed (APR_TIMEUP, APR_EGENERAL, APR_EINVAL for an answer that
 *         does not parse)
 */
apr_status_t aws_creds_source_get(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                                  int source, apr_pool_t *p);

/** The name of a source: "config", "environment", "profile", "ecs" or "imds" (static). */
const char *aws_creds_source_name(int source);

/** Whether the credentials of @p source expire and can be fetched again (ecs, imds). */
int aws_creds_source_refreshable(int source);

/**
 * aws_creds_imds_get() on the sources' settings.
 * @param body out: the answer without surrounding white space, allocated from @p p
 * @param why out on error: what went wrong, allocated from @p p (or static)
 */
apr_status_t aws_creds_sources_imds_get(const char **body, const char **why,
                                        const aws_creds_sources_t *s, const char *path,
                                        apr_pool_t *p);

/** apr_strerror() of @p rv, allocated from @p p. */
const char *aws_creds_strerror(apr_status_t rv, apr_pool_t *p);

#endif /* AWS_CREDS_SOURCE_H */
