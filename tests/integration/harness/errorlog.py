"""Error log scanning: lines that fail a test unless the test declared them.

A line is "bad" when it carries a level of warn or worse in httpd's 2.4 format
(`[module:warn]`, `[:error]`, `[core:crit]`, ...), or when it reports a child process that exited
on a signal (`exit signal Segmentation fault (11)`, `... possible coredump`). A bad line is
forgiven when it matches one of the lines the test declared: a declared log id (`LF04010`,
`AH01630`) matches a line that carries exactly that id, any other declared text a line that
contains it. The test's fixtures (tests/integration/conftest.py) fail a test whose required
declarations matched no line.
"""
import re
import time

BAD_LEVEL = re.compile(r"\[[\w.-]*:(warn|error|crit|alert|emerg)\]")
BAD_TEXT = re.compile(r"exit signal|possible coredump|seg(mentation)? ?fault", re.I)
LOG_ID = re.compile(r"\b((?:AH|LF)\d{5})\b")
ID_LIKE = re.compile(r"(?:AH|LF)\d+")    # a declaration in the shape of an id, right or not


def is_bad(line):
    return bool(BAD_LEVEL.search(line) or BAD_TEXT.search(line))


def log_ids(line):
    return LOG_ID.findall(line)


def matches(declared, line):
    """Whether line is the one declared: the same log id, or (text that is no log id) a line
    containing the text. `LF0401` matches no line: no line carries that id."""
    if ID_LIKE.fullmatch(declared):
        return declared in log_ids(line)
    return declared in line


class LogFile:
    """An error log read incrementally: remembers how far it has been scanned."""

    def __init__(self, path):
        self.path = path
        self.scanned = 0    # byte offset already scanned for bad lines

    def read(self, start=0):
        try:
            with open(self.path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def size(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(0, 2)
                return f.tell()
        except FileNotFoundError:
            return 0

    def lines(self, start=0):
        return self.read(start).splitlines()

    def wait_for(self, text, timeout=5.0):
        """The first line holding @text, waiting for it to be written."""
        end = time.monotonic() + timeout
        while True:
            for line in self.lines():
                if text in line:
                    return line
            if time.monotonic() > end:
                raise AssertionError("no line with %r in %s" % (text, self.path))
            time.sleep(0.05)

    def bad_lines(self, expected=(), advance=True, matched=None):
        """Bad lines not yet scanned and not matching any expected declaration (see matches());
        the declarations that matched a line are added to the set matched."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.scanned)
                data = f.read()
        except FileNotFoundError:
            return []
        if advance:
            # only whole lines count as scanned; a half-written last line is seen next time
            data = data[:data.rfind(b"\n") + 1]
            self.scanned += len(data)
        out = []
        for line in data.decode("utf-8", errors="replace").splitlines():
            if not is_bad(line):
                continue
            hits = [e for e in expected if matches(e, line)]
            if not hits:
                out.append(line)
            elif matched is not None:
                matched.update(hits)
        return out
