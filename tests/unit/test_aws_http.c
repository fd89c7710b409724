/* Unit tests of the pure policy in modules/aws/aws_http.c: which answers are retried and how
 * long a retry waits. The transport itself runs against moto in the integration tests. */
#include "unit.h"

#include "aws_http.h"

static void retries_only_what_is_safe(void **state)
{
    (void)state;
    /* connection errors and timeouts, 5xx and throttling: retried when idempotent */
    assert_true(aws_http_should_retry(0, NULL, 1, 1));
    assert_true(aws_http_should_retry(500, NULL, 0, 1));
    assert_true(aws_http_should_retry(503, "SlowDown", 0, 1));
    assert_true(aws_http_should_retry(400, "Throttling", 0, 1));
    /* never when the request may have taken effect */
    assert_false(aws_http_should_retry(0, NULL, 1, 0));
    assert_false(aws_http_should_retry(503, "SlowDown", 0, 0));
    /* client errors are final */
    assert_false(aws_http_should_retry(403, "SignatureDoesNotMatch", 0, 1));
    assert_false(aws_http_should_retry(404, "NoSuchKey", 0, 1));
    assert_false(aws_http_should_retry(200, NULL, 0, 1));
}

static void backoff_is_jittered_exponential_and_capped(void **state)
{
    const apr_interval_time_t base = 100000, cap = 5000000;
    apr_uint32_t r;
    int attempt;

    (void)state;
    for (attempt = 1; attempt <= 12; ++attempt) {
        apr_interval_time_t ceiling = base;
        int k;
        for (k = 1; k < attempt && ceiling < cap; ++k) {
            ceiling *= 2;
        }
        if (ceiling > cap) {
            ceiling = cap;
        }
        for (r = 0; r < 2000000000u; r += 99991 * 37) {
            apr_interval_time_t d = aws_http_backoff(attempt, base, cap, r);
            assert_true(d >= 0 && d <= ceiling);
        }
        /* the largest random number reaches the ceiling's neighbourhood */
        assert_int_equal(aws_http_backoff(attempt, base, cap, (apr_uint32_t)ceiling), ceiling);
    }
    assert_int_equal(aws_http_backoff(1, base, cap, 0), 0);
    assert_int_equal(aws_http_backoff(30, base, cap, (apr_uint32_t)cap), cap); /* no overflow */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(retries_only_what_is_safe),
        UNIT_TEST(backoff_is_jittered_exponential_and_capped),
    };
    return UNIT_RUN("aws_http", tests);
}
