/* lf_b64url — base64url without padding (see lf_b64url.h). */
#include <apr_base64.h>
#include <apr_strings.h>

#include "lf_b64url.h"

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
}

int lf_b64url_valid(const char *s, apr_size_t len)
{
    apr_size_t i;

    /* one character alone carries 6 bits, less than a byte: no encoder makes that */
    if (!len || len % 4 == 1) {
        return 0;
    }
    for (i = 0; i < len; ++i) {
        if (!b64url_char(s[i])) {
            return 0;
        }
    }
    return 1;
}

char *lf_b64url_encode(const unsigned char *data, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, apr_base64_encode_len((int)len)), *c;

    apr_base64_encode_binary(out, data, (int)len);
    for (c = out; *c && *c != '='; ++c) {
        *c = (*c == '+') ? '-' : (*c == '/') ? '_' : *c;
    }
    *c = '\0';
    return out;
}

char *lf_b64url_decode(apr_size_t *outlen, const char *s, apr_size_t len, apr_pool_t *p)
{
    char *std = apr_pstrmemdup(p, s, len), *c, *out;

    for (c = std; *c; ++c) {
        *c = (*c == '-') ? '+' : (*c == '_') ? '/' : *c;
    }
    /* apr_base64_decode_binary() takes input without padding as well */
    out = apr_palloc(p, apr_base64_decode_len(std) + 1);
    *outlen = (apr_size_t)apr_base64_decode_binary((unsigned char *)out, std);
    out[*outlen] = '\0';
    return out;
}
