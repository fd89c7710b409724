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


def _tcp_sockets():
    """(local port, remote port, inode) of every TCP socket of the machine."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                rows = [line.split() for line in f]
        except OSError:
            continue
        for cols in rows:
            if cols[9] != "0":
                yield (int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16),
                       cols[9])


def _owner(inodes, pids):
    """The pid among pids that has one of the sockets (inodes) open, or None."""
    want = {"socket:[%s]" % i for i in inodes}
    for pid in pids if want else ():
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


def connection_owner(server_port, client_port, pids):
    """The pid among pids that holds the server's end of the TCP connection from client_port
    (a test's socket) to server_port, or None. (socket_owner() would also find the listener,
    which every child holds.)"""
    return _owner({i for local, remote, i in _tcp_sockets()
                   if local == server_port and remote == client_port}, pids)


def socket_owner(local_port, pids):
    """The pid among pids that has a TCP socket bound to local_port open, or None."""
    return _owner({i for local, _, i in _tcp_sockets() if local == local_port}, pids)
