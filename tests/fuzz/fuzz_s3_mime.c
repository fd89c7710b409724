/* fuzz_s3_mime — content types and file names from clients (modules/s3/s3_mime.c): the list of
 * content-type patterns (from an upload token, which a client holds), the Content-Type of an
 * upload checked against it, and the Content-Disposition made from a client's file name.
 *
 * Input: one byte (bits 0-1: the disposition type: attachment, inline, NULL, or "attachment"
 * when 3), then NUL-separated: the pattern list, a content type, a file name.
 * A parsed list holds lower-case type/subtype patterns; a sanitized file name is UTF-8 without
 * control characters or path separators; a Content-Disposition is printable ASCII.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "s3_mime.h"

static int tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'+-.^_`|~", c));
}

/* type/subtype, type/\* or \*\/\* (written this way in a C comment), lower-case. */
static void check_pattern(const char *pat)
{
    const char *slash = strchr(pat, '/'), *c;

    FUZZ_CHECK(slash && slash > pat && slash[1]);
    if (!strcmp(pat, "*/*")) {
        return;
    }
    for (c = pat; c < slash; c++) {
        FUZZ_CHECK(tchar(*c));
    }
    if (!strcmp(slash + 1, "*")) {
        return;
    }
    for (c = slash + 1; *c; c++) {
        FUZZ_CHECK(tchar(*c));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"attachment", "inline", NULL, "attachment"};
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned flags = fuzz_byte(&in);
    const char *list = fuzz_str(&in, p), *ctype = fuzz_str(&in, p), *filename = fuzz_str(&in, p);
    const char *type = types[flags & 3], *why = NULL, *name, *disp;
    apr_array_header_t *patterns = NULL;
    int i, allowed, any = 0;

    if (s3_mime_parse_list(&patterns, &why, list, p) == APR_SUCCESS) {
        FUZZ_CHECK(patterns->nelts > 0);
        for (i = 0; i < patterns->nelts; i++) {
            const char *pat = APR_ARRAY_IDX(patterns, i, const char *);
            check_pattern(pat);
            any |= !strcmp(pat, "*/*");
            /* a pattern without a wildcard allows itself */
            FUZZ_CHECK(strchr(pat, '*') || s3_mime_type_allowed(patterns, pat));
        }
        allowed = s3_mime_type_allowed(patterns, ctype);
        FUZZ_CHECK(!any || allowed);
        /* parameters and the surrounding white space do not change the answer */
        FUZZ_CHECK(s3_mime_type_allowed(patterns, apr_pstrcat(p, " ", ctype, NULL)) == allowed);
        FUZZ_CHECK(s3_mime_type_allowed(patterns, apr_pstrcat(p, ctype, ";q=1", NULL)) == allowed);
    }
    else {
        FUZZ_CHECK(why != NULL && *why);
    }
    FUZZ_CHECK(s3_mime_type_allowed(NULL, ctype));

    name = s3_mime_sanitize_filename(filename, p);
    FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)name, strlen(name)));
    FUZZ_CHECK(!strpbrk(name, "/\\"));
    for (i = 0; name[i]; i++) {
        FUZZ_CHECK((unsigned char)name[i] >= 0x20 && name[i] != 0x7f);
    }
    FUZZ_CHECK(strlen(name) <= strlen(filename));

    disp = s3_mime_disposition(type, filename, p);
    FUZZ_CHECK(fuzz_printable(disp));
    FUZZ_CHECK(!strncmp(disp, type ? type : "attachment", strlen(type ? type : "attachment")));
    apr_pool_destroy(p);
    return 0;
}
