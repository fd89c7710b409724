/* cw_dims — the dimension sets of mod_cloudwatch: what a CloudWatchDimensions line names, and
 * the sets in force when none is configured.
 *
 * A dimension set is the list of dimensions one copy of every metric is published with; each
 * dimension is one of the instance's (AutoScalingGroupName, InstanceId), one of the request's
 * group slot (VirtualHost, Group), or a fixed Name=Value. cw_datum turns the sets into datums.
 * Pure core: APR.
 */
#ifndef CW_DIMS_H
#define CW_DIMS_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef enum {
    CW_DIM_ASG = 0,  /* AutoScalingGroupName */
    CW_DIM_INSTANCE, /* InstanceId */
    CW_DIM_VHOST,    /* VirtualHost */
    CW_DIM_GROUP,    /* Group */
    CW_DIM_STATIC,   /* Name=Value from the configuration */
} cw_dim_kind_e;

/** One dimension of a set. */
typedef struct cw_dim_t {
    cw_dim_kind_e kind;
    const char *name;
    const char *value; /* CW_DIM_STATIC only */
} cw_dim_t;

/**
 * Parse one dimension set: each of @p argv is AutoScalingGroupName, InstanceId, VirtualHost or
 * Group (any case), or Name=Value; the single word None is the set without dimensions. At most
 * CW_PUT_MAX_DIMENSIONS dimensions, each name once, names and values as CloudWatch takes them.
 * @param set out: cw_dim_t, allocated from @p p; the strings of a Name=Value point into @p argv,
 *        which must live as long
 * @param why out on error: what is wrong, allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t cw_dims_parse(apr_array_header_t **set, const char **why, int argc, char *const *argv,
                           apr_pool_t *p);

/**
 * The sets in force when none is configured: the fleet (AutoScalingGroupName), which scaling
 * policies and alarms watch, and the fleet per group (AutoScalingGroupName Group).
 * @return apr_array_header_t * of cw_dim_t, allocated from @p p
 */
const apr_array_header_t *cw_dims_default(apr_pool_t *p);

/** Whether a dimension of @p kind is in any of @p sets (apr_array_header_t * of cw_dim_t). */
int cw_dims_use(const apr_array_header_t *sets, cw_dim_kind_e kind);

#endif /* CW_DIMS_H */
