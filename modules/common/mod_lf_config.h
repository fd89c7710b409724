/* mod_lf_config.h — the configuration idiom of every lampfarm module, for glue files: the
 * macros live in lf_conf.h, where core files that hold a module's configuration see them too.
 */
#ifndef MOD_LF_CONFIG_H
#define MOD_LF_CONFIG_H

#include "lf_conf.h"

#endif /* MOD_LF_CONFIG_H */
