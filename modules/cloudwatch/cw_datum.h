/* cw_datum — one interval of mod_cloudwatch as CloudWatch datums.
 *
 * The group slots emptied at the end of an interval (cw_shm_take()) are added up per value of
 * each dimension set (all slots of one virtual host, say, for the set VirtualHost), and every
 * sum becomes the metrics of a group: Latency and TimeToFirstByte as histograms (Values/Counts,
 * milliseconds), Requests, Responses2xx..5xx, Aborted (Count), BytesIn, BytesOut (Bytes).
 * WorkerSaturation, the instance's and not a group's, is a statistic set once per distinct
 * instance-level value of the sets. A dimension whose value is unknown (no AutoScalingGroupName
 * from the instance metadata, say) is left out. cw_put turns the datums into request bodies
 * within PutMetricData's limits.
 * Pure core: APR.
 */
#ifndef CW_DATUM_H
#define CW_DATUM_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "cw_dims.h"
#include "cw_put.h"
#include "cw_shm.h"

/** Samples of one figure over an interval (min and max are set once n > 0). */
typedef struct cw_datum_stats_t {
    apr_uint64_t n;
    double sum, min, max;
} cw_datum_stats_t;

/** What the datums of an interval are made with. */
typedef struct cw_datum_conf_t {
    const apr_array_header_t *sets; /* dimension sets: apr_array_header_t * of cw_dim_t */
    const char *asg;                /* AutoScalingGroupName; NULL or "": unknown, left out */
    const char *instance_id;        /* InstanceId; NULL or "": unknown, left out */
    int ttfb;                       /* publish TimeToFirstByte too */
    int resolution;                 /* storage resolution: 1 or 60 */
} cw_datum_conf_t;

/** Add sample @p v to @p s. */
void cw_datum_stats_add(cw_datum_stats_t *s, double v);

/**
 * The datums of one interval.
 * @param groups cw_slot_snapshot_t, as cw_shm_take() returns them (slots of the same names are
 *        added up)
 * @param saturation worker saturation samples in percent; NULL or none: no WorkerSaturation
 * @param ts the timestamp of every datum (the end of the interval)
 * @return cw_datum_t, allocated from @p p (strings and arrays borrowed from @p c, @p groups or
 *         @p p); empty when nothing was measured
 */
apr_array_header_t *cw_datum_build(const cw_datum_conf_t *c, const apr_array_header_t *groups,
                                   const cw_datum_stats_t *saturation, apr_time_t ts,
                                   apr_pool_t *p);

/** Metrics per group and dimension-set value: Latency, Requests, the status classes, BytesIn,
 * BytesOut, and TimeToFirstByte when @p ttfb. */
int cw_datum_metrics_per_group(int ttfb);

/**
 * What a configuration can cost at most: custom metrics, and PutMetricData requests in 30 days.
 * @param metrics out: custom metrics
 * @param requests out: PutMetricData requests in 30 days
 * @param sets the dimension sets in force
 * @param vhosts virtual hosts of the server (the main server included)
 * @param interval microseconds, at least a second
 */
void cw_datum_estimate(apr_int64_t *metrics, apr_int64_t *requests, const apr_array_header_t *sets,
                       int vhosts, int max_groups, int ttfb, apr_interval_time_t interval);

#endif /* CW_DATUM_H */
