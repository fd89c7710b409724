/* Unit tests of modules/session_kv/skv_merge.c: the per-key changes one request made to a session
 * (leaving out mod_session's "expiry"), and those changes applied to a newer copy. */
#include "unit.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "skv_merge.h"

#define EXPIRY "expiry"

/* A table from "k", "v", "k", "v", ..., NULL. */
static apr_table_t *table(apr_pool_t *p, ...)
{
    apr_table_t *t = apr_table_make(p, 4);
    const char *k;
    va_list ap;

    va_start(ap, p);
    while ((k = va_arg(ap, const char *)) != NULL) {
        apr_table_set(t, k, va_arg(ap, const char *));
    }
    va_end(ap);
    return t;
}

/* The change to @p key in @p changes: 1 and *value when there is one, 0 otherwise; fails the
 * test when @p key appears twice. */
static int change_of(const apr_array_header_t *changes, const char *key, const char **value)
{
    int i, found = 0;

    for (i = 0; i < changes->nelts; ++i) {
        const skv_change_t *c = &APR_ARRAY_IDX(changes, i, skv_change_t);
        if (!strcmp(c->key, key)) {
            assert_int_equal(found, 0);
            found = 1;
            *value = c->value;
        }
    }
    return found;
}

static void assert_set(const apr_array_header_t *changes, const char *key, const char *value)
{
    const char *v = NULL;

    if (!change_of(changes, key, &v)) {
        fail_msg("no change of %s", key);
    }
    assert_non_null(v);
    assert_string_equal(v, value);
}

static void assert_removed(const apr_array_header_t *changes, const char *key)
{
    const char *v = "";

    if (!change_of(changes, key, &v)) {
        fail_msg("no change of %s", key);
    }
    assert_null(v);
}

static void assert_unchanged(const apr_array_header_t *changes, const char *key)
{
    const char *v;

    assert_false(change_of(changes, key, &v));
}

/* Whether @p a and @p b hold the same keys and values. */
static int same_cb(void *baton, const char *k, const char *v)
{
    const apr_table_t *other = baton;
    const char *there = apr_table_get(other, k);

    return there && !strcmp(there, v);
}

static void assert_same(const apr_table_t *a, const apr_table_t *b)
{
    assert_int_equal(apr_table_elts(a)->nelts, apr_table_elts(b)->nelts);
    assert_true(apr_table_do(same_cb, (void *)b, a, NULL));
}

static void nothing_changed(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = table(p, "user", "ann", "cart", "3", EXPIRY, "100", NULL);

    assert_int_equal(skv_merge_diff(t, t, EXPIRY, p)->nelts, 0);
    assert_int_equal(
        skv_merge_diff(t, table(p, "cart", "3", EXPIRY, "100", "user", "ann", NULL), EXPIRY, p)
            ->nelts,
        0);
    assert_int_equal(skv_merge_diff(table(p, NULL), table(p, NULL), EXPIRY, p)->nelts, 0);
}

static void expiry_ignored(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *before = table(p, "user", "ann", EXPIRY, "100", NULL);
    apr_array_header_t *c;

    /* moved, added, removed: never a change */
    assert_int_equal(
        skv_merge_diff(before, table(p, "user", "ann", EXPIRY, "200", NULL), EXPIRY, p)->nelts, 0);
    assert_int_equal(skv_merge_diff(before, table(p, "user", "ann", NULL), EXPIRY, p)->nelts, 0);
    assert_int_equal(skv_merge_diff(table(p, "user", "ann", NULL), before, EXPIRY, p)->nelts, 0);
    assert_int_equal(skv_merge_diff(NULL, table(p, EXPIRY, "1", NULL), EXPIRY, p)->nelts, 0);

    /* without a key to ignore, expiry is a key like any other */
    c = skv_merge_diff(before, table(p, "user", "ann", EXPIRY, "200", NULL), NULL, p);
    assert_int_equal(c->nelts, 1);
    assert_set(c, EXPIRY, "200");
    c = skv_merge_diff(before, table(p, "user", "ann", NULL), NULL, p);
    assert_int_equal(c->nelts, 1);
    assert_removed(c, EXPIRY);
}

static void set_changed_removed(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *before =
        table(p, "user", "ann", "cart", "3", "theme", "dark", "lang", "de", EXPIRY, "100", NULL);
    apr_table_t *after =
        table(p, "user", "ann", "cart", "4", "lang", "de", "csrf", "x1", EXPIRY, "200", NULL);
    apr_array_header_t *c = skv_merge_diff(before, after, EXPIRY, p);

    assert_int_equal(c->nelts, 3);
    assert_set(c, "cart", "4");
    assert_set(c, "csrf", "x1");
    assert_removed(c, "theme");
    assert_unchanged(c, "user");
    assert_unchanged(c, "lang");
    assert_unchanged(c, EXPIRY);
}

static void empty_value(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *before = table(p, "a", "1", "b", "", NULL);
    apr_array_header_t *c;
    apr_table_t *t;

    /* a value emptied is set to "", not removed; an empty value made non-empty is set */
    c = skv_merge_diff(before, table(p, "a", "", "b", "2", NULL), EXPIRY, p);
    assert_int_equal(c->nelts, 2);
    assert_set(c, "a", "");
    assert_set(c, "b", "2");
    t = table(p, "a", "1", "b", "", NULL);
    skv_merge_apply(t, c);
    assert_string_equal(apr_table_get(t, "a"), "");
    assert_string_equal(apr_table_get(t, "b"), "2");
    /* a new key with an empty value */
    c = skv_merge_diff(before, table(p, "a", "1", "b", "", "c", "", NULL), EXPIRY, p);
    assert_int_equal(c->nelts, 1);
    assert_set(c, "c", "");
}

static void no_before(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *c =
        skv_merge_diff(NULL, table(p, "user", "ann", "cart", "1", EXPIRY, "9", NULL), EXPIRY, p);

    assert_int_equal(c->nelts, 2);
    assert_set(c, "user", "ann");
    assert_set(c, "cart", "1");
    assert_int_equal(skv_merge_diff(NULL, table(p, NULL), EXPIRY, p)->nelts, 0);
}

static void everything_removed(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *c =
        skv_merge_diff(table(p, "a", "1", "b", "2", EXPIRY, "1", NULL), table(p, NULL), EXPIRY, p);

    assert_int_equal(c->nelts, 2);
    assert_removed(c, "a");
    assert_removed(c, "b");
}

/* The point of it all: two requests load the same session, the first saves, and the second's
 * change applied to what the first stored keeps both. */
static void apply_to_newer(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *loaded =
        table(p, "user", "ann", "cart", "3", "theme", "dark", "flash", "hi", EXPIRY, "100", NULL);
    /* request 1 (saved first): added to the cart, changed the theme, read the flash message */
    apr_table_t *newer =
        table(p, "user", "ann", "cart", "4", "theme", "light", EXPIRY, "150", NULL);
    /* request 2: set a csrf token, changed the theme too, removed the cart */
    apr_table_t *mine =
        table(p, "user", "ann", "theme", "blue", "flash", "hi", "csrf", "t2", EXPIRY, "160", NULL);
    apr_array_header_t *c = skv_merge_diff(loaded, mine, EXPIRY, p);

    assert_int_equal(c->nelts, 3);
    skv_merge_apply(newer, c);
    /* request 1's removal of flash stays (request 2 did not touch it), request 2's changes win
     * where both changed, the expiry is the newer copy's */
    assert_same(newer, table(p, "user", "ann", "theme", "blue", "csrf", "t2", EXPIRY, "150", NULL));
}

static void apply_edge_cases(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *t = table(p, "a", "1", NULL);
    apr_array_header_t *none = apr_array_make(p, 0, sizeof(skv_change_t));
    skv_change_t *c;

    skv_merge_apply(t, none);
    assert_same(t, table(p, "a", "1", NULL));

    /* removing a key that is not there, setting one that is */
    c = apr_array_push(none);
    c->key = "gone";
    c->value = NULL;
    c = apr_array_push(none);
    c->key = "a";
    c->value = "2";
    skv_merge_apply(t, none);
    assert_same(t, table(p, "a", "2", NULL));

    /* into an empty table (the session was deleted meanwhile): only the sets remain */
    t = apr_table_make(p, 1);
    skv_merge_apply(t, skv_merge_diff(table(p, "x", "1", "y", "2", NULL),
                                      table(p, "y", "3", "z", "4", NULL), EXPIRY, p));
    assert_same(t, table(p, "y", "3", "z", "4", NULL));
}

/* diff(before, after) applied to before gives after (but for the ignored key), for many random
 * pairs of tables. */
static void roundtrip_random(void **state)
{
    apr_pool_t *p = *state;
    unsigned seed = 12345;
    int round;

    for (round = 0; round < 500; ++round) {
        apr_table_t *before = apr_table_make(p, 8), *after = apr_table_make(p, 8), *t;
        int k;

        for (k = 0; k < 8; ++k) {
            const char *key = apr_psprintf(p, "k%d", k);
            int r = rand_r(&seed) % 4;
            if (r) {
                apr_table_set(before, key, apr_psprintf(p, "%d", r - 1));
            }
            r = rand_r(&seed) % 4;
            if (r) {
                apr_table_set(after, key, apr_psprintf(p, "%d", r - 1));
            }
        }
        apr_table_set(before, EXPIRY, "1");
        apr_table_set(after, EXPIRY, "2");
        t = apr_table_copy(p, before);
        skv_merge_apply(t, skv_merge_diff(before, after, EXPIRY, p));
        apr_table_set(t, EXPIRY, "2");
        assert_same(t, after);
        /* and the diff of a table with itself is empty */
        assert_int_equal(skv_merge_diff(after, after, EXPIRY, p)->nelts, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(nothing_changed), UNIT_TEST(expiry_ignored),   UNIT_TEST(set_changed_removed),
        UNIT_TEST(empty_value),     UNIT_TEST(no_before),        UNIT_TEST(everything_removed),
        UNIT_TEST(apply_to_newer),  UNIT_TEST(apply_edge_cases), UNIT_TEST(roundtrip_random),
    };
    return UNIT_RUN("skv_merge", tests);
}
