/* aws_creds — AWS credentials from a provider chain, in the order of the AWS SDKs:
 *
 *   1. "config":      access key + secret key given by the module's configuration, or a key file
 *   2. "environment": AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   3. "profile":     the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 *                     ~/.aws/credentials), profile AWS_PROFILE, else "default"
 *   4. "ecs":         the ECS/EKS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *                     AWS_CONTAINER_CREDENTIALS_FULL_URI, with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN)
 *   5. "imds":        the EC2 instance role through IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true)
 *
 * The first source that yields credentials wins and is remembered: later refreshes ask that
 * source only. Credentials that expire (ecs, imds) are refreshed ahead of their expiration, by
 * one thread at a time while the others keep using the current ones; a failed refresh keeps the
 * current credentials while they are valid. Secrets never appear in messages or logs.
 *
 * The environment is read once, when the provider is created; files (credentials file, ECS token
 * file) when a source is tried. Only IMDSv2 is spoken: IMDSv1 answers a plain GET, which is what
 * SSRF attacks on instance roles exploit.
 *
 * Pure core (APR + aws_http): used by the modules that talk to AWS, the CLI tools and the unit
 * tests, which inject the clock and the HTTP calls. The provider and its cache are aws_creds.c,
 * the sources aws_creds_source.c. The default HTTP calls go through aws_http (libcurl): as for
 * any libcurl user, call curl_global_init() once at startup, before threads start.
 */
#ifndef AWS_CREDS_H
#define AWS_CREDS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** Credentials, as aws_creds_get() hands them out. */
typedef struct aws_creds_t {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL if none */
    apr_time_t expiration;     /* 0 = never */
    const char *source;        /* "config", "environment", "profile", "ecs" or "imds" (static) */
} aws_creds_t;

/** Where to look; every field may be NULL / 0 for its default. */
typedef struct aws_creds_config_t {
    const char *access_key;       /* explicit credentials: access key and secret key together, */
    const char *secret_key;       /* optionally with a session token; then no other source */
    const char *session_token;    /* is tried */
    const char *key_file;         /* explicit credentials from a file (instead of the above):
                                     two lines (access key, secret key), or lines
                                     aws_access_key_id=, aws_secret_access_key= and optionally
                                     aws_session_token=; read once, at creation */
    const char *profile;          /* NULL: AWS_PROFILE, else "default" */
    const char *credentials_file; /* NULL: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials;
                                     a leading "~/" is the home directory */
    const char *imds_endpoint;    /* NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT, else
                                     http://[fd00:ec2::254] when
                                     AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, else
                                     http://169.254.169.254 */
    apr_interval_time_t timeout;  /* per HTTP call (ecs, imds); 0: 1 second */
    apr_interval_time_t refresh_margin; /* refresh this long before the expiration (plus a
                                           random 0 to 60 s); 0: 5 minutes */
} aws_creds_config_t;

/** What a module's "...Credentials" directive accepts, for its error message. */
#define AWS_CREDS_SOURCE_SYNTAX "expected 'default', 'keyfile PATH' or 'profile NAME'"

/**
 * Check the words of a module's "...Credentials" directive: "default", "keyfile PATH" or
 * "profile NAME" (the word case-insensitive).
 * @param word the first word
 * @param arg the second word, or NULL
 * @return "default", "keyfile" or "profile" (static strings); NULL when the words fit none
 */
const char *aws_creds_source_parse(const char *word, const char *arg);

/**
 * The words of a module's "...Credentials" directive, checked (aws_creds_source_parse()), with the
 * key file of "keyfile PATH" made absolute against @p root (the server root), as the directive's
 * setter keeps them.
 * @param source out: "default", "keyfile" or "profile"
 * @param arg out: the key file (absolute), the profile name, or @p warg for "default"
 * @return APR_SUCCESS; APR_EINVAL when the words fit none (say AWS_CREDS_SOURCE_SYNTAX) or the
 *         path cannot be made absolute
 */
apr_status_t aws_creds_source_conf(const char **source, const char **arg, const char *word,
                                   const char *warg, const char *root, apr_pool_t *p);

/**
 * Set @p cfg's key_file or profile from a source that aws_creds_source_parse() returned and its
 * argument ("default" sets neither).
 */
void aws_creds_config_set_source(aws_creds_config_t *cfg, const char *source, const char *arg);

/** A credentials provider: one per configuration, shared by all threads of a process. */
typedef struct aws_creds_provider_t aws_creds_provider_t;

/**
 * One HTTP call to a credentials endpoint (the test seam; the default goes through aws_http:
 * one attempt on a connection of its own, without any proxy, without following redirects, with
 * @p timeout for connect and transfer, a body of at most 64 KiB).
 * @param status out: the HTTP status
 * @param body out: the response body, NUL-terminated ("" for none), allocated from @p p
 * @param error out on failure: what went wrong, without secrets, allocated from @p p
 * @param method "GET" or "PUT" (a PUT sends an empty body)
 * @param headers request headers to send; may hold secrets (tokens), never to be logged
 * @return APR_SUCCESS when an HTTP answer came, whatever its status; APR_TIMEUP, APR_EGENERAL...
 */
typedef apr_status_t aws_creds_fetch_fn(int *status, const char **body, const char **error,
                                        const char *method, const char *url,
                                        const apr_table_t *headers, apr_interval_time_t timeout,
                                        void *baton, apr_pool_t *p);

/**
 * Create a provider. Checks the configuration, reads the key file if one is given, and takes a
 * snapshot of the environment.
 * @param out the provider; it lives in a subpool of @p p with its own allocator, and holds
 *        credentials in memory until @p p is destroyed
 * @param why out on error: what is wrong with the configuration (never a secret), from @p p;
 *        may be NULL
 * @param cfg the configuration; copied, need not outlive the call
 * @return APR_SUCCESS; APR_EINVAL for a bad configuration (an access key without a secret key,
 *         both keys and a key file, a malformed key file); the error reading the key file
 */
apr_status_t aws_creds_provider_create(aws_creds_provider_t **out, const char **why,
                                       const aws_creds_config_t *cfg, apr_pool_t *p);

/**
 * Replace the HTTP calls (tests). Call before the provider is first used; NULL restores aws_http.
 */
void aws_creds_provider_set_fetch(aws_creds_provider_t *prov, aws_creds_fetch_fn *fn, void *baton);

/** Replace the clock (tests). Call before the provider is first used; NULL restores apr_time_now.
 */
void aws_creds_provider_set_clock(aws_creds_provider_t *prov, apr_time_t (*now)(void));

/**
 * Get valid credentials: the current ones, or fresh ones when they are due for a refresh or
 * there are none yet. Thread-safe; one thread refreshes at a time, the others use the current
 * credentials meanwhile, or, when there are none valid, wait for the outcome of that refresh.
 * Failed or unparseable answers are never kept: the next call tries again (when credentials are
 * still valid, not sooner than 30 seconds later).
 * @param out the credentials, strings allocated from @p p
 * @param why out on error: why there are none (each source tried and what it said; never a
 *        secret), allocated from @p p; may be NULL. The provider logs it at debug level only:
 *        the caller knows what the credentials were for and logs the failure.
 * @param p also used for the scratch work of a refresh (in a subpool, destroyed before return)
 * @return APR_SUCCESS; APR_NOTFOUND when no source has credentials; the error of the source
 *         that failed (APR_TIMEUP, APR_EGENERAL, APR_EINVAL for an answer that does not parse)
 */
apr_status_t aws_creds_get(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                           apr_pool_t *p);

/**
 * Drop the current credentials when they are the ones that AWS just rejected (ExpiredToken,
 * InvalidAccessKeyId, InvalidToken), so that the next aws_creds_get() fetches new ones from their
 * source (a single-flight refresh like any other). Only credentials that can be refreshed ("ecs",
 * "imds") are dropped; for the static sources this does nothing. When the current credentials
 * have another access key (another thread already replaced the rejected ones), nothing happens
 * either. Thread-safe.
 * @param access_key the access key of the rejected credentials; NULL does nothing
 */
void aws_creds_provider_invalidate(aws_creds_provider_t *prov, const char *access_key);

/**
 * GET @p path (e.g. "/latest/meta-data/instance-id") from the instance metadata service with an
 * IMDSv2 session token, with the provider's endpoint, timeout and HTTP seam.
 * @param body out: the answer without surrounding white space, allocated from @p p
 * @param why out on error: what went wrong, allocated from @p p
 * @return APR_SUCCESS; APR_NOTFOUND when IMDS is disabled or the path does not exist (404);
 *         APR_TIMEUP, APR_EGENERAL...
 */
apr_status_t aws_creds_imds_get(const char **body, const char **why, aws_creds_provider_t *prov,
                                const char *path, apr_pool_t *p);

/**
 * Read the keys of @p profile from the text of a shared credentials file: "[name]" sections of
 * "key = value" lines (aws_access_key_id, aws_secret_access_key, aws_session_token or its older
 * name aws_security_token), comments starting with '#' or ';'. What the "profile" source does
 * with the file it read; public for the fuzzer (tests/fuzz/fuzz_aws_creds.c) and the tests.
 * @param out out: the credentials (expiration 0), pointing into @p content
 * @param why out on error: what is wrong, naming @p profile and @p path, never a line of the
 *        file (a mangled line may hold a secret), from @p p
 * @param content the file's text, NUL-terminated; cut into lines in place
 * @param path the file's name, for messages
 * @return APR_SUCCESS; APR_NOTFOUND when the file has no such profile, or one without keys;
 *         APR_EINVAL for a profile with only one of the two keys
 */
apr_status_t aws_creds_profile_parse(aws_creds_t *out, const char **why, char *content,
                                     const char *profile, const char *path, apr_pool_t *p);

/**
 * Read explicit credentials from the text of a key file (aws_creds_config_t.key_file): two
 * lines (access key, secret key), or aws_access_key_id=, aws_secret_access_key= and optionally
 * aws_session_token= lines; blank lines and comments are skipped. Public for the fuzzer
 * (tests/fuzz/fuzz_aws_creds.c) and the tests.
 * @param out out: access_key, secret_key and session_token (others untouched), pointing into
 *        @p content
 * @param why out on APR_EINVAL: what is wrong, naming @p path, never the content, from @p p
 * @param content the file's text, NUL-terminated; cut into lines in place
 * @param path the file's name, for messages
 * @return APR_SUCCESS, or APR_EINVAL ([profile] sections, not two lines, a key missing)
 */
apr_status_t aws_creds_key_file_parse(aws_creds_t *out, const char **why, char *content,
                                      const char *path, apr_pool_t *p);

#endif /* AWS_CREDS_H */
