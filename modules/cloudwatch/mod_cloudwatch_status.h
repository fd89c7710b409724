/* mod_cloudwatch_status.h — what mod_cloudwatch shows of itself: its part of server-status and
 * the cloudwatch-status handler (JSON).
 */
#ifndef MOD_CLOUDWATCH_STATUS_H
#define MOD_CLOUDWATCH_STATUS_H

#include <httpd.h>

/** mod_status's status_hook: the publisher's figures (HTML, or ?auto lines). */
int cw_status_hook(request_rec *r, int flags);

/** SetHandler cloudwatch-status: the publisher's figures and each group's last interval. */
int cw_status_handler(request_rec *r);

#endif /* MOD_CLOUDWATCH_STATUS_H */
