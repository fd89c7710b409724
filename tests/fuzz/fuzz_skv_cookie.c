/* fuzz_skv_cookie — the session cookie as clients send it (modules/session_kv/skv_cookie.c):
 * Cookie header lines scanned for the session cookie, its value checked as a session id
 * (skv_id.c); and the cookie attributes of the configuration, whose Set-Cookie header must stay
 * one header whatever was configured.
 *
 * Input: NUL-separated: the cookie name, then Cookie header lines up to an empty string, then
 * cookie attributes ("Path=/x", "SameSite=None", ...).
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "lf_b64url.h"
#include "skv_cookie.h"
#include "skv_id.h"

/* Whether @p s holds no control character: the configured Path and Domain may be UTF-8, but
 * nothing in them may end the header line. */
static int no_ctl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    const char *name = fuzz_str(&in, p), *line, *why, *h;
    skv_cookie_found_t found;
    skv_cookie_t c;

    memset(&found, 0, sizeof(found));
    while (in.len && *(line = fuzz_str(&in, p))) {
        int before = found.count;

        skv_cookie_scan(&found, line, name, p);
        FUZZ_CHECK(found.count >= before);
    }
    FUZZ_CHECK((found.count > 0) == (found.value != NULL));
    FUZZ_CHECK(found.count > 1 || !found.differ);
    if (found.value) {
        size_t vlen = strlen(found.value);

        FUZZ_CHECK(!strchr(found.value, ';'));
        FUZZ_CHECK(!vlen || (found.value[vlen - 1] != ' ' && found.value[vlen - 1] != '\t'));
        if (skv_id_valid(found.value, vlen)) {
            apr_size_t rawlen;
            char *raw = lf_b64url_decode(&rawlen, found.value, vlen, p);
            const char *key = skv_id_key("skv:", found.value, p);

            /* canonical: no other spelling of the same 256 bits passes */
            FUZZ_CHECK(rawlen == SKV_ID_BYTES);
            FUZZ_CHECK(
                !strcmp(lf_b64url_encode((const unsigned char *)raw, rawlen, p), found.value));
            FUZZ_CHECK(strlen(key) == 4 + 64 && strspn(key + 4, "0123456789abcdef") == 64);
        }
    }

    skv_cookie_defaults(&c, name);
    while (in.len) {
        const char *attr = fuzz_str(&in, p);

        why = skv_cookie_attr(&c, attr, p);
        FUZZ_CHECK(!why || *why);
    }
    FUZZ_CHECK(c.path && *c.path == '/');
    FUZZ_CHECK(c.max_age == -1 || (c.max_age >= 1 && c.max_age <= 400 * 86400));
    if (!skv_cookie_check(&c, p)) {
        /* a cookie that passed the check makes one header line, whatever its attributes */
        h = skv_cookie_header(&c, "v", p);
        FUZZ_CHECK(no_ctl(h) && !strncmp(h, name, strlen(name)));
        h = skv_cookie_header(&c, NULL, p);
        FUZZ_CHECK(no_ctl(h) && strstr(h, "; Max-Age=0"));
    }
    apr_pool_destroy(p);
    return 0;
}
