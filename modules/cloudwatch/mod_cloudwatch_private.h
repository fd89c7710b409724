/* mod_cloudwatch_private.h — what the glue files of mod_cloudwatch share: the configuration,
 * the shared-memory layout the requests write and the publisher reads, and the publisher's
 * entry point (mod_cloudwatch_publish.c).
 */
#ifndef MOD_CLOUDWATCH_PRIVATE_H
#define MOD_CLOUDWATCH_PRIVATE_H

#include <apr_tables.h>
#include <httpd.h>

#include "aws_creds.h"
#include "cw_hist.h"

#define CW_ENABLE        "CloudWatch"
#define CW_GROUP         "CloudWatchGroup"
#define CW_NAMESPACE     "CloudWatchNamespace"
#define CW_REGION        "CloudWatchRegion"
#define CW_ENDPOINT      "CloudWatchEndpoint"
#define CW_CREDENTIALS   "CloudWatchCredentials"
#define CW_CA_FILE       "CloudWatchCAFile"
#define CW_INTERVAL      "CloudWatchInterval"
#define CW_RESOLUTION    "CloudWatchStorageResolution"
#define CW_DIMENSIONS    "CloudWatchDimensions"
#define CW_ASG           "CloudWatchAutoScalingGroup"
#define CW_INSTANCE_ID   "CloudWatchInstanceId"
#define CW_MAX_GROUPS    "CloudWatchMaxGroups"
#define CW_BACKLOG       "CloudWatchBacklog"
#define CW_TTFB          "CloudWatchTimeToFirstByte"
#define CW_TIMEOUT       "CloudWatchTimeout"
#define CW_ATTEMPTS      "CloudWatchAttempts"
#define CW_IMDS_ENDPOINT "CloudWatchIMDSEndpoint"

/* The request note and environment variable by which the application names a request's group. */
#define CW_GROUP_NOTE "cloudwatch-group"
#define CW_GROUP_ENV  "CLOUDWATCH_GROUP"
/* The group of the requests of a server that no CloudWatchGroup or application names. */
#define CW_GROUP_DEFAULT "default"
/* Where requests go once CloudWatchMaxGroups groups are in use: group and virtual host. */
#define CW_GROUP_OTHER "other"

/* Longest virtual host or group name kept (longer ones are cut). */
#define CW_NAME_MAX 64

/* --- configuration ---------------------------------------------------------------------------- */

typedef enum {
    CW_DIM_ASG = 0,  /* AutoScalingGroupName */
    CW_DIM_INSTANCE, /* InstanceId */
    CW_DIM_VHOST,    /* VirtualHost */
    CW_DIM_GROUP,    /* Group */
    CW_DIM_STATIC,   /* Name=Value from the configuration */
} cw_dim_kind_e;

typedef struct cw_dim_spec {
    cw_dim_kind_e kind;
    const char *name;
    const char *value; /* CW_DIM_STATIC only */
} cw_dim_spec;

/** Publishing settings: main server only (one publisher per httpd). */
typedef struct cw_srv_conf {
    const char *ns;
    const char *region;
    const char *endpoint;   /* NULL: https://monitoring.<region>.amazonaws.com */
    const char *creds_kind; /* "default", "keyfile", "profile" */
    const char *creds_arg;
    const char *ca_file;
    apr_interval_time_t interval; /* microseconds */
    int resolution;               /* 1 or 60 */
    apr_array_header_t *dim_sets; /* apr_array_header_t * of cw_dim_spec; NULL: defaults */
    const char *asg;              /* NULL: from IMDS; "" (none): left out */
    const char *instance_id;      /* NULL: from IMDS */
    const char *imds_endpoint;    /* NULL: the AWS default */
    int max_groups;
    int backlog;                 /* intervals */
    apr_interval_time_t timeout; /* per PutMetricData attempt */
    int attempts;                /* per PutMetricData request */
    int ttfb;                    /* measure the time to first byte too */
} cw_srv_conf;

/** @p s's publishing settings with the defaults applied (the main server's matter). */
const cw_srv_conf *cw_srv_settings(server_rec *s, apr_pool_t *p);

/* --- shared memory: written by every request, read and emptied by the publisher --------------- */

/* Status classes of responses. 1xx (a final 101 of an upgrade) is counted with 2xx. */
enum { CW_C2XX = 0, CW_C3XX, CW_C4XX, CW_C5XX, CW_CABORTED, CW_CLASSES };

/** One group: a virtual host and a route group. */
typedef struct cw_slot {
    apr_uint32_t state; /* 0 free, 1 being claimed, 2 in use: then the names are set */
    char vhost[CW_NAME_MAX];
    char group[CW_NAME_MAX];
    cw_hist_t latency; /* microseconds, request received -> logged */
    cw_hist_t ttfb;    /* microseconds, request received -> first byte of the response */
    apr_uint64_t classes[CW_CLASSES];
    apr_uint64_t bytes_in, bytes_out;
    /* the last interval published, for the status page (written by the publisher only) */
    apr_uint64_t last_count, last_p50, last_p90, last_p99, last_max, last_5xx;
} cw_slot;

/** The publisher's figures, for the status page. */
typedef struct cw_pub_status {
    apr_int64_t last_attempt;  /* apr_time_t of the last PutMetricData sent; 0: none yet */
    apr_int64_t last_success;  /* apr_time_t of the last one accepted */
    apr_int64_t last_interval; /* apr_time_t: end of the last interval published */
    apr_uint64_t intervals;    /* measured */
    apr_uint64_t requests_ok;  /* PutMetricData accepted */
    apr_uint64_t requests_failed;
    apr_uint64_t datums;     /* accepted by CloudWatch */
    apr_uint64_t rejected;   /* bodies CloudWatch refused for good (4xx), dropped */
    apr_uint64_t dropped;    /* intervals dropped because the backlog was full */
    apr_uint64_t backlog;    /* intervals waiting */
    apr_uint64_t bytes_sent; /* request bodies, as sent (compressed or not) */
    apr_uint64_t handovers;  /* times a stopping publisher saved its backlog for the next */
    apr_int32_t last_status; /* HTTP status of the last attempt; 0: no answer */
    char last_error[200];    /* why the last attempt failed; "" after a success */
} cw_pub_status;

typedef struct cw_shared {
    apr_uint32_t nslots; /* group slots; one more, the last, is "other" */
    apr_uint32_t pad;
    cw_pub_status pub;
    cw_slot slots[1]; /* nslots + 1 */
} cw_shared;

/** The shared memory (set in post_config, inherited by the children). */
extern cw_shared *cw_shm;

/** The group slot of @p vhost / @p group: found, claimed, or "other" when all are in use. */
cw_slot *cw_slot_get(cw_shared *sh, const char *vhost, const char *group);

/**
 * Make the publisher (post_config): a singleton thread of the lifecycle kit that measures
 * intervals and sends them.
 * @param s the main server (its cw_srv_conf is the publisher's)
 */
apr_status_t cw_publisher_create(server_rec *s, const cw_srv_conf *conf, apr_pool_t *pconf);

/** Where a stopping publisher leaves the backlog for the next one (DefaultRuntimeDir). */
#define CW_HANDOVER_DIR "lampfarm-cloudwatch"

/** Start the publisher's thread in a child (child_init); it stops when @p pchild goes. */
void cw_publisher_child_init(apr_pool_t *pchild);

/**
 * The credentials provider of @p c's CloudWatchCredentials (and CloudWatchIMDSEndpoint).
 * @param out allocated from @p p
 * @param why out on error: what is wrong, from @p p
 */
apr_status_t cw_creds_create(aws_creds_provider_t **out, const char **why, const cw_srv_conf *c,
                             apr_pool_t *p);

/** The dimension sets in force: @p conf's, or the default ones (allocated from @p p). */
const apr_array_header_t *cw_dim_sets(const cw_srv_conf *conf, apr_pool_t *p);

/** Metric names per group and dimension-set value (for the cost estimate). */
int cw_metrics_per_group(int ttfb);

#endif /* MOD_CLOUDWATCH_PRIVATE_H */
