/* mod_cloudwatch — request latency, status and bytes to Amazon CloudWatch, off the request path.
 *
 * Every request is measured in log_transaction and counted into shared memory with atomic
 * updates (cw_hist: a histogram per group, no lock, no system call); one background thread per
 * httpd (a singleton thread of the lifecycle kit, mod_cloudwatch_publish.c) empties that
 * memory every interval and sends it with PutMetricData. A request never waits for CloudWatch.
 *
 * This file: configuration, the shared memory and its group slots, the recording hooks and the
 * status views (server-status and the cloudwatch-status handler).
 */
#include <httpd.h>

#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "aws_creds.h"
#include "cw_put.h"
#include "lf_json.h"
#include "lf_log.h"
#include "lf_parse.h"
#include "mod_cloudwatch_private.h"

APLOG_USE_MODULE(cloudwatch);
#include "mod_lf_config.h"
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define CW_SHM_KEY "lampfarm:cloudwatch"

cw_shared *cw_shm;

/* Whether "CloudWatch On" appears anywhere in the configuration being read (set while reading
 * it, in the one thread that does): otherwise no shared memory and no publisher. */
static int configured;
/* CloudWatchTimeToFirstByte of the configuration in force (set in post_config). */
static int ttfb_enabled;

/* --- configuration ------------------------------------------------------------------------- */

typedef struct cw_dir_conf {
    int enabled;       /* CloudWatch On|Off; LF_UNSET */
    const char *group; /* CloudWatchGroup; NULL: unset */
} cw_dir_conf;

static const cw_srv_conf srv_defaults = {
    "Lampfarm",            /* ns */
    NULL,                  /* region: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
    NULL,                  /* endpoint: https://monitoring.<region>.amazonaws.com */
    "default",             /* creds_kind: config, environment, profile, ECS, instance role */
    NULL,                  /* creds_arg */
    NULL,                  /* ca_file: the system's */
    60 * APR_USEC_PER_SEC, /* interval: CloudWatch's standard resolution */
    60,                    /* resolution: standard (high resolution costs more) */
    NULL,                  /* dim_sets: see cw_dim_sets() */
    NULL,                  /* asg: from IMDS (the instance's aws:autoscaling:groupName tag) */
    NULL,                  /* instance_id: from IMDS */
    NULL,                  /* imds_endpoint: the SDKs' default */
    20,                    /* max_groups: each group is ~10 billed metrics per dimension set */
    15,                    /* backlog: 15 intervals (15 min) of a CloudWatch outage are kept */
    5 * APR_USEC_PER_SEC,  /* timeout: per attempt */
    3,                     /* attempts: with backoff and jitter */
    0,                     /* ttfb: off */
};

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    cw_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = LF_UNSET;
    return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    cw_dir_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->enabled = LF_MERGE(add, base, enabled, LF_UNSET);
    n->group = LF_MERGE(add, base, group, NULL);
    return n;
}

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    cw_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->interval = LF_UNSET;
    c->resolution = LF_UNSET;
    c->max_groups = LF_UNSET;
    c->backlog = LF_UNSET;
    c->timeout = LF_UNSET;
    c->attempts = LF_UNSET;
    c->ttfb = LF_UNSET;
    return c;
}

const cw_srv_conf *cw_srv_settings(server_rec *s, apr_pool_t *p)
{
    const cw_srv_conf *c = ap_get_module_config(s->module_config, &cloudwatch_module);
    cw_srv_conf *n = apr_pcalloc(p, sizeof(*n));
    const char *env;

    n->ns = c->ns ? c->ns : srv_defaults.ns;
    n->region = c->region;
    if (!n->region) {
        env = getenv("AWS_REGION");
        if (!env || !*env) {
            env = getenv("AWS_DEFAULT_REGION");
        }
        n->region = env && *env ? env : "us-east-1";
    }
    n->endpoint = c->endpoint
                      ? c->endpoint
                      : apr_pstrcat(p, "https://monitoring.", n->region, ".amazonaws.com", NULL);
    n->creds_kind = c->creds_kind ? c->creds_kind : srv_defaults.creds_kind;
    n->creds_arg = c->creds_arg;
    n->ca_file = c->ca_file;
    n->interval = LF_DEFAULT(c, srv_defaults, interval, LF_UNSET);
    n->resolution = LF_DEFAULT(c, srv_defaults, resolution, LF_UNSET);
    n->dim_sets = c->dim_sets;
    n->asg = c->asg;
    n->instance_id = c->instance_id;
    n->imds_endpoint = c->imds_endpoint;
    n->max_groups = LF_DEFAULT(c, srv_defaults, max_groups, LF_UNSET);
    n->backlog = LF_DEFAULT(c, srv_defaults, backlog, LF_UNSET);
    n->timeout = LF_DEFAULT(c, srv_defaults, timeout, LF_UNSET);
    n->attempts = LF_DEFAULT(c, srv_defaults, attempts, LF_UNSET);
    n->ttfb = LF_DEFAULT(c, srv_defaults, ttfb, LF_UNSET);
    return n;
}

static cw_srv_conf *srv_of(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &cloudwatch_module);
}

/* Publishing settings belong to the main server: there is one publisher per httpd. */
static const char *global_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static const char *set_enable(cmd_parms *cmd, void *dc, int on)
{
    (void)cmd;
    ((cw_dir_conf *)dc)->enabled = on;
    configured |= on;
    return NULL;
}

static const char *set_group(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = cw_put_check_name(arg, "group name", cmd->pool);

    if (err || strlen(arg) >= CW_NAME_MAX) {
        return apr_psprintf(cmd->pool, "%s: %s", CW_GROUP,
                            err ? err : "a group name has at most 63 characters");
    }
    ((cw_dir_conf *)dc)->group = arg;
    return NULL;
}

static const char *set_string(cmd_parms *cmd, void *dc, const char *arg)
{
    cw_srv_conf *c = srv_of(cmd);
    const char *name = cmd->cmd->name, *err;

    (void)dc;
    if ((err = global_only(cmd))) {
        return err;
    }
    if (!strcmp(name, CW_NAMESPACE)) {
        c->ns = arg;
    }
    else if (!strcmp(name, CW_REGION)) {
        if (!*arg || strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(arg)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a region name", name, arg);
        }
        c->region = arg;
    }
    else if (!strcmp(name, CW_ENDPOINT) || !strcmp(name, CW_IMDS_ENDPOINT)) {
        if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not an http:// or https:// URL", name, arg);
        }
        if (!strcmp(name, CW_ENDPOINT)) {
            c->endpoint = arg;
        }
        else {
            c->imds_endpoint = arg;
        }
    }
    else if (!strcmp(name, CW_CA_FILE)) {
        c->ca_file = ap_server_root_relative(cmd->pool, arg);
    }
    else if (!strcmp(name, CW_ASG) || !strcmp(name, CW_INSTANCE_ID)) {
        const char *v = strcasecmp(arg, "none") ? arg : "";

        if (*v && (err = cw_put_check_name(v, "dimension value", cmd->pool))) {
            return apr_psprintf(cmd->pool, "%s: %s", name, err);
        }
        if (!strcmp(name, CW_ASG)) {
            c->asg = v;
        }
        else {
            c->instance_id = v;
        }
    }
    return NULL;
}

static const char *set_credentials(cmd_parms *cmd, void *dc, const char *kind, const char *arg)
{
    cw_srv_conf *c = srv_of(cmd);
    const char *err;

    (void)dc;
    if ((err = global_only(cmd))) {
        return err;
    }
    if (!(c->creds_kind = aws_creds_source_parse(kind, arg))) {
        return CW_CREDENTIALS ": " AWS_CREDS_SOURCE_SYNTAX;
    }
    c->creds_arg =
        !strcmp(c->creds_kind, "keyfile") ? ap_server_root_relative(cmd->pool, arg) : arg;
    return NULL;
}

static const char *set_duration(cmd_parms *cmd, void *dc, const char *arg)
{
    cw_srv_conf *c = srv_of(cmd);
    const char *name = cmd->cmd->name, *err;
    apr_interval_time_t t;

    (void)dc;
    if ((err = global_only(cmd))) {
        return err;
    }
    if (!strcmp(name, CW_INTERVAL)) {
        /* seconds unless a unit is given; 1 s (tests, high resolution) to 1 hour */
        if (lf_parse_duration(&t, arg, "s") != APR_SUCCESS || t < APR_USEC_PER_SEC
            || t > 3600 * APR_USEC_PER_SEC || t % APR_USEC_PER_SEC) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a whole number of seconds from 1s to "
                                "1h",
                                name, arg);
        }
        c->interval = t;
    }
    else {
        if (lf_parse_duration(&t, arg, "s") != APR_SUCCESS || t < 100 * 1000
            || t > 60 * APR_USEC_PER_SEC) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a duration from 100ms to 60s", name,
                                arg);
        }
        c->timeout = t;
    }
    return NULL;
}

static const char *set_int(cmd_parms *cmd, void *dc, const char *arg)
{
    cw_srv_conf *c = srv_of(cmd);
    const char *name = cmd->cmd->name, *err;
    int n;

    (void)dc;
    if ((err = global_only(cmd))) {
        return err;
    }
    if (!strcmp(name, CW_RESOLUTION)) {
        if (strcmp(arg, "1") && strcmp(arg, "60")) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is neither 60 (standard) nor 1 (high "
                                "resolution)",
                                name, arg);
        }
        c->resolution = atoi(arg);
    }
    else if (!strcmp(name, CW_MAX_GROUPS)) {
        if (lf_parse_int(&n, arg, 1, 1000) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to 1000", name, arg);
        }
        c->max_groups = n;
    }
    else if (!strcmp(name, CW_BACKLOG)) {
        if (lf_parse_int(&n, arg, 1, 1440) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a number of intervals from 1 to 1440",
                                name, arg);
        }
        c->backlog = n;
    }
    else if (!strcmp(name, CW_ATTEMPTS)) {
        if (lf_parse_int(&n, arg, 1, 10) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to 10", name, arg);
        }
        c->attempts = n;
    }
    return NULL;
}

static const char *set_ttfb(cmd_parms *cmd, void *dc, int on)
{
    const char *err;

    (void)dc;
    if ((err = global_only(cmd))) {
        return err;
    }
    srv_of(cmd)->ttfb = on;
    return NULL;
}

/* One dimension set: AutoScalingGroupName, InstanceId, VirtualHost, Group or Name=Value. */
static const char *add_dim_set(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    cw_srv_conf *c = srv_of(cmd);
    static const struct {
        const char *name;
        cw_dim_kind_e kind;
    } known[] = {{"AutoScalingGroupName", CW_DIM_ASG},
                 {"InstanceId", CW_DIM_INSTANCE},
                 {"VirtualHost", CW_DIM_VHOST},
                 {"Group", CW_DIM_GROUP}};
    apr_array_header_t *set;
    const char *err;
    int i, k;

    (void)dc;
    if ((err = global_only(cmd))) {
        return err;
    }
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: needs at least one dimension (or None)", CW_DIMENSIONS);
    }
    if (argc > CW_PUT_MAX_DIMENSIONS) {
        return apr_psprintf(cmd->pool, "%s: %d dimensions; CloudWatch takes at most %d per metric",
                            CW_DIMENSIONS, argc, CW_PUT_MAX_DIMENSIONS);
    }
    if (!c->dim_sets) {
        c->dim_sets = apr_array_make(cmd->pool, 2, sizeof(apr_array_header_t *));
    }
    set = apr_array_make(cmd->pool, argc, sizeof(cw_dim_spec));
    if (argc == 1 && !strcasecmp(argv[0], "None")) {
        APR_ARRAY_PUSH(c->dim_sets, apr_array_header_t *) = set; /* no dimensions at all */
        return NULL;
    }
    for (i = 0; i < argc; ++i) {
        cw_dim_spec *d = apr_array_push(set);
        const char *eq = strchr(argv[i], '=');

        if (eq) {
            d->kind = CW_DIM_STATIC;
            d->name = apr_pstrmemdup(cmd->pool, argv[i], (apr_size_t)(eq - argv[i]));
            d->value = eq + 1;
            if ((err = cw_put_check_name(d->value, "dimension value", cmd->pool))) {
                return apr_psprintf(cmd->pool, "%s: %s", CW_DIMENSIONS, err);
            }
        }
        else {
            for (k = 0; k < (int)(sizeof(known) / sizeof(known[0])); ++k) {
                if (!strcasecmp(argv[i], known[k].name)) {
                    break;
                }
            }
            if (k == (int)(sizeof(known) / sizeof(known[0]))) {
                return apr_psprintf(cmd->pool,
                                    "%s: unknown dimension '%s' (AutoScalingGroupName, "
                                    "InstanceId, VirtualHost, Group, or Name=Value)",
                                    CW_DIMENSIONS, argv[i]);
            }
            d->kind = known[k].kind;
            d->name = known[k].name;
        }
        if ((err = cw_put_check_name(d->name, "dimension name", cmd->pool))) {
            return apr_psprintf(cmd->pool, "%s: %s", CW_DIMENSIONS, err);
        }
        for (k = 0; k < i; ++k) {
            if (!strcmp(APR_ARRAY_IDX(set, k, cw_dim_spec).name, d->name)) {
                return apr_psprintf(cmd->pool, "%s: dimension '%s' twice", CW_DIMENSIONS, d->name);
            }
        }
    }
    APR_ARRAY_PUSH(c->dim_sets, apr_array_header_t *) = set;
    return NULL;
}

apr_status_t cw_creds_create(aws_creds_provider_t **out, const char **why, const cw_srv_conf *c,
                             apr_pool_t *p)
{
    aws_creds_config_t cc;

    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, c->creds_kind, c->creds_arg);
    cc.imds_endpoint = c->imds_endpoint;
    return aws_creds_provider_create(out, why, &cc, p);
}

const apr_array_header_t *cw_dim_sets(const cw_srv_conf *conf, apr_pool_t *p)
{
    apr_array_header_t *sets, *set;
    cw_dim_spec *d;

    if (conf->dim_sets) {
        return conf->dim_sets;
    }
    /* The fleet (what scaling policies and alarms watch), and the fleet per group. */
    sets = apr_array_make(p, 2, sizeof(apr_array_header_t *));
    set = apr_array_make(p, 1, sizeof(cw_dim_spec));
    d = apr_array_push(set);
    d->kind = CW_DIM_ASG;
    d->name = "AutoScalingGroupName";
    APR_ARRAY_PUSH(sets, apr_array_header_t *) = set;
    set = apr_array_copy(p, set);
    d = apr_array_push(set);
    d->kind = CW_DIM_GROUP;
    d->name = "Group";
    APR_ARRAY_PUSH(sets, apr_array_header_t *) = set;
    return sets;
}

static const command_rec cw_cmds[] = {
    AP_INIT_FLAG(CW_ENABLE, set_enable, NULL, RSRC_CONF | ACCESS_CONF,
                 "On to measure the requests of this server or location"),
    AP_INIT_TAKE1(CW_GROUP, set_group, NULL, RSRC_CONF | ACCESS_CONF,
                  "the group (Group dimension) of the requests of this location"),
    AP_INIT_TAKE1(CW_NAMESPACE, set_string, NULL, RSRC_CONF, "the CloudWatch namespace"),
    AP_INIT_TAKE1(CW_REGION, set_string, NULL, RSRC_CONF, "the AWS region"),
    AP_INIT_TAKE1(
        CW_ENDPOINT, set_string, NULL, RSRC_CONF,
        "the CloudWatch endpoint URL (default https://monitoring.<region>.amazonaws.com)"),
    AP_INIT_TAKE12(CW_CREDENTIALS, set_credentials, NULL, RSRC_CONF,
                   "default | keyfile PATH | profile NAME"),
    AP_INIT_TAKE1(CW_CA_FILE, set_string, NULL, RSRC_CONF,
                  "CA bundle for the endpoint's TLS certificate"),
    AP_INIT_TAKE1(CW_INTERVAL, set_duration, NULL, RSRC_CONF,
                  "how often the figures are sent (default 60s)"),
    AP_INIT_TAKE1(CW_TIMEOUT, set_duration, NULL, RSRC_CONF,
                  "time for one PutMetricData attempt (default 5s)"),
    AP_INIT_TAKE1(CW_RESOLUTION, set_int, NULL, RSRC_CONF, "60 (standard) or 1 (high resolution)"),
    AP_INIT_TAKE1(CW_MAX_GROUPS, set_int, NULL, RSRC_CONF,
                  "the most groups (virtual host and group) measured apart; more go to 'other'"),
    AP_INIT_TAKE1(CW_BACKLOG, set_int, NULL, RSRC_CONF,
                  "intervals kept while CloudWatch cannot be reached (default 15)"),
    AP_INIT_TAKE1(CW_ATTEMPTS, set_int, NULL, RSRC_CONF,
                  "attempts per PutMetricData on throttling, 5xx or connection errors"),
    AP_INIT_TAKE_ARGV(CW_DIMENSIONS, add_dim_set, NULL, RSRC_CONF,
                      "one dimension set: AutoScalingGroupName InstanceId VirtualHost Group "
                      "Name=Value (repeat for several sets)"),
    AP_INIT_TAKE1(CW_ASG, set_string, NULL, RSRC_CONF,
                  "the AutoScalingGroupName dimension (default: from the instance metadata)"),
    AP_INIT_TAKE1(CW_INSTANCE_ID, set_string, NULL, RSRC_CONF,
                  "the InstanceId dimension (default: from the instance metadata)"),
    AP_INIT_TAKE1(CW_IMDS_ENDPOINT, set_string, NULL, RSRC_CONF,
                  "the instance metadata endpoint (default http://169.254.169.254)"),
    AP_INIT_FLAG(CW_TTFB, set_ttfb, NULL, RSRC_CONF,
                 "On to measure the time to first byte as well"),
    {NULL},
};

/* --- group slots in shared memory ---------------------------------------------------------- */

/* Names are kept cut to CW_NAME_MAX - 1 characters: hashed and compared the same way. */
static apr_uint32_t name_hash(const char *a, const char *b)
{
    apr_uint32_t h = 2166136261u; /* FNV-1a */
    int i;

    for (i = 0; a[i] && i < CW_NAME_MAX - 1; ++i) {
        h = (h ^ (unsigned char)a[i]) * 16777619u;
    }
    h = (h ^ 0xff) * 16777619u;
    for (i = 0; b[i] && i < CW_NAME_MAX - 1; ++i) {
        h = (h ^ (unsigned char)b[i]) * 16777619u;
    }
    return h;
}

/* Open addressing over the slots, claimed with a compare-and-swap. Two processes claiming the
 * same new group at once may each get a slot: the publisher adds slots of the same name. */
cw_slot *cw_slot_get(cw_shared *sh, const char *vhost, const char *group)
{
    apr_uint32_t n = sh->nslots, h = name_hash(vhost, group), k;

    for (k = 0; k < n; ++k) {
        cw_slot *s = &sh->slots[(h + k) % n];
        apr_uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE), free_state = 0;

        if (st == 2) {
            if (!strncmp(s->vhost, vhost, CW_NAME_MAX - 1)
                && !strncmp(s->group, group, CW_NAME_MAX - 1)) {
                return s;
            }
            continue;
        }
        if (st == 0
            && __atomic_compare_exchange_n(&s->state, &free_state, 1, 0, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE)) {
            apr_cpystrn(s->vhost, vhost, sizeof(s->vhost));
            apr_cpystrn(s->group, group, sizeof(s->group));
            __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
            return s;
        }
    }
    return &sh->slots[n]; /* every slot in use: "other" */
}

static apr_status_t shm_setup(server_rec *s, int max_groups)
{
    apr_size_t size = sizeof(cw_shared) + (apr_size_t)max_groups * sizeof(cw_slot);
    apr_uint64_t layout = ((apr_uint64_t)sizeof(cw_slot) << 32) | (apr_uint64_t)max_groups;
    mod_lf_shm_e how;
    apr_status_t rv;

    /* It outlives graceful restarts, and with it the figures of the interval under way
     * (nothing is lost or counted twice across a restart). */
    rv = mod_lf_shm_attach((void **)&cw_shm, &how, CW_SHM_KEY, size, layout, s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(03002) "cannot create %" APR_SIZE_T_FMT " bytes of shared memory",
                     size);
        return rv;
    }
    if (how == MOD_LF_SHM_REPLACED) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     LFLOGNO(03001) "%s changed: the measurements of the current interval are "
                                    "dropped",
                     CW_MAX_GROUPS);
    }
    cw_shm->nslots = (apr_uint32_t)max_groups;
    {
        cw_slot *other = &cw_shm->slots[max_groups];

        apr_cpystrn(other->vhost, CW_GROUP_OTHER, sizeof(other->vhost));
        apr_cpystrn(other->group, CW_GROUP_OTHER, sizeof(other->group));
        other->state = 2;
    }
    return APR_SUCCESS;
}

/* --- recording ----------------------------------------------------------------------------- */

/* Per request: the request body bytes read and when the first byte of the response left. */
typedef struct cw_req {
    apr_off_t bytes_in;    /* of the request body, as the application read it (dechunked) */
    apr_time_t first_byte; /* CloudWatchTimeToFirstByte; 0: not yet */
} cw_req;

static int dir_enabled(request_rec *r)
{
    const cw_dir_conf *dc = ap_get_module_config(r->per_dir_config, &cloudwatch_module);

    return dc && dc->enabled == 1;
}

static apr_status_t ttfb_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    cw_req *q = f->ctx;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (!APR_BUCKET_IS_METADATA(b) && b->length) {
            q->first_byte = apr_time_now();
            ap_remove_output_filter(f);
            break;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* Counts the request body as the handler reads it (r->read_length only counts what is read
 * through ap_get_client_block(), which mod_cgid and mod_proxy do not use). */
static apr_status_t bytes_in_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                    apr_read_type_e block, apr_off_t readbytes)
{
    cw_req *q = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_off_t len = 0;

    if (rv == APR_SUCCESS && mode != AP_MODE_SPECULATIVE
        && apr_brigade_length(bb, 0, &len) == APR_SUCCESS && len > 0) {
        q->bytes_in += len;
    }
    return rv;
}

static void cw_insert_filter(request_rec *r)
{
    cw_req *q;

    if (r->main || !cw_shm || !dir_enabled(r)
        || ap_get_module_config(r->request_config, &cloudwatch_module)) {
        return;
    }
    q = apr_pcalloc(r->pool, sizeof(*q));
    ap_set_module_config(r->request_config, &cloudwatch_module, q);
    ap_add_input_filter("CLOUDWATCH_IN", q, r, r->connection);
    if (ttfb_enabled) {
        /* on the connection: the headers count as the first byte too */
        ap_add_output_filter("CLOUDWATCH_TTFB", q, r, r->connection);
    }
}

/* The application's group (note or environment variable), if it is a usable name. */
static const char *app_group(request_rec *r)
{
    const char *g = apr_table_get(r->notes, CW_GROUP_NOTE);
    const char *c;

    if (!g) {
        g = apr_table_get(r->subprocess_env, CW_GROUP_ENV);
    }
    if (!g || !*g || strlen(g) >= CW_NAME_MAX) {
        return NULL;
    }
    for (c = g; *c; ++c) {
        if (*c < 0x21 || *c > 0x7e) {
            return NULL;
        }
    }
    return g;
}

static int cw_log_transaction(request_rec *r)
{
    const cw_dir_conf *dc;
    request_rec *last = r;
    const char *group, *vhost;
    cw_slot *slot;
    cw_req *q;
    apr_time_t now;
    int cls;

    if (!cw_shm) {
        return DECLINED;
    }
    while (last->next) { /* the final request of an internal redirect: its status and location */
        last = last->next;
    }
    /* not a client's: the parent's "OPTIONS *" that wakes a child (internal dummy connection) */
    if (!dir_enabled(last) || (r->method_number == M_OPTIONS && !strcmp(r->uri, "*"))) {
        return DECLINED;
    }
    now = apr_time_now();
    dc = ap_get_module_config(last->per_dir_config, &cloudwatch_module);
    group = app_group(last);
    if (!group && last != r) {
        group = app_group(r);
    }
    if (!group) {
        group = dc->group ? dc->group : CW_GROUP_DEFAULT;
    }
    vhost = r->server->server_hostname ? r->server->server_hostname : "";
    slot = cw_slot_get(cw_shm, vhost, group);

    if (r->connection->aborted) {
        cls = CW_CABORTED;
    }
    else {
        cls = last->status / 100;
        cls = cls < 2 ? CW_C2XX : cls > 5 ? CW_C5XX : cls - 2;
    }
    cw_hist_add(&slot->latency, (apr_uint64_t)(now > r->request_time ? now - r->request_time : 0));
    q = ap_get_module_config(r->request_config, &cloudwatch_module);
    if (!q && last != r) {
        q = ap_get_module_config(last->request_config, &cloudwatch_module);
    }
    if (q && q->first_byte) {
        cw_hist_add(
            &slot->ttfb,
            (apr_uint64_t)(q->first_byte > r->request_time ? q->first_byte - r->request_time : 0));
    }
    __atomic_fetch_add(&slot->classes[cls], 1, __ATOMIC_RELAXED);
    if (q && q->bytes_in) {
        __atomic_fetch_add(&slot->bytes_in, (apr_uint64_t)q->bytes_in, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&slot->bytes_out,
                       (apr_uint64_t)(last->bytes_sent > 0 ? last->bytes_sent : 0),
                       __ATOMIC_RELAXED);
    return DECLINED;
}

/* --- status views -------------------------------------------------------------------------- */

static const char *time_str(apr_int64_t t, apr_pool_t *p)
{
    char *buf;

    if (!t) {
        return "never";
    }
    buf = apr_palloc(p, APR_RFC822_DATE_LEN);
    apr_rfc822_date(buf, (apr_time_t)t);
    return buf;
}

/* A consistent-enough copy of the publisher's figures (each field is read atomically). */
static void pub_copy(cw_pub_status *out)
{
    const cw_pub_status *in = &cw_shm->pub;

    out->last_attempt = __atomic_load_n(&in->last_attempt, __ATOMIC_RELAXED);
    out->last_success = __atomic_load_n(&in->last_success, __ATOMIC_RELAXED);
    out->last_interval = __atomic_load_n(&in->last_interval, __ATOMIC_RELAXED);
    out->intervals = __atomic_load_n(&in->intervals, __ATOMIC_RELAXED);
    out->requests_ok = __atomic_load_n(&in->requests_ok, __ATOMIC_RELAXED);
    out->requests_failed = __atomic_load_n(&in->requests_failed, __ATOMIC_RELAXED);
    out->datums = __atomic_load_n(&in->datums, __ATOMIC_RELAXED);
    out->rejected = __atomic_load_n(&in->rejected, __ATOMIC_RELAXED);
    out->dropped = __atomic_load_n(&in->dropped, __ATOMIC_RELAXED);
    out->backlog = __atomic_load_n(&in->backlog, __ATOMIC_RELAXED);
    out->bytes_sent = __atomic_load_n(&in->bytes_sent, __ATOMIC_RELAXED);
    out->last_status = __atomic_load_n(&in->last_status, __ATOMIC_RELAXED);
    memcpy(out->last_error, in->last_error, sizeof(out->last_error));
    out->last_error[sizeof(out->last_error) - 1] = '\0';
}

static const struct {
    const char *name;
    apr_size_t offset;
} pub_counters[] = {
    {"Intervals", APR_OFFSETOF(cw_pub_status, intervals)},
    {"RequestsSent", APR_OFFSETOF(cw_pub_status, requests_ok)},
    {"RequestsFailed", APR_OFFSETOF(cw_pub_status, requests_failed)},
    {"DatumsSent", APR_OFFSETOF(cw_pub_status, datums)},
    {"Rejected", APR_OFFSETOF(cw_pub_status, rejected)},
    {"DroppedIntervals", APR_OFFSETOF(cw_pub_status, dropped)},
    {"Backlog", APR_OFFSETOF(cw_pub_status, backlog)},
    {"BytesSent", APR_OFFSETOF(cw_pub_status, bytes_sent)},
};

#define PUB_COUNTER(st, i) (*(const apr_uint64_t *)((const char *)(st) + pub_counters[i].offset))

static int cw_status(request_rec *r, int flags)
{
    cw_pub_status st;
    int i;

    if (!cw_shm) {
        return OK;
    }
    pub_copy(&st);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "CloudWatchLastSuccess: %" APR_INT64_T_FMT "\n",
                   st.last_success / APR_USEC_PER_SEC);
        ap_rprintf(r, "CloudWatchLastStatus: %d\n", (int)st.last_status);
        for (i = 0; i < (int)(sizeof(pub_counters) / sizeof(pub_counters[0])); ++i) {
            ap_rprintf(r, "CloudWatch%s: %" APR_UINT64_T_FMT "\n", pub_counters[i].name,
                       PUB_COUNTER(&st, i));
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_cloudwatch</h2>\n<table>\n", r);
    ap_rprintf(r, "<tr><td>last sent</td><td>%s</td></tr>\n", time_str(st.last_attempt, r->pool));
    ap_rprintf(r, "<tr><td>last accepted</td><td>%s</td></tr>\n",
               time_str(st.last_success, r->pool));
    ap_rprintf(r, "<tr><td>last result</td><td>%s</td></tr>\n",
               ap_escape_html(r->pool, st.last_error[0]  ? st.last_error
                                       : st.last_attempt ? "accepted"
                                                         : "nothing sent yet"));
    for (i = 0; i < (int)(sizeof(pub_counters) / sizeof(pub_counters[0])); ++i) {
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n", pub_counters[i].name,
                   PUB_COUNTER(&st, i));
    }
    ap_rputs("</table>\n", r);
    return OK;
}

/* SetHandler cloudwatch-status: the publisher's figures and each group's last interval, JSON. */
static int cw_status_handler(request_rec *r)
{
    cw_pub_status st;
    apr_uint32_t i;
    int k, first = 1;

    if (strcmp(r->handler, "cloudwatch-status")) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!cw_shm) {
        return HTTP_NOT_FOUND;
    }
    pub_copy(&st);
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    ap_rprintf(r,
               "{\"last_attempt\": %" APR_INT64_T_FMT ", \"last_success\": %" APR_INT64_T_FMT
               ", \"last_interval\": %" APR_INT64_T_FMT ", \"last_status\": %d, "
               "\"last_error\": %s",
               st.last_attempt / APR_USEC_PER_SEC, st.last_success / APR_USEC_PER_SEC,
               st.last_interval / APR_USEC_PER_SEC, (int)st.last_status,
               lf_json_str(st.last_error, r->pool));
    for (k = 0; k < (int)(sizeof(pub_counters) / sizeof(pub_counters[0])); ++k) {
        ap_rprintf(r, ", \"%s\": %" APR_UINT64_T_FMT, pub_counters[k].name, PUB_COUNTER(&st, k));
    }
    ap_rputs(", \"groups\": [", r);
    for (i = 0; i <= cw_shm->nslots; ++i) {
        const cw_slot *s = &cw_shm->slots[i];

        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2
            || !__atomic_load_n(&s->last_count, __ATOMIC_RELAXED)) {
            continue;
        }
        ap_rprintf(r,
                   "%s{\"virtual_host\": %s, \"group\": %s, \"requests\": %" APR_UINT64_T_FMT
                   ", \"p50_us\": %" APR_UINT64_T_FMT ", \"p90_us\": %" APR_UINT64_T_FMT
                   ", \"p99_us\": %" APR_UINT64_T_FMT ", \"max_us\": %" APR_UINT64_T_FMT
                   ", \"5xx\": %" APR_UINT64_T_FMT "}",
                   first ? "" : ", ", lf_json_str(s->vhost, r->pool),
                   lf_json_str(s->group, r->pool),
                   __atomic_load_n(&s->last_count, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_p50, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_p90, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_p99, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_max, __ATOMIC_RELAXED),
                   __atomic_load_n(&s->last_5xx, __ATOMIC_RELAXED));
        first = 0;
    }
    ap_rputs("]}\n", r);
    return OK;
}

/* --- startup ------------------------------------------------------------------------------- */

/* Log what the configuration will cost: custom metrics and PutMetricData requests a month. */
static void log_cost(server_rec *s, const cw_srv_conf *c, apr_pool_t *p)
{
    const apr_array_header_t *sets = cw_dim_sets(c, p);
    int vhosts = 0, per_group = cw_metrics_per_group(c->ttfb), i, k;
    apr_int64_t metrics = 0, datums, requests, intervals;
    server_rec *v;

    for (v = s; v; v = v->next) {
        ++vhosts;
    }
    for (i = 0; i < sets->nelts; ++i) {
        const apr_array_header_t *set = APR_ARRAY_IDX(sets, i, const apr_array_header_t *);
        apr_int64_t values = 1;

        for (k = 0; k < set->nelts; ++k) {
            cw_dim_kind_e kind = APR_ARRAY_IDX(set, k, cw_dim_spec).kind;

            if (kind == CW_DIM_VHOST) {
                values *= vhosts + 1;
            }
            else if (kind == CW_DIM_GROUP) {
                values *= c->max_groups + 1;
            }
        }
        metrics += (values > c->max_groups + 1 ? c->max_groups + 1 : values) * per_group;
    }
    /* a histogram of more than 150 buckets takes a second datum: count two for latencies */
    datums = metrics + metrics / per_group * (c->ttfb ? 2 : 1);
    intervals = (30 * 24 * 3600) / (c->interval / APR_USEC_PER_SEC);
    requests = intervals * ((datums + CW_PUT_MAX_DATUMS - 1) / CW_PUT_MAX_DATUMS);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 LFLOGNO(03003) "namespace %s: up to %" APR_INT64_T_FMT " custom metrics (%d "
                                "dimension set(s), up to %d groups) and about %" APR_INT64_T_FMT
                                " PutMetricData requests a month (one or more every %s)",
                 c->ns, metrics, sets->nelts, c->max_groups, requests,
                 lf_format_duration(c->interval, p));
}

/* httpd -t runs up to here: every check that can fail on the configuration is made here. */
static int cw_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const cw_srv_conf *c;
    aws_creds_provider_t *creds;
    const char *err = NULL;
    apr_status_t rv;

    (void)pconf;
    (void)plog;
    mod_lf_log_install(s);
    if (!configured) {
        return OK;
    }
    c = cw_srv_settings(s, ptemp);
    if ((err = cw_put_check_namespace(c->ns, ptemp))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(03004) "%s: %s", CW_NAMESPACE, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (c->resolution == 1 && c->interval > apr_time_from_sec(60)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     LFLOGNO(03005) "%s 1 (high resolution) is pointless with a %s over 60 s",
                     CW_RESOLUTION, CW_INTERVAL);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* the credentials settings themselves (a key file that is missing or malformed) */
    if ((rv = cw_creds_create(&creds, &err, c, ptemp)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, lf_log_status(rv), s, LFLOGNO(03006) "%s: %s",
                     CW_CREDENTIALS, err ? err : "cannot be used");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int cw_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const cw_srv_conf *c;

    (void)plog;
    cw_shm = NULL;
    if (!configured || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* not used, or the first, dry run of post_config */
    }
    c = cw_srv_settings(s, pconf);
    ttfb_enabled = c->ttfb;
    if (shm_setup(s, c->max_groups) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    log_cost(s, c, ptemp);
    if (cw_publisher_create(s, c, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int cw_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    configured = 0;
    /* aws_creds and aws_http use libcurl */
    return mod_lf_libs_init() == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static void cw_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    cw_publisher_child_init(pchild);
}

static void cw_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(cw_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(cw_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(cw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* last, as every background thread of the kit (mod_lf_life.h) */
    ap_hook_child_init(cw_child_init, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_insert_filter(cw_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(cw_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(cw_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(cw_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter("CLOUDWATCH_TTFB", ttfb_filter, NULL, AP_FTYPE_CONNECTION);
    /* after HTTP_IN (AP_FTYPE_PROTOCOL): the body without its chunk framing */
    ap_register_input_filter("CLOUDWATCH_IN", bytes_in_filter, NULL, AP_FTYPE_CONTENT_SET);
    APR_OPTIONAL_HOOK(ap, status_hook, cw_status, NULL, NULL, APR_HOOK_MIDDLE);
}

/* No server merge: the publishing settings are the main server's only. */
module AP_MODULE_DECLARE_DATA cloudwatch_module = {
    STANDARD20_MODULE_STUFF, create_dir_conf,     merge_dir_conf, create_srv_conf, NULL, cw_cmds,
    cw_register_hooks,       AP_MODULE_FLAG_NONE,
};
