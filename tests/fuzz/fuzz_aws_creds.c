/* fuzz_aws_creds — where AWS credentials come from (modules/aws/aws_creds.c): the shared
 * credentials file and the key file (aws_creds_profile_parse(), aws_creds_key_file_parse()),
 * and the answers of the EC2 instance metadata service (IMDSv2: the session token, the role
 * name, the credentials JSON), which reach the provider through its HTTP seam
 * (aws_creds_provider_set_fetch()), so that no request leaves the process.
 *
 * Input: one byte of mode, then the rest.
 *  - mode 0: a profile name (NUL-terminated), then the text of a credentials file;
 *  - mode 1: the text of a key file;
 *  - mode 2: a byte of HTTP statuses, then the three IMDS answers, NUL-separated: the token,
 *    the role name, the credentials; aws_creds_get() must hand out complete, unexpired
 *    credentials or say why not, and never with the secret key in the message;
 *  - mode 3: the same token and then the answer to aws_creds_imds_get().
 */
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "aws_creds.h"
#include "fuzz.h"
#include "lf_json.h"
#include "lf_log.h"

#define NOW apr_time_from_sec(1700000000)

/* The answers the seam gives, in order. */
typedef struct answers_t {
    const char *body[3];
    int status[3];
    int n, next;
} answers_t;

static apr_time_t fixed_now(void)
{
    return NOW;
}

static apr_status_t fetch(int *status, const char **body, const char **error, const char *method,
                          const char *url, const apr_table_t *headers, apr_interval_time_t timeout,
                          void *baton, apr_pool_t *p)
{
    answers_t *a = baton;

    (void)method, (void)url, (void)headers, (void)timeout;
    if (a->next >= a->n) {
        *error = "no more answers";
        return APR_ECONNREFUSED;
    }
    *status = a->status[a->next];
    *body = apr_pstrdup(p, a->body[a->next]);
    a->next++;
    return APR_SUCCESS;
}

/* Logging on at every level, into nothing: the messages are formatted all the same. */
static void log_nothing(const char *file, int line, int level, apr_status_t rv, const char *msg,
                        void *baton)
{
    (void)file, (void)line, (void)level, (void)rv, (void)msg, (void)baton;
}

static int log_all(int level, void *baton)
{
    (void)level, (void)baton;
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    };
    size_t i;

    (void)argc, (void)argv;
    /* the provider reads the environment: only the IMDS source may answer */
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
    lf_log_set(log_nothing, log_all, NULL);
    return 0;
}

/* Whether the secret key of the credentials answer @p json is worth looking for in a message:
 * long enough and not also in what a message may quote for other reasons (the Code, the role
 * name, the token). */
static const char *secret_of(const char *json, const answers_t *a, apr_pool_t *p)
{
    apr_table_t *t;
    const char *sk, *code;

    if (lf_json_parse_object(&t, json, strlen(json), p) != APR_SUCCESS
        || !(sk = apr_table_get(t, "SecretAccessKey")) || strlen(sk) < 8) {
        return NULL;
    }
    code = apr_table_get(t, "Code");
    if ((code && strstr(code, sk)) || strstr(a->body[0], sk) || strstr(a->body[1], sk)) {
        return NULL;
    }
    return sk;
}

static void imds(unsigned mode, fuzz_in_t *in, apr_pool_t *p)
{
    aws_creds_config_t cfg;
    aws_creds_provider_t *prov = NULL;
    answers_t a;
    aws_creds_t creds;
    const char *why = NULL, *body = NULL, *secret;
    unsigned statuses = fuzz_byte(in);
    apr_status_t rv;
    int i;

    memset(&a, 0, sizeof(a));
    a.n = mode == 2 ? 3 : 2;
    for (i = 0; i < a.n; i++) {
        /* mostly 200; a 404 or a 500 now and then */
        a.status[i] = (statuses >> (2 * i) & 3) == 3 ? ((statuses & 0x80) ? 404 : 500) : 200;
        a.body[i] = i < a.n - 1 ? fuzz_str(in, p) : fuzz_rest(in, NULL, p);
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.credentials_file = "/nonexistent/lampfarm-fuzz/credentials";
    cfg.imds_endpoint = "http://169.254.169.254";
    FUZZ_CHECK(aws_creds_provider_create(&prov, &why, &cfg, p) == APR_SUCCESS);
    aws_creds_provider_set_fetch(prov, fetch, &a);
    aws_creds_provider_set_clock(prov, fixed_now);
    if (mode == 3) {
        rv = aws_creds_imds_get(&body, &why, prov, "/latest/meta-data/instance-id", p);
        FUZZ_CHECK(rv != APR_SUCCESS || (body && !apr_isspace(*body)));
        FUZZ_CHECK(rv == APR_SUCCESS || why);
        return;
    }
    memset(&creds, 0, sizeof(creds));
    rv = aws_creds_get(&creds, &why, prov, p);
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(creds.access_key && *creds.access_key);
        FUZZ_CHECK(creds.secret_key && *creds.secret_key);
        FUZZ_CHECK(!creds.session_token || *creds.session_token);
        FUZZ_CHECK(creds.expiration > NOW);
        FUZZ_CHECK(creds.source && !strcmp(creds.source, "imds"));
        return;
    }
    FUZZ_CHECK(why && *why);
    secret = secret_of(a.body[2], &a, p);
    FUZZ_CHECK(!secret || !strstr(why, secret));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned mode = fuzz_byte(&in) & 3;
    const char *profile, *why = NULL;
    char *text;
    aws_creds_t c;
    apr_status_t rv;

    memset(&c, 0, sizeof(c));
    switch (mode) {
    case 0:
        profile = fuzz_str(&in, p);
        text = fuzz_rest(&in, NULL, p);
        rv = aws_creds_profile_parse(&c, &why, text, profile, "credentials", p);
        if (rv == APR_SUCCESS) {
            FUZZ_CHECK(c.access_key && *c.access_key && c.secret_key && *c.secret_key);
            FUZZ_CHECK(!c.session_token || *c.session_token);
            FUZZ_CHECK(!strchr(c.access_key, '\n') && !strchr(c.secret_key, '\n'));
        }
        else {
            FUZZ_CHECK((rv == APR_NOTFOUND || rv == APR_EINVAL) && why && *why);
        }
        break;
    case 1:
        text = fuzz_rest(&in, NULL, p);
        rv = aws_creds_key_file_parse(&c, &why, text, "keyfile", p);
        if (rv == APR_SUCCESS) {
            FUZZ_CHECK(c.access_key && *c.access_key && c.secret_key && *c.secret_key);
            FUZZ_CHECK(!strchr(c.access_key, '\n') && !strchr(c.secret_key, '\n'));
        }
        else {
            FUZZ_CHECK(rv == APR_EINVAL && why && *why);
        }
        break;
    default:
        imds(mode, &in, p);
        break;
    }
    apr_pool_destroy(p);
    return 0;
}
