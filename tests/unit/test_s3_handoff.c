/* Unit tests of modules/s3/s3_handoff.c: which S3HandOff setting decides, the application's
 * hand-off headers, and the <Location> suggested for a stray X-S3-Key. */
#include "unit.h"

#include "s3_handoff.h"

#define ON    1
#define OFF   0
#define UNSET -1

static int decide(int client, int client_all, int served)
{
    const int settings[] = {client, client_all, served};

    return s3_handoff_decide(settings, 3);
}

static void decide_first_setting_counts(void **state)
{
    (void)state;
    /* a front controller: only the client's URL (<Location /download>) says On */
    assert_int_equal(decide(ON, UNSET, UNSET), 0);
    /* per-directory RewriteRule: the client's request saw it, the redirected one did not */
    assert_int_equal(decide(UNSET, ON, UNSET), 1);
    /* on where the application answers (a <Directory> of the application, <Location /app>) */
    assert_int_equal(decide(UNSET, UNSET, ON), 2);
    assert_int_equal(decide(ON, ON, ON), 0);
    /* nothing set anywhere: off, the default */
    assert_int_equal(decide(UNSET, UNSET, UNSET), -1);
    /* the client's URL said Off: the front controller's On does not override it */
    assert_int_equal(decide(OFF, UNSET, ON), -1);
    assert_int_equal(decide(UNSET, OFF, ON), -1);
    assert_int_equal(decide(ON, OFF, OFF), 0);
    assert_int_equal(s3_handoff_decide(NULL, 0), -1);
}

/* The key and disposition of a hand-off the test expects to be accepted. */
static void parse_ok(const char **key, const char **disp, const char *prefix, const char *raw,
                     const char *raw_disp, apr_pool_t *p)
{
    const char *why = NULL;

    *key = *disp = "untouched";
    if (s3_handoff_parse(key, disp, &why, prefix, raw, raw_disp, p) != APR_SUCCESS) {
        fail_msg("rejected \"%s\": %s", raw, why ? why : "(no reason)");
    }
}

/* Why a hand-off is refused (the test fails if it is not). */
static const char *parse_bad(const char *prefix, const char *raw, apr_pool_t *p)
{
    const char *key = "untouched", *disp = "untouched", *why = NULL;

    if (s3_handoff_parse(&key, &disp, &why, prefix, raw, NULL, p) != APR_EINVAL) {
        fail_msg("accepted \"%s\" as \"%s\"", raw, key);
    }
    assert_string_equal(key, "untouched");
    assert_non_null(why);
    return why;
}

static void parse_keys(void **state)
{
    apr_pool_t *p = *state;
    const char *key, *disp;

    parse_ok(&key, &disp, "private/", "u1/invoice 7.pdf", NULL, p);
    assert_string_equal(key, "private/u1/invoice 7.pdf");
    assert_null(disp);
    /* leading slashes are relative to the prefix, as below a location */
    parse_ok(&key, &disp, "private/", "//u1/a.pdf", NULL, p);
    assert_string_equal(key, "private/u1/a.pdf");
    /* plain text: a '%' is a '%', '+' a '+', '?' and '#' part of the key */
    parse_ok(&key, &disp, "", "100%25 a+b?c#d", NULL, p);
    assert_string_equal(key, "100%25 a+b?c#d");
    parse_ok(&key, &disp, "", "caf\xc3\xa9.txt", NULL, p);
    assert_string_equal(key, "caf\xc3\xa9.txt");
}

static void parse_bad_keys(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(parse_bad("private/", "", p), "the key is empty");
    assert_string_equal(parse_bad("private/", "///", p), "the key is empty");
    /* no way out of the prefix */
    parse_bad("private/", "../../etc/passwd", p);
    parse_bad("private/", "u1/./a", p);
    parse_bad("private/", "a\nb", p);
    parse_bad("", "\xff.bin", p);
}

static void parse_dispositions(void **state)
{
    apr_pool_t *p = *state;
    const char *key, *disp;

    /* a bare type names the file after the key's last segment */
    parse_ok(&key, &disp, "private/", "u1/invoice 7.pdf", "attachment", p);
    assert_string_equal(disp, "attachment; filename=\"invoice 7.pdf\"");
    parse_ok(&key, &disp, "", "a.png", "INLINE", p);
    assert_string_equal(disp, "INLINE; filename=\"a.png\"");
    /* the application's own value, as it is */
    parse_ok(&key, &disp, "", "a.png", "attachment; filename=\"b.png\"", p);
    assert_string_equal(disp, "attachment; filename=\"b.png\"");
    parse_ok(&key, &disp, "", "a.png", "inline;filename=b.png", p);
    assert_string_equal(disp, "inline;filename=b.png");
    /* anything else is dropped */
    parse_ok(&key, &disp, "", "a.png", "", p);
    assert_null(disp);
    parse_ok(&key, &disp, "", "a.png", "form-data; name=x", p);
    assert_null(disp);
    parse_ok(&key, &disp, "", "a.png", "attachments", p);
    assert_null(disp);
}

static void route(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(s3_handoff_route("/download/7/report.pdf", p), "/download");
    assert_string_equal(s3_handoff_route("//download/x", p), "/download");
    assert_string_equal(s3_handoff_route("/report.pdf", p), "/report.pdf");
    assert_string_equal(s3_handoff_route("/", p), "/");
    assert_string_equal(s3_handoff_route("", p), "/");
    assert_string_equal(s3_handoff_route(NULL, p), "/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(decide_first_setting_counts), UNIT_TEST(parse_keys), UNIT_TEST(parse_bad_keys),
        UNIT_TEST(parse_dispositions),          UNIT_TEST(route),
    };
    return UNIT_RUN("s3_handoff", tests);
}
