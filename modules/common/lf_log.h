/* lf_log — logging for the pure core files of every lampfarm module.
 *
 * Core files never call ap_log_error(): they log through a callback that the module's glue
 * installs in check_config (so messages land in httpd's error log with the module's name), and
 * that defaults to stderr for the CLI tools and unit tests. Each .so links its own copy of this
 * file (symbols are local), so every module has its own callback.
 */
#ifndef LF_LOG_H
#define LF_LOG_H

#include <apr_errno.h>

/** Log ids: "LF01234: ", one per call site, unique across the project (`make check`). */
#define LFLOGNO(n) "LF" #n ": "

/** File and line of the call site, first two arguments of lf_log_perror(). */
#define LF_LOG_MARK __FILE__, __LINE__

/* The levels are httpd's APLOG_* numbers, so the glue passes them through unchanged. */
#define LF_LOG_EMERG   0
#define LF_LOG_ALERT   1
#define LF_LOG_CRIT    2
#define LF_LOG_ERR     3
#define LF_LOG_WARNING 4
#define LF_LOG_NOTICE  5
#define LF_LOG_INFO    6
#define LF_LOG_DEBUG   7
#define LF_LOG_TRACE1  8

/** Receives one formatted message. */
typedef void lf_log_print_cb(const char *file, int line, int level, apr_status_t rv,
                             const char *msg, void *baton);
/** Answers whether a message at @p level would be logged (to skip formatting). */
typedef int lf_log_level_cb(int level, void *baton);

/**
 * Install the log callbacks. Call once, before any thread starts (check_config); NULL restores
 * the stderr default.
 */
void lf_log_set(lf_log_print_cb *print, lf_log_level_cb *level, void *baton);

/** Whether a message at @p level would be logged now. */
int lf_log_is_level(int level);

/**
 * The status to log beside a message that says why something failed: @p rv, except
 * APR_EGENERAL, which carries no information and which httpd would print as a misleading
 * "(20014)Internal error (specific information not available)" prefix. Glue files pass their
 * ap_log_*error() statuses through it wherever a sentence carries the cause.
 */
static inline apr_status_t lf_log_status(apr_status_t rv)
{
    return rv == APR_EGENERAL ? APR_SUCCESS : rv;
}

/**
 * Format and log a message; @p rv, when it says something (see lf_log_status()), is appended by
 * the sink.
 */
void lf_log_perror(const char *file, int line, int level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif /* LF_LOG_H */
