/* mod_s3_config — mod_s3's configuration (see mod_s3.c for the module): the directives, the
 * per-directory and per-server configs and the settings a request sees, which configuration a
 * hand-off uses, the startup checks of every section, the per-bucket runtimes (credentials,
 * transport and client), the shared-memory accounting of spool memory, and the helpers every
 * request path uses (the key of a request, logging a failure). The other glue files depend on
 * this one, never the other way round.
 */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
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
#include "lf_parse.h"
#include "s3_handoff.h"
#include "s3_key.h"
#include "s3_memacct.h"
#include "s3_mime.h"
#include "mod_s3_config.h"

APLOG_USE_MODULE(s3);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define S3_SHM_KEY "lampfarm:s3"

/* The defaults, applied when a value is read (httpd never merges the main server's own). */
static const s3_dir_conf defaults = {
    NULL,                  /* location: the whole URL path names the key */
    NULL,                  /* bucket: none, the handler answers 500 */
    "us-east-1",           /* region */
    NULL,                  /* endpoint: https://s3.<region>.amazonaws.com */
    2,                     /* path_style: auto */
    "",                    /* key_prefix */
    "default",             /* creds_kind: the SDK chain, ending with the instance role */
    NULL,                  /* creds_arg */
    NULL,                  /* ca_file: the system's store */
    S3_PAYLOAD_AUTO,       /* payload: CRC32 over https, SHA-256 signed over http */
    3 * APR_USEC_PER_SEC,  /* connect_timeout */
    30 * APR_USEC_PER_SEC, /* timeout: whole requests other than streams */
    3,                     /* attempts */
    S3_DL_STREAM,          /* download */
    302,                   /* redirect_status */
    300,                   /* redirect_expires: 5 minutes */
    "none",                /* disposition: what S3 stored */
    NULL,                  /* expose_meta: no x-amz-meta-* reaches clients */
    0,                     /* hand_off */
    0,                     /* upload: writes are off */
    NULL,                  /* token_secret */
    0,                     /* require_user */
    (apr_off_t)5 << 30,    /* max_upload: 5 GiB, S3's single-PUT limit */
    NULL,                  /* allowed_types: any */
    (apr_off_t)8 << 20,    /* part_size: 8 MiB, what the AWS CLI uses */
    (apr_off_t)8 << 20,    /* spool_memory: one part in memory, then a temp file */
    NULL,                  /* temp_dir: the system's */
    0,                     /* no_overwrite */
    NULL,                  /* form_redirect: answer JSON */
    0,                     /* encoded_slashes */
};

static const s3_srv_conf srv_defaults = {
    (apr_off_t)256 << 20, /* memory_limit: 256 MiB of spool memory for all uploads */
};

/* --- configuration ---------------------------------------------------------------------- */

void *s3_create_dir_conf(apr_pool_t *p, char *dir)
{
    s3_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->path_style = LF_UNSET;
    c->payload = LF_UNSET;
    c->connect_timeout = LF_UNSET;
    c->timeout = LF_UNSET;
    c->attempts = LF_UNSET;
    c->download = S3_DL_UNSET;
    c->redirect_status = LF_UNSET;
    c->redirect_expires = LF_UNSET;
    c->hand_off = LF_UNSET;
    c->upload = LF_UNSET;
    c->require_user = LF_UNSET;
    c->max_upload = LF_UNSET;
    c->part_size = LF_UNSET;
    c->spool_memory = LF_UNSET;
    c->no_overwrite = LF_UNSET;
    c->encoded_slashes = LF_UNSET;
    return c;
}

void *s3_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    s3_dir_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->location = LF_MERGE(add, base, location, NULL);
    n->bucket = LF_MERGE(add, base, bucket, NULL);
    n->region = LF_MERGE(add, base, region, NULL);
    n->endpoint = LF_MERGE(add, base, endpoint, NULL);
    n->path_style = LF_MERGE(add, base, path_style, LF_UNSET);
    n->key_prefix = LF_MERGE(add, base, key_prefix, NULL);
    n->creds_kind = LF_MERGE(add, base, creds_kind, NULL);
    n->creds_arg = add->creds_kind ? add->creds_arg : base->creds_arg;
    n->ca_file = LF_MERGE(add, base, ca_file, NULL);
    n->payload = LF_MERGE(add, base, payload, LF_UNSET);
    n->connect_timeout = LF_MERGE(add, base, connect_timeout, LF_UNSET);
    n->timeout = LF_MERGE(add, base, timeout, LF_UNSET);
    n->attempts = LF_MERGE(add, base, attempts, LF_UNSET);
    n->download = LF_MERGE(add, base, download, S3_DL_UNSET);
    n->redirect_status = LF_MERGE(add, base, redirect_status, LF_UNSET);
    n->redirect_expires = LF_MERGE(add, base, redirect_expires, LF_UNSET);
    n->disposition = LF_MERGE(add, base, disposition, NULL);
    n->expose_meta = LF_MERGE(add, base, expose_meta, NULL);
    n->hand_off = LF_MERGE(add, base, hand_off, LF_UNSET);
    n->upload = LF_MERGE(add, base, upload, LF_UNSET);
    n->token_secret = LF_MERGE(add, base, token_secret, NULL);
    n->require_user = LF_MERGE(add, base, require_user, LF_UNSET);
    n->max_upload = LF_MERGE(add, base, max_upload, LF_UNSET);
    n->allowed_types = LF_MERGE(add, base, allowed_types, NULL);
    n->part_size = LF_MERGE(add, base, part_size, LF_UNSET);
    n->spool_memory = LF_MERGE(add, base, spool_memory, LF_UNSET);
    n->temp_dir = LF_MERGE(add, base, temp_dir, NULL);
    n->no_overwrite = LF_MERGE(add, base, no_overwrite, LF_UNSET);
    n->form_redirect = LF_MERGE(add, base, form_redirect, NULL);
    n->encoded_slashes = LF_MERGE(add, base, encoded_slashes, LF_UNSET);
    return n;
}

/* The configuration with every default applied, in one place. */
static s3_dir_conf *effective(const s3_dir_conf *c, apr_pool_t *p)
{
    s3_dir_conf *e = apr_pmemdup(p, c, sizeof(*c));

    e->location = c->location;
    e->region = LF_DEFAULT(c, defaults, region, NULL);
    e->path_style = LF_DEFAULT(c, defaults, path_style, LF_UNSET);
    e->key_prefix = LF_DEFAULT(c, defaults, key_prefix, NULL);
    e->creds_kind = LF_DEFAULT(c, defaults, creds_kind, NULL);
    e->payload = LF_DEFAULT(c, defaults, payload, LF_UNSET);
    e->connect_timeout = LF_DEFAULT(c, defaults, connect_timeout, LF_UNSET);
    e->timeout = LF_DEFAULT(c, defaults, timeout, LF_UNSET);
    e->attempts = LF_DEFAULT(c, defaults, attempts, LF_UNSET);
    e->download = LF_DEFAULT(c, defaults, download, S3_DL_UNSET);
    e->redirect_status = LF_DEFAULT(c, defaults, redirect_status, LF_UNSET);
    e->redirect_expires = LF_DEFAULT(c, defaults, redirect_expires, LF_UNSET);
    e->disposition = LF_DEFAULT(c, defaults, disposition, NULL);
    e->hand_off = LF_DEFAULT(c, defaults, hand_off, LF_UNSET);
    e->upload = LF_DEFAULT(c, defaults, upload, LF_UNSET);
    e->require_user = LF_DEFAULT(c, defaults, require_user, LF_UNSET);
    e->max_upload = LF_DEFAULT(c, defaults, max_upload, LF_UNSET);
    e->part_size = LF_DEFAULT(c, defaults, part_size, LF_UNSET);
    e->spool_memory = LF_DEFAULT(c, defaults, spool_memory, LF_UNSET);
    e->no_overwrite = LF_DEFAULT(c, defaults, no_overwrite, LF_UNSET);
    e->encoded_slashes = LF_DEFAULT(c, defaults, encoded_slashes, LF_UNSET);
    return e;
}

const s3_dir_conf *s3_conf(request_rec *r)
{
    return effective(ap_get_module_config(r->per_dir_config, &s3_module), r->pool);
}

void *s3_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    s3_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->memory_limit = LF_UNSET;
    return c;
}

apr_off_t s3_memory_limit(server_rec *s)
{
    const s3_srv_conf *c = ap_get_module_config(s->module_config, &s3_module);

    return c->memory_limit != LF_UNSET ? c->memory_limit : srv_defaults.memory_limit;
}

/* --- directives ------------------------------------------------------------------------- */

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
        apr_size_t n = strlen(cmd->path);
        c->location =
            n && cmd->path[n - 1] == '/' ? apr_pstrmemdup(cmd->pool, cmd->path, n - 1) : cmd->path;
    }
    return NULL;
}

static const char *set_string(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;
    const char *name = cmd->cmd->name;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (!strcmp(name, S3_BUCKET)) {
        c->bucket = arg;
    }
    else if (!strcmp(name, S3_REGION)) {
        c->region = arg;
    }
    else if (!strcmp(name, S3_ENDPOINT)) {
        if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not an http:// or https:// URL", name, arg);
        }
        c->endpoint = arg;
    }
    else if (!strcmp(name, S3_KEY_PREFIX)) {
        if (arg[0] == '/' || strstr(arg, "..")) {
            return apr_psprintf(cmd->pool, "%s: '%s' must not start with '/' or hold '..'", name,
                                arg);
        }
        c->key_prefix = arg;
    }
    else if (!strcmp(name, S3_CA_FILE)) {
        c->ca_file = ap_server_root_relative(cmd->pool, arg);
    }
    else if (!strcmp(name, S3_TEMP_DIR)) {
        c->temp_dir = ap_server_root_relative(cmd->pool, arg);
    }
    else if (!strcmp(name, S3_FORM_REDIRECT)) {
        c->form_redirect = arg;
    }
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, void *dc, int on)
{
    s3_dir_conf *c = dc;
    const char *err;
    const char *name = cmd->cmd->name;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (!strcmp(name, S3_HAND_OFF)) {
        c->hand_off = on;
    }
    else if (!strcmp(name, S3_UPLOAD)) {
        c->upload = on;
    }
    else if (!strcmp(name, S3_UPLOAD_REQUIRE_USER)) {
        c->require_user = on;
    }
    else if (!strcmp(name, S3_NO_OVERWRITE)) {
        c->no_overwrite = on;
    }
    else if (!strcmp(name, S3_ALLOW_ENCODED_SLASHES)) {
        c->encoded_slashes = on;
    }
    return NULL;
}

static const char *set_addressing(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (!strcasecmp(arg, "path")) {
        c->path_style = 1;
    }
    else if (!strcasecmp(arg, "virtual")) {
        c->path_style = 0;
    }
    else if (!strcasecmp(arg, "auto")) {
        c->path_style = 2;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not path, virtual or auto", S3_ADDRESSING, arg);
    }
    return NULL;
}

static const char *set_payload_signing(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        c->payload = S3_PAYLOAD_AUTO;
    }
    else if (!strcasecmp(arg, "on")) {
        c->payload = S3_PAYLOAD_SIGNED;
    }
    else if (!strcasecmp(arg, "off")) {
        c->payload = S3_PAYLOAD_CRC32;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not auto, on or off", S3_PAYLOAD_SIGNING, arg);
    }
    return NULL;
}

static const char *set_credentials(cmd_parms *cmd, void *dc, const char *kind, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (aws_creds_source_conf(&c->creds_kind, &c->creds_arg, kind, arg, ap_server_root, cmd->pool)
        != APR_SUCCESS) {
        return S3_CREDENTIALS ": " AWS_CREDS_SOURCE_SYNTAX;
    }
    return NULL;
}

static const char *set_duration(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;
    const char *name = cmd->cmd->name;
    apr_interval_time_t t;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (lf_parse_duration(&t, arg, "s") != APR_SUCCESS || t <= 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration such as 30s or 500ms", name,
                            arg);
    }
    if (!strcmp(name, S3_CONNECT_TIMEOUT)) {
        c->connect_timeout = t;
    }
    else if (!strcmp(name, S3_TIMEOUT)) {
        c->timeout = t;
    }
    else if (!strcmp(name, S3_REDIRECT_EXPIRES)) {
        if (t < APR_USEC_PER_SEC || apr_time_sec(t) > 604800) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not between 1s and 7 days", name, arg);
        }
        c->redirect_expires = apr_time_sec(t);
    }
    return NULL;
}

static const char *set_attempts(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (lf_parse_int(&c->attempts, arg, 1, 10) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to 10", S3_ATTEMPTS, arg);
    }
    return NULL;
}

static const char *set_size(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;
    const char *name = cmd->cmd->name;
    apr_off_t n;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (lf_parse_size(&n, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size such as 512K, 8M or 1G", name, arg);
    }
    if (!strcmp(name, S3_MAX_UPLOAD_SIZE)) {
        /* Multipart: 10,000 parts of up to 5 GiB; S3 caps objects at 5 TiB. */
        if (n < 1 || n > ((apr_off_t)5 << 40)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not between 1 byte and 5T", name, arg);
        }
        c->max_upload = n;
    }
    else if (!strcmp(name, S3_PART_SIZE)) {
        if (n < ((apr_off_t)5 << 20) || n > ((apr_off_t)5 << 30)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is outside S3's part sizes (5M to 5G)", name,
                                arg);
        }
        c->part_size = n;
    }
    else if (!strcmp(name, S3_SPOOL_MEMORY)) {
        if (n > ((apr_off_t)1 << 30)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is over 1G", name, arg);
        }
        c->spool_memory = n;
    }
    return NULL;
}

static const char *set_memory_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_srv_conf *c = ap_get_module_config(cmd->server->module_config, &s3_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dc;
    if (err) {
        return err;
    }
    if (lf_parse_size(&c->memory_limit, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size such as 256M", S3_MEMORY_LIMIT, arg);
    }
    return NULL;
}

static const char *set_download(cmd_parms *cmd, void *dc, const char *mode, const char *status)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (!strcasecmp(mode, "stream") && !status) {
        c->download = S3_DL_STREAM;
    }
    else if (!strcasecmp(mode, "off") && !status) {
        c->download = S3_DL_OFF;
    }
    else if (!strcasecmp(mode, "redirect")) {
        c->download = S3_DL_REDIRECT;
        c->redirect_status = 302;
        if (status && lf_parse_int(&c->redirect_status, status, 302, 307) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: redirect status '%s' is not 302 or 307",
                                S3_DOWNLOAD, status);
        }
        if (c->redirect_status != 302 && c->redirect_status != 307) {
            return apr_psprintf(cmd->pool, "%s: redirect status '%s' is not 302 or 307",
                                S3_DOWNLOAD, status);
        }
    }
    else {
        return apr_psprintf(cmd->pool, "%s: expected 'stream', 'redirect [302|307]' or 'off'",
                            S3_DOWNLOAD);
    }
    return NULL;
}

static const char *set_disposition(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (strcasecmp(arg, "none") && strcasecmp(arg, "attachment") && strcasecmp(arg, "inline")) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not none, attachment or inline", S3_DISPOSITION,
                            arg);
    }
    c->disposition = apr_pstrdup(cmd->pool, arg);
    ap_str_tolower((char *)c->disposition);
    return NULL;
}

static const char *add_expose_meta(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;
    char *name = apr_pstrdup(cmd->pool, arg);
    const char *s;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    ap_str_tolower(name);
    if (strncmp(name, "x-amz-meta-", 11)) {
        name = apr_pstrcat(cmd->pool, "x-amz-meta-", name, NULL);
    }
    for (s = name; *s; ++s) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_') {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a header name", S3_EXPOSE_META, arg);
        }
    }
    if (!c->expose_meta) {
        c->expose_meta = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->expose_meta, const char *) = name;
    return NULL;
}

static const char *set_token_secret(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if ((err = mod_lf_secret(&c->token_secret, cmd, arg))) {
        return err;
    }
    if (strlen(c->token_secret) < 16) {
        return apr_psprintf(cmd->pool, "%s: the secret is shorter than 16 bytes",
                            S3_UPLOAD_TOKEN_KEY);
    }
    return NULL;
}

static const char *set_allowed_types(cmd_parms *cmd, void *dc, const char *arg)
{
    s3_dir_conf *c = dc;
    const char *why, *err;

    if ((err = note_location(cmd, c))) {
        return err;
    }
    if (s3_mime_parse_list(&c->allowed_types, &why, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", S3_ALLOWED_TYPES, why);
    }
    return NULL;
}

const command_rec s3_cmds[] = {
    AP_INIT_TAKE1(S3_BUCKET, set_string, NULL, RSRC_CONF | ACCESS_CONF, "The bucket"),
    AP_INIT_TAKE1(S3_REGION, set_string, NULL, RSRC_CONF | ACCESS_CONF, "The bucket's region"),
    AP_INIT_TAKE1(S3_ENDPOINT, set_string, NULL, RSRC_CONF | ACCESS_CONF,
                  "The S3 endpoint URL (default https://s3.<region>.amazonaws.com)"),
    AP_INIT_TAKE1(S3_ADDRESSING, set_addressing, NULL, RSRC_CONF | ACCESS_CONF,
                  "path, virtual or auto"),
    AP_INIT_TAKE1(S3_KEY_PREFIX, set_string, NULL, RSRC_CONF | ACCESS_CONF,
                  "Prefix of the keys this location maps"),
    AP_INIT_TAKE12(S3_CREDENTIALS, set_credentials, NULL, RSRC_CONF | ACCESS_CONF,
                   "default | keyfile PATH | profile NAME"),
    AP_INIT_TAKE1(S3_CA_FILE, set_string, NULL, RSRC_CONF | ACCESS_CONF,
                  "CA bundle for the endpoint's TLS certificate"),
    AP_INIT_TAKE1(S3_PAYLOAD_SIGNING, set_payload_signing, NULL, RSRC_CONF | ACCESS_CONF,
                  "Upload bodies signed with their SHA-256 (on), sent with a CRC32 (off), or "
                  "auto: off over https"),
    AP_INIT_TAKE1(S3_CONNECT_TIMEOUT, set_duration, NULL, RSRC_CONF | ACCESS_CONF,
                  "Connect timeout to S3"),
    AP_INIT_TAKE1(S3_TIMEOUT, set_duration, NULL, RSRC_CONF | ACCESS_CONF,
                  "Timeout of an S3 request; for streams, of a stall"),
    AP_INIT_TAKE1(S3_ATTEMPTS, set_attempts, NULL, RSRC_CONF | ACCESS_CONF,
                  "Attempts per S3 request that is safe to repeat"),
    AP_INIT_TAKE12(S3_DOWNLOAD, set_download, NULL, RSRC_CONF | ACCESS_CONF,
                   "stream | redirect [302|307] | off"),
    AP_INIT_TAKE1(S3_REDIRECT_EXPIRES, set_duration, NULL, RSRC_CONF | ACCESS_CONF,
                  "Lifetime of presigned redirect URLs"),
    AP_INIT_TAKE1(S3_DISPOSITION, set_disposition, NULL, RSRC_CONF | ACCESS_CONF,
                  "Content-Disposition of downloads: none, attachment or inline"),
    AP_INIT_ITERATE(S3_EXPOSE_META, add_expose_meta, NULL, RSRC_CONF | ACCESS_CONF,
                    "x-amz-meta-* headers passed to clients"),
    AP_INIT_FLAG(S3_HAND_OFF, set_flag, NULL, RSRC_CONF | ACCESS_CONF,
                 "Replace responses carrying X-S3-Key with the object"),
    AP_INIT_FLAG(S3_UPLOAD, set_flag, NULL, RSRC_CONF | ACCESS_CONF, "Accept PUT and form uploads"),
    AP_INIT_TAKE1(S3_UPLOAD_TOKEN_KEY, set_token_secret, NULL, RSRC_CONF | ACCESS_CONF,
                  "Secret of upload tokens (file:PATH or env:NAME)"),
    AP_INIT_FLAG(S3_UPLOAD_REQUIRE_USER, set_flag, NULL, RSRC_CONF | ACCESS_CONF,
                 "Uploads need a user authenticated by httpd"),
    AP_INIT_TAKE1(S3_MAX_UPLOAD_SIZE, set_size, NULL, RSRC_CONF | ACCESS_CONF,
                  "Largest upload accepted"),
    AP_INIT_RAW_ARGS(S3_ALLOWED_TYPES, set_allowed_types, NULL, RSRC_CONF | ACCESS_CONF,
                     "Content types accepted for uploads"),
    AP_INIT_TAKE1(S3_PART_SIZE, set_size, NULL, RSRC_CONF | ACCESS_CONF,
                  "Multipart part size (and the single-PUT threshold)"),
    AP_INIT_TAKE1(S3_SPOOL_MEMORY, set_size, NULL, RSRC_CONF | ACCESS_CONF,
                  "Memory per upload for spooling a part before a temp file"),
    AP_INIT_TAKE1(S3_MEMORY_LIMIT, set_memory_limit, NULL, RSRC_CONF,
                  "Spool memory of all uploads of the server"),
    AP_INIT_TAKE1(S3_TEMP_DIR, set_string, NULL, RSRC_CONF | ACCESS_CONF,
                  "Directory for spool files"),
    AP_INIT_FLAG(S3_NO_OVERWRITE, set_flag, NULL, RSRC_CONF | ACCESS_CONF,
                 "Refuse uploads onto existing keys (412)"),
    AP_INIT_TAKE1(S3_FORM_REDIRECT, set_string, NULL, RSRC_CONF | ACCESS_CONF,
                  "Answer form uploads with a 303 to this URL"),
    AP_INIT_FLAG(S3_ALLOW_ENCODED_SLASHES, set_flag, NULL, RSRC_CONF | ACCESS_CONF,
                 "Allow %2F in keys"),
    {NULL},
};

/* --- runtimes: credentials, transport and client per bucket setting ------------------------ */

static apr_pool_t *runtime_pool;
static apr_hash_t *runtimes;
static apr_thread_mutex_t *runtimes_lock;

static const char *runtime_id(const s3_dir_conf *c, apr_pool_t *p)
{
    return apr_psprintf(p, "%s|%s|%s|%d|%s|%s|%s|%d|%" APR_TIME_T_FMT "|%" APR_TIME_T_FMT "|%d",
                        c->bucket, c->region, c->endpoint ? c->endpoint : "", c->path_style,
                        c->creds_kind, c->creds_arg ? c->creds_arg : "",
                        c->ca_file ? c->ca_file : "", c->payload, c->connect_timeout, c->timeout,
                        c->attempts);
}

static apr_status_t runtime_create(s3_runtime **out, const char **why, const s3_dir_conf *c,
                                   const char *id, apr_pool_t *p)
{
    s3_runtime *rt = apr_pcalloc(p, sizeof(*rt));
    aws_creds_config_t cc;
    aws_http_config_t hc;
    aws_http_client_t *http;
    s3_client_config_t sc;
    apr_status_t rv;

    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, c->creds_kind, c->creds_arg);
    if ((rv = aws_creds_provider_create(&rt->creds, why, &cc, p)) != APR_SUCCESS) {
        return rv;
    }
    memset(&hc, 0, sizeof(hc));
    hc.connect_timeout = c->connect_timeout;
    hc.timeout = c->timeout;
    hc.low_speed_time = c->timeout; /* streams have no total time: a stall ends them */
    hc.max_attempts = c->attempts;
    hc.ca_file = c->ca_file;
    if ((rv = aws_http_client_create(&http, &hc, p)) != APR_SUCCESS) {
        *why = "cannot create the HTTP client";
        return rv;
    }
    memset(&sc, 0, sizeof(sc));
    sc.bucket = c->bucket;
    sc.region = c->region;
    sc.endpoint = c->endpoint;
    sc.path_style = c->path_style == 2 ? -1 : c->path_style;
    sc.payload = c->payload;
    if ((rv = s3_client_create(&rt->client, why, &sc, rt->creds, http, NULL, p)) != APR_SUCCESS) {
        return rv;
    }
    rt->id = apr_pstrdup(p, id);
    rt->bucket = apr_pstrdup(p, c->bucket);
    *out = rt;
    return APR_SUCCESS;
}

/* Find or make the runtime of @p c; @p why says what is wrong when it cannot be made. */
static s3_runtime *runtime_lookup(const char **why, const s3_dir_conf *c, apr_pool_t *scratch)
{
    const char *id = runtime_id(c, scratch);
    s3_runtime *rt;

    apr_thread_mutex_lock(runtimes_lock);
    rt = apr_hash_get(runtimes, id, APR_HASH_KEY_STRING);
    if (!rt && runtime_create(&rt, why, c, id, runtime_pool) == APR_SUCCESS) {
        apr_hash_set(runtimes, rt->id, APR_HASH_KEY_STRING, rt);
    }
    apr_thread_mutex_unlock(runtimes_lock);
    return rt;
}

s3_runtime *s3_runtime_get(request_rec *r, const s3_dir_conf *conf)
{
    const char *why = "unknown error";
    s3_runtime *rt = runtime_lookup(&why, conf, r->pool);

    if (!rt) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(02001) "bucket %s: cannot set up S3 access: %s", conf->bucket, why);
    }
    return rt;
}

apr_status_t s3_runtimes_init(apr_pool_t *pconf)
{
    runtime_pool = pconf;
    runtimes = apr_hash_make(pconf);
    return apr_thread_mutex_create(&runtimes_lock, APR_THREAD_MUTEX_DEFAULT, pconf);
}

s3_runtime *s3_runtime_of_bucket(const char *bucket, apr_pool_t *p)
{
    s3_runtime *rt = NULL;
    apr_hash_index_t *hi;

    apr_thread_mutex_lock(runtimes_lock);
    for (hi = apr_hash_first(p, runtimes); hi && !rt; hi = apr_hash_next(hi)) {
        s3_runtime *each = apr_hash_this_val(hi);
        if (!strcmp(each->bucket, bucket)) {
            rt = each;
        }
    }
    apr_thread_mutex_unlock(runtimes_lock);
    return rt;
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
    if (conf->location) {
        apr_size_t n = strlen(conf->location);
        if (strncmp(raw, conf->location, n) || (raw[n] && raw[n] != '/')) {
            return HTTP_NOT_FOUND; /* reached through an alias or an encoded location path */
        }
        raw += n;
    }
    while (*raw == '/') {
        ++raw;
    }
    if (!*raw) {
        return HTTP_NOT_FOUND; /* the location itself: no listing */
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
    return effective(seen[i], r->pool);
}

const char *s3_handoff_client_path(request_rec *r)
{
    return client_path(client_request(r));
}

/* --- startup checks --------------------------------------------------------------------- */

/* What is wrong with a section's configuration, or NULL. With @p keep, its runtime is made
 * and kept (for the mod_health check, which knows buckets by name); else made in @p p to see
 * that it can be. */
static const char *check_section(const s3_dir_conf *c, int keep, apr_pool_t *p)
{
    const char *why = NULL;
    s3_runtime *rt;

    if ((c->upload || c->hand_off) && !c->bucket) {
        return apr_psprintf(p, "%s or %s without %s", S3_UPLOAD, S3_HAND_OFF, S3_BUCKET);
    }
    if (c->upload && !c->token_secret && !c->require_user) {
        return apr_psprintf(p,
                            "%s On needs an authorization: %s (tokens minted by the application) "
                            "and/or %s On (httpd's own authentication); writes are never open",
                            S3_UPLOAD, S3_UPLOAD_TOKEN_KEY, S3_UPLOAD_REQUIRE_USER);
    }
    if (c->bucket
        && !(keep ? runtime_lookup(&why, c, p) != NULL
                  : runtime_create(&rt, &why, c, "", p) == APR_SUCCESS)) {
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
        if ((err = check_section(effective(base, p), keep, p))) {
            return err;
        }
        for (j = 0; j < 2; ++j) {
            for (i = 0; lists[j] && i < lists[j]->nelts; ++i) {
                ap_conf_vector_t *v = APR_ARRAY_IDX(lists[j], i, ap_conf_vector_t *);
                void *dc = ap_get_module_config(v, &s3_module);
                if (dc
                    && (err =
                            check_section(effective(s3_merge_dir_conf(p, base, dc), p), keep, p))) {
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
