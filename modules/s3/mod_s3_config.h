/* mod_s3_config.h — mod_s3's configuration and what every glue file of the module uses
 * (mod_s3_config.c): the configs as httpd keeps them (their fields, defaults and directives' names
 * are s3_conf.h's), the runtimes (s3_runtime.h), the spool accounting, the request helpers. It
 * depends on no other glue file of the module.
 */
#ifndef MOD_S3_CONFIG_H
#define MOD_S3_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "lf_conf.h"

#include "aws_http.h"
#include "s3_conf.h"
#include "s3_runtime.h"

/* The request header carrying an upload token, and the query parameter that may carry it. */
#define S3_TOKEN_HEADER "X-Upload-Token"
#define S3_TOKEN_PARAM  "upload_token"
/* The application's hand-off headers (never passed to the client). */
#define S3_HANDOFF_KEY         "X-S3-Key"
#define S3_HANDOFF_DISPOSITION "X-S3-Disposition"

extern module AP_MODULE_DECLARE_DATA s3_module;

/* The module's config functions and directives (for the module struct in mod_s3.c). */
void *s3_create_dir_conf(apr_pool_t *p, char *dir);
void *s3_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *s3_create_srv_conf(apr_pool_t *p, server_rec *s);
extern const command_rec s3_cmds[];

/**
 * What is wrong with the S3 configuration of any <Location>/<Directory> of any server, or NULL.
 * With @p keep, each section's runtime is made and kept (post_config, once s3_runtimes_init()
 * ran); else made in @p p only to see that it can be (check_config).
 */
const char *s3_check_sections(server_rec *main, int keep, apr_pool_t *p);

/** The table of runtimes, in @p pconf (post_config, every generation). */
apr_status_t s3_runtimes_init(apr_pool_t *pconf);

/** A runtime for @p bucket, made at startup for a section that names it; NULL when none. */
s3_runtime *s3_runtime_of_bucket(const char *bucket, apr_pool_t *p);

/** Attach (or make) the shared memory of the spool accounting (post_config). */
apr_status_t s3_memory_attach(server_rec *s);

/** translate_name hook: note the S3 settings of the URL the client asked for (hand-off). */
int s3_note_client_conf(request_rec *r);

/** Whether a section of the configuration read has S3FallbackCopy On; @p reset: forget it
 *  (pre_config, before the configuration is read again). */
int s3_copy_configured(int reset);

/** The configuration of @p r with the defaults applied. */
const s3_dir_conf *s3_conf(request_rec *r);
apr_off_t s3_memory_limit(server_rec *s);

/** The runtime for @p conf (created on first use); NULL with a log line when it cannot be. */
s3_runtime *s3_runtime_get(request_rec *r, const s3_dir_conf *conf);

/**
 * Reserve @p bytes of the server's spool memory (S3MemoryLimit) for this process.
 * @param slot out: what s3_memory_release() needs
 * @return APR_SUCCESS; APR_ENOSPC when the limit would be exceeded; APR_EAGAIN when the
 *         accounting has no slot left for this process (more processes than it was sized for)
 */
apr_status_t s3_memory_reserve(int *slot, apr_off_t bytes);
void s3_memory_release(int slot, apr_off_t bytes);

/** Log what S3 answered (code, message, request id; never a signature) and map it to a status. */
int s3_log_failure(request_rec *r, const char *what, const char *key, apr_status_t rv,
                   const aws_http_response_t *resp);

/** The key of the object a request's URL names, or an HTTP error status (400, 404). */
int s3_request_key(const char **key, request_rec *r, const s3_dir_conf *conf);

/**
 * The configuration a response carrying X-S3-Key is handed off with (defaults applied), or NULL
 * when S3HandOff is not on for it. The URL the client asked for counts first (also after an
 * internal redirect to a front controller), then what serves the response.
 * @param section out: the URL whose sections turned hand-off on (for logs)
 * @return allocated from r->pool
 */
const s3_dir_conf *s3_handoff_conf(const char **section, request_rec *r);

/** The decoded URL path the client asked for, before any rewrite or internal redirect. */
const char *s3_handoff_client_path(request_rec *r);

#endif /* MOD_S3_CONFIG_H */
