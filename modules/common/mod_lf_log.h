/* mod_lf_log.h — for glue files only: send the core's log lines (lf_log) to httpd's error log
 * under the including module's name. Each module links its own lf_log, so each installs this
 * first thing in its check_config hook: the first hook that has the server, run on every
 * reading of the configuration (`httpd -t` included), before any thread starts.
 * Include after APLOG_USE_MODULE(x): APLOG_MODULE_INDEX names the including module.
 */
#ifndef MOD_LF_LOG_H
#define MOD_LF_LOG_H

#include <http_log.h>
#include <httpd.h>

#include "lf_log.h"

static void mod_lf_log_print(const char *file, int line, int level, apr_status_t rv,
                             const char *msg, void *baton)
{
    ap_log_error(file, line, APLOG_MODULE_INDEX, level, rv, baton, "%s", msg);
}

static int mod_lf_log_level(int level, void *baton)
{
    return APLOG_IS_LEVEL((server_rec *)baton, level);
}

/** Log the core's lines through @p s (the main server). */
static inline void mod_lf_log_install(server_rec *s)
{
    lf_log_set(mod_lf_log_print, mod_lf_log_level, s);
}

#endif /* MOD_LF_LOG_H */
