/* Unit tests of modules/s3/s3_fallback.c: which file of the fallback directory a key names, and
 * opening it without leaving the directory (a temporary directory with links, hidden files, a
 * FIFO, a subdirectory). */
#include "unit.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <apr_file_io.h>

#include "s3_fallback.h"

static const char *path_ok(const char *key, const char *prefix)
{
    const char *rel = NULL, *why = NULL;

    if (s3_fallback_path(&rel, &why, key, prefix) != APR_SUCCESS) {
        fail_msg("refused \"%s\": %s", key, why);
    }
    return rel;
}

static const char *path_bad(const char *key, const char *prefix)
{
    const char *rel = "untouched", *why = NULL;

    assert_int_equal(s3_fallback_path(&rel, &why, key, prefix), APR_NOTFOUND);
    assert_string_equal(rel, "untouched");
    assert_non_null(why);
    return why;
}

static void key_to_path(void **state)
{
    (void)state;
    assert_string_equal(path_ok("uploads/a/b.jpg", "uploads/"), "a/b.jpg");
    assert_string_equal(path_ok("a b.jpg", ""), "a b.jpg");
    assert_string_equal(path_ok("x.tar.gz", NULL), "x.tar.gz");
    assert_string_equal(path_ok("a/b..c", ""), "a/b..c"); /* dots inside a name are fine */
    assert_string_equal(path_bad("other/a.jpg", "uploads/"),
                        "the key is outside the location's key prefix");
    assert_string_equal(path_bad("uploads/", "uploads/"), "the key names the directory itself");
    assert_string_equal(path_bad("a//b", ""), "an empty segment in the key");
    assert_string_equal(path_bad("/etc/passwd", ""), "an empty segment in the key");
    assert_string_equal(path_bad("a/", ""), "an empty segment in the key");
    path_bad("..", "");
    path_bad("a/../../etc/passwd", "");
    path_bad("./a", "");
    assert_string_equal(path_bad(".htaccess", ""),
                        "a segment of the key starts with '.' (hidden files are never served)");
    path_bad("a/.git/config", "");
    path_bad("..\\etc", "");
    assert_string_equal(path_bad("a\\b", ""), "a backslash in the key");
}

/* A temporary tree:  dir/{a.txt, sub/b.txt, .hidden, link -> /etc/hostname, sublink -> sub,
 * outlink -> <outside>, fifo, secret (mode 000)} and outside/c.txt. */
static const char *make_tree(apr_pool_t *p)
{
    char *base = apr_pstrdup(p, "/tmp/lf-unit-fallback-XXXXXX");
    const char *dir, *out;

    assert_non_null(mkdtemp(base));
    dir = apr_pstrcat(p, base, "/dir", NULL);
    out = apr_pstrcat(p, base, "/outside", NULL);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(out, 0755), 0);
    assert_int_equal(mkdir(apr_pstrcat(p, dir, "/sub", NULL), 0755), 0);
#define WRITE(path, text)                                                                          \
    do {                                                                                           \
        apr_file_t *f;                                                                             \
        apr_size_t n = strlen(text);                                                               \
        assert_int_equal(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE, 0644, p),     \
                         APR_SUCCESS);                                                             \
        assert_int_equal(apr_file_write(f, text, &n), APR_SUCCESS);                                \
        apr_file_close(f);                                                                         \
    } while (0)
    WRITE(apr_pstrcat(p, dir, "/a.txt", NULL), "aaa");
    WRITE(apr_pstrcat(p, dir, "/sub/b.txt", NULL), "bbbb");
    WRITE(apr_pstrcat(p, dir, "/.hidden", NULL), "h");
    WRITE(apr_pstrcat(p, out, "/c.txt", NULL), "outside");
    WRITE(apr_pstrcat(p, dir, "/secret", NULL), "s");
#undef WRITE
    assert_int_equal(chmod(apr_pstrcat(p, dir, "/secret", NULL), 0), 0);
    assert_int_equal(symlink("/etc/hostname", apr_pstrcat(p, dir, "/link", NULL)), 0);
    assert_int_equal(symlink("sub", apr_pstrcat(p, dir, "/sublink", NULL)), 0);
    assert_int_equal(symlink(out, apr_pstrcat(p, dir, "/outlink", NULL)), 0);
    assert_int_equal(mkfifo(apr_pstrcat(p, dir, "/fifo", NULL), 0644), 0);
    return base;
}

static apr_status_t open_rel(const char **why, apr_finfo_t *fi, const char *dir, const char *rel,
                             apr_pool_t *p)
{
    apr_file_t *f = NULL;

    *why = NULL;
    return s3_fallback_open(&f, fi, why, dir, rel, p);
}

static void open_inside_only(void **state)
{
    apr_pool_t *p = *state;
    const char *base = make_tree(p), *dir = apr_pstrcat(p, base, "/dir", NULL), *why;
    apr_file_t *f;
    apr_finfo_t fi;
    char buf[16] = "";
    apr_size_t n = sizeof(buf) - 1;

    assert_int_equal(s3_fallback_open(&f, &fi, &why, dir, "sub/b.txt", p), APR_SUCCESS);
    assert_int_equal(fi.filetype, APR_REG);
    assert_int_equal(fi.size, 4);
    assert_string_equal(fi.fname, apr_pstrcat(p, dir, "/sub/b.txt", NULL));
    assert_int_equal(apr_file_read(f, buf, &n), APR_SUCCESS);
    assert_string_equal(buf, "bbbb");
    assert_int_equal(open_rel(&why, &fi, dir, "a.txt", p), APR_SUCCESS);
    assert_int_equal(fi.size, 3);

    assert_int_equal(open_rel(&why, &fi, dir, "missing.txt", p), APR_NOTFOUND);
    assert_string_equal(why, "no such file");
    assert_int_equal(open_rel(&why, &fi, dir, "nodir/a.txt", p), APR_NOTFOUND);
    assert_string_equal(why, "no such directory");
    assert_int_equal(open_rel(&why, &fi, dir, "link", p), APR_NOTFOUND);
    assert_string_equal(why, "the file is a symbolic link");
    assert_int_equal(open_rel(&why, &fi, dir, "sublink/b.txt", p), APR_NOTFOUND);
    assert_string_equal(why, "a directory on the way is a link or a file");
    assert_int_equal(open_rel(&why, &fi, dir, "outlink/c.txt", p), APR_NOTFOUND);
    assert_int_equal(open_rel(&why, &fi, dir, "a.txt/x", p), APR_NOTFOUND);
    assert_int_equal(open_rel(&why, &fi, dir, "sub", p), APR_NOTFOUND);
    assert_string_equal(why, "not a regular file");
    assert_int_equal(open_rel(&why, &fi, dir, "fifo", p), APR_NOTFOUND); /* and did not block */
    if (geteuid() != 0) { /* root reads a mode 000 file */
        assert_int_equal(open_rel(&why, &fi, dir, "secret", p), APR_EACCES);
        assert_string_equal(why, "the file is not readable by httpd");
    }
    /* the configured directory itself may be reached through a link */
    assert_int_equal(open_rel(&why, &fi, apr_pstrcat(p, dir, "/sublink", NULL), "b.txt", p),
                     APR_SUCCESS);
    assert_int_equal(open_rel(&why, &fi, apr_pstrcat(p, base, "/none", NULL), "a.txt", p),
                     APR_FROM_OS_ERROR(ENOENT));
    assert_string_equal(why, "cannot open the directory");
    assert_int_equal(system(apr_pstrcat(p, "rm -rf ", base, NULL)), 0);
}

static void copy_queue(void **state)
{
    apr_pool_t *p = *state;
    s3_fallback_queue_t *q;
    s3_fallback_copy_t c = {"uploads/a.jpg", "/srv/up", "a.jpg", "image/jpeg", &c,
                            8 << 20,         "/var/tmp"};
    s3_fallback_copy_t *got, *got2;
    char key[32];

    assert_int_equal(s3_fallback_queue_create(&q, 3, p), APR_SUCCESS);
    assert_int_equal(s3_fallback_queue_pop(q, &got), 0);
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_SUCCESS);
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_EEXIST); /* one copy per key */
    c.key = "uploads/b.bin";
    c.type = NULL;
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_SUCCESS);
    assert_int_equal(s3_fallback_queue_pop(q, &got), 1);
    assert_string_equal(got->key, "uploads/a.jpg");
    assert_string_equal(got->dir, "/srv/up");
    assert_string_equal(got->rel, "a.jpg");
    assert_string_equal(got->type, "image/jpeg");
    assert_ptr_equal(got->target, &c);
    assert_int_equal(got->part_size, 8 << 20);
    assert_string_equal(got->temp_dir, "/var/tmp");
    /* being copied: still one copy per key */
    c.key = "uploads/a.jpg";
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_EEXIST);
    assert_int_equal(s3_fallback_queue_pop(q, &got2), 1);
    assert_string_equal(got2->key, "uploads/b.bin");
    assert_null(got2->type);
    c.key = "uploads/c";
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_SUCCESS);
    c.key = "uploads/d";
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_ENOSPC); /* 3: two taken, one queued */
    s3_fallback_queue_done(q, got);
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_SUCCESS);
    c.key = "uploads/a.jpg"; /* done: may be copied again */
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_ENOSPC);
    s3_fallback_queue_done(q, got2);
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_SUCCESS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s3_fallback_queue_pop(q, &got), 1);
        snprintf(key, sizeof(key), "%s", got->key);
        s3_fallback_queue_done(q, got);
    }
    assert_string_equal(key, "uploads/a.jpg");
    assert_int_equal(s3_fallback_queue_pop(q, &got), 0);
    c.key = "left/in/the/queue"; /* freed with the pool */
    assert_int_equal(s3_fallback_queue_push(q, &c), APR_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(key_to_path),
        UNIT_TEST(open_inside_only),
        UNIT_TEST(copy_queue),
    };
    return UNIT_RUN("s3_fallback", tests);
}
