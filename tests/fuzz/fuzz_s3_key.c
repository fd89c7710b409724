/* fuzz_s3_key — object keys from what clients and applications send (modules/s3/s3_key.c): a
 * request path below a location, a client's file name (the extension of a generated key), and
 * the hand-off headers X-S3-Key / X-S3-Disposition of an application (s3_handoff.c).
 *
 * Input: one byte of flags (bit 0: allow an encoded slash), then NUL-separated: the location's
 * key prefix, the raw path, a file name, an X-S3-Key value, an X-S3-Disposition value.
 * A key that is accepted must be what the header promises (the prefix and the decoded path, at
 * most S3_KEY_MAX bytes, UTF-8, no control character, no "." or ".." segment); its URL path
 * must decode back to it; s3_key_utf8_char() must agree with an independent UTF-8 check.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "s3_handoff.h"
#include "s3_key.h"

/* The properties of the part of a key that came from outside the configuration. */
static void check_key_part(const char *s)
{
    size_t len = strlen(s), i, seg;

    FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)s, len));
    for (i = 0; i < len; i++) {
        FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
    }
    for (i = 0; i <= len; i = seg + 1) {
        for (seg = i; seg < len && s[seg] != '/'; seg++) {
        }
        FUZZ_CHECK(!(seg - i == 1 && s[i] == '.'));
        FUZZ_CHECK(!(seg - i == 2 && s[i] == '.' && s[i + 1] == '.'));
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The URL path of @p key: unreserved characters, '/' and upper-case %XX only, and it decodes
 * back to the key. */
static void check_url_path(const char *key, apr_pool_t *p)
{
    const char *u = s3_key_url_path(key, p);
    char *back = apr_palloc(p, strlen(u) + 1), *b = back;

    for (; *u; u++) {
        if (*u == '%') {
            FUZZ_CHECK(hexval(u[1]) >= 0 && hexval(u[2]) >= 0);
            *b++ = (char)(hexval(u[1]) << 4 | hexval(u[2]));
            u += 2;
            continue;
        }
        FUZZ_CHECK((*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z') || (*u >= '0' && *u <= '9')
                   || strchr("-._~/", *u));
        *b++ = *u;
    }
    *b = '\0';
    FUZZ_CHECK(!strcmp(back, key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned flags = fuzz_byte(&in);
    const char *prefix = fuzz_str(&in, p), *raw = fuzz_str(&in, p), *filename = fuzz_str(&in, p);
    const char *hkey = fuzz_str(&in, p), *hdisp = fuzz_str(&in, p);
    const char *key = NULL, *why = NULL, *ext, *disp = NULL, *base;
    size_t i, n, len;
    apr_status_t rv;

    /* the UTF-8 decoder against the reference, at every offset of the raw path */
    len = strlen(raw);
    for (i = 0; i < len; i++) {
        n = s3_key_utf8_char(raw + i, len - i);
        FUZZ_CHECK(n <= 4 && n <= len - i);
        FUZZ_CHECK(n == 0 || fuzz_utf8_valid((const unsigned char *)raw + i, n));
        /* the shortest valid prefix of the rest, if any, is the one it found */
        for (n = 1; n <= 4 && n <= len - i; n++) {
            if (fuzz_utf8_valid((const unsigned char *)raw + i, n)) {
                break;
            }
        }
        FUZZ_CHECK(s3_key_utf8_char(raw + i, len - i) == (n <= 4 && n <= len - i ? n : 0));
    }
    FUZZ_CHECK(s3_key_utf8_char(raw, 0) == 0);

    rv = s3_key_from_path(&key, &why, prefix, raw, flags & 1, p);
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(!strncmp(key, prefix, strlen(prefix)));
        FUZZ_CHECK(*key && strlen(key) <= S3_KEY_MAX);
        check_key_part(key + strlen(prefix));
        FUZZ_CHECK((flags & 1) || strlen(key) - strlen(prefix) <= len);
        check_url_path(key, p);
        base = s3_key_basename(key);
        FUZZ_CHECK(!strchr(base, '/') && base >= key && base <= key + strlen(key));
    }
    else {
        FUZZ_CHECK(rv == APR_EINVAL && why != NULL && *why);
    }

    ext = s3_key_extension(filename, p);
    n = strlen(ext);
    FUZZ_CHECK(n == 0 || (n >= 2 && n <= 11 && ext[0] == '.'));
    for (i = 1; i < n; i++) {
        FUZZ_CHECK((ext[i] >= 'a' && ext[i] <= 'z') || (ext[i] >= '0' && ext[i] <= '9'));
    }

    why = NULL;
    rv = s3_handoff_parse(&key, &disp, &why, prefix, hkey, *hdisp ? hdisp : NULL, p);
    if (rv == APR_SUCCESS) {
        /* the header is plain text: the key is the prefix and the header's text */
        FUZZ_CHECK(!strncmp(key, prefix, strlen(prefix)));
        FUZZ_CHECK(!strcmp(key + strlen(prefix), hkey + strspn(hkey, "/")));
        FUZZ_CHECK(strlen(key) <= S3_KEY_MAX);
        check_key_part(key + strlen(prefix));
        /* passed on as the application wrote it, or made here: then header-safe */
        FUZZ_CHECK(!disp || disp == hdisp || fuzz_printable(disp));
    }
    else {
        FUZZ_CHECK(rv == APR_EINVAL && why != NULL && *why);
    }
    FUZZ_CHECK(*s3_handoff_route(raw, p) == '/');
    apr_pool_destroy(p);
    return 0;
}
