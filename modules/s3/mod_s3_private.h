/* mod_s3_private.h — the entry points of mod_s3's request glue (mod_s3_get.c, mod_s3_put.c,
 * mod_s3_fallback.c), which mod_s3.c's handler and filter use; their configuration is
 * mod_s3_config.h. */
#ifndef MOD_S3_PRIVATE_H
#define MOD_S3_PRIVATE_H

#include <httpd.h>
#include <util_filter.h>

#include "mod_s3_config.h"

/* Entry points of mod_s3_get.c, mod_s3_put.c and mod_s3_fallback.c. */
int s3_handle_get(request_rec *r, const s3_dir_conf *conf, const char *key);
int s3_handle_put(request_rec *r, const s3_dir_conf *conf, const char *key);
int s3_handle_form(request_rec *r, const s3_dir_conf *conf);
apr_status_t s3_handoff_filter(ap_filter_t *f, apr_bucket_brigade *bb);
/* mod_s3_fallback.c: answer a GET/HEAD for @p key, which S3 does not have, from
 * S3FallbackDirectory (set); OK once answered, else HTTP_NOT_FOUND. */
int s3_fallback_serve(request_rec *r, const s3_dir_conf *conf, const char *key);
/* mod_s3_fallback.c, S3FallbackCopy: the queue and thread of the copies when a section copies
 * (post_config); start the thread (child_init). */
apr_status_t s3_fallback_copies_init(server_rec *s, apr_pool_t *pconf);
void s3_fallback_copies_child_init(apr_pool_t *pchild);

#endif /* MOD_S3_PRIVATE_H */
