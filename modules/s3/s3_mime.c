/* s3_mime — content-type patterns and Content-Disposition values (see s3_mime.h). */
#include <apr_escape.h>
#include <apr_strings.h>

#include "s3_key.h"
#include "s3_mime.h"

/* RFC 9110 tchar, without '*': a '*' in a type is read as a wildcard or not at all. Written out
 * rather than apr_isalnum(), which follows the locale. */
static int tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr("!#$%&'+-.^_`|~", c));
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The length of the token at @p s, 0 if there is none. */
static apr_size_t token_len(const char *s)
{
    apr_size_t n = 0;

    while (tchar(s[n])) {
        ++n;
    }
    return n;
}

/* One part of a pattern: a token or a lone '*'; its length, 0 if neither. */
static apr_size_t pattern_part_len(const char *s)
{
    return (s[0] == '*') ? (tchar(s[1]) || s[1] == '*' ? 0 : 1) : token_len(s);
}

static int pattern_valid(const char *s)
{
    apr_size_t t = pattern_part_len(s), st;

    if (!t || s[t] != '/') {
        return 0;
    }
    st = pattern_part_len(s + t + 1);
    if (!st || s[t + 1 + st] != '\0') {
        return 0;
    }
    /* "*" + "/png" would match nothing sensible */
    return !(s[0] == '*' && s[t + 1] != '*');
}

apr_status_t s3_mime_parse_list(apr_array_header_t **patterns, const char **why, const char *list,
                                apr_pool_t *p)
{
    apr_array_header_t *arr = apr_array_make(p, 4, sizeof(const char *));
    char *copy = apr_pstrdup(p, list ? list : ""), *tok, *state, *c;

    for (tok = apr_strtok(copy, ", \t", &state); tok; tok = apr_strtok(NULL, ", \t", &state)) {
        if (!pattern_valid(tok)) {
            *why = apr_psprintf(p,
                                "\"%s\" is not a content type pattern (type/subtype, type/* or "
                                "*/*)",
                                apr_pescape_echo(p, tok, 1));
            return APR_EINVAL;
        }
        for (c = tok; *c; ++c) {
            *c = ascii_lower(*c);
        }
        APR_ARRAY_PUSH(arr, const char *) = tok;
    }
    if (!arr->nelts) {
        *why = "the list of content types is empty";
        return APR_EINVAL;
    }
    *patterns = arr;
    return APR_SUCCESS;
}

/* Whether the first @p n bytes of @p a and @p b (of length @p bn) match, ignoring ASCII case. */
static int part_equal(const char *a, apr_size_t n, const char *b, apr_size_t bn)
{
    apr_size_t i;

    if (n != bn) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return 0;
        }
    }
    return 1;
}

int s3_mime_type_allowed(const apr_array_header_t *patterns, const char *content_type)
{
    const char *ct = content_type ? content_type : "", *type = NULL, *sub = NULL;
    apr_size_t tlen = 0, slen = 0, i;
    int n;

    if (!patterns || !patterns->nelts) {
        return 1;
    }
    while (ows(*ct)) {
        ++ct;
    }
    if ((i = token_len(ct)) && ct[i] == '/') {
        apr_size_t j = token_len(ct + i + 1);
        const char *rest = ct + i + 1 + j;
        while (ows(*rest)) {
            ++rest;
        }
        if (j && (*rest == ';' || *rest == '\0')) {
            type = ct;
            tlen = i;
            sub = ct + i + 1;
            slen = j;
        }
    }
    for (n = 0; n < patterns->nelts; ++n) {
        const char *pat = APR_ARRAY_IDX(patterns, n, const char *);
        const char *slash = strchr(pat, '/');
        if (!slash) {
            continue;
        }
        if (!strcmp(pat, "*/*")) {
            return 1;
        }
        if (!type || !part_equal(pat, (apr_size_t)(slash - pat), type, tlen)) {
            continue;
        }
        if (!strcmp(slash + 1, "*") || part_equal(slash + 1, strlen(slash + 1), sub, slen)) {
            return 1;
        }
    }
    return 0;
}

const char *s3_mime_sanitize_filename(const char *filename, apr_pool_t *p)
{
    const char *base;
    char *out, *o;
    apr_size_t len, i, k;

    if (!filename) {
        return "";
    }
    base = s3_key_filename_base(filename);
    len = strlen(base);
    o = out = apr_palloc(p, len + 1);
    for (i = 0; i < len; i += k) {
        unsigned char u = (unsigned char)base[i];
        k = s3_key_utf8_char(base + i, len - i);
        if (!k || u < 0x20 || u == 0x7f) {
            *o++ = '_';
            k = 1;
        }
        else {
            memcpy(o, base + i, k);
            o += k;
        }
    }
    *o = '\0';
    return out;
}

/* RFC 5987 attr-char: what may stand unencoded in an ext-value. */
static int attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr("!#$&+-.^_`|~", c));
}

const char *s3_mime_disposition(const char *type, const char *filename, apr_pool_t *p)
{
    static const char HEX[] = "0123456789ABCDEF";
    const char *name;
    char *fallback, *f, *ext, *e;
    apr_size_t len, i, k;

    if (!type) {
        type = "attachment";
    }
    name = s3_mime_sanitize_filename(filename, p);
    if (!*name) {
        return type;
    }
    len = strlen(name);
    /* One '_' per character, not per byte: the name is valid UTF-8 by now. */
    f = fallback = apr_palloc(p, len + 1);
    for (i = 0; i < len; i += k) {
        k = s3_key_utf8_char(name + i, len - i);
        *f++ = (k > 1 || name[i] == '"' || name[i] == '\\' || name[i] == '%') ? '_' : name[i];
    }
    *f = '\0';
    if (!strcmp(fallback, name)) {
        return apr_pstrcat(p, type, "; filename=\"", fallback, "\"", NULL);
    }
    e = ext = apr_palloc(p, 3 * len + 1);
    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)name[i];
        if (attr_char(c)) {
            *e++ = (char)c;
        }
        else {
            *e++ = '%';
            *e++ = HEX[c >> 4];
            *e++ = HEX[c & 0xf];
        }
    }
    *e = '\0';
    return apr_pstrcat(p, type, "; filename=\"", fallback, "\"; filename*=UTF-8''", ext, NULL);
}
