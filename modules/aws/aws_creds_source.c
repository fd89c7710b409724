/* aws_creds_source — the sources of the credentials chain and their HTTP calls (see
 * aws_creds_source.h).
 *
 * Messages never quote a secret: not a line of a credentials or key file (a mangled line may
 * hold one), not an answer of a credentials endpoint, not a token.
 */
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_user.h>

#include "aws_creds_source.h"
#include "aws_sigv4.h"
#include "lf_json.h"
#include "lf_secret.h"

#define AWS_CREDS_BODY_MAX        (64 * 1024)   /* an answer of a credentials endpoint */
#define AWS_CREDS_FILE_MAX        (1024 * 1024) /* a shared credentials file */
#define AWS_CREDS_TIMEOUT         apr_time_from_sec(1)
#define AWS_CREDS_IMDS            "http://169.254.169.254"
#define AWS_CREDS_IMDS_V6         "http://[fd00:ec2::254]"
#define AWS_CREDS_IMDS_TTL        "21600" /* seconds: the longest a token may live */
#define AWS_CREDS_IMDS_TOKEN_PATH "/latest/api/token"
#define AWS_CREDS_IMDS_ROLE_PATH  "/latest/meta-data/iam/security-credentials/"
#define AWS_CREDS_ECS             "http://169.254.170.2"

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

const char *aws_creds_strerror(apr_status_t rv, apr_pool_t *p)
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

/* --- the default HTTP calls: aws_http --------------------------------------------------------- */

static int header_add(void *baton, const char *key, const char *value)
{
    aws_sigv4_header_t *h = apr_array_push(baton);

    h->name = key;
    h->value = value;
    return 1;
}

/* aws_creds_fetch_fn through aws_http; @p baton is the client. */
static apr_status_t fetch_http(int *status, const char **body, const char **error,
                               const char *method, const char *url, const apr_table_t *headers,
                               apr_interval_time_t timeout, void *baton, apr_pool_t *p)
{
    aws_http_response_t *resp;
    aws_http_request_t req;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = apr_array_make(p, 2, sizeof(aws_sigv4_header_t));
    if (headers) {
        apr_table_do(header_add, req.headers, headers, NULL);
    }
    req.timeout = timeout;
    rv = aws_http_perform(&resp, baton, &req, p);
    if (resp->cancelled == APR_ENOSPC) {
        *error = apr_psprintf(p, "the answer is larger than %d bytes", AWS_CREDS_BODY_MAX);
        return APR_EGENERAL;
    }
    if (rv != APR_SUCCESS) {
        *error = resp->transport_error;
        return rv;
    }
    *status = resp->status;
    *body = resp->body;
    return APR_SUCCESS;
}

/* The client of the default calls. Each call on a connection of its own (an instance asks
 * rarely), without any proxy (the metadata endpoints are link-local: a proxy from the
 * environment would either fail or, worse, see the tokens), once: a refresh that fails is tried
 * again later by the provider, while the current credentials serve. */
static apr_status_t http_client(aws_http_client_t **out, apr_interval_time_t timeout, apr_pool_t *p)
{
    aws_http_config_t cfg;

    aws_http_config_once(&cfg, timeout);
    cfg.max_body = AWS_CREDS_BODY_MAX;
    cfg.body_limit_fails = 1;
    return aws_http_client_create(out, &cfg, p);
}

void aws_creds_sources_set_fetch(aws_creds_sources_t *s, aws_creds_fetch_fn *fn, void *baton)
{
    s->fetch = fn ? fn : fetch_http;
    s->baton = fn ? baton : s->http;
}

/* --- the sources ------------------------------------------------------------------------------ */

/* Each fills *out (strings from p) or says why not: APR_NOTFOUND when the source has nothing
 * (not configured, no such file), another error when it failed. */
typedef apr_status_t source_fn(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                               apr_pool_t *p);

static apr_status_t from_config(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                                apr_pool_t *p)
{
    (void)p;
    if (!s->config.access_key) {
        *why = "not configured";
        return APR_NOTFOUND;
    }
    *out = s->config;
    return APR_SUCCESS;
}

static apr_status_t from_env(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                             apr_pool_t *p)
{
    (void)p;
    if (s->env_why) {
        *why = s->env_why;
        return APR_NOTFOUND;
    }
    out->access_key = s->env_access_key;
    out->secret_key = s->env_secret_key;
    out->session_token = s->env_session_token;
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

static apr_status_t from_profile(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                                 apr_pool_t *p)
{
    apr_status_t rv;
    char *content;

    if (!s->credentials_file) {
        *why = s->profile_why;
        return APR_NOTFOUND;
    }
    rv = read_file(&content, s->credentials_file, AWS_CREDS_FILE_MAX, p);
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        *why = apr_psprintf(p, "%s does not exist", s->credentials_file);
        return APR_NOTFOUND;
    }
    if (rv == APR_ENOSPC) {
        *why =
            apr_psprintf(p, "%s is larger than %d bytes", s->credentials_file, AWS_CREDS_FILE_MAX);
        return APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        *why =
            apr_psprintf(p, "cannot read %s: %s", s->credentials_file, aws_creds_strerror(rv, p));
        return rv;
    }
    return aws_creds_profile_parse(out, why, content, s->profile, s->credentials_file, p);
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
static apr_status_t fetch_ok(const char **body, const char **why, const aws_creds_sources_t *s,
                             const char *method, const char *url, const apr_table_t *headers,
                             apr_pool_t *p)
{
    const char *error = NULL;
    apr_status_t rv;
    int status = 0;

    *body = NULL;
    rv = s->fetch(&status, body, &error, method, url, headers, s->timeout, s->baton, p);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s %s: %s", method, url, error ? error : aws_creds_strerror(rv, p));
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

static apr_status_t from_ecs(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                             apr_pool_t *p)
{
    apr_table_t *headers = apr_table_make(p, 1);
    const char *token = s->ecs_token, *body, *error;
    apr_status_t rv;

    if (!s->ecs_url) {
        *why = s->ecs_why;
        return APR_NOTFOUND;
    }
    /* The token file wins over the variable, as in the AWS SDKs; it is read at every refresh
     * because EKS rotates it. */
    if (s->ecs_token_file) {
        rv = lf_secret_load(&token, &error, apr_pstrcat(p, "file:", s->ecs_token_file, NULL), p);
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
    if ((rv = fetch_ok(&body, why, s, "GET", s->ecs_url, headers, p)) != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    return from_json(out, why, body, s->ecs_url, p);
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
                                 const aws_creds_sources_t *s, apr_pool_t *p)
{
    const char *url, *body, *token;
    apr_status_t rv;

    if (!s->imds_endpoint) {
        *why = s->imds_why;
        return APR_NOTFOUND;
    }
    *headers = apr_table_make(p, 1);
    url = apr_pstrcat(p, s->imds_endpoint, AWS_CREDS_IMDS_TOKEN_PATH, NULL);
    apr_table_setn(*headers, "X-aws-ec2-metadata-token-ttl-seconds", AWS_CREDS_IMDS_TTL);
    if ((rv = fetch_ok(&body, why, s, "PUT", url, *headers, p)) != APR_SUCCESS) {
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

apr_status_t aws_creds_sources_imds_get(const char **body, const char **why,
                                        const aws_creds_sources_t *s, const char *path,
                                        apr_pool_t *p)
{
    apr_table_t *headers;
    apr_status_t rv;

    *body = NULL;
    if ((rv = imds_session(&headers, why, s, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = fetch_ok(body, why, s, "GET", apr_pstrcat(p, s->imds_endpoint, path, NULL), headers, p);
    if (rv == APR_SUCCESS) {
        *body = trim(apr_pstrdup(p, *body));
    }
    return rv;
}

static apr_status_t from_imds(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                              apr_pool_t *p)
{
    apr_table_t *headers;
    const char *url, *body, *role;
    apr_status_t rv;
    char *nl;

    /* a session, then the role name, then the role's credentials */
    if ((rv = imds_session(&headers, why, s, p)) != APR_SUCCESS) {
        return rv;
    }
    url = apr_pstrcat(p, s->imds_endpoint, AWS_CREDS_IMDS_ROLE_PATH, NULL);
    if ((rv = fetch_ok(&body, why, s, "GET", url, headers, p)) != APR_SUCCESS) {
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
    if ((rv = fetch_ok(&body, why, s, "GET", url, headers, p)) != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    return from_json(out, why, body, url, p);
}

static const struct {
    const char *name;
    source_fn *fn;
} sources[AWS_CREDS_SRC_COUNT] = {
    {"config", from_config}, {"environment", from_env}, {"profile", from_profile},
    {"ecs", from_ecs},       {"imds", from_imds},
};

/* --- the settings ----------------------------------------------------------------------------- */

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

apr_status_t aws_creds_sources_init(aws_creds_sources_t *s, const char **why,
                                    const aws_creds_config_t *cfg, apr_pool_t *p)
{
    const char *v, *path;
    char *endpoint, *end;
    apr_status_t rv;

    s->timeout = cfg->timeout > 0 ? cfg->timeout : AWS_CREDS_TIMEOUT;

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
        s->config.access_key = apr_pstrdup(p, cfg->access_key);
        s->config.secret_key = apr_pstrdup(p, cfg->secret_key);
        s->config.session_token =
            cfg->session_token && *cfg->session_token ? apr_pstrdup(p, cfg->session_token) : NULL;
    }
    else if (cfg->key_file) {
        if ((rv = key_file_load(&s->config, why, cfg->key_file, p)) != APR_SUCCESS) {
            return rv;
        }
    }

    s->env_access_key = env_get("AWS_ACCESS_KEY_ID", p);
    s->env_secret_key = env_get("AWS_SECRET_ACCESS_KEY", p);
    s->env_session_token = env_get("AWS_SESSION_TOKEN", p);
    if (!s->env_access_key && !s->env_secret_key) {
        s->env_why = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set";
    }
    else if (!s->env_access_key || !s->env_secret_key) {
        s->env_why =
            s->env_access_key ? "AWS_SECRET_ACCESS_KEY is not set" : "AWS_ACCESS_KEY_ID is not set";
    }

    s->profile = cfg->profile ? cfg->profile : env_get("AWS_PROFILE", p);
    s->profile = apr_pstrdup(p, s->profile ? s->profile : "default");
    path =
        cfg->credentials_file ? cfg->credentials_file : env_get("AWS_SHARED_CREDENTIALS_FILE", p);
    if (!(s->credentials_file = expand_home(path ? path : "~/.aws/credentials", p))) {
        s->profile_why = "no home directory for ~/.aws/credentials";
    }

    if ((v = env_get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", p))) {
        if (*v == '/') {
            s->ecs_url = apr_pstrcat(p, AWS_CREDS_ECS, v, NULL);
        }
        else {
            s->ecs_why = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI does not start with /";
        }
    }
    else if ((v = env_get("AWS_CONTAINER_CREDENTIALS_FULL_URI", p))) {
        if (!(s->ecs_why = ecs_full_uri_check(v, p))) {
            s->ecs_url = v;
        }
    }
    else {
        s->ecs_why = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set";
    }
    s->ecs_token = env_get("AWS_CONTAINER_AUTHORIZATION_TOKEN", p);
    s->ecs_token_file = env_get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", p);

    if ((v = env_get("AWS_EC2_METADATA_DISABLED", p)) && !strcasecmp(v, "true")) {
        s->imds_why = "disabled by AWS_EC2_METADATA_DISABLED";
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
        s->imds_endpoint = endpoint;
    }

    if ((rv = http_client(&s->http, s->timeout, p)) != APR_SUCCESS) {
        *why = "cannot create an HTTP client";
        return rv;
    }
    aws_creds_sources_set_fetch(s, NULL, NULL);
    return APR_SUCCESS;
}

apr_status_t aws_creds_source_get(aws_creds_t *out, const char **why, const aws_creds_sources_t *s,
                                  int source, apr_pool_t *p)
{
    return sources[source].fn(out, why, s, p);
}

const char *aws_creds_source_name(int source)
{
    return sources[source].name;
}

int aws_creds_source_refreshable(int source)
{
    return source == AWS_CREDS_SRC_ECS || source == AWS_CREDS_SRC_IMDS;
}
