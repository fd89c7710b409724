/* mod_s3_config.h — mod_s3's configuration and what every glue file of the module uses
 * (mod_s3_config.c): the directives' names, the configs, the runtimes, the spool accounting,
 * the request helpers. It depends on no other glue file of the module.
 */
#ifndef MOD_S3_CONFIG_H
#define MOD_S3_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "mod_lf_config.h"

#include "aws_creds.h"
#include "aws_http.h"
#include "s3_client.h"

/* Directive names, used in the command table and in messages. */
#define S3_BUCKET                "S3Bucket"
#define S3_REGION                "S3Region"
#define S3_ENDPOINT              "S3Endpoint"
#define S3_ADDRESSING            "S3Addressing"
#define S3_KEY_PREFIX            "S3KeyPrefix"
#define S3_CREDENTIALS           "S3Credentials"
#define S3_CA_FILE               "S3CAFile"
#define S3_PAYLOAD_SIGNING       "S3PayloadSigning"
#define S3_CONNECT_TIMEOUT       "S3ConnectTimeout"
#define S3_TIMEOUT               "S3Timeout"
#define S3_ATTEMPTS              "S3Attempts"
#define S3_DOWNLOAD              "S3Download"
#define S3_REDIRECT_EXPIRES      "S3RedirectExpires"
#define S3_DISPOSITION           "S3Disposition"
#define S3_EXPOSE_META           "S3ExposeMeta"
#define S3_HAND_OFF              "S3HandOff"
#define S3_UPLOAD                "S3Upload"
#define S3_UPLOAD_TOKEN_KEY      "S3UploadTokenSecret"
#define S3_UPLOAD_REQUIRE_USER   "S3UploadRequireUser"
#define S3_MAX_UPLOAD_SIZE       "S3MaxUploadSize"
#define S3_ALLOWED_TYPES         "S3AllowedTypes"
#define S3_PART_SIZE             "S3PartSize"
#define S3_SPOOL_MEMORY          "S3SpoolMemory"
#define S3_MEMORY_LIMIT          "S3MemoryLimit"
#define S3_TEMP_DIR              "S3TempDir"
#define S3_NO_OVERWRITE          "S3NoOverwrite"
#define S3_FORM_REDIRECT         "S3FormRedirect"
#define S3_ALLOW_ENCODED_SLASHES "S3AllowEncodedSlashes"

/* The request header carrying an upload token, and the query parameter that may carry it. */
#define S3_TOKEN_HEADER "X-Upload-Token"
#define S3_TOKEN_PARAM  "upload_token"
/* The application's hand-off headers (never passed to the client). */
#define S3_HANDOFF_KEY         "X-S3-Key"
#define S3_HANDOFF_DISPOSITION "X-S3-Disposition"

typedef enum { S3_DL_UNSET = -1, S3_DL_OFF = 0, S3_DL_STREAM, S3_DL_REDIRECT } s3_download_e;

/** Per-directory configuration; every field LF_UNSET (-1 / NULL) until a directive sets it. */
typedef struct s3_dir_conf {
    const char *location; /* the <Location> path this section maps (NULL: none) */
    const char *bucket;
    const char *region;
    const char *endpoint;
    int path_style; /* 1 path, 0 virtual-hosted, 2 auto */
    const char *key_prefix;
    const char *creds_kind; /* "default", "keyfile" or "profile" */
    const char *creds_arg;  /* the key file or profile */
    const char *ca_file;
    int payload; /* s3_payload_e: S3PayloadSigning auto, on (signed) or off (CRC32) */
    apr_interval_time_t connect_timeout;
    apr_interval_time_t timeout;
    int attempts;
    int download;                    /* s3_download_e */
    int redirect_status;             /* 302 or 307 (set with S3Download redirect) */
    apr_int64_t redirect_expires;    /* seconds */
    const char *disposition;         /* "none", "attachment" or "inline" */
    apr_array_header_t *expose_meta; /* lower-case x-amz-meta-* names passed to clients */
    int hand_off;
    int upload;
    const char *token_secret;
    int require_user;
    apr_off_t max_upload;
    apr_array_header_t *allowed_types; /* s3_mime patterns; NULL: any */
    apr_off_t part_size;
    apr_off_t spool_memory;
    const char *temp_dir;
    int no_overwrite;
    const char *form_redirect;
    int encoded_slashes;
} s3_dir_conf;

/** Per-server configuration (global only). */
typedef struct s3_srv_conf {
    apr_off_t memory_limit; /* bytes of spool memory for all uploads of the server */
} s3_srv_conf;

/** Everything needed to talk to one bucket, shared by the threads of a process. */
typedef struct s3_runtime {
    const char *id; /* what distinguishes it (bucket, region, endpoint, credentials...) */
    const char *bucket;
    s3_client_t *client;
    aws_creds_provider_t *creds;
} s3_runtime;

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
