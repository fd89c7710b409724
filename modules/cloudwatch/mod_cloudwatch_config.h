/* mod_cloudwatch_config.h — the configuration of mod_cloudwatch, which every other glue file of
 * the module reads: the per-directory settings, the server's effective settings with the
 * defaults applied (the directive names and the settings themselves are in cw_conf.h), and the
 * checks made before the server starts.
 */
#ifndef MOD_CLOUDWATCH_CONFIG_H
#define MOD_CLOUDWATCH_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "cw_conf.h"

extern module AP_MODULE_DECLARE_DATA cloudwatch_module;

/** Per directory: whether and as which group requests are measured. */
typedef struct cw_dir_conf {
    int enabled;       /* CloudWatch On|Off; LF_UNSET */
    const char *group; /* CloudWatchGroup; NULL: unset */
} cw_dir_conf;

/** The directives. */
extern const command_rec cw_config_cmds[];

void *cw_config_create_dir(apr_pool_t *p, char *dir);
void *cw_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
void *cw_config_create_srv(apr_pool_t *p, server_rec *s);

/** Forget what the previous reading of the configuration saw (pre_config). */
void cw_config_reset(void);

/** Whether "CloudWatch On" appears anywhere in the configuration read: otherwise the module
 * makes no shared memory and no publisher. */
int cw_config_used(void);

/** Whether the requests of @p r's location are measured. */
int cw_config_enabled(request_rec *r);

/** @p s's publishing settings with the defaults applied (the main server's matter), from @p p. */
const cw_srv_conf *cw_config_server(server_rec *s, apr_pool_t *p);

/** The checks across directives (check_config: httpd -t stops here); logs what is wrong.
 * @return OK, or HTTP_INTERNAL_SERVER_ERROR */
int cw_config_check(server_rec *s, apr_pool_t *ptemp);

#endif /* MOD_CLOUDWATCH_CONFIG_H */
