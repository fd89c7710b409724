/* Unit tests of modules/aws/aws_creds.c and, through the provider, aws_creds_source.c: each
 * source of the chain and their order, the shared credentials file, IMDSv2 and the ECS
 * endpoints (through an injected fetch; test_aws_creds_source.c has the default HTTP calls
 * through aws_http), refreshes against an injected clock, single-flight refreshes across
 * threads, and that no secret reaches a log message or an error text.
 *
 * Every secret in this file contains "SeCrEt": the teardown of every test fails when a captured
 * log message contains that word. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "aws_creds.h"
#include "lf_json.h"
#include "lf_log.h"

#define IMDS       "http://169.254.169.254"
#define IMDS_TOKEN IMDS "/latest/api/token"
#define IMDS_ROLES IMDS "/latest/meta-data/iam/security-credentials/"
#define IMDS_ROLE  IMDS_ROLES "web-role"
#define ECS_URL    "http://169.254.170.2/v2/credentials/7f3a"

#define MARGIN apr_time_from_sec(300)
#define JITTER apr_time_from_sec(60)
#define RETRY  apr_time_from_sec(30)

/* 2026-11-25T09:46:40Z */
static const apr_time_t T0 = APR_INT64_C(1795600000) * APR_USEC_PER_SEC;

/* --- the clock ------------------------------------------------------------------------------- */

static apr_time_t fake_now;

static apr_time_t fake_clock(void)
{
    return fake_now;
}

/* --- the environment ------------------------------------------------------------------------- */

static int setup(void **state)
{
    unit_aws_clean_env();
    unit_log_clear();
    fake_now = T0;
    return unit_setup(state);
}

static int teardown(void **state)
{
    if (unit_logged("SeCrEt")) {
        fprintf(stderr, "%s", unit_log_text);
        fail_msg("a secret was logged");
    }
    return unit_teardown(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void rewrite(const char *path, const char *content)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

/* --- the network: scripted answers, recorded requests ---------------------------------------- */

typedef struct route_t {
    const char *method, *url;
    int status;
    const char *body;
    apr_status_t rv; /* not APR_SUCCESS: the call fails so */
} route_t;

typedef struct request_t {
    const char *method, *url;
    apr_table_t *headers;
} request_t;

typedef struct fake_t {
    apr_pool_t *p; /* own pool: the fetch may run on other threads */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    route_t routes[8];
    int nroutes;
    request_t req[64];
    int calls;
    int gated, open; /* gated: every call waits until open */
} fake_t;

static fake_t *fake_new(void)
{
    apr_pool_t *p;
    fake_t *f;

    assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
    f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    assert_int_equal(apr_thread_mutex_create(&f->mutex, APR_THREAD_MUTEX_DEFAULT, p), APR_SUCCESS);
    assert_int_equal(apr_thread_cond_create(&f->cond, p), APR_SUCCESS);
    return f;
}

static void fake_free(fake_t *f)
{
    apr_pool_destroy(f->p);
}

/* Answer @p method @p url with @p status and @p body (or fail with @p rv), replacing an earlier
 * answer for the same request. */
static void fake_route(fake_t *f, const char *method, const char *url, int status, const char *body,
                       apr_status_t rv)
{
    int i;

    apr_thread_mutex_lock(f->mutex);
    for (i = 0; i < f->nroutes; ++i) {
        if (!strcmp(f->routes[i].method, method) && !strcmp(f->routes[i].url, url)) {
            break;
        }
    }
    assert_true(i < 8);
    f->routes[i].method = apr_pstrdup(f->p, method);
    f->routes[i].url = apr_pstrdup(f->p, url);
    f->routes[i].status = status;
    f->routes[i].body = body ? apr_pstrdup(f->p, body) : NULL;
    f->routes[i].rv = rv;
    if (i == f->nroutes) {
        ++f->nroutes;
    }
    apr_thread_mutex_unlock(f->mutex);
}

static void fake_open(fake_t *f)
{
    apr_thread_mutex_lock(f->mutex);
    f->open = 1;
    apr_thread_cond_broadcast(f->cond);
    apr_thread_mutex_unlock(f->mutex);
}

static int fake_calls(fake_t *f)
{
    int n;

    apr_thread_mutex_lock(f->mutex);
    n = f->calls;
    apr_thread_mutex_unlock(f->mutex);
    return n;
}

static apr_status_t fake_fetch(int *status, const char **body, const char **error,
                               const char *method, const char *url, const apr_table_t *headers,
                               apr_interval_time_t timeout, void *baton, apr_pool_t *p)
{
    fake_t *f = baton;
    apr_status_t rv = APR_ECONNREFUSED;
    int i;

    assert_true(timeout > 0);
    apr_thread_mutex_lock(f->mutex);
    if (f->calls < 64) {
        f->req[f->calls].method = apr_pstrdup(f->p, method);
        f->req[f->calls].url = apr_pstrdup(f->p, url);
        f->req[f->calls].headers = apr_table_copy(f->p, headers);
    }
    ++f->calls;
    apr_thread_cond_broadcast(f->cond);
    while (f->gated && !f->open) {
        apr_thread_cond_wait(f->cond, f->mutex);
    }
    *error = "Failed to connect: Connection refused";
    for (i = 0; i < f->nroutes; ++i) {
        if (!strcmp(f->routes[i].method, method) && !strcmp(f->routes[i].url, url)) {
            if ((rv = f->routes[i].rv) == APR_SUCCESS) {
                *status = f->routes[i].status;
                *body = f->routes[i].body ? apr_pstrdup(p, f->routes[i].body) : "";
            }
            else {
                *error = "Operation timed out after 1000 milliseconds";
            }
            break;
        }
    }
    apr_thread_mutex_unlock(f->mutex);
    return rv;
}

static const char *creds_json(apr_pool_t *p, const char *ak, const char *sk, const char *token,
                              apr_time_t exp)
{
    return apr_psprintf(p,
                        "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
                        "\"2026-11-25T09:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n"
                        "  \"AccessKeyId\" : \"%s\",\n  \"SecretAccessKey\" : \"%s\",\n"
                        "  \"Token\" : \"%s\",\n  \"Expiration\" : %s\n}",
                        ak, sk, token, lf_json_time(exp, p));
}

/* The three IMDSv2 answers, credentials expiring at @p exp. */
static void imds_routes(fake_t *f, apr_pool_t *p, const char *ak, apr_time_t exp)
{
    fake_route(f, "PUT", IMDS_TOKEN, 200, "AQAEA-IMDS-SeCrEt-TOKEN==", APR_SUCCESS);
    fake_route(f, "GET", IMDS_ROLES, 200, "web-role", APR_SUCCESS);
    fake_route(f, "GET", IMDS_ROLE, 200,
               creds_json(p, ak, "imds/SeCrEt/key", "imds-SeCrEt-session", exp), APR_SUCCESS);
}

static aws_creds_provider_t *provider(const aws_creds_config_t *cfg, fake_t *f, apr_pool_t *p)
{
    static const aws_creds_config_t none;
    aws_creds_provider_t *prov = NULL;
    const char *why = NULL;

    if (aws_creds_provider_create(&prov, &why, cfg ? cfg : &none, p) != APR_SUCCESS) {
        fail_msg("create: %s", why);
    }
    aws_creds_provider_set_fetch(prov, fake_fetch, f);
    aws_creds_provider_set_clock(prov, fake_clock);
    return prov;
}

/* aws_creds_get that must succeed; the why of a failure must never hold a secret. */
static aws_creds_t get_ok(aws_creds_provider_t *prov, apr_pool_t *p)
{
    aws_creds_t c;
    const char *why = NULL;
    apr_status_t rv = aws_creds_get(&c, &why, prov, p);

    if (rv != APR_SUCCESS) {
        fail_msg("aws_creds_get: %d %s", rv, why ? why : "");
    }
    assert_null(why);
    return c;
}

static apr_status_t get_fail(const char **why, aws_creds_provider_t *prov, apr_pool_t *p)
{
    aws_creds_t c;
    apr_status_t rv = aws_creds_get(&c, why, prov, p);

    assert_int_not_equal(rv, APR_SUCCESS);
    assert_non_null(*why);
    assert_null(strstr(*why, "SeCrEt"));
    return rv;
}

/* --- config ---------------------------------------------------------------------------------- */

static void config_keys(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_config_t cfg = {0};
    fake_t *f = fake_new();
    aws_creds_t c;

    cfg.access_key = "AKIDCONFIG";
    cfg.secret_key = "config/SeCrEt/key";
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-SeCrEt", 1);
    c = get_ok(provider(&cfg, f, p), p);
    assert_string_equal(c.access_key, "AKIDCONFIG");
    assert_string_equal(c.secret_key, "config/SeCrEt/key");
    assert_null(c.session_token);
    assert_int_equal(c.expiration, 0);
    assert_string_equal(c.source, "config");

    cfg.session_token = "config-SeCrEt-token";
    c = get_ok(provider(&cfg, f, p), p);
    assert_string_equal(c.session_token, "config-SeCrEt-token");
    assert_int_equal(f->calls, 0);
    fake_free(f);
}

static void config_key_file(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_config_t cfg = {0};
    fake_t *f = fake_new();
    aws_creds_t c;

    /* two lines, CRLF and white space tolerated */
    cfg.key_file = unit_write_temp(p, "  AKIDFILE1 \r\nfile1/SeCrEt/key\r\n\n");
    c = get_ok(provider(&cfg, f, p), p);
    assert_string_equal(c.access_key, "AKIDFILE1");
    assert_string_equal(c.secret_key, "file1/SeCrEt/key");
    assert_null(c.session_token);
    assert_string_equal(c.source, "config");
    unlink(cfg.key_file);

    /* named lines, any order, comments, a session token, other keys ignored */
    cfg.key_file = unit_write_temp(p, "# deploy key\n"
                                      "aws_secret_access_key = file2/SeCrEt/key\n"
                                      "region=eu-west-1\n"
                                      "; another comment\n"
                                      "AWS_ACCESS_KEY_ID=AKIDFILE2\n"
                                      "aws_session_token = file2-SeCrEt-token==\n");
    c = get_ok(provider(&cfg, f, p), p);
    assert_string_equal(c.access_key, "AKIDFILE2");
    assert_string_equal(c.secret_key, "file2/SeCrEt/key");
    assert_string_equal(c.session_token, "file2-SeCrEt-token==");
    unlink(cfg.key_file);
    assert_int_equal(f->calls, 0);
    fake_free(f);
}

static void config_errors(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad_files[] = {
        "AKIDONLY\n",
        "AKID\nfile/SeCrEt/one\nthird-SeCrEt-line\n",
        "aws_access_key_id=AKID\n",
        "aws_secret_access_key=file/SeCrEt/two\n",
        "[default]\naws_access_key_id=AKID\naws_secret_access_key=file/SeCrEt/three\n",
        "\n\n",
    };
    aws_creds_provider_t *prov = NULL;
    aws_creds_config_t cfg = {0};
    const char *why = NULL;
    apr_size_t i;

    cfg.access_key = "AKID";
    assert_int_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_EINVAL);
    assert_non_null(strstr(why, "secret key"));
    cfg.access_key = NULL;
    cfg.secret_key = "lonely-SeCrEt";
    assert_int_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_EINVAL);
    assert_null(strstr(why, "SeCrEt"));
    cfg.secret_key = NULL;
    cfg.session_token = "lonely-SeCrEt-token";
    assert_int_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_EINVAL);
    cfg.session_token = NULL;
    cfg.access_key = "AKID";
    cfg.secret_key = "both-SeCrEt";
    cfg.key_file = "/nonexistent/key";
    assert_int_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_EINVAL);
    assert_non_null(strstr(why, "not both"));
    cfg.access_key = cfg.secret_key = NULL;
    assert_int_not_equal(aws_creds_provider_create(&prov, &why, &cfg, p), APR_SUCCESS);
    assert_non_null(strstr(why, "/nonexistent/key"));

    for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); ++i) {
        cfg.key_file = unit_write_temp(p, bad_files[i]);
        why = NULL;
        if (aws_creds_provider_create(&prov, &why, &cfg, p) == APR_SUCCESS) {
            fail_msg("accepted key file %u", (unsigned)i);
        }
        assert_non_null(why);
        assert_null(strstr(why, "SeCrEt"));
        unlink(cfg.key_file);
    }
}

/* --- environment ----------------------------------------------------------------------------- */

static void environment(void **state)
{
    apr_pool_t *p = *state;
    fake_t *f = fake_new();
    const char *why = NULL;
    aws_creds_t c;

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env/SeCrEt/key", 1);
    setenv("AWS_SESSION_TOKEN", "env-SeCrEt-token", 1);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "AKIDENV");
    assert_string_equal(c.secret_key, "env/SeCrEt/key");
    assert_string_equal(c.session_token, "env-SeCrEt-token");
    assert_string_equal(c.source, "environment");
    assert_int_equal(c.expiration, 0);
    /* static credentials are never refreshed */
    fake_now = T0 + apr_time_from_sec(86400 * 365);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.source, "environment");
    assert_int_equal(f->calls, 0);

    /* half a pair is no pair: the chain goes on, and says why */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
    assert_non_null(strstr(why, "environment: AWS_SECRET_ACCESS_KEY is not set"));
    fake_free(f);
}

/* The environment is read when the provider is created, not at every call. */
static void environment_snapshot(void **state)
{
    apr_pool_t *p = *state;
    fake_t *f = fake_new();
    aws_creds_provider_t *prov;
    aws_creds_t c;

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV1", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env/SeCrEt/1", 1);
    prov = provider(NULL, f, p);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV2", 1);
    c = get_ok(prov, p);
    assert_string_equal(c.access_key, "AKIDENV1");
    fake_free(f);
}

/* --- shared credentials file ----------------------------------------------------------------- */

static const char profile_file[] = "# written by aws configure\n"
                                   "[default]\n"
                                   "aws_access_key_id = AKIDDEFAULT\n"
                                   "aws_secret_access_key = default/SeCrEt/key\n"
                                   "\n"
                                   "  ; indented comment\n"
                                   "[ prod ]\n"
                                   "aws_access_key_id=AKIDPROD\n"
                                   "  aws_secret_access_key   =   prod/SeCrEt/key  \n"
                                   "aws_session_token = prod-SeCrEt-token\n"
                                   "region = eu-west-1\n"
                                   "\n"
                                   "[assumed]\n"
                                   "role_arn = arn:aws:iam::123456789012:role/web\n"
                                   "source_profile = default\n"
                                   "\n"
                                   "[broken]\n"
                                   "aws_secret_access_key = broken/SeCrEt/key\n"
                                   "[legacy]\n"
                                   "aws_access_key_id = AKIDLEGACY\n"
                                   "aws_secret_access_key = legacy/SeCrEt/key\n"
                                   "aws_security_token = legacy-SeCrEt-token\n";

static void profile_default_and_named(void **state)
{
    apr_pool_t *p = *state;
    const char *path = unit_write_temp(p, profile_file);
    aws_creds_config_t cfg = {0};
    fake_t *f = fake_new();
    aws_creds_t c;

    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "AKIDDEFAULT");
    assert_string_equal(c.secret_key, "default/SeCrEt/key");
    assert_null(c.session_token);
    assert_string_equal(c.source, "profile");
    assert_int_equal(c.expiration, 0);

    setenv("AWS_PROFILE", "prod", 1);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "AKIDPROD");
    assert_string_equal(c.secret_key, "prod/SeCrEt/key");
    assert_string_equal(c.session_token, "prod-SeCrEt-token");

    /* the configuration wins over the environment */
    cfg.profile = "legacy";
    c = get_ok(provider(&cfg, f, p), p);
    assert_string_equal(c.access_key, "AKIDLEGACY");
    assert_string_equal(c.session_token, "legacy-SeCrEt-token");

    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    cfg.profile = "prod";
    cfg.credentials_file = path;
    c = get_ok(provider(&cfg, f, p), p);
    assert_string_equal(c.access_key, "AKIDPROD");
    assert_int_equal(f->calls, 0);
    unlink(path);
    fake_free(f);
}

static void profile_home(void **state)
{
    apr_pool_t *p = *state;
    char *home = apr_pstrdup(p, "/tmp/lf-home-XXXXXX");
    const char *old = getenv("HOME"), *saved = old ? apr_pstrdup(p, old) : NULL;
    fake_t *f = fake_new();
    aws_creds_t c;

    assert_non_null(mkdtemp(home));
    assert_int_equal(mkdir(apr_pstrcat(p, home, "/.aws", NULL), 0700), 0);
    rewrite(apr_pstrcat(p, home, "/.aws/credentials", NULL), profile_file);
    setenv("HOME", home, 1);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "AKIDDEFAULT");

    /* "~/" in a configured path */
    rename(apr_pstrcat(p, home, "/.aws/credentials", NULL), apr_pstrcat(p, home, "/creds", NULL));
    {
        aws_creds_config_t cfg = {0};
        cfg.credentials_file = "~/creds";
        c = get_ok(provider(&cfg, f, p), p);
        assert_string_equal(c.access_key, "AKIDDEFAULT");
    }
    unlink(apr_pstrcat(p, home, "/creds", NULL));
    rmdir(apr_pstrcat(p, home, "/.aws", NULL));
    rmdir(home);
    if (saved) {
        setenv("HOME", saved, 1);
    }
    fake_free(f);
}

static void profile_not_usable(void **state)
{
    apr_pool_t *p = *state;
    const char *path = unit_write_temp(p, profile_file), *why = NULL;
    fake_t *f = fake_new();

    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);

    setenv("AWS_PROFILE", "staging", 1);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
    assert_non_null(strstr(why, apr_psprintf(p, "profile: no profile [staging] in %s", path)));

    setenv("AWS_PROFILE", "assumed", 1);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
    assert_non_null(strstr(why, "has no aws_access_key_id (role_arn"));

    setenv("AWS_PROFILE", "broken", 1);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_EINVAL);
    assert_non_null(strstr(why, "has no aws_access_key_id"));

    /* a missing file is no error: the chain goes on */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/lf-unit/credentials", 1);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
    assert_non_null(strstr(why, "profile: /nonexistent/lf-unit/credentials does not exist"));
    assert_non_null(strstr(why, "imds: disabled by AWS_EC2_METADATA_DISABLED"));
    assert_int_equal(f->calls, 0);
    unlink(path);
    fake_free(f);
}

/* --- ECS ------------------------------------------------------------------------------------- */

static void ecs_relative_uri(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(6 * 3600);
    fake_t *f = fake_new();
    aws_creds_t c;

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    fake_route(f, "GET", ECS_URL, 200,
               apr_psprintf(p,
                            "{\"RoleArn\":\"arn:aws:iam::123456789012:role/task\","
                            "\"AccessKeyId\":\"ASIAECS\",\"SecretAccessKey\":\"ecs/SeCrEt/key\","
                            "\"Token\":\"ecs-SeCrEt-token\",\"Expiration\":%s}",
                            lf_json_time(exp, p)),
               APR_SUCCESS);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "ASIAECS");
    assert_string_equal(c.secret_key, "ecs/SeCrEt/key");
    assert_string_equal(c.session_token, "ecs-SeCrEt-token");
    assert_true(c.expiration == exp);
    assert_string_equal(c.source, "ecs");
    assert_int_equal(f->calls, 1);
    assert_string_equal(f->req[0].method, "GET");
    assert_string_equal(f->req[0].url, ECS_URL);
    assert_null(apr_table_get(f->req[0].headers, "Authorization"));
    fake_free(f);
}

static void ecs_full_uri_with_token(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    const char *url = "http://127.0.0.1:51679/creds?id=1", *token_file;
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();
    aws_creds_t c;

    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer env-SeCrEt-auth", 1);
    fake_route(f, "GET", url, 200, creds_json(p, "ASIAFULL", "full/SeCrEt/key", "t-SeCrEt", exp),
               APR_SUCCESS);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "ASIAFULL");
    assert_string_equal(apr_table_get(f->req[0].headers, "Authorization"),
                        "Bearer env-SeCrEt-auth");

    /* the token file wins over the variable, and is read again at every refresh */
    token_file = unit_write_temp(p, "file-SeCrEt-auth-1\n");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file, 1);
    prov = provider(NULL, f, p);
    get_ok(prov, p);
    assert_int_equal(f->calls, 2);
    assert_string_equal(apr_table_get(f->req[1].headers, "Authorization"), "file-SeCrEt-auth-1");
    rewrite(token_file, "file-SeCrEt-auth-2");
    fake_now = exp - MARGIN;
    get_ok(prov, p);
    assert_int_equal(f->calls, 3);
    assert_string_equal(apr_table_get(f->req[2].headers, "Authorization"), "file-SeCrEt-auth-2");
    unlink(token_file);
    fake_free(f);
}

static void ecs_full_uri_checks(void **state)
{
    apr_pool_t *p = *state;
    static const char *const refused[] = {
        "http://example.com/creds",
        "http://127.example.com/creds",
        "http://127.0.0.1.example.com/creds",
        "http://10.0.0.1/creds",
        "ftp://127.0.0.1/creds",
        "not a url",
    };
    static const char *const allowed[] = {
        "https://example.com/creds", "http://localhost:8080/creds",
        "http://[::1]:8080/creds",   "http://169.254.170.23/v1/credentials",
        "http://127.1.2.3/creds",
    };
    const char *why = NULL;
    fake_t *f = fake_new();
    apr_size_t i;

    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i], 1);
        assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
        if (!strstr(why, "ecs: AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
            fail_msg("%s: %s", refused[i], why);
        }
    }
    assert_int_equal(f->calls, 0);
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); ++i) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed[i], 1);
        get_fail(&why, provider(NULL, f, p), p); /* no route: the call is made and fails */
        assert_int_equal(f->calls, (int)i + 1);
        assert_string_equal(f->req[i].url, allowed[i]);
    }
    /* the relative URI wins over the full one */
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    get_fail(&why, provider(NULL, f, p), p);
    assert_string_equal(f->req[f->calls - 1].url, ECS_URL);
    fake_free(f);
}

/* --- IMDS ------------------------------------------------------------------------------------ */

static void imds_v2_sequence(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(6 * 3600);
    fake_t *f = fake_new();
    aws_creds_t c;
    int i;

    imds_routes(f, p, "ASIAIMDS", exp);
    fake_route(f, "GET", IMDS_ROLES, 200, "web-role\nsecond-role\n", APR_SUCCESS);
    c = get_ok(provider(NULL, f, p), p);
    assert_string_equal(c.access_key, "ASIAIMDS");
    assert_string_equal(c.secret_key, "imds/SeCrEt/key");
    assert_string_equal(c.session_token, "imds-SeCrEt-session");
    assert_true(c.expiration == exp);
    assert_string_equal(c.source, "imds");

    assert_int_equal(f->calls, 3);
    assert_string_equal(f->req[0].method, "PUT");
    assert_string_equal(f->req[0].url, IMDS_TOKEN);
    assert_string_equal(apr_table_get(f->req[0].headers, "X-aws-ec2-metadata-token-ttl-seconds"),
                        "21600");
    assert_null(apr_table_get(f->req[0].headers, "X-aws-ec2-metadata-token"));
    assert_string_equal(f->req[1].url, IMDS_ROLES);
    assert_string_equal(f->req[2].url, IMDS_ROLE);
    for (i = 1; i < 3; ++i) {
        assert_string_equal(f->req[i].method, "GET");
        assert_string_equal(apr_table_get(f->req[i].headers, "X-aws-ec2-metadata-token"),
                            "AQAEA-IMDS-SeCrEt-TOKEN==");
    }
    fake_free(f);
}

static void imds_endpoints(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_config_t cfg = {0};
    const char *why = NULL;
    fake_t *f = fake_new();

    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111/", 1);
    get_fail(&why, provider(NULL, f, p), p);
    assert_string_equal(f->req[0].url, "http://127.0.0.1:8111/latest/api/token");
    assert_non_null(strstr(why, "imds: PUT http://127.0.0.1:8111/latest/api/token: Failed to "
                                "connect"));

    cfg.imds_endpoint = "http://127.0.0.1:8222";
    get_fail(&why, provider(&cfg, f, p), p);
    assert_string_equal(f->req[1].url, "http://127.0.0.1:8222/latest/api/token");

    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
    get_fail(&why, provider(NULL, f, p), p);
    assert_string_equal(f->req[2].url, "http://[fd00:ec2::254]/latest/api/token");
    fake_free(f);
}

static void imds_disabled(void **state)
{
    apr_pool_t *p = *state;
    const char *why = NULL;
    fake_t *f = fake_new();

    imds_routes(f, p, "ASIAIMDS", T0 + apr_time_from_sec(3600));
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
    assert_int_equal(f->calls, 0);
    assert_non_null(strstr(why, "no AWS credentials: config: not configured; environment: "));
    assert_non_null(strstr(why, "imds: disabled by AWS_EC2_METADATA_DISABLED"));
    /* any other value leaves it on */
    setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
    get_ok(provider(NULL, f, p), p);
    assert_int_equal(f->calls, 3);
    fake_free(f);
}

static void imds_failures(void **state)
{
    apr_pool_t *p = *state;
    const char *why = NULL;
    fake_t *f = fake_new();

    /* no role attached */
    imds_routes(f, p, "ASIAIMDS", T0 + apr_time_from_sec(3600));
    fake_route(f, "GET", IMDS_ROLES, 404, "<html>404 - Not Found</html>", APR_SUCCESS);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_NOTFOUND);
    assert_non_null(strstr(why, "imds: the instance has no IAM role"));

    /* a role name that does not belong in a URL */
    fake_route(f, "GET", IMDS_ROLES, 200, "../../user-data", APR_SUCCESS);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_EGENERAL);
    assert_non_null(strstr(why, "not a role name"));

    /* the token refused, a timeout */
    fake_route(f, "PUT", IMDS_TOKEN, 403, "", APR_SUCCESS);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_EGENERAL);
    assert_non_null(strstr(why, "PUT " IMDS_TOKEN ": HTTP 403"));
    fake_route(f, "PUT", IMDS_TOKEN, 0, NULL, APR_TIMEUP);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_TIMEUP);
    assert_non_null(strstr(why, "timed out"));

    /* a Code other than Success, credentials already expired, fields missing */
    fake_route(f, "PUT", IMDS_TOKEN, 200, "AQAEA-IMDS-SeCrEt-TOKEN==", APR_SUCCESS);
    fake_route(f, "GET", IMDS_ROLES, 200, "web-role", APR_SUCCESS);
    fake_route(f, "GET", IMDS_ROLE, 200,
               "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"x\"}", APR_SUCCESS);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_EGENERAL);
    assert_non_null(strstr(why, "Code \"AssumeRoleUnauthorizedAccess\""));
    fake_route(f, "GET", IMDS_ROLE, 200,
               creds_json(p, "ASIAOLD", "old/SeCrEt", "old-SeCrEt", T0 - 1000000), APR_SUCCESS);
    get_fail(&why, provider(NULL, f, p), p);
    assert_non_null(strstr(why, "expired at 2026-11-25T09:46:39Z already"));
    fake_route(f, "GET", IMDS_ROLE, 200,
               "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIA\",\"Token\":\"t-SeCrEt\","
               "\"Expiration\":\"2026-11-25T12:00:00Z\"}",
               APR_SUCCESS);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_EINVAL);
    assert_non_null(strstr(why, "has no SecretAccessKey"));
    fake_route(
        f, "GET", IMDS_ROLE, 200,
        "{\"AccessKeyId\":\"ASIA\",\"SecretAccessKey\":\"s-SeCrEt\",\"Expiration\":\"soon\"}",
        APR_SUCCESS);
    assert_int_equal(get_fail(&why, provider(NULL, f, p), p), APR_EINVAL);
    assert_non_null(strstr(why, "has no valid Expiration"));
    fake_free(f);
}

/* --- the chain ------------------------------------------------------------------------------- */

static void chain_order(void **state)
{
    apr_pool_t *p = *state;
    const char *path = unit_write_temp(p, profile_file);
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_config_t cfg = {0};
    fake_t *f = fake_new();

    imds_routes(f, p, "ASIAIMDS", exp);
    fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIAECS", "ecs/SeCrEt", "ecs-SeCrEt", exp),
               APR_SUCCESS);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env/SeCrEt/key", 1);
    cfg.access_key = "AKIDCONFIG";
    cfg.secret_key = "config/SeCrEt/key";

    assert_string_equal(get_ok(provider(&cfg, f, p), p).source, "config");
    assert_string_equal(get_ok(provider(NULL, f, p), p).source, "environment");
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_string_equal(get_ok(provider(NULL, f, p), p).source, "profile");
    assert_int_equal(f->calls, 0);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    assert_string_equal(get_ok(provider(NULL, f, p), p).source, "ecs");
    assert_int_equal(f->calls, 1);
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    assert_string_equal(get_ok(provider(NULL, f, p), p).source, "imds");
    assert_int_equal(f->calls, 4);
    /* a failing source hands over to the next */
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    fake_route(f, "GET", ECS_URL, 500, "oops", APR_SUCCESS);
    assert_string_equal(get_ok(provider(NULL, f, p), p).source, "imds");
    assert_true(unit_logged("LF00101: AWS credentials from ecs: GET " ECS_URL ": HTTP 500"));
    assert_true(
        unit_logged("LF00103: AWS credentials from imds, valid until 2026-11-25T10:46:40Z"));
    unlink(path);
    fake_free(f);
}

/* The source that won is remembered: refreshes ask it alone, even when an earlier one of the
 * chain would now answer. */
static void chain_remembers_source(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    const char *why = NULL;
    fake_t *f = fake_new();
    aws_creds_t c;

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    fake_route(f, "GET", ECS_URL, 503, "", APR_SUCCESS);
    imds_routes(f, p, "ASIAIMDS1", exp);
    prov = provider(NULL, f, p);
    assert_string_equal(get_ok(prov, p).access_key, "ASIAIMDS1");
    assert_int_equal(f->calls, 4);

    fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIAECS", "ecs/SeCrEt", "ecs-SeCrEt", exp),
               APR_SUCCESS);
    imds_routes(f, p, "ASIAIMDS2", exp + apr_time_from_sec(3600));
    fake_now = exp - MARGIN;
    c = get_ok(prov, p);
    assert_string_equal(c.access_key, "ASIAIMDS2");
    assert_int_equal(f->calls, 7);
    assert_string_equal(f->req[4].url, IMDS_TOKEN);

    /* and when it fails after expiry, the others are not tried either */
    fake_route(f, "PUT", IMDS_TOKEN, 500, "", APR_SUCCESS);
    fake_now = c.expiration;
    get_fail(&why, prov, p);
    assert_int_equal(f->calls, 8);
    assert_null(strstr(why, "ecs"));
    fake_free(f);
}

/* --- refreshing ------------------------------------------------------------------------------ */

static void refresh_before_expiry(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(6 * 3600);
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();
    aws_creds_t c;

    imds_routes(f, p, "ASIAGEN1", exp);
    prov = provider(NULL, f, p);
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGEN1");
    assert_int_equal(f->calls, 3);

    /* before the earliest refresh time: the same credentials, no call */
    imds_routes(f, p, "ASIAGEN2", exp + apr_time_from_sec(6 * 3600));
    fake_now = exp - MARGIN - JITTER - 1;
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGEN1");
    assert_int_equal(f->calls, 3);
    /* at the latest refresh time: new credentials */
    fake_now = exp - MARGIN;
    c = get_ok(prov, p);
    assert_string_equal(c.access_key, "ASIAGEN2");
    assert_true(c.expiration == exp + apr_time_from_sec(6 * 3600));
    assert_int_equal(f->calls, 6);
    /* and not again */
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGEN2");
    assert_int_equal(f->calls, 6);
    fake_free(f);
}

/* Each provider draws its refresh time in [exp - margin - 60 s, exp - margin], and they differ. */
static void refresh_jitter_bounds(void **state)
{
    apr_pool_t *p = *state;
    const apr_time_t exp = T0 + apr_time_from_sec(6 * 3600);
    aws_creds_config_t cfg = {0};
    apr_time_t seen[20], t;
    int i, distinct = 0;

    cfg.refresh_margin = apr_time_from_sec(600);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    for (i = 0; i < 20; ++i) {
        fake_t *f = fake_new();
        aws_creds_provider_t *prov;

        fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIA1", "s/SeCrEt", "t-SeCrEt", exp),
                   APR_SUCCESS);
        fake_now = T0;
        prov = provider(&cfg, f, p);
        get_ok(prov, p);
        fake_route(f, "GET", ECS_URL, 200,
                   creds_json(p, "ASIA2", "s/SeCrEt", "t-SeCrEt", exp + apr_time_from_sec(3600)),
                   APR_SUCCESS);
        seen[i] = 0;
        for (t = exp - cfg.refresh_margin - JITTER - apr_time_from_sec(5);
             t <= exp - cfg.refresh_margin; t += apr_time_from_msec(250)) {
            fake_now = t;
            get_ok(prov, p);
            if (f->calls == 2) {
                seen[i] = t;
                break;
            }
        }
        assert_int_equal(f->calls, 2);
        assert_true(seen[i] >= exp - cfg.refresh_margin - JITTER);
        assert_true(seen[i] <= exp - cfg.refresh_margin);
        fake_free(f);
    }
    for (i = 1; i < 20; ++i) {
        distinct += seen[i] != seen[0];
    }
    assert_true(distinct > 0);
}

/* Credentials that live shorter than the margin are not fetched again at every call. */
static void refresh_short_lived(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();

    imds_routes(f, p, "ASIASHORT", T0 + apr_time_from_sec(120));
    prov = provider(NULL, f, p);
    get_ok(prov, p);
    fake_now = T0 + RETRY - 1;
    get_ok(prov, p);
    assert_int_equal(f->calls, 3);
    fake_now = T0 + RETRY;
    get_ok(prov, p);
    assert_int_equal(f->calls, 6);
    fake_free(f);
}

static void refresh_failure_keeps_valid(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();
    aws_creds_t c;

    imds_routes(f, p, "ASIAGOOD", exp);
    prov = provider(NULL, f, p);
    get_ok(prov, p);

    fake_route(f, "GET", IMDS_ROLE, 500, "", APR_SUCCESS);
    fake_now = exp - MARGIN;
    c = get_ok(prov, p);
    assert_string_equal(c.access_key, "ASIAGOOD");
    assert_string_equal(c.secret_key, "imds/SeCrEt/key");
    assert_int_equal(f->calls, 6);
    assert_true(unit_logged(
        "[4] LF00102: refreshing the AWS credentials from imds failed, keeping the "
        "current ones (valid until 2026-11-25T10:46:40Z): imds: GET " IMDS_ROLE ": HTTP 500"));
    /* the next try waits a little */
    fake_now += RETRY - 1;
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGOOD");
    assert_int_equal(f->calls, 6);
    fake_now += 1;
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGOOD");
    assert_int_equal(f->calls, 9);
    /* until the endpoint is back */
    imds_routes(f, p, "ASIANEW", exp + apr_time_from_sec(3600));
    fake_now += RETRY;
    assert_string_equal(get_ok(prov, p).access_key, "ASIANEW");
    assert_int_equal(f->calls, 12);
    fake_free(f);
}

static void unparseable_not_cached(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    const char *why = NULL;
    fake_t *f = fake_new();

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    /* a truncated answer that holds a secret: never kept, never quoted */
    fake_route(f, "GET", ECS_URL, 200,
               "{\"AccessKeyId\":\"ASIABAD\",\"SecretAccessKey\":\"bad/SeCrEt/key\",\"Tok",
               APR_SUCCESS);
    prov = provider(NULL, f, p);
    assert_int_equal(get_fail(&why, prov, p), APR_EINVAL);
    assert_non_null(strstr(why, "ecs: the answer of " ECS_URL " is not a JSON object"));
    assert_int_equal(f->calls, 1);
    /* the next call asks again, at once */
    assert_int_equal(get_fail(&why, prov, p), APR_EINVAL);
    assert_int_equal(f->calls, 2);
    fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIAGOOD", "good/SeCrEt", "t-SeCrEt", exp),
               APR_SUCCESS);
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGOOD");
    assert_int_equal(f->calls, 3);

    /* a bad answer at refresh time does not replace the good credentials */
    fake_route(f, "GET", ECS_URL, 200, "<html>502 Bad Gateway</html>", APR_SUCCESS);
    fake_now = exp - MARGIN;
    assert_string_equal(get_ok(prov, p).access_key, "ASIAGOOD");
    assert_int_equal(f->calls, 4);
    assert_true(unit_logged("LF00102"));
    fake_free(f);
}

static void expired_and_failing(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    const char *why = NULL;
    fake_t *f = fake_new();

    imds_routes(f, p, "ASIAGOOD", exp);
    prov = provider(NULL, f, p);
    get_ok(prov, p);
    fake_route(f, "PUT", IMDS_TOKEN, 0, NULL, APR_TIMEUP);
    fake_now = exp;
    assert_int_equal(get_fail(&why, prov, p), APR_TIMEUP);
    assert_string_equal(why, "the AWS credentials from imds expired at 2026-11-25T10:46:40Z and "
                             "getting new ones failed: imds: PUT " IMDS_TOKEN
                             ": Operation timed out after 1000 milliseconds");
    assert_int_equal(f->calls, 4);
    /* an error is not remembered: the next call tries again */
    assert_int_equal(get_fail(&why, prov, p), APR_TIMEUP);
    assert_int_equal(f->calls, 5);
    fake_free(f);
}

/* --- invalidation ---------------------------------------------------------------------------- */

/* Credentials that AWS rejected are dropped: the next call fetches new ones at once, long before
 * the refresh time, and never hands out the rejected ones again. */
static void invalidate_current_refetches(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    const char *why = NULL;
    fake_t *f = fake_new();

    imds_routes(f, p, "ASIAREJECTED", exp);
    prov = provider(NULL, f, p);
    assert_string_equal(get_ok(prov, p).access_key, "ASIAREJECTED");
    assert_int_equal(f->calls, 3);

    imds_routes(f, p, "ASIANEW", exp + apr_time_from_sec(600));
    fake_now = T0 + apr_time_from_sec(1);
    aws_creds_provider_invalidate(prov, "ASIAREJECTED");
    assert_true(unit_logged("[6] LF00105: the AWS credentials from imds were rejected, getting new "
                            "ones"));
    assert_string_equal(get_ok(prov, p).access_key, "ASIANEW");
    assert_int_equal(f->calls, 6);
    assert_string_equal(f->req[5].url, IMDS_ROLE);
    /* the new ones are kept as usual */
    assert_string_equal(get_ok(prov, p).access_key, "ASIANEW");
    assert_int_equal(f->calls, 6);

    /* a refresh that fails after an invalidation is an error, not the rejected credentials */
    aws_creds_provider_invalidate(prov, "ASIANEW");
    fake_route(f, "GET", IMDS_ROLE, 500, "", APR_SUCCESS);
    assert_int_equal(get_fail(&why, prov, p), APR_EGENERAL);
    assert_non_null(strstr(why, "no AWS credentials: imds: GET " IMDS_ROLE ": HTTP 500"));
    assert_int_equal(f->calls, 9);
    fake_free(f);
}

/* A key that is no longer the current one (another thread got new credentials since it was
 * rejected), or no key at all, changes nothing. */
static void invalidate_old_key_does_nothing(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIAOLD", "s/SeCrEt", "t-SeCrEt", exp),
               APR_SUCCESS);
    prov = provider(NULL, f, p);
    assert_string_equal(get_ok(prov, p).access_key, "ASIAOLD");
    fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIANEW", "s/SeCrEt", "t-SeCrEt", exp),
               APR_SUCCESS);
    aws_creds_provider_invalidate(prov, "ASIAOLD");
    assert_string_equal(get_ok(prov, p).access_key, "ASIANEW");
    assert_int_equal(f->calls, 2);

    aws_creds_provider_invalidate(prov, "ASIAOLD");
    aws_creds_provider_invalidate(prov, "ASIANE");
    aws_creds_provider_invalidate(prov, NULL);
    assert_string_equal(get_ok(prov, p).access_key, "ASIANEW");
    assert_int_equal(f->calls, 2);
    fake_free(f);
}

/* Static credentials cannot be refreshed: invalidating them is a no-op. */
static void invalidate_static_does_nothing(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_config_t cfg = {0};
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();

    cfg.access_key = "AKIDCONFIG";
    cfg.secret_key = "config/SeCrEt/key";
    prov = provider(&cfg, f, p);
    assert_string_equal(get_ok(prov, p).access_key, "AKIDCONFIG");
    aws_creds_provider_invalidate(prov, "AKIDCONFIG");
    assert_string_equal(get_ok(prov, p).secret_key, "config/SeCrEt/key");

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-SeCrEt", 1);
    prov = provider(NULL, f, p);
    assert_string_equal(get_ok(prov, p).access_key, "AKIDENV");
    aws_creds_provider_invalidate(prov, "AKIDENV");
    assert_string_equal(get_ok(prov, p).access_key, "AKIDENV");
    assert_int_equal(f->calls, 0);
    assert_false(unit_logged("LF00105"));
    fake_free(f);
}

/* --- threads --------------------------------------------------------------------------------- */

#define NTHREADS 8

typedef struct worker_t {
    aws_creds_provider_t *prov;
    apr_status_t rv;
    char access_key[64];
    char why[512];
    volatile int started, done;
} worker_t;

static void *APR_THREAD_FUNC worker_run(apr_thread_t *thread, void *data)
{
    worker_t *w = data;
    const char *why = NULL;
    apr_pool_t *p;
    aws_creds_t c;

    apr_pool_create(&p, NULL);
    __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
    w->rv = aws_creds_get(&c, &why, w->prov, p);
    if (w->rv == APR_SUCCESS) {
        apr_cpystrn(w->access_key, c.access_key, sizeof(w->access_key));
    }
    else {
        apr_cpystrn(w->why, why, sizeof(w->why));
    }
    apr_pool_destroy(p);
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    /* a plain return, not apr_thread_exit(): pthread_exit() unwinds in a way that AddressSanitizer
     * reports as a stack overflow; the thread's pool goes with the test's pool */
    (void)thread;
    return NULL;
}

static void start_workers(apr_thread_t **threads, worker_t *w, aws_creds_provider_t *prov,
                          apr_pool_t *p)
{
    int i;

    for (i = 0; i < NTHREADS; ++i) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].prov = prov;
        assert_int_equal(apr_thread_create(&threads[i], NULL, worker_run, &w[i], p), APR_SUCCESS);
    }
}

static void join_workers(apr_thread_t **threads)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < NTHREADS; ++i) {
        apr_thread_join(&rv, threads[i]);
    }
}

/* Wait (up to 5 s) until @p n calls reached the fake. */
static void wait_calls(fake_t *f, int n)
{
    int i;

    for (i = 0; i < 500 && fake_calls(f) < n; ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
    assert_int_equal(fake_calls(f), n);
}

static void wait_started(worker_t *w)
{
    int i, j;

    for (i = 0; i < NTHREADS; ++i) {
        for (j = 0; j < 500 && !__atomic_load_n(&w[i].started, __ATOMIC_SEQ_CST); ++j) {
            apr_sleep(apr_time_from_msec(10));
        }
    }
    /* from "started" to waiting inside aws_creds_get is a few instructions */
    apr_sleep(apr_time_from_msec(200));
}

/* No credentials yet: one thread fetches, the others wait for it and share its result. */
static void single_flight_first_fetch(void **state)
{
    apr_pool_t *p = *state;
    apr_thread_t *threads[NTHREADS];
    worker_t w[NTHREADS];
    fake_t *f = fake_new();
    int i;

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    fake_route(f, "GET", ECS_URL, 200,
               creds_json(p, "ASIASHARED", "s/SeCrEt", "t-SeCrEt", T0 + apr_time_from_sec(3600)),
               APR_SUCCESS);
    f->gated = 1;
    start_workers(threads, w, provider(NULL, f, p), p);
    wait_calls(f, 1);
    wait_started(w);
    assert_int_equal(fake_calls(f), 1);
    fake_open(f);
    join_workers(threads);
    assert_int_equal(f->calls, 1);
    for (i = 0; i < NTHREADS; ++i) {
        assert_int_equal(w[i].rv, APR_SUCCESS);
        assert_string_equal(w[i].access_key, "ASIASHARED");
    }
    fake_free(f);
}

/* A failure is shared too: the waiting threads do not each try again in turn. */
static void single_flight_shared_failure(void **state)
{
    apr_pool_t *p = *state;
    apr_thread_t *threads[NTHREADS];
    worker_t w[NTHREADS];
    fake_t *f = fake_new();
    int i;

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    fake_route(f, "GET", ECS_URL, 0, NULL, APR_TIMEUP);
    f->gated = 1;
    start_workers(threads, w, provider(NULL, f, p), p);
    wait_calls(f, 1);
    wait_started(w);
    fake_open(f);
    join_workers(threads);
    assert_int_equal(f->calls, 1);
    for (i = 0; i < NTHREADS; ++i) {
        assert_int_equal(w[i].rv, APR_TIMEUP);
        assert_non_null(strstr(w[i].why, "no AWS credentials: "));
        assert_non_null(strstr(w[i].why, "ecs: GET " ECS_URL ": Operation timed out"));
    }
    fake_free(f);
}

/* Valid credentials due for a refresh: one thread refreshes, the others go on at once with the
 * current credentials while the refresh hangs. */
static void single_flight_refresh(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    apr_thread_t *threads[NTHREADS];
    aws_creds_provider_t *prov;
    worker_t w[NTHREADS];
    fake_t *f = fake_new();
    int i, j, done, old = 0;

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/7f3a", 1);
    fake_route(f, "GET", ECS_URL, 200, creds_json(p, "ASIAOLD", "s/SeCrEt", "t-SeCrEt", exp),
               APR_SUCCESS);
    prov = provider(NULL, f, p);
    get_ok(prov, p);
    fake_route(f, "GET", ECS_URL, 200,
               creds_json(p, "ASIANEW", "s/SeCrEt", "t-SeCrEt", exp + apr_time_from_sec(3600)),
               APR_SUCCESS);
    fake_now = exp - MARGIN;
    f->gated = 1;
    start_workers(threads, w, prov, p);
    wait_calls(f, 2);
    /* all but the refreshing thread finish while the fetch still hangs */
    for (j = 0; j < 500; ++j) {
        for (done = 0, i = 0; i < NTHREADS; ++i) {
            done += __atomic_load_n(&w[i].done, __ATOMIC_SEQ_CST);
        }
        if (done == NTHREADS - 1) {
            break;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    assert_int_equal(done, NTHREADS - 1);
    assert_int_equal(fake_calls(f), 2);
    fake_open(f);
    join_workers(threads);
    assert_int_equal(f->calls, 2);
    for (i = 0; i < NTHREADS; ++i) {
        assert_int_equal(w[i].rv, APR_SUCCESS);
        old += !strcmp(w[i].access_key, "ASIAOLD");
    }
    assert_int_equal(old, NTHREADS - 1);
    assert_string_equal(get_ok(prov, p).access_key, "ASIANEW");
    fake_free(f);
}

/* --- secrets --------------------------------------------------------------------------------- */

/* Every path that logs, at every level, with secrets in play: none of them in a message. The
 * teardown does the check; this asserts that there was something to check. */
static void secrets_never_logged(void **state)
{
    apr_pool_t *p = *state;
    const char *path = unit_write_temp(p, "[default]\naws_access_key_id = AKID\n"
                                          "aws_secret_access_key = half/SeCrEt\n"
                                          "aws_access_key_id\n"),
               *why = NULL;
    apr_time_t exp = T0 + apr_time_from_sec(3600);
    aws_creds_provider_t *prov;
    fake_t *f = fake_new();

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1); /* without its secret */
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_PROFILE", "default", 1);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-SeCrEt", 1);
    /* the profile parses: make it fail by pointing at another one */
    setenv("AWS_PROFILE", "other", 1);
    fake_route(f, "GET", "http://127.0.0.1:9/creds", 200,
               "{\"AccessKeyId\":\"ASIA\",\"SecretAccessKey\":\"leak/SeCrEt\"}", APR_SUCCESS);
    imds_routes(f, p, "ASIAIMDS", exp);
    prov = provider(NULL, f, p);
    assert_string_equal(get_ok(prov, p).source, "imds");
    fake_route(f, "GET", IMDS_ROLE, 200, "{\"SecretAccessKey\":\"partial/SeCrEt\"", APR_SUCCESS);
    fake_now = exp - MARGIN;
    get_ok(prov, p);
    fake_now = exp;
    get_fail(&why, prov, p);
    assert_true(unit_logged("LF00101"));
    assert_true(unit_logged("LF00102"));
    assert_true(unit_logged("LF00103"));
    assert_true(unit_logged("LF00104"));
    assert_false(unit_logged("SeCrEt"));
    unlink(path);
    fake_free(f);
}

/* the "...Credentials" directive's words, as mod_s3 and mod_cloudwatch take them */
static void directive_sources(void **state)
{
    aws_creds_config_t cc;

    (void)state;
    assert_string_equal(aws_creds_source_parse("default", NULL), "default");
    assert_string_equal(aws_creds_source_parse("KeyFile", "/etc/k"), "keyfile");
    assert_string_equal(aws_creds_source_parse("profile", "web"), "profile");
    assert_null(aws_creds_source_parse("default", "x"));
    assert_null(aws_creds_source_parse("keyfile", NULL));
    assert_null(aws_creds_source_parse("profile", ""));
    assert_null(aws_creds_source_parse("role", "x"));

    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, "keyfile", "/etc/k");
    assert_string_equal(cc.key_file, "/etc/k");
    assert_null(cc.profile);
    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, "profile", "web");
    assert_string_equal(cc.profile, "web");
    assert_null(cc.key_file);
    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, "default", NULL);
    assert_null(cc.profile);
    assert_null(cc.key_file);
}

/* what a directive's setter keeps: a key file made absolute against the server root */
static void directive_conf(void **state)
{
    apr_pool_t *p;
    const char *source, *arg;

    (void)state;
    assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
    assert_int_equal(
        aws_creds_source_conf(&source, &arg, "keyfile", "conf/aws.key", "/etc/apache2", p),
        APR_SUCCESS);
    assert_string_equal(source, "keyfile");
    assert_string_equal(arg, "/etc/apache2/conf/aws.key");
    assert_int_equal(aws_creds_source_conf(&source, &arg, "keyfile", "/k", "/etc/apache2", p),
                     APR_SUCCESS);
    assert_string_equal(arg, "/k");
    assert_int_equal(aws_creds_source_conf(&source, &arg, "Profile", "web", "/etc/apache2", p),
                     APR_SUCCESS);
    assert_string_equal(source, "profile");
    assert_string_equal(arg, "web");
    assert_int_equal(aws_creds_source_conf(&source, &arg, "default", NULL, "/etc/apache2", p),
                     APR_SUCCESS);
    assert_string_equal(source, "default");
    assert_int_equal(aws_creds_source_conf(&source, &arg, "role", "x", "/etc/apache2", p),
                     APR_EINVAL);
    apr_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(config_keys),
        TEST(config_key_file),
        TEST(config_errors),
        TEST(environment),
        TEST(environment_snapshot),
        TEST(profile_default_and_named),
        TEST(profile_home),
        TEST(profile_not_usable),
        TEST(ecs_relative_uri),
        TEST(ecs_full_uri_with_token),
        TEST(ecs_full_uri_checks),
        TEST(imds_v2_sequence),
        TEST(imds_endpoints),
        TEST(imds_disabled),
        TEST(imds_failures),
        TEST(chain_order),
        TEST(chain_remembers_source),
        TEST(refresh_before_expiry),
        TEST(refresh_jitter_bounds),
        TEST(refresh_short_lived),
        TEST(refresh_failure_keeps_valid),
        TEST(unparseable_not_cached),
        TEST(expired_and_failing),
        TEST(invalidate_current_refetches),
        TEST(invalidate_old_key_does_nothing),
        TEST(invalidate_static_does_nothing),
        TEST(single_flight_first_fetch),
        TEST(single_flight_shared_failure),
        TEST(single_flight_refresh),
        TEST(secrets_never_logged),
        TEST(directive_sources),
        TEST(directive_conf),
    };

    unit_log_capture();
    return UNIT_RUN("aws_creds", tests);
}
