/* hc_answer — what mod_health answers a request, decided: which endpoint a path is for, whether
 * the client may see details and control draining, and the status, headers and body for
 * readiness, liveness and the drain control, from the shared segment, the drain state and the
 * clock; draining by the API starts and stops here. Pure core: APR and modules/common. The glue
 * reads the request into an hc_request_t, writes out the hc_reply_t and logs what it reports.
 */
#ifndef HC_ANSWER_H
#define HC_ANSWER_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "hc_check.h"

typedef enum { HC_EP_NONE = 0, HC_EP_READY, HC_EP_LIVE, HC_EP_DRAIN } hc_endpoint_e;

/** The request methods the endpoints tell apart. */
typedef enum {
    HC_METHOD_OTHER = 0,
    HC_METHOD_GET, /* HEAD too */
    HC_METHOD_POST,
    HC_METHOD_DELETE
} hc_method_e;

/** What the answers come from: the main server's configuration and the segment; from pconf. */
typedef struct hc_server_t {
    hc_shared_t *shared;
    const apr_array_header_t *checks;  /* hc_conf_check_t; slot i belongs to check i */
    const char *drain_file;            /* HealthDrainFile, or NULL */
    const char *drain_token;           /* HealthDrainToken's secret, or NULL: no drain by API */
    apr_interval_time_t stall_timeout; /* microseconds without a tick before liveness fails */
} hc_server_t;

/** A request to one of the endpoints, as the glue read it. */
typedef struct hc_request_t {
    hc_endpoint_e endpoint;
    hc_method_e method;
    const char *args;                /* the query string, or NULL */
    const char *authorization;       /* the Authorization header, or NULL */
    apr_sockaddr_t *client;          /* the client's address */
    const apr_array_header_t *allow; /* HealthDetailsAllow of its server: apr_ipsubnet_t * */
    /* What only the server can do, asked for only when the answer needs it: */
    apr_status_t (*discard_body)(void *baton); /* read and drop a drain request's body */
    int (*in_flight)(void *baton); /* requests in progress, this one excluded (details) */
    void *baton;
} hc_request_t;

/** How draining by the API changed. */
typedef enum { HC_DRAIN_UNCHANGED = 0, HC_DRAIN_STARTED, HC_DRAIN_STOPPED } hc_drain_change_e;

/** The answer, and what happened that the glue logs. */
typedef struct hc_reply_t {
    int status;               /* HTTP status */
    const char *type;         /* Content-Type */
    const char *body;         /* from the pool given to hc_answer(), or static */
    const char *allow;        /* the Allow header (405), or NULL */
    const char *authenticate; /* the WWW-Authenticate header (401), or NULL */
    int stalled;         /* liveness fails, and this request saw it first since the last tick */
    const char *refused; /* why a drain request was refused, or NULL */
    hc_drain_change_e change; /* what this drain request changed */
} hc_reply_t;

/**
 * Which endpoint @p path is for; a path set to "" (none) matches nothing.
 * @return HC_EP_NONE when it is for none of them
 */
hc_endpoint_e hc_answer_endpoint(const char *path, const char *ready_path, const char *live_path,
                                 const char *drain_path);

/**
 * Whether @p client may see details and control draining.
 * @param allow apr_ipsubnet_t *, as HealthDetailsAllow lists them; empty: nobody
 */
int hc_answer_allowed(const apr_array_header_t *allow, apr_sockaddr_t *client);

/**
 * Answer @p req (whose endpoint is not HC_EP_NONE) at @p now: readiness from the verdict over
 * the checks' records, the drain state and the check thread's heartbeat; liveness from the
 * heartbeat alone; `?details` as JSON to allowed clients; the drain control's state (GET) and,
 * with the bearer token, draining started (POST) or stopped (DELETE; not while the drain file
 * drains).
 * @param reply out: every field set
 * @param p the request's pool: the body
 */
void hc_answer(hc_reply_t *reply, const hc_request_t *req, const hc_server_t *srv, apr_time_t now,
               apr_pool_t *p);

#endif /* HC_ANSWER_H */
