/* cw_datum — one interval of mod_cloudwatch as CloudWatch datums (see cw_datum.h). */
#include <apr_hash.h>
#include <apr_strings.h>

#include "cw_datum.h"

/* Metrics of a group: Latency, Requests, Responses2xx..5xx, Aborted, BytesIn, BytesOut
 * (+ TimeToFirstByte). */
static const char *const class_names[CW_CLASSES] = {"Responses2xx", "Responses3xx", "Responses4xx",
                                                    "Responses5xx", "Aborted"};

/* The sum over the groups that share one value of a dimension set. */
typedef struct cw_agg {
    const cw_dimension_t *dims;
    int ndims;
    cw_slot_snapshot_t t;
} cw_agg;

void cw_datum_stats_add(cw_datum_stats_t *s, double v)
{
    s->sum += v;
    s->min = s->n && s->min < v ? s->min : v;
    s->max = s->n && s->max > v ? s->max : v;
    s->n++;
}

int cw_datum_metrics_per_group(int ttfb)
{
    return 4 + CW_CLASSES + (ttfb ? 1 : 0);
}

/* The value of dimension @p d for group @p t; NULL: left out (unknown). */
static const char *dim_value(const cw_datum_conf_t *c, const cw_dim_t *d,
                             const cw_slot_snapshot_t *t)
{
    switch (d->kind) {
    case CW_DIM_ASG:
        return c->asg && *c->asg ? c->asg : NULL;
    case CW_DIM_INSTANCE:
        return c->instance_id && *c->instance_id ? c->instance_id : NULL;
    case CW_DIM_VHOST:
        return t ? t->vhost : NULL;
    case CW_DIM_GROUP:
        return t ? t->group : NULL;
    case CW_DIM_STATIC:
        return d->value;
    }
    return NULL;
}

/* The dimensions of @p set for group @p t (NULL: the instance-level ones only) and their key. */
static const char *dims_of(cw_dimension_t **dims, int *ndims, const cw_datum_conf_t *c,
                           const apr_array_header_t *set, const cw_slot_snapshot_t *t,
                           apr_pool_t *p)
{
    const char *key = "";
    int k;

    *dims = apr_pcalloc(p, sizeof(cw_dimension_t) * (apr_size_t)(set->nelts + 1));
    *ndims = 0;
    for (k = 0; k < set->nelts; ++k) {
        const cw_dim_t *d = &APR_ARRAY_IDX(set, k, cw_dim_t);
        const char *v;

        if (!t && (d->kind == CW_DIM_VHOST || d->kind == CW_DIM_GROUP)) {
            continue;
        }
        if (!(v = dim_value(c, d, t))) {
            continue;
        }
        (*dims)[*ndims].name = d->name;
        (*dims)[(*ndims)++].value = v;
        key = apr_pstrcat(p, key, d->name, "\x01", v, "\x02", NULL);
    }
    return key;
}

static void agg_add(cw_slot_snapshot_t *into, const cw_slot_snapshot_t *t)
{
    int cl;

    cw_hist_merge(&into->latency, &t->latency);
    cw_hist_merge(&into->ttfb, &t->ttfb);
    for (cl = 0; cl < CW_CLASSES; ++cl) {
        into->classes[cl] += t->classes[cl];
    }
    into->bytes_in += t->bytes_in;
    into->bytes_out += t->bytes_out;
}

static cw_datum_t *datum(apr_array_header_t *out, const cw_dimension_t *dims, int ndims,
                         const char *name, const char *unit, apr_time_t ts, int resolution)
{
    cw_datum_t *d = apr_array_push(out);

    memset(d, 0, sizeof(*d));
    d->name = name;
    d->unit = unit;
    d->dimensions = dims;
    d->ndims = ndims;
    d->timestamp = ts;
    d->storage_resolution = resolution;
    return d;
}

static void hist_datum(apr_array_header_t *out, const cw_agg *a, const char *name,
                       const cw_hist_snapshot_t *h, apr_time_t ts, int resolution, apr_pool_t *p)
{
    cw_datum_t *d;
    double *values, *counts;
    int n;

    if (!h->count) {
        return;
    }
    /* microseconds measured, milliseconds published: what alarms and dashboards read */
    n = cw_hist_pairs(&values, &counts, h, 0.001, p);
    d = datum(out, a->dims, a->ndims, name, "Milliseconds", ts, resolution);
    d->kind = CW_DATUM_PAIRS;
    d->values = values;
    d->counts = counts;
    d->npairs = n;
}

static void value_datum(apr_array_header_t *out, const cw_agg *a, const char *name,
                        const char *unit, double v, apr_time_t ts, int resolution)
{
    cw_datum_t *d = datum(out, a->dims, a->ndims, name, unit, ts, resolution);

    d->kind = CW_DATUM_VALUE;
    d->value = v;
}

/* The metrics of the groups of @p groups, added up per value of dimension set @p set. */
static void set_datums(apr_array_header_t *out, const cw_datum_conf_t *c,
                       const apr_array_header_t *set, const apr_array_header_t *groups,
                       apr_time_t ts, apr_pool_t *p)
{
    apr_hash_t *index = apr_hash_make(p);
    /* in the order the values first appear: the same input gives the same bodies */
    apr_array_header_t *aggs = apr_array_make(p, 8, sizeof(cw_agg *));
    cw_dimension_t *dims;
    const char *key;
    cw_agg *a;
    int k, cl, nd;

    for (k = 0; k < groups->nelts; ++k) {
        const cw_slot_snapshot_t *t = &APR_ARRAY_IDX(groups, k, cw_slot_snapshot_t);

        key = dims_of(&dims, &nd, c, set, t, p);
        if (!(a = apr_hash_get(index, key, APR_HASH_KEY_STRING))) {
            a = apr_pcalloc(p, sizeof(*a));
            a->dims = dims;
            a->ndims = nd;
            apr_hash_set(index, key, APR_HASH_KEY_STRING, a);
            APR_ARRAY_PUSH(aggs, cw_agg *) = a;
        }
        agg_add(&a->t, t);
    }
    for (k = 0; k < aggs->nelts; ++k) {
        apr_uint64_t requests = 0;

        a = APR_ARRAY_IDX(aggs, k, cw_agg *);
        for (cl = 0; cl < CW_CLASSES; ++cl) {
            requests += a->t.classes[cl];
        }
        hist_datum(out, a, "Latency", &a->t.latency, ts, c->resolution, p);
        if (c->ttfb) {
            hist_datum(out, a, "TimeToFirstByte", &a->t.ttfb, ts, c->resolution, p);
        }
        value_datum(out, a, "Requests", "Count", (double)requests, ts, c->resolution);
        for (cl = 0; cl < CW_CLASSES; ++cl) {
            value_datum(out, a, class_names[cl], "Count", (double)a->t.classes[cl], ts,
                        c->resolution);
        }
        value_datum(out, a, "BytesIn", "Bytes", (double)a->t.bytes_in, ts, c->resolution);
        value_datum(out, a, "BytesOut", "Bytes", (double)a->t.bytes_out, ts, c->resolution);
    }
}

apr_array_header_t *cw_datum_build(const cw_datum_conf_t *c, const apr_array_header_t *groups,
                                   const cw_datum_stats_t *saturation, apr_time_t ts, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(cw_datum_t));
    apr_hash_t *seen;
    int s;

    for (s = 0; s < c->sets->nelts; ++s) {
        set_datums(out, c, APR_ARRAY_IDX(c->sets, s, const apr_array_header_t *), groups, ts, p);
    }
    if (!saturation || !saturation->n) {
        return out;
    }
    /* Worker saturation is the instance's, not a group's: once per distinct instance-level
     * dimension value of the sets. */
    seen = apr_hash_make(p);
    for (s = 0; s < c->sets->nelts; ++s) {
        const apr_array_header_t *set = APR_ARRAY_IDX(c->sets, s, const apr_array_header_t *);
        cw_dimension_t *dims;
        cw_datum_t *d;
        int nd;
        const char *key = dims_of(&dims, &nd, c, set, NULL, p);

        if (apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, key);
        d = datum(out, dims, nd, "WorkerSaturation", "Percent", ts, c->resolution);
        d->kind = CW_DATUM_STATS;
        d->count = (double)saturation->n;
        d->sum = saturation->sum;
        d->min = saturation->min;
        d->max = saturation->max;
    }
    return out;
}

void cw_datum_estimate(apr_int64_t *metrics, apr_int64_t *requests, const apr_array_header_t *sets,
                       int vhosts, int max_groups, int ttfb, apr_interval_time_t interval)
{
    int per_group = cw_datum_metrics_per_group(ttfb), i, k;
    apr_int64_t datums, intervals;

    *metrics = 0;
    for (i = 0; i < sets->nelts; ++i) {
        const apr_array_header_t *set = APR_ARRAY_IDX(sets, i, const apr_array_header_t *);
        apr_int64_t values = 1;

        for (k = 0; k < set->nelts; ++k) {
            cw_dim_kind_e kind = APR_ARRAY_IDX(set, k, cw_dim_t).kind;

            if (kind == CW_DIM_VHOST) {
                values *= vhosts + 1;
            }
            else if (kind == CW_DIM_GROUP) {
                values *= max_groups + 1;
            }
        }
        *metrics += (values > max_groups + 1 ? max_groups + 1 : values) * per_group;
    }
    /* a histogram of more than 150 buckets takes a second datum: count two for latencies */
    datums = *metrics + *metrics / per_group * (ttfb ? 2 : 1);
    intervals = (30 * 24 * 3600) / (interval / APR_USEC_PER_SEC);
    *requests = intervals * ((datums + CW_PUT_MAX_DATUMS - 1) / CW_PUT_MAX_DATUMS);
}
