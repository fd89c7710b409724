-- The table of mod_session_kv's mysql:// and mysqls:// stores (MySQL 5.7+, MariaDB 10.3+,
-- Amazon RDS and Aurora MySQL). `make install` puts this file in
-- /usr/share/lampfarm/sql/session_kv.mysql.sql. Create the table once, in the database the
-- store's URL names, with an account that may create tables:
--
--   mysql -h HOST -u ADMIN -p APPDB < /usr/share/lampfarm/sql/session_kv.mysql.sql
--
-- and give httpd's account what the module does with it (nothing else):
--
--   GRANT SELECT, INSERT, UPDATE, DELETE ON APPDB.session_kv TO 'sessions'@'%';
--
-- Another table name: replace session_kv below and name it in the URL,
-- mysql://sessions@HOST/APPDB/TABLE. httpd checks the table when it starts (a missing or
-- wrong one stops it with a message) and never changes its definition.
CREATE TABLE IF NOT EXISTS session_kv (
    -- the key derived from the session id (SessionKVKeyPrefix and a SHA-256 in hex): the
    -- cookie's value itself is never stored
    k VARBINARY(255) NOT NULL,
    -- the session as mod_session_kv stores it (encrypted with SessionKVEncryptionKeyFile);
    -- MEDIUMBLOB: a BLOB (64 KiB) is smaller than a session of the default SessionKVMaxSize
    v MEDIUMBLOB NOT NULL,
    -- the compare-and-set token: every write adds 1
    version BIGINT UNSIGNED NOT NULL,
    -- when the session expires: milliseconds since 1970 (UTC) by the database's clock
    expires BIGINT NOT NULL,
    -- no index on expires: every write moves it, and such an index costs the database more
    -- on each write than it saves the sweep of expired rows, which walks the primary key
    PRIMARY KEY (k)
) ENGINE = InnoDB;
