"""Real backends on 127.0.0.1: memcached, redis-server, MariaDB, HAProxy, and a TCP listener that
accepts connections and never answers (a hung dependency)."""
import csv
import io
import os
import shutil
import socket
import tempfile

from . import paths
from .proc import Daemon, free_port, port_open, run, wait_until
from .threadserver import ThreadServer


class Server(Daemon):
    """A backend on one port of 127.0.0.1: the one given, or a free one."""

    def __init__(self, log_dir, port=None):
        super().__init__(log_dir)
        self.port = port or free_port()


class Memcached(Server):
    """memcached on 127.0.0.1:.port; with tls=(ca, crt, key) (harness/tls.make_test_ca) also on
    .tls_port over TLS (-Z), with that certificate, while .port stays plain (a "notls:"
    listener), so that a test reads back through it what the module wrote over TLS. extra_args
    go to memcached as they are (-I 4k: a smaller largest item)."""

    name = "memcached"

    def __init__(self, log_dir, port=None, tls=None, extra_args=()):
        super().__init__(log_dir, port)
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.extra_args = list(extra_args)

    def argv(self):
        argv = [paths.which("memcached"), "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                "-u", "nobody", "-m", "16", "-c", "256", "-vv"]
        if self.tls:
            ca, crt, key = self.tls
            argv[1:3] = ["-l", "notls:127.0.0.1:%d,127.0.0.1:%d" % (self.port, self.tls_port)]
            argv += ["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (crt, key)]
        return argv + self.extra_args

    def ready(self):
        return port_open(self.port) and (not self.tls or port_open(self.tls_port))

    def command(self, data, timeout=2.0):
        """Send raw text protocol bytes, return the answer up to the first END/STORED/ERROR."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            buf = b""
            while not any(buf.endswith(t) for t in (b"END\r\n", b"STORED\r\n", b"ERROR\r\n",
                                                    b"DELETED\r\n", b"NOT_FOUND\r\n")):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf


class Redis(Server):
    """redis-server on 127.0.0.1:.port; with tls=(ca, crt, key) (harness/tls.make_test_ca) also
    on .tls_port over TLS, with that certificate (clients need none), so that a test reads back
    through the plain port what the module wrote over TLS."""

    name = "redis"

    def __init__(self, log_dir, port=None, tls=None):
        super().__init__(log_dir, port)
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.log_paths = (os.path.join(log_dir, "redis.log"),)

    def argv(self):
        argv = [paths.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.log_dir,
                "--logfile", os.path.join(self.log_dir, "redis.log"), "--daemonize", "no",
                "--protected-mode", "no"]
        if self.tls:
            ca, crt, key = self.tls
            argv += ["--tls-port", str(self.tls_port), "--tls-cert-file", crt,
                     "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
                     "--tls-replication", "yes"]
        return argv

    def ready(self):
        return port_open(self.port) and (not self.tls or port_open(self.tls_port))

    def command(self, *args, timeout=2.0):
        """Send one RESP command, return the raw reply."""
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(out)
            buf = b""
            while not buf.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf


# --- MariaDB ---------------------------------------------------------------------------------

MARIADB_OPTS = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"]


def mariadb_install_template(dest, log_dir):
    """mariadb-install-db into dest (once per session; instances copy it)."""
    rc, out = run([paths.which("mariadb-install-db"), "--no-defaults", "--datadir=%s" % dest,
                   "--user=root", "--auth-root-authentication-method=normal",
                   "--skip-test-db"] + MARIADB_OPTS, timeout=120)
    with open(os.path.join(log_dir, "mariadb-install-db.log"), "w") as f:
        f.write(out)
    if rc != 0:
        raise RuntimeError("mariadb-install-db failed (%d):\n%s" % (rc, out[-4000:]))
    return dest


class MariaDB(Server):
    """mariadbd --no-defaults on 127.0.0.1:port with a copy of the template data directory.
    stop() / start() keep the port and the data; user root, no password, over TCP.

    server_id=N switches the binary log on (mysql-bin.* in the data directory, binlog_format
    ROW) with that server id, for replication; extra_args are appended to the command line."""

    name = "mariadb"

    def __init__(self, log_dir, template, port=None, server_id=None, extra_args=()):
        super().__init__(log_dir, port)
        self.tmp = tempfile.mkdtemp(prefix="lf-mariadb-")
        self.datadir = os.path.join(self.tmp, "data")
        shutil.copytree(template, self.datadir, symlinks=True)
        self.socket = os.path.join(self.tmp, "mysqld.sock")
        self.server_id = server_id
        self.extra_args = list(extra_args)
        self.log_paths = (os.path.join(log_dir, "mariadb.err"),)

    def argv(self):
        if self.server_id is None:
            binlog = ["--skip-log-bin"]
        else:
            binlog = ["--log-bin=%s" % os.path.join(self.datadir, "mysql-bin"),
                      "--server-id=%d" % self.server_id, "--binlog-format=ROW"]
        return [paths.which("mariadbd"), "--no-defaults", "--datadir=%s" % self.datadir,
                "--socket=%s" % self.socket, "--port=%d" % self.port,
                "--bind-address=127.0.0.1", "--user=root",
                "--pid-file=%s" % os.path.join(self.tmp, "mariadbd.pid"),
                "--log-error=%s" % os.path.join(self.log_dir, "mariadb.err"),
                "--skip-name-resolve", "--max-connect-errors=1000000",
                "--max-connections=200"] + binlog + MARIADB_OPTS + self.extra_args

    def ready(self):
        # the port opens a little before the server accepts logins
        return port_open(self.port) and self.query("SELECT 1", timeout=5)[0] == 0

    def query(self, sql, timeout=10):
        """Run sql with the mariadb client over TCP: (exit code, output)."""
        return run([paths.which("mariadb"), "--no-defaults", "-h", "127.0.0.1",
                    "-P", str(self.port), "-uroot", "--batch", "--skip-column-names",
                    "-e", sql], timeout=timeout)

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- HAProxy ---------------------------------------------------------------------------------

def haproxy_admin(sock, cmd, timeout=2.0):
    """One command on HAProxy's stats socket (a unix socket path); its whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(cmd.encode() + b"\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.decode(errors="replace")


def haproxy_stats(sock):
    """`show stat` as a list of dicts (keys: pxname, svname, status, stot, ereq, ...)."""
    text = haproxy_admin(sock, "show stat").lstrip("# ")
    return list(csv.DictReader(io.StringIO(text)))


class _HAProxyDaemon(Server):
    """haproxy -db on its configuration file cfg_path, with an admin stats socket at sock."""

    def argv(self):
        return [paths.which("haproxy"), "-db", "-f", self.cfg_path]

    def ready(self):
        # ask the stats socket, not the frontend: a bare connect counts as a client there
        if not os.path.exists(self.sock):
            return False
        try:
            return "Name: HAProxy" in self.admin("show info")
        except OSError:
            return False

    def admin(self, cmd, timeout=2.0):
        return haproxy_admin(self.sock, cmd, timeout)

    def stats(self):
        """`show stat` as a list of dicts (keys: pxname, svname, status, stot, ...)."""
        return haproxy_stats(self.sock)


class HAProxy(_HAProxyDaemon):
    """HAProxy in front of a list of (name, port) backends with an HTTP health check.
    The stats socket (level admin) answers `show stat` for the server states."""

    name = "haproxy"

    def __init__(self, log_dir, servers, check_path="/health/ready", inter="1s", fall=2,
                 rise=2, extra_backend=""):
        super().__init__(log_dir)
        self.servers = list(servers)
        self.tmp = tempfile.mkdtemp(prefix="lf-haproxy-")
        self.sock = os.path.join(self.tmp, "stats.sock")
        self.cfg_path = os.path.join(log_dir, "haproxy.cfg")
        lines = [
            "global",
            "    log stdout format raw local0 info",
            "    stats socket %s mode 600 level admin" % self.sock,
            "    maxconn 2000",
            "defaults",
            "    mode http",
            "    log global",
            "    option httplog",
            "    option dontlog-normal",   # log only what went wrong (and keep logs small)
            "    timeout connect 2s",
            "    timeout client 30s",
            "    timeout server 30s",
            "    timeout check 2s",
            "    retries 2",
            "    option redispatch",
            "frontend fe",
            "    bind 127.0.0.1:%d" % self.port,
            "    default_backend be",
            "backend be",
            "    balance roundrobin",
            "    option httpchk",
            "    http-check send meth GET uri %s ver HTTP/1.1 hdr Host 127.0.0.1" % check_path,
            "    http-check expect status 200",
            "    default-server inter %s fall %d rise %d" % (inter, fall, rise),
        ]
        for name, port in self.servers:
            lines.append("    server %s 127.0.0.1:%d check" % (name, port))
        if extra_backend:
            lines.append(extra_backend)
        with open(self.cfg_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def server(self, name):
        for row in self.stats():
            if row["pxname"] == "be" and row["svname"] == name:
                return row
        raise KeyError(name)

    def status(self, name):
        """'UP', 'DOWN', 'UP 1/2' (going down), 'DOWN 1/2' (coming up), 'MAINT', ..."""
        return self.server(name)["status"]

    def wait_status(self, name, status, timeout=15):
        return wait_until(lambda: self.status(name) == status, timeout, 0.05,
                          what="haproxy server %s %s" % (name, status))

    def log_lines(self):
        """HAProxy's request log (it logs to stdout)."""
        with open(self.process.stdout_path, errors="replace") as f:
            return f.read().splitlines()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- a dependency that hangs -----------------------------------------------------------------

class HangServer(ThreadServer):
    """Listens on 127.0.0.1 (on port, or a free one), accepts every connection and never sends
    nor closes (until stop): to a TLS client, a server that never finishes the handshake."""

    name = "hang"
    backlog = 256

    def __init__(self, port=0):
        super().__init__(port)
        self.conns = []
        self.accepted = 0

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def handle(self, conn, addr):
        self.greet(conn)
        self.conns.append(conn)
        self.accepted += 1

    def greet(self, conn):
        """What the server says on a new connection: nothing, here."""

    def stop(self):
        super().stop()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


class ScriptedServer(HangServer):
    """Listens on 127.0.0.1 and sends fixed bytes to every connection, then keeps it open
    (e.g. a MySQL error packet in place of the greeting)."""

    def __init__(self, data, port=0):
        super().__init__(port)
        self.data = data

    def greet(self, conn):
        try:
            conn.sendall(self.data)
        except OSError:
            pass


def mysql_error_packet(code, message, seq=0):
    """A MySQL protocol error packet as a server sends it in place of the greeting."""
    payload = b"\xff" + code.to_bytes(2, "little") + message.encode()
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


class _Front(_HAProxyDaemon):
    """HAProxy relaying 127.0.0.1:.port to a backend port on 127.0.0.1, with a stats socket:
    relayed() says how many bytes it passed on to the backend."""

    mode = "tcp"

    def __init__(self, log_dir, backend_port, port=None):
        super().__init__(log_dir, port)
        self.backend_port = backend_port
        self.tmp = self.sock = None     # while it runs: a unix socket path must be short
        self.cfg_path = os.path.join(log_dir, "%s.cfg" % self.name)

    def bind(self):
        return "bind 127.0.0.1:%d" % self.port

    def write_config(self):
        with open(self.cfg_path, "w") as f:
            f.write("\n".join([
                "global", "    maxconn 2000", "    log stdout format raw local0 info",
                "    stats socket %s mode 600 level admin" % self.sock,
                "defaults", "    mode %s" % self.mode, "    log global",
                "    option %slog" % self.mode, "    timeout connect 2s",
                "    timeout client 30s", "    timeout server 30s",
                "frontend fe", "    " + self.bind(), "    default_backend be",
                "backend be", "    server b 127.0.0.1:%d" % self.backend_port, ""]))

    def prepare(self):
        self.tmp = tempfile.mkdtemp(prefix="lf-front-")
        self.sock = os.path.join(self.tmp, "stats.sock")
        self.write_config()

    def relayed(self):
        """Bytes passed on from clients to the backend. (Not its connections: in TCP mode
        HAProxy may connect to the backend as soon as a handshake is done, also when the client
        then refuses the certificate's name and sends nothing.)"""
        row = next(r for r in self.stats() if r["pxname"] == "be" and r["svname"] == "b")
        return int(row["bin"])

    def stop(self):
        super().stop()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class TlsFront(_Front):
    """HAProxy terminating TLS in front of a plain backend on 127.0.0.1 (TCP mode: the bytes,
    the Host header too, pass unchanged, so SigV4 signatures stay valid): https://127.0.0.1:.port
    with a certificate from harness/tls.make_test_ca() or tls.make_cert() (expired, for another
    name, self-signed: fronts a client must refuse). relayed() counts the bytes that reached
    the backend."""

    name = "haproxy-tls"

    def __init__(self, log_dir, backend_port, crt, key, port=None):
        super().__init__(log_dir, backend_port, port)
        self.pem = os.path.join(log_dir, "tls-front.pem")
        with open(self.pem, "w") as out:
            for part in (crt, key):
                with open(part) as f:
                    out.write(f.read())

    def bind(self):
        return "bind 127.0.0.1:%d ssl crt %s" % (self.port, self.pem)

    @property
    def endpoint(self):
        return "https://127.0.0.1:%d" % self.port


class PlainFront(_Front):
    """HAProxy in HTTP mode, without TLS, in front of a backend: a plain web server where a
    client expects TLS. Like any web server it answers bytes that are not HTTP (a TLS
    ClientHello) with 400 and closes; `show errors` (errors()) keeps the bytes it refused, and
    relayed() counts the bytes of requests that reached the backend."""

    name = "haproxy-plain"
    mode = "http"

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def errors(self):
        """`show errors`: the last request the frontend refused, in HAProxy's escaped dump."""
        return self.admin("show errors")
