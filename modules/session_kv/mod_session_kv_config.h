/* mod_session_kv_config.h — mod_session_kv's configuration, for its glue files
 * (mod_session_kv_config.c): the directives' names, the per-server and per-directory configs,
 * and the runtimes (one store per distinct store configuration) built from them at startup. It
 * depends on no other glue file of the module.
 */
#ifndef MOD_SESSION_KV_CONFIG_H
#define MOD_SESSION_KV_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "lf_conf.h"
#include "skv_cookie.h"
#include "skv_store.h"

#define SKV_ENABLE          "SessionKV"
#define SKV_STORE           "SessionKVStore"
#define SKV_PASSWORD        "SessionKVPassword"
#define SKV_CONNECT_TIMEOUT "SessionKVConnectTimeout"
#define SKV_TIMEOUT         "SessionKVTimeout"
#define SKV_RETRY_INTERVAL  "SessionKVRetryInterval"
#define SKV_CONNECTIONS     "SessionKVConnections"
#define SKV_KEY_PREFIX      "SessionKVKeyPrefix"
#define SKV_KEY_FILE        "SessionKVEncryptionKeyFile"
#define SKV_CA_FILE         "SessionKVCAFile"
#define SKV_IAM_AUTH        "SessionKVIAMAuth"
#define SKV_CREDENTIALS     "SessionKVCredentials"
#define SKV_IDLE_TIMEOUT    "SessionKVIdleTimeout"
#define SKV_MAX_LIFETIME    "SessionKVMaxLifetime"
#define SKV_TOUCH_INTERVAL  "SessionKVTouchInterval"
#define SKV_MAX_SIZE        "SessionKVMaxSize"
#define SKV_CONCURRENCY     "SessionKVConcurrency"
#define SKV_COOKIE          "SessionKVCookie"
#define SKV_FAILURE_POLICY  "SessionKVFailurePolicy"
#define SKV_REGEN_HEADER    "SessionKVRegenerateHeader"
#define SKV_ENV_PART_SIZE   "SessionKVEnvPartSize"
#define SKV_DISCOVERY       "SessionKVAutoDiscovery"
#define SKV_DISCOVERY_EVERY "SessionKVDiscoveryInterval"

/** A store's settings (per virtual host); the store itself is built per child process. */
typedef struct skv_srv_conf {
    const char *url;                     /* SessionKVStore; NULL = no store */
    const char *password;                /* SessionKVPassword: the secret itself */
    const char *ca_file;                 /* rediss://, memcacheds://, mysqls://: the CAs to
                                            trust; NULL = the system's */
    const char *iam_cache;               /* SessionKVIAMAuth: the cache; NULL = no IAM tokens */
    const char *iam_region;              /* its region */
    int iam_serverless;                  /* 1: a serverless cache */
    const char *creds_kind;              /* SessionKVCredentials: aws_creds_source_parse() */
    const char *creds_arg;               /* its key file or profile */
    apr_interval_time_t connect_timeout; /* microseconds */
    apr_interval_time_t timeout;         /* microseconds, per backend operation */
    apr_interval_time_t retry_interval;  /* microseconds, servers marked down */
    int connections;                     /* per child; 0 = the MPM's threads per child */
    const char *prefix;                  /* of backend keys */
    const char *key_file;                /* AES-256-GCM keys; NULL = clear */
    apr_interval_time_t idle_timeout;    /* microseconds */
    apr_interval_time_t max_lifetime;    /* microseconds; 0 = none */
    apr_interval_time_t touch_interval;  /* microseconds */
    apr_off_t max_size;                  /* bytes of encoded session */
    int merge;                           /* 1 merge, 0 last write wins */
    int attempts;                        /* compare-and-set attempts */
    int discovery;                       /* SessionKVAutoDiscovery: 1 on */
    apr_interval_time_t refresh_every;   /* SessionKVDiscoveryInterval: microseconds */
    struct skv_runtime *rt;              /* set in post_config */
} skv_srv_conf;

typedef enum { POLICY_UNSET = -1, POLICY_OPEN = 0, POLICY_CLOSED = 1 } skv_policy_e;

typedef struct skv_dir_conf {
    int enabled;              /* SessionKV */
    skv_cookie_t *cookie;     /* SessionKVCookie */
    skv_policy_e policy;      /* SessionKVFailurePolicy */
    const char *regen_header; /* SessionKVRegenerateHeader */
    apr_off_t env_part_size;  /* SessionKVEnvPartSize: bytes; 0 = never split; LF_UNSET */
} skv_dir_conf;

typedef struct skv_runtime {
    skv_store_conf_t conf;
    skv_stats_t *stats; /* in shared memory */
    skv_store_t *store; /* per child, from child_init */
    const char *display;
    skv_srv_conf settings; /* what it was made from */
    /* the background refresh, every settings.refresh_every (per child: only its thread
     * touches these) */
    apr_time_t refresh_due; /* the next refresh; 0 = at once */
    int refresh_off;        /* nothing to refresh: not asked again */
    int refresh_failures;   /* failed refreshes in a row */
} skv_runtime;

/* The module's config functions and directives (for the module struct in mod_session_kv.c). */
void *skv_create_dir_conf(apr_pool_t *p, char *dir);
void *skv_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *skv_create_srv_conf(apr_pool_t *p, server_rec *s);
void *skv_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
extern const command_rec skv_cmds[];

/** The defaults of the per-directory settings, applied when one is read. */
extern const skv_dir_conf skv_dir_defaults;

/** The default cookie (register_hooks, once). */
void skv_config_init(void);

/** The per-directory settings of @p r (not merged with the defaults). */
const skv_dir_conf *skv_dir_of(request_rec *r);
/** Whether SessionKV is on there. */
int skv_dir_enabled(const skv_dir_conf *c);
/** The session cookie there (SessionKVCookie, or the default). */
const skv_cookie_t *skv_dir_cookie(const skv_dir_conf *c);

/**
 * The runtimes of this generation (skv_runtime *), made by skv_runtimes_setup() with @p keep;
 * NULL before post_config. Set in post_config, read-only in the children.
 */
extern apr_array_header_t *skv_runtimes;

/**
 * Check every server's store configuration; with @p keep, build the runtimes into skv_runtimes
 * (which the caller made) and point each server at its own.
 * @return NULL, or what is wrong (naming the directive)
 */
const char *skv_runtimes_setup(server_rec *main, int keep, apr_pool_t *p);

/** The runtime of server @p s, or NULL without a store. */
skv_runtime *skv_runtime_of(server_rec *s);

#endif /* MOD_SESSION_KV_CONFIG_H */
