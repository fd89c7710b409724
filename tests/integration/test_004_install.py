"""`make install` as an operator runs it: into a staging root (DESTDIR) for both httpd layouts,
then, for Debian, enabled with the real a2enmod in a copy of /etc/apache2 and checked with the
real `apache2 -t`. mod_session_kv is a mod_session provider: a2enmod must enable mod_session
first (the .load file's "# Depends:" line), or httpd refuses to load it (undefined symbol)."""
import glob
import os
import re
import shutil
import subprocess

import pytest

from harness.paths import REPO

MODULES = ("health", "s3", "session_kv", "cloudwatch")


def make_install(destdir, layout, *extra):
    r = subprocess.run(["make", "--no-print-directory", "-C", REPO, "install", "DESTDIR=" + destdir,
                        "LAYOUT=" + layout] + list(extra), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


@pytest.mark.skipif(not (os.path.exists("/usr/sbin/a2enmod") and os.path.isdir("/etc/apache2")),
                    reason="Debian's apache2 layout (a2enmod, /etc/apache2) is not installed")
def test_debian_layout_enables_with_a2enmod_and_passes_apache2_t(tmp_path):
    stage = str(tmp_path / "stage")
    out = make_install(stage, "debian")
    avail = os.path.join(stage, "etc/apache2/mods-available")
    for m in MODULES:
        assert "wrote %s/%s.load" % (avail, m) in out
        assert os.path.exists(os.path.join(stage, "usr/lib/apache2/modules/mod_%s.so" % m))
    with open(os.path.join(avail, "session_kv.load")) as f:
        assert "# Depends: session\n" in f.read()
    # the PHP side of mod_session_kv, where docs/mod_session_kv.md requires it from
    handler = os.path.join(stage, "usr/share/lampfarm/php/LampfarmSessionHandler.php")
    with open(handler) as f, open(os.path.join(REPO, "php/LampfarmSessionHandler.php")) as g:
        assert f.read() == g.read()

    # a copy of the machine's configuration with the staged files; their LoadModule lines name
    # the real install path, so point them at the staged modules
    conf = str(tmp_path / "apache2")
    shutil.copytree("/etc/apache2", conf, symlinks=True)
    for path in glob.glob(os.path.join(avail, "*")):
        with open(path) as f:
            text = re.sub(r"(LoadModule \S+ )(/usr/lib/)", r"\1%s\2" % stage, f.read())
        with open(os.path.join(conf, "mods-available", os.path.basename(path)), "w") as f:
            f.write(text)
    for name in os.listdir(os.path.join(conf, "mods-enabled")):
        if name.startswith("session"):
            os.unlink(os.path.join(conf, "mods-enabled", name))
    env = dict(os.environ, APACHE_CONFDIR=conf)
    r = subprocess.run(["a2enmod", "-q"] + list(MODULES), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    enabled = os.listdir(os.path.join(conf, "mods-enabled"))
    assert "session.load" in enabled and "session_kv.load" in enabled

    run = tmp_path / "run"
    run.mkdir()
    env.update(APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
               APACHE_PID_FILE=str(run / "apache2.pid"), APACHE_RUN_DIR=str(run),
               APACHE_LOCK_DIR=str(run), APACHE_LOG_DIR=str(run))
    r = subprocess.run(["apache2", "-t", "-d", conf, "-f", os.path.join(conf, "apache2.conf")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Syntax OK" in r.stderr, r.stderr


def test_rhel_layout_loads_mod_session_for_session_kv(tmp_path):
    stage = str(tmp_path / "stage")
    make_install(stage, "rhel", "SYSCONFDIR=/etc/httpd/conf")
    d = os.path.join(stage, "etc/httpd")
    for m in MODULES:
        assert os.path.exists(os.path.join(d, "conf.modules.d/10-lampfarm-%s.conf" % m))
        assert os.path.exists(os.path.join(d, "conf.d/lampfarm-%s.conf" % m))
    with open(os.path.join(d, "conf.modules.d/10-lampfarm-session_kv.conf")) as f:
        text = f.read()
    # mod_session first (unless the distribution's 01-session.conf loaded it), then ours
    assert text.index("<IfModule !session_module>\n    LoadModule session_module "
                      "modules/mod_session.so\n</IfModule>\n") < text.index(
                          "LoadModule session_kv_module ")
