/* mod_s3_config — mod_s3's configuration as httpd sees it (see mod_s3.c for the module): the
 * directive table and its setters (the values are parsed in s3_conf.c), the settings a request
 * sees, which configuration a hand-off uses, the startup checks of every section, the per-bucket
 * runtimes of this process (made and shared by s3_runtime.c), the shared-memory accounting of
 * spool memory, and the helpers every request path uses (the key of a request, logging a
 * failure). The other glue files depend on this one, never the other way round.
 */
#include <apr_strings.h>
#include <unistd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>

#include "lf_log.h"
#include "s3_handoff.h"
#include "s3_key.h"
#include "s3_memacct.h"
#include "mod_s3_config.h"

APLOG_USE_MODULE(s3);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define S3_SHM_KEY "lampfarm:s3"

/* --- configuration (fields, defaults and merge: s3_conf.c) ------------------------------- */

void *s3_create_dir_conf(apr_pool_t *p, char *dir)
{
    (void)dir;
    return s3_conf_create(p);
}

void *s3_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    return s3_conf_merge(basev, addv, p);
}

const s3_dir_conf *s3_conf(request_rec *r)
{
    return s3_conf_effective(ap_get_module_config(r->per_dir_config, &s3_module), r->pool);
}

void *s3_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return s3_conf_srv_create(p);
}

apr_off_t s3_memory_limit(server_rec *s)
{
    return s3_conf_memory_limit(ap_get_module_config(s->module_config, &s3_module));
}

/* --- directives (their values: s3_conf.c) ------------------------------------------------ */

/* Remember which <Location> the section maps, so keys are the URL path below it. */
static const char *note_location(cmd_parms *cmd, s3_dir_conf *c)
{
    const ap_directive_t *parent = cmd->directive ? cmd->directive->parent : NULL;

    if (parent
        && (!strcasecmp(parent->directive, "<LocationMatch")
            || (!strcasecmp(parent->directive, "<Location") && parent->args
                && parent->args[0] == '~'))) {
        return apr_psprintf(cmd->pool,
                            "%s: S3 directives need a <Location> with a plain path (keys are the "
                            "path below it), not a regular expression",
                            cmd->cmd->name);
    }
    if (parent && !strcasecmp(parent->directive, "<Location") && cmd->path) {
        c->location = s3_conf_location(cmd->path, cmd->pool);
    }
    return NULL;
}

/* A string field (cmd->info: its offset). */
static const char *set_string(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = note_location(cmd, dc);

    return err ? err : ap_set_string_slot(cmd, dc, arg);
}

/* A path relative to the ServerRoot (cmd->info: the field's offset). */
static const char *set_path(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = note_location(cmd, dc);

    return err ? err : ap_set_file_slot(cmd, dc, arg);
}

/* An On/Off field (cmd->info: its offset). */
static const char *set_flag(cmd_parms *cmd, void *dc, int on)
{
    const char *err = note_location(cmd, dc);

    return err ? err : ap_set_flag_slot(cmd, dc, on);
}

/* A value that a core parser reads (cmd->info: its s3_conf_set_fn). */
static const char *set_parsed(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_conf_set_fn *set = (s3_conf_set_fn *)cmd->info;
    const char *why = note_location(cmd, dc);

    if (!why && set(dc, &why, arg, cmd->pool) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

static const char *set_credentials(cmd_parms *cmd, void *dc, const char *kind, const char *arg)
{
    const char *why = note_location(cmd, dc);

    if (!why
        && s3_conf_set_credentials(dc, &why, kind, arg, ap_server_root, cmd->pool) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

static const char *set_download(cmd_parms *cmd, void *dc, const char *mode, const char *status)
{
    const char *why = note_location(cmd, dc);

    if (!why && s3_conf_set_download(dc, &why, mode, status, cmd->pool) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

static const char *set_fallback_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *why = note_location(cmd, dc);

    if (!why && s3_conf_set_fallback_dir(dc, &why, arg, ap_server_root, cmd->pool) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

/* Whether a section has S3FallbackCopy On: set while the configuration is read (one thread),
 * reset in pre_config; the copier thread is made only where some section copies. */
static int copy_configured;

int s3_copy_configured(int reset)
{
    if (reset) {
        copy_configured = 0;
    }
    return copy_configured;
}

static const char *set_fallback_copy(cmd_parms *cmd, void *dc, int on)
{
    const char *err = set_flag(cmd, dc, on);

    if (!err && on) {
        copy_configured = 1;
    }
    return err;
}

static const char *set_token_secret(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *secret, *why = note_location(cmd, dc);

    if (!why && !(why = mod_lf_secret(&secret, cmd, arg))
        && s3_conf_set_token_secret(dc, &why, secret) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

static const char *set_memory_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_srv_conf *c = ap_get_module_config(cmd->server->module_config, &s3_module);
    const char *why = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dc;
    if (!why && s3_conf_set_memory_limit(c, &why, arg, cmd->pool) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

/* S3CloudFrontKey ID FILE: the key is read now, so a bad file stops startup at its line. */
static const char *set_cf_key(cmd_parms *cmd, void *dc, const char *id, const char *file)
{
    const char *path, *why = note_location(cmd, dc);

    if (why) {
        return why;
    }
    if (!(path = ap_server_root_relative(cmd->pool, file))) {
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", S3_CF_KEY, file);
    }
    return s3_conf_add_cf_key(dc, &why, id, path, cmd->pool) == APR_SUCCESS ? NULL : why;
}

/* cmd->info of set_string, set_path and set_flag: the field; of set_parsed: its parser (a
 * function pointer as void *, which POSIX guarantees, as for dlsym()). */
#define FIELD(f)  (void *)APR_OFFSETOF(s3_dir_conf, f)
#define PARSER(f) (void *)(f)

const command_rec s3_cmds[] = {
    AP_INIT_TAKE1(S3_BUCKET, set_string, FIELD(bucket), RSRC_CONF | ACCESS_CONF, "The bucket"),
    AP_INIT_TAKE1(S3_REGION, set_string, FIELD(region), RSRC_CONF | ACCESS_CONF,
                  "The bucket's region"),
    AP_INIT_TAKE1(S3_ENDPOINT, set_parsed, PARSER(s3_conf_set_endpoint), RSRC_CONF | ACCESS_CONF,
                  "The S3 endpoint URL (default https://s3.<region>.amazonaws.com)"),
    AP_INIT_TAKE1(S3_ADDRESSING, set_parsed, PARSER(s3_conf_set_addressing),
                  RSRC_CONF | ACCESS_CONF, "path, virtual or auto"),
    AP_INIT_TAKE1(S3_KEY_PREFIX, set_parsed, PARSER(s3_conf_set_key_prefix),
                  RSRC_CONF | ACCESS_CONF, "Prefix of the keys this location maps"),
    AP_INIT_TAKE12(S3_CREDENTIALS, set_credentials, NULL, RSRC_CONF | ACCESS_CONF,
                   "default | keyfile PATH | profile NAME"),
    AP_INIT_TAKE1(S3_CA_FILE, set_path, FIELD(ca_file), RSRC_CONF | ACCESS_CONF,
                  "CA bundle for the endpoint's TLS certificate"),
    AP_INIT_TAKE1(S3_PAYLOAD_SIGNING, set_parsed, PARSER(s3_conf_set_payload_signing),
                  RSRC_CONF | ACCESS_CONF,
                  "Upload bodies signed with their SHA-256 (on), sent with a CRC32 (off), or "
                  "auto: off over https"),
    AP_INIT_TAKE1(S3_CONNECT_TIMEOUT, set_parsed, PARSER(s3_conf_set_connect_timeout),
                  RSRC_CONF | ACCESS_CONF, "Connect timeout to S3"),
    AP_INIT_TAKE1(S3_TIMEOUT, set_parsed, PARSER(s3_conf_set_timeout), RSRC_CONF | ACCESS_CONF,
                  "Timeout of an S3 request; for streams, of a stall"),
    AP_INIT_TAKE1(S3_ATTEMPTS, set_parsed, PARSER(s3_conf_set_attempts), RSRC_CONF | ACCESS_CONF,
                  "Attempts per S3 request that is safe to repeat"),
    AP_INIT_TAKE12(S3_DOWNLOAD, set_download, NULL, RSRC_CONF | ACCESS_CONF,
                   "stream | redirect [302|307] | off"),
    AP_INIT_TAKE1(S3_REDIRECT_EXPIRES, set_parsed, PARSER(s3_conf_set_redirect_expires),
                  RSRC_CONF | ACCESS_CONF, "Lifetime of presigned redirect URLs"),
    AP_INIT_TAKE1(S3_DISPOSITION, set_parsed, PARSER(s3_conf_set_disposition),
                  RSRC_CONF | ACCESS_CONF,
                  "Content-Disposition of downloads: none, attachment or inline"),
    AP_INIT_ITERATE(S3_EXPOSE_META, set_parsed, PARSER(s3_conf_add_expose_meta),
                    RSRC_CONF | ACCESS_CONF, "x-amz-meta-* headers passed to clients"),
    AP_INIT_FLAG(S3_HAND_OFF, set_flag, FIELD(hand_off), RSRC_CONF | ACCESS_CONF,
                 "Replace responses carrying X-S3-Key with the object"),
    AP_INIT_FLAG(S3_UPLOAD, set_flag, FIELD(upload), RSRC_CONF | ACCESS_CONF,
                 "Accept PUT and form uploads"),
    AP_INIT_TAKE1(S3_UPLOAD_TOKEN_KEY, set_token_secret, NULL, RSRC_CONF | ACCESS_CONF,
                  "Secret of upload tokens (file:PATH or env:NAME)"),
    AP_INIT_FLAG(S3_UPLOAD_REQUIRE_USER, set_flag, FIELD(require_user), RSRC_CONF | ACCESS_CONF,
                 "Uploads need a user authenticated by httpd"),
    AP_INIT_TAKE1(S3_MAX_UPLOAD_SIZE, set_parsed, PARSER(s3_conf_set_max_upload),
                  RSRC_CONF | ACCESS_CONF, "Largest upload accepted"),
    AP_INIT_RAW_ARGS(S3_ALLOWED_TYPES, set_parsed, PARSER(s3_conf_set_allowed_types),
                     RSRC_CONF | ACCESS_CONF, "Content types accepted for uploads"),
    AP_INIT_TAKE1(S3_PART_SIZE, set_parsed, PARSER(s3_conf_set_part_size), RSRC_CONF | ACCESS_CONF,
                  "Multipart part size (and the single-PUT threshold)"),
    AP_INIT_TAKE1(S3_SPOOL_MEMORY, set_parsed, PARSER(s3_conf_set_spool_memory),
                  RSRC_CONF | ACCESS_CONF,
                  "Memory per upload for spooling a part before a temp file"),
    AP_INIT_TAKE1(S3_MEMORY_LIMIT, set_memory_limit, NULL, RSRC_CONF,
                  "Spool memory of all uploads of the server"),
    AP_INIT_TAKE1(S3_TEMP_DIR, set_path, FIELD(temp_dir), RSRC_CONF | ACCESS_CONF,
                  "Directory for spool files"),
    AP_INIT_FLAG(S3_NO_OVERWRITE, set_flag, FIELD(no_overwrite), RSRC_CONF | ACCESS_CONF,
                 "Refuse uploads onto existing keys (412)"),
    AP_INIT_TAKE1(S3_FORM_REDIRECT, set_string, FIELD(form_redirect), RSRC_CONF | ACCESS_CONF,
                  "Answer form uploads with a 303 to this URL"),
    AP_INIT_FLAG(S3_ALLOW_ENCODED_SLASHES, set_flag, FIELD(encoded_slashes),
                 RSRC_CONF | ACCESS_CONF, "Allow %2F in keys"),
    /* CloudFront signed URLs */
    AP_INIT_TAKE1(S3_CF_DOMAIN, set_parsed, PARSER(s3_conf_set_cf_domain), RSRC_CONF | ACCESS_CONF,
                  "Redirect to signed URLs of this CloudFront distribution"),
    AP_INIT_TAKE2(S3_CF_KEY, set_cf_key, NULL, RSRC_CONF | ACCESS_CONF,
                  "CloudFront public key id and the PEM file of its private key (the first "
                  "signs; a second is checked, for rotation)"),
    AP_INIT_TAKE1(S3_CF_ALLOW_IP, set_parsed, PARSER(s3_conf_set_cf_allow_ip),
                  RSRC_CONF | ACCESS_CONF, "Custom policy: signed URLs valid only from this CIDR"),
    /* the move of an old upload directory */
    AP_INIT_TAKE1(S3_FALLBACK_DIRECTORY, set_fallback_dir, NULL, RSRC_CONF | ACCESS_CONF,
                  "Serve keys S3 does not have from this directory (off: none)"),
    AP_INIT_FLAG(S3_FALLBACK_COPY, set_fallback_copy, FIELD(fallback_copy), RSRC_CONF | ACCESS_CONF,
                 "Copy files served from S3FallbackDirectory into S3"),
    {NULL},
};

/* --- runtimes: credentials, transport and client per bucket setting ------------------------ */

/* Set in post_config (every generation), before the children fork. */
static s3_runtimes_t *runtimes;

s3_runtime *s3_runtime_get(request_rec *r, const s3_dir_conf *conf)
{
    const char *why = "unknown error";
    s3_runtime *rt;

    if (s3_runtimes_get(&rt, &why, runtimes, conf, r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(02001) "bucket %s: cannot set up S3 access: %s", conf->bucket, why);
        return NULL;
    }
    return rt;
}

apr_status_t s3_runtimes_init(apr_pool_t *pconf)
{
    return s3_runtimes_create(&runtimes, pconf);
}

s3_runtime *s3_runtime_of_bucket(const char *bucket, apr_pool_t *p)
{
    return s3_runtimes_of_bucket(runtimes, bucket, p);
}

/* --- shared memory accounting ------------------------------------------------------------ */

/* In shared memory: the spool bytes each child has reserved (s3_memacct.c), so that a child
 * killed during an upload takes its reservations with it. Set in post_config, before the
 * children fork; read-only pointers afterwards. */
static s3_memacct_t *memory;
static apr_off_t memory_cap;

apr_status_t s3_memory_reserve(int *slot, apr_off_t bytes)
{
    return s3_memacct_reserve(slot, memory, (apr_int64_t)getpid(), (apr_uint64_t)bytes,
                              (apr_uint64_t)memory_cap, s3_memacct_pid_alive);
}

void s3_memory_release(int slot, apr_off_t bytes)
{
    s3_memacct_release(memory, slot, (apr_uint64_t)bytes);
}

/* Slots of the accounting: one per child process httpd may run at once (ServerLimit, which a
 * restart does not change), twice over, since two threads of a process may each take one. */
static int memory_slots(void)
{
    int limit = 0;

    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit < 1) {
        limit = 256;
    }
    return 2 * limit;
}

/* --- request helpers --------------------------------------------------------------------- */

int s3_log_failure(request_rec *r, const char *what, const char *key, apr_status_t rv,
                   const aws_http_response_t *resp)
{
    int status = s3_client_status(rv, resp);
    int level = status == 404 || status == 304 || status == 412 || status == 416 ? APLOG_DEBUG
                : status == 403                                                  ? APLOG_ERR
                                                                                 : APLOG_WARNING;

    if (resp && resp->cancelled) {
        return HTTP_BAD_REQUEST; /* the client went away or sent a bad body: logged there */
    }
    if (resp && resp->error) {
        ap_log_rerror(APLOG_MARK, level, 0, r,
                      LFLOGNO(02002) "%s %s: S3 answered %d %s: %s (request id %s)", what, key,
                      resp->status, resp->error->code,
                      resp->error->message ? resp->error->message : "-",
                      resp->error->request_id ? resp->error->request_id : "-");
    }
    else if (resp && resp->transport_error) {
        /* The sentence is the cause (curl's, or the credentials provider's); rv was only
         * derived from it. */
        ap_log_rerror(APLOG_MARK, level, 0, r, LFLOGNO(02003) "%s %s: no answer from S3: %s", what,
                      key, resp->transport_error);
    }
    else {
        ap_log_rerror(APLOG_MARK, level, lf_log_status(rv), r,
                      LFLOGNO(02004) "%s %s: S3 answered %d", what, key, resp ? resp->status : 0);
    }
    return status;
}

int s3_request_key(const char **key, request_rec *r, const s3_dir_conf *conf)
{
    const char *raw = r->parsed_uri.path ? r->parsed_uri.path : r->uri, *why;

    /* The path as the client sent it: httpd's normalization would merge "a//b" (a key of its
     * own in S3) and resolve "a/%2e%2e/b" into another key instead of refusing it. */
    if (r->unparsed_uri && r->unparsed_uri[0] == '/') {
        raw = apr_pstrmemdup(r->pool, r->unparsed_uri, strcspn(r->unparsed_uri, "?#"));
    }
    if (s3_key_below_location(&raw, raw, conf->location) != APR_SUCCESS) {
        return HTTP_NOT_FOUND;
    }
    if (s3_key_from_path(key, &why, conf->key_prefix, raw, conf->encoded_slashes, r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, LFLOGNO(02005) "refusing the key of %s: %s",
                      r->uri, why);
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

/* --- hand-off: which configuration counts ---------------------------------------------------
 *
 * An application behind a front controller (Symfony's index.php) answers URLs that are not its
 * own, and httpd serves such a request with the front controller's configuration: S3HandOff in
 * the <Location> of the route's URL (/download) is not what the final request sees. What each
 * routing does, as measured with Apache 2.4 (tests/integration/test_051_*):
 *  - FallbackResource /index.php (mod_dir, in a fixup), also below an Alias to the application's
 *    directory: ap_internal_fast_redirect(). The same request_rec goes on with r->uri =
 *    "/index.php" and /index.php's r->per_dir_config; there is no r->prev; r->parsed_uri,
 *    r->unparsed_uri and r->request_config stay the client's.
 *  - RewriteRule in a <Directory> or .htaccess: the client's request ends in mod_rewrite's
 *    redirect-handler, whose ap_internal_redirect() makes a new request with r->prev = the
 *    client's (which keeps its r->per_dir_config, <Location /download> included) and r->uri =
 *    r->unparsed_uri = "/index.php".
 *  - RewriteRule at server level with [PT]: r->uri is "/index.php" from translate_name on, so
 *    the location walk after it misses <Location /download>; no r->prev.
 *  - RewriteRule at server level without [PT], or an Alias straight to the front controller:
 *    only r->filename changes; r->uri stays, and <Location /download> applies as it is.
 * In every case httpd walks the <Location> sections of the client's URL just before
 * translate_name (ap_process_request_internal), before any module rewrites it: the hook below
 * notes the S3 configuration seen there in the request that the client sent (the first of the
 * r->prev chain), which the hand-off filter then asks first. */

/* S3 settings of the client's URL, kept when they say anything about S3HandOff. */
int s3_note_client_conf(request_rec *r)
{
    s3_dir_conf *c;

    if (r->main || r->prev) {
        return DECLINED; /* not what the client asked for */
    }
    c = ap_get_module_config(r->per_dir_config, &s3_module);
    if (c && c->hand_off != LF_UNSET) {
        ap_set_module_config(r->request_config, &s3_module, c);
    }
    return DECLINED;
}

/* The request the client sent: the first of the internal-redirect chain. */
static const request_rec *client_request(const request_rec *r)
{
    while (r->prev) {
        r = r->prev;
    }
    return r;
}

/* The client's URL path, decoded (r->uri may have been rewritten). */
static const char *client_path(const request_rec *first)
{
    return first->parsed_uri.path ? first->parsed_uri.path : first->uri;
}

const s3_dir_conf *s3_handoff_conf(const char **section, request_rec *r)
{
    const request_rec *first = client_request(r);
    const s3_dir_conf *seen[3];
    const char *where[3];
    int settings[3], i;

    /* most authoritative first: the <Location> sections of the client's URL, everything that
     * applied to the client's request, then what serves the response */
    seen[0] = ap_get_module_config(first->request_config, &s3_module);
    where[0] = client_path(first);
    seen[1] = ap_get_module_config(first->per_dir_config, &s3_module);
    where[1] = first->uri;
    seen[2] = ap_get_module_config(r->per_dir_config, &s3_module);
    where[2] = r->uri;
    for (i = 0; i < 3; ++i) {
        settings[i] = seen[i] ? seen[i]->hand_off : LF_UNSET;
    }
    if ((i = s3_handoff_decide(settings, 3)) < 0) {
        return NULL;
    }
    *section = where[i];
    return s3_conf_effective(seen[i], r->pool);
}

const char *s3_handoff_client_path(request_rec *r)
{
    return client_path(client_request(r));
}

/* --- startup checks --------------------------------------------------------------------- */

/* What is wrong with a section's configuration (s3_conf_check()), or NULL. With @p keep, its
 * runtime is made and kept (for the mod_health check, which knows buckets by name); else made in
 * @p p to see that it can be. */
static const char *check_section(const s3_dir_conf *c, int keep, apr_pool_t *p)
{
    const char *why = NULL;
    s3_runtime *rt;

    if (s3_conf_check(&why, c, p) != APR_SUCCESS) {
        return why;
    }
    if (c->bucket
        && (keep ? s3_runtimes_get(&rt, &why, runtimes, c, p) : s3_runtime_create(&rt, &why, c, p))
               != APR_SUCCESS) {
        return apr_psprintf(p, "%s %s: %s", S3_BUCKET, c->bucket, why);
    }
    return NULL;
}

/* Check every <Location> and <Directory> section, each as merged onto its server's defaults
 * (what a request in it sees, unless sections nest). */
const char *s3_check_sections(server_rec *main, int keep, apr_pool_t *p)
{
    server_rec *s;
    const char *err;
    int i, j;

    for (s = main; s; s = s->next) {
        core_server_config *core = ap_get_core_module_config(s->module_config);
        const apr_array_header_t *lists[2] = {core->sec_url, core->sec_dir};
        void *base = ap_get_module_config(s->lookup_defaults, &s3_module);
        if ((err = check_section(s3_conf_effective(base, p), keep, p))) {
            return err;
        }
        for (j = 0; j < 2; ++j) {
            for (i = 0; lists[j] && i < lists[j]->nelts; ++i) {
                ap_conf_vector_t *v = APR_ARRAY_IDX(lists[j], i, ap_conf_vector_t *);
                void *dc = ap_get_module_config(v, &s3_module);
                if (dc
                    && (err = check_section(s3_conf_effective(s3_conf_merge(base, dc, p), p), keep,
                                            p))) {
                    return err;
                }
            }
        }
    }
    return NULL;
}

apr_status_t s3_memory_attach(server_rec *s)
{
    apr_status_t rv;

    void *base;
    mod_lf_shm_e how;

    /* one slot per process that may reserve (s3_memacct), kept across graceful restarts while
     * their number stays the same */
    rv = mod_lf_shm_attach(&base, &how, S3_SHM_KEY, s3_memacct_size(memory_slots()),
                           (apr_uint64_t)memory_slots(), s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    memory = how == MOD_LF_SHM_KEPT ? base : s3_memacct_init(base, memory_slots());
    memory_cap = s3_memory_limit(s);
    return APR_SUCCESS;
}
