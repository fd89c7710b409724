/* s3_key — S3 object keys from request paths, generated keys, keys in URLs (see s3_key.h). */
#include <apr_escape.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "aws_sigv4.h"
#include "s3_key.h"

/* The length of the longest extension kept in a generated key. */
#define S3_KEY_EXT_MAX 10

apr_size_t s3_key_utf8_char(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xbf;
    apr_size_t n, i;

    if (!len) {
        return 0;
    }
    if (u[0] < 0x80) {
        return 1;
    }
    if (u[0] < 0xc2) { /* a continuation byte, or the lead of an overlong 2-byte form */
        return 0;
    }
    if (u[0] < 0xe0) {
        n = 2;
    }
    else if (u[0] < 0xf0) {
        n = 3;
        lo = (u[0] == 0xe0) ? 0xa0 : 0x80; /* overlong */
        hi = (u[0] == 0xed) ? 0x9f : 0xbf; /* surrogates U+D800..U+DFFF */
    }
    else if (u[0] < 0xf5) {
        n = 4;
        lo = (u[0] == 0xf0) ? 0x90 : 0x80; /* overlong */
        hi = (u[0] == 0xf4) ? 0x8f : 0xbf; /* above U+10FFFF */
    }
    else {
        return 0;
    }
    if (len < n || u[1] < lo || u[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; ++i) {
        if ((u[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

/* Check the decoded part of a key: characters first, then segments. */
static const char *check_decoded(const char *s, apr_size_t len)
{
    apr_size_t i, k, seg;

    for (i = 0; i < len; i += k) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return "the key holds a control character";
        }
        k = s3_key_utf8_char(s + i, len - i);
        if (!k) {
            return "the key is not valid UTF-8";
        }
    }
    /* "." and ".." mean nothing to S3, but everything to the file systems, proxies and sync
     * tools that keys end up in, and to anyone reading the URL: refuse them outright. */
    for (i = 0; i <= len; i = seg + 1) {
        for (seg = i; seg < len && s[seg] != '/'; ++seg) {
        }
        if ((seg - i == 1 && s[i] == '.') || (seg - i == 2 && s[i] == '.' && s[i + 1] == '.')) {
            return "the key holds a \".\" or \"..\" segment";
        }
    }
    return NULL;
}

apr_status_t s3_key_below_location(const char **rest, const char *path, const char *location)
{
    if (location) {
        apr_size_t n = strlen(location);
        if (strncmp(path, location, n) || (path[n] && path[n] != '/')) {
            return APR_NOTFOUND;
        }
        path += n;
    }
    while (*path == '/') {
        ++path;
    }
    if (!*path) {
        return APR_NOTFOUND;
    }
    *rest = path;
    return APR_SUCCESS;
}

apr_status_t s3_key_from_path(const char **key, const char **why, const char *prefix,
                              const char *raw, int allow_encoded_slash, apr_pool_t *p)
{
    apr_size_t plen, len;
    char *decoded;
    apr_status_t rv;

    prefix = prefix ? prefix : "";
    raw = raw ? raw : "";
    plen = strlen(prefix);
    decoded = apr_palloc(p, strlen(raw) + 1);
    /* APR_NOTFOUND: nothing was escaped, decoded holds a copy of raw. */
    rv = apr_unescape_url(decoded, raw, APR_ESCAPE_STRING, allow_encoded_slash ? NULL : "/", NULL,
                          0, NULL);
    if (rv == APR_EINVAL) {
        *why = "the path holds a bad percent escape";
        return APR_EINVAL;
    }
    if (rv == APR_BADCH) {
        /* apr_unescape_url() says the same for %00 and for a forbidden %2F */
        *why = strstr(raw, "%00") ? "the key holds a NUL character"
                                  : "the path holds an encoded slash (%2F)";
        return APR_EINVAL;
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        *why = "the path cannot be decoded";
        return APR_EINVAL;
    }
    len = strlen(decoded);
    if ((*why = check_decoded(decoded, len)) != NULL) {
        return APR_EINVAL;
    }
    if (plen + len == 0) {
        *why = "the key is empty";
        return APR_EINVAL;
    }
    if (plen + len > S3_KEY_MAX) {
        *why = "the key is longer than 1024 bytes";
        return APR_EINVAL;
    }
    *key = apr_pstrcat(p, prefix, decoded, NULL);
    return APR_SUCCESS;
}

const char *s3_key_basename(const char *key)
{
    const char *slash = strrchr(key, '/');

    return slash ? slash + 1 : key;
}

const char *s3_key_filename_base(const char *filename)
{
    const char *base, *c;

    for (base = c = filename; *c; ++c) {
        if (*c == '/' || *c == '\\') {
            base = c + 1;
        }
    }
    return base;
}

const char *s3_key_extension(const char *filename, apr_pool_t *p)
{
    const char *base, *dot;
    char *ext;
    apr_size_t n, i;

    if (!filename) {
        return "";
    }
    base = s3_key_filename_base(filename);
    dot = strrchr(base, '.');
    if (!dot || dot == base) { /* no extension, or a dot file such as ".htaccess" */
        return "";
    }
    n = strlen(++dot);
    if (n < 1 || n > S3_KEY_EXT_MAX) {
        return "";
    }
    ext = apr_palloc(p, n + 2);
    ext[0] = '.';
    for (i = 0; i < n; ++i) {
        char ch = dot[i];
        /* ASCII by hand: apr_isalnum() follows the locale */
        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
            return "";
        }
        ext[i + 1] = ch;
    }
    ext[n + 1] = '\0';
    return ext;
}

apr_status_t s3_key_generate(const char **key, const char *prefix, const char *filename,
                             apr_pool_t *p)
{
    unsigned char rnd[16];
    const char *k;
    apr_status_t rv;

    rv = apr_generate_random_bytes(rnd, sizeof(rnd));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    k = apr_pstrcat(p, prefix, apr_pescape_hex(p, rnd, sizeof(rnd), 0),
                    s3_key_extension(filename, p), NULL);
    if (strlen(k) > S3_KEY_MAX) {
        return APR_EINVAL;
    }
    *key = k;
    return APR_SUCCESS;
}

const char *s3_key_url_path(const char *key, apr_pool_t *p)
{
    return aws_sigv4_uri_encode(key, strlen(key), 1, p);
}
