/* mod_s3_private.h — the entry points of mod_s3's request glue (mod_s3_get.c, mod_s3_put.c),
 * which mod_s3.c's handler and filter use; their configuration is mod_s3_config.h. */
#ifndef MOD_S3_PRIVATE_H
#define MOD_S3_PRIVATE_H

#include <httpd.h>
#include <util_filter.h>

#include "mod_s3_config.h"

/* Entry points of mod_s3_get.c and mod_s3_put.c. */
int s3_handle_get(request_rec *r, const s3_dir_conf *conf, const char *key);
int s3_handle_put(request_rec *r, const s3_dir_conf *conf, const char *key);
int s3_handle_form(request_rec *r, const s3_dir_conf *conf);
apr_status_t s3_handoff_filter(ap_filter_t *f, apr_bucket_brigade *bb);

#endif /* MOD_S3_PRIVATE_H */
