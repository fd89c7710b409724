/* Unit tests of modules/cloudwatch/cw_pub.c, driven through its seam (a fake PutMetricData
 * transport, a fake instance metadata and a fake clock): a send that fails then succeeds after
 * the backoff, throttling kept and a refusal dropped, a backlog that is bounded and sent later in
 * order, the handover between a stopping publisher and the next, the next interval's time, the
 * worker saturation samples and the instance metadata dimensions. */
#include "unit.h"

#include <apr_file_info.h>
#include <apr_file_io.h>

#include "cw_pub.h"

#define SEC(n) apr_time_from_sec(n)

/* --- the fakes ------------------------------------------------------------------------------ */

/* What the fake CloudWatch answers next: an HTTP status and error code, or no answer. */
typedef struct answer_t {
    int status;       /* 0: no answer */
    const char *code; /* the AWS error code, or NULL */
} answer_t;

static struct {
    apr_time_t now;
    int stopping;
    /* CloudWatch */
    answer_t answers[16]; /* in turn from request number first on; past the last, 200 */
    int nanswers, first, calls;
    apr_pool_t *pool;           /* for what is kept of the requests */
    apr_array_header_t *bodies; /* const char *: every request's body, in order */
    apr_array_header_t *tries;  /* int: every request's max_attempts */
    const char *dir;            /* the handover directory, made per test */
    /* instance metadata */
    const char *asg, *instance_id; /* NULL: the lookup fails */
    int imds_calls;
} fake;

static apr_time_t fake_now(void)
{
    return fake.now;
}

static apr_status_t fake_perform(aws_http_response_t **resp, aws_http_client_t *http,
                                 const aws_signer_t *signer, aws_http_request_t *req,
                                 const char *payload_hash, apr_pool_t *p)
{
    answer_t a = {200, NULL};
    aws_http_response_t *r = apr_pcalloc(p, sizeof(*r));

    (void)http;
    (void)signer;
    (void)payload_hash;
    assert_string_equal(req->method, "POST");
    assert_true(req->idempotent);
    if (fake.calls - fake.first < fake.nanswers) {
        a = fake.answers[fake.calls - fake.first];
    }
    ++fake.calls;
    APR_ARRAY_PUSH(fake.bodies, const char *) = apr_pstrmemdup(fake.pool, req->body, req->body_len);
    APR_ARRAY_PUSH(fake.tries, int) = req->max_attempts;
    r->status = a.status;
    r->attempts = req->max_attempts;
    if (a.code) {
        r->error = apr_pcalloc(p, sizeof(*r->error));
        r->error->code = a.code;
        r->error->message = "fake";
    }
    *resp = r;
    if (!a.status) {
        r->transport_error = "Connection refused";
        return APR_ECONNREFUSED;
    }
    return APR_SUCCESS;
}

static apr_status_t fake_imds_get(const char **body, const char **why, aws_creds_provider_t *prov,
                                  const char *path, apr_pool_t *p)
{
    const char *v = strstr(path, "groupName") ? fake.asg : fake.instance_id;

    (void)prov;
    (void)p;
    ++fake.imds_calls;
    *body = v;
    *why = v ? NULL : "no answer from the instance metadata";
    return v ? APR_SUCCESS : APR_ETIMEDOUT;
}

static const cw_pub_calls_t fake_calls = {fake_perform, fake_imds_get, fake_now};

static int fake_stopping(void *baton)
{
    (void)baton;
    return fake.stopping;
}

/* --- helpers -------------------------------------------------------------------------------- */

/* What CloudWatch answers from the next request on: @p n answers, then 200. */
static void answers(int n, const answer_t *a)
{
    memcpy(fake.answers, a, (apr_size_t)n * sizeof(*a));
    fake.nanswers = n;
    fake.first = fake.calls;
}

static const char *body(int i)
{
    return APR_ARRAY_IDX(fake.bodies, i, const char *);
}

/* Settings of one publisher: interval 60 s, @p backlog intervals, dimension set @p dims. */
static cw_srv_conf *conf_of(int backlog, const char *dims, apr_pool_t *p)
{
    cw_srv_conf *c = apr_pcalloc(p, sizeof(*c));
    char *words[2] = {apr_pstrdup(p, dims), NULL};
    const char *why;

    c->ns = "Test";
    c->region = "us-east-1";
    c->endpoint = "http://127.0.0.1:9";
    c->creds_kind = "default";
    c->interval = SEC(60);
    c->resolution = 60;
    c->max_groups = 4;
    c->backlog = backlog;
    c->timeout = SEC(1);
    c->attempts = 3;
    assert_int_equal(cw_conf_add_dim_set(c, &why, 1, words, p), APR_SUCCESS);
    return c;
}

static cw_shm_t *shm_of(apr_pool_t *p)
{
    cw_shm_t *sh = apr_pcalloc(p, cw_shm_size(4));

    cw_shm_init(sh, 4);
    return sh;
}

/* A request of virtual host @p vhost, counted in @p sh. */
static void request(cw_shm_t *sh, const char *vhost)
{
    cw_shm_sample_t m = {CW_C2XX, 1000, 0, 0, 10, 100};

    cw_shm_record(cw_shm_slot(sh, vhost, "default"), &m);
}

static const char *temp_dir(apr_pool_t *p)
{
    char *dir = apr_pstrdup(p, "/tmp/lf-unit-cwpub-XXXXXX");

    assert_non_null(mkdtemp(dir));
    return dir;
}

/* The handover directory goes with the test. */
static int teardown(void **state)
{
    apr_pool_t *p = *state;
    apr_dir_t *d;
    apr_finfo_t f;

    if (fake.dir && apr_dir_open(&d, fake.dir, p) == APR_SUCCESS) {
        while (apr_dir_read(&f, APR_FINFO_NAME, d) == APR_SUCCESS) {
            if (f.name[0] != '.') {
                apr_file_remove(apr_pstrcat(p, fake.dir, "/", f.name, NULL), p);
            }
        }
        apr_dir_close(d);
        apr_dir_remove(fake.dir, p);
    }
    return unit_teardown(state);
}
#define PUB_TEST(f) cmocka_unit_test_setup_teardown(f, unit_setup, teardown)

/* A started publisher, the clock at 1000 s, the fakes reset. */
static cw_pub_t *started(const cw_srv_conf *c, cw_shm_t *sh, apr_pool_t *p)
{
    cw_pub_t *w;

    assert_int_equal(cw_pub_create(&w, c, sh, NULL, fake.dir, fake_stopping, NULL, p), APR_SUCCESS);
    w->calls = &fake_calls;
    assert_int_equal(cw_pub_start(w, p), APR_SUCCESS);
    w->rnd = 2463534242u; /* the same jitter every run */
    return w;
}

static void reset(apr_pool_t *p)
{
    memset(&fake, 0, sizeof(fake));
    fake.now = SEC(1000);
    fake.pool = p;
    fake.bodies = apr_array_make(p, 8, sizeof(const char *));
    fake.tries = apr_array_make(p, 8, sizeof(int));
    fake.dir = temp_dir(p);
    unit_log_capture();
    unit_log_clear();
}

/* The clock to the next interval's end, and a tick. */
static void next_interval(cw_pub_t *w)
{
    fake.now = w->next_measure;
    cw_pub_run(w);
}

/* --- the tests ------------------------------------------------------------------------------ */

/* CloudWatch answers 503: the interval is kept and asked again only after the backoff, then
 * accepted; the figures of the status page follow. */
static void retry_then_success(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *w;
    const answer_t down[] = {{503, "ServiceUnavailable"}};
    apr_time_t failed_at, end;

    reset(p);
    w = started(conf_of(5, "VirtualHost", p), sh, p);
    assert_string_equal(w->url, "http://127.0.0.1:9/");
    answers(1, down);
    request(sh, "vh-a");
    next_interval(w);
    end = failed_at = fake.now;
    assert_int_equal(fake.calls, 1);
    assert_int_equal(APR_ARRAY_IDX(fake.tries, 0, int), 3);
    assert_non_null(strstr(body(0), "Dimensions.member.1.Value=vh-a&"));
    assert_true(unit_logged("LF03015: PutMetricData: HTTP 503 ServiceUnavailable: fake (after 3 "
                            "attempts); kept for later"));
    assert_int_equal(cw_backlog_size(w->backlog), 1);
    assert_int_equal(w->failures, 1);
    assert_true(w->retry_at > failed_at && w->retry_at <= failed_at + SEC(60));
    assert_int_equal(sh->pub.requests_failed, 1);
    assert_int_equal(sh->pub.backlog, 1);
    assert_int_equal(sh->pub.last_status, 503);
    assert_string_equal(sh->pub.last_error, "HTTP 503 ServiceUnavailable: fake");
    assert_true(sh->pub.last_attempt == failed_at);
    assert_int_equal(sh->pub.intervals, 1);

    /* before the backoff is over: nothing is sent */
    fake.now = w->retry_at - 1;
    cw_pub_run(w);
    assert_int_equal(fake.calls, 1);

    /* then the same body again, accepted */
    fake.now = w->retry_at;
    cw_pub_run(w);
    assert_int_equal(fake.calls, 2);
    assert_string_equal(body(1), body(0));
    assert_int_equal(cw_backlog_size(w->backlog), 0);
    assert_int_equal(w->failures, 0);
    assert_true(w->retry_at == 0);
    assert_int_equal(sh->pub.requests_ok, 1);
    assert_true(sh->pub.datums > 0);
    assert_int_equal(sh->pub.bytes_sent, strlen(body(1)));
    assert_int_equal(sh->pub.backlog, 0);
    assert_int_equal(sh->pub.last_status, 200);
    assert_string_equal(sh->pub.last_error, "");
    assert_true(sh->pub.last_success == fake.now);
    assert_true(sh->pub.last_interval == end);
}

/* The backoff grows with the failures in a row and never passes the interval. */
static void backoff_grows(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *w;
    const answer_t down[] = {{0, NULL}, {0, NULL}, {0, NULL}, {0, NULL}, {0, NULL}, {0, NULL}};
    int i;

    reset(p);
    w = started(conf_of(5, "VirtualHost", p), sh, p);
    answers(6, down);
    request(sh, "vh-a");
    next_interval(w);
    assert_true(unit_logged("LF03014: PutMetricData: no answer from http://127.0.0.1:9/: "
                            "Connection refused (after 3 attempts); kept for later"));
    assert_string_equal(sh->pub.last_error, "no answer from http://127.0.0.1:9/: Connection "
                                            "refused");
    assert_int_equal(sh->pub.last_status, 0);
    assert_true(w->retry_at - fake.now <= SEC(15));
    for (i = 2; i <= 6; ++i) {
        fake.now = w->retry_at;
        cw_pub_run(w);
        assert_int_equal(w->failures, i);
        /* full jitter of a quarter of the interval, doubled per failure, at most the interval */
        assert_true(w->retry_at - fake.now <= (i == 2 ? SEC(30) : SEC(60)));
    }
    assert_int_equal(fake.calls, 6);
    assert_int_equal(sh->pub.requests_failed, 6);
    /* one interval, asked for six times: still there */
    assert_int_equal(cw_backlog_size(w->backlog), 1);
}

/* Throttling is kept for later; a refusal for good drops the body and goes on with the next. */
static void throttled_and_refused(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *w;
    const answer_t script[] = {{400, "Throttling"}, {400, "InvalidParameterValue"}, {200, NULL}};

    reset(p);
    w = started(conf_of(5, "VirtualHost", p), sh, p);
    answers(3, script);
    request(sh, "vh-a");
    next_interval(w);
    assert_int_equal(fake.calls, 1);
    assert_true(unit_logged("LF03015: PutMetricData: HTTP 400 Throttling"));
    assert_int_equal(cw_backlog_size(w->backlog), 1);

    /* the interval is refused at the retry; the next one is taken */
    request(sh, "vh-b");
    next_interval(w);
    assert_int_equal(fake.calls, 3);
    assert_true(unit_logged("LF03016: PutMetricData refused "));
    assert_true(unit_logged("datums for good, they are dropped: HTTP 400 InvalidParameterValue: "
                            "fake"));
    assert_non_null(strstr(body(1), "Value=vh-a&"));
    assert_non_null(strstr(body(2), "Value=vh-b&"));
    assert_int_equal(sh->pub.rejected, 1);
    assert_int_equal(sh->pub.requests_ok, 1);
    assert_int_equal(sh->pub.requests_failed, 2);
    assert_int_equal(cw_backlog_size(w->backlog), 0);
}

/* While CloudWatch is down the backlog keeps the newest intervals, drops the oldest and counts
 * it; once CloudWatch is back they go in order, oldest first. An interval without requests
 * sends nothing. */
static void backlog_in_order(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *w;
    const answer_t down[] = {{503, NULL}, {503, NULL}, {503, NULL}};

    reset(p);
    w = started(conf_of(2, "VirtualHost", p), sh, p);
    answers(3, down);
    next_interval(w); /* nothing measured: nothing queued, nothing sent */
    assert_int_equal(fake.calls, 0);
    assert_int_equal(sh->pub.intervals, 1);
    request(sh, "vh-a");
    next_interval(w);
    /* the next intervals come before the retry */
    w->retry_at = fake.now + SEC(3600);
    request(sh, "vh-b");
    next_interval(w);
    request(sh, "vh-c");
    next_interval(w);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(cw_backlog_size(w->backlog), 2);
    assert_int_equal(sh->pub.dropped, 1);
    assert_true(unit_logged("LF03013: CloudWatch has not taken the last 2 intervals: the oldest "
                            "is dropped (CloudWatchBacklog 2)"));

    answers(0, down);
    fake.now = w->retry_at;
    cw_pub_run(w);
    assert_int_equal(fake.calls, 3);
    assert_non_null(strstr(body(1), "Value=vh-b&"));
    assert_non_null(strstr(body(2), "Value=vh-c&"));
    assert_null(strstr(body(2), "Value=vh-a&"));
    assert_int_equal(cw_backlog_size(w->backlog), 0);
    assert_int_equal(sh->pub.backlog, 0);
}

/* A publisher that stops sends once what is left and hands the rest to the next publisher,
 * which takes it over at its next tick (a graceful restart) and sends it in order. */
static void handover(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *old, *young;
    const answer_t down[] = {{503, NULL}, {503, NULL}};

    reset(p);
    old = started(conf_of(5, "VirtualHost", p), sh, p);
    answers(2, down);
    request(sh, "vh-a");
    next_interval(old);
    old->retry_at = fake.now + SEC(3600);
    request(sh, "vh-b");
    next_interval(old);
    assert_int_equal(cw_backlog_size(old->backlog), 2);

    /* the new generation starts while the old one still runs: nothing to take yet */
    young = started(conf_of(5, "VirtualHost", p), sh, p);
    assert_int_equal(cw_backlog_size(young->backlog), 0);

    /* the old one stops: a thread that is stopping does not retry */
    fake.stopping = 1;
    request(sh, "vh-c");
    cw_pub_stop(old);
    fake.stopping = 0;
    assert_int_equal(fake.calls, 2);
    assert_int_equal(APR_ARRAY_IDX(fake.tries, 1, int), 1);
    assert_true(unit_logged("LF03021: 3 interval(s) CloudWatch did not take are left in "));
    assert_int_equal(sh->pub.handovers, 1);
    assert_int_equal(sh->pub.backlog, 0);

    /* the new one takes them over and sends them, oldest first */
    fake.now += SEC(1);
    cw_pub_run(young);
    assert_true(unit_logged("LF03023: took over 3 interval(s) a stopped publisher left"));
    assert_int_equal(fake.calls, 5);
    assert_non_null(strstr(body(2), "Value=vh-a&"));
    assert_non_null(strstr(body(3), "Value=vh-b&"));
    assert_non_null(strstr(body(4), "Value=vh-c&"));
    assert_int_equal(cw_backlog_size(young->backlog), 0);

    /* nothing is taken twice: a publisher started after it finds nothing */
    old = started(conf_of(5, "VirtualHost", p), sh, p);
    assert_int_equal(cw_backlog_size(old->backlog), 0);
}

/* A stopping thread leaves the backlog alone in its tick (stop() sends it in one try). */
static void stopping_sends_nothing(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *w;

    reset(p);
    w = started(conf_of(5, "VirtualHost", p), sh, p);
    request(sh, "vh-a");
    fake.stopping = 1;
    next_interval(w);
    assert_int_equal(fake.calls, 0);
    assert_int_equal(cw_backlog_size(w->backlog), 1);
}

/* The next interval ends one interval later, plus a jitter of at most a tenth of it (5 s at
 * most); a tick before it measures nothing. */
static void next_tick(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_srv_conf *c = conf_of(5, "VirtualHost", p);
    cw_pub_t *w;
    apr_time_t t;
    int i;

    reset(p);
    w = started(c, sh, p);
    assert_true(w->next_measure >= SEC(1060) && w->next_measure < SEC(1065));
    t = w->next_measure;
    fake.now = t - 1;
    cw_pub_run(w);
    assert_int_equal(sh->pub.intervals, 0);
    assert_true(w->next_measure == t);
    for (i = 0; i < 50; ++i) {
        next_interval(w);
        assert_true(w->next_measure >= fake.now + SEC(60));
        assert_true(w->next_measure < fake.now + SEC(65));
    }
    assert_int_equal(sh->pub.intervals, 50);

    /* a 10 s interval: within a second */
    c->interval = SEC(10);
    w = started(c, sh, p);
    for (i = 0; i < 50; ++i) {
        next_interval(w);
        assert_true(w->next_measure >= fake.now + SEC(10));
        assert_true(w->next_measure < fake.now + SEC(11));
    }
}

/* Busy workers of the capacity, in percent, capped at 100; an interval takes the samples. */
static void saturation(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_pub_t *w;

    reset(p);
    w = started(conf_of(5, "VirtualHost", p), sh, p);
    cw_pub_saturation(w, 5, 2, 10);  /* 25 % */
    cw_pub_saturation(w, 30, 2, 10); /* more than the capacity (a graceful restart): 100 % */
    cw_pub_saturation(w, 1, 4, 0);   /* prefork: a process is one worker: 25 % */
    cw_pub_saturation(w, 1, 0, 10);  /* no capacity known: no sample */
    assert_int_equal(w->sat.n, 3);
    assert_true(w->sat.sum == 150.0);
    assert_true(w->sat.min == 25.0);
    assert_true(w->sat.max == 100.0);
    next_interval(w);
    assert_int_equal(w->sat.n, 0);
    assert_int_equal(fake.calls, 1); /* WorkerSaturation alone is sent */
    assert_non_null(strstr(body(0), "WorkerSaturation"));
}

/* Dimensions from the instance metadata: looked up when an interval is measured, what fails
 * is logged and asked again only after 10 minutes, what was found is kept. */
static void instance_metadata(void **state)
{
    apr_pool_t *p = *state;
    cw_shm_t *sh = shm_of(p);
    cw_srv_conf *c = conf_of(5, "InstanceId", p);
    const char *why;
    char *words[1] = {apr_pstrdup(p, "AutoScalingGroupName")};
    cw_pub_t *w;

    assert_int_equal(cw_conf_add_dim_set(c, &why, 1, words, p), APR_SUCCESS);
    reset(p);
    fake.asg = "web-fleet";
    w = started(c, sh, p);
    assert_int_equal(fake.imds_calls, 0);
    request(sh, "vh-a");
    next_interval(w);
    assert_int_equal(fake.imds_calls, 2);
    assert_string_equal(w->datum.asg, "web-fleet");
    assert_null(w->datum.instance_id);
    assert_true(unit_logged("LF03011: the InstanceId dimension is left out: no instance id from "
                            "the instance metadata (no answer from the instance metadata; or "
                            "set CloudWatchInstanceId)"));
    assert_non_null(strstr(body(0), "Value=web-fleet&"));

    fake.instance_id = "i-0123";
    next_interval(w); /* a minute later: not asked again */
    assert_int_equal(fake.imds_calls, 2);
    fake.now += SEC(600);
    cw_pub_run(w); /* 10 minutes later: the instance id only */
    assert_int_equal(fake.imds_calls, 3);
    assert_string_equal(w->datum.instance_id, "i-0123");

    /* set in the configuration: never asked; a value CloudWatch refuses is left out */
    c->asg = "set";
    c->instance_id = "i-set";
    fake.imds_calls = 0;
    w = started(c, sh, p);
    next_interval(w);
    assert_int_equal(fake.imds_calls, 0);
    c->asg = NULL;
    c->instance_id = NULL;
    fake.asg = "";
    w = started(c, sh, p);
    next_interval(w);
    assert_null(w->datum.asg);
    assert_true(unit_logged("LF03010: the AutoScalingGroupName dimension is left out: the instance "
                            "metadata has no usable aws:autoscaling:groupName tag (not a "
                            "dimension value; allow tags in the instance metadata, or set "
                            "CloudWatchAutoScalingGroup)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PUB_TEST(retry_then_success), PUB_TEST(backoff_grows), PUB_TEST(throttled_and_refused),
        PUB_TEST(backlog_in_order),   PUB_TEST(handover),      PUB_TEST(stopping_sends_nothing),
        PUB_TEST(next_tick),          PUB_TEST(saturation),    PUB_TEST(instance_metadata),
    };

    return unit_run("cw_pub", tests, sizeof(tests) / sizeof(tests[0]));
}
