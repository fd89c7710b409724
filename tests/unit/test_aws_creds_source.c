/* Unit tests of modules/aws/aws_creds_source.c through its default HTTP calls, which go through
 * aws_http: the IMDSv2 and ECS sources against the scripted server of unit_http.h (a thread of
 * the test, on 127.0.0.1; it records requests lower-cased) instead of an injected fetch. They prove
 * what the credentials calls keep from their own curl client of before: one attempt (no retry of a
 * 503), the short timeout, no proxy from the environment, an empty PUT for the token, answers of at
 * most 64 KiB; and what a source says when a call fails. The sources' logic itself is in
 * test_aws_creds.c.
 *
 * Every secret in this file contains "SeCrEt": no failure text may hold it. */
#include <signal.h>
#include <stdlib.h>

#include "unit.h"
#include "unit_http.h"

#include <curl/curl.h>

#include "aws_creds_source.h"
#include "lf_json.h"

#define TOKEN      "AQAEA-IMDS-SeCrEt-TOKEN=="
#define TOKEN_PATH "/latest/api/token"
#define ROLES_PATH "/latest/meta-data/iam/security-credentials/"

static int setup(void **state)
{
    unit_aws_clean_env();
    /* A proxy that nobody answers: the credentials calls must never use it. */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    return unit_setup(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, unit_teardown)

static const char *creds_json(apr_pool_t *p)
{
    return apr_psprintf(p,
                        "{\"Code\": \"Success\", \"AccessKeyId\": \"ASIALOCAL\", "
                        "\"SecretAccessKey\": \"local/SeCrEt/key\", \"Token\": "
                        "\"local-SeCrEt-session\", \"Expiration\": %s}",
                        lf_json_time(apr_time_now() + apr_time_from_sec(3600), p));
}

/* The sources with IMDS at @p srv; @p timeout 0 for the default. */
static aws_creds_sources_t *sources(const server_t *srv, apr_interval_time_t timeout, apr_pool_t *p)
{
    aws_creds_sources_t *s = apr_pcalloc(p, sizeof(*s));
    aws_creds_config_t cfg = {0};
    const char *why = NULL;

    cfg.imds_endpoint = srv->base;
    cfg.timeout = timeout;
    if (aws_creds_sources_init(s, &why, &cfg, p) != APR_SUCCESS) {
        fail_msg("init: %s", why);
    }
    return s;
}

/* The value of header @p name (lower case) in a request head the server recorded, or NULL. */
static const char *header_of(const received_t *got, const char *name, apr_pool_t *p)
{
    const char *at = strstr(got->head, apr_pstrcat(p, "\r\n", name, ":", NULL)), *end;

    if (!at) {
        return NULL;
    }
    at += strlen(name) + 3;
    while (*at == ' ') {
        ++at;
    }
    end = strstr(at, "\r\n");
    return apr_pstrmemdup(p, at, end ? (apr_size_t)(end - at) : strlen(at));
}

static void imds_sequence_through_aws_http(void **state)
{
    apr_pool_t *p = *state;
    const char *json = creds_json(p);
    const answer_t answers[] = {
        {200, NULL, TOKEN "\n", sizeof(TOKEN), 0, 0},
        {200, NULL, "web-role", 8, 0, 0},
        {200, NULL, json, strlen(json), 0, 0},
    };
    server_t *srv = server_start(answers, 3, p);
    aws_creds_t c = {0};
    const char *why = NULL;

    assert_int_equal(aws_creds_source_get(&c, &why, sources(srv, 0, p), AWS_CREDS_SRC_IMDS, p),
                     APR_SUCCESS);
    assert_string_equal(c.access_key, "ASIALOCAL");
    assert_string_equal(c.secret_key, "local/SeCrEt/key");
    assert_string_equal(c.session_token, "local-SeCrEt-session");

    server_stop(srv);
    assert_int_equal(srv->requests, 3);
    /* the token: an empty PUT, so that a GET-only SSRF cannot obtain one */
    assert_true(!strncmp(srv->got[0].head, "put " TOKEN_PATH " ", strlen("put " TOKEN_PATH " ")));
    assert_string_equal(header_of(&srv->got[0], "x-aws-ec2-metadata-token-ttl-seconds", p),
                        "21600");
    assert_string_equal(header_of(&srv->got[0], "content-length", p), "0");
    assert_int_equal(srv->got[0].body_len, 0);
    assert_true(!strncmp(srv->got[1].head, "get " ROLES_PATH " ", strlen("get " ROLES_PATH " ")));
    assert_true(!strncmp(srv->got[2].head, "get " ROLES_PATH "web-role ",
                         strlen("get " ROLES_PATH "web-role ")));
    /* the token of the PUT's answer, trimmed (the server lower-cases what it records) */
    assert_string_equal(header_of(&srv->got[1], "x-aws-ec2-metadata-token", p),
                        "aqaea-imds-secret-token==");
    assert_string_equal(header_of(&srv->got[2], "x-aws-ec2-metadata-token", p),
                        "aqaea-imds-secret-token==");
}

/* A 503 that aws_http would retry for AWS: the credentials calls make one attempt, as before;
 * the provider tries again later. */
static void failure_not_retried(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {503, NULL, "busy", 4, 0, 0},
        {200, NULL, TOKEN, sizeof(TOKEN) - 1, 0, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_creds_t c = {0};
    const char *why = NULL;

    assert_int_equal(aws_creds_source_get(&c, &why, sources(srv, 0, p), AWS_CREDS_SRC_IMDS, p),
                     APR_EGENERAL);
    assert_string_equal(why, apr_pstrcat(p, "PUT ", srv->base, TOKEN_PATH, ": HTTP 503", NULL));
    server_stop(srv);
    assert_int_equal(srv->requests, 1);
}

static void answer_too_large(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {{200, NULL, NULL, 70000, 0, 0}};
    server_t *srv = server_start(answers, 1, p);
    aws_creds_t c = {0};
    const char *why = NULL;

    assert_int_equal(aws_creds_source_get(&c, &why, sources(srv, 0, p), AWS_CREDS_SRC_IMDS, p),
                     APR_EGENERAL);
    assert_string_equal(why, apr_pstrcat(p, "PUT ", srv->base, TOKEN_PATH,
                                         ": the answer is larger than 65536 bytes", NULL));
}

static void timeout_is_the_sources(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {{200, NULL, TOKEN, sizeof(TOKEN) - 1, 0, apr_time_from_sec(2)}};
    server_t *srv = server_start(answers, 1, p);
    aws_creds_t c = {0};
    const char *why = NULL;
    apr_time_t start = apr_time_now();

    assert_int_equal(aws_creds_source_get(&c, &why, sources(srv, apr_time_from_msec(200), p),
                                          AWS_CREDS_SRC_IMDS, p),
                     APR_TIMEUP);
    assert_true(apr_time_now() - start < apr_time_from_sec(1));
    assert_true(!strncmp(why, "PUT ", 4));
    server_stop(srv);
    assert_int_equal(srv->requests, 1);
}

static void ecs_through_aws_http(void **state)
{
    apr_pool_t *p = *state;
    const char *json = creds_json(p);
    const answer_t answers[] = {{200, NULL, json, strlen(json), 0, 0}};
    server_t *srv = server_start(answers, 1, p);
    aws_creds_t c = {0};
    const char *why = NULL;
    aws_creds_sources_t *s;

    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", apr_pstrcat(p, srv->base, "/v1/creds", NULL), 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-SeCrEt-auth", 1);
    s = sources(srv, 0, p);
    assert_int_equal(aws_creds_source_get(&c, &why, s, AWS_CREDS_SRC_ECS, p), APR_SUCCESS);
    assert_string_equal(c.access_key, "ASIALOCAL");
    server_stop(srv);
    assert_int_equal(srv->requests, 1);
    assert_true(!strncmp(srv->got[0].head, "get /v1/creds ", 14));
    assert_string_equal(header_of(&srv->got[0], "authorization", p), "ecs-secret-auth");

    /* a refused connection (nothing listens on the discard port): the source says which call
     * failed, and how */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/v1/creds", 1);
    s = sources(srv, 0, p);
    assert_int_equal(aws_creds_source_get(&c, &why, s, AWS_CREDS_SRC_ECS, p), APR_EGENERAL);
    assert_true(!strncmp(why, "GET http://127.0.0.1:9/v1/creds: ", 33));
    assert_true(strlen(why) > 33);
    assert_null(strstr(why, "SeCrEt"));
}

/* The test seam replaces the HTTP calls and NULL brings back the ones through aws_http. */
static apr_status_t fetch_never(int *status, const char **body, const char **error,
                                const char *method, const char *url, const apr_table_t *headers,
                                apr_interval_time_t timeout, void *baton, apr_pool_t *p)
{
    (void)status, (void)body, (void)method, (void)url, (void)headers, (void)timeout, (void)p;
    ++*(int *)baton;
    *error = "no network in this test";
    return APR_ECONNREFUSED;
}

static void seam_swaps_and_restores(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {{404, NULL, "", 0, 0, 0}};
    server_t *srv = server_start(answers, 1, p);
    aws_creds_sources_t *s = sources(srv, 0, p);
    aws_creds_t c = {0};
    const char *why = NULL;
    int calls = 0;

    aws_creds_sources_set_fetch(s, fetch_never, &calls);
    assert_int_equal(aws_creds_source_get(&c, &why, s, AWS_CREDS_SRC_IMDS, p), APR_ECONNREFUSED);
    assert_int_equal(calls, 1);
    assert_string_equal(
        why, apr_pstrcat(p, "PUT ", srv->base, TOKEN_PATH, ": no network in this test", NULL));

    aws_creds_sources_set_fetch(s, NULL, NULL);
    assert_int_equal(aws_creds_source_get(&c, &why, s, AWS_CREDS_SRC_IMDS, p), APR_EGENERAL);
    assert_int_equal(calls, 1);
    server_stop(srv);
    assert_int_equal(srv->requests, 1);
}

static void names_and_refreshable(void **state)
{
    static const char *const names[] = {"config", "environment", "profile", "ecs", "imds"};
    int i;

    (void)state;
    for (i = 0; i < AWS_CREDS_SRC_COUNT; ++i) {
        assert_string_equal(aws_creds_source_name(i), names[i]);
        assert_int_equal(aws_creds_source_refreshable(i),
                         i == AWS_CREDS_SRC_ECS || i == AWS_CREDS_SRC_IMDS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(imds_sequence_through_aws_http),
        TEST(failure_not_retried),
        TEST(answer_too_large),
        TEST(timeout_is_the_sources),
        TEST(ecs_through_aws_http),
        TEST(seam_swaps_and_restores),
        TEST(names_and_refreshable),
    };

    signal(SIGPIPE, SIG_IGN); /* the server writes to clients that gave up */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return UNIT_RUN("aws_creds_source", tests);
}
