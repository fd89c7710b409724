/* lampfarm-once — run a cron job on one node of the farm.
 *
 *   lampfarm-once --store URL --name NAME --ttl DURATION [--wait DURATION] [--period DURATION]
 *                 [--on-store-down skip|run] [--ca-file F] [--password-file F] -- command args...
 *   lampfarm-once --store URL --name NAME --check TOKEN
 *
 * Every node of a farm has the same crontab; put this in front of a job and the job runs on the
 * node that takes the lease NAME in the shared store (a SessionKVStore URL: redis, memcached, ...),
 * while the others skip it. The lease is renewed every TTL/3 while the command runs and given back
 * when it ends; a holder that dies (kill -9, a terminated instance) loses it after its TTL. The
 * command gets the fencing token of its lease in LAMPFARM_ONCE_TOKEN, and --check tells whether a
 * token still holds the lease. The lease itself (keys, tokens, periods) is skv_lease.c; this file
 * is the process around it: arguments, the store's connection, fork and exec, signals, renewals
 * and exit codes. docs/lampfarm-once.md is the manual.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <curl/curl.h>

#include "aws_creds.h"
#include "aws_elasticache.h"
#include "lf_conn.h"
#include "lf_log.h"
#include "lf_parse.h"
#include "lf_secret.h"
#include "skv_backend.h"
#include "skv_lease.h"

/* Exit codes besides the command's own (sysexits.h's numbers, for what they mean there). */
#define EXIT_NOT_HELD   1   /* --check: the token does not hold the lease */
#define EXIT_USAGE      64  /* EX_USAGE: bad arguments */
#define EXIT_STORE_DOWN 69  /* EX_UNAVAILABLE: the store did not answer; not run */
#define EXIT_OSERR      71  /* EX_OSERR: fork() or pipe() failed */
#define EXIT_SKIPPED    75  /* EX_TEMPFAIL: another node holds the lease, or the period ran */
#define EXIT_CANNOT_RUN 126 /* the command exists but cannot be executed (as sh says) */
#define EXIT_NOT_FOUND  127 /* the command was not found (as sh says) */

/* How often --wait asks again for a lease someone else holds. */
#define WAIT_POLL apr_time_from_msec(200)

static const char *prog = "lampfarm-once";

static void usage(FILE *out)
{
    fputs(
        "Usage: lampfarm-once --store URL --name NAME --ttl DURATION [--wait DURATION]\n"
        "         [--period DURATION] [--on-store-down skip|run] [--ca-file FILE]\n"
        "         [--password-file FILE | --password-env VAR] [--iam-cache NAME --iam-region R]\n"
        "         [--verbose] -- command args...\n"
        "   or: lampfarm-once --store URL --name NAME --check TOKEN [--ca-file FILE] [...]\n"
        "\n"
        "Runs the command only if this process takes the lease NAME in the store (every node of\n"
        "the farm runs the same crontab line: one of them runs the job), renews the lease every\n"
        "TTL/3 while the command runs, and gives it back when the command ends. A holder that\n"
        "dies loses the lease after its TTL.\n"
        "  --store URL         the store, as SessionKVStore: redis://, rediss://, memcached://,\n"
        "                      memcacheds://, mysql://, mysqls://\n"
        "  --name NAME         the job's name: one lease per name across the farm\n"
        "  --ttl DURATION      how long the lease outlives a holder that died (30s, 5m, 1h;\n"
        "                      at least 1s)\n"
        "  --wait DURATION     when another node holds the lease, keep trying this long\n"
        "                      (default 0: skip at once)\n"
        "  --period DURATION   run at most once per period across the farm (1h, 1d), periods\n"
        "                      counted in UTC from the Unix epoch\n"
        "  --on-store-down P   skip (default: do not run, exit 69) or run (run without a lease)\n"
        "  --ca-file FILE      PEM CAs a rediss://, memcacheds:// or mysqls:// server must chain to\n"
        "                      (default: the system's trust store)\n"
        "  --password-file F   the store's password (redis AUTH, mysql), from a file\n"
        "  --password-env VAR  the store's password, from the environment variable VAR\n"
        "  --iam-cache NAME --iam-region REGION [--iam-serverless]\n"
        "                      ElastiCache IAM authentication for the rediss://user-id@host URL's\n"
        "                      user: AUTH with IAM tokens for the cache (replication group id or\n"
        "                      serverless cache name), signed with --aws-credentials\n"
        "  --aws-credentials default|keyfile:PATH|profile:NAME\n"
        "                      the credentials that sign the tokens (default: environment,\n"
        "                      profile, instance role)\n"
        "  --check TOKEN       exit 0 if the lease NAME is held with fencing token TOKEN, 1 if\n"
        "                      not, 69 if the store did not answer\n"
        "  --verbose           say on stderr what was decided (skipped, taken, released)\n"
        "The command sees LAMPFARM_ONCE_NAME and LAMPFARM_ONCE_TOKEN (its fencing token; 0 when\n"
        "it runs without a lease), and LAMPFARM_ONCE_PERIOD (the period's number) with --period.\n"
        "Exit: the command's own status when it ran (128+N when killed by signal N); 75 skipped\n"
        "(another node holds the lease, or the period was run); 69 the store did not answer\n"
        "(with --on-store-down skip); 64 bad arguments; 126/127 the command cannot be run.\n",
        out);
}

/* The command line, parsed. */
typedef struct once_args_t {
    const char *store, *name, *ca_file, *password_spec, *check;
    const char *iam_cache, *iam_region, *creds_kind, *creds_arg;
    int iam_serverless;
    apr_interval_time_t ttl;    /* 0: not given */
    apr_interval_time_t wait;   /* microseconds */
    apr_interval_time_t period; /* 0: none */
    int store_down_run;
    int verbose;
    char **command; /* NULL-terminated */
} once_args_t;

static void say(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr: "lampfarm-once: NAME: ...". */
static void say(const char *name, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: %s%s", prog, name ? name : "", name ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see %s --help)\n", prog);
    exit(EXIT_USAGE);
}

/* What the drivers log (lf_log): warnings, and with --verbose notices and information too. */
static void log_print(const char *file, int line, int level, apr_status_t rv, const char *msg,
                      void *baton)
{
    (void)file;
    (void)line;
    (void)level;
    (void)rv;
    (void)baton;
    say(NULL, "%s", msg);
}

/* @p baton: the --verbose flag */
static int log_level(int level, void *baton)
{
    return level <= (*(const int *)baton ? LF_LOG_INFO : LF_LOG_WARNING);
}

static apr_interval_time_t parse_duration(const char *opt, const char *arg)
{
    apr_interval_time_t t;

    if (lf_parse_duration(&t, arg, "s") != APR_SUCCESS) {
        die_usage("%s: '%s' is not a duration such as 30s, 5m, 1h or 1d", opt, arg);
    }
    return t;
}

static void parse_args(once_args_t *a, int argc, char **argv, apr_pool_t *p)
{
    int i;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i], *arg = NULL, *eq;
        char *name;

        if (!strcmp(opt, "--")) {
            i++;
            break;
        }
        if (opt[0] != '-') {
            break; /* the command, without "--" */
        }
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(opt, "--verbose") || !strcmp(opt, "-v")) {
            a->verbose = 1;
            continue;
        }
        if (!strcmp(opt, "--iam-serverless")) {
            a->iam_serverless = 1;
            continue;
        }
        /* every other option takes a value: --opt VALUE or --opt=VALUE */
        name = strdup(opt);
        if ((eq = strchr(opt, '='))) {
            name[eq - opt] = '\0';
            arg = eq + 1;
        }
        else if (i + 1 < argc) {
            arg = argv[++i];
        }
        if (!strcmp(name, "--store")) {
            a->store = arg;
        }
        else if (!strcmp(name, "--name")) {
            a->name = arg;
        }
        else if (!strcmp(name, "--ttl")) {
            a->ttl = arg ? parse_duration(name, arg) : 0;
        }
        else if (!strcmp(name, "--wait")) {
            a->wait = arg ? parse_duration(name, arg) : 0;
        }
        else if (!strcmp(name, "--period")) {
            a->period = arg ? parse_duration(name, arg) : 0;
            if (arg && (a->period < APR_USEC_PER_SEC || a->period % APR_USEC_PER_SEC)) {
                die_usage("--period: '%s' is not a whole number of seconds, at least 1s", arg);
            }
        }
        else if (!strcmp(name, "--on-store-down")) {
            if (arg && strcmp(arg, "skip") && strcmp(arg, "run")) {
                die_usage("--on-store-down: '%s' is neither skip nor run", arg);
            }
            a->store_down_run = arg && !strcmp(arg, "run");
        }
        else if (!strcmp(name, "--ca-file")) {
            a->ca_file = arg;
        }
        else if (!strcmp(name, "--password-file")) {
            a->password_spec = arg ? apr_pstrcat(p, "file:", arg, NULL) : NULL;
        }
        else if (!strcmp(name, "--password-env")) {
            a->password_spec = arg ? apr_pstrcat(p, "env:", arg, NULL) : NULL;
        }
        else if (!strcmp(name, "--check")) {
            a->check = arg;
        }
        else if (!strcmp(name, "--iam-cache")) {
            a->iam_cache = arg;
        }
        else if (!strcmp(name, "--iam-region")) {
            a->iam_region = arg;
        }
        else if (!strcmp(name, "--aws-credentials")) {
            const char *colon = arg ? strchr(arg, ':') : NULL;

            a->creds_arg = colon ? colon + 1 : NULL;
            a->creds_kind =
                arg ? aws_creds_source_parse(
                    colon ? apr_pstrndup(p, arg, (apr_size_t)(colon - arg)) : arg, a->creds_arg)
                    : "";
            if (!a->creds_kind) {
                die_usage("--aws-credentials: '%s' is not default, keyfile:PATH or profile:NAME",
                          arg);
            }
        }
        else {
            die_usage("unknown option '%s'", name);
        }
        if (!arg) {
            die_usage("%s needs a value", name);
        }
        free(name);
    }
    a->command = i < argc ? argv + i : NULL;
    if (!a->store) {
        die_usage("--store URL is missing");
    }
    if (!a->name || !*a->name) {
        die_usage("--name NAME is missing");
    }
    if (a->check) {
        if (a->command) {
            die_usage("--check takes no command");
        }
        if (!apr_isdigit(*a->check) || strspn(a->check, "0123456789") != strlen(a->check)) {
            die_usage("--check: '%s' is not a fencing token (a number)", a->check);
        }
        return;
    }
    if (!a->ttl) {
        die_usage("--ttl DURATION is missing");
    }
    if (a->ttl < APR_USEC_PER_SEC) {
        die_usage("--ttl: at least 1s (the stores count in seconds)");
    }
    if (!a->command) {
        die_usage("no command to run (put it after --)");
    }
}

/* AUTH's password from the IAM token holder (skv_password_fn). */
static apr_status_t iam_token(const char **token, const char **why, void *baton, apr_pool_t *p)
{
    return aws_elasticache_tokens_get(token, NULL, why, baton, apr_time_now(), p);
}

/* ElastiCache IAM authentication for @p be, as SessionKVIAMAuth and SessionKVCredentials give
 * it to sessions; exits with EXIT_USAGE when the options do not fit the store. */
static void iam_setup(skv_backend_t *be, const once_args_t *a, apr_pool_t *p)
{
    aws_elasticache_iam_t *iam = apr_pcalloc(p, sizeof(*iam));
    aws_elasticache_tokens_t *tokens;
    aws_creds_provider_t *creds;
    aws_creds_config_t cc;
    const char *why;

    if (!a->iam_cache || !a->iam_region) {
        die_usage("--iam-cache NAME and --iam-region REGION go together (and --iam-serverless, "
                  "--aws-credentials with them)");
    }
    if (be->type != SKV_BACKEND_REDIS || !be->tls) {
        die_usage("--iam-cache needs a rediss:// store: ElastiCache takes IAM tokens over TLS "
                  "only");
    }
    if (!be->user) {
        die_usage("--iam-cache: the store's URL names the user, rediss://user-id@host");
    }
    if (be->password || a->password_spec) {
        die_usage("--iam-cache: the token is the password; no other password");
    }
    iam->region = a->iam_region;
    iam->user_id = be->user;
    iam->cache_name = a->iam_cache;
    iam->serverless = a->iam_serverless;
    if (aws_elasticache_iam_check(&why, iam, p) != APR_SUCCESS) {
        die_usage("--iam-cache, --iam-region: %s", why);
    }
    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, a->creds_kind && *a->creds_kind ? a->creds_kind : "default",
                                a->creds_arg);
    /* the default chain may ask the instance's metadata service, through libcurl */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        die_usage("--iam-cache: libcurl cannot start");
    }
    if (aws_creds_provider_create(&creds, &why, &cc, p) != APR_SUCCESS) {
        die_usage("--aws-credentials: %s", why);
    }
    if (aws_elasticache_tokens_create(&tokens, &why, iam, creds, 0, p) != APR_SUCCESS) {
        die_usage("--iam-cache: %s", why);
    }
    be->password_fn = iam_token;
    be->password_baton = tokens;
    be->reauth_after = AWS_ELASTICACHE_REAUTH_DEFAULT;
}

/* The backend of --store with the TLS and password options, and a connection to it; exits
 * with EXIT_USAGE when they do not fit together. */
static skv_conn_t *store_open(const skv_driver_t **driver, const once_args_t *a, apr_pool_t *p)
{
    skv_backend_t *be;
    skv_conn_t *conn;
    const char *why;
    apr_interval_time_t t;

    if (skv_backend_parse(&be, &why, a->store, p) != APR_SUCCESS) {
        die_usage("--store: %s", why);
    }
    if (a->password_spec) {
        if (be->type == SKV_BACKEND_MEMCACHED) {
            die_usage("--password-file, --password-env: memcached takes no password");
        }
        if (be->password) {
            die_usage("--password-file, --password-env: the --store URL has a password already");
        }
        if (lf_secret_load(&be->password, &why, a->password_spec, p) != APR_SUCCESS) {
            die_usage("the password: %s", why);
        }
    }
    if (a->iam_cache || a->iam_region || a->iam_serverless || a->creds_kind) {
        iam_setup(be, a, p);
    }
    if (be->type == SKV_BACKEND_REDIS && be->user && !be->password && !be->password_fn) {
        die_usage("--store: a redis user needs a password: --password-file FILE, "
                  "--password-env VAR, or --iam-cache");
    }
    if (a->ca_file && !be->tls) {
        die_usage("--ca-file: the store is not over TLS (rediss://, memcacheds://, mysqls://)");
    }
    if (be->tls && lf_tls_create(&be->tls_config, a->ca_file, &why, p) != APR_SUCCESS) {
        die_usage("--ca-file: %s", why);
    }
    be->ca_file = a->ca_file; /* mysqls:// hands the file to its client library */
    /* one connect and two requests must fit well within a TTL: lease_delete()'s margin */
    t = a->ttl ? a->ttl / 6 : apr_time_from_sec(1);
    be->connect_timeout = be->io_timeout = t < apr_time_from_sec(1) ? t : apr_time_from_sec(1);
    be->retry_interval = apr_time_from_sec(1); /* memcached: --wait tries a server again soon */
    if (!(*driver = skv_backend_driver(be))) {
        die_usage("--store: no driver for this store");
    }
    if ((*driver)->open(&conn, be, NULL, p) != APR_SUCCESS) {
        die_usage("--store: cannot make a connection to %s", be->display);
    }
    return conn;
}

/* "host/pid/random": who takes the lease, unique across the farm and over time. */
static const char *holder_id(apr_pool_t *p)
{
    unsigned char rnd[6];
    char host[256];
    apr_size_t i;

    if (gethostname(host, sizeof(host)) != 0) {
        apr_cpystrn(host, "unknown", sizeof(host));
    }
    host[sizeof(host) - 1] = '\0';
    for (i = 0; host[i]; i++) {
        if (host[i] <= ' ' || host[i] > '~') {
            host[i] = '_';
        }
    }
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        memset(rnd, 0, sizeof(rnd));
    }
    return apr_psprintf(p, "%s/%ld/%02x%02x%02x%02x%02x%02x", host, (long)getpid(), rnd[0], rnd[1],
                        rnd[2], rnd[3], rnd[4], rnd[5]);
}

static void on_sigchld(int sig)
{
    (void)sig; /* a handler of its own, so the blocked SIGCHLD is kept for sigtimedwait() */
}

/* The time until @p when as a timespec, at least 0. */
static struct timespec until(apr_time_t when)
{
    apr_interval_time_t d = when - apr_time_now();
    struct timespec ts;

    if (d < 0) {
        d = 0;
    }
    ts.tv_sec = (time_t)apr_time_sec(d);
    ts.tv_nsec = (long)apr_time_usec(d) * 1000;
    return ts;
}

/* The child: the environment, the original signal mask, and exec. Reports exec's errno on
 * @p report (close-on-exec, so the parent reads nothing when exec worked). */
static void child_exec(const once_args_t *a, const skv_lease_t *lease, const sigset_t *mask,
                       int report)
{
    char token[32];
    int e;

    snprintf(token, sizeof(token), "%" APR_UINT64_T_FMT, lease ? lease->token : 0);
    setenv("LAMPFARM_ONCE_NAME", a->name, 1);
    setenv("LAMPFARM_ONCE_TOKEN", token, 1);
    if (lease && lease->period_number >= 0) {
        snprintf(token, sizeof(token), "%" APR_INT64_T_FMT, lease->period_number);
        setenv("LAMPFARM_ONCE_PERIOD", token, 1);
    }
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    execvp(a->command[0], a->command);
    e = errno;
    if (write(report, &e, sizeof(e)) < 0) {
        /* nothing more to do: the parent sees exit 127 */
    }
    _exit(EXIT_NOT_FOUND);
}

/* Renew @p lease once, and say what changed: a failure, a recovery, a loss. */
static void renew(skv_lease_t *lease, int *failing, const char *name, apr_pool_t *p)
{
    const char *why;
    apr_status_t rv = skv_lease_renew(&why, lease, p);

    if (rv == APR_SUCCESS) {
        if (*failing) {
            say(name, "the lease is renewed again");
        }
        *failing = 0;
    }
    else if (rv == APR_EBUSY) {
        say(name,
            "lost the lease (%s): the command goes on; another node may run the job now "
            "(the command can tell with --check $LAMPFARM_ONCE_TOKEN)",
            why);
    }
    else if (!*failing) {
        say(name, "warning: could not renew the lease (%s): trying again", why);
        *failing = 1;
    }
}

/* Run the command (under @p lease, or with none), renew the lease while it runs, forward
 * SIGTERM, SIGINT, SIGHUP and SIGQUIT to it, give the lease back when it ends; its exit code. */
static int run(const once_args_t *a, skv_lease_t *lease, apr_pool_t *p)
{
    struct sigaction sa;
    sigset_t set, old;
    apr_pool_t *tp;
    apr_time_t next;
    pid_t pid;
    int report[2], status = 0, e = 0, failing = 0;
    ssize_t n;

    apr_pool_create(&tp, p);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, &old);
    if (pipe(report) != 0 || fcntl(report[1], F_SETFD, FD_CLOEXEC) != 0
        || fcntl(report[0], F_SETFD, FD_CLOEXEC) != 0 || (pid = fork()) < 0) {
        say(a->name, "cannot start the command: %s", strerror(errno));
        status = EXIT_OSERR << 8;
        goto release;
    }
    if (pid == 0) {
        close(report[0]);
        child_exec(a, lease, &old, report[1]);
    }
    close(report[1]);
    while ((n = read(report[0], &e, sizeof(e))) < 0 && errno == EINTR) {
    }
    close(report[0]);
    if (n == sizeof(e)) {
        say(a->name, "cannot run %s: %s", a->command[0], strerror(e));
        waitpid(pid, NULL, 0);
        status = (e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN) << 8;
        goto release;
    }
    next = lease ? apr_time_now() + a->ttl / 3 : 0;
    for (;;) {
        struct timespec ts = until(next);
        siginfo_t info;
        int sig = sigtimedwait(&set, &info, lease && !lease->lost ? &ts : NULL);

        if (sig == SIGCHLD) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                break;
            }
        }
        else if (sig > 0) {
            kill(pid, sig); /* cron, systemd or a terminal stops the job: pass it on */
        }
        else if (errno != EAGAIN && errno != EINTR) {
            say(a->name, "sigtimedwait: %s", strerror(errno));
            waitpid(pid, &status, 0);
            break;
        }
        if (lease && !lease->lost && apr_time_now() >= next) {
            apr_pool_clear(tp);
            renew(lease, &failing, a->name, tp);
            next = apr_time_now() + a->ttl / 3;
        }
    }
release:
    if (lease && !lease->lost) {
        const char *why;
        apr_status_t rv = skv_lease_release(&why, lease, tp);

        if (rv == APR_SUCCESS) {
            if (a->verbose) {
                say(a->name, "released the lease (token %" APR_UINT64_T_FMT ")", lease->token);
            }
        }
        else if (rv == APR_EBUSY || rv == APR_NOTFOUND) {
            say(a->name, "lost the lease before the command ended (%s)", why);
        }
        else if (rv == APR_INCOMPLETE) {
            if (a->verbose) {
                say(a->name, "%s", why);
            }
        }
        else {
            say(a->name, "warning: could not release the lease (%s): it expires after its TTL",
                why);
        }
    }
    /* the signals stay blocked: one that comes now must not kill us before we exit */
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* --check TOKEN */
static int check(const once_args_t *a, const skv_lease_conf_t *conf, apr_pool_t *p)
{
    apr_uint64_t token = apr_strtoi64(a->check, NULL, 10);
    const char *why;
    apr_status_t rv = skv_lease_check(&why, conf, token, p);

    if (rv == APR_SUCCESS) {
        if (a->verbose) {
            say(a->name, "the lease is held with token %s", a->check);
        }
        return 0;
    }
    if (rv == APR_EBUSY || rv == APR_NOTFOUND) {
        say(a->name, "token %s does not hold the lease: %s", a->check, why);
        return EXIT_NOT_HELD;
    }
    say(a->name, "cannot reach the store (%s)", why);
    return EXIT_STORE_DOWN;
}

int main(int argc, const char *const *argv)
{
    once_args_t a;
    skv_lease_conf_t conf;
    skv_lease_t *lease = NULL;
    apr_pool_t *p, *tp;
    apr_time_t deadline;
    const char *why = "";
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    parse_args(&a, argc, (char **)argv, p);
    lf_log_set(log_print, log_level, &a.verbose);
    signal(SIGPIPE, SIG_IGN); /* lf_conn writes may raise it on a connection the server closed */

    memset(&conf, 0, sizeof(conf));
    conf.conn = store_open(&conf.driver, &a, p);
    conf.name = a.name;
    conf.holder = holder_id(p);
    conf.ttl = a.ttl;
    conf.period = a.period;
    conf.margin = a.ttl / 2; /* one connect and two requests, each bounded by TTL/6 */
    conf.now = apr_time_now;
    if (a.check) {
        return check(&a, &conf, p);
    }

    apr_pool_create(&tp, p);
    deadline = apr_time_now() + a.wait;
    for (;;) {
        apr_time_t now;

        apr_pool_clear(tp);
        rv = skv_lease_take(&lease, &why, &conf, tp);
        now = apr_time_now();
        if (rv == APR_SUCCESS || rv == APR_EEXIST || now >= deadline) {
            break;
        }
        apr_sleep(deadline - now < WAIT_POLL ? deadline - now : WAIT_POLL);
    }
    if (rv == APR_SUCCESS) {
        if (a.verbose) {
            say(a.name, "took the lease (token %" APR_UINT64_T_FMT ")", lease->token);
        }
        return run(&a, lease, tp);
    }
    if (rv == APR_EBUSY || rv == APR_EEXIST) {
        if (a.verbose) {
            say(a.name, "skipped: %s", why);
        }
        return EXIT_SKIPPED;
    }
    if (a.store_down_run) {
        say(a.name,
            "warning: cannot reach the store (%s): running the command without a lease "
            "(--on-store-down run)",
            why);
        return run(&a, NULL, tp);
    }
    say(a.name, "cannot reach the store (%s): not run (--on-store-down skip)", why);
    return EXIT_STORE_DOWN;
}
