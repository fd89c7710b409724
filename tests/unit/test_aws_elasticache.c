/* Unit tests of modules/aws/aws_elasticache.c: ElastiCache IAM tokens against tokens that
 * botocore made (AWS's example credentials and the names of the ElastiCache guide), the token's
 * shape, bad input, the token holder with an injected clock (same token within the refresh age,
 * a new one after, never past its credentials), and the re-authentication deadline. */
#include "unit.h"

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "aws_elasticache.h"
#include "lf_json.h"

/* AWS's example credentials (IAM and STS documentation). */
#define DOC_AK "AKIAIOSFODNN7EXAMPLE"
#define DOC_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define STS_EXAMPLE_TOKEN                                                                          \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmx"     \
    "fpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPk"   \
    "yQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBA"    \
    "z+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* 2024-01-02T03:04:05Z */
#define T0 ((apr_time_t)1704164645 * APR_USEC_PER_SEC)

typedef struct known_t {
    const char *region, *user_id, *cache_name;
    int serverless;
    const char *session_token; /* NULL: long-term keys */
    const char *time;
    const char *botocore; /* the token botocore's SigV4QueryAuth made for these */
} known_t;

/* Tokens made with botocore 1.43 when this was written (SigV4QueryAuth, service elasticache,
 * expires 900, over "https://<cache name lower-cased>/?" + urlencode(Action, User[,
 * ResourceType]), the scheme stripped: AWS's Developer Toolkit for ElastiCache). botocore orders
 * X-Amz-Expires before X-Amz-SignedHeaders, aws_sigv4 after: the tokens are compared parameter
 * by parameter. tests/integration/test_032_elasticache_token.py reads this table and makes each
 * token again with the botocore on the machine, so the values stay checked by an independent
 * signer. Keep the format: one initializer per entry, between the two marker comments. */
/* known-tokens: begin */
static const known_t KNOWN[] = {
    {"us-east-1", "iam-user-01", "replication-group-01", 0, NULL, "20240102T030405Z",
     "replication-group-01/?Action=connect&User=iam-user-01&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
     "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240102%2Fus-east-1%2Felasticache%2Faws4_request&"
     "X-Amz-Date=20240102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&"
     "X-Amz-Signature=995564d6f7602af74ff81db1da88573ba7f77ff507dcdef1e18e12ff3b68b2e1"},
    {"eu-west-1", "iam-user-01", "My-Serverless-Cache", 1, STS_EXAMPLE_TOKEN, "20240102T030405Z",
     "my-serverless-cache/?Action=connect&User=iam-user-01&ResourceType=ServerlessCache&"
     "X-Amz-Algorithm=AWS4-HMAC-SHA256&"
     "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240102%2Feu-west-1%2Felasticache%2Faws4_request&"
     "X-Amz-Date=20240102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&"
     "X-Amz-Security-Token=AQoDYXdzEPT%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEXAMPLEtc764bNrC9SAPBSM22wDOk4"
     "x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI%2FqkPpKPi%2FkMcGdQrm"
     "GdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAk"
     "iY9q6d%2Bxo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz%2BscqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3"
     "iSIlTJabIQwj2ICCR%2FoLxBA%3D%3D&"
     "X-Amz-Signature=187544411abe8b57976be3d5005ab9752c372752e9b0d590d158edf735287168"},
    {"ap-southeast-2", "app+user@example.com", "RG-2", 0, "short/token+=", "20261231T235959Z",
     "rg-2/?Action=connect&User=app%2Buser%40example.com&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
     "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261231%2Fap-southeast-2%2Felasticache%2F"
     "aws4_request&X-Amz-Date=20261231T235959Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&"
     "X-Amz-Security-Token=short%2Ftoken%2B%3D&"
     "X-Amz-Signature=9ba1c60f6290fb11ac21ca64117d61c5ca70301b4f424ab7205ba716563287fb"},
};
/* known-tokens: end */

static aws_creds_t doc_creds(const char *session_token)
{
    aws_creds_t c;

    memset(&c, 0, sizeof(c));
    c.access_key = DOC_AK;
    c.secret_key = DOC_SK;
    c.session_token = session_token;
    c.source = "config";
    return c;
}

static aws_elasticache_iam_t iam_of(const char *region, const char *user, const char *cache,
                                    int serverless)
{
    aws_elasticache_iam_t iam;

    iam.region = region;
    iam.user_id = user;
    iam.cache_name = cache;
    iam.serverless = serverless;
    return iam;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* @p token with its query parameters sorted: tokens that differ only in the order of their
 * parameters compare equal. */
static const char *sorted(const char *token, apr_pool_t *p)
{
    const char *q = strchr(token, '?');
    apr_array_header_t *parts = apr_array_make(p, 16, sizeof(const char *));
    char *rest, *state = NULL, *part;

    assert_non_null(q);
    rest = apr_pstrdup(p, q + 1);
    for (part = apr_strtok(rest, "&", &state); part; part = apr_strtok(NULL, "&", &state)) {
        APR_ARRAY_PUSH(parts, const char *) = part;
    }
    qsort(parts->elts, parts->nelts, sizeof(const char *), str_cmp);
    return apr_pstrcat(p, apr_pstrmemdup(p, token, (apr_size_t)(q - token + 1)),
                       apr_array_pstrcat(p, parts, '&'), NULL);
}

/* The value of query parameter @p name in @p token (as on the wire), or NULL. */
static const char *param(const char *token, const char *name, apr_pool_t *p)
{
    const char *key = apr_pstrcat(p, name, "=", NULL), *s = strchr(token, '?'), *end;

    while (s) {
        ++s;
        if (!strncmp(s, key, strlen(key))) {
            s += strlen(key);
            end = strchr(s, '&');
            return end ? apr_pstrmemdup(p, s, (apr_size_t)(end - s)) : apr_pstrdup(p, s);
        }
        s = strchr(s, '&');
    }
    return NULL;
}

/* --- the token -------------------------------------------------------------------------------- */

static void botocore_tokens(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t i;

    for (i = 0; i < sizeof(KNOWN) / sizeof(KNOWN[0]); ++i) {
        const known_t *k = &KNOWN[i];
        aws_elasticache_iam_t iam = iam_of(k->region, k->user_id, k->cache_name, k->serverless);
        aws_creds_t creds = doc_creds(k->session_token);
        const char *token = NULL, *why = NULL;
        apr_time_t t;

        assert_int_equal(aws_sigv4_parse_amz_date(&t, k->time), APR_SUCCESS);
        assert_int_equal(aws_elasticache_token(&token, NULL, &why, &iam, &creds, t, p),
                         APR_SUCCESS);
        assert_string_equal(param(token, "X-Amz-Signature", p),
                            param(k->botocore, "X-Amz-Signature", p));
        assert_string_equal(sorted(token, p), sorted(k->botocore, p));
        /* the operation's own parameters first, encoded the same way */
        assert_int_equal(strncmp(token, k->botocore,
                                 strlen(k->botocore) - strlen(strstr(k->botocore, "&X-Amz-"))),
                         0);
    }
}

static void token_shape(void **state)
{
    apr_pool_t *p = *state;
    aws_elasticache_iam_t iam = iam_of("eu-west-1", "iam-user-01", "Replication-Group-01", 0);
    aws_creds_t creds = doc_creds("tok/en+=");
    aws_sigv4_result_t *sig = NULL;
    const char *token = NULL, *why = NULL;

    assert_int_equal(aws_elasticache_token(&token, &sig, &why, &iam, &creds, T0, p), APR_SUCCESS);
    /* the cache name in lower case, the path "/", no scheme */
    assert_true(!strncmp(token, "replication-group-01/?Action=connect&User=iam-user-01&X-Amz-",
                         strlen("replication-group-01/?Action=connect&User=iam-user-01&X-Amz-")));
    assert_null(param(token, "ResourceType", p));
    assert_string_equal(param(token, "X-Amz-Expires", p), "900");
    assert_string_equal(param(token, "X-Amz-SignedHeaders", p), "host");
    assert_string_equal(param(token, "X-Amz-Date", p), "20240102T030405Z");
    assert_string_equal(param(token, "X-Amz-Credential", p),
                        "AKIAIOSFODNN7EXAMPLE%2F20240102%2Feu-west-1%2Felasticache%2Faws4_request");
    /* the session token is in the query and signed */
    assert_string_equal(param(token, "X-Amz-Security-Token", p), "tok%2Fen%2B%3D");
    assert_non_null(strstr(sig->canonical_request, "&X-Amz-Security-Token=tok%2Fen%2B%3D&"));
    assert_non_null(strstr(sig->canonical_request, "\nhost:replication-group-01\n"));
    assert_string_equal(sig->signed_headers, "host");
    assert_string_equal(strrchr(sig->canonical_request, '\n') + 1, EMPTY_SHA256);
    assert_string_equal(param(token, "X-Amz-Signature", p), sig->signature);
    assert_string_equal(strrchr(token, '&'),
                        apr_pstrcat(p, "&X-Amz-Signature=", sig->signature, NULL)); /* last */

    /* serverless: ResourceType=ServerlessCache after User, and signed */
    iam.serverless = 1;
    creds.session_token = NULL;
    assert_int_equal(aws_elasticache_token(&token, &sig, &why, &iam, &creds, T0, p), APR_SUCCESS);
    assert_true(!strncmp(token,
                         "replication-group-01/?Action=connect&User=iam-user-01&"
                         "ResourceType=ServerlessCache&X-Amz-",
                         strlen("replication-group-01/?Action=connect&User=iam-user-01&"
                                "ResourceType=ServerlessCache&X-Amz-")));
    assert_null(param(token, "X-Amz-Security-Token", p));
    assert_non_null(strstr(sig->canonical_request, "&ResourceType=ServerlessCache&User="));

    /* an empty session token is none */
    creds.session_token = "";
    assert_int_equal(aws_elasticache_token(&token, NULL, &why, &iam, &creds, T0, p), APR_SUCCESS);
    assert_null(param(token, "X-Amz-Security-Token", p));
}

static void user_id_encoded(void **state)
{
    apr_pool_t *p = *state;
    aws_elasticache_iam_t iam = iam_of("us-east-1", "a+b@c/d=e&f~g.h_i-j%", "rg", 0);
    aws_creds_t creds = doc_creds(NULL);
    const char *token = NULL, *why = NULL;

    assert_int_equal(aws_elasticache_token(&token, NULL, &why, &iam, &creds, T0, p), APR_SUCCESS);
    assert_string_equal(param(token, "User", p), "a%2Bb%40c%2Fd%3De%26f~g.h_i-j%25");
    iam.user_id = "caf\xc3\xa9";
    assert_int_equal(aws_elasticache_token(&token, NULL, &why, &iam, &creds, T0, p), APR_SUCCESS);
    assert_string_equal(param(token, "User", p), "caf%C3%A9");
}

/* Bad input: APR_EINVAL with a sentence saying what is wrong, never a secret. */
static void expect_einval(const aws_elasticache_iam_t *iam, const aws_creds_t *creds,
                          const char *says, apr_pool_t *p)
{
    const char *token = NULL, *why = NULL;

    assert_int_equal(aws_elasticache_token(&token, NULL, &why, iam, creds, T0, p), APR_EINVAL);
    assert_null(token);
    assert_non_null(why);
    if (!strstr(why, says)) {
        fail_msg("'%s' does not say '%s'", why, says);
    }
    assert_null(strstr(why, DOC_SK));
    assert_null(strstr(why, "SeCrEt"));
}

static void bad_input(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_t creds = doc_creds("SeCrEt-session");
    aws_creds_t no_secret = doc_creds(NULL);
    aws_elasticache_iam_t iam;
    const char *why = NULL;
    char long_user[AWS_ELASTICACHE_USER_MAX + 2];

    iam = iam_of("us-east-1", "", "rg-1", 0);
    expect_einval(&iam, &creds, "user id is missing", p);
    iam.user_id = NULL;
    expect_einval(&iam, &creds, "user id is missing", p);
    iam.user_id = "iam user";
    expect_einval(&iam, &creds, "'iam user' holds a space or a control character", p);
    iam.user_id = "iam\r\nuser";
    expect_einval(&iam, &creds, "'iam??user' holds a space", p);
    memset(long_user, 'u', sizeof(long_user) - 1);
    long_user[sizeof(long_user) - 1] = '\0';
    iam.user_id = long_user;
    expect_einval(&iam, &creds, "is longer than 128 bytes", p);

    iam = iam_of("us-east-1", "iam-user-01", "", 0);
    expect_einval(&iam, &creds,
                  "cache name (replication group id, or serverless cache name) is "
                  "missing",
                  p);
    iam.cache_name = "1cache";
    expect_einval(&iam, &creds, "cache name '1cache' is not valid", p);
    iam.cache_name = "a--b";
    expect_einval(&iam, &creds, "without two hyphens in a row", p);
    iam.cache_name = "cache-";
    expect_einval(&iam, &creds, "'cache-' is not valid", p);
    iam.cache_name = "cache_1";
    expect_einval(&iam, &creds, "'cache_1' is not valid", p);
    iam.cache_name = "a234567890123456789012345678901234567890"; /* 40: fine */
    assert_int_equal(aws_elasticache_iam_check(&why, &iam, p), APR_SUCCESS);
    iam.cache_name = "a2345678901234567890123456789012345678901"; /* 41 */
    expect_einval(&iam, &creds, "1 to 40 letters", p);
    iam.cache_name = "my-cache.abc123.serverless.euw1.cache.amazonaws.com";
    expect_einval(&iam, &creds, "not the host name of an endpoint", p);

    iam = iam_of("", "iam-user-01", "rg-1", 0);
    expect_einval(&iam, &creds, "region is missing", p);
    iam.region = "EU-West-1";
    expect_einval(&iam, &creds, "region 'EU-West-1' is not a region name", p);

    iam = iam_of("us-east-1", "iam-user-01", "rg-1", 0);
    expect_einval(&iam, NULL, "no AWS credentials", p);
    no_secret.secret_key = "";
    expect_einval(&iam, &no_secret, "no AWS credentials", p);
    no_secret = doc_creds(NULL);
    no_secret.access_key = NULL;
    expect_einval(&iam, &no_secret, "no AWS credentials", p);
}

/* --- the token holder ------------------------------------------------------------------------- */

/* The instance role through a scripted IMDSv2: credentials that expire at `expiration`, a new
 * access key at each fetch; `fail` makes every call fail. */
typedef struct imds_t {
    apr_time_t now;        /* the provider's clock */
    apr_time_t lifetime;   /* of the credentials handed out */
    volatile int fetches;  /* credentials handed out */
    volatile int fail;     /* answer every call with a connection error */
    pthread_mutex_t mutex; /* the fetch runs on the test's threads too */
} imds_t;

static imds_t imds;

static apr_time_t imds_clock(void)
{
    return imds.now;
}

static apr_status_t imds_fetch(int *status, const char **body, const char **error,
                               const char *method, const char *url, const apr_table_t *headers,
                               apr_interval_time_t timeout, void *baton, apr_pool_t *p)
{
    (void)headers;
    (void)timeout;
    (void)baton;
    if (imds.fail) {
        *error = "connection refused";
        return APR_ECONNREFUSED;
    }
    *status = 200;
    if (!strcmp(method, "PUT")) {
        *body = "AQAEA-imds-SeCrEt==";
    }
    else if (url[strlen(url) - 1] == '/') {
        *body = "web-role";
    }
    else {
        int n;
        pthread_mutex_lock(&imds.mutex);
        n = ++imds.fetches;
        pthread_mutex_unlock(&imds.mutex);
        *body = apr_psprintf(p,
                             "{\n  \"Code\" : \"Success\",\n  \"Type\" : \"AWS-HMAC\",\n"
                             "  \"AccessKeyId\" : \"ASIAROLE%d\",\n"
                             "  \"SecretAccessKey\" : \"role/SeCrEt/%d\",\n"
                             "  \"Token\" : \"role-SeCrEt-session-%d\",\n  \"Expiration\" : %s\n}",
                             n, n, n, lf_json_time(imds.now + imds.lifetime, p));
    }
    return APR_SUCCESS;
}

static aws_creds_provider_t *config_provider(apr_pool_t *p)
{
    aws_creds_config_t cfg;
    aws_creds_provider_t *prov = NULL;
    const char *why = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.access_key = DOC_AK;
    cfg.secret_key = DOC_SK;
    assert_int_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_SUCCESS);
    return prov;
}

static aws_creds_provider_t *imds_provider(apr_pool_t *p)
{
    aws_creds_config_t cfg;
    aws_creds_provider_t *prov = NULL;
    const char *why = NULL;

    unit_aws_clean_env();
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_SUCCESS);
    aws_creds_provider_set_fetch(prov, imds_fetch, NULL);
    aws_creds_provider_set_clock(prov, imds_clock);
    imds.now = T0;
    imds.lifetime = apr_time_from_sec(6 * 3600);
    imds.fetches = 0;
    imds.fail = 0;
    return prov;
}

static aws_elasticache_tokens_t *holder(aws_creds_provider_t *prov, apr_interval_time_t age,
                                        apr_pool_t *p)
{
    aws_elasticache_iam_t iam = iam_of("eu-west-1", "iam-user-01", "Replication-Group-01", 0);
    aws_elasticache_tokens_t *t = NULL;
    const char *why = NULL;

    if (aws_elasticache_tokens_create(&t, &why, &iam, prov, age, p) != APR_SUCCESS) {
        fail_msg("create: %s", why);
    }
    return t;
}

/* aws_elasticache_tokens_get() that must succeed; returns the token, sets *created. */
static const char *get_ok(aws_elasticache_tokens_t *t, apr_time_t now, apr_time_t *created,
                          apr_pool_t *p)
{
    const char *token = NULL, *why = "unset";
    apr_status_t rv = aws_elasticache_tokens_get(&token, created, &why, t, now, p);

    if (rv != APR_SUCCESS) {
        fail_msg("tokens_get: %d %s", rv, why ? why : "");
    }
    assert_null(why);
    assert_non_null(token);
    return token;
}

static void holder_refreshes_at_its_age(void **state)
{
    apr_pool_t *p = *state;
    aws_elasticache_tokens_t *t = holder(config_provider(p), 0, p);
    const char *first, *again, *next;
    apr_time_t created = 0;

    first = get_ok(t, T0, &created, p);
    assert_int_equal(created, T0);
    assert_string_equal(param(first, "X-Amz-Date", p), "20240102T030405Z");
    /* the same token, signed at T0, until it is 10 minutes old */
    again = get_ok(t, T0 + apr_time_from_sec(599), &created, p);
    assert_string_equal(again, first);
    assert_int_equal(created, T0);
    next = get_ok(t, T0 + apr_time_from_sec(600), &created, p);
    assert_string_not_equal(next, first);
    assert_int_equal(created, T0 + apr_time_from_sec(600));
    assert_string_equal(param(next, "X-Amz-Date", p), "20240102T031405Z");
    /* a clock that went back behind the token's date gets a new one */
    again = get_ok(t, T0 + apr_time_from_sec(300), &created, p);
    assert_int_equal(created, T0 + apr_time_from_sec(300));
}

static void holder_custom_age(void **state)
{
    apr_pool_t *p = *state;
    aws_elasticache_tokens_t *t = holder(config_provider(p), apr_time_from_sec(60), p);
    const char *first;
    apr_time_t created = 0;

    first = get_ok(t, T0, &created, p);
    assert_string_equal(get_ok(t, T0 + apr_time_from_sec(59), &created, p), first);
    assert_string_not_equal(get_ok(t, T0 + apr_time_from_sec(60), &created, p), first);
    assert_int_equal(created, T0 + apr_time_from_sec(60));
}

static void holder_bad_settings(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_provider_t *prov = config_provider(p);
    aws_elasticache_iam_t iam = iam_of("eu-west-1", "iam-user-01", "rg-1", 0);
    aws_elasticache_tokens_t *t = NULL;
    const char *why = NULL;

    assert_int_equal(aws_elasticache_tokens_create(&t, &why, &iam, prov, -1, p), APR_EINVAL);
    assert_non_null(strstr(why, "must be 1 to 840 seconds"));
    assert_int_equal(
        aws_elasticache_tokens_create(&t, &why, &iam, prov, apr_time_from_msec(500), p),
        APR_EINVAL);
    assert_int_equal(
        aws_elasticache_tokens_create(&t, &why, &iam, prov, AWS_ELASTICACHE_REFRESH_MAX + 1, p),
        APR_EINVAL);
    assert_int_equal(
        aws_elasticache_tokens_create(&t, &why, &iam, prov, AWS_ELASTICACHE_REFRESH_MAX, p),
        APR_SUCCESS);
    assert_int_equal(aws_elasticache_tokens_create(&t, &why, &iam, NULL, 0, p), APR_EINVAL);
    assert_non_null(strstr(why, "no AWS credentials provider"));
    iam.cache_name = "bad_name";
    assert_int_equal(aws_elasticache_tokens_create(&t, &why, &iam, prov, 0, p), APR_EINVAL);
    assert_non_null(strstr(why, "'bad_name' is not valid"));
}

/* A token never outlives the temporary credentials that signed it: with credentials that expire
 * 8 minutes after T0, the holder makes the next token at 7 minutes (a minute to spare), with
 * the credentials aws_creds fetched anew meanwhile. */
static void holder_follows_expiring_credentials(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_provider_t *prov = imds_provider(p);
    aws_elasticache_tokens_t *t = holder(prov, 0, p);
    const char *first, *next;
    apr_time_t created = 0;

    imds.lifetime = apr_time_from_sec(8 * 60);
    first = get_ok(t, T0, &created, p);
    assert_non_null(strstr(first, "X-Amz-Credential=ASIAROLE1%2F"));
    assert_string_equal(param(first, "X-Amz-Security-Token", p), "role-SeCrEt-session-1");
    imds.now = T0 + apr_time_from_sec(419);
    assert_string_equal(get_ok(t, imds.now, &created, p), first);
    imds.now = T0 + apr_time_from_sec(420);
    next = get_ok(t, imds.now, &created, p);
    assert_int_equal(created, imds.now);
    assert_non_null(strstr(next, "X-Amz-Credential=ASIAROLE2%2F"));
    assert_int_equal(imds.fetches, 2);
}

/* No credentials: an error that says why, never a secret; a failure is not kept. A new token
 * needs no new credentials while the current ones are good. */
static void holder_without_credentials(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_provider_t *prov = imds_provider(p);
    aws_elasticache_tokens_t *t = holder(prov, 0, p);
    const char *token = NULL, *why = NULL, *first;
    apr_time_t created = 0;

    imds.fail = 1;
    assert_int_not_equal(aws_elasticache_tokens_get(&token, &created, &why, t, T0, p), APR_SUCCESS);
    assert_non_null(why);
    assert_non_null(strstr(why, "no IAM token for ElastiCache user 'iam-user-01' of "
                                "'Replication-Group-01': "));
    assert_null(strstr(why, "SeCrEt"));

    imds.fail = 0; /* tried again at the next call */
    first = get_ok(t, T0, &created, p);
    assert_int_equal(imds.fetches, 1);

    imds.fail = 1;
    imds.now = T0 + apr_time_from_sec(600);
    assert_string_not_equal(get_ok(t, imds.now, &created, p), first);
    assert_int_equal(created, imds.now);
    assert_int_equal(imds.fetches, 1);
}

/* Threads, each with its own clock stepping forward: every token handed out was signed before
 * the caller's now, and is younger than 14 minutes (a thread may go on with the current token
 * past the refresh age while another one makes the next). */
typedef struct worker_t {
    aws_elasticache_tokens_t *tokens;
    int failures;
} worker_t;

static void *APR_THREAD_FUNC worker(apr_thread_t *thread, void *data)
{
    worker_t *w = data;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < 400; ++i) {
        /* 40 steps of 30 s: a new token every 20 steps. The threads' clocks are not in step
         * (one behind the others may meet a token made at a later "now": regression, it was
         * answered APR_SUCCESS without a token); a token too old for its now is wrong too */
        apr_time_t now = T0 + apr_time_from_sec(30 * (i / 10)), created = 0;
        const char *token = NULL, *why = NULL;
        if (aws_elasticache_tokens_get(&token, &created, &why, w->tokens, now, p) != APR_SUCCESS
            || !token || !created
            || now - created >= apr_time_from_sec(AWS_ELASTICACHE_TOKEN_EXPIRES - 60)
            || strncmp(token, "replication-group-01/?Action=connect&", 37)) {
            ++w->failures;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void holder_threads(void **state)
{
    apr_pool_t *p = *state;
    aws_elasticache_tokens_t *t = holder(config_provider(p), 0, p);
    apr_thread_t *threads[8];
    worker_t workers[8];
    apr_status_t trv;
    int i;

    for (i = 0; i < 8; ++i) {
        workers[i].tokens = t;
        workers[i].failures = 0;
        assert_int_equal(apr_thread_create(&threads[i], NULL, worker, &workers[i], p), APR_SUCCESS);
    }
    for (i = 0; i < 8; ++i) {
        apr_thread_join(&trv, threads[i]);
        assert_int_equal(workers[i].failures, 0);
    }
}

/* --- re-authentication ------------------------------------------------------------------------ */

static void reauth_deadline(void **state)
{
    (void)state;
    assert_false(aws_elasticache_reauth_due(T0, T0, 0));
    assert_false(aws_elasticache_reauth_due(T0, T0 + apr_time_from_sec(11 * 3600) - 1, 0));
    assert_true(aws_elasticache_reauth_due(T0, T0 + apr_time_from_sec(11 * 3600), 0));
    assert_true(aws_elasticache_reauth_due(T0, T0 + apr_time_from_sec(12 * 3600), 0));
    assert_int_equal(AWS_ELASTICACHE_REAUTH_DEFAULT, apr_time_from_sec(11 * 3600));
    /* another age */
    assert_false(aws_elasticache_reauth_due(T0, T0 + apr_time_from_sec(59), apr_time_from_sec(60)));
    assert_true(aws_elasticache_reauth_due(T0, T0 + apr_time_from_sec(60), apr_time_from_sec(60)));
    /* a clock that went back */
    assert_true(aws_elasticache_reauth_due(T0, T0 - 1, 0));
}

static int setup(void **state)
{
    unit_aws_clean_env();
    pthread_mutex_init(&imds.mutex, NULL);
    return unit_setup(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, unit_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(botocore_tokens),
        TEST(token_shape),
        TEST(user_id_encoded),
        TEST(bad_input),
        TEST(holder_refreshes_at_its_age),
        TEST(holder_custom_age),
        TEST(holder_bad_settings),
        TEST(holder_follows_expiring_credentials),
        TEST(holder_without_credentials),
        TEST(holder_threads),
        TEST(reauth_deadline),
    };
    return UNIT_RUN("aws_elasticache", tests);
}
