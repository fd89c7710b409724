/* Unit tests of modules/cloudwatch/cw_datum.c and cw_dims.c: dimension sets as configured (and
 * every error a CloudWatchDimensions line can have), the groups of an interval added up per value
 * of each set, the metrics of a group, unknown dimensions left out, WorkerSaturation as a
 * statistic set once per instance-level value, the empty interval, and what comes out within
 * PutMetricData's limits (1000 datums, 150 Values/Counts pairs, 30 dimensions) through cw_put. */
#include "unit.h"

#include "cw_datum.h"
#include "cw_dims.h"
#include "cw_put.h"

#define TS ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

/* A group of the interval: @p n requests of @p latency microseconds in status class @p cls. */
static cw_slot_snapshot_t *group_add(apr_array_header_t *groups, const char *vhost,
                                     const char *group, int n, apr_uint64_t latency, int cls)
{
    cw_slot_snapshot_t *t = apr_array_push(groups);
    cw_hist_t h;
    int i;

    memset(t, 0, sizeof(*t));
    memset(&h, 0, sizeof(h));
    for (i = 0; i < n; ++i) {
        cw_hist_add(&h, latency);
    }
    t->vhost = vhost;
    t->group = group;
    cw_hist_take(&t->latency, &h);
    t->classes[cls] = (apr_uint64_t)n;
    t->bytes_in = (apr_uint64_t)n * 10;
    t->bytes_out = (apr_uint64_t)n * 100;
    return t;
}

static apr_array_header_t *groups_make(apr_pool_t *p)
{
    return apr_array_make(p, 4, sizeof(cw_slot_snapshot_t));
}

/* The sets of @p lines, each a CloudWatchDimensions line. */
static const apr_array_header_t *sets_make(apr_pool_t *p, const char *const *lines, int n)
{
    apr_array_header_t *sets = apr_array_make(p, n, sizeof(apr_array_header_t *));
    int i;

    for (i = 0; i < n; ++i) {
        char **argv;
        apr_array_header_t *set;
        const char *why;
        int argc = 0;

        assert_int_equal(apr_tokenize_to_argv(lines[i], &argv, p), APR_SUCCESS);
        while (argv[argc]) {
            ++argc;
        }
        assert_int_equal(cw_dims_parse(&set, &why, argc, argv, p), APR_SUCCESS);
        APR_ARRAY_PUSH(sets, apr_array_header_t *) = set;
    }
    return sets;
}

/* "Name=Value,Name=Value" of @p d's dimensions. */
static const char *dims_str(const cw_datum_t *d, apr_pool_t *p)
{
    const char *s = "";
    int k;

    for (k = 0; k < d->ndims; ++k) {
        s = apr_pstrcat(p, s, k ? "," : "", d->dimensions[k].name, "=", d->dimensions[k].value,
                        NULL);
    }
    return s;
}

/* The datum @p name with the dimensions @p dims, which must be there once. */
static const cw_datum_t *find(const apr_array_header_t *out, const char *name, const char *dims,
                              apr_pool_t *p)
{
    const cw_datum_t *found = NULL;
    int i;

    for (i = 0; i < out->nelts; ++i) {
        const cw_datum_t *d = &APR_ARRAY_IDX(out, i, cw_datum_t);

        if (!strcmp(d->name, name) && !strcmp(dims_str(d, p), dims)) {
            if (found) {
                fail_msg("%s {%s} twice", name, dims);
            }
            found = d;
        }
    }
    if (!found) {
        fail_msg("%s {%s} missing", name, dims);
    }
    return found;
}

static int count_named(const apr_array_header_t *out, const char *name)
{
    int i, n = 0;

    for (i = 0; i < out->nelts; ++i) {
        n += !strcmp(APR_ARRAY_IDX(out, i, cw_datum_t).name, name);
    }
    return n;
}

/* --- cw_dims ---------------------------------------------------------------------------------- */

static const char *parse_error(apr_pool_t *p, const char *line)
{
    char **argv;
    apr_array_header_t *set = (apr_array_header_t *)1;
    const char *why = NULL;
    int argc = 0;

    assert_int_equal(apr_tokenize_to_argv(line, &argv, p), APR_SUCCESS);
    while (argv[argc]) {
        ++argc;
    }
    assert_int_equal(cw_dims_parse(&set, &why, argc, argv, p), APR_EINVAL);
    assert_null(set);
    assert_non_null(why);
    return why;
}

static void dims_parse(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"autoscalinggroupname INSTANCEID VirtualHost group Env=prod",
                                 "None"};
    const apr_array_header_t *sets = sets_make(p, lines, 2);
    const apr_array_header_t *set = APR_ARRAY_IDX(sets, 0, const apr_array_header_t *);
    const cw_dim_t *d = (const cw_dim_t *)set->elts;
    char *argv[CW_PUT_MAX_DIMENSIONS + 1];
    apr_array_header_t *big;
    const char *why;
    int i;

    assert_int_equal(set->nelts, 5);
    /* known dimensions by their canonical names, whatever the case written */
    assert_int_equal(d[0].kind, CW_DIM_ASG);
    assert_string_equal(d[0].name, "AutoScalingGroupName");
    assert_int_equal(d[1].kind, CW_DIM_INSTANCE);
    assert_string_equal(d[1].name, "InstanceId");
    assert_int_equal(d[2].kind, CW_DIM_VHOST);
    assert_string_equal(d[2].name, "VirtualHost");
    assert_int_equal(d[3].kind, CW_DIM_GROUP);
    assert_string_equal(d[3].name, "Group");
    assert_int_equal(d[4].kind, CW_DIM_STATIC);
    assert_string_equal(d[4].name, "Env");
    assert_string_equal(d[4].value, "prod");
    assert_int_equal(APR_ARRAY_IDX(sets, 1, const apr_array_header_t *)->nelts, 0);

    /* CloudWatch's most: 30 dimensions, not 31 */
    for (i = 0; i <= CW_PUT_MAX_DIMENSIONS; ++i) {
        argv[i] = apr_psprintf(p, "D%d=v", i);
    }
    assert_int_equal(cw_dims_parse(&big, &why, CW_PUT_MAX_DIMENSIONS, argv, p), APR_SUCCESS);
    assert_int_equal(big->nelts, CW_PUT_MAX_DIMENSIONS);
    assert_int_equal(cw_dims_parse(&big, &why, CW_PUT_MAX_DIMENSIONS + 1, argv, p), APR_EINVAL);
    assert_string_equal(why, "31 dimensions; CloudWatch takes at most 30 per metric");
    assert_int_equal(cw_dims_parse(&big, &why, 0, argv, p), APR_EINVAL);
    assert_string_equal(why, "needs at least one dimension (or None)");

    assert_string_equal(parse_error(p, "Group Host"),
                        "unknown dimension 'Host' (AutoScalingGroupName, InstanceId, "
                        "VirtualHost, Group, or Name=Value)");
    assert_string_equal(parse_error(p, "Group group"), "dimension 'Group' twice");
    assert_string_equal(parse_error(p, "Group Group=x"), "dimension 'Group' twice");
    assert_non_null(strstr(parse_error(p, "Env="), "dimension value"));
    assert_non_null(strstr(parse_error(p, ":Env=x"), "dimension name"));
    assert_non_null(strstr(parse_error(p, "=x"), "dimension name"));
}

static void dims_default(void **state)
{
    apr_pool_t *p = *state;
    const apr_array_header_t *sets = cw_dims_default(p), *a, *b;
    const char *const lines[] = {"VirtualHost Env=x"};

    assert_int_equal(sets->nelts, 2);
    a = APR_ARRAY_IDX(sets, 0, const apr_array_header_t *);
    b = APR_ARRAY_IDX(sets, 1, const apr_array_header_t *);
    assert_int_equal(a->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(a, 0, cw_dim_t).name, "AutoScalingGroupName");
    assert_int_equal(b->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(b, 0, cw_dim_t).name, "AutoScalingGroupName");
    assert_string_equal(APR_ARRAY_IDX(b, 1, cw_dim_t).name, "Group");
    assert_true(cw_dims_use(sets, CW_DIM_ASG));
    assert_true(cw_dims_use(sets, CW_DIM_GROUP));
    assert_false(cw_dims_use(sets, CW_DIM_INSTANCE));
    sets = sets_make(p, lines, 1);
    assert_true(cw_dims_use(sets, CW_DIM_VHOST));
    assert_true(cw_dims_use(sets, CW_DIM_STATIC));
    assert_false(cw_dims_use(sets, CW_DIM_ASG));
}

/* --- cw_datum ----------------------------------------------------------------------------------
 */

static void empty(void **state)
{
    apr_pool_t *p = *state;
    cw_datum_conf_t c = {cw_dims_default(p), "asg-1", "i-1", 1, 60};
    cw_datum_stats_t none = {0, 0, 0, 0};
    apr_array_header_t *out, *bodies;

    /* nothing measured, no saturation: no datum, so no request */
    out = cw_datum_build(&c, groups_make(p), NULL, TS, p);
    assert_int_equal(out->nelts, 0);
    out = cw_datum_build(&c, groups_make(p), &none, TS, p);
    assert_int_equal(out->nelts, 0);
    assert_int_equal(
        cw_put_bodies(&bodies, "Lampfarm", (const cw_datum_t *)out->elts, out->nelts, 0, 0, p),
        APR_SUCCESS);
    assert_int_equal(bodies->nelts, 0);
}

/* The default sets: the fleet, and the fleet per group, added up over virtual hosts. */
static void default_sets(void **state)
{
    apr_pool_t *p = *state;
    cw_datum_conf_t c = {cw_dims_default(p), "asg-1", "i-1", 0, 60};
    apr_array_header_t *groups = groups_make(p), *out;
    const cw_datum_t *d;
    double count = 0;
    int i;

    group_add(groups, "a.example.com", "default", 10, 2000, CW_C2XX);
    group_add(groups, "a.example.com", "api", 5, 4000, CW_C5XX);
    group_add(groups, "b.example.com", "api", 3, 8000, CW_C4XX)->classes[CW_CABORTED] = 1;
    out = cw_datum_build(&c, groups, NULL, TS, p);
    /* one fleet value and two groups, each the metrics of a group */
    assert_int_equal(cw_datum_metrics_per_group(0), 9);
    assert_int_equal(out->nelts, 3 * cw_datum_metrics_per_group(0));
    for (i = 0; i < out->nelts; ++i) {
        d = &APR_ARRAY_IDX(out, i, cw_datum_t);
        assert_true(d->timestamp == TS);
        assert_int_equal(d->storage_resolution, 60);
    }

    d = find(out, "Requests", "AutoScalingGroupName=asg-1", p);
    assert_int_equal(d->kind, CW_DATUM_VALUE);
    assert_string_equal(d->unit, "Count");
    assert_true(d->value == 19);
    assert_true(find(out, "Responses2xx", "AutoScalingGroupName=asg-1", p)->value == 10);
    assert_true(find(out, "Responses3xx", "AutoScalingGroupName=asg-1", p)->value == 0);
    assert_true(find(out, "Responses4xx", "AutoScalingGroupName=asg-1", p)->value == 3);
    assert_true(find(out, "Responses5xx", "AutoScalingGroupName=asg-1", p)->value == 5);
    assert_true(find(out, "Aborted", "AutoScalingGroupName=asg-1", p)->value == 1);
    d = find(out, "BytesOut", "AutoScalingGroupName=asg-1", p);
    assert_string_equal(d->unit, "Bytes");
    assert_true(d->value == 1800);
    assert_true(find(out, "BytesIn", "AutoScalingGroupName=asg-1", p)->value == 180);

    /* the latency histogram, in milliseconds, with every sample */
    d = find(out, "Latency", "AutoScalingGroupName=asg-1", p);
    assert_int_equal(d->kind, CW_DATUM_PAIRS);
    assert_string_equal(d->unit, "Milliseconds");
    for (i = 0; i < d->npairs; ++i) {
        count += d->counts[i];
    }
    assert_true(count == 18);
    assert_true(d->values[0] == 2000 * 0.001 && d->values[d->npairs - 1] == 8000 * 0.001);

    /* per group, over both virtual hosts */
    assert_true(find(out, "Requests", "AutoScalingGroupName=asg-1,Group=api", p)->value == 9);
    assert_true(find(out, "Requests", "AutoScalingGroupName=asg-1,Group=default", p)->value == 10);
    assert_int_equal(count_named(out, "TimeToFirstByte"), 0);
    assert_int_equal(count_named(out, "WorkerSaturation"), 0);
}

/* Every kind of dimension, and the unknown ones left out. */
static void dimensions(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"VirtualHost Group", "InstanceId Env=prod", "AutoScalingGroupName",
                                 "AutoScalingGroupName Group", "None"};
    cw_datum_conf_t c = {sets_make(p, lines, 5), NULL, "i-0abc", 0, 1};
    apr_array_header_t *groups = groups_make(p), *out;

    group_add(groups, "a", "g1", 1, 100, CW_C2XX);
    group_add(groups, "b", "g1", 2, 100, CW_C2XX);
    group_add(groups, "b", "g2", 4, 100, CW_C2XX);
    out = cw_datum_build(&c, groups, NULL, TS, p);
    assert_true(find(out, "Requests", "VirtualHost=a,Group=g1", p)->value == 1);
    assert_true(find(out, "Requests", "VirtualHost=b,Group=g1", p)->value == 2);
    assert_true(find(out, "Requests", "VirtualHost=b,Group=g2", p)->value == 4);
    assert_true(find(out, "Requests", "InstanceId=i-0abc,Env=prod", p)->value == 7);
    /* no AutoScalingGroupName known: left out, the rest of the set stays */
    assert_true(find(out, "Requests", "Group=g1", p)->value == 3);
    assert_true(find(out, "Requests", "Group=g2", p)->value == 4);
    /* the set of AutoScalingGroupName alone and the set None: no dimensions, each its copy */
    assert_int_equal(count_named(out, "Requests"), 3 + 1 + 1 + 2 + 1);
    assert_int_equal(find(out, "Latency", "VirtualHost=a,Group=g1", p)->storage_resolution, 1);

    /* "" is unknown too (CloudWatchAutoScalingGroup none) */
    c.asg = "";
    c.instance_id = "";
    out = cw_datum_build(&c, groups, NULL, TS, p);
    assert_true(find(out, "Requests", "Env=prod", p)->value == 7);
}

/* Slots of the same names (two claimed at once) are one group. */
static void same_names_add_up(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"VirtualHost Group"};
    cw_datum_conf_t c = {sets_make(p, lines, 1), NULL, NULL, 0, 60};
    apr_array_header_t *groups = groups_make(p), *out;
    const cw_datum_t *d;
    double count = 0;
    int i;

    group_add(groups, "a", "g", 2, 1000, CW_C2XX);
    group_add(groups, "a", "g", 3, 1000, CW_C3XX);
    out = cw_datum_build(&c, groups, NULL, TS, p);
    assert_int_equal(out->nelts, cw_datum_metrics_per_group(0));
    assert_true(find(out, "Requests", "VirtualHost=a,Group=g", p)->value == 5);
    d = find(out, "Latency", "VirtualHost=a,Group=g", p);
    for (i = 0; i < d->npairs; ++i) {
        count += d->counts[i];
    }
    assert_true(count == 5);
}

static void time_to_first_byte(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"Group"};
    cw_datum_conf_t c = {sets_make(p, lines, 1), NULL, NULL, 1, 60};
    apr_array_header_t *groups = groups_make(p), *out;
    cw_slot_snapshot_t *t;
    cw_hist_t h;
    const cw_datum_t *d;

    memset(&h, 0, sizeof(h));
    t = group_add(groups, "a", "measured", 2, 5000, CW_C2XX);
    cw_hist_add(&h, 700);
    cw_hist_add(&h, 900);
    cw_hist_take(&t->ttfb, &h);
    group_add(groups, "a", "none", 1, 5000, CW_C2XX);
    /* requests counted, latency not yet (a take that raced with them): no Latency datum */
    group_add(groups, "a", "raced", 0, 0, CW_C2XX)->classes[CW_C2XX] = 2;
    out = cw_datum_build(&c, groups, NULL, TS, p);
    assert_int_equal(cw_datum_metrics_per_group(1), 10);
    d = find(out, "TimeToFirstByte", "Group=measured", p);
    assert_int_equal(d->kind, CW_DATUM_PAIRS);
    assert_string_equal(d->unit, "Milliseconds");
    assert_true(d->values[0] == 700 * 0.001 && d->values[d->npairs - 1] == 900 * 0.001);
    assert_int_equal(count_named(out, "TimeToFirstByte"), 1);
    assert_int_equal(count_named(out, "Latency"), 2);
    assert_true(find(out, "Requests", "Group=raced", p)->value == 2);
    assert_int_equal(out->nelts, 10 + 9 + 8);
}

/* WorkerSaturation: a statistic set, once per distinct instance-level value of the sets. */
static void saturation(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"AutoScalingGroupName", "AutoScalingGroupName Group",
                                 "InstanceId VirtualHost", "VirtualHost", "Group"};
    cw_datum_conf_t c = {sets_make(p, lines, 5), "asg-1", "i-1", 0, 60};
    cw_datum_stats_t sat;
    apr_array_header_t *out, *bodies;
    const cw_datum_t *d;

    memset(&sat, 0, sizeof(sat));
    cw_datum_stats_add(&sat, 50);
    cw_datum_stats_add(&sat, 12.5);
    cw_datum_stats_add(&sat, 100);
    assert_int_equal(sat.n, 3);
    assert_true(sat.sum == 162.5 && sat.min == 12.5 && sat.max == 100);

    /* no request at all: still the instance's saturation */
    out = cw_datum_build(&c, groups_make(p), &sat, TS, p);
    assert_int_equal(out->nelts, 3);
    d = find(out, "WorkerSaturation", "AutoScalingGroupName=asg-1", p);
    assert_int_equal(d->kind, CW_DATUM_STATS);
    assert_string_equal(d->unit, "Percent");
    assert_true(d->count == 3 && d->sum == 162.5 && d->min == 12.5 && d->max == 100);
    assert_true(d->timestamp == TS);
    find(out, "WorkerSaturation", "InstanceId=i-1", p);
    find(out, "WorkerSaturation", "", p);
    assert_int_equal(
        cw_put_bodies(&bodies, "Lampfarm", (const cw_datum_t *)out->elts, out->nelts, 0, 0, p),
        APR_SUCCESS);
    assert_int_equal(bodies->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 3);
}

/* What one interval can hold stays within PutMetricData's limits once cw_put has made bodies. */
static void limits(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"VirtualHost Group"};
    cw_datum_conf_t c = {sets_make(p, lines, 1), NULL, NULL, 0, 60};
    apr_array_header_t *groups = groups_make(p), *out, *bodies;
    cw_slot_snapshot_t *t;
    cw_hist_t h;
    char *argv[CW_PUT_MAX_DIMENSIONS];
    apr_array_header_t *set, *sets;
    const char *why;
    double x;
    int i, datums = 0, pairs = 0;

    /* 1000 groups (CloudWatchMaxGroups at most): 9000 datums, in requests of at most 1000 */
    for (i = 0; i < 1000; ++i) {
        group_add(groups, "v", apr_psprintf(p, "group-%d", i), 1, 100, CW_C2XX);
    }
    out = cw_datum_build(&c, groups, NULL, TS, p);
    assert_int_equal(out->nelts, 9000);
    assert_int_equal(
        cw_put_bodies(&bodies, "Lampfarm", (const cw_datum_t *)out->elts, out->nelts, 0, 0, p),
        APR_SUCCESS);
    assert_int_equal(bodies->nelts, 9);
    for (i = 0; i < bodies->nelts; ++i) {
        const cw_put_body_t *b = &APR_ARRAY_IDX(bodies, i, cw_put_body_t);

        assert_true(b->datums <= CW_PUT_MAX_DATUMS);
        assert_true(b->len <= CW_PUT_MAX_BYTES);
        datums += b->datums;
    }
    assert_int_equal(datums, 9000);

    /* a latency over many buckets: more pairs than one datum takes, so several datums */
    groups = groups_make(p);
    t = group_add(groups, "v", "wide", 0, 0, CW_C2XX);
    memset(&h, 0, sizeof(h));
    for (x = 1; x < 3e9; x *= 1.01) {
        cw_hist_add(&h, (apr_uint64_t)x);
        t->classes[CW_C2XX]++;
    }
    cw_hist_take(&t->latency, &h);
    out = cw_datum_build(&c, groups, NULL, TS, p);
    pairs = find(out, "Latency", "VirtualHost=v,Group=wide", p)->npairs;
    assert_true(pairs > CW_PUT_MAX_PAIRS);
    assert_int_equal(
        cw_put_bodies(&bodies, "Lampfarm", (const cw_datum_t *)out->elts, out->nelts, 0, 0, p),
        APR_SUCCESS);
    assert_int_equal(bodies->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums,
                     out->nelts - 1 + (pairs + CW_PUT_MAX_PAIRS - 1) / CW_PUT_MAX_PAIRS);

    /* 30 dimensions, the most a set takes: every datum carries them all, and cw_put takes it */
    argv[0] = apr_pstrdup(p, "AutoScalingGroupName");
    argv[1] = apr_pstrdup(p, "InstanceId");
    argv[2] = apr_pstrdup(p, "VirtualHost");
    argv[3] = apr_pstrdup(p, "Group");
    for (i = 4; i < CW_PUT_MAX_DIMENSIONS; ++i) {
        argv[i] = apr_psprintf(p, "D%d=%d", i, i);
    }
    assert_int_equal(cw_dims_parse(&set, &why, CW_PUT_MAX_DIMENSIONS, argv, p), APR_SUCCESS);
    sets = apr_array_make(p, 1, sizeof(apr_array_header_t *));
    APR_ARRAY_PUSH(sets, apr_array_header_t *) = set;
    c.sets = sets;
    c.asg = "asg-1";
    c.instance_id = "i-1";
    out = cw_datum_build(&c, groups, NULL, TS, p);
    for (i = 0; i < out->nelts; ++i) {
        assert_int_equal(APR_ARRAY_IDX(out, i, cw_datum_t).ndims, CW_PUT_MAX_DIMENSIONS);
    }
    assert_int_equal(
        cw_put_bodies(&bodies, "Lampfarm", (const cw_datum_t *)out->elts, out->nelts, 0, 0, p),
        APR_SUCCESS);
}

static void estimate(void **state)
{
    apr_pool_t *p = *state;
    const char *const lines[] = {"VirtualHost", "VirtualHost Group"};
    apr_int64_t metrics, requests;

    /* the defaults: the fleet (1 value) and the fleet per group (20 groups and "other") */
    cw_datum_estimate(&metrics, &requests, cw_dims_default(p), 1, 20, 0, apr_time_from_sec(60));
    assert_int_equal(metrics, 9 + 21 * 9);
    assert_int_equal(requests, 30 * 24 * 60); /* 220 datums: one request a minute */
    /* 3 virtual hosts: 4 values; with groups, at most max_groups + 1 slots */
    cw_datum_estimate(&metrics, &requests, sets_make(p, lines, 2), 3, 100, 1,
                      apr_time_from_sec(10));
    assert_int_equal(metrics, 4 * 10 + 101 * 10);
    assert_int_equal(requests, 30 * 24 * 360 * 2); /* 1050 + 105 * 2 datums: two requests */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(dims_parse),         UNIT_TEST(dims_default), UNIT_TEST(empty),
        UNIT_TEST(default_sets),       UNIT_TEST(dimensions),   UNIT_TEST(same_names_add_up),
        UNIT_TEST(time_to_first_byte), UNIT_TEST(saturation),   UNIT_TEST(limits),
        UNIT_TEST(estimate),
    };
    return UNIT_RUN("cw_datum", tests);
}
