/* Unit tests of modules/s3/s3_key.c: keys from request paths, generated keys, extensions and
 * keys in S3 URL paths. */
#include "unit.h"

#include <apr_strings.h>

#include "s3_key.h"

/* The key for @p raw below @p prefix, or fail the test with the reason. */
static const char *key_ok(const char *prefix, const char *raw, int allow_slash, apr_pool_t *p)
{
    const char *key = NULL, *why = NULL;

    if (s3_key_from_path(&key, &why, prefix, raw, allow_slash, p) != APR_SUCCESS) {
        fail_msg("rejected \"%s\": %s", raw, why ? why : "(no reason)");
    }
    return key;
}

/* The reason @p raw is rejected (the test fails if it is not). */
static const char *key_bad(const char *prefix, const char *raw, int allow_slash, apr_pool_t *p)
{
    const char *key = "untouched", *why = NULL;

    if (s3_key_from_path(&key, &why, prefix, raw, allow_slash, p) != APR_EINVAL) {
        fail_msg("accepted \"%s\" as \"%s\"", raw, key);
    }
    assert_string_equal(key, "untouched");
    assert_non_null(why);
    return why;
}

static void decode_and_prefix(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(key_ok("", "photos/a%20b.jpg", 0, p), "photos/a b.jpg");
    assert_string_equal(key_ok("uploads/", "photos/a%20b.jpg", 0, p), "uploads/photos/a b.jpg");
    assert_string_equal(key_ok("uploads/", "plain.txt", 0, p), "uploads/plain.txt");
    /* '+' is a '+' in a path, not a space */
    assert_string_equal(key_ok("", "a+b%2Bc", 0, p), "a+b+c");
    /* an empty path is the prefix itself */
    assert_string_equal(key_ok("uploads/", "", 0, p), "uploads/");
    /* dots that are not whole segments are fine */
    assert_string_equal(key_ok("", "a.b/..c/d../.e/...", 0, p), "a.b/..c/d../.e/...");
    /* empty segments are kept: S3 keys may hold them */
    assert_string_equal(key_ok("", "a//b/", 0, p), "a//b/");
    /* reserved characters pass as they are, or decoded */
    assert_string_equal(key_ok("", "q%3Fx%23y%25z&=@:", 0, p), "q?x#y%z&=@:");
}

static void unicode(void **state)
{
    apr_pool_t *p = *state;

    /* percent-encoded UTF-8, as browsers send it */
    assert_string_equal(key_ok("u/", "caf%C3%A9/%E2%82%AC%F0%9F%98%80.png", 0, p),
                        "u/caf\xc3\xa9/\xe2\x82\xac\xf0\x9f\x98\x80.png");
    /* raw UTF-8 bytes in the path */
    assert_string_equal(key_ok("", "\xc3\xa9t\xc3\xa9", 0, p), "\xc3\xa9t\xc3\xa9");
    /* U+FFFF, U+10FFFF are UTF-8 (noncharacters, but encodable) */
    assert_string_equal(key_ok("", "%EF%BF%BF%F4%8F%BF%BF", 0, p), "\xef\xbf\xbf\xf4\x8f\xbf\xbf");
}

static void bad_escapes(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(key_bad("", "a%zzb", 0, p), "the path holds a bad percent escape");
    assert_string_equal(key_bad("", "a%2", 0, p), "the path holds a bad percent escape");
    assert_string_equal(key_bad("", "a%", 0, p), "the path holds a bad percent escape");
    assert_string_equal(key_bad("", "%g0", 0, p), "the path holds a bad percent escape");
}

static void control_characters(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(key_bad("", "a%00b", 0, p), "the key holds a NUL character");
    assert_string_equal(key_bad("", "a%00b", 1, p), "the key holds a NUL character");
    assert_string_equal(key_bad("", "a%0Ab", 0, p), "the key holds a control character");
    assert_string_equal(key_bad("", "a%0db", 0, p), "the key holds a control character");
    assert_string_equal(key_bad("", "%01", 0, p), "the key holds a control character");
    assert_string_equal(key_bad("", "%1F", 0, p), "the key holds a control character");
    assert_string_equal(key_bad("", "a%7Fb", 0, p), "the key holds a control character");
    assert_string_equal(key_bad("", "a\tb", 0, p), "the key holds a control character");
    assert_string_equal(key_bad("", "a\x7f", 0, p), "the key holds a control character");
    /* 0x20 is the first character allowed */
    assert_string_equal(key_ok("", "%20", 0, p), " ");
}

static void dot_segments(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "..",     ".",        "../etc/passwd", "a/../b",   "a/./b",    "a/..",  "a/.", "./a",
        "%2e%2e", "%2E%2E/x", "a/%2e/b",       "a/.%2e/b", "a/%2e./b", "a/%2E", "/..", "a//../b",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_string_equal(key_bad("uploads/", bad[i], 0, p),
                            "the key holds a \".\" or \"..\" segment");
    }
    /* a slash decoded from %2F makes segments too */
    assert_string_equal(key_bad("", "a%2F..%2Fb", 1, p), "the key holds a \".\" or \"..\" segment");
    assert_string_equal(key_bad("", "a%2F.", 1, p), "the key holds a \".\" or \"..\" segment");
}

static void encoded_slash(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(key_bad("", "a%2Fb", 0, p), "the path holds an encoded slash (%2F)");
    assert_string_equal(key_bad("", "a%2fb", 0, p), "the path holds an encoded slash (%2F)");
    assert_string_equal(key_ok("", "a%2Fb", 1, p), "a/b");
    assert_string_equal(key_ok("p/", "a%2fb%2F", 1, p), "p/a/b/");
}

static void invalid_utf8(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "%FF",          /* never in UTF-8 */
        "%C3",          /* truncated */
        "%C3x",         /* continuation missing */
        "%80",          /* lone continuation byte */
        "%C0%AF",       /* overlong '/' */
        "%E0%80%AF",    /* overlong, 3 bytes */
        "%F0%80%80%AF", /* overlong, 4 bytes */
        "%ED%A0%80",    /* surrogate U+D800 */
        "%F4%90%80%80", /* above U+10FFFF */
        "%F5%80%80%80", /* lead byte above F4 */
        "\xe9t\xe9",    /* Latin-1, raw */
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_string_equal(key_bad("", bad[i], 0, p), "the key is not valid UTF-8");
    }
}

static void length(void **state)
{
    apr_pool_t *p = *state;
    char *raw = apr_palloc(p, 4000);
    int i;

    assert_string_equal(key_bad("", "", 0, p), "the key is empty");

    /* 1024 bytes in all: the prefix counts */
    memset(raw, 'k', 1016);
    raw[1016] = '\0';
    assert_int_equal(strlen(key_ok("uploads/", raw, 0, p)), 1024);
    raw[1016] = 'k';
    raw[1017] = '\0';
    assert_string_equal(key_bad("uploads/", raw, 0, p), "the key is longer than 1024 bytes");

    /* bytes after decoding count, not bytes in the URL: 341 x "%E2%82%AC" = 1023 bytes */
    raw[0] = '\0';
    for (i = 0; i < 341; ++i) {
        strcat(raw, "%E2%82%AC");
    }
    strcat(raw, "x");
    assert_int_equal(strlen(key_ok("", raw, 0, p)), 1024);
    strcat(raw, "y");
    assert_string_equal(key_bad("", raw, 0, p), "the key is longer than 1024 bytes");
}

static void below_location(void **state)
{
    const char *rest = "untouched";

    (void)state;
    assert_int_equal(s3_key_below_location(&rest, "/files/a/b.png", "/files"), APR_SUCCESS);
    assert_string_equal(rest, "a/b.png");
    /* leading slashes go; empty segments further on stay (a key of their own) */
    assert_int_equal(s3_key_below_location(&rest, "/files//a//b", "/files"), APR_SUCCESS);
    assert_string_equal(rest, "a//b");
    /* no <Location>: the whole path */
    assert_int_equal(s3_key_below_location(&rest, "/a%20b", NULL), APR_SUCCESS);
    assert_string_equal(rest, "a%20b");
    /* not below it: another prefix of the same letters, an alias, an encoded location path */
    rest = "untouched";
    assert_int_equal(s3_key_below_location(&rest, "/filesystem/a", "/files"), APR_NOTFOUND);
    assert_int_equal(s3_key_below_location(&rest, "/other/a", "/files"), APR_NOTFOUND);
    assert_int_equal(s3_key_below_location(&rest, "/fil%65s/a", "/files"), APR_NOTFOUND);
    /* the location itself: no listing */
    assert_int_equal(s3_key_below_location(&rest, "/files", "/files"), APR_NOTFOUND);
    assert_int_equal(s3_key_below_location(&rest, "/files//", "/files"), APR_NOTFOUND);
    assert_int_equal(s3_key_below_location(&rest, "/", NULL), APR_NOTFOUND);
    assert_string_equal(rest, "untouched");
}

static void generate(void **state)
{
    apr_pool_t *p = *state;
    const char *a = NULL, *b = NULL;
    apr_size_t i;

    assert_int_equal(s3_key_generate(&a, "uploads/", "Holiday Photo.JPG", p), APR_SUCCESS);
    assert_int_equal(strlen(a), strlen("uploads/") + 32 + strlen(".jpg"));
    assert_memory_equal(a, "uploads/", 8);
    for (i = 8; i < 40; ++i) {
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'))) {
            fail_msg("not lower-case hex at %d: %s", (int)i, a);
        }
    }
    assert_string_equal(a + 40, ".jpg");

    /* two keys differ */
    assert_int_equal(s3_key_generate(&b, "uploads/", "Holiday Photo.JPG", p), APR_SUCCESS);
    assert_string_not_equal(a, b);

    /* no name, no extension; a prefix of "" */
    assert_int_equal(s3_key_generate(&a, "", NULL, p), APR_SUCCESS);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(s3_key_generate(&a, "x/", "../../etc/passwd", p), APR_SUCCESS);
    assert_int_equal(strlen(a), 34);
    assert_int_equal(s3_key_generate(&a, "x/", "shell.php%00.jpg", p), APR_SUCCESS);
    assert_string_equal(a + 34, ".jpg");

    /* a prefix so long the key would not fit */
    {
        char *prefix = apr_palloc(p, 1001);
        memset(prefix, 'p', 1000);
        prefix[1000] = '\0';
        a = "untouched";
        assert_int_equal(s3_key_generate(&a, prefix, "a.png", p), APR_EINVAL);
        assert_string_equal(a, "untouched");
        prefix[1024 - 32 - 4] = '\0';
        assert_int_equal(s3_key_generate(&a, prefix, "a.png", p), APR_SUCCESS);
        assert_int_equal(strlen(a), 1024);
    }
}

static void extension(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(s3_key_basename("u1/invoice 7.pdf"), "invoice 7.pdf");
    assert_string_equal(s3_key_basename("top.txt"), "top.txt");
    assert_string_equal(s3_key_basename("dir/"), "");
    assert_string_equal(s3_key_extension("a.tar.gz", p), ".gz");
    assert_string_equal(s3_key_extension(".htaccess", p), "");
    assert_string_equal(s3_key_extension("x.PHP", p), ".php");
    assert_string_equal(s3_key_extension("photo.JpEg", p), ".jpeg");
    assert_string_equal(s3_key_extension("noext", p), "");
    assert_string_equal(s3_key_extension("trailing.", p), "");
    assert_string_equal(s3_key_extension("", p), "");
    assert_string_equal(s3_key_extension(NULL, p), "");
    assert_string_equal(s3_key_extension("a.mp4", p), ".mp4");
    /* 10 characters at most */
    assert_string_equal(s3_key_extension("a.abcdefghij", p), ".abcdefghij");
    assert_string_equal(s3_key_extension("a.abcdefghijk", p), "");
    /* only [A-Za-z0-9] */
    assert_string_equal(s3_key_extension("a.b c", p), "");
    assert_string_equal(s3_key_extension("a.p-g", p), "");
    assert_string_equal(s3_key_extension("a.caf\xc3\xa9", p), "");
    assert_string_equal(s3_key_extension("a.jpg\n", p), "");
    /* the directory part goes, with either separator */
    assert_string_equal(s3_key_extension("dir.d/file", p), "");
    assert_string_equal(s3_key_extension("C:\\dir.d\\file", p), "");
    assert_string_equal(s3_key_extension("C:\\Users\\me\\IMG.PNG", p), ".png");
    assert_string_equal(s3_key_extension("/tmp/x.d/.profile", p), "");
    assert_string_equal(s3_key_extension("x.d/..", p), "");
}

static void filename_base(void **state)
{
    (void)state;
    /* a client's file name: either separator, since browsers on Windows send whole paths */
    assert_string_equal(s3_key_filename_base("IMG.PNG"), "IMG.PNG");
    assert_string_equal(s3_key_filename_base("C:\\Users\\me\\IMG.PNG"), "IMG.PNG");
    assert_string_equal(s3_key_filename_base("/tmp/x.d/a b.txt"), "a b.txt");
    assert_string_equal(s3_key_filename_base("mixed/dir\\f"), "f");
    assert_string_equal(s3_key_filename_base("dir/"), "");
    assert_string_equal(s3_key_filename_base(""), "");
    /* a key keeps its backslashes: only '/' separates there */
    assert_string_equal(s3_key_basename("a\\b/c\\d"), "c\\d");
}

static void url_path(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(s3_key_url_path("uploads/a b.jpg", p), "uploads/a%20b.jpg");
    assert_string_equal(s3_key_url_path("a-b_c.d~e/f", p), "a-b_c.d~e/f");
    assert_string_equal(s3_key_url_path("+:@=()*!,$&'?#%", p),
                        "%2B%3A%40%3D%28%29%2A%21%2C%24%26%27%3F%23%25");
    assert_string_equal(s3_key_url_path("caf\xc3\xa9", p), "caf%C3%A9");
    assert_string_equal(s3_key_url_path("", p), "");
}

static void utf8_char(void **state)
{
    (void)state;
    assert_int_equal(s3_key_utf8_char("a", 1), 1);
    assert_int_equal(s3_key_utf8_char("\xc3\xa9", 2), 2);
    assert_int_equal(s3_key_utf8_char("\xc3\xa9", 1), 0);
    assert_int_equal(s3_key_utf8_char("\xe2\x82\xac", 3), 3);
    assert_int_equal(s3_key_utf8_char("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(s3_key_utf8_char("\xf0\x9f\x98\x80", 3), 0);
    assert_int_equal(s3_key_utf8_char("\xed\x9f\xbf", 3), 3); /* U+D7FF */
    assert_int_equal(s3_key_utf8_char("\xed\xa0\x80", 3), 0); /* U+D800 */
    assert_int_equal(s3_key_utf8_char("\xc1\xbf", 2), 0);
    assert_int_equal(s3_key_utf8_char("", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(decode_and_prefix),  UNIT_TEST(unicode),        UNIT_TEST(bad_escapes),
        UNIT_TEST(control_characters), UNIT_TEST(dot_segments),   UNIT_TEST(encoded_slash),
        UNIT_TEST(invalid_utf8),       UNIT_TEST(length),         UNIT_TEST(generate),
        UNIT_TEST(extension),          UNIT_TEST(filename_base),  UNIT_TEST(url_path),
        UNIT_TEST(utf8_char),          UNIT_TEST(below_location),
    };
    return UNIT_RUN("s3_key", tests);
}
