/* mod_cloudwatch_record.h — the recording side of mod_cloudwatch: the shared memory of this
 * generation, and the hooks and filters that count every request into it.
 */
#ifndef MOD_CLOUDWATCH_RECORD_H
#define MOD_CLOUDWATCH_RECORD_H

#include <httpd.h>
#include <util_filter.h>

#include "cw_shm.h"
#include "mod_cloudwatch_config.h"

/** The shared memory of this generation; NULL when the module is not used (or before
 * cw_record_setup()). */
cw_shm_t *cw_record_shm(void);

/** Forget the previous generation's shared memory (every post_config, before anything else). */
void cw_record_reset(void);

/** Attach the shared memory for @p c (post_config, the real pass): kept across graceful restarts
 * while CloudWatchMaxGroups stays the same. Logs what fails. */
apr_status_t cw_record_setup(server_rec *s, const cw_srv_conf *c);

/** insert_filter, insert_error_filter: the filters that count the request body and, with
 * CloudWatchTimeToFirstByte, see the first byte of the response. */
void cw_record_insert_filter(request_rec *r);

/** log_transaction: count the request into its group slot. */
int cw_record_log_transaction(request_rec *r);

/** The output filter "CLOUDWATCH_TTFB" (a connection filter). */
apr_status_t cw_record_ttfb_filter(ap_filter_t *f, apr_bucket_brigade *bb);

/** The input filter "CLOUDWATCH_IN" (after HTTP_IN: the body without its chunk framing). */
apr_status_t cw_record_bytes_in_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                       apr_read_type_e block, apr_off_t readbytes);

#endif /* MOD_CLOUDWATCH_RECORD_H */
