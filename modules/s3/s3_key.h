/* s3_key — S3 object keys for mod_s3: from a request path (decoded and checked, so that no URL
 * can name a key outside the location's prefix or one that S3 and its tools would treat
 * differently), generated for uploads that name no key, and encoded for an S3 URL path.
 * Pure core: APR, APR-util and the AWS core, no httpd.
 */
#ifndef S3_KEY_H
#define S3_KEY_H

#include <apr_pools.h>

/** The longest key S3 accepts, in bytes of UTF-8. */
#define S3_KEY_MAX 1024

/**
 * Map a request path below the location onto a key: @p prefix followed by @p raw decoded.
 *
 * Rejected: a bad percent escape, a NUL or control character (below 0x20, or 0x7f), a "." or
 * ".." segment (also when spelled %2e), an encoded slash (%2F) unless @p allow_encoded_slash,
 * bytes that are not UTF-8, and a full key that is empty or longer than S3_KEY_MAX bytes. Empty
 * segments ("a//b") are kept: S3 keys may hold them.
 * @param key out: the key, allocated from @p p
 * @param why out on APR_EINVAL: what is wrong, a short message for logs (static or from @p p)
 * @param prefix the configured key prefix, "" (or NULL) or e.g. "uploads/"; trusted, not checked
 * @param raw the path below the location, still percent-encoded ("photos/a%20b.jpg"); may be ""
 *        (or NULL)
 * @param allow_encoded_slash non-zero to decode %2F into '/' instead of rejecting it
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t s3_key_from_path(const char **key, const char **why, const char *prefix,
                              const char *raw, int allow_encoded_slash, apr_pool_t *p);

/**
 * The part of a request path that names a key below a <Location>: what follows @p location
 * (which must end there or be followed by '/'), without its leading slashes.
 * @param rest out: a pointer into @p path, not empty
 * @param path the URL path as the client sent it (still percent-encoded, no query)
 * @param location the <Location> path without a trailing '/', or NULL: the whole path
 * @return APR_SUCCESS; APR_NOTFOUND when @p path is not below @p location (reached through an
 *         alias or an encoded location path) or names the location itself (there is no listing)
 */
apr_status_t s3_key_below_location(const char **rest, const char *path, const char *location);

/**
 * Generate a key for an upload that names none: @p prefix, 32 lower-case hex digits from the
 * CSPRNG (128 bits, unguessable) and the sanitized extension of @p filename (s3_key_extension).
 * @param key out: the key, allocated from @p p
 * @param filename the name the client gave the file, or NULL
 * @return APR_SUCCESS; APR_EINVAL when the key would be longer than S3_KEY_MAX (a prefix that
 *         long is a configuration error); the error of apr_generate_random_bytes()
 */
apr_status_t s3_key_generate(const char **key, const char *prefix, const char *filename,
                             apr_pool_t *p);

/**
 * The extension of a client's file name for a generated key: "." and the last extension of the
 * base name (after the last '/' or '\\') in lower case when it is 1 to 10 characters of
 * [A-Za-z0-9]; "" otherwise ("a.tar.gz" -> ".gz", "x.PHP" -> ".php", ".htaccess" -> "",
 * "a.b c" -> ""). The extension only decorates the key: nothing served from S3 is executed.
 * @param filename the client's name, or NULL
 * @return the extension, allocated from @p p, or a static ""
 */
const char *s3_key_extension(const char *filename, apr_pool_t *p);

/**
 * The base name of a file name a client sent (an upload's filename="..."): what follows its last
 * '/' or '\\', since browsers on Windows may send the whole path.
 * @param filename the client's name (not NULL)
 * @return a pointer into @p filename
 */
const char *s3_key_filename_base(const char *filename);

/**
 * The name a download of @p key is saved under: its last segment (after the last '/').
 * @return a pointer into @p key
 */
const char *s3_key_basename(const char *key);

/**
 * Encode a key for the path of an S3 URL: every byte but A-Z a-z 0-9 - . _ ~ and '/' becomes
 * %XX, as SigV4 signs it (aws_sigv4_uri_encode()).
 * @return the encoded key, allocated from @p p
 */
const char *s3_key_url_path(const char *key, apr_pool_t *p);

/**
 * The length of the well-formed UTF-8 character at @p s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), looking at no more than @p len bytes.
 * @return 1 to 4, or 0 when the bytes at @p s are not a UTF-8 character (or @p len is 0)
 */
apr_size_t s3_key_utf8_char(const char *s, apr_size_t len);

#endif /* S3_KEY_H */
