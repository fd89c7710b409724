/* Unit tests of modules/s3/s3_runtime.c: a section's runtime is made from its configuration
 * (or refused with the client's reason), and the registry shares one runtime between the
 * sections and threads that configure the same settings, and one per distinct settings. Nothing
 * here talks to S3: a runtime only talks when a request uses it. */
#include "unit.h"

#include "lf_conf.h"
#include "s3_runtime.h"

/* A section's configuration as a request sees it: @p bucket with the defaults. */
static s3_dir_conf *section(const char *bucket, apr_pool_t *p)
{
    s3_dir_conf *c = s3_conf_create(p);

    c->bucket = bucket;
    c->endpoint = "http://127.0.0.1:9";
    return s3_conf_effective(c, p);
}

static void create(void **state)
{
    apr_pool_t *p = *state;
    s3_runtime *rt = NULL;
    const char *why = NULL;

    unit_aws_clean_env();
    assert_int_equal(s3_runtime_create(&rt, &why, section("media", p), p), APR_SUCCESS);
    assert_non_null(rt);
    assert_string_equal(rt->bucket, "media");
    assert_non_null(rt->client);
    assert_non_null(rt->creds);
    assert_non_null(rt->id);
    /* the client's reason, nothing made */
    rt = NULL;
    assert_int_not_equal(s3_runtime_create(&rt, &why, section("No_Such Bucket", p), p),
                         APR_SUCCESS);
    assert_null(rt);
    assert_string_equal(why, "not a valid bucket name");
}

static void registry_shares_equal_settings(void **state)
{
    apr_pool_t *p = *state;
    s3_runtimes_t *reg;
    s3_runtime *a, *b, *c, *d, *bad = NULL;
    s3_dir_conf *other;
    const char *why = NULL;

    unit_aws_clean_env();
    assert_int_equal(s3_runtimes_create(&reg, p), APR_SUCCESS);
    assert_null(s3_runtimes_of_bucket(reg, "media", p));
    assert_int_equal(s3_runtimes_get(&a, &why, reg, section("media", p), p), APR_SUCCESS);
    /* another section with the same settings: the same runtime */
    assert_int_equal(s3_runtimes_get(&b, &why, reg, section("media", p), p), APR_SUCCESS);
    assert_ptr_equal(a, b);
    /* any setting that goes into a runtime makes another one */
    other = section("media", p);
    other->timeout = 5 * APR_USEC_PER_SEC;
    assert_int_equal(s3_runtimes_get(&c, &why, reg, other, p), APR_SUCCESS);
    assert_ptr_not_equal(a, c);
    assert_string_not_equal(a->id, c->id);
    assert_int_equal(s3_runtimes_get(&d, &why, reg, section("logs", p), p), APR_SUCCESS);
    assert_ptr_not_equal(a, d);
    /* found by bucket name (mod_health's check) */
    assert_ptr_equal(s3_runtimes_of_bucket(reg, "logs", p), d);
    assert_string_equal(s3_runtimes_of_bucket(reg, "media", p)->bucket, "media");
    assert_null(s3_runtimes_of_bucket(reg, "other", p));
    /* a refused configuration is not kept */
    assert_int_not_equal(s3_runtimes_get(&bad, &why, reg, section("No Such Bucket", p), p),
                         APR_SUCCESS);
    assert_null(bad);
    assert_string_equal(why, "not a valid bucket name");
    assert_null(s3_runtimes_of_bucket(reg, "No Such Bucket", p));
}

/* Threads asking for the same settings at once all get one runtime. */
#define THREADS 8

typedef struct {
    s3_runtimes_t *reg;
    const s3_dir_conf *conf;
    s3_runtime *got;
    apr_pool_t *pool;
} asker_t;

static void *ask(void *arg)
{
    asker_t *a = arg;
    const char *why;

    if (s3_runtimes_get(&a->got, &why, a->reg, a->conf, a->pool) != APR_SUCCESS) {
        a->got = NULL;
    }
    return NULL;
}

static void registry_is_shared_by_threads(void **state)
{
    apr_pool_t *p = *state;
    s3_runtimes_t *reg;
    asker_t askers[THREADS];
    pthread_t threads[THREADS];
    int i;

    unit_aws_clean_env();
    assert_int_equal(s3_runtimes_create(&reg, p), APR_SUCCESS);
    for (i = 0; i < THREADS; ++i) {
        askers[i].reg = reg;
        askers[i].conf = section("media", p);
        askers[i].got = NULL;
        assert_int_equal(apr_pool_create(&askers[i].pool, NULL), APR_SUCCESS);
    }
    for (i = 0; i < THREADS; ++i) {
        assert_int_equal(pthread_create(&threads[i], NULL, ask, &askers[i]), 0);
    }
    for (i = 0; i < THREADS; ++i) {
        pthread_join(threads[i], NULL);
        apr_pool_destroy(askers[i].pool);
    }
    for (i = 0; i < THREADS; ++i) {
        assert_non_null(askers[i].got);
        assert_ptr_equal(askers[i].got, askers[0].got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(create),
        UNIT_TEST(registry_shares_equal_settings),
        UNIT_TEST(registry_is_shared_by_threads),
    };
    return UNIT_RUN("s3_runtime", tests);
}
