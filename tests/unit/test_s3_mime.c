/* Unit tests of modules/s3/s3_mime.c: content-type pattern lists, matching, file names and
 * Content-Disposition values. */
#include "unit.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "s3_mime.h"

/* The patterns of @p list, or fail the test with the reason. */
static apr_array_header_t *list_ok(const char *list, apr_pool_t *p)
{
    apr_array_header_t *a = NULL;
    const char *why = NULL;

    if (s3_mime_parse_list(&a, &why, list, p) != APR_SUCCESS) {
        fail_msg("rejected \"%s\": %s", list, why ? why : "(no reason)");
    }
    return a;
}

static const char *list_bad(const char *list, apr_pool_t *p)
{
    apr_array_header_t *a = NULL;
    const char *why = NULL;

    if (s3_mime_parse_list(&a, &why, list, p) != APR_EINVAL) {
        fail_msg("accepted \"%s\"", list);
    }
    assert_null(a);
    assert_non_null(why);
    return why;
}

static const char *item(apr_array_header_t *a, int i)
{
    return APR_ARRAY_IDX(a, i, const char *);
}

static void parse_list(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a;

    a = list_ok("image/png, image/*", p);
    assert_int_equal(a->nelts, 2);
    assert_string_equal(item(a, 0), "image/png");
    assert_string_equal(item(a, 1), "image/*");

    /* commas and/or spaces and tabs; case folded */
    a = list_ok("  Image/PNG,,text/plain \t application/vnd.ms-excel,*/*  ", p);
    assert_int_equal(a->nelts, 4);
    assert_string_equal(item(a, 0), "image/png");
    assert_string_equal(item(a, 1), "text/plain");
    assert_string_equal(item(a, 2), "application/vnd.ms-excel");
    assert_string_equal(item(a, 3), "*/*");

    a = list_ok("application/vnd.openxmlformats-officedocument.wordprocessingml.document", p);
    assert_int_equal(a->nelts, 1);
    a = list_ok("image/svg+xml", p);
    assert_string_equal(item(a, 0), "image/svg+xml");
}

static void parse_list_bad(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "image",    "image/",      "/png",        "*/png",     "image/png;charset=x",
        "*",        "image/png/x", "im*ge/png",   "image/pn*", "**/*",
        "image/**", "ima\"ge/png", "image/png=x", "*/**",      "imag\xc3\xa9/png",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        list_bad(bad[i], p);
    }
    /* one bad entry spoils the list, and is named */
    assert_string_equal(list_bad("image/png, text", p),
                        "\"text\" is not a content type pattern (type/subtype, type/* or */*)");
    /* named escaped: a config or token cannot put a line break into the log */
    assert_string_equal(list_bad("a/b x\ny/z", p),
                        "\"x\\ny/z\" is not a content type pattern (type/subtype, type/* or */*)");
    assert_string_equal(list_bad("", p), "the list of content types is empty");
    assert_string_equal(list_bad(" , ,", p), "the list of content types is empty");
    assert_string_equal(list_bad(NULL, p), "the list of content types is empty");
}

static void type_allowed(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = list_ok("image/png, text/*", p);

    assert_true(s3_mime_type_allowed(a, "image/png"));
    assert_true(s3_mime_type_allowed(a, "IMAGE/PNG"));
    assert_true(s3_mime_type_allowed(a, "  image/png  "));
    assert_true(s3_mime_type_allowed(a, "image/png; name=\"x\""));
    assert_true(s3_mime_type_allowed(a, "image/png;q=1"));
    assert_true(s3_mime_type_allowed(a, "text/plain; charset=utf-8"));
    assert_true(s3_mime_type_allowed(a, "Text/HTML"));
    assert_true(s3_mime_type_allowed(a, "text/x-php"));

    assert_false(s3_mime_type_allowed(a, "image/jpeg"));
    assert_false(s3_mime_type_allowed(a, "image/pngx"));
    assert_false(s3_mime_type_allowed(a, "image/pn"));
    assert_false(s3_mime_type_allowed(a, "application/octet-stream"));
    assert_false(s3_mime_type_allowed(a, "texts/plain"));
    assert_false(s3_mime_type_allowed(a, "image/png x"));
    assert_false(s3_mime_type_allowed(a, "image / png"));
    /* no usable type: only "any" lets it through */
    assert_false(s3_mime_type_allowed(a, NULL));
    assert_false(s3_mime_type_allowed(a, ""));
    assert_false(s3_mime_type_allowed(a, "text"));
    assert_false(s3_mime_type_allowed(a, "text/"));
    assert_false(s3_mime_type_allowed(a, "text/*"));
    assert_false(s3_mime_type_allowed(a, "*/*"));
}

static void type_wildcards(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *any = list_ok("*/*", p);
    apr_array_header_t *none = apr_array_make(p, 1, sizeof(const char *));
    apr_array_header_t *hand = apr_array_make(p, 1, sizeof(const char *));

    /* "*" + "/" + "*" takes everything, even no type at all */
    assert_true(s3_mime_type_allowed(any, "application/x-anything"));
    assert_true(s3_mime_type_allowed(any, NULL));
    assert_true(s3_mime_type_allowed(any, ""));
    assert_true(s3_mime_type_allowed(any, "garbage"));
    /* NULL or empty patterns: everything */
    assert_true(s3_mime_type_allowed(NULL, "image/png"));
    assert_true(s3_mime_type_allowed(NULL, NULL));
    assert_true(s3_mime_type_allowed(none, "garbage"));
    /* patterns built by hand compare without case too */
    APR_ARRAY_PUSH(hand, const char *) = "IMAGE/*";
    assert_true(s3_mime_type_allowed(hand, "image/webp"));
    assert_false(s3_mime_type_allowed(hand, "imagex/webp"));
    assert_false(s3_mime_type_allowed(hand, "video/mp4"));
}

static void sanitize_filename(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(s3_mime_sanitize_filename("report.pdf", p), "report.pdf");
    assert_string_equal(s3_mime_sanitize_filename("/home/me/report.pdf", p), "report.pdf");
    assert_string_equal(s3_mime_sanitize_filename("C:\\Users\\me\\report.pdf", p), "report.pdf");
    assert_string_equal(s3_mime_sanitize_filename("../../etc/passwd", p), "passwd");
    assert_string_equal(s3_mime_sanitize_filename("a\r\nb\tc\x7f.txt", p), "a__b_c_.txt");
    assert_string_equal(s3_mime_sanitize_filename("caf\xc3\xa9.txt", p), "caf\xc3\xa9.txt");
    /* bytes that are not UTF-8, each replaced */
    assert_string_equal(s3_mime_sanitize_filename("caf\xe9\xff.txt", p), "caf__.txt");
    assert_string_equal(s3_mime_sanitize_filename("dir/", p), "");
    assert_string_equal(s3_mime_sanitize_filename(NULL, p), "");
    /* quotes are fine in the UTF-8 name: the header encodes them */
    assert_string_equal(s3_mime_sanitize_filename("say \"hi\".txt", p), "say \"hi\".txt");
}

static void disposition(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(s3_mime_disposition("attachment", NULL, p), "attachment");
    assert_string_equal(s3_mime_disposition("inline", NULL, p), "inline");
    assert_string_equal(s3_mime_disposition(NULL, NULL, p), "attachment");
    assert_string_equal(s3_mime_disposition("inline", "", p), "inline");
    assert_string_equal(s3_mime_disposition("inline", "dir/", p), "inline");

    assert_string_equal(s3_mime_disposition("attachment", "report.pdf", p),
                        "attachment; filename=\"report.pdf\"");
    assert_string_equal(s3_mime_disposition("inline", "my photo (1).jpg", p),
                        "inline; filename=\"my photo (1).jpg\"");
    /* paths go */
    assert_string_equal(s3_mime_disposition("attachment", "/var/www/../secret/report.pdf", p),
                        "attachment; filename=\"report.pdf\"");
    assert_string_equal(s3_mime_disposition("attachment", "C:\\fakepath\\report.pdf", p),
                        "attachment; filename=\"report.pdf\"");
}

static void disposition_escapes(void **state)
{
    apr_pool_t *p = *state;

    /* quotes and backslashes never reach the quoted string; the real name goes in filename* */
    assert_string_equal(s3_mime_disposition("attachment", "say \"hi\".txt", p),
                        "attachment; filename=\"say _hi_.txt\"; "
                        "filename*=UTF-8''say%20%22hi%22.txt");
    /* a header cannot be split */
    assert_string_equal(s3_mime_disposition("attachment", "a\r\nSet-Cookie: x=1.txt", p),
                        "attachment; filename=\"a__Set-Cookie: x=1.txt\"");
    /* '%' stays out of the fallback (RFC 6266 appendix D) */
    assert_string_equal(s3_mime_disposition("attachment", "100%.txt", p),
                        "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt");
    /* the attr-chars stand as they are, the rest is encoded */
    assert_string_equal(s3_mime_disposition("inline", "a!#$&+-.^_`|~b;c'd=e,f", p),
                        "inline; filename=\"a!#$&+-.^_`|~b;c'd=e,f\"");
    assert_string_equal(s3_mime_disposition("inline", "a;b'c\".txt", p),
                        "inline; filename=\"a;b'c_.txt\"; filename*=UTF-8''a%3Bb%27c%22.txt");
}

static void disposition_unicode(void **state)
{
    apr_pool_t *p = *state;

    /* one '_' per character, not per byte */
    assert_string_equal(s3_mime_disposition("attachment", "caf\xc3\xa9.txt", p),
                        "attachment; filename=\"caf_.txt\"; filename*=UTF-8''caf%C3%A9.txt");
    assert_string_equal(s3_mime_disposition("inline", "\xe2\x82\xac \xf0\x9f\x98\x80.png", p),
                        "inline; filename=\"_ _.png\"; "
                        "filename*=UTF-8''%E2%82%AC%20%F0%9F%98%80.png");
    assert_string_equal(
        s3_mime_disposition("attachment", "/tmp/\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82.pdf", p),
        "attachment; filename=\"_____.pdf\"; "
        "filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf");
    /* bytes that are not UTF-8 become '_' in both, so filename* never lies about its charset */
    assert_string_equal(s3_mime_disposition("attachment", "caf\xe9.txt", p),
                        "attachment; filename=\"caf_.txt\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(parse_list),          UNIT_TEST(parse_list_bad),      UNIT_TEST(type_allowed),
        UNIT_TEST(type_wildcards),      UNIT_TEST(sanitize_filename),   UNIT_TEST(disposition),
        UNIT_TEST(disposition_escapes), UNIT_TEST(disposition_unicode),
    };
    return UNIT_RUN("s3_mime", tests);
}
