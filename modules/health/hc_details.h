/* hc_details — what mod_health's endpoints answer, as data and text: the drain state, the
 * readiness verdict over the checks' shared records, and the JSON of `?details` and of the
 * drain control. Pure core: APR and modules/common; the glue adds what only a request knows
 * (which endpoint, whether the client may see details, the requests in flight).
 */
#ifndef HC_DETAILS_H
#define HC_DETAILS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "hc_check.h"
#include "hc_conf.h"

/** Whether the server drains, since when and by what. */
typedef struct hc_drain_t {
    apr_time_t since;   /* 0 = not draining */
    const char *source; /* "file", "api" or NULL */
} hc_drain_t;

/** What the details JSON reports besides the checks. */
typedef struct hc_details_t {
    int ready;            /* the endpoint's answer: readiness, or liveness at the live path */
    hc_verdict_e verdict; /* readiness, HC_NOT_READY_STARTING when the check thread stalled */
    int failed;           /* index of the check that decided the verdict, else -1 */
    int live;             /* whether the check thread runs */
    hc_drain_t drain;
    int in_flight; /* requests being processed on this server, the health request excluded */
} hc_details_t;

/**
 * The drain state now: by @p drain_file (since its modification time) while it exists, else
 * by the API's flag in @p shared.
 * @param drain_file HealthDrainFile, or NULL
 * @param p for the file's status
 */
void hc_drain_read(hc_drain_t *drain, const char *drain_file, const hc_shared_t *shared,
                   apr_pool_t *p);

/** The drain control's answer: {"draining":..,"since":..,"source":..} and a newline, from @p p. */
const char *hc_drain_json(const hc_drain_t *drain, apr_pool_t *p);

/**
 * Read every check's shared record and decide readiness (hc_verdict()).
 * @param snap out: one record per element of @p checks; a slot that still belongs to another
 *        configuration (in the middle of a restart) reads as a check without a result
 * @param failed out: the index of the check that decided the verdict, else -1
 * @param checks the configured checks (hc_conf_check_t); slot i belongs to check i
 * @param p for the severities
 */
hc_verdict_e hc_details_verdict(hc_status_t *snap, int *failed, const apr_array_header_t *checks,
                                const hc_shared_t *shared, int draining, apr_pool_t *p);

/**
 * The `?details` JSON, with a trailing newline.
 * @param checks the configured checks (hc_conf_check_t)
 * @param snap their records, as hc_details_verdict() read them
 * @return the text, allocated from @p p
 */
const char *hc_details_json(const hc_details_t *d, const apr_array_header_t *checks,
                            const hc_status_t *snap, apr_pool_t *p);

#endif /* HC_DETAILS_H */
