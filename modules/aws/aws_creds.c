/* aws_creds — the AWS credentials provider chain (see aws_creds.h).
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
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_uri.h>
#include <apr_user.h>
#include <curl/curl.h>

#include "aws_creds.h"
#include "lf_parse.h"
#include "lf_json.h"
#include "lf_log.h"
#include "lf_secret.h"

#if !APR_HAS_THREADS
#error "aws_creds needs APR with thread support"
#endif

#define AWS_CREDS_BODY_MAX        (64 * 1024)   /* an answer of a credentials endpoint */
#define AWS_CREDS_FILE_MAX        (1024 * 1024) /* a shared credentials file */
#define AWS_CREDS_TIMEOUT         apr_time_from_sec(1)
#define AWS_CREDS_MARGIN          apr_time_from_sec(300)
#define AWS_CREDS_JITTER          apr_time_from_sec(60)
#define AWS_CREDS_RETRY           apr_time_from_sec(30)
#define AWS_CREDS_WHY_MAX         1024
#define AWS_CREDS_IMDS            "http://169.254.169.254"
#define AWS_CREDS_IMDS_V6         "http://[fd00:ec2::254]"
#define AWS_CREDS_IMDS_TTL        "21600" /* seconds: the longest a token may live */
#define AWS_CREDS_IMDS_TOKEN_PATH "/latest/api/token"
#define AWS_CREDS_IMDS_ROLE_PATH  "/latest/meta-data/iam/security-credentials/"
#define AWS_CREDS_ECS             "http://169.254.170.2"

/* The sources, in the order of the chain. */
enum { SRC_CONFIG, SRC_ENV, SRC_PROFILE, SRC_ECS, SRC_IMDS, SRC_COUNT };

struct aws_creds_provider_t {
    apr_pool_t *pool; /* own allocator; used under the mutex only, after creation */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;

    /* Settings: written at creation (and by the test seams before first use), then read-only. */
    aws_creds_fetch_fn *fetch;
    void *baton;
    apr_time_t (*now)(void);
    apr_interval_time_t timeout;
    apr_interval_time_t margin;
    aws_creds_t config; /* access_key NULL: none configured */
    const char *env_access_key, *env_secret_key, *env_session_token, *env_why;
    const char *profile, *credentials_file, *profile_why; /* file NULL: profile_why */
    const char *ecs_url, *ecs_token, *ecs_token_file, *ecs_why;
    const char *imds_endpoint, *imds_why; /* endpoint NULL: disabled, imds_why */

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

/* --- small helpers ---------------------------------------------------------------------------- */

static char *trim(char *s)
{
    char *end;

    while (apr_isspace(*s)) {
        ++s;
    }
    for (end = s + strlen(s); end > s && apr_isspace(end[-1]); --end) {
    }
    *end = '\0';
    return s;
}

/* The next line at @p *cursor that is neither blank nor a comment, trimmed; the text is cut
 * into lines in place. NULL at the end. */
static char *next_config_line(char **cursor)
{
    char *line, *nl;

    while ((line = *cursor)) {
        if ((nl = strchr(line, '\n'))) {
            *nl = '\0';
        }
        *cursor = nl ? nl + 1 : NULL;
        line = trim(line);
        if (*line && *line != '#' && *line != ';') {
            return line;
        }
    }
    return NULL;
}

/* An environment variable, NULL when unset or empty. */
static const char *env_get(const char *name, apr_pool_t *p)
{
    char *v;

    return apr_env_get(&v, name, p) == APR_SUCCESS && *v ? v : NULL;
}

static const char *format_time(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t x;

    if (apr_time_exp_gmt(&x, t) != APR_SUCCESS) {
        return "(invalid time)";
    }
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", x.tm_year + 1900, x.tm_mon + 1,
                        x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
}

static const char *strerr(apr_status_t rv, apr_pool_t *p)
{
    char buf[128];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

/* Read a whole file of at most @p max bytes, NUL-terminated, from @p p. */
static apr_status_t read_file(char **out, const char *path, apr_size_t max, apr_pool_t *p)
{
    apr_file_t *f;
    apr_size_t len = max + 1;
    apr_status_t rv;
    char *buf;

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    buf = apr_palloc(p, max + 2);
    rv = apr_file_read_full(f, buf, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return rv;
    }
    if (len > max) {
        return APR_ENOSPC;
    }
    buf[len] = '\0';
    *out = buf;
    return APR_SUCCESS;
}

/* "~/x" with the home directory: $HOME, else the current user's entry in the password file
 * (httpd started by an init system may have no HOME). */
static const char *expand_home(const char *path, apr_pool_t *p)
{
    const char *home;
    char *name, *dir;
    apr_uid_t uid;
    apr_gid_t gid;

    if (strncmp(path, "~/", 2)) {
        return path;
    }
    if (!(home = env_get("HOME", p))) {
        if (apr_uid_current(&uid, &gid, p) != APR_SUCCESS
            || apr_uid_name_get(&name, uid, p) != APR_SUCCESS
            || apr_uid_homepath_get(&dir, name, p) != APR_SUCCESS) {
            return NULL;
        }
        home = dir;
    }
    return apr_pstrcat(p, home, path + 1, NULL);
}

/* Whether @p host is an IPv4 address in 127.0.0.0/8 (a name like "127.example.com" is not). */
static int is_ipv4_loopback(const char *host)
{
    int parts = 0, n;

    if (strncmp(host, "127.", 4)) {
        return 0;
    }
    while (*host) {
        if (!apr_isdigit(*host)) {
            return 0;
        }
        for (n = 0; apr_isdigit(*host); ++host) {
            n = n * 10 + (*host - '0');
            if (n > 255) {
                return 0;
            }
        }
        ++parts;
        if (*host == '.') {
            ++host;
        }
    }
    return parts == 4;
}

/* Why AWS_CONTAINER_CREDENTIALS_FULL_URI may not be used, or NULL. Like the AWS SDKs, plain
 * http is allowed to loopback and to the ECS and EKS Pod Identity agents only: anything else
 * would send the authorization token, and trust credentials, over an open network. */
static const char *ecs_full_uri_check(const char *uri, apr_pool_t *p)
{
    static const char *const allowed[] = {"localhost", "::1", "169.254.170.2", "169.254.170.23",
                                          "fd00:ec2::23"};
    apr_uri_t u;
    apr_size_t i;

    if (apr_uri_parse(p, uri, &u) != APR_SUCCESS || !u.scheme || !u.hostname || !*u.hostname) {
        return "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL";
    }
    if (!strcasecmp(u.scheme, "https")) {
        return NULL;
    }
    if (strcasecmp(u.scheme, "http")) {
        return "AWS_CONTAINER_CREDENTIALS_FULL_URI is neither http nor https";
    }
    if (is_ipv4_loopback(u.hostname)) {
        return NULL;
    }
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); ++i) {
        if (!strcasecmp(u.hostname, allowed[i])) {
            return NULL;
        }
    }
    return "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed to loopback and the "
           "container credentials agents only";
}

/* --- the default HTTP calls: libcurl ---------------------------------------------------------- */

typedef struct fetch_ctx_t {
    char *data;
    apr_size_t len;
    int too_large;
    struct curl_slist *headers;
    apr_pool_t *p;
} fetch_ctx_t;

static size_t fetch_write(char *data, size_t size, size_t n, void *baton)
{
    fetch_ctx_t *ctx = baton;
    apr_size_t len = size * n;

    if (len > AWS_CREDS_BODY_MAX - ctx->len) {
        ctx->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    memcpy(ctx->data + ctx->len, data, len);
    ctx->len += len;
    return len;
}

static size_t fetch_read_nothing(char *buf, size_t size, size_t n, void *baton)
{
    (void)buf;
    (void)size;
    (void)n;
    (void)baton;
    return 0;
}

static int fetch_add_header(void *baton, const char *key, const char *value)
{
    fetch_ctx_t *ctx = baton;
    struct curl_slist *l =
        curl_slist_append(ctx->headers, apr_pstrcat(ctx->p, key, ": ", value, NULL));
    if (l) {
        ctx->headers = l;
    }
    return 1;
}

static long fetch_ms(apr_interval_time_t t)
{
    long ms = (long)(t / 1000);
    return ms > 0 ? ms : 1;
}

static apr_status_t fetch_curl(int *status, const char **body, const char **error,
                               const char *method, const char *url, const apr_table_t *headers,
                               apr_interval_time_t timeout, void *baton, apr_pool_t *p)
{
    char errbuf[CURL_ERROR_SIZE];
    apr_status_t rv = APR_SUCCESS;
    fetch_ctx_t ctx;
    long code = 0;
    CURLcode rc;
    CURL *c;

    (void)baton;
    memset(&ctx, 0, sizeof(ctx));
    ctx.p = p;
    ctx.data = apr_palloc(p, AWS_CREDS_BODY_MAX + 1);
    if (!(c = curl_easy_init())) {
        *error = "cannot create a curl handle";
        return APR_ENOMEM;
    }
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* we run in a thread of httpd */
    /* The metadata endpoints are link-local: a proxy from the environment would either fail or,
     * worse, see the tokens. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, fetch_ms(timeout));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, fetch_ms(timeout));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, fetch_read_nothing);
    }
    else if (strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (headers) {
        apr_table_do(fetch_add_header, &ctx, headers, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, ctx.headers);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        ctx.data[ctx.len] = '\0';
        *status = (int)code;
        *body = ctx.data;
    }
    else {
        *error = ctx.too_large
                     ? apr_psprintf(p, "the answer is larger than %d bytes", AWS_CREDS_BODY_MAX)
                     : apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        rv = rc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP : APR_EGENERAL;
    }
    curl_slist_free_all(ctx.headers);
    curl_easy_cleanup(c);
    return rv;
}

/* --- the sources ------------------------------------------------------------------------------ */

/* Each fills *out (strings from p) or says why not: APR_NOTFOUND when the source has nothing
 * (not configured, no such file), another error when it failed. */
typedef apr_status_t source_fn(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                               apr_pool_t *p);

static apr_status_t from_config(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                                apr_pool_t *p)
{
    (void)p;
    if (!prov->config.access_key) {
        *why = "not configured";
        return APR_NOTFOUND;
    }
    *out = prov->config;
    return APR_SUCCESS;
}

static apr_status_t from_env(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                             apr_pool_t *p)
{
    (void)p;
    if (prov->env_why) {
        *why = prov->env_why;
        return APR_NOTFOUND;
    }
    out->access_key = prov->env_access_key;
    out->secret_key = prov->env_secret_key;
    out->session_token = prov->env_session_token;
    out->expiration = 0;
    return APR_SUCCESS;
}

/* Messages never quote a line: a mangled line may hold a secret. */
apr_status_t aws_creds_profile_parse(aws_creds_t *out, const char **why, char *content,
                                     const char *profile, const char *path, apr_pool_t *p)
{
    const char *ak = NULL, *sk = NULL, *token = NULL, *key, *value;
    char *line, *cursor, *eq, *end;
    int in = 0, found = 0;

    for (cursor = content; (line = next_config_line(&cursor));) {
        if (*line == '[') {
            in = (end = strrchr(line, ']')) && (*end = '\0', !strcmp(trim(line + 1), profile));
            found |= in;
            continue;
        }
        if (!in || !(eq = strchr(line, '='))) {
            continue;
        }
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        if (!strcasecmp(key, "aws_access_key_id")) {
            ak = value;
        }
        else if (!strcasecmp(key, "aws_secret_access_key")) {
            sk = value;
        }
        else if (!strcasecmp(key, "aws_session_token")
                 || (!token && !strcasecmp(key, "aws_security_token"))) {
            token = value; /* aws_security_token: the older name, as botocore reads it */
        }
    }
    if (!found) {
        *why = apr_psprintf(p, "no profile [%s] in %s", profile, path);
        return APR_NOTFOUND;
    }
    if (!ak || !*ak) {
        *why = apr_psprintf(p,
                            "profile [%s] in %s has no aws_access_key_id (role_arn, sso and "
                            "credential_process profiles are not supported)",
                            profile, path);
        return sk ? APR_EINVAL : APR_NOTFOUND;
    }
    if (!sk || !*sk) {
        *why = apr_psprintf(p, "profile [%s] in %s has no aws_secret_access_key", profile, path);
        return APR_EINVAL;
    }
    out->access_key = ak;
    out->secret_key = sk;
    out->session_token = token && *token ? token : NULL;
    out->expiration = 0;
    return APR_SUCCESS;
}

static apr_status_t from_profile(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                                 apr_pool_t *p)
{
    apr_status_t rv;
    char *content;

    if (!prov->credentials_file) {
        *why = prov->profile_why;
        return APR_NOTFOUND;
    }
    rv = read_file(&content, prov->credentials_file, AWS_CREDS_FILE_MAX, p);
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        *why = apr_psprintf(p, "%s does not exist", prov->credentials_file);
        return APR_NOTFOUND;
    }
    if (rv == APR_ENOSPC) {
        *why = apr_psprintf(p, "%s is larger than %d bytes", prov->credentials_file,
                            AWS_CREDS_FILE_MAX);
        return APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot read %s: %s", prov->credentials_file, strerr(rv, p));
        return rv;
    }
    return aws_creds_profile_parse(out, why, content, prov->profile, prov->credentials_file, p);
}

/* Credentials from the JSON answer of the ECS or EC2 metadata endpoint at @p url. Never quotes
 * the answer: it holds the secret. */
static apr_status_t from_json(aws_creds_t *out, const char **why, const char *body, const char *url,
                              apr_pool_t *p)
{
    const char *code, *ak, *sk, *exp;
    apr_table_t *t;

    if (lf_json_parse_object(&t, body, strlen(body), p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "the answer of %s is not a JSON object", url);
        return APR_EINVAL;
    }
    if ((code = apr_table_get(t, "Code")) && strcmp(code, "Success")) {
        *why = apr_psprintf(p, "%s answered Code \"%.64s\"", url, code);
        return APR_EGENERAL;
    }
    ak = apr_table_get(t, "AccessKeyId");
    sk = apr_table_get(t, "SecretAccessKey");
    exp = apr_table_get(t, "Expiration");
    if (!ak || !*ak || !sk || !*sk) {
        *why = apr_psprintf(p, "the answer of %s has no %s", url,
                            !ak || !*ak ? "AccessKeyId" : "SecretAccessKey");
        return APR_EINVAL;
    }
    if (!exp || lf_json_parse_time(&out->expiration, exp) != APR_SUCCESS) {
        *why = apr_psprintf(p, "the answer of %s has no valid Expiration", url);
        return APR_EINVAL;
    }
    out->access_key = ak;
    out->secret_key = sk;
    out->session_token = apr_table_get(t, "Token");
    if (out->session_token && !*out->session_token) {
        out->session_token = NULL;
    }
    return APR_SUCCESS;
}

/* One call that must answer 200; *why on anything else. */
static apr_status_t fetch_ok(const char **body, const char **why, aws_creds_provider_t *prov,
                             const char *method, const char *url, const apr_table_t *headers,
                             apr_pool_t *p)
{
    const char *error = NULL;
    apr_status_t rv;
    int status = 0;

    *body = NULL;
    rv = prov->fetch(&status, body, &error, method, url, headers, prov->timeout, prov->baton, p);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s %s: %s", method, url, error ? error : strerr(rv, p));
        return rv;
    }
    if (status != 200) {
        *why = apr_psprintf(p, "%s %s: HTTP %d", method, url, status);
        return status == 404 ? APR_NOTFOUND : APR_EGENERAL;
    }
    if (!*body) {
        *body = "";
    }
    return APR_SUCCESS;
}

static apr_status_t from_ecs(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                             apr_pool_t *p)
{
    apr_table_t *headers = apr_table_make(p, 1);
    const char *token = prov->ecs_token, *body, *error;
    apr_status_t rv;

    if (!prov->ecs_url) {
        *why = prov->ecs_why;
        return APR_NOTFOUND;
    }
    /* The token file wins over the variable, as in the AWS SDKs; it is read at every refresh
     * because EKS rotates it. */
    if (prov->ecs_token_file) {
        rv = lf_secret_load(&token, &error, apr_pstrcat(p, "file:", prov->ecs_token_file, NULL), p);
        if (rv != APR_SUCCESS) {
            *why = apr_psprintf(p, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s", error);
            return rv;
        }
    }
    if (token) {
        if (strpbrk(token, "\r\n")) {
            *why = "the container authorization token holds a line break";
            return APR_EINVAL;
        }
        apr_table_setn(headers, "Authorization", token);
    }
    if ((rv = fetch_ok(&body, why, prov, "GET", prov->ecs_url, headers, p)) != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    return from_json(out, why, body, prov->ecs_url, p);
}

/* Whether @p role is an IAM role name (and so safe in a URL path). */
static int is_role_name(const char *role)
{
    const char *c;

    for (c = role; *c; ++c) {
        if (!apr_isalnum(*c) && !strchr("+=,.@_-", *c)) {
            return 0;
        }
    }
    return c > role && c - role <= 64;
}

/* IMDSv2: the headers of a session (a token fetched with a PUT, so that a GET-only SSRF cannot
 * obtain one). */
static apr_status_t imds_session(apr_table_t **headers, const char **why,
                                 aws_creds_provider_t *prov, apr_pool_t *p)
{
    const char *url, *body, *token;
    apr_status_t rv;

    if (!prov->imds_endpoint) {
        *why = prov->imds_why;
        return APR_NOTFOUND;
    }
    *headers = apr_table_make(p, 1);
    url = apr_pstrcat(p, prov->imds_endpoint, AWS_CREDS_IMDS_TOKEN_PATH, NULL);
    apr_table_setn(*headers, "X-aws-ec2-metadata-token-ttl-seconds", AWS_CREDS_IMDS_TTL);
    if ((rv = fetch_ok(&body, why, prov, "PUT", url, *headers, p)) != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    token = trim(apr_pstrdup(p, body));
    if (!*token || strpbrk(token, "\r\n")) {
        *why = apr_psprintf(p, "PUT %s: no token in the answer", url);
        return APR_EGENERAL;
    }
    *headers = apr_table_make(p, 1);
    apr_table_setn(*headers, "X-aws-ec2-metadata-token", token);
    return APR_SUCCESS;
}

apr_status_t aws_creds_imds_get(const char **body, const char **why, aws_creds_provider_t *prov,
                                const char *path, apr_pool_t *p)
{
    apr_table_t *headers;
    apr_status_t rv;

    *body = NULL;
    if ((rv = imds_session(&headers, why, prov, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = fetch_ok(body, why, prov, "GET", apr_pstrcat(p, prov->imds_endpoint, path, NULL), headers,
                  p);
    if (rv == APR_SUCCESS) {
        *body = trim(apr_pstrdup(p, *body));
    }
    return rv;
}

static apr_status_t from_imds(aws_creds_t *out, const char **why, aws_creds_provider_t *prov,
                              apr_pool_t *p)
{
    apr_table_t *headers;
    const char *url, *body, *role;
    apr_status_t rv;
    char *nl;

    /* a session, then the role name, then the role's credentials */
    if ((rv = imds_session(&headers, why, prov, p)) != APR_SUCCESS) {
        return rv;
    }
    url = apr_pstrcat(p, prov->imds_endpoint, AWS_CREDS_IMDS_ROLE_PATH, NULL);
    if ((rv = fetch_ok(&body, why, prov, "GET", url, headers, p)) != APR_SUCCESS) {
        if (rv == APR_NOTFOUND) {
            *why = apr_psprintf(p, "the instance has no IAM role (%s)", *why);
        }
        return rv;
    }
    if ((nl = strchr(body, '\n'))) {
        body = apr_pstrmemdup(p, body, (apr_size_t)(nl - body));
    }
    role = trim(apr_pstrdup(p, body));
    if (!*role) {
        *why = apr_psprintf(p, "the instance has no IAM role (%s is empty)", url);
        return APR_NOTFOUND;
    }
    if (!is_role_name(role)) {
        *why = apr_psprintf(p, "GET %s: the answer is not a role name", url);
        return APR_EGENERAL;
    }

    url = apr_pstrcat(p, url, role, NULL);
    if ((rv = fetch_ok(&body, why, prov, "GET", url, headers, p)) != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    return from_json(out, why, body, url, p);
}

static const struct {
    const char *name;
    source_fn *fn;
} sources[SRC_COUNT] = {
    {"config", from_config}, {"environment", from_env}, {"profile", from_profile},
    {"ecs", from_ecs},       {"imds", from_imds},
};

/* --- the provider ----------------------------------------------------------------------------- */

/* Never quotes the content. */
apr_status_t aws_creds_key_file_parse(aws_creds_t *out, const char **why, char *content,
                                      const char *path, apr_pool_t *p)
{
    const char *lines[2] = {NULL, NULL}, *key, *value;
    char *line, *cursor, *eq;
    int n = 0, named = 0;

    for (cursor = content; (line = next_config_line(&cursor));) {
        if (*line == '[') {
            *why = apr_psprintf(p,
                                "key file %s has [profile] sections: use it as the shared "
                                "credentials file instead",
                                path);
            return APR_EINVAL;
        }
        if ((eq = strchr(line, '='))) {
            *eq = '\0';
            key = trim(line);
            value = trim(eq + 1);
            if (!strcasecmp(key, "aws_access_key_id")) {
                out->access_key = value;
                named = 1;
                continue;
            }
            if (!strcasecmp(key, "aws_secret_access_key")) {
                out->secret_key = value;
                named = 1;
                continue;
            }
            if (!strcasecmp(key, "aws_session_token")) {
                out->session_token = *value ? value : NULL;
                named = 1;
                continue;
            }
            *eq = '='; /* not ours: count it as a plain line */
        }
        if (n < 2) {
            lines[n] = line;
        }
        ++n;
    }
    if (!named) {
        if (n != 2) {
            *why = apr_psprintf(p,
                                "key file %s: expected two lines (access key, secret key), or "
                                "aws_access_key_id= and aws_secret_access_key= lines",
                                path);
            return APR_EINVAL;
        }
        out->access_key = lines[0];
        out->secret_key = lines[1];
    }
    if (!out->access_key || !*out->access_key || !out->secret_key || !*out->secret_key) {
        *why = apr_psprintf(p, "key file %s: %s is missing", path,
                            !out->access_key || !*out->access_key ? "aws_access_key_id"
                                                                  : "aws_secret_access_key");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Explicit credentials from the key file at @p path (aws_creds_key_file_parse()). */
static apr_status_t key_file_load(aws_creds_t *out, const char **why, const char *path,
                                  apr_pool_t *p)
{
    const char *text, *err = NULL;
    apr_status_t rv;

    rv = lf_secret_load(&text, &err, apr_pstrcat(p, "file:", path, NULL), p);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "key file: %s", err);
        return rv;
    }
    return aws_creds_key_file_parse(out, why, apr_pstrdup(p, text), path, p);
}

/* The configuration and a snapshot of the environment into @p prov. */
static apr_status_t provider_settings(const char **why, aws_creds_provider_t *prov,
                                      const aws_creds_config_t *cfg, apr_pool_t *p)
{
    const char *v, *path;
    char *endpoint, *end;
    apr_status_t rv;

    prov->timeout = cfg->timeout > 0 ? cfg->timeout : AWS_CREDS_TIMEOUT;
    prov->margin = cfg->refresh_margin > 0 ? cfg->refresh_margin : AWS_CREDS_MARGIN;

    if ((cfg->access_key && *cfg->access_key) != (cfg->secret_key && *cfg->secret_key)) {
        *why = "an access key needs a secret key, and a secret key an access key";
        return APR_EINVAL;
    }
    if (cfg->key_file && (cfg->access_key || cfg->session_token)) {
        *why = "give the credentials either as keys or in a key file, not both";
        return APR_EINVAL;
    }
    if (cfg->session_token && !cfg->access_key) {
        *why = "a session token needs an access key and a secret key";
        return APR_EINVAL;
    }
    if (cfg->access_key && *cfg->access_key) {
        prov->config.access_key = apr_pstrdup(p, cfg->access_key);
        prov->config.secret_key = apr_pstrdup(p, cfg->secret_key);
        prov->config.session_token =
            cfg->session_token && *cfg->session_token ? apr_pstrdup(p, cfg->session_token) : NULL;
    }
    else if (cfg->key_file) {
        if ((rv = key_file_load(&prov->config, why, cfg->key_file, p)) != APR_SUCCESS) {
            return rv;
        }
    }

    prov->env_access_key = env_get("AWS_ACCESS_KEY_ID", p);
    prov->env_secret_key = env_get("AWS_SECRET_ACCESS_KEY", p);
    prov->env_session_token = env_get("AWS_SESSION_TOKEN", p);
    if (!prov->env_access_key && !prov->env_secret_key) {
        prov->env_why = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set";
    }
    else if (!prov->env_access_key || !prov->env_secret_key) {
        prov->env_why = prov->env_access_key ? "AWS_SECRET_ACCESS_KEY is not set"
                                             : "AWS_ACCESS_KEY_ID is not set";
    }

    prov->profile = cfg->profile ? cfg->profile : env_get("AWS_PROFILE", p);
    prov->profile = apr_pstrdup(p, prov->profile ? prov->profile : "default");
    path =
        cfg->credentials_file ? cfg->credentials_file : env_get("AWS_SHARED_CREDENTIALS_FILE", p);
    if (!(prov->credentials_file = expand_home(path ? path : "~/.aws/credentials", p))) {
        prov->profile_why = "no home directory for ~/.aws/credentials";
    }

    if ((v = env_get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", p))) {
        if (*v == '/') {
            prov->ecs_url = apr_pstrcat(p, AWS_CREDS_ECS, v, NULL);
        }
        else {
            prov->ecs_why = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI does not start with /";
        }
    }
    else if ((v = env_get("AWS_CONTAINER_CREDENTIALS_FULL_URI", p))) {
        if (!(prov->ecs_why = ecs_full_uri_check(v, p))) {
            prov->ecs_url = v;
        }
    }
    else {
        prov->ecs_why = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set";
    }
    prov->ecs_token = env_get("AWS_CONTAINER_AUTHORIZATION_TOKEN", p);
    prov->ecs_token_file = env_get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", p);

    if ((v = env_get("AWS_EC2_METADATA_DISABLED", p)) && !strcasecmp(v, "true")) {
        prov->imds_why = "disabled by AWS_EC2_METADATA_DISABLED";
    }
    else {
        v = cfg->imds_endpoint ? cfg->imds_endpoint
                               : env_get("AWS_EC2_METADATA_SERVICE_ENDPOINT", p);
        if (!v) {
            v = env_get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", p);
            v = v && !strcasecmp(v, "IPv6") ? AWS_CREDS_IMDS_V6 : AWS_CREDS_IMDS;
        }
        endpoint = apr_pstrdup(p, v);
        for (end = endpoint + strlen(endpoint); end > endpoint && end[-1] == '/'; --end) {
            end[-1] = '\0';
        }
        prov->imds_endpoint = endpoint;
    }
    return APR_SUCCESS;
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
    prov->fetch = fetch_curl;
    prov->now = apr_time_now;
    prov->source = -1;
    if ((rv = apr_thread_mutex_create(&prov->mutex, APR_THREAD_MUTEX_DEFAULT, pool)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&prov->cond, pool)) != APR_SUCCESS) {
        reason = "cannot create a mutex";
        goto leave;
    }
    if ((rv = provider_settings(&reason, prov, cfg, pool)) != APR_SUCCESS) {
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
            *why = apr_pstrdup(p, reason ? reason : strerr(rv, p));
        }
        if (pool) {
            apr_pool_destroy(pool);
        }
    }
    return rv;
}

void aws_creds_provider_set_fetch(aws_creds_provider_t *prov, aws_creds_fetch_fn *fn, void *baton)
{
    prov->fetch = fn ? fn : fetch_curl;
    prov->baton = baton;
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
    int i = *source >= 0 ? *source : 0, last = *source >= 0 ? *source : SRC_COUNT - 1;
    apr_status_t rv, result = APR_NOTFOUND;
    const char *reasons = NULL, *one;

    for (; i <= last; ++i) {
        memset(out, 0, sizeof(*out));
        one = NULL;
        rv = sources[i].fn(out, &one, prov, p);
        if (rv == APR_SUCCESS && out->expiration && out->expiration <= prov->now()) {
            one = apr_psprintf(p, "the credentials expired at %s already",
                               format_time(out->expiration, p));
            rv = APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            out->source = sources[i].name;
            *source = i;
            return APR_SUCCESS;
        }
        one = one ? one : strerr(rv, p);
        lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, rv, LFLOGNO(00101) "AWS credentials from %s: %s",
                      sources[i].name, one);
        reasons = apr_psprintf(p, "%s%s%s: %s", reasons ? reasons : "", reasons ? "; " : "",
                               sources[i].name, one);
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
        reason = apr_pstrdup(p, reason ? reason : strerr(rv, p));
        creds_copy(out, &prov->current, p);
        rv = APR_SUCCESS;
    }
    else {
        if (prov->current.access_key) {
            reason = apr_psprintf(p,
                                  "the AWS credentials from %s expired at %s and getting new "
                                  "ones failed: %s",
                                  prov->current.source, format_time(prov->current.expiration, p),
                                  reason ? reason : strerr(rv, p));
        }
        else {
            reason = apr_psprintf(p, "no AWS credentials: %s", reason ? reason : strerr(rv, p));
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
        && (prov->source == SRC_ECS || prov->source == SRC_IMDS)) {
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
