/* skv_cookie — the session cookie (see skv_cookie.h). */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "lf_parse.h"
#include "skv_cookie.h"

void skv_cookie_defaults(skv_cookie_t *c, const char *name)
{
    c->name = name;
    c->path = "/";
    c->domain = NULL;
    c->samesite = "Lax";
    c->secure = 1;
    c->httponly = 1;
    c->max_age = -1;
}

/* RFC 6265 cookie-name: an HTTP token */
static int token(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; ++s) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

/* an attribute value may not end the attribute early or split the header */
static int attr_value(const char *s)
{
    for (; *s; ++s) {
        if (*s == ';' || apr_iscntrl(*s) || *s == ' ' || *s == ',') {
            return 0;
        }
    }
    return 1;
}

static int on_off(int *out, const char *v)
{
    if (!v || !strcasecmp(v, "on")) {
        *out = 1;
    }
    else if (!strcasecmp(v, "off")) {
        *out = 0;
    }
    else {
        return 0;
    }
    return 1;
}

const char *skv_cookie_attr(skv_cookie_t *c, const char *attr, apr_pool_t *p)
{
    const char *eq = strchr(attr, '=');
    const char *name = eq ? apr_pstrmemdup(p, attr, (apr_size_t)(eq - attr)) : attr;
    const char *v = eq ? eq + 1 : NULL;

    if (!strcasecmp(name, "Secure")) {
        return on_off(&c->secure, v) ? NULL : "Secure takes On or Off";
    }
    if (!strcasecmp(name, "HttpOnly")) {
        return on_off(&c->httponly, v) ? NULL : "HttpOnly takes On or Off";
    }
    if (!strcasecmp(name, "SameSite")) {
        static const char *const values[] = {"Lax", "Strict", "None"};
        int i;
        if (v && !strcasecmp(v, "Off")) {
            c->samesite = NULL;
            return NULL;
        }
        for (i = 0; v && i < 3; ++i) {
            if (!strcasecmp(v, values[i])) {
                c->samesite = values[i];
                return NULL;
            }
        }
        return "SameSite takes Lax, Strict, None or Off";
    }
    if (!strcasecmp(name, "Path")) {
        if (!v || *v != '/' || !attr_value(v)) {
            return "Path must start with '/' and hold no ';', ',', space or control character";
        }
        c->path = v;
        return NULL;
    }
    if (!strcasecmp(name, "Domain")) {
        if (!v || !*v || !attr_value(v)) {
            return "Domain needs a host name";
        }
        c->domain = v;
        return NULL;
    }
    if (!strcasecmp(name, "Max-Age")) {
        int secs;
        if (!v || lf_parse_int(&secs, v, 1, 400 * 86400) != APR_SUCCESS) {
            return "Max-Age takes seconds, 1 to 34560000 (400 days, the browsers' limit)";
        }
        c->max_age = secs;
        return NULL;
    }
    return apr_psprintf(p,
                        "unknown cookie attribute '%s' (Secure, HttpOnly, SameSite, Path, "
                        "Domain, Max-Age)",
                        name);
}

const char *skv_cookie_check(const skv_cookie_t *c, apr_pool_t *p)
{
    if (!token(c->name)) {
        return apr_psprintf(p, "'%s' is not a valid cookie name", c->name);
    }
    /* browsers match the prefixes case-insensitively (RFC 6265bis) and drop "__host-" cookies
     * that break the rules just the same */
    if (!strncasecmp(c->name, "__Host-", 7) && (!c->secure || c->domain || strcmp(c->path, "/"))) {
        return "a __Host- cookie must be Secure, with Path=/ and no Domain (browsers drop it "
               "otherwise)";
    }
    if (!strncasecmp(c->name, "__Secure-", 9) && !c->secure) {
        return "a __Secure- cookie must be Secure (browsers drop it otherwise)";
    }
    if (c->samesite && !strcmp(c->samesite, "None") && !c->secure) {
        return "SameSite=None needs Secure (browsers drop it otherwise)";
    }
    return NULL;
}

void skv_cookie_scan(skv_cookie_found_t *f, const char *line, const char *name, apr_pool_t *p)
{
    apr_size_t nlen = strlen(name);
    const char *s = line;

    while (*s) {
        const char *end, *v;

        s += strspn(s, " \t;");
        end = s + strcspn(s, ";");
        if ((apr_size_t)(end - s) > nlen && !strncmp(s, name, nlen) && s[nlen] == '=') {
            apr_size_t vlen;
            v = s + nlen + 1;
            for (vlen = (apr_size_t)(end - v); vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t');
                 --vlen) {
            }
            if (!f->count++) {
                f->value = apr_pstrmemdup(p, v, vlen);
            }
            else if (strlen(f->value) != vlen || strncmp(f->value, v, vlen)) {
                f->differ = 1;
            }
        }
        s = end;
    }
}

const char *skv_cookie_header(const skv_cookie_t *c, const char *value, apr_pool_t *p)
{
    return apr_pstrcat(p, c->name, "=", value ? value : "", "; Path=", c->path,
                       c->domain ? "; Domain=" : "", c->domain ? c->domain : "",
                       !value ? "; Max-Age=0"
                       : c->max_age >= 0
                           ? apr_psprintf(p, "; Max-Age=%" APR_INT64_T_FMT, c->max_age)
                           : "",
                       c->secure ? "; Secure" : "", c->httponly ? "; HttpOnly" : "",
                       c->samesite ? "; SameSite=" : "", c->samesite ? c->samesite : "", NULL);
}
