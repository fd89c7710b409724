/* s3_runtime — what mod_s3 needs to talk to one bucket (credentials provider, HTTP transport, S3
 * client), made from a section's configuration, and the registry that shares one runtime between
 * every section and thread of a process that configure the same bucket, endpoint, credentials
 * and transport settings. Pure core: APR only.
 */
#ifndef S3_RUNTIME_H
#define S3_RUNTIME_H

#include <apr_pools.h>

#include "aws_creds.h"
#include "s3_client.h"
#include "s3_conf.h"

/** Everything needed to talk to one bucket, shared by the threads of a process. */
typedef struct s3_runtime {
    const char *id; /* what distinguishes it (bucket, region, endpoint, credentials...) */
    const char *bucket;
    s3_client_t *client;
    aws_creds_provider_t *creds;
} s3_runtime;

/**
 * Make the runtime of a section.
 * @param out the runtime, allocated from @p p, which owns its provider, transport and client
 * @param why out on failure: what is wrong (static or from @p p)
 * @param c the section's configuration with the defaults applied (s3_conf_effective())
 * @return APR_SUCCESS, or what the credentials provider, transport or client answered
 */
apr_status_t s3_runtime_create(s3_runtime **out, const char **why, const s3_dir_conf *c,
                               apr_pool_t *p);

/** The runtimes of a process, by what distinguishes them; thread-safe. */
typedef struct s3_runtimes_t s3_runtimes_t;

/**
 * An empty registry.
 * @param p the pool of the registry and of every runtime it makes (e.g. httpd's pconf)
 * @return APR_SUCCESS, or what creating its mutex answered
 */
apr_status_t s3_runtimes_create(s3_runtimes_t **out, apr_pool_t *p);

/**
 * The runtime for @p c: the one made before for the same settings, else a new one kept in
 * @p reg (allocated from its pool).
 * @param why out on failure: what is wrong (s3_runtime_create())
 * @param c a configuration with the defaults applied (s3_conf_effective())
 * @param scratch a pool for this call only (the settings' id)
 * @return APR_SUCCESS, or what s3_runtime_create() answered (nothing kept)
 */
apr_status_t s3_runtimes_get(s3_runtime **out, const char **why, s3_runtimes_t *reg,
                             const s3_dir_conf *c, apr_pool_t *scratch);

/**
 * A runtime of @p reg for @p bucket (any of them when several sections name it).
 * @param p a pool for this call only
 * @return the runtime, or NULL when none was made for @p bucket
 */
s3_runtime *s3_runtimes_of_bucket(s3_runtimes_t *reg, const char *bucket, apr_pool_t *p);

#endif /* S3_RUNTIME_H */
