"""The SES SMTP stand-in and a private Postfix instance, for the ses-relay tests.

SmtpSink is a hand-written stand-in for the SES SMTP endpoint: nothing that behaves like SES
(STARTTLS required, then AUTH with an access key id and the derived password) exists locally, and
Debian's SMTP servers would need a whole SASL setup to check one user. It runs as a thread in the
test process on 127.0.0.1 (standard library only: socketserver + ssl), offers STARTTLS with a
certificate from a test CA (harness/tls.py), offers AUTH PLAIN and LOGIN only after
STARTTLS, answers AUTH with 235 for the one user/password it knows and with SES's
"535 Authentication Credentials Invalid" otherwise, refuses MAIL before AUTH (530), and records
every accepted message (.messages: dicts with mail_from, rcpt_to, data, user, tls).

Postfix is Debian's postfix run as a second instance from its own configuration directory
(`postfix -c DIR start-fg`): its own configuration, queue and data directories in a temporary
directory (copied to the test's log directory at stop), maillog_file there, no listener at all (mail is submitted with `sendmail -C DIR`), no chroot, and host
names looked up in /etc/hosts (smtp_host_lookup = native) so [localhost]:PORT reaches the sink.
"""
import base64
import os
import re
import shutil
import socketserver
import ssl
import tempfile
import threading

from .proc import Daemon, run, wait_until
from .threadserver import ThreadServer


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def setup(self):
        super().setup()
        self.tls = False
        self.user = None

    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        sink = self.server.sink
        self.send("220 %s ESMTP lampfarm SES stand-in" % sink.hostname)
        mail_from, rcpt = None, []
        try:
            while True:
                line = self.readline()
                sink.log.append(("C", re.sub(r"^(AUTH \S+) .*", r"\1 ...", line)))
                cmd = line.split(" ", 1)[0].upper()
                arg = line[len(cmd):].strip()
                if cmd in ("EHLO", "HELO"):
                    caps = ["%s" % sink.hostname, "8BITMIME", "SIZE 10485760"]
                    if not self.tls:
                        caps.append("STARTTLS")
                    else:
                        caps.append("AUTH PLAIN LOGIN")
                    for c in caps[:-1]:
                        self.send("250-" + c)
                    self.send("250 " + caps[-1])
                elif cmd == "STARTTLS" and not self.tls:
                    self.send("220 Ready to start TLS")
                    self.wfile.flush()
                    conn = sink.context.wrap_socket(self.connection, server_side=True)
                    self.connection = self.request = conn
                    self.rfile = conn.makefile("rb")
                    self.wfile = conn.makefile("wb")
                    self.tls = True
                    self.user = None
                elif cmd == "AUTH":
                    if not self.tls:
                        self.send("530 Must issue a STARTTLS command first")
                        continue
                    self._auth(arg)
                elif cmd == "MAIL":
                    if not self.tls:
                        self.send("530 Must issue a STARTTLS command first")
                    elif self.user is None:
                        self.send("530 Authentication required")
                    else:
                        mail_from = arg.split(":", 1)[1].strip().split()[0].strip("<>")
                        rcpt = []
                        self.send("250 Ok")
                elif cmd == "RCPT":
                    if mail_from is None:
                        self.send("503 Error: need MAIL command")
                        continue
                    rcpt.append(arg.split(":", 1)[1].strip().split()[0].strip("<>"))
                    self.send("250 Ok")
                elif cmd == "DATA":
                    if not rcpt:
                        self.send("503 Error: need RCPT command")
                        continue
                    self.send("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        d = self.readline()
                        if d == ".":
                            break
                        lines.append(d[1:] if d.startswith("..") else d)
                    with sink.lock:
                        sink.messages.append({"mail_from": mail_from, "rcpt_to": list(rcpt),
                                              "data": "\r\n".join(lines) + "\r\n",
                                              "user": self.user, "tls": self.tls})
                    self.send("250 Ok: queued as lf%04d" % len(sink.messages))
                    mail_from, rcpt = None, []
                elif cmd == "RSET":
                    mail_from, rcpt = None, []
                    self.send("250 Ok")
                elif cmd == "NOOP":
                    self.send("250 Ok")
                elif cmd == "QUIT":
                    self.send("221 Bye")
                    return
                else:
                    self.send("502 Command not implemented")
        except (EOFError, OSError, ssl.SSLError):
            return

    def _auth(self, arg):
        sink = self.server.sink
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        try:
            if mech == "PLAIN":
                blob = parts[1] if len(parts) > 1 else None
                if blob is None:
                    self.send("334 ")
                    blob = self.readline()
                _, user, password = base64.b64decode(blob).decode().split("\0", 2)
            elif mech == "LOGIN":
                if len(parts) > 1:
                    user = base64.b64decode(parts[1]).decode()
                else:
                    self.send("334 " + base64.b64encode(b"Username:").decode())
                    user = base64.b64decode(self.readline()).decode()
                self.send("334 " + base64.b64encode(b"Password:").decode())
                password = base64.b64decode(self.readline()).decode()
            else:
                self.send("504 Unrecognized authentication type")
                return
        except (ValueError, UnicodeDecodeError):
            self.send("501 Cannot decode response")
            return
        ok = (user, password) == (sink.user, sink.password)
        sink.auths.append({"mechanism": mech, "user": user, "ok": ok})
        if ok:
            self.user = user
            self.send("235 Authentication successful.")
        else:
            self.send("535 Authentication Credentials Invalid")


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True


class SmtpSink(ThreadServer):
    """The SES SMTP stand-in on 127.0.0.1:.port (see the module docstring)."""

    name = "smtp-sink"

    def __init__(self, cert, key, user, password, hostname="localhost"):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.user = user
        self.password = password
        self.hostname = hostname
        self.messages = []
        self.auths = []
        self.log = []
        self.lock = threading.Lock()
        # the SMTP server only serves the connections ThreadServer accepts
        self.smtp = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self.smtp.socket.close()     # a socket of its own it never uses
        self.smtp.sink = self
        super().__init__()

    def handle(self, conn, addr):
        self.smtp.process_request(conn, addr)


_MAIN_CF = """# a private Postfix instance for the lampfarm tests (harness/smtp.py)
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = lf-test.localdomain
mydomain = localdomain
myorigin = $myhostname
mydestination =
local_transport = error:local delivery is disabled in this instance
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
smtp_host_lookup = native
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
maximal_backoff_time = 10s
minimal_backoff_time = 5s
queue_run_delay = 5s
"""


class Postfix(Daemon):
    """Postfix as a second instance: .config_dir (main.cf, master.cf), .maillog, started with
    `postfix -c DIR start-fg` and stopped by PID."""

    name = "postfix"
    start_timeout = 30

    def __init__(self, log_dir):
        super().__init__(log_dir)
        # under /tmp, not the log directory: the queue's unix sockets need a path shorter than
        # 108 bytes; the mail log and the configuration are copied to log_dir/postfix at stop
        self.dir = tempfile.mkdtemp(prefix="lf-pf-")
        os.chmod(self.dir, 0o755)
        self.config_dir = os.path.join(self.dir, "conf")
        self.maillog = os.path.join(self.dir, "maillog")
        self.log_paths = (self.maillog,)

    def setup(self):
        os.makedirs(self.config_dir, exist_ok=True)
        for sub in ("queue", "data"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write(_MAIN_CF.format(d=self.dir))
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if fields[:2] == ["smtp", "inet"]:
                    line = "#" + line          # no listener: mail comes in through sendmail
                elif len(fields) >= 8 and not line.startswith((" ", "\t", "#")) \
                        and fields[4] == "y":
                    fields[4] = "n"            # no chroot (the private queue has no copy of /etc)
                    line = "  ".join(fields) + "\n"
                out.append(line)
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.writelines(out)
        return self

    def postconf(self, *args):
        rc, out = run(["postconf", "-c", self.config_dir] + list(args))
        if rc != 0:
            raise RuntimeError("postconf %s: %s" % (args, out))
        return out

    def prepare(self):
        if not os.path.exists(os.path.join(self.config_dir, "main.cf")):
            self.setup()
        rc, out = run(["postfix", "-c", self.config_dir, "check"])
        if rc != 0:
            raise RuntimeError("postfix check failed:\n%s" % out)

    def argv(self):
        return ["postfix", "-c", self.config_dir, "start-fg"]

    def ready(self):
        """`postfix status`: the master runs (queue/pid/master.pid names it)."""
        rc, _ = run(["postfix", "-c", self.config_dir, "status"])
        return rc == 0

    def log_text(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queue(self):
        rc, out = run(["postqueue", "-c", self.config_dir, "-p"])
        return out

    def stop(self):
        """`postfix stop` (the master leaves start-fg's process group: it signals the PID in its
        pid file), then the start-fg process by PID; a master still there is killed by PID."""
        if self.process is None:
            return
        run(["postfix", "-c", self.config_dir, "stop"], timeout=30)
        pidfile = os.path.join(self.dir, "queue", "pid", "master.pid")
        try:
            wait_until(lambda: not self.ready(), 15, interval=0.2, what="postfix to stop")
        except TimeoutError:
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read().split()[0]), 9)
            except (OSError, ValueError, IndexError):
                pass
        super().stop()
        self.process = None
        keep = os.path.join(self.log_dir, "postfix")
        os.makedirs(keep, exist_ok=True)
        for f in (self.maillog, os.path.join(self.config_dir, "main.cf")):
            if os.path.exists(f):
                shutil.copy(f, keep)
        shutil.rmtree(self.dir, ignore_errors=True)
