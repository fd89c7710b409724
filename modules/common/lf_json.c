/* lf_json — JSON string escaping and time formatting (see lf_json.h). */
#include <apr_strings.h>

#include "lf_json.h"

const char *lf_json_str(const char *s, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t n = 2;
    const unsigned char *c;
    char *out, *o;

    if (!s) {
        return "null";
    }
    for (c = (const unsigned char *)s; *c; ++c) {
        n += (*c < 0x20) ? 6 : (*c == '"' || *c == '\\') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    *o++ = '"';
    for (c = (const unsigned char *)s; *c; ++c) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = (char)*c;
        }
        else if (*c < 0x20) {
            /* \u00XX for every control character keeps the escaper a single rule. */
            memcpy(o, "\\u00", 4);
            o[4] = hex[*c >> 4];
            o[5] = hex[*c & 0xf];
            o += 6;
        }
        else {
            *o++ = (char)*c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

const char *lf_json_time(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t x;

    if (!t || apr_time_exp_gmt(&x, t) != APR_SUCCESS) {
        return "null";
    }
    return apr_psprintf(p, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", x.tm_year + 1900,
                        x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec, x.tm_usec / 1000);
}
