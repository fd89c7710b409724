/* s3_cloudfront — CloudFront signed URLs for mod_s3's redirect mode: the private key of a
 * CloudFront key pair read from a PEM file, the canned or custom policy of a URL, its RSA-SHA1
 * signature and CloudFront's URL-safe base64 (the scheme CloudFront documents under "Create a
 * signed URL using a canned policy / a custom policy"). Pure core: APR and OpenSSL only.
 */
#ifndef S3_CLOUDFRONT_H
#define S3_CLOUDFRONT_H

#include <apr_pools.h>
#include <apr_time.h>

/** A key CloudFront trusts: the public key's id in a key group and its private key. */
typedef struct s3_cf_key s3_cf_key_t;

/**
 * Read the RSA private key of key pair @p id from the PEM file @p path. The key stays in memory
 * until @p p is cleared; neither it nor the file's content ever appears in @p why.
 * @param why out on failure: what is wrong with the file (missing, not a PEM private key,
 *        encrypted, not RSA), allocated from @p p
 * @return APR_SUCCESS; the file's error when it cannot be read; APR_EINVAL for a bad key
 */
apr_status_t s3_cf_key_load(s3_cf_key_t **key, const char **why, const char *id, const char *path,
                            apr_pool_t *p);

/** The key pair id (the public key's id in CloudFront) of @p key. */
const char *s3_cf_key_id(const s3_cf_key_t *key);

/**
 * CloudFront's URL-safe base64 of @p len bytes: standard base64 with '+' as '-', '=' as '_'
 * and '/' as '~'.
 * @return allocated from @p p
 */
const char *s3_cf_base64(const void *data, apr_size_t len, apr_pool_t *p);

/**
 * The policy of @p resource, without whitespace, as CloudFront compares it byte for byte: with
 * neither @p allow_ip nor @p start the canned policy, else a custom one with those conditions.
 * @param expires seconds since the epoch (DateLessThan)
 * @param allow_ip an IPv4 or IPv6 CIDR (IpAddress AWS:SourceIp), or NULL
 * @param start seconds since the epoch (DateGreaterThan), or 0
 * @return allocated from @p p
 */
const char *s3_cf_policy(const char *resource, apr_int64_t expires, const char *allow_ip,
                         apr_int64_t start, apr_pool_t *p);

/**
 * Sign @p url: the canned policy's query (Expires, Signature, Key-Pair-Id), or with @p allow_ip
 * a custom policy's (Policy, Signature, Key-Pair-Id), appended to @p url.
 * @param url https://<distribution domain>/<encoded key>, without a query
 * @param expires seconds since the epoch (s3_cf_expires())
 * @param allow_ip the CIDR clients must come from, or NULL
 * @param why out on failure: what OpenSSL said, static or allocated from @p p
 * @return APR_SUCCESS, or APR_EGENERAL when OpenSSL cannot sign
 */
apr_status_t s3_cf_sign_url(const char **signed_url, const char **why, const s3_cf_key_t *key,
                            const char *url, apr_int64_t expires, const char *allow_ip,
                            apr_pool_t *p);

/** The expiry of a URL signed at @p now that lives @p lifetime seconds, in epoch seconds. */
apr_int64_t s3_cf_expires(apr_time_t now, apr_int64_t lifetime);

/**
 * The URL of @p key on distribution @p domain, the key encoded as in S3 URLs
 * (s3_key_url_path()).
 * @return allocated from @p p
 */
const char *s3_cf_object_url(const char *domain, const char *key, apr_pool_t *p);

/**
 * Check a CIDR for S3CloudFrontAllowIP: an IPv4 or IPv6 address with a /prefix.
 * @param why out on APR_EINVAL: what is wrong, to follow the value ("is not ..."), static
 */
apr_status_t s3_cf_check_cidr(const char **why, const char *cidr);

#endif /* S3_CLOUDFRONT_H */
