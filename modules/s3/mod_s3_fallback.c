/* mod_s3_fallback — S3FallbackDirectory: a GET or HEAD for a key S3 does not have is answered
 * from the old upload directory while its files move to S3, as httpd's own default handler
 * answers for a file (server/core.c default_handler): Last-Modified and ETag (FileETag),
 * conditional requests (304, 412), Accept-Ranges, with Range served by httpd's byterange filter,
 * and the Content-Type (and Content-Encoding, Content-Language) from httpd's MIME configuration
 * through the type_checker hook. Which file a key names, opened without following links: core
 * s3_fallback.c.
 *
 * With S3FallbackCopy On, a file served so is copied into S3 by a background thread of the
 * process (the lifecycle kit's: stopped and joined before the child exits), through a bounded
 * queue that holds each key once; the copy only creates the object (If-None-Match: *), so an
 * object that appeared meanwhile (an upload, a sync, another process's copy) stays as it is.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "lf_log.h"
#include "s3_fallback.h"
#include "s3_spool.h"
#include "s3_upload.h"
#include "mod_s3_private.h"

APLOG_USE_MODULE(s3);
#include "mod_lf_life.h"

/* Copies queued or being made per process; past that a copy is skipped (a later request for
 * the key queues it again). */
#define COPY_QUEUE_SIZE 64
/* How often the thread looks at the queue. */
#define COPY_TICK apr_time_from_msec(100)
/* Spool memory of the one copy being made per process (not counted in S3MemoryLimit); the
 * rest of a part goes to a file in S3TempDir. */
#define COPY_SPOOL_MEMORY (1 << 20)

/* Made in post_config for the generation, before the children fork. */
static s3_fallback_queue_t *copies;
static mod_lf_thread_t *copier;
static server_rec *copier_server;

static void queue_copy(request_rec *r, const s3_dir_conf *conf, const char *key, const char *dir,
                       const char *rel)
{
    s3_runtime *rt = s3_runtime_get(r, conf);
    s3_fallback_copy_t c;
    apr_status_t rv;

    if (!copies || !rt) {
        return;
    }
    c.key = key;
    c.dir = dir;
    c.rel = rel;
    c.type = r->content_type;
    c.target = rt;
    c.part_size = conf->part_size;
    c.temp_dir = conf->temp_dir;
    rv = s3_fallback_queue_push(copies, &c);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, LFLOGNO(02048) "%s: %s", key,
                  rv == APR_SUCCESS  ? "queued for its copy into S3"
                  : rv == APR_EEXIST ? "its copy into S3 is queued or under way already"
                                     : "not copied into S3 this time: the copy queue is full");
}

int s3_fallback_serve(request_rec *r, const s3_dir_conf *conf, const char *key)
{
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb;
    apr_file_t *fd;
    apr_finfo_t finfo;
    const char *rel, *why;
    apr_status_t rv;
    int status;

    if (s3_fallback_path(&rel, &why, key, conf->key_prefix) != APR_SUCCESS
        || (rv = s3_fallback_open(&fd, &finfo, &why, conf->fallback_dir, rel, r->pool))
               != APR_SUCCESS) {
        /* The 404 S3 gave: a missing file is the normal end of the move, not worth a warning. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      LFLOGNO(02045) "%s: not in S3, and not served from %s: %s", key,
                      S3_FALLBACK_DIRECTORY, why);
        return HTTP_NOT_FOUND;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, LFLOGNO(02046) "%s: not in S3, served from %s",
                  key, finfo.fname);
    r->status = HTTP_OK;
    r->filename = apr_pstrdup(r->pool, finfo.fname);
    r->finfo = finfo;
    /* What mod_mime says for the file's name, not what it said for the URL earlier. */
    r->content_type = NULL;
    r->content_encoding = NULL;
    r->content_languages = NULL;
    ap_run_type_checker(r);
    if ((status = ap_discard_request_body(r)) != OK) {
        return status;
    }
    ap_update_mtime(r, finfo.mtime);
    ap_set_last_modified(r);
    ap_set_etag_fd(r, fd);
    ap_set_accept_ranges(r);
    ap_set_content_length(r, finfo.size);
    if (conf->fallback_copy && !r->header_only) {
        queue_copy(r, conf, key, conf->fallback_dir, rel);
    }
    bb = apr_brigade_create(r->pool, c->bucket_alloc);
    if ((status = ap_meets_conditions(r)) != OK) {
        r->status = status; /* 304 or 412, with the headers set above */
    }
    else {
        apr_brigade_insert_file(bb, fd, 0, finfo.size, r->pool);
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(c->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !c->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, LFLOGNO(02047) "%s: sending %s failed", key,
                      finfo.fname);
    }
    return OK;
}

/* --- the copies ------------------------------------------------------------------------------ */

static int copy_stopping(void)
{
    return mod_lf_thread_stopping(copier);
}

/* Why a failed copy failed, for the log. */
static const char *copy_failure(const s3_upload_t *u, apr_status_t rv, apr_pool_t *p)
{
    const aws_http_response_t *resp = u->call.resp;

    if (u->failure != S3_UPLOAD_FAILED_CALL) {
        return apr_psprintf(p, "%pm", &rv);
    }
    if (resp && resp->error) {
        return apr_psprintf(p, "%s: S3 answered %d %s (request id %s)", u->call.name, resp->status,
                            resp->error->code,
                            resp->error->request_id ? resp->error->request_id : "-");
    }
    if (resp && resp->transport_error) {
        return apr_psprintf(p, "%s: no answer from S3: %s", u->call.name, resp->transport_error);
    }
    return apr_psprintf(p, "%s: S3 answered %d", u->call.name, resp ? resp->status : 0);
}

static void copy_one(const s3_fallback_copy_t *c, apr_pool_t *p)
{
    s3_runtime *rt = c->target;
    s3_upload_config_t cfg;
    s3_upload_t *u;
    s3_spool_t *spool;
    s3_upload_call_t call;
    apr_file_t *fd;
    apr_finfo_t finfo;
    const char *why;
    char *buf = apr_palloc(p, 64 * 1024);
    apr_size_t n;
    apr_status_t rv;

    if ((rv = s3_fallback_open(&fd, &finfo, &why, c->dir, c->rel, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, copier_server,
                     LFLOGNO(02049) "%s: not copied into S3: %s", c->key, why);
        return;
    }
    if ((rv = s3_spool_create(&spool, COPY_SPOOL_MEMORY, c->temp_dir,
                              s3_upload_spool_digests(NULL, rt->client), p))
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, copier_server,
                     LFLOGNO(02056) "%s: not copied into S3: cannot create a spool", c->key);
        return;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.client = rt->client;
    cfg.spool = spool;
    cfg.part_size = c->part_size;
    cfg.max = finfo.size;
    /* Only create the object: never overwrite one that appeared since the 404. */
    s3_upload_create(&u, &cfg, finfo.size, c->key, c->type, NULL, 1, p);
    do {
        n = 64 * 1024;
        rv = apr_file_read(fd, buf, &n);
        if (rv == APR_SUCCESS && n > 0) {
            rv = s3_upload_write(u, buf, n);
        }
    } while (rv == APR_SUCCESS && !copy_stopping());
    if (rv == APR_SUCCESS) {
        rv = APR_EINTR; /* the child is exiting */
    }
    else if (APR_STATUS_IS_EOF(rv)) {
        rv = u->size == finfo.size ? s3_upload_finish(u) : APR_EGENERAL;
    }
    if (rv == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, copier_server,
                     LFLOGNO(02051) "%s: copied into S3 from %s: %s", c->key, finfo.fname,
                     s3_upload_summary(u));
        return;
    }
    s3_upload_abort(&call, u);
    if (u->failure == S3_UPLOAD_FAILED_CALL && u->call.resp && u->call.resp->status == 412) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, copier_server,
                     LFLOGNO(02052) "%s: not copied into S3: an object appeared there since, "
                                    "left as it is",
                     c->key);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, copier_server,
                 LFLOGNO(02053) "%s: copy into S3 from %s failed (%s); a later request for it "
                                "tries again",
                 c->key, finfo.fname,
                 copy_stopping() ? "the child is exiting" : copy_failure(u, rv, p));
}

static void copier_run(void *data, apr_pool_t *ptemp)
{
    s3_fallback_copy_t *c;
    apr_pool_t *p;

    (void)data;
    while (!copy_stopping() && s3_fallback_queue_pop(copies, &c)) {
        if (apr_pool_create(&p, ptemp) == APR_SUCCESS) {
            copy_one(c, p);
            apr_pool_destroy(p);
        }
        s3_fallback_queue_done(copies, c);
    }
}

static apr_status_t copier_start(void *data, apr_pool_t *pool)
{
    (void)data;
    (void)pool;
    return APR_SUCCESS; /* the queue is made in post_config, the clients are the sections' */
}

static const mod_lf_thread_spec copier_spec = {
    "the S3FallbackCopy copier", COPY_TICK, 0, 0, NULL, copier_start, copier_run, NULL,
};

static apr_status_t forget(void *data)
{
    (void)data;
    copies = NULL;
    copier = NULL;
    return APR_SUCCESS;
}

apr_status_t s3_fallback_copies_init(server_rec *s, apr_pool_t *pconf)
{
    apr_status_t rv;

    if (!s3_copy_configured(0)) {
        return APR_SUCCESS;
    }
    copier_server = s;
    if ((rv = s3_fallback_queue_create(&copies, COPY_QUEUE_SIZE, pconf)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(pconf, NULL, forget, apr_pool_cleanup_null);
    return mod_lf_thread_create(&copier, &copier_spec, NULL, s, pconf);
}

void s3_fallback_copies_child_init(apr_pool_t *pchild)
{
    if (copier && mod_lf_thread_start(copier, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, copier_server,
                     LFLOGNO(02054) "the %s copier cannot start: nothing will be copied",
                     S3_FALLBACK_COPY);
        copies = NULL;
    }
}
