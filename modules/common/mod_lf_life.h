/* mod_lf_life.h — the lifecycle kit, for glue files only: how every lampfarm module starts up,
 * keeps state across graceful restarts, runs background threads and stops them.
 *
 * One copy of each of these, used by every module, so that the modules cannot drift apart:
 *   - libraries initialised once per process (libcurl, and OpenSSL through it);
 *   - shared memory that outlives graceful restarts;
 *   - background threads that are stopped and joined before their child process exits;
 *   - pools with their own allocator, bounded in what they keep;
 *   - secrets for directives, from "file:" (relative to ServerRoot) or "env:".
 *
 * Why the threads are our own and not mod_watchdog's: in a child, mod_watchdog starts its thread
 * on a subpool of pconf, which a child never destroys (clean_child_exit destroys pchild and calls
 * exit()). Its thread notices the exit only by polling the MPM state and then runs the stop
 * callbacks (a final TLS PutMetricData, joining the check threads) while the main thread is
 * already in exit(), tearing down OpenSSL (curl_global_init registered that with atexit): a
 * SIGSEGV on the way out, and the last interval lost. A thread started here belongs to pchild:
 * a pre-cleanup of pchild, which runs first when the child begins to exit and long before
 * exit(), tells it to stop and joins it.
 *
 * Every function here is compiled into each module (their symbols are local to the .so); what
 * must be once per process is keyed in the process pool, which all modules share.
 */
#ifndef MOD_LF_LIFE_H
#define MOD_LF_LIFE_H

#include <apr_pools.h>
#include <apr_time.h>

#include <http_config.h>
#include <http_log.h>
#include <httpd.h>

/* --- libraries ------------------------------------------------------------------------------ */

/**
 * Initialise libcurl's global state (OpenSSL's with it) once per process, whichever of our
 * modules asks first. Call from pre_config: before any thread, in the parent, so every child
 * inherits it. Never undone (see the file comment: teardown at exit belongs to the process).
 * @return APR_SUCCESS, or APR_EGENERAL when libcurl cannot initialise
 */
apr_status_t mod_lf_libs_init(void);

/* --- pools ---------------------------------------------------------------------------------- */

/** What a pool made by mod_lf_pool_create() keeps of freed memory, in bytes. */
#define MOD_LF_POOL_MAX_FREE (256 * 1024)

/**
 * A child of @p parent with its own allocator (no lock shared with other threads), keeping at
 * most MOD_LF_POOL_MAX_FREE bytes of freed memory: for a background thread, or a task that runs
 * on one thread at a time. Destroyed with @p parent.
 */
apr_status_t mod_lf_pool_create(apr_pool_t **out, apr_pool_t *parent);

/* --- shared memory -------------------------------------------------------------------------- */

/** What mod_lf_shm_attach() did. */
typedef enum {
    MOD_LF_SHM_NEW = 0, /* made, zeroed: the first start (or the layout is new) */
    MOD_LF_SHM_KEPT,    /* the previous generation's segment, as it was */
    MOD_LF_SHM_REPLACED /* there was one of another layout: it is gone, this one is zeroed */
} mod_lf_shm_e;

/**
 * Shared memory that outlives graceful restarts: made in the process pool of the parent, under
 * @p key, and kept by each later generation as long as @p size and @p layout stay the same.
 * @p layout is any number that changes when the meaning of the bytes does (a version, a count
 * of slots). Call from post_config (the real pass, not the dry run), before the children fork.
 * @param base out: the segment, @p size bytes, zeroed unless kept
 * @param how out (may be NULL): what happened
 * @return APR_SUCCESS, or the error of apr_shm_create() (logged by the caller)
 */
apr_status_t mod_lf_shm_attach(void **base, mod_lf_shm_e *how, const char *key, apr_size_t size,
                               apr_uint64_t layout, server_rec *s);

/* --- runtime directory --------------------------------------------------------------------- */

/**
 * A directory of the module's own, DefaultRuntimeDir/@p name, for what a child hands to the
 * next one (across a graceful restart or a stop): made if missing, mode 0700, and owned by the
 * User that children run as when httpd starts as root. Call from post_config.
 * @param path out, from @p p
 */
apr_status_t mod_lf_runtime_dir(const char **path, const char *name, apr_pool_t *p);

/* --- background threads --------------------------------------------------------------------- */

/** What a background thread does. Every callback runs on the thread itself. */
typedef struct mod_lf_thread_spec {
    const char *name;         /* for log lines: "the CloudWatch publisher" */
    apr_interval_time_t tick; /* microseconds between two run() */
    /* One process of the server runs it at a time (the others wait for their turn, and one
     * takes over when it exits), so N children do not multiply the work. */
    int singleton;
    /* Singleton only: a child that exits while waiting for its turn, at a time when the holder
     * is in its last stop() too, waits at most this long (microseconds) for the turn and runs
     * start() and stop(): what its own last requests left in shared memory is handled even
     * when every child is exiting (apachectl stop). A holder that lives on handles it in its
     * next run(), so then the child just leaves. 0: it always just leaves. */
    apr_interval_time_t last_turn;
    /* With last_turn: whether a last turn would have anything to do (shared memory holds
     * something); NULL: always. Checked before waiting and again once the turn is ours, so
     * that when every child exits at once only those with work left wait, one after the
     * other. */
    int (*pending)(void *data);
    /* Sets up; @p pool is the thread's (own allocator), alive until stop() returns. Not
     * APR_SUCCESS: the thread logs that and ends (run() and stop() are not called). */
    apr_status_t (*start)(void *data, apr_pool_t *pool);
    /* At once, then every tick while not stopping; @p ptemp is cleared after each call. */
    void (*run)(void *data, apr_pool_t *ptemp);
    /* Once, last, when the child exits (or NULL): must be bounded in time — the child waits. */
    void (*stop)(void *data);
} mod_lf_thread_spec;

typedef struct mod_lf_thread_t mod_lf_thread_t;

/**
 * A background thread's handle, made in post_config (for a singleton, with the cross-process
 * mutex that picks the process running it). @p spec and @p data must live as long as @p pconf.
 * @param module_index the module's (APLOG_MODULE_INDEX), for the kit's own log lines
 */
apr_status_t mod_lf_thread_create_(mod_lf_thread_t **out, const mod_lf_thread_spec *spec,
                                   void *data, int module_index, server_rec *s, apr_pool_t *pconf);
#define mod_lf_thread_create(out, spec, data, s, pconf)                                            \
    mod_lf_thread_create_(out, spec, data, APLOG_MODULE_INDEX, s, pconf)

/**
 * Start the thread in a child, from a child_init hook registered APR_HOOK_REALLY_LAST: its
 * first run() comes at once and may use what other modules make in their child_init (the
 * health check of mod_session_kv uses its store). A pre-cleanup of @p pchild stops it and joins it:
 * when the child exits, the thread's current run() ends (bounded by its own timeouts; long work
 * polls mod_lf_thread_stopping()), stop() runs, and only then does the child go on to exit().
 * The thread blocks asynchronous signals, which stay the MPM's business on the main thread.
 */
apr_status_t mod_lf_thread_start(mod_lf_thread_t *t, apr_pool_t *pchild);

/** Whether the thread was told to stop: retries and waits in run() end early when it was. */
int mod_lf_thread_stopping(const mod_lf_thread_t *t);

/* --- secrets -------------------------------------------------------------------------------- */

/**
 * A directive's secret: "file:PATH" (PATH relative to ServerRoot) or "env:NAME". Never echoes
 * the secret.
 * @param secret out, from cmd->pool
 * @return NULL, or the error for the directive: "<Directive>: <what is wrong>"
 */
const char *mod_lf_secret(const char **secret, cmd_parms *cmd, const char *arg);

#endif /* MOD_LF_LIFE_H */
