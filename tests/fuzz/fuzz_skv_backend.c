/* fuzz_skv_backend — session store URLs (modules/session_kv/skv_backend.c):
 * memcached://host:port,... and redis://user:password@host:port/db, with the promise that the
 * password never shows, neither in the display form nor in an error message.
 *
 * Input: the URL (up to the first NUL).
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "skv_backend.h"

/* The password as written in the URL, when it can be told apart: the text between the first ':'
 * of the user information and its last '@', at least 6 bytes, with no '*', ':' or '/' (which
 * the display's "***" or the rest of the URL could hold by themselves), found nowhere else in
 * the URL, and with a byte that is not ASCII (every message of the parser is ASCII but what it
 * quotes; "memcached" is in its hints). NULL otherwise. */
static const char *plain_password(const char *url, apr_pool_t *p)
{
    const char *sep = strstr(url, "://"), *at, *colon, *pw, *c;

    if (!sep || !(at = strrchr(sep + 3, '@'))) {
        return NULL;
    }
    colon = memchr(sep + 3, ':', (size_t)(at - sep - 3));
    if (!colon || at - colon - 1 < 6) {
        return NULL;
    }
    pw = apr_pstrmemdup(p, colon + 1, (size_t)(at - colon - 1));
    for (c = pw; *c && (unsigned char)*c < 0x80; c++) {
    }
    if (!*c || strpbrk(pw, "*:/") || strstr(url, pw) != colon + 1 || strstr(colon + 2, pw)) {
        return NULL;
    }
    return pw;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    const char *url = fuzz_str(&in, p), *why = NULL, *pw = plain_password(url, p);
    skv_backend_t *be = NULL;
    apr_status_t rv;
    int i;

    rv = skv_backend_parse(&be, &why, url, p);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(rv == APR_EINVAL && why && *why);
        FUZZ_CHECK(!pw || !strstr(why, pw));
        apr_pool_destroy(p);
        return 0;
    }
    FUZZ_CHECK(be->type == SKV_BACKEND_MEMCACHED || be->type == SKV_BACKEND_REDIS);
    FUZZ_CHECK(skv_backend_driver(be) != NULL);
    FUZZ_CHECK(be->display && (!pw || !strstr(be->display, pw)));
    FUZZ_CHECK(be->servers && be->servers->nelts >= 1);
    FUZZ_CHECK(be->type == SKV_BACKEND_MEMCACHED || be->servers->nelts == 1);
    FUZZ_CHECK(be->db >= 0 && be->db <= 15);
    FUZZ_CHECK(!be->password || *be->password);
    FUZZ_CHECK(be->type == SKV_BACKEND_REDIS || (!be->user && !be->password));
    for (i = 0; i < be->servers->nelts; i++) {
        const skv_server_t *s = &APR_ARRAY_IDX(be->servers, i, skv_server_t);

        FUZZ_CHECK(s->host && *s->host && s->port > 0);
        FUZZ_CHECK(!strpbrk(s->host, "/@,[]"));
    }
    apr_pool_destroy(p);
    return 0;
}
