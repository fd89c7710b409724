/* lf_log — the callback sink behind the core's log calls (see lf_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "lf_log.h"

static void log_stderr(const char *file, int line, int level, apr_status_t rv, const char *msg,
                       void *baton);
static int level_stderr(int level, void *baton);

/* Written once before threads start (lf_log_set), read-only afterwards. */
static lf_log_print_cb *log_print = log_stderr;
static lf_log_level_cb *log_level = level_stderr;
static void *log_baton;

static void log_stderr(const char *file, int line, int level, apr_status_t rv, const char *msg,
                       void *baton)
{
    char err[256];

    (void)baton;
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "[%d] %s:%d: %s (%d) %s\n", level, file, line, msg, rv,
                apr_strerror(rv, err, sizeof(err)));
    }
    else {
        fprintf(stderr, "[%d] %s:%d: %s\n", level, file, line, msg);
    }
}

static int level_stderr(int level, void *baton)
{
    (void)baton;
    return level <= LF_LOG_WARNING;
}

void lf_log_set(lf_log_print_cb *print, lf_log_level_cb *level, void *baton)
{
    log_print = print ? print : log_stderr;
    log_level = level ? level : level_stderr;
    log_baton = baton;
}

int lf_log_is_level(int level)
{
    return log_level(level, log_baton);
}

void lf_log_perror(const char *file, int line, int level, apr_status_t rv, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;

    if (!log_level(level, log_baton)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_print(file, line, level, lf_log_status(rv), msg, log_baton);
}
