/* lf_conf.h — the configuration idiom of every lampfarm module, for core and glue files alike
 * (after icing/mod_h2's h2_config.c): creating a config sets every field to its unset value and
 * nothing else; merging takes each field from the more specific config when it is set there
 * (LF_MERGE, one line per field); a default is applied when a value is read (LF_DEFAULT) against
 * one commented default struct, which stays right for the main server, which httpd never merges.
 * Pointer fields use NULL as their unset value, numbers LF_UNSET.
 */
#ifndef LF_CONF_H
#define LF_CONF_H

/** The unset value of a number field. */
#define LF_UNSET -1

/** Field @p f of config @p c, or of the default struct @p d when it is @p unset in @p c. */
#define LF_DEFAULT(c, d, f, unset) ((c)->f != (unset) ? (c)->f : (d).f)

/** Field @p f of the more specific config @p add, or of @p base when it is @p unset in @p add. */
#define LF_MERGE(add, base, f, unset) ((add)->f != (unset) ? (add)->f : (base)->f)

#endif /* LF_CONF_H */
