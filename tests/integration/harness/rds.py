"""scripts/rds-cutover against two real MariaDB servers on 127.0.0.1: a source with data and a
target standing in for RDS for MariaDB.

Nothing of RDS exists locally. What the script relies on is reproduced on the target:
- the replication procedures RDS puts in the `mysql` schema, with RDS's signatures:
  mysql.rds_set_external_master(host, port, user, password, log_file, log_pos, ssl),
  mysql.rds_start_replication(), mysql.rds_stop_replication(), mysql.rds_reset_external_master().
  Here they are SQL SECURITY DEFINER procedures owned by root that run CHANGE MASTER TO /
  START SLAVE / STOP SLAVE / RESET SLAVE ALL: a stand-in, not RDS's code;
- a master user `admin` with the privileges RDS gives its master user (no SUPER, no READ ONLY
  ADMIN, no SET USER, no REPLICATION SLAVE ADMIN: it cannot SET GLOBAL read_only, CHANGE MASTER,
  or create objects for another DEFINER), plus EXECUTE on the procedures;
- the parameter-group settings a migration needs: binlog on (automated backups),
  log_bin_trust_function_creators=1.
"""
import os
import shutil
import subprocess
import tempfile

from . import paths
from .backends import MariaDB
from .proc import run, wait_until
from .tls import make_test_ca

SCRIPT = os.path.join(paths.REPO, "scripts", "rds-cutover")

SOURCE_PASSWORD = "src-Pw 'q\"$1"       # quotes, a space, a dollar: must survive option files
TARGET_PASSWORD = "adm1n-Pw;`x` #"
REPL_PASSWORD = "r3pl-Pw'\\z"
APP_PASSWORD = "app-pw"

RDS_STANDIN_SQL = r"""
DELIMITER //
CREATE OR REPLACE DEFINER=`root`@`localhost` PROCEDURE mysql.rds_set_external_master(
    IN host VARCHAR(255), IN port INT, IN user VARCHAR(128), IN passwd VARCHAR(128),
    IN log_file VARCHAR(255), IN log_pos BIGINT, IN ssl_encryption INT)
SQL SECURITY DEFINER
BEGIN
  SET @lf_sql = CONCAT('CHANGE MASTER TO MASTER_HOST=', QUOTE(host), ', MASTER_PORT=', port,
      ', MASTER_USER=', QUOTE(user), ', MASTER_PASSWORD=', QUOTE(passwd),
      ', MASTER_LOG_FILE=', QUOTE(log_file), ', MASTER_LOG_POS=', log_pos,
      ', MASTER_USE_GTID=no, MASTER_SSL=', IF(ssl_encryption, 1, 0));
  PREPARE lf_st FROM @lf_sql; EXECUTE lf_st; DEALLOCATE PREPARE lf_st;
  SET @lf_sql = NULL;
END//
CREATE OR REPLACE DEFINER=`root`@`localhost` PROCEDURE mysql.rds_start_replication()
SQL SECURITY DEFINER BEGIN START SLAVE; END//
CREATE OR REPLACE DEFINER=`root`@`localhost` PROCEDURE mysql.rds_stop_replication()
SQL SECURITY DEFINER BEGIN STOP SLAVE; END//
CREATE OR REPLACE DEFINER=`root`@`localhost` PROCEDURE mysql.rds_reset_external_master()
SQL SECURITY DEFINER BEGIN STOP SLAVE; RESET SLAVE ALL; END//
DELIMITER ;
CREATE USER 'admin'@'%' IDENTIFIED BY {pw};
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER,
  SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE,
  BINLOG MONITOR, SLAVE MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE,
  CREATE USER, EVENT, TRIGGER ON *.* TO 'admin'@'%' WITH GRANT OPTION;
GRANT EXECUTE ON PROCEDURE mysql.rds_set_external_master TO 'admin'@'%';
GRANT EXECUTE ON PROCEDURE mysql.rds_start_replication TO 'admin'@'%';
GRANT EXECUTE ON PROCEDURE mysql.rds_stop_replication TO 'admin'@'%';
GRANT EXECUTE ON PROCEDURE mysql.rds_reset_external_master TO 'admin'@'%';
"""

# The application's data: InnoDB tables, a trigger whose DEFINER does not exist on the target,
# a view, a procedure, a MyISAM table, utf8mb4 text (4-byte characters) and a latin1 column.
SOURCE_DATA_SQL = """
SET NAMES utf8mb4;
CREATE DATABASE shop CHARACTER SET utf8mb4;
CREATE DATABASE legacy CHARACTER SET latin1;
CREATE TABLE shop.customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100),
  note TEXT) ENGINE=InnoDB;
CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT,
  total DECIMAL(10,2), created DATETIME DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB;
CREATE TABLE shop.audit (id INT PRIMARY KEY AUTO_INCREMENT, order_id INT, at DATETIME)
  ENGINE=InnoDB;
CREATE TABLE legacy.hits (id INT PRIMARY KEY AUTO_INCREMENT, page VARCHAR(50)) ENGINE=MyISAM;
INSERT INTO shop.customers (name, note) VALUES ('Zoë', 'naïve café ☕ 😀'), ('Bob', 'plain'),
  ('Åsa', '日本語のテキスト');
INSERT INTO legacy.hits (page) VALUES ('/'), ('/about'), ('/caf\xe9');
CREATE USER 'shopadmin'@'localhost' IDENTIFIED BY 'not-used';
GRANT ALL ON shop.* TO 'shopadmin'@'localhost';
CREATE DEFINER='shopadmin'@'localhost' TRIGGER shop.orders_ai AFTER INSERT ON shop.orders
  FOR EACH ROW INSERT INTO shop.audit (order_id, at) VALUES (NEW.id, NOW());
INSERT INTO shop.orders (customer_id, total) VALUES (1, 9.99), (2, 19.50), (3, 5.00);
CREATE DEFINER='shopadmin'@'localhost' VIEW shop.big_orders AS
  SELECT id, total FROM shop.orders WHERE total > 10;
CREATE DEFINER='shopadmin'@'localhost' PROCEDURE shop.order_count()
  SELECT COUNT(*) FROM shop.orders;
CREATE USER 'app'@'%' IDENTIFIED BY '{app_pw}';
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON legacy.* TO 'app'@'%';
ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY {root_pw};
ALTER USER IF EXISTS 'root'@'127.0.0.1' IDENTIFIED BY {root_pw};
ALTER USER IF EXISTS 'root'@'::1' IDENTIFIED BY {root_pw};
"""


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Client:
    """The mariadb client as a given user over TCP (password through MYSQL_PWD)."""

    def __init__(self, port, user="root", password=""):
        self.port = port
        self.user = user
        self.password = password

    def query(self, sql, timeout=30, database=None):
        """(exit code, output) of sql (on stdin), batch mode, no column names."""
        env = dict(os.environ, MYSQL_PWD=self.password)
        argv = [paths.which("mariadb"), "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port),
                "-u", self.user, "--batch", "--skip-column-names",
                "--default-character-set=utf8mb4"]
        if database:
            argv.append(database)
        p = subprocess.run(argv, input=sql.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=env)
        return p.returncode, p.stdout.decode(errors="replace")

    def value(self, sql):
        rc, out = self.query(sql)
        assert rc == 0, out
        return out.strip()

    def rows(self, sql):
        rc, out = self.query(sql)
        assert rc == 0, out
        return [line.split("\t") for line in out.splitlines() if line]

    def slave_status(self):
        """SHOW SLAVE STATUS as a dict ({} when none is configured)."""
        env = dict(os.environ, MYSQL_PWD=self.password)
        p = subprocess.run([paths.which("mariadb"), "--no-defaults", "-h", "127.0.0.1", "-P",
                            str(self.port), "-u", self.user, "--vertical", "-e",
                            "SHOW SLAVE STATUS"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, env=env)
        out = {}
        for line in p.stdout.decode(errors="replace").splitlines():
            if ":" in line and not line.startswith("*"):
                k, _, v = line.partition(":")
                out[k.strip()] = v.strip()
        return out


TABLES = ["legacy.hits", "shop.audit", "shop.customers", "shop.orders"]


def snapshot(client, tables=TABLES):
    """{table: (rows, checksum)} (None for a table that does not exist)."""
    out = {}
    for t in tables:
        rc, text = client.query("SELECT COUNT(*) FROM %s; CHECKSUM TABLE %s" % (t, t))
        if rc != 0:
            out[t] = None
            continue
        lines = text.splitlines()
        out[t] = (lines[0], lines[1].split("\t")[1])
    return out


class CutoverPair:
    """Source and RDS stand-in MariaDB servers with the test data, the password files, an
    application .env file, and `run(args)` for scripts/rds-cutover with the right options."""

    def __init__(self, log_dir, template, tls=("source", "target")):
        self.log_dir = log_dir
        self.tmp = tempfile.mkdtemp(prefix="lf-rds-")
        for d in ("source", "target"):
            os.makedirs(os.path.join(log_dir, d), exist_ok=True)
        # the servers in tls offer TLS with a certificate for 127.0.0.1 from a test CA (like
        # RDS, whose CA bundle the script is given with --target-ca)
        self.ca = None
        args = {"source": [], "target": []}
        if tls:
            self.ca, crt, key = make_test_ca(os.path.join(self.tmp, "tls"))
            for side in tls:
                args[side] = ["--ssl-ca=" + self.ca, "--ssl-cert=" + crt, "--ssl-key=" + key]
        self.source = MariaDB(os.path.join(log_dir, "source"), template, server_id=1,
                              extra_args=args["source"])
        # the RDS parameter group: binlog on (automated backups), trust function creators
        self.target = MariaDB(os.path.join(log_dir, "target"), template, server_id=2,
                              extra_args=["--log-bin-trust-function-creators=1"] + args["target"])
        self.state_dir = os.path.join(self.tmp, "state")
        self.app_env = os.path.join(self.tmp, "app.env")
        self.pw_files = {}
        # shims that record the command lines of mysql and mysqldump (what `ps` would show)
        self.shim_dir = os.path.join(self.tmp, "bin")
        self.argv_log = os.path.join(self.tmp, "argv.log")
        os.makedirs(self.shim_dir)
        for tool in ("mysql", "mysqldump"):
            shim = os.path.join(self.shim_dir, tool)
            with open(shim, "w") as f:
                f.write('#!/bin/sh\nprintf "%%s\\n" "$0 $*" >> %s\nexec %s "$@"\n'
                        % (self.argv_log, paths.which(tool)))
            os.chmod(shim, 0o755)

    def start(self):
        self.source.start()
        self.target.start()
        root = Client(self.source.port)
        rc, out = root.query(SOURCE_DATA_SQL.format(app_pw=APP_PASSWORD,
                                                    root_pw=sql_str(SOURCE_PASSWORD)))
        assert rc == 0, out
        rc, out = Client(self.target.port).query(RDS_STANDIN_SQL.replace(
            "{pw}", sql_str(TARGET_PASSWORD)))
        assert rc == 0, out
        self.src = Client(self.source.port, "root", SOURCE_PASSWORD)
        self.tgt = Client(self.target.port, "admin", TARGET_PASSWORD)
        self.tgt_root = Client(self.target.port)
        self.app = Client(self.source.port, "app", APP_PASSWORD)
        for name, pw in (("source", SOURCE_PASSWORD), ("target", TARGET_PASSWORD),
                         ("repl", REPL_PASSWORD)):
            p = os.path.join(self.tmp, "%s.pw" % name)
            with open(p, "w") as f:
                f.write(pw + "\n")
            os.chmod(p, 0o600)
            self.pw_files[name] = p
        with open(self.app_env, "w") as f:
            f.write("APP_ENV=prod\nDATABASE_URL=mysql://app:%s@127.0.0.1:%d/shop?charset=utf8mb4\n"
                    "MAILER_DSN=smtp://127.0.0.1:25\n" % (APP_PASSWORD, self.source.port))
        return self

    def options(self, **over):
        opts = {
            "--source-host": "127.0.0.1", "--source-port": str(self.source.port),
            "--source-user": "root", "--source-password-file": self.pw_files["source"],
            "--target-host": "127.0.0.1", "--target-port": str(self.target.port),
            "--target-user": "admin", "--target-password-file": self.pw_files["target"],
            "--repl-password-file": self.pw_files["repl"],
            "--state-dir": self.state_dir, "--app-config": self.app_env,
            "--target-ca": self.ca, "--tls": None if self.ca else "off",
            "--timeout": "60",
        }
        opts.update(over)
        out = []
        for k, v in opts.items():
            if v is None:
                continue
            out += [k] if v is True else [k, v]
        return out

    def run(self, *args, path=None, timeout=180, env=None, **over):
        """scripts/rds-cutover ARGS with the pair's options: (exit code, output)."""
        e = dict(os.environ)
        e["PATH"] = path or (self.shim_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        for k in ("RDS_CUTOVER_SOURCE_PASSWORD", "RDS_CUTOVER_TARGET_PASSWORD",
                  "RDS_CUTOVER_REPL_PASSWORD"):
            e.pop(k, None)
        e.update(env or {})
        argv = ["bash", SCRIPT] + list(args) + self.options(**over)
        rc, out = run(argv, timeout=timeout, env=e, input=b"")
        with open(os.path.join(self.log_dir, "runs.log"), "a") as f:
            f.write("$ %s\n%s\n[exit %d]\n\n" % (" ".join(argv), out, rc))
        return rc, out

    @property
    def state_file(self):
        return os.path.join(self.state_dir, "rds-cutover.state")

    @property
    def log_file(self):
        return os.path.join(self.state_dir, "rds-cutover.log")

    def state(self):
        try:
            with open(self.state_file) as f:
                return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        except FileNotFoundError:
            return {}

    def log(self):
        with open(self.log_file) as f:
            return f.read()

    def app_config(self):
        with open(self.app_env) as f:
            return f.read()

    def wait_replicated(self, sql_on_target, expect, timeout=20):
        """Poll the target until sql_on_target returns expect."""
        return wait_until(lambda: self.tgt.value(sql_on_target) == expect, timeout, 0.1,
                          what="target: %s == %r" % (sql_on_target, expect))

    def cleanup(self):
        self.source.cleanup()
        self.target.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)
