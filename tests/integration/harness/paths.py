"""Where things are: the repository, the build directory, the apache2 binary, the log root.

Environment overrides:
  LAMPFARM_BUILD      build directory that holds mod_<x>.so (default <repo>/build)
  LAMPFARM_TEST_LOGS  root of the per-test log directories (default <repo>/build/test-logs)
  LAMPFARM_APACHE2    httpd binary (default /usr/sbin/apache2)
  LAMPFARM_APACHE_MODULES  the distribution's modules (default /usr/lib/apache2/modules)
"""
import os
import re
import shutil
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.path.abspath(os.environ.get("LAMPFARM_BUILD") or os.path.join(REPO, "build"))
LOG_ROOT = os.path.abspath(os.environ.get("LAMPFARM_TEST_LOGS")
                           or os.path.join(REPO, "build", "test-logs"))
APACHE2 = os.environ.get("LAMPFARM_APACHE2") or "/usr/sbin/apache2"
APACHE_MODULES = os.environ.get("LAMPFARM_APACHE_MODULES") or "/usr/lib/apache2/modules"


def module_so(name):
    """Path of our module build/mod_<name>.so."""
    return os.path.join(BUILD, "mod_%s.so" % name)


def safe_name(name):
    """A test name turned into one directory name."""
    name = name.replace("[", "-").replace("]", "").replace("/", "_")
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", name)[:180]


def log_dir(name, clean=True):
    """build/test-logs/<name>/, world-readable (httpd children run as nobody), emptied first."""
    d = os.path.join(LOG_ROOT, safe_name(name))
    if clean and os.path.isdir(d):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)
    make_traversable(d)
    return d


def sub_dir(base, name):
    """base/name, made if missing and reachable by httpd children (nobody): a server's own
    directory below a test's log directory."""
    d = os.path.join(base, name)
    os.makedirs(d, exist_ok=True)
    make_traversable(d)
    return d


def make_traversable(path):
    """chmod 0755 the directory and add o+rx to its parents inside the repository or the temp
    directory, so that httpd children running as nobody can reach files in it."""
    path = os.path.abspath(path)
    os.chmod(path, 0o755)
    roots = [REPO, LOG_ROOT, tempfile.gettempdir()]
    parent = os.path.dirname(path)
    while parent and parent != "/" and any(parent.startswith(r + os.sep) or parent == r
                                           for r in roots):
        st = os.stat(parent)
        if st.st_mode & 0o005 != 0o005:
            os.chmod(parent, st.st_mode | 0o005)
        parent = os.path.dirname(parent)


def which(cmd, *fallbacks):
    for c in (cmd,) + fallbacks:
        p = shutil.which(c) or (c if os.path.isabs(c) and os.access(c, os.X_OK) else None)
        if p:
            return p
    return None
