/* Unit tests of modules/cloudwatch/cw_conf.c: every kind of server directive argument read into
 * its field, or refused with "<Directive>: <what is wrong>" and the field left alone; a
 * CloudWatchGroup, CloudWatchDimensions lines, CloudWatchCredentials, and what the settings
 * make (the dimension sets in force, the credentials provider). */
#include "unit.h"

#include "cw_conf.h"
#include "cw_dims.h"
#include "cw_put.h"
#include "cw_shm.h"

/* Set @p arg as @p a says; the error, or NULL. */
static const char *set(cw_srv_conf *c, const cw_conf_arg_t *a, const char *name, const char *arg,
                       apr_pool_t *p)
{
    const char *why = "unset";
    apr_status_t rv = cw_conf_set(c, &why, a, name, arg, p);

    assert_int_equal(rv, why ? APR_EINVAL : APR_SUCCESS);
    return why;
}

static void strings_and_urls(void **state)
{
    apr_pool_t *p = *state;
    cw_srv_conf c;

    memset(&c, 0, sizeof(c));
    assert_null(set(&c, &cw_conf_ns, CW_NAMESPACE, "Web/Shop", p));
    assert_string_equal(c.ns, "Web/Shop");
    assert_null(set(&c, &cw_conf_ca_file, CW_CA_FILE, "/etc/ca.pem", p));
    assert_string_equal(c.ca_file, "/etc/ca.pem");
    assert_null(set(&c, &cw_conf_endpoint, CW_ENDPOINT, "HTTPS://monitoring.example", p));
    assert_string_equal(c.endpoint, "HTTPS://monitoring.example");
    assert_null(set(&c, &cw_conf_imds_endpoint, CW_IMDS_ENDPOINT, "http://127.0.0.1:8", p));
    assert_string_equal(c.imds_endpoint, "http://127.0.0.1:8");
    assert_string_equal(set(&c, &cw_conf_endpoint, CW_ENDPOINT, "ftp://x", p),
                        "CloudWatchEndpoint: 'ftp://x' is not an http:// or https:// URL");
    assert_string_equal(c.endpoint, "HTTPS://monitoring.example");

    assert_null(set(&c, &cw_conf_region, CW_REGION, "eu-west-1", p));
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(set(&c, &cw_conf_region, CW_REGION, "EU-West-1", p),
                        "CloudWatchRegion: 'EU-West-1' is not a region name");
    assert_string_equal(set(&c, &cw_conf_region, CW_REGION, "", p),
                        "CloudWatchRegion: '' is not a region name");
    assert_string_equal(c.region, "eu-west-1");
}

/* A dimension value, or none: "" leaves the dimension out. */
static void dimension_values(void **state)
{
    apr_pool_t *p = *state;
    cw_srv_conf c;

    memset(&c, 0, sizeof(c));
    assert_null(set(&c, &cw_conf_asg, CW_ASG, "web-fleet", p));
    assert_string_equal(c.asg, "web-fleet");
    assert_null(set(&c, &cw_conf_asg, CW_ASG, "None", p));
    assert_string_equal(c.asg, "");
    assert_null(set(&c, &cw_conf_instance_id, CW_INSTANCE_ID, "i-0123", p));
    assert_string_equal(c.instance_id, "i-0123");
    assert_string_equal(set(&c, &cw_conf_instance_id, CW_INSTANCE_ID, "i-\x01", p),
                        apr_pstrcat(p, "CloudWatchInstanceId: ",
                                    cw_put_check_name("i-\x01", "dimension value", p), NULL));
    assert_string_equal(c.instance_id, "i-0123");
}

static void numbers(void **state)
{
    apr_pool_t *p = *state;
    cw_srv_conf c;

    memset(&c, 0, sizeof(c));
    assert_null(set(&c, &cw_conf_max_groups, CW_MAX_GROUPS, "1000", p));
    assert_int_equal(c.max_groups, 1000);
    assert_string_equal(set(&c, &cw_conf_max_groups, CW_MAX_GROUPS, "1001", p),
                        "CloudWatchMaxGroups: '1001' is not a number from 1 to 1000");
    assert_null(set(&c, &cw_conf_backlog, CW_BACKLOG, "1440", p));
    assert_int_equal(c.backlog, 1440);
    assert_string_equal(set(&c, &cw_conf_backlog, CW_BACKLOG, "0", p),
                        "CloudWatchBacklog: '0' is not a number of intervals from 1 to 1440");
    assert_null(set(&c, &cw_conf_attempts, CW_ATTEMPTS, "1", p));
    assert_int_equal(c.attempts, 1);
    assert_string_equal(set(&c, &cw_conf_attempts, CW_ATTEMPTS, "3x", p),
                        "CloudWatchAttempts: '3x' is not a number from 1 to 10");
    assert_int_equal(c.attempts, 1);

    assert_null(set(&c, &cw_conf_resolution, CW_RESOLUTION, "1", p));
    assert_int_equal(c.resolution, 1);
    assert_null(set(&c, &cw_conf_resolution, CW_RESOLUTION, "60", p));
    assert_int_equal(c.resolution, 60);
    assert_string_equal(set(&c, &cw_conf_resolution, CW_RESOLUTION, "30", p),
                        "CloudWatchStorageResolution: '30' is neither 60 (standard) nor 1 (high "
                        "resolution)");
    assert_int_equal(c.resolution, 60);
}

/* Durations: seconds unless a unit is given, within the range, whole seconds for the interval. */
static void durations(void **state)
{
    apr_pool_t *p = *state;
    cw_srv_conf c;

    memset(&c, 0, sizeof(c));
    assert_null(set(&c, &cw_conf_interval, CW_INTERVAL, "10", p));
    assert_true(c.interval == apr_time_from_sec(10));
    assert_null(set(&c, &cw_conf_interval, CW_INTERVAL, "1h", p));
    assert_true(c.interval == apr_time_from_sec(3600));
    assert_string_equal(set(&c, &cw_conf_interval, CW_INTERVAL, "1500ms", p),
                        "CloudWatchInterval: '1500ms' is not a whole number of seconds from 1s "
                        "to 1h");
    assert_string_equal(set(&c, &cw_conf_interval, CW_INTERVAL, "2h", p),
                        "CloudWatchInterval: '2h' is not a whole number of seconds from 1s to 1h");
    assert_true(c.interval == apr_time_from_sec(3600));
    assert_null(set(&c, &cw_conf_timeout, CW_TIMEOUT, "250ms", p));
    assert_true(c.timeout == apr_time_from_msec(250));
    assert_string_equal(set(&c, &cw_conf_timeout, CW_TIMEOUT, "50ms", p),
                        "CloudWatchTimeout: '50ms' is not a duration from 100ms to 60s");
    assert_string_equal(set(&c, &cw_conf_timeout, CW_TIMEOUT, "soon", p),
                        "CloudWatchTimeout: 'soon' is not a duration from 100ms to 60s");
    assert_true(c.timeout == apr_time_from_msec(250));
}

static void group(void **state)
{
    apr_pool_t *p = *state;
    const char *why = "unset";
    char longest[CW_NAME_MAX + 1];

    assert_int_equal(cw_conf_group(&why, "checkout", p), APR_SUCCESS);
    assert_null(why);
    memset(longest, 'g', sizeof(longest));
    longest[CW_NAME_MAX - 1] = '\0';
    assert_int_equal(cw_conf_group(&why, longest, p), APR_SUCCESS);
    longest[CW_NAME_MAX - 1] = 'g';
    longest[CW_NAME_MAX] = '\0';
    assert_int_equal(cw_conf_group(&why, longest, p), APR_EINVAL);
    assert_string_equal(why, "CloudWatchGroup: a group name has at most 63 characters");
    assert_int_equal(cw_conf_group(&why, "   ", p), APR_EINVAL);
    assert_string_equal(
        why, apr_pstrcat(p, "CloudWatchGroup: ", cw_put_check_name("   ", "group name", p), NULL));
}

/* Dimension sets: added line by line; without any, the defaults. */
static void dimension_sets(void **state)
{
    apr_pool_t *p = *state;
    cw_srv_conf c;
    const char *why;
    char *one[] = {apr_pstrdup(p, "VirtualHost")};
    char *two[] = {apr_pstrdup(p, "InstanceId"), apr_pstrdup(p, "Group")};
    char *bad[] = {one[0], one[0]};
    const apr_array_header_t *sets;

    memset(&c, 0, sizeof(c));
    sets = cw_conf_dim_sets(&c, p);
    assert_int_equal(sets->nelts, cw_dims_default(p)->nelts);
    assert_true(cw_dims_use(sets, CW_DIM_ASG));
    assert_int_equal(cw_conf_add_dim_set(&c, &why, 1, one, p), APR_SUCCESS);
    assert_null(why);
    assert_int_equal(cw_conf_add_dim_set(&c, &why, 2, two, p), APR_SUCCESS);
    assert_int_equal(cw_conf_add_dim_set(&c, &why, 2, bad, p), APR_EINVAL);
    assert_true(!strncmp(why, "CloudWatchDimensions: ", 22));
    sets = cw_conf_dim_sets(&c, p);
    assert_ptr_equal(sets, c.dim_sets);
    assert_int_equal(sets->nelts, 2);
    assert_true(cw_dims_use(sets, CW_DIM_INSTANCE));
    assert_false(cw_dims_use(sets, CW_DIM_ASG));
}

/* CloudWatchCredentials, and the provider the settings make. */
static void credentials(void **state)
{
    apr_pool_t *p = *state;
    cw_srv_conf c;
    aws_creds_provider_t *creds;
    const char *why, *keys = unit_write_temp(p, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE\n"
                                                "AWS_SECRET_ACCESS_KEY=secret\n");

    memset(&c, 0, sizeof(c));
    assert_int_equal(cw_conf_credentials(&c, &why, "default", NULL, "/srv", p), APR_SUCCESS);
    assert_null(why);
    assert_string_equal(c.creds_kind, "default");
    assert_int_equal(cw_conf_credentials(&c, &why, "keyfile", NULL, "/srv", p), APR_EINVAL);
    assert_string_equal(why, "CloudWatchCredentials: expected 'default', 'keyfile PATH' or "
                             "'profile NAME'");
    assert_int_equal(cw_conf_credentials(&c, &why, "keyfile", "keys", "/srv", p), APR_SUCCESS);
    assert_string_equal(c.creds_arg, "/srv/keys");
    assert_int_equal(cw_conf_credentials(&c, &why, "keyfile", keys, "/srv", p), APR_SUCCESS);
    assert_int_equal(cw_conf_creds(&creds, &why, &c, p), APR_SUCCESS);
    assert_non_null(creds);
    unlink(keys);
    assert_int_equal(cw_conf_credentials(&c, &why, "keyfile", "/nonexistent/keys", "/", p),
                     APR_SUCCESS);
    assert_true(cw_conf_creds(&creds, &why, &c, p) != APR_SUCCESS);
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(strings_and_urls),
        UNIT_TEST(dimension_values),
        UNIT_TEST(numbers),
        UNIT_TEST(durations),
        UNIT_TEST(group),
        UNIT_TEST(dimension_sets),
        UNIT_TEST(credentials),
    };

    return unit_run("cw_conf", tests, sizeof(tests) / sizeof(tests[0]));
}
