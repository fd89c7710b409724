"""Which process of a server holds a given TCP connection (Linux /proc)."""
import os


def pids_in_group(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getpgid(int(d)) == pgid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def _inodes_with_local_port(port):
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    local = cols[1]
                    if int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            pass
    inodes.discard("0")
    return inodes


def _inodes_of_connection(local_port, remote_port):
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if (int(cols[1].rsplit(":", 1)[1], 16) == local_port
                            and int(cols[2].rsplit(":", 1)[1], 16) == remote_port):
                        inodes.add(cols[9])
        except OSError:
            pass
    inodes.discard("0")
    return inodes


def connection_owner(server_port, client_port, pids):
    """The pid among pids that holds the server's end of the TCP connection from client_port
    (a test's socket) to server_port, or None. (socket_owner() would also find the listener,
    which every child holds.)"""
    want = {"socket:[%s]" % i for i in _inodes_of_connection(server_port, client_port)}
    for pid in pids if want else ():
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in want:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


def socket_owner(local_port, pids):
    """The pid among pids that has a TCP socket bound to local_port open, or None."""
    inodes = _inodes_with_local_port(local_port)
    if not inodes:
        return None
    want = {"socket:[%s]" % i for i in inodes}
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(os.path.join(fd_dir, fd)) in want:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None
