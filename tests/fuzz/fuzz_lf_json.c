/* fuzz_lf_json — the JSON reader of modules/common/lf_json.c, which parses what the ECS and EC2
 * metadata endpoints answer (credentials) and the payload of upload tokens, and its RFC 3339
 * time parser.
 *
 * Input: one byte of mode, then the rest. Mode bit 0 clear: the rest is a JSON object; each
 * member written back with lf_json_str() must parse to the same value. Bit 0 set: the rest
 * (up to a NUL) is an RFC 3339 time; a time that parses must format with lf_json_time() and
 * parse back to the same millisecond.
 */
#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz.h"
#include "lf_json.h"

typedef struct member_check_t {
    apr_pool_t *p;
    int n;
} member_check_t;

static int check_member(void *baton, const char *key, const char *value)
{
    member_check_t *mc = baton;
    const char *json =
        apr_pstrcat(mc->p, "{", lf_json_str(key, mc->p), ":", lf_json_str(value, mc->p), "}", NULL);
    apr_table_t *again = NULL;

    FUZZ_CHECK(key && value);
    /* any member: a number, a literal or a nested value is kept as its text, which comes back
     * the same from the string lf_json_str() makes of it */
    FUZZ_CHECK(lf_json_parse_object(&again, json, strlen(json), mc->p) == APR_SUCCESS);
    FUZZ_CHECK(apr_table_get(again, key) && !strcmp(apr_table_get(again, key), value));
    mc->n++;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned mode = fuzz_byte(&in);
    apr_table_t *t = NULL;
    apr_time_t when = 0, back = 0;
    const char *text;
    size_t len;

    if (!(mode & 1)) {
        text = fuzz_rest(&in, &len, p);
        if (lf_json_parse_object(&t, text, len, p) == APR_SUCCESS) {
            member_check_t mc = {p, 0};

            FUZZ_CHECK(t != NULL);
            apr_table_do(check_member, &mc, t, NULL);
            FUZZ_CHECK(mc.n == apr_table_elts(t)->nelts);
        }
    }
    else {
        text = fuzz_str(&in, p);
        if (lf_json_parse_time(&when, text) == APR_SUCCESS && when > 0) {
            const char *quoted = lf_json_time(when, p);
            char *plain = apr_pstrndup(p, quoted + 1, strlen(quoted) - 2);

            FUZZ_CHECK(lf_json_parse_time(&back, plain) == APR_SUCCESS);
            FUZZ_CHECK(back == when - when % 1000);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
