/* fuzz_lf_b64url — base64url without padding (modules/common/lf_b64url.c), the text form of
 * session ids in cookies and of upload tokens.
 *
 * Input: any bytes. As text: what lf_b64url_valid() accepts decodes to bytes that encode to
 * text of the same length, which decodes to the same bytes again. As bytes: they encode to
 * valid text that decodes back to them.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "lf_b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    apr_pool_t *p = fuzz_pool();
    const char *s = apr_pstrmemdup(p, (const char *)data, size);
    apr_size_t len = 0, len2 = 0;
    char *bytes, *enc, *bytes2;

    if (lf_b64url_valid(s, size)) {
        bytes = lf_b64url_decode(&len, s, size, p);
        FUZZ_CHECK(len == size * 3 / 4);
        FUZZ_CHECK(bytes[len] == '\0');
        enc = lf_b64url_encode((const unsigned char *)bytes, len, p);
        FUZZ_CHECK(strlen(enc) == size && strlen(enc) == LF_B64URL_LEN(len));
        bytes2 = lf_b64url_decode(&len2, enc, strlen(enc), p);
        FUZZ_CHECK(len2 == len && !memcmp(bytes, bytes2, len));
    }
    else {
        FUZZ_CHECK(size == 0 || size % 4 == 1 || strspn(s, alphabet) < size);
    }
    enc = lf_b64url_encode(data, size, p);
    FUZZ_CHECK(strlen(enc) == LF_B64URL_LEN(size));
    FUZZ_CHECK(size == 0 || lf_b64url_valid(enc, strlen(enc)));
    if (size) {
        bytes = lf_b64url_decode(&len, enc, strlen(enc), p);
        FUZZ_CHECK(len == size && !memcmp(bytes, data, size));
    }
    apr_pool_destroy(p);
    return 0;
}
