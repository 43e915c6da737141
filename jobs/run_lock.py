#!/usr/bin/env python3
"""One holder per sweep cell: the same lock protocol as croma's run-directory lock
(include/croma/io/run_lock.h), for the launchers that run a cell's train + eval.

The lock is a file made by link(2) from a private temporary file (atomic on NFS, Lustre, GPFS
and local disks; flock/fcntl are not everywhere). It holds the holder's host, pid, process
start time, lease and a random token as JSON. A holder renews its modification time every
lease/4 seconds. A lock is stale when its holder's process on this host is gone, or, for a
holder on another host, when it has not been renewed for its lease (CROMA_LOCK_LEASE_S,
default 120 s); a stale lock is taken over with a warning.

Used by jobs/sweep.py (the local launcher) and, as a command, by jobs/cell.sbatch:
  run_lock.py acquire PATH --pid PID [--wait S]   prints the token; exit 3 when held
  run_lock.py renew PATH TOKEN                    touches the lock if it is still TOKEN's
  run_lock.py release PATH TOKEN                  removes the lock if it is still TOKEN's
"""
import json
import os
import secrets
import socket
import sys
import threading
import time

DEFAULT_LEASE_S = 120.0
HELD_EXIT = 3


class LockHeld(Exception):
    """A live holder has the lock."""


def lease_from_environment():
    text = os.environ.get("CROMA_LOCK_LEASE_S", "")
    if not text:
        return DEFAULT_LEASE_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"CROMA_LOCK_LEASE_S='{text}' is not a positive number of seconds")
    return value


def process_start(pid):
    """Field 22 of /proc/PID/stat: tells a process from a later one given the same pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def pid_alive(pid):
    """Whether the process runs; an exited one not yet reaped (a zombie) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")
    except OSError:
        return True


def read_holder(path):
    """(fields, age in seconds) of the lock at path, or None when there is none."""
    try:
        age = time.time() - os.stat(path).st_mtime
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        fields = json.loads(text)
        if not isinstance(fields, dict):
            fields = {}
    except ValueError:
        fields = {}
    return fields, age


def describe(fields):
    return (f"{fields.get('purpose', 'a croma process')} on host {fields.get('host', '?')}, "
            f"pid {fields.get('pid', 0)}, since {fields.get('started', '?')}")


def staleness(fields, age, host):
    """Why the holder is stale, or '' when it is (or may be) alive."""
    if not fields:
        return f"it is unreadable and has not changed for {round(age)} s" if age > 2 * DEFAULT_LEASE_S else ""
    pid = int(fields.get("pid", 0) or 0)
    if fields.get("host") == host and pid > 0:
        if not pid_alive(pid):
            return f"its process {pid} on this host is gone"
        start, now = fields.get("pid_start", ""), process_start(pid)
        if start and now and start != now:
            return f"its process {pid} on this host is gone (the pid now belongs to another)"
        return ""
    lease = float(fields.get("lease_s", DEFAULT_LEASE_S))
    if age > lease:
        return f"it was last renewed {round(age)} s ago, more than its {round(lease)} s lease (a lost node)"
    return ""


def _try_link(path, content, token):
    mine = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{token}")
    with open(mine, "w") as f:
        f.write(content + "\n")
    try:
        os.link(mine, path)
        made = True
    except FileExistsError:
        made = os.stat(mine).st_nlink == 2  # NFS: a retransmitted link may report EEXIST
    finally:
        os.unlink(mine)
    return made


def _remove_stale(path, judged, token):
    aside = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.stale.{token}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    moved = read_holder(aside)
    same = moved is not None and moved[0] == judged
    if not same:
        try:
            os.link(aside, path)  # a fresh lock was made meanwhile: put it back
        except OSError:
            pass
    os.unlink(aside)
    return same


def acquire(path, purpose, pid=None, wait_s=0.0, lease_s=None, warn=sys.stderr):
    """Makes the lock at path; returns its token. Raises LockHeld naming a live holder."""
    lease_s = lease_from_environment() if lease_s is None else lease_s
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname()
    token = secrets.token_hex(8)
    me = {"purpose": purpose, "host": host, "pid": pid, "pid_start": process_start(pid),
          "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "lease_s": lease_s, "token": token}
    give_up = time.monotonic() + wait_s
    while True:
        if _try_link(path, json.dumps(me), token):
            return token
        holder = read_holder(path)
        if holder is None:
            continue
        fields, age = holder
        why = staleness(fields, age, host)
        if why:
            if _remove_stale(path, fields, token):
                print(f"warning: taking over the lock {path} of {describe(fields)}: {why}", file=warn)
            continue
        if time.monotonic() >= give_up:
            raise LockHeld(f"{path} is held by {describe(fields)}")
        time.sleep(0.5)


def owned(path, token):
    holder = read_holder(path)
    return holder is not None and holder[0].get("token") == token


def renew(path, token):
    if not owned(path, token):
        return False
    os.utime(path)
    return True


def release(path, token):
    if owned(path, token):
        os.unlink(path)


class HeldLock:
    """A lock held by this process, renewed from a thread until released."""

    def __init__(self, path, purpose, wait_s=0.0):
        self.path = path
        self.lease_s = lease_from_environment()
        self.token = acquire(path, purpose, wait_s=wait_s, lease_s=self.lease_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()

    def _renew(self):
        while not self._stop.wait(self.lease_s / 4):
            renew(self.path, self.token)

    def release(self):
        self._stop.set()
        self._thread.join()
        release(self.path, self.token)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def main(argv):
    if len(argv) < 2 or argv[0] not in ("acquire", "renew", "release"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path = argv[0], argv[1]
    try:
        if command == "acquire":
            rest = argv[2:]
            pid, wait_s = os.getppid(), 0.0
            while rest:
                if rest[0] == "--pid" and len(rest) > 1:
                    pid = int(rest[1])
                elif rest[0] == "--wait" and len(rest) > 1:
                    wait_s = float(rest[1])
                else:
                    print(f"run_lock.py: unexpected argument '{rest[0]}'", file=sys.stderr)
                    return 2
                rest = rest[2:]
            print(acquire(path, "a sweep cell (jobs/cell.sbatch)", pid=pid, wait_s=wait_s))
            return 0
        if len(argv) != 3:
            print(f"run_lock.py {command}: usage: {command} PATH TOKEN", file=sys.stderr)
            return 2
        if command == "renew":
            return 0 if renew(path, argv[2]) else 1
        release(path, argv[2])
        return 0
    except LockHeld as e:
        print(f"run_lock.py: {e}", file=sys.stderr)
        return HELD_EXIT
    except (OSError, ValueError) as e:
        print(f"run_lock.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
