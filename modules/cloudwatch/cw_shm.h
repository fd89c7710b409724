/* cw_shm — the shared memory of mod_cloudwatch: its layout, the group slots that requests claim
 * without a lock, a request counted into its slot, and the slots emptied for the publisher.
 *
 * Every request of every child process writes here (cw_shm_slot() then cw_shm_record(): atomic
 * built-ins only, no lock, no system call); the one publisher thread empties the slots each
 * interval (cw_shm_take()) and writes its own figures (pub), which the status views read. The
 * memory is made by the glue (post_config, so that it outlives graceful restarts) with
 * cw_shm_size() bytes and cw_shm_layout() as the key of its layout, then cw_shm_init().
 * Pure core: APR.
 */
#ifndef CW_SHM_H
#define CW_SHM_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_tables.h>

#include "cw_hist.h"

/** Longest virtual host or group name kept, with its NUL (longer ones are cut). */
#define CW_NAME_MAX 64
/** The virtual host and group of the last slot, where requests go once every other is in use. */
#define CW_GROUP_OTHER "other"

/* States of a slot. */
enum {
    CW_SLOT_FREE = 0,
    CW_SLOT_CLAIMING, /* a request is writing the names */
    CW_SLOT_USED,     /* the names are set: counted into, published */
    CW_SLOT_STALLED,  /* a claim that took too long (its process died there?): skipped */
};

/* Status classes of responses. 1xx (a final 101 of an upgrade) is counted with 2xx. */
enum { CW_C2XX = 0, CW_C3XX, CW_C4XX, CW_C5XX, CW_CABORTED, CW_CLASSES };

/** One group: a virtual host and a route group. */
typedef struct cw_slot_t {
    apr_uint32_t state; /* CW_SLOT_FREE, ...; the names are set once CW_SLOT_USED */
    char vhost[CW_NAME_MAX];
    char group[CW_NAME_MAX];
    cw_hist_t latency; /* microseconds, request received -> logged */
    cw_hist_t ttfb;    /* microseconds, request received -> first byte of the response */
    apr_uint64_t classes[CW_CLASSES];
    apr_uint64_t bytes_in, bytes_out;
    /* the last interval published, for the status page (written by the publisher only) */
    apr_uint64_t last_count, last_p50, last_p90, last_p99, last_max, last_5xx;
} cw_slot_t;

/** The publisher's figures, for the status page. */
typedef struct cw_pub_status_t {
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
} cw_pub_status_t;

/** The whole shared memory. */
typedef struct cw_shm_t {
    apr_uint32_t nslots; /* group slots; one more, the last, is "other" */
    apr_uint32_t pad;
    cw_pub_status_t pub;
    cw_slot_t slots[1]; /* nslots + 1 */
} cw_shm_t;

/** What a request adds to its slot. */
typedef struct cw_shm_sample_t {
    int cls;              /* CW_C2XX .. CW_CABORTED: see cw_shm_class() */
    apr_uint64_t latency; /* microseconds */
    int has_ttfb;         /* the time to first byte was measured: */
    apr_uint64_t ttfb;    /* microseconds */
    apr_uint64_t bytes_in, bytes_out;
} cw_shm_sample_t;

/** What one slot held during an interval, as cw_shm_take() leaves it. */
typedef struct cw_slot_snapshot_t {
    const char *vhost, *group; /* the slot's (in the shared memory) */
    cw_hist_snapshot_t latency, ttfb;
    apr_uint64_t classes[CW_CLASSES];
    apr_uint64_t bytes_in, bytes_out;
} cw_slot_snapshot_t;

/** Bytes of shared memory for @p max_groups group slots (and "other"). */
apr_size_t cw_shm_size(int max_groups);

/** A key of the layout of cw_shm_size(@p max_groups) bytes: memory from an httpd whose key
 * differs is not reused across a restart. */
apr_uint64_t cw_shm_layout(int max_groups);

/** Set up @p sh (new, or kept from the previous generation) for @p max_groups slots: the counts
 * it holds are kept, the "other" slot is named. */
void cw_shm_init(cw_shm_t *sh, int max_groups);

/**
 * The group slot of @p vhost / @p group (each cut to CW_NAME_MAX - 1 characters): found, claimed,
 * or "other" when every slot is in use. Lock-free (open addressing, a slot claimed with a
 * compare-and-swap), safe from any thread of any process; no system call. A request that finds a
 * slot being claimed waits for the claim to end (two short copies) and takes that slot when the
 * group is its own, so a group has one slot. Only when a claimer stalls there (its thread
 * descheduled for a long time, its process killed) can a second slot get the same names; the
 * publisher adds up slots of the same names.
 */
cw_slot_t *cw_shm_slot(cw_shm_t *sh, const char *vhost, const char *group);

/** The status class of a response: CW_CABORTED when the client went away, else by @p status. */
int cw_shm_class(int status, int aborted);

/** Count @p m into @p slot (atomic, lock-free). */
void cw_shm_record(cw_slot_t *slot, const cw_shm_sample_t *m);

/**
 * Empty every slot in use into snapshots (atomic exchanges: what a request adds meanwhile is in
 * exactly one interval) and keep each slot's figures for the status page.
 * @return cw_slot_snapshot_t of the slots that counted anything, in slot order, from @p p
 */
apr_array_header_t *cw_shm_take(cw_shm_t *sh, apr_pool_t *p);

/** Whether requests were counted that no cw_shm_take() took yet. */
int cw_shm_pending(const cw_shm_t *sh);

/** A consistent-enough copy of the publisher's figures (each field read atomically). */
void cw_shm_pub_copy(cw_pub_status_t *out, const cw_shm_t *sh);

#endif /* CW_SHM_H */
