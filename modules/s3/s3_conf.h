/* s3_conf — mod_s3's configuration without httpd: the directives' names, the per-directory and
 * per-server configs with their defaults (one commented default struct, applied when a value is
 * read), their merge, the parsers of the directives' values and the checks across the fields of
 * a section. Every error says "<Directive>: <what is wrong>", as httpd shows it at startup.
 * Pure core: APR only. The glue (mod_s3_config.c) knows which <Location> a directive is in and
 * reads secrets and server-relative paths.
 */
#ifndef S3_CONF_H
#define S3_CONF_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

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
/* CloudFront signed URLs (s3_cloudfront.h) */
#define S3_CF_DOMAIN   "S3CloudFrontDomain"
#define S3_CF_KEY      "S3CloudFrontKey"
#define S3_CF_ALLOW_IP "S3CloudFrontAllowIP"
/* Keys per section: the one that signs, and the next one during a rotation. */
#define S3_CF_KEYS_MAX 2
/* the move of an old upload directory (issue 19 part 1) */
#define S3_FALLBACK_DIRECTORY "S3FallbackDirectory"
#define S3_FALLBACK_COPY      "S3FallbackCopy"

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
    /* CloudFront signed URLs (S3Download redirect to a distribution; s3_cloudfront.h) */
    const char *cf_domain;       /* the distribution's domain name; NULL: presigned S3 URLs */
    apr_array_header_t *cf_keys; /* s3_cf_key_t *: the first signs, the others are checked */
    const char *cf_allow_ip;     /* CIDR of a custom policy's IpAddress; NULL: canned policy */
    /* the move of an old upload directory */
    const char *fallback_dir; /* absolute; "" = off (S3FallbackDirectory off) */
    int fallback_copy;        /* copy what the fallback serves into S3, in the background */
} s3_dir_conf;

/** Per-server configuration (global only). */
typedef struct s3_srv_conf {
    apr_off_t memory_limit; /* bytes of spool memory for all uploads of the server */
} s3_srv_conf;

/** A per-directory configuration with every field unset, allocated from @p p. */
s3_dir_conf *s3_conf_create(apr_pool_t *p);

/** @p add over @p base, field by field (a set field of @p add wins), allocated from @p p. */
s3_dir_conf *s3_conf_merge(const s3_dir_conf *base, const s3_dir_conf *add, apr_pool_t *p);

/** @p c with the defaults applied to every unset field that has one, allocated from @p p. */
s3_dir_conf *s3_conf_effective(const s3_dir_conf *c, apr_pool_t *p);

/** A per-server configuration with every field unset, allocated from @p p. */
s3_srv_conf *s3_conf_srv_create(apr_pool_t *p);

/** The spool memory of all uploads of a server (S3MemoryLimit, or its default). */
apr_off_t s3_conf_memory_limit(const s3_srv_conf *c);

/**
 * The parser of a one-word directive (or of each word of S3ExposeMeta, or of the whole line of
 * S3AllowedTypes): it sets its field of @p c from @p arg.
 * @param why out on APR_EINVAL: "<Directive>: <what is wrong>", allocated from @p p
 * @param p the configuration pool (what @p c keeps is allocated from it)
 * @return APR_SUCCESS, or APR_EINVAL (@p c unchanged) for a bad value
 */
typedef apr_status_t s3_conf_set_fn(s3_dir_conf *c, const char **why, const char *arg,
                                    apr_pool_t *p);

/** S3Endpoint: an http:// or https:// URL. */
s3_conf_set_fn s3_conf_set_endpoint;
/** S3KeyPrefix: no leading '/', no "..". */
s3_conf_set_fn s3_conf_set_key_prefix;
/** S3Addressing: path, virtual or auto (any case). */
s3_conf_set_fn s3_conf_set_addressing;
/** S3PayloadSigning: auto, on or off (any case). */
s3_conf_set_fn s3_conf_set_payload_signing;
/** S3ConnectTimeout: a positive duration (lf_parse_duration(), seconds by default). */
s3_conf_set_fn s3_conf_set_connect_timeout;
/** S3Timeout: a positive duration. */
s3_conf_set_fn s3_conf_set_timeout;
/** S3RedirectExpires: a duration from 1s to 7 days, kept in seconds. */
s3_conf_set_fn s3_conf_set_redirect_expires;
/** S3Attempts: a number from 1 to 10. */
s3_conf_set_fn s3_conf_set_attempts;
/** S3MaxUploadSize: a size from 1 byte to 5T (S3's largest object). */
s3_conf_set_fn s3_conf_set_max_upload;
/** S3PartSize: a size within S3's part sizes, 5M to 5G. */
s3_conf_set_fn s3_conf_set_part_size;
/** S3SpoolMemory: a size of at most 1G. */
s3_conf_set_fn s3_conf_set_spool_memory;
/** S3Disposition: none, attachment or inline (any case; kept in lower case). */
s3_conf_set_fn s3_conf_set_disposition;
/** S3ExposeMeta, one word: a header name, with or without x-amz-meta-, appended in lower case. */
s3_conf_set_fn s3_conf_add_expose_meta;
/** S3AllowedTypes: the list of content type patterns (s3_mime_parse_list()). */
s3_conf_set_fn s3_conf_set_allowed_types;
/**
 * S3CloudFrontDomain: a host name (d111111abcdef8.cloudfront.net or a CNAME), no scheme, no path;
 * a :port is accepted (for what stands in for CloudFront in tests).
 */
s3_conf_set_fn s3_conf_set_cf_domain;
/** S3CloudFrontAllowIP: an IPv4 or IPv6 CIDR (s3_cf_check_cidr()). */
s3_conf_set_fn s3_conf_set_cf_allow_ip;

/**
 * S3CloudFrontKey: a key pair id and the PEM file of its private key, read now
 * (s3_cf_key_load()); appended to the section's keys, at most S3_CF_KEYS_MAX.
 * @param path an absolute path (the glue resolves it against the ServerRoot)
 * @param why out on failure: "S3CloudFrontKey: <what is wrong>", allocated from @p p
 * @param p the configuration pool: the key lives until it is cleared
 * @return APR_SUCCESS, or an error (@p c unchanged)
 */
apr_status_t s3_conf_add_cf_key(s3_dir_conf *c, const char **why, const char *id, const char *path,
                                apr_pool_t *p);

/**
 * S3Download: "stream", "off", or "redirect" with an optional status 302 or 307 (302 without).
 * @param status the second word, or NULL
 * @param why out on APR_EINVAL: "S3Download: <what is wrong>", allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_conf_set_download(s3_dir_conf *c, const char **why, const char *mode,
                                  const char *status, apr_pool_t *p);

/**
 * S3Credentials: "default", "keyfile PATH" (relative to @p root) or "profile NAME".
 * @param arg the second word, or NULL
 * @param why out on APR_EINVAL: "S3Credentials: <the syntax>", static
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_conf_set_credentials(s3_dir_conf *c, const char **why, const char *kind,
                                     const char *arg, const char *root, apr_pool_t *p);

/**
 * S3FallbackDirectory: "off" (any case), or a directory, relative to @p root unless absolute,
 * that exists when the configuration is read.
 * @param why out on APR_EINVAL: "S3FallbackDirectory: <what is wrong>", allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_conf_set_fallback_dir(s3_dir_conf *c, const char **why, const char *arg,
                                      const char *root, apr_pool_t *p);

/**
 * S3UploadTokenSecret, once the glue has read the secret (file: or env:): at least 16 bytes.
 * @param secret kept as it is (allocated by the caller, from the configuration pool)
 * @param why out on APR_EINVAL: "S3UploadTokenSecret: <what is wrong>", static
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_conf_set_token_secret(s3_dir_conf *c, const char **why, const char *secret);

/**
 * S3MemoryLimit: a size.
 * @param why out on APR_EINVAL: "S3MemoryLimit: <what is wrong>", allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_conf_set_memory_limit(s3_srv_conf *c, const char **why, const char *arg,
                                      apr_pool_t *p);

/**
 * The <Location> path a section maps, without a trailing '/' (keys are the path below it).
 * @return @p path, or a copy without its last '/' allocated from @p p
 */
const char *s3_conf_location(const char *path, apr_pool_t *p);

/**
 * What is wrong across the fields of a section as a request in it sees them (defaults applied,
 * s3_conf_effective()): uploads or hand-off without a bucket, uploads without an authorization,
 * a fallback directory with redirected downloads.
 * @param why out on APR_EINVAL: what is wrong, allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_conf_check(const char **why, const s3_dir_conf *c, apr_pool_t *p);

#endif /* S3_CONF_H */
