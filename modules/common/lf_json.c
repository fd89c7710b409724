/* lf_json — JSON string escaping and time formatting, and their parsing (see lf_json.h). */
#include <apr_lib.h>
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

/* Deeper than any answer we read; the bound keeps the nesting stack small and fixed. */
#define LF_JSON_MAX_DEPTH 64

/* A cursor over the text being parsed. */
typedef struct json_cursor_t {
    const char *c, *end;
    apr_pool_t *p;
} json_cursor_t;

static void json_skip_ws(json_cursor_t *j)
{
    while (j->c < j->end && (*j->c == ' ' || *j->c == '\t' || *j->c == '\n' || *j->c == '\r')) {
        ++j->c;
    }
}

/* Four hex digits at j->c, before @p limit, into *v. */
static apr_status_t json_hex4(unsigned *v, json_cursor_t *j, const char *limit)
{
    int i;

    if (limit - j->c < 4) {
        return APR_EINVAL;
    }
    for (*v = 0, i = 0; i < 4; ++i, ++j->c) {
        char h = *j->c;
        if (!apr_isxdigit(h)) {
            return APR_EINVAL;
        }
        *v = (*v << 4) | (unsigned)(apr_isdigit(h) ? h - '0' : apr_tolower(h) - 'a' + 10);
    }
    return APR_SUCCESS;
}

/* Append code point @p u as UTF-8 at @p o; returns the new end. */
static char *json_utf8(char *o, unsigned u)
{
    if (u < 0x80) {
        *o++ = (char)u;
    }
    else if (u < 0x800) {
        *o++ = (char)(0xc0 | (u >> 6));
        *o++ = (char)(0x80 | (u & 0x3f));
    }
    else if (u < 0x10000) {
        *o++ = (char)(0xe0 | (u >> 12));
        *o++ = (char)(0x80 | ((u >> 6) & 0x3f));
        *o++ = (char)(0x80 | (u & 0x3f));
    }
    else {
        *o++ = (char)(0xf0 | (u >> 18));
        *o++ = (char)(0x80 | ((u >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((u >> 6) & 0x3f));
        *o++ = (char)(0x80 | (u & 0x3f));
    }
    return o;
}

/* The string that starts at j->c (on its quote), unescaped into *out from j->p. An escape never
 * yields more bytes than it takes (\uXXXX: 6 -> at most 3, a pair: 12 -> 4), so the raw length
 * bounds the result. */
static apr_status_t json_string(const char **out, json_cursor_t *j)
{
    const char *start = ++j->c, *quote;
    char *buf, *o;
    unsigned u, lo;

    while (j->c < j->end && *j->c != '"') {
        j->c += (*j->c == '\\' && j->c + 1 < j->end) ? 2 : 1;
    }
    if (j->c >= j->end) {
        return APR_EINVAL;
    }
    quote = j->c;
    o = buf = apr_palloc(j->p, (apr_size_t)(quote - start) + 1);
    for (j->c = start; j->c < quote;) {
        unsigned char ch = (unsigned char)*j->c++;
        if (ch < 0x20) {
            return APR_EINVAL;
        }
        if (ch != '\\') {
            *o++ = (char)ch;
            continue;
        }
        switch (*j->c++) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            if (json_hex4(&u, j, quote) != APR_SUCCESS || u == 0 || (u >= 0xdc00 && u <= 0xdfff)) {
                return APR_EINVAL; /* a C string cannot hold NUL; a low surrogate alone */
            }
            if (u >= 0xd800 && u <= 0xdbff) {
                if (quote - j->c < 6 || j->c[0] != '\\' || j->c[1] != 'u') {
                    return APR_EINVAL;
                }
                j->c += 2;
                if (json_hex4(&lo, j, quote) != APR_SUCCESS || lo < 0xdc00 || lo > 0xdfff) {
                    return APR_EINVAL;
                }
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            }
            o = json_utf8(o, u);
            break;
        default:
            return APR_EINVAL;
        }
    }
    *o = '\0';
    *out = buf;
    ++j->c;
    return APR_SUCCESS;
}

/* A number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static apr_status_t json_number(json_cursor_t *j)
{
    const char *digits;

    if (j->c < j->end && *j->c == '-') {
        ++j->c;
    }
    if (j->c < j->end && *j->c == '0') {
        ++j->c;
    }
    else {
        for (digits = j->c; j->c < j->end && apr_isdigit(*j->c); ++j->c) {
        }
        if (j->c == digits) {
            return APR_EINVAL;
        }
    }
    if (j->c < j->end && *j->c == '.') {
        for (digits = ++j->c; j->c < j->end && apr_isdigit(*j->c); ++j->c) {
        }
        if (j->c == digits) {
            return APR_EINVAL;
        }
    }
    if (j->c < j->end && (*j->c == 'e' || *j->c == 'E')) {
        ++j->c;
        if (j->c < j->end && (*j->c == '+' || *j->c == '-')) {
            ++j->c;
        }
        for (digits = j->c; j->c < j->end && apr_isdigit(*j->c); ++j->c) {
        }
        if (j->c == digits) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t json_literal(json_cursor_t *j, const char *word)
{
    apr_size_t n = strlen(word);

    if ((apr_size_t)(j->end - j->c) < n || memcmp(j->c, word, n)) {
        return APR_EINVAL;
    }
    j->c += n;
    return APR_SUCCESS;
}

/* Check one value of any kind and step over it. Nesting is followed with a fixed stack of the
 * closing brackets still expected, rather than by recursion. */
static apr_status_t json_skip_value(json_cursor_t *j)
{
    char stack[LF_JSON_MAX_DEPTH];
    int depth = 0;
    const char *s;
    apr_status_t rv;

    for (;;) {
        json_skip_ws(j);
        if (j->c >= j->end) {
            return APR_EINVAL;
        }
        /* a value */
        if (*j->c == '{' || *j->c == '[') {
            if (depth == LF_JSON_MAX_DEPTH) {
                return APR_EINVAL;
            }
            stack[depth++] = *j->c == '{' ? '}' : ']';
            ++j->c;
            json_skip_ws(j);
            if (j->c < j->end && *j->c == stack[depth - 1]) {
                ++j->c;
                --depth;
            }
            else {
                if (stack[depth - 1] == '}') {
                    /* first member: key and colon, then its value on the next turn */
                    if (j->c >= j->end || *j->c != '"' || json_string(&s, j) != APR_SUCCESS) {
                        return APR_EINVAL;
                    }
                    json_skip_ws(j);
                    if (j->c >= j->end || *j->c++ != ':') {
                        return APR_EINVAL;
                    }
                }
                continue;
            }
        }
        else if (*j->c == '"') {
            if ((rv = json_string(&s, j)) != APR_SUCCESS) {
                return rv;
            }
        }
        else if (*j->c == 't' || *j->c == 'f' || *j->c == 'n') {
            rv = json_literal(j, *j->c == 't' ? "true" : *j->c == 'f' ? "false" : "null");
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
        else if ((rv = json_number(j)) != APR_SUCCESS) {
            return rv;
        }
        /* after a value: close containers, or a comma and the next element */
        for (;;) {
            if (!depth) {
                return APR_SUCCESS;
            }
            json_skip_ws(j);
            if (j->c >= j->end) {
                return APR_EINVAL;
            }
            if (*j->c == stack[depth - 1]) {
                ++j->c;
                --depth;
                continue;
            }
            if (*j->c++ != ',') {
                return APR_EINVAL;
            }
            if (stack[depth - 1] == '}') {
                json_skip_ws(j);
                if (j->c >= j->end || *j->c != '"' || json_string(&s, j) != APR_SUCCESS) {
                    return APR_EINVAL;
                }
                json_skip_ws(j);
                if (j->c >= j->end || *j->c++ != ':') {
                    return APR_EINVAL;
                }
            }
            break;
        }
    }
}

apr_status_t lf_json_parse_object(apr_table_t **out, const char *json, apr_size_t len,
                                  apr_pool_t *p)
{
    json_cursor_t j;
    apr_table_t *t = apr_table_make(p, 8);
    const char *key, *value, *start;
    apr_status_t rv;

    j.c = json;
    j.end = json + len;
    j.p = p;
    json_skip_ws(&j);
    if (j.c >= j.end || *j.c++ != '{') {
        return APR_EINVAL;
    }
    json_skip_ws(&j);
    if (j.c < j.end && *j.c == '}') {
        ++j.c;
        goto done;
    }
    for (;;) {
        json_skip_ws(&j);
        if (j.c >= j.end || *j.c != '"' || (rv = json_string(&key, &j)) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        json_skip_ws(&j);
        if (j.c >= j.end || *j.c++ != ':') {
            return APR_EINVAL;
        }
        json_skip_ws(&j);
        if (j.c >= j.end) {
            return APR_EINVAL;
        }
        if (*j.c == '"') {
            if ((rv = json_string(&value, &j)) != APR_SUCCESS) {
                return rv;
            }
            apr_table_setn(t, key, value);
        }
        else {
            /* numbers, literals, nested values: checked, then kept as their text */
            start = j.c;
            if ((rv = json_skip_value(&j)) != APR_SUCCESS) {
                return rv;
            }
            if (j.c - start == 4 && !memcmp(start, "null", 4)) {
                apr_table_unset(t, key);
            }
            else {
                apr_table_setn(t, key, apr_pstrmemdup(p, start, (apr_size_t)(j.c - start)));
            }
        }
        json_skip_ws(&j);
        if (j.c < j.end && *j.c == ',') {
            ++j.c;
            continue;
        }
        if (j.c < j.end && *j.c == '}') {
            ++j.c;
            break;
        }
        return APR_EINVAL;
    }
done:
    json_skip_ws(&j);
    if (j.c != j.end) {
        return APR_EINVAL;
    }
    *out = t;
    return APR_SUCCESS;
}

/* Exactly @p n digits at *s into *v, advancing *s. */
static int time_digits(int *v, const char **s, int n)
{
    for (*v = 0; n > 0; --n, ++*s) {
        if (!apr_isdigit(**s)) {
            return 0;
        }
        *v = *v * 10 + (**s - '0');
    }
    return 1;
}

apr_status_t lf_json_parse_time(apr_time_t *out, const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year, mon, mday, hour, min, sec, usec = 0, oh = 0, om = 0, sign = 0, scale;
    apr_time_exp_t x;
    apr_time_t t;

    if (!s || !time_digits(&year, &s, 4) || *s++ != '-' || !time_digits(&mon, &s, 2) || *s++ != '-'
        || !time_digits(&mday, &s, 2) || (*s != 'T' && *s != 't' && *s != ' ')) {
        return APR_EINVAL;
    }
    ++s;
    if (!time_digits(&hour, &s, 2) || *s++ != ':' || !time_digits(&min, &s, 2) || *s++ != ':'
        || !time_digits(&sec, &s, 2)) {
        return APR_EINVAL;
    }
    if (*s == '.') {
        /* microseconds: the first six digits count, more are allowed and dropped */
        if (!apr_isdigit(*++s)) {
            return APR_EINVAL;
        }
        for (scale = 100000; apr_isdigit(*s); ++s, scale /= 10) {
            usec += (*s - '0') * scale;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        ++s;
    }
    else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (!time_digits(&oh, &s, 2) || *s++ != ':' || !time_digits(&om, &s, 2) || oh > 23
            || om > 59) {
            return APR_EINVAL;
        }
    }
    else {
        return APR_EINVAL;
    }
    if (*s || mon < 1 || mon > 12 || mday < 1 || mday > mdays[mon - 1] || hour > 23 || min > 59
        || sec > 60) {
        return APR_EINVAL;
    }
    if (mon == 2 && mday == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) {
        return APR_EINVAL;
    }
    memset(&x, 0, sizeof(x));
    x.tm_year = year - 1900;
    x.tm_mon = mon - 1;
    x.tm_mday = mday;
    x.tm_hour = hour;
    x.tm_min = min;
    x.tm_sec = sec; /* a leap second (60) rolls into the next minute */
    x.tm_usec = usec;
    if (apr_time_exp_gmt_get(&t, &x) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *out = t - sign * apr_time_from_sec(oh * 3600 + om * 60);
    return APR_SUCCESS;
}
