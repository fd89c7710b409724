/* skv_mysql — sessions in a MySQL or MariaDB table (Amazon RDS, Aurora MySQL): the driver of
 * mysql:// and mysqls:// (skv_driver_mysql, declared in skv_driver.h), the startup check of its
 * table, and the SQL it runs, for the unit tests.
 *
 * The table (modules/session_kv/sql/session_kv.mysql.sql, installed with the module):
 *   k       VARBINARY(255) PRIMARY KEY   the key skv_id derived from the session id
 *   v       MEDIUMBLOB                   the stored envelope
 *   version BIGINT UNSIGNED              the compare-and-set token, +1 at every write
 *   expires BIGINT                       milliseconds since 1970 by the database's clock
 * A row whose expires has passed is gone for every statement; the driver's refresh() deletes such
 * rows in small batches (see skv_mysql.c).
 * Pure core: APR, MariaDB Connector/C; no httpd.
 */
#ifndef SKV_MYSQL_H
#define SKV_MYSQL_H

#include <apr_pools.h>

#include "skv_driver.h"

/** The default port of mysql:// and mysqls://. */
#define SKV_MYSQL_PORT 3306
/** The table of a URL that names none. */
#define SKV_MYSQL_TABLE "session_kv"
/** Where `make install` puts the SQL file that creates the table (under DATADIR). */
#define SKV_MYSQL_SQL_FILE "lampfarm/sql/session_kv.mysql.sql"
/** Rows (in the order of the primary key) one statement of the sweep looks at. */
#define SKV_MYSQL_SWEEP_BATCH 500

/** The statements of the driver, in the order of skv_mysql_sql(). */
typedef enum {
    SKV_SQL_GET,
    SKV_SQL_EXISTS,
    SKV_SQL_ADD,
    SKV_SQL_CAS,
    SKV_SQL_REPLACE,
    SKV_SQL_TOUCH,
    SKV_SQL_DEL,
    SKV_SQL_SWEEP_SCAN,
    SKV_SQL_SWEEP,
    SKV_SQL_COUNT
} skv_mysql_sql_e;

/**
 * The text of statement @p which on @p table (a name skv_backend_parse() accepted), from @p p.
 */
const char *skv_mysql_sql(skv_mysql_sql_e which, const char *table, apr_pool_t *p);

/**
 * Connect to @p be and check its table: the four columns with usable types and the key as the
 * primary key, and every statement of the driver prepared; for startup (the connection is closed
 * before it returns).
 * @param why out on error: what is wrong, and for the table what to do, from @p p
 * @return APR_SUCCESS; APR_EINVAL when the table is missing or wrong; another status when the
 *         database could not be asked (unreachable, refused the login, TLS failed)
 */
apr_status_t skv_mysql_check(const char **why, const skv_backend_t *be, apr_pool_t *p);

#endif /* SKV_MYSQL_H */
