/* Unit tests of modules/session_kv/skv_cookie.c: cookie attributes from the configuration, the
 * __Host-/__Secure- and SameSite=None rules, finding the cookie in Cookie header lines, and
 * the Set-Cookie value. */
#include "unit.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "skv_cookie.h"

static skv_cookie_t cookie(const char *name)
{
    skv_cookie_t c;

    /* every field set by skv_cookie_defaults(), none left to chance */
    memset(&c, 0x5a, sizeof(c));
    skv_cookie_defaults(&c, name);
    return c;
}

/* Apply @p attr, or fail the test. */
static void attr_ok(skv_cookie_t *c, const char *attr, apr_pool_t *p)
{
    const char *err = skv_cookie_attr(c, attr, p);

    if (err) {
        fail_msg("%s refused: %s", attr, err);
    }
}

/* The error of @p attr, which must leave @p c as it was. */
static const char *attr_bad(const char *attr, apr_pool_t *p)
{
    skv_cookie_t c = cookie("s"), before = c;
    const char *err = skv_cookie_attr(&c, attr, p);

    if (!err) {
        fail_msg("%s accepted", attr);
    }
    assert_ptr_equal(c.name, before.name);
    assert_ptr_equal(c.path, before.path);
    assert_ptr_equal(c.domain, before.domain);
    assert_ptr_equal(c.samesite, before.samesite);
    assert_int_equal(c.secure, before.secure);
    assert_int_equal(c.httponly, before.httponly);
    assert_true(c.max_age == before.max_age);
    return err;
}

static void defaults(void **state)
{
    apr_pool_t *p = *state;
    skv_cookie_t c = cookie("session");

    assert_string_equal(c.name, "session");
    assert_string_equal(c.path, "/");
    assert_null(c.domain);
    assert_string_equal(c.samesite, "Lax");
    assert_int_equal(c.secure, 1);
    assert_int_equal(c.httponly, 1);
    assert_true(c.max_age == -1);
    assert_null(skv_cookie_check(&c, p));
}

static void attributes(void **state)
{
    apr_pool_t *p = *state;
    skv_cookie_t c = cookie("session");

    attr_ok(&c, "Secure=Off", p);
    assert_int_equal(c.secure, 0);
    attr_ok(&c, "Secure", p);
    assert_int_equal(c.secure, 1);
    attr_ok(&c, "secure=off", p);
    assert_int_equal(c.secure, 0);
    attr_ok(&c, "SECURE=ON", p);
    assert_int_equal(c.secure, 1);

    attr_ok(&c, "HttpOnly=Off", p);
    assert_int_equal(c.httponly, 0);
    attr_ok(&c, "httponly", p);
    assert_int_equal(c.httponly, 1);

    attr_ok(&c, "SameSite=Strict", p);
    assert_string_equal(c.samesite, "Strict");
    attr_ok(&c, "samesite=none", p);
    assert_string_equal(c.samesite, "None");
    attr_ok(&c, "SameSite=LAX", p);
    assert_string_equal(c.samesite, "Lax");
    attr_ok(&c, "SameSite=Off", p);
    assert_null(c.samesite);

    attr_ok(&c, "Path=/app", p);
    assert_string_equal(c.path, "/app");
    attr_ok(&c, "path=/", p);
    assert_string_equal(c.path, "/");

    attr_ok(&c, "Domain=example.com", p);
    assert_string_equal(c.domain, "example.com");
    attr_ok(&c, "DOMAIN=.shop.example.com", p);
    assert_string_equal(c.domain, ".shop.example.com");

    attr_ok(&c, "Max-Age=3600", p);
    assert_true(c.max_age == 3600);
    attr_ok(&c, "max-age=1", p);
    assert_true(c.max_age == 1);
    attr_ok(&c, "Max-Age=34560000", p);
    assert_true(c.max_age == 34560000);
}

static void attributes_bad(void **state)
{
    apr_pool_t *p = *state;
    const char *err;

    attr_bad("Secure=yes", p);
    attr_bad("Secure=", p);
    attr_bad("HttpOnly=1", p);
    attr_bad("SameSite", p);
    attr_bad("SameSite=", p);
    attr_bad("SameSite=Loose", p);
    attr_bad("Path", p);
    attr_bad("Path=", p);
    attr_bad("Path=app", p);
    attr_bad("Path=/a;b", p);
    attr_bad("Path=/a b", p);
    attr_bad("Path=/a,b", p);
    attr_bad("Path=/a\r\nSet-Cookie: x=y", p);
    attr_bad("Domain", p);
    attr_bad("Domain=", p);
    attr_bad("Domain=a.com; Secure", p);
    attr_bad("Domain=a.com\n", p);
    attr_bad("Max-Age", p);
    attr_bad("Max-Age=", p);
    attr_bad("Max-Age=0", p);
    attr_bad("Max-Age=-1", p);
    attr_bad("Max-Age=34560001", p);
    attr_bad("Max-Age=1h", p);
    attr_bad("Max-Age=99999999999999999999", p);
    err = attr_bad("Expires=Wed, 21 Oct 2015 07:28:00 GMT", p);
    assert_non_null(strstr(err, "Expires"));
    attr_bad("", p);
    attr_bad("=On", p);
}

static void check_names(void **state)
{
    apr_pool_t *p = *state;
    static const char *const good[] = {"session", "SESSION_ID", "s", "a.b-c_d!#$%&'*+^`|~1"};
    static const char *const bad[] = {"",     "a b", "a=b",  "a;b",   "a,b",         "a\"b",
                                      "a(b)", "a/b", "a\tb", "a\x01", "caf\xc3\xa9", "[s]"};
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
        skv_cookie_t c = cookie(good[i]);
        if (skv_cookie_check(&c, p)) {
            fail_msg("refused the name '%s'", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        skv_cookie_t c = cookie(bad[i]);
        if (!skv_cookie_check(&c, p)) {
            fail_msg("accepted the name '%s'", bad[i]);
        }
    }
}

static const char *check_with(const char *name, const char *a1, const char *a2, apr_pool_t *p)
{
    skv_cookie_t c = cookie(name);

    if (a1) {
        attr_ok(&c, a1, p);
    }
    if (a2) {
        attr_ok(&c, a2, p);
    }
    return skv_cookie_check(&c, p);
}

static void check_prefixes(void **state)
{
    apr_pool_t *p = *state;

    assert_null(check_with("__Host-sid", NULL, NULL, p));
    assert_null(check_with("__Host-sid", "Path=/", "HttpOnly=Off", p));
    assert_null(check_with("__Host-sid", "SameSite=None", NULL, p));
    assert_non_null(check_with("__Host-sid", "Secure=Off", NULL, p));
    assert_non_null(check_with("__Host-sid", "Path=/app", NULL, p));
    assert_non_null(check_with("__Host-sid", "Domain=example.com", NULL, p));

    assert_null(check_with("__Secure-sid", NULL, NULL, p));
    assert_null(check_with("__Secure-sid", "Path=/app", "Domain=example.com", p));
    assert_non_null(check_with("__Secure-sid", "Secure=Off", NULL, p));

    /* browsers match the prefixes without regard to case (RFC 6265bis, "Cookie Name
     * Prefixes"; httpwg/http-extensions#2231) and drop such cookies just the same */
    assert_non_null(check_with("__host-sid", "Secure=Off", NULL, p));
    assert_non_null(check_with("__HOST-sid", "Domain=example.com", NULL, p));
    assert_non_null(check_with("__secure-sid", "Secure=Off", NULL, p));
    assert_non_null(check_with("__SECURE-sid", "Secure=Off", NULL, p));

    /* no prefix: anything goes */
    assert_null(check_with("_Host-sid", "Secure=Off", "Domain=example.com", p));
    assert_null(check_with("Host-sid", "Secure=Off", "Path=/x", p));
    assert_null(check_with("sid__Host-", "Secure=Off", "Path=/x", p));
}

static void check_samesite_none(void **state)
{
    apr_pool_t *p = *state;

    assert_non_null(check_with("sid", "SameSite=None", "Secure=Off", p));
    assert_null(check_with("sid", "SameSite=None", NULL, p));
    assert_null(check_with("sid", "SameSite=Strict", "Secure=Off", p));
    assert_null(check_with("sid", "SameSite=Off", "Secure=Off", p));
    assert_null(check_with("sid", "SameSite=Lax", "Secure=Off", p));
}

/* --- Cookie header lines ------------------------------------------------------------------ */

/* Scan the lines (NULL-terminated) for "session". */
static skv_cookie_found_t scan_lines(apr_pool_t *p, const char *const *lines)
{
    skv_cookie_found_t f;

    memset(&f, 0, sizeof(f));
    for (; *lines; ++lines) {
        skv_cookie_scan(&f, *lines, "session", p);
    }
    return f;
}

static skv_cookie_found_t scan(apr_pool_t *p, const char *line)
{
    const char *lines[2] = {line, NULL};

    return scan_lines(p, lines);
}

static void assert_found(skv_cookie_found_t f, const char *value, int count, int differ)
{
    assert_int_equal(f.count, count);
    assert_int_equal(f.differ, differ);
    if (value) {
        assert_non_null(f.value);
        assert_string_equal(f.value, value);
    }
    else {
        assert_null(f.value);
    }
}

static void scan_one(void **state)
{
    apr_pool_t *p = *state;

    assert_found(scan(p, "session=X"), "X", 1, 0);
    assert_found(scan(p, "a=1; session=X; b=2"), "X", 1, 0);
    assert_found(scan(p, "a=1; b=2; session=X"), "X", 1, 0);
    assert_found(scan(p, "session=X; a=1"), "X", 1, 0);
    /* a value holding '=' and quotes, taken as it is */
    assert_found(scan(p, "a=1; session=ab==; b=2"), "ab==", 1, 0);
    assert_found(scan(p, "session=\"X\""), "\"X\"", 1, 0);
}

static void scan_none(void **state)
{
    apr_pool_t *p = *state;

    assert_found(scan(p, ""), NULL, 0, 0);
    assert_found(scan(p, ";;; ; "), NULL, 0, 0);
    assert_found(scan(p, "a=1; b=2"), NULL, 0, 0);
    /* names that only start or end like it, or differ in case */
    assert_found(scan(p, "sessionx=1; xsession=2; sessio=3; Session=4; SESSION=5"), NULL, 0, 0);
    assert_found(scan(p, "session_id=1; session-2=2"), NULL, 0, 0);
    /* the name as a value, or without '=' */
    assert_found(scan(p, "a=session=X; b=session"), NULL, 0, 0);
    assert_found(scan(p, "session; session "), NULL, 0, 0);
}

static void scan_prefix_names(void **state)
{
    apr_pool_t *p = *state;

    /* a longer name first does not hide it, nor count */
    assert_found(scan(p, "sessionx=1; session=X"), "X", 1, 0);
    assert_found(scan(p, "sessionx=1; session=X; session2=Y"), "X", 1, 0);
}

static void scan_empty_value(void **state)
{
    apr_pool_t *p = *state;

    assert_found(scan(p, "session="), "", 1, 0);
    assert_found(scan(p, "a=1; session=; b=2"), "", 1, 0);
    assert_found(scan(p, "session=; session=X"), "", 2, 1);
    assert_found(scan(p, "session=X; session="), "X", 2, 1);
}

static void scan_whitespace(void **state)
{
    apr_pool_t *p = *state;

    assert_found(scan(p, "  session=X"), "X", 1, 0);
    assert_found(scan(p, "\tsession=X\t"), "X", 1, 0);
    assert_found(scan(p, "a=1;session=X;b=2"), "X", 1, 0);
    assert_found(scan(p, "a=1 ;  session=X  ; b=2"), "X", 1, 0);
    assert_found(scan(p, "a=1;\tsession=X \t;b=2"), "X", 1, 0);
    assert_found(scan(p, "session=X ; session=X"), "X", 2, 0);
}

static void scan_duplicates(void **state)
{
    apr_pool_t *p = *state;

    /* the same value twice (a cookie for / and one for /app, say): no ambiguity */
    assert_found(scan(p, "session=X; a=1; session=X"), "X", 2, 0);
    /* different values: which one is ours cannot be told */
    assert_found(scan(p, "session=X; session=Y"), "X", 2, 1);
    assert_found(scan(p, "session=X; session=X; session=Y"), "X", 3, 1);
    assert_found(scan(p, "session=X; session=Y; session=X"), "X", 3, 1);
    /* a value that is a prefix of the other */
    assert_found(scan(p, "session=XY; session=X"), "XY", 2, 1);
    assert_found(scan(p, "session=X; session=XY"), "X", 2, 1);
}

static void scan_several_lines(void **state)
{
    apr_pool_t *p = *state;
    const char *const one[] = {"a=1", "session=X; b=2", "c=3", NULL};
    const char *const same[] = {"a=1; session=X", "session=X", NULL};
    const char *const differ[] = {"session=X", "b=2", "session=Y; c=3", NULL};
    const char *const none[] = {"a=1", "", "sessionx=1", NULL};

    assert_found(scan_lines(p, one), "X", 1, 0);
    assert_found(scan_lines(p, same), "X", 2, 0);
    assert_found(scan_lines(p, differ), "X", 2, 1);
    assert_found(scan_lines(p, none), NULL, 0, 0);
}

/* The value lives in the pool given, not in the header line. */
static void scan_value_copied(void **state)
{
    apr_pool_t *p = *state;
    char *line = apr_pstrdup(p, "a=1; session=X; b=2");
    skv_cookie_found_t f = scan(p, line);

    memset(line, '#', strlen(line));
    assert_string_equal(f.value, "X");
}

/* --- Set-Cookie -------------------------------------------------------------------------- */

/* The cookie-pair of @p header and its attributes (lower-cased names, "Name=Value" as sent) in
 * a table, each attribute at most once. */
static const char *parse_set_cookie(apr_table_t **attrs, const char *header, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, header), *last = NULL, *part;
    const char *pair = apr_strtok(copy, ";", &last);

    assert_non_null(pair);
    *attrs = apr_table_make(p, 8);
    while ((part = apr_strtok(NULL, ";", &last)) != NULL) {
        char *eq;
        assert_int_equal(*part, ' ');
        ++part;
        eq = strchr(part, '=');
        if (eq) {
            *eq = '\0';
        }
        assert_null(apr_table_get(*attrs, part));
        apr_table_set(*attrs, part, eq ? eq + 1 : "");
    }
    return pair;
}

static void assert_attr(const apr_table_t *attrs, const char *name, const char *value)
{
    const char *v = apr_table_get(attrs, name);

    if (!value) {
        if (v) {
            fail_msg("%s=%s present", name, v);
        }
        return;
    }
    if (!v) {
        fail_msg("%s missing", name);
    }
    assert_string_equal(v, value);
}

static void set_cookie_defaults(void **state)
{
    apr_pool_t *p = *state;
    skv_cookie_t c = cookie("session");
    apr_table_t *a;

    assert_string_equal(parse_set_cookie(&a, skv_cookie_header(&c, "ID43", p), p), "session=ID43");
    assert_int_equal(apr_table_elts(a)->nelts, 4);
    assert_attr(a, "Path", "/");
    assert_attr(a, "Secure", "");
    assert_attr(a, "HttpOnly", "");
    assert_attr(a, "SameSite", "Lax");
    assert_attr(a, "Domain", NULL);
    assert_attr(a, "Max-Age", NULL);
    assert_attr(a, "Expires", NULL);
}

static void set_cookie_configured(void **state)
{
    apr_pool_t *p = *state;
    skv_cookie_t c = cookie("__Secure-sid");
    apr_table_t *a;

    attr_ok(&c, "Path=/app", p);
    attr_ok(&c, "Domain=example.com", p);
    attr_ok(&c, "Max-Age=3600", p);
    attr_ok(&c, "SameSite=Strict", p);
    attr_ok(&c, "HttpOnly=Off", p);
    assert_string_equal(parse_set_cookie(&a, skv_cookie_header(&c, "V", p), p), "__Secure-sid=V");
    assert_int_equal(apr_table_elts(a)->nelts, 5);
    assert_attr(a, "Path", "/app");
    assert_attr(a, "Domain", "example.com");
    assert_attr(a, "Max-Age", "3600");
    assert_attr(a, "SameSite", "Strict");
    assert_attr(a, "Secure", "");
    assert_attr(a, "HttpOnly", NULL);

    c = cookie("sid");
    attr_ok(&c, "Secure=Off", p);
    attr_ok(&c, "SameSite=Off", p);
    assert_string_equal(parse_set_cookie(&a, skv_cookie_header(&c, "V", p), p), "sid=V");
    assert_int_equal(apr_table_elts(a)->nelts, 2);
    assert_attr(a, "Path", "/");
    assert_attr(a, "HttpOnly", "");
    assert_attr(a, "Secure", NULL);
    assert_attr(a, "SameSite", NULL);
}

static void set_cookie_remove(void **state)
{
    apr_pool_t *p = *state;
    skv_cookie_t c = cookie("session");
    apr_table_t *a;

    /* removed with the attributes it was set with, so the browser matches it */
    assert_string_equal(parse_set_cookie(&a, skv_cookie_header(&c, NULL, p), p), "session=");
    assert_attr(a, "Max-Age", "0");
    assert_attr(a, "Path", "/");
    assert_attr(a, "Secure", "");

    attr_ok(&c, "Max-Age=3600", p);
    attr_ok(&c, "Domain=example.com", p);
    attr_ok(&c, "Path=/app", p);
    assert_string_equal(parse_set_cookie(&a, skv_cookie_header(&c, NULL, p), p), "session=");
    assert_attr(a, "Max-Age", "0");
    assert_attr(a, "Domain", "example.com");
    assert_attr(a, "Path", "/app");
    /* an empty value is not a removal */
    parse_set_cookie(&a, skv_cookie_header(&c, "", p), p);
    assert_attr(a, "Max-Age", "3600");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(defaults),
        UNIT_TEST(attributes),
        UNIT_TEST(attributes_bad),
        UNIT_TEST(check_names),
        UNIT_TEST(check_prefixes),
        UNIT_TEST(check_samesite_none),
        UNIT_TEST(scan_one),
        UNIT_TEST(scan_none),
        UNIT_TEST(scan_prefix_names),
        UNIT_TEST(scan_empty_value),
        UNIT_TEST(scan_whitespace),
        UNIT_TEST(scan_duplicates),
        UNIT_TEST(scan_several_lines),
        UNIT_TEST(scan_value_copied),
        UNIT_TEST(set_cookie_defaults),
        UNIT_TEST(set_cookie_configured),
        UNIT_TEST(set_cookie_remove),
    };
    return UNIT_RUN("skv_cookie", tests);
}
