/* s3_form — streaming multipart/form-data parser (see s3_form.h).
 *
 * The body is a state machine fed byte runs of any size. Inside a part the data is scanned for
 * the delimiter "\r\n--boundary" with memchr on '\r'; bytes that may begin a delimiter at the end
 * of a chunk are held back (at most the delimiter's length) and are never copied: they are a
 * prefix of the delimiter, so they can be delivered from the delimiter string itself. Since a
 * boundary cannot contain CR, a failed match never hides another start inside it, so no
 * backtracking (KMP) is needed.
 */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "s3_form.h"

/* RFC 2046: boundary := 0*69<bchars> bcharsnospace */
#define S3_FORM_MAX_BOUNDARY 70

typedef enum {
    FORM_PREAMBLE,   /* before the first delimiter: discarded */
    FORM_DELIM_END,  /* right after "--boundary": "--", padding or CRLF */
    FORM_CLOSE_DASH, /* after "--boundary-": the closing delimiter's second dash */
    FORM_PADDING,    /* transport padding before the delimiter line's CRLF */
    FORM_DELIM_LF,   /* CR at the end of a delimiter line seen */
    FORM_HEADERS,    /* a part's header block */
    FORM_BODY,       /* a part's data */
    FORM_EPILOGUE,   /* after the closing delimiter: discarded */
    FORM_FAILED
} form_state_e;

struct s3_form_parser_t {
    const s3_form_callbacks_t *cb;
    void *baton;
    s3_form_limits_t limits;
    char *delim;      /* "\r\n--" boundary */
    apr_size_t dlen;  /* bytes in delim */
    apr_size_t match; /* bytes of delim matched at the current position */
    apr_size_t held;  /* of those, bytes from earlier chunks: held back, not yet delivered */
    form_state_e state;
    char *hbuf;            /* the current header block, limits.max_header bytes */
    apr_size_t hlen;       /* bytes in hbuf */
    int parts;             /* parts begun */
    int in_part;           /* part_begin called, part_end not yet */
    apr_pool_t *part_pool; /* strings of the current part; cleared per part */
    apr_status_t failed;   /* APR_SUCCESS until a failure, then the status every call returns */
    const char *error;
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ws(const char *s)
{
    while (is_ws(*s)) {
        s++;
    }
    return s;
}

/* RFC 2046 bchars (bcharsnospace plus space). */
static int is_bchar(char c)
{
    return apr_isalnum(c) || (c && strchr("'()+_,-./:=? ", c));
}

/* A header value's leading token (a media or disposition type), up to ';' or whitespace. */
static const char *parse_type(const char **s, apr_pool_t *p)
{
    const char *start = *s = skip_ws(*s);

    while (**s && **s != ';' && !is_ws(**s)) {
        (*s)++;
    }
    return *s == start ? NULL : apr_pstrmemdup(p, start, *s - start);
}

/*
 * A quoted-string at @p *s (on its opening quote). Only \" and \\ are taken as escapes and any
 * other backslash is kept: browsers do not escape backslashes (HTML's form encoding percent-encodes
 * quotes instead), and old Internet Explorers send whole Windows paths in filename="C:\dir\f".
 */
static apr_status_t parse_quoted(const char **out, const char **s, apr_pool_t *p)
{
    const char *q = *s + 1;
    char *buf = apr_palloc(p, strlen(q) + 1), *w = buf;

    for (;; q++) {
        if (*q == '\0') {
            return APR_EINVAL; /* no closing quote */
        }
        if (*q == '"') {
            break;
        }
        if (*q == '\\' && (q[1] == '"' || q[1] == '\\')) {
            q++;
        }
        else if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
            return APR_EINVAL;
        }
        *w++ = *q;
    }
    *w = '\0';
    *out = buf;
    *s = q + 1;
    return APR_SUCCESS;
}

/*
 * The parameters after a header value's type: *( ";" name "=" ( token / quoted-string ) ), into
 * @p params (case-insensitive names). A repeated parameter is an error: two parsers that pick
 * different copies of "name" or "filename" could be made to disagree about a part.
 */
static apr_status_t parse_params(apr_table_t *params, const char *s, apr_pool_t *p)
{
    s = skip_ws(s);
    while (*s) {
        const char *start, *name, *value;

        if (*s != ';') {
            return APR_EINVAL;
        }
        s = skip_ws(s + 1);
        if (!*s) {
            break; /* a trailing ";" */
        }
        for (start = s; *s && *s != '=' && *s != ';' && *s != '"' && !is_ws(*s); s++) {
        }
        if (s == start) {
            return APR_EINVAL;
        }
        name = apr_pstrmemdup(p, start, s - start);
        s = skip_ws(s);
        if (*s != '=') {
            return APR_EINVAL;
        }
        s = skip_ws(s + 1);
        if (*s == '"') {
            if (parse_quoted(&value, &s, p) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        else {
            for (start = s; *s && *s != ';' && *s != '"' && !is_ws(*s); s++) {
            }
            if (s == start) {
                return APR_EINVAL;
            }
            value = apr_pstrmemdup(p, start, s - start);
        }
        if (apr_table_get(params, name)) {
            return APR_EINVAL;
        }
        apr_table_setn(params, name, value);
        s = skip_ws(s);
    }
    return APR_SUCCESS;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = apr_tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether @p s (NUL-terminated) is well-formed UTF-8: no overlongs, surrogates or > U+10FFFF. */
static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s++, cp, n, i;

        if (c < 0x80) {
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        }
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        }
        else {
            return 0;
        }
        for (i = 0; i < n; i++, s++) {
            if ((*s & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (*s & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }
    return 1;
}

/*
 * An RFC 5987 ext-value (charset'language'pct-encoded) as UTF-8, from @p p; UTF-8 and ISO-8859-1,
 * the two charsets the RFC requires. @p why says what is wrong on APR_EINVAL.
 */
static apr_status_t decode_ext_value(const char **out, const char **why, const char *v,
                                     apr_pool_t *p)
{
    const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL, *r;
    unsigned char *buf, *w;
    int latin1;

    *why = "malformed filename*";
    if (!q2) {
        return APR_EINVAL;
    }
    if (q1 - v == 5 && !strncasecmp(v, "UTF-8", 5)) {
        latin1 = 0;
    }
    else if (q1 - v == 10 && !strncasecmp(v, "ISO-8859-1", 10)) {
        latin1 = 1;
    }
    else {
        *why = "filename* in an unsupported charset";
        return APR_EINVAL;
    }
    /* every input byte gives at most two (a Latin-1 byte in UTF-8) */
    w = buf = apr_palloc(p, 2 * strlen(q2) + 1);
    for (r = q2 + 1; *r; r++) {
        unsigned c = (unsigned char)*r;

        if (c == '%') {
            int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
            if (lo < 0 || (hi == 0 && lo == 0)) {
                return APR_EINVAL;
            }
            c = (unsigned)(hi << 4 | lo);
            r += 2;
        }
        if (latin1 && c >= 0x80) {
            *w++ = (unsigned char)(0xc0 | c >> 6);
            *w++ = (unsigned char)(0x80 | (c & 0x3f));
        }
        else {
            *w++ = (unsigned char)c;
        }
    }
    *w = '\0';
    if (!utf8_valid(buf)) {
        return APR_EINVAL;
    }
    *out = (const char *)buf;
    return APR_SUCCESS;
}

static apr_status_t form_fail(s3_form_parser_t *fp, const char *why)
{
    fp->state = FORM_FAILED;
    fp->failed = APR_EINVAL;
    fp->error = why;
    return APR_EINVAL;
}

/* What a callback returned; anything but success stops the parser for good. */
static apr_status_t form_cb(s3_form_parser_t *fp, apr_status_t rv)
{
    if (rv != APR_SUCCESS) {
        fp->state = FORM_FAILED;
        fp->failed = rv;
        fp->error = "stopped by a callback";
    }
    return rv;
}

/* Parse the header block in hbuf and begin the part. */
static apr_status_t begin_part(s3_form_parser_t *fp)
{
    apr_pool_t *p = fp->part_pool;
    char *line, *eol;
    const char *disp = NULL, *ctype = NULL, *dtype, *name, *filename, *ext, *why;
    apr_table_t *params;

    apr_pool_clear(p);
    /* hbuf ends in the empty line's CRLF, and the scan let no NUL or bare CR/LF in */
    line = apr_pstrmemdup(p, fp->hbuf, fp->hlen);
    for (; (eol = strstr(line, "\r\n")) != NULL && eol != line; line = eol + 2) {
        char *colon, *c, *value;

        *eol = '\0';
        if (is_ws(*line)) {
            return form_fail(fp, "folded part header");
        }
        colon = strchr(line, ':');
        if (!colon || colon == line) {
            return form_fail(fp, "malformed part header");
        }
        for (c = line; c < colon; c++) {
            if (apr_iscntrl(*c) || is_ws(*c)) {
                return form_fail(fp, "malformed part header");
            }
        }
        *colon = '\0';
        value = (char *)skip_ws(colon + 1);
        for (c = value + strlen(value); c > value && is_ws(c[-1]); c--) {
        }
        *c = '\0';
        if (!strcasecmp(line, "Content-Disposition")) {
            if (disp) {
                return form_fail(fp, "duplicate Content-Disposition");
            }
            disp = value;
        }
        else if (!strcasecmp(line, "Content-Type")) {
            if (ctype) {
                return form_fail(fp, "duplicate Content-Type");
            }
            ctype = value;
        }
    }
    if (!disp) {
        return form_fail(fp, "part without Content-Disposition");
    }
    params = apr_table_make(p, 4);
    dtype = parse_type(&disp, p);
    if (!dtype || parse_params(params, disp, p) != APR_SUCCESS) {
        return form_fail(fp, "malformed Content-Disposition");
    }
    if (strcasecmp(dtype, "form-data")) {
        return form_fail(fp, "part is not form-data");
    }
    if (!(name = apr_table_get(params, "name"))) {
        return form_fail(fp, "Content-Disposition without a name");
    }
    filename = apr_table_get(params, "filename");
    if ((ext = apr_table_get(params, "filename*")) != NULL) {
        if (decode_ext_value(&filename, &why, ext, p) != APR_SUCCESS) {
            return form_fail(fp, why);
        }
    }
    fp->in_part = 1;
    fp->state = FORM_BODY;
    fp->match = fp->held = 0;
    return form_cb(fp,
                   fp->cb->part_begin(fp->baton, name, filename, ctype && *ctype ? ctype : NULL));
}

static apr_status_t deliver(s3_form_parser_t *fp, const char *data, apr_size_t len)
{
    return len ? form_cb(fp, fp->cb->part_data(fp->baton, data, len)) : APR_SUCCESS;
}

/*
 * Look for the delimiter in @p data, delivering the bytes before it when @p give (part data) or
 * dropping them (preamble). @p used: bytes consumed; @p found: the delimiter ends there.
 */
static apr_status_t scan(apr_size_t *used, int *found, s3_form_parser_t *fp, const char *data,
                         apr_size_t len, int give)
{
    apr_size_t i = 0, end;
    apr_status_t rv;

    *found = 0;
    while (i < len) {
        if (fp->match == 0) {
            const char *cr = memchr(data + i, '\r', len - i);
            if (!cr) {
                i = len;
                break;
            }
            i = (apr_size_t)(cr - data) + 1;
            fp->match = 1;
        }
        else if (data[i] == fp->delim[fp->match]) {
            i++;
            if (++fp->match == fp->dlen) {
                /* the delimiter's bytes in this chunk precede i; the held ones are dropped */
                end = i - (fp->dlen - fp->held);
                fp->match = fp->held = 0;
                *found = 1;
                *used = i;
                return give ? deliver(fp, data, end) : APR_SUCCESS;
            }
        }
        else {
            /* No delimiter. Held bytes come before all of this chunk, so they go out now; the
             * ones matched in this chunk stay in the run data[0..i) delivered later. */
            if (fp->held && give && (rv = deliver(fp, fp->delim, fp->held)) != APR_SUCCESS) {
                return rv;
            }
            fp->match = fp->held = 0;
        }
    }
    *used = len;
    /* a partial match at the end is held back for the next chunk */
    end = len - (fp->match - fp->held);
    fp->held = fp->match;
    return give ? deliver(fp, data, end) : APR_SUCCESS;
}

/* Header block bytes, up to its empty line; @p used: bytes consumed. */
static apr_status_t headers(apr_size_t *used, s3_form_parser_t *fp, const char *data,
                            apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = data[i], prev = fp->hlen ? fp->hbuf[fp->hlen - 1] : '\0';

        if (fp->hlen == fp->limits.max_header) {
            return form_fail(fp, "part header too long");
        }
        if (c == '\0') {
            return form_fail(fp, "NUL byte in a part header");
        }
        if ((c == '\n') != (prev == '\r')) {
            return form_fail(fp, "part header line not ended by CRLF");
        }
        fp->hbuf[fp->hlen++] = c;
        if (c == '\n' && (fp->hlen == 2 || (fp->hlen >= 4 && fp->hbuf[fp->hlen - 3] == '\n'))) {
            *used = i + 1;
            return begin_part(fp);
        }
    }
    *used = len;
    return APR_SUCCESS;
}

/* A delimiter line ended (CRLF or "--"): end the part it closed. */
static apr_status_t end_part(s3_form_parser_t *fp)
{
    if (!fp->in_part) {
        return APR_SUCCESS;
    }
    fp->in_part = 0;
    return form_cb(fp, fp->cb->part_end(fp->baton));
}

apr_status_t s3_form_parser_create(s3_form_parser_t **parser, const char **why,
                                   const char *content_type_header, const s3_form_callbacks_t *cb,
                                   void *baton, const s3_form_limits_t *limits, apr_pool_t *p)
{
    s3_form_parser_t *fp;
    const char *s = content_type_header ? content_type_header : "", *type, *boundary;
    apr_table_t *params = apr_table_make(p, 2);
    apr_size_t blen, i;
    apr_status_t rv;

    *why = NULL;
    type = parse_type(&s, p);
    if (!type || strcasecmp(type, "multipart/form-data")) {
        *why = "not multipart/form-data";
        return APR_EINVAL;
    }
    if (parse_params(params, s, p) != APR_SUCCESS) {
        *why = "multipart/form-data with malformed parameters";
        return APR_EINVAL;
    }
    if (!(boundary = apr_table_get(params, "boundary"))) {
        *why = "multipart/form-data without a boundary";
        return APR_EINVAL;
    }
    blen = strlen(boundary);
    for (i = 0; i < blen && is_bchar(boundary[i]); i++) {
    }
    if (blen < 1 || blen > S3_FORM_MAX_BOUNDARY || i < blen || boundary[blen - 1] == ' ') {
        *why = "multipart/form-data with an invalid boundary";
        return APR_EINVAL;
    }

    fp = apr_pcalloc(p, sizeof(*fp));
    fp->cb = cb;
    fp->baton = baton;
    if (limits) {
        fp->limits = *limits;
    }
    if (!fp->limits.max_header) {
        fp->limits.max_header = S3_FORM_DEFAULT_MAX_HEADER;
    }
    if (fp->limits.max_parts <= 0) {
        fp->limits.max_parts = S3_FORM_DEFAULT_MAX_PARTS;
    }
    fp->delim = apr_pstrcat(p, "\r\n--", boundary, NULL);
    fp->dlen = blen + 4;
    /* The first delimiter may open the body: start as if its CRLF had been seen. */
    fp->match = fp->held = 2;
    fp->state = FORM_PREAMBLE;
    fp->hbuf = apr_palloc(p, fp->limits.max_header);
    if ((rv = apr_pool_create(&fp->part_pool, p)) != APR_SUCCESS) {
        return rv;
    }
    *parser = fp;
    return APR_SUCCESS;
}

apr_status_t s3_form_parser_feed(s3_form_parser_t *fp, const char *data, apr_size_t len)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t used;
    int found;

    while (len > 0 && rv == APR_SUCCESS) {
        used = 1;
        switch (fp->state) {
        case FORM_PREAMBLE:
        case FORM_BODY:
            rv = scan(&used, &found, fp, data, len, fp->state == FORM_BODY);
            if (rv == APR_SUCCESS && found) {
                fp->state = FORM_DELIM_END;
            }
            break;
        case FORM_DELIM_END:
            if (*data == '-') {
                fp->state = FORM_CLOSE_DASH;
            }
            else if (is_ws(*data)) {
                fp->state = FORM_PADDING;
            }
            else if (*data == '\r') {
                fp->state = FORM_DELIM_LF;
            }
            else if (*data == '\n') {
                rv = form_fail(fp, "line ends in a bare LF (CRLF required)");
            }
            else {
                rv = form_fail(fp, "malformed boundary line");
            }
            break;
        case FORM_CLOSE_DASH:
            if (*data != '-') {
                rv = form_fail(fp, "malformed boundary line");
            }
            else if ((rv = end_part(fp)) == APR_SUCCESS) {
                fp->state = FORM_EPILOGUE;
            }
            break;
        case FORM_PADDING:
            if (*data == '\r') {
                fp->state = FORM_DELIM_LF;
            }
            else if (!is_ws(*data)) {
                rv = form_fail(fp, *data == '\n' ? "line ends in a bare LF (CRLF required)"
                                                 : "malformed boundary line");
            }
            break;
        case FORM_DELIM_LF:
            if (*data != '\n') {
                rv = form_fail(fp, "malformed boundary line");
            }
            else if ((rv = end_part(fp)) != APR_SUCCESS) {
                break;
            }
            else if (fp->parts == fp->limits.max_parts) {
                rv = form_fail(fp, "too many parts");
            }
            else {
                fp->parts++;
                fp->hlen = 0;
                fp->state = FORM_HEADERS;
            }
            break;
        case FORM_HEADERS:
            rv = headers(&used, fp, data, len);
            break;
        case FORM_EPILOGUE:
            return APR_SUCCESS;
        case FORM_FAILED:
            return fp->failed;
        }
        data += used;
        len -= used;
    }
    return fp->state == FORM_FAILED ? fp->failed : rv;
}

apr_status_t s3_form_parser_finish(s3_form_parser_t *fp)
{
    if (fp->state == FORM_FAILED) {
        return fp->failed;
    }
    if (fp->state != FORM_EPILOGUE) {
        return form_fail(fp, "truncated body: no closing boundary");
    }
    return APR_SUCCESS;
}

const char *s3_form_parser_error(const s3_form_parser_t *fp)
{
    return fp->error;
}
