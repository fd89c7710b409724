/* skv_cookie — the session cookie: finding it in Cookie headers, writing Set-Cookie, and the
 * attributes an operator configures.
 *
 * Defaults: HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, no Max-Age (a cookie that ends
 * with the browser session). Names with the __Host- prefix must be Secure with Path=/ and no
 * Domain, __Secure- names must be Secure: browsers drop such cookies otherwise, so the
 * configuration is refused at startup instead.
 * Pure core: APR.
 */
#ifndef SKV_COOKIE_H
#define SKV_COOKIE_H

#include <apr_pools.h>

typedef struct skv_cookie_t {
    const char *name;
    const char *path;     /* "/" */
    const char *domain;   /* NULL = host-only */
    const char *samesite; /* "Lax", "Strict", "None", or NULL to leave it out */
    int secure;           /* 1 */
    int httponly;         /* 1 */
    apr_int64_t max_age;  /* seconds; -1 = a browser-session cookie */
} skv_cookie_t;

/** The defaults above, for cookie @p name. */
void skv_cookie_defaults(skv_cookie_t *c, const char *name);

/**
 * Apply one attribute as written in the configuration: "Secure", "Secure=Off",
 * "HttpOnly=Off", "SameSite=Strict|Lax|None|Off", "Path=/app", "Domain=example.com",
 * "Max-Age=3600" (case-insensitive names).
 * @return NULL, or what is wrong, from @p p
 */
const char *skv_cookie_attr(skv_cookie_t *c, const char *attr, apr_pool_t *p);

/**
 * Check the whole cookie once configured: a valid name, the __Host-/__Secure- rules,
 * SameSite=None only with Secure.
 * @return NULL, or what is wrong, from @p p
 */
const char *skv_cookie_check(const skv_cookie_t *c, apr_pool_t *p);

/** What the Cookie header lines of a request hold for one cookie name. */
typedef struct skv_cookie_found_t {
    const char *value; /* the first value, from the pool given to skv_cookie_scan() */
    int count;         /* how many times the name appears */
    int differ;        /* whether the appearances hold different values */
} skv_cookie_found_t;

/**
 * Look for cookie @p name in one Cookie header line, adding to @p f (zeroed before the first
 * line). Values are taken as they are, without unquoting or decoding.
 */
void skv_cookie_scan(skv_cookie_found_t *f, const char *line, const char *name, apr_pool_t *p);

/**
 * The Set-Cookie value that sets the cookie to @p value, or, when @p value is NULL, removes it
 * (empty value, Max-Age=0). From @p p.
 */
const char *skv_cookie_header(const skv_cookie_t *c, const char *value, apr_pool_t *p);

#endif /* SKV_COOKIE_H */
