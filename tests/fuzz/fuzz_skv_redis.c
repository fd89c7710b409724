/* fuzz_skv_redis — what the redis driver (modules/session_kv/skv_redis.c) makes of a server's
 * replies: raw RESP bytes go through hiredis's reader, as on a connection, and the replies into
 * skv_redis_replies(), the driver's own reading of them, for each of its round trips.
 *
 * Input: one byte (bits 0-2: the round trip, skv_redis_op_e modulo 6; bit 3: a database other
 * than 0; bit 4: an ACL user), the password (NUL-terminated; empty: none), then the bytes the
 * server sends, read as the driver reads them (skv_redis_guard() bounds arrays). The driver's error
 * text must fit its buffer and never hold the password; a value must be the reply's bytes.
 */
#include <hiredis/hiredis.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz.h"
#include "lf_log.h"
#include "skv_redis.h"

#define MAX_REPLIES 3

static void log_nothing(const char *file, int line, int level, apr_status_t rv, const char *msg,
                        void *baton)
{
    (void)file, (void)line, (void)level, (void)rv, (void)msg, (void)baton;
}

static int log_all(int level, void *baton)
{
    (void)level, (void)baton;
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lf_log_set(log_nothing, log_all, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int counts[] = {-1, 2, 1, 1, 1, 3};
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned flags = fuzz_byte(&in);
    skv_redis_op_e op = (skv_redis_op_e)((flags & 7) % 6);
    const char *password = fuzz_str(&in, p), *err = NULL, *info = NULL;
    size_t len;
    const char *resp = fuzz_rest(&in, &len, p);
    redisReply *r[MAX_REPLIES] = {NULL, NULL, NULL};
    skv_server_t *server;
    skv_backend_t be;
    skv_value_t val;
    redisReader *reader;
    apr_status_t rv;
    int n, i, budget;

    memset(&be, 0, sizeof(be));
    be.type = SKV_BACKEND_REDIS;
    be.display = "redis://127.0.0.1:6379";
    be.servers = apr_array_make(p, 1, sizeof(skv_server_t));
    server = apr_array_push(be.servers);
    server->host = "127.0.0.1";
    server->port = 6379;
    be.password = *password ? password : NULL;
    be.user = (flags & 0x10) ? "lampfarm" : NULL;
    be.db = (flags & 8) ? 3 : 0;
    n = op == SKV_REDIS_CONNECT ? (be.password != NULL) + (be.db != 0) : counts[op];

    reader = redisReaderCreate();
    FUZZ_CHECK(reader != NULL && skv_redis_guard(reader, &budget)); /* as on a connection */
    if (redisReaderFeed(reader, resp, len) != REDIS_OK) {
        redisReaderFree(reader);
        apr_pool_destroy(p);
        return 0;
    }
    for (i = 0; i < n; i++) {
        void *reply = NULL;

        if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply) {
            break; /* a protocol error, or the bytes end before the replies do */
        }
        r[i] = reply;
    }
    if (i == n) {
        memset(&val, 0, sizeof(val));
        rv = skv_redis_replies(&val, &info, &err, &be, op, r, n, p);
        FUZZ_CHECK(err != NULL && strlen(err) < 256);
        /* a masked password leaves "***", which could join with what surrounds it */
        FUZZ_CHECK(!be.password || strchr(be.password, '*') || !strstr(err, be.password));
        switch (rv) {
        case APR_SUCCESS:
            FUZZ_CHECK(!*err);
            break;
        case APR_NOTFOUND:
            FUZZ_CHECK(op == SKV_REDIS_GET || op == SKV_REDIS_CAS || op == SKV_REDIS_INT);
            break;
        case APR_EEXIST:
            FUZZ_CHECK(op == SKV_REDIS_WRITE || op == SKV_REDIS_CAS);
            break;
        default:
            FUZZ_CHECK(rv == APR_EGENERAL && *err);
        }
        if (op == SKV_REDIS_GET && rv == APR_SUCCESS) {
            FUZZ_CHECK(val.len == r[0]->len && !memcmp(val.data, r[0]->str, val.len));
            FUZZ_CHECK(val.data[val.len] == '\0');
            FUZZ_CHECK(val.expires_in == -1 || val.expires_in >= 0);
        }
        if (op == SKV_REDIS_PING && info) {
            FUZZ_CHECK(!strncmp(info, "redis ", 6));
        }
    }
    for (i = 0; i < n; i++) {
        if (r[i]) {
            freeReplyObject(r[i]);
        }
    }
    redisReaderFree(reader);
    apr_pool_destroy(p);
    return 0;
}
