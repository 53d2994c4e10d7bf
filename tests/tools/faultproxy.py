#!/usr/bin/env python3
"""faultproxy.py: a TCP proxy for tests that can cut, black-hole and restore the link.

Put it between two daemons (one dials the proxy's listen address, the proxy dials the
target) and steer it over a UNIX control socket. Python 3 standard library only.

Run:
    faultproxy.py --listen 127.0.0.1:7801 --target 127.0.0.1:7701 --control /tmp/fp.sock

It prints `ready` on stdout (flushed) once both the listen port and the control socket
are open, and exits with status 0 on SIGTERM or SIGINT (closing every connection and
removing the control socket).

Control protocol: one command per line on the control socket; each gets one line back.
    cut        close every open connection both ways, at once (with a TCP reset), and
               close each new connection as soon as it is accepted. -> ok
    blackhole  keep connections open but drop every byte both ways; accept new
               connections but forward nothing (the target does not even see them).
               A close on one side is not passed on either. This is a dead link: only
               timeouts (heartbeats) notice it. -> ok
    restore    forward normally again. -> ok
               Connections that lost bytes in a blackhole, or whose other side closed
               meanwhile, are reset then (see --on-restore): unlike a real outage,
               where TCP resends what was lost, their byte streams now have holes.
               Connections that lost nothing go on as if nothing had happened, and
               ones accepted in the blackhole connect to the target now.
    stats      one line of JSON: {"mode": "forward"|"cut"|"blackhole", "accepted",
               "refused" (closed on accept while cut), "open", "bytes_to_target",
               "bytes_to_client", "dropped_to_target", "dropped_to_client", "listen"}
An unknown command gets `error: ...`.

From a shell, send a command with this same script:
    faultproxy.py ctl /tmp/fp.sock blackhole      # prints: ok
    faultproxy.py ctl /tmp/fp.sock stats          # prints the JSON line
`ctl` exits 0 on a reply other than `error: ...`, 1 on an error reply, 2 when the
proxy cannot be reached.

A shell test typically does:
    coproc FP { exec python3 tests/tools/faultproxy.py --listen 127.0.0.1:7801 \\
                --target 127.0.0.1:7701 --control "$dir/fp.sock"; }
    read -r -t 10 line <&"${FP[0]}" && [ "$line" = ready ]
    ...
    kill "$FP_PID"; wait "$FP_PID"
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import stat
import struct
import sys

BUF = 65536
FORWARD, CUT, BLACKHOLE = "forward", "cut", "blackhole"


def hostport(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError("expected HOST:PORT, not %r" % text)
    return host.strip("[]"), int(port)


def reset(writer):
    """Closes a connection at once with a TCP reset, dropping anything unsent."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class Conn:
    def __init__(self, proxy, reader, writer):
        self.proxy = proxy
        self.c_reader, self.c_writer = reader, writer
        self.t_reader = self.t_writer = None
        self.upstream = None      # the task connecting to the target, once started
        self.up_ready = asyncio.Event()
        self.tasks = set()
        self.damaged = False      # lost bytes, or a close, in a blackhole
        self.eof_done = {"to_target": False, "to_client": False}
        self.closed = False

    def spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    def start(self):
        if self.proxy.mode == FORWARD:
            self.connect_upstream()
        self.spawn(self.pump("to_target"))

    def connect_upstream(self):
        if self.upstream is None:
            self.upstream = self.spawn(self._connect())

    async def _connect(self):
        host, port = self.proxy.target
        try:
            self.t_reader, self.t_writer = await asyncio.open_connection(host, port)
        except OSError as e:
            log("cannot connect to %s:%d: %s" % (host, port, e))
            self.abort()
            return
        if self.closed:
            reset(self.t_writer)
            return
        self.up_ready.set()
        self.spawn(self.pump("to_client"))

    async def pump(self, way):
        p = self.proxy
        to_target = way == "to_target"
        src = self.c_reader if to_target else self.t_reader
        try:
            while True:
                data = await src.read(BUF)
                if p.mode == FORWARD and to_target and not self.up_ready.is_set():
                    await self.up_ready.wait()
                dst = self.t_writer if to_target else self.c_writer
                if not data:
                    if p.mode == FORWARD and dst is not None:
                        if dst.can_write_eof():
                            dst.write_eof()
                    elif dst is None:
                        self.abort()  # a client that never reached the target left
                        return
                    else:
                        self.damaged = True  # the close is lost in the blackhole
                    self.eof_done[way] = True
                    if all(self.eof_done.values()):
                        self.close()
                    return
                if p.mode == FORWARD:
                    dst.write(data)
                    p.stats["bytes_" + way] += len(data)
                    await dst.drain()
                else:  # BLACKHOLE (a cut connection is already gone)
                    p.stats["dropped_" + way] += len(data)
                    self.damaged = True
        except (ConnectionError, OSError):
            self.abort()

    def restore(self):
        if self.damaged and self.proxy.on_restore == "reset":
            self.abort()
            return
        self.damaged = False
        if self.upstream is None:
            self.connect_upstream()
        # a close held back in the blackhole is passed on now (--on-restore resume)
        for way, dst in (("to_target", self.t_writer), ("to_client", self.c_writer)):
            if self.eof_done[way] and dst is not None and dst.can_write_eof():
                try:
                    dst.write_eof()
                except (ConnectionError, OSError, RuntimeError):
                    pass

    def _finish(self):
        self.closed = True
        self.proxy.conns.discard(self)
        for t in list(self.tasks):
            if t is not asyncio.current_task():
                t.cancel()

    def abort(self):
        if self.closed:
            return
        self._finish()
        reset(self.c_writer)
        reset(self.t_writer)

    def close(self):
        if self.closed:
            return
        self._finish()
        for w in (self.c_writer, self.t_writer):
            if w is not None:
                w.close()


class Proxy:
    def __init__(self, args):
        self.target = args.target
        self.on_restore = args.on_restore
        self.mode = FORWARD
        self.conns = set()
        self.controls = set()
        self.listen = ""
        self.stats = dict.fromkeys(
            ("accepted", "refused", "bytes_to_target", "bytes_to_client",
             "dropped_to_target", "dropped_to_client"), 0)

    async def on_client(self, reader, writer):
        self.stats["accepted"] += 1
        if self.mode == CUT:
            self.stats["refused"] += 1
            reset(writer)
            return
        conn = Conn(self, reader, writer)
        self.conns.add(conn)
        conn.start()

    def set_mode(self, mode):
        old, self.mode = self.mode, mode
        if mode == CUT:
            for c in list(self.conns):
                c.abort()
        elif mode == FORWARD and old == BLACKHOLE:
            for c in list(self.conns):
                c.restore()

    def command(self, line):
        cmd = line.strip().lower()
        if cmd == "cut":
            self.set_mode(CUT)
        elif cmd == "blackhole":
            self.set_mode(BLACKHOLE)
        elif cmd == "restore":
            self.set_mode(FORWARD)
        elif cmd == "stats":
            s = {"mode": self.mode, "accepted": self.stats["accepted"],
                 "refused": self.stats["refused"], "open": len(self.conns)}
            for k in ("bytes_to_target", "bytes_to_client", "dropped_to_target",
                      "dropped_to_client"):
                s[k] = self.stats[k]
            s["listen"] = self.listen
            return json.dumps(s, separators=(",", ":"))
        else:
            return "error: unknown command %r (cut, blackhole, restore, stats)" % cmd[:40]
        return "ok"

    async def on_control(self, reader, writer):
        self.controls.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                writer.write((self.command(line.decode("utf-8", "replace")) + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.controls.discard(writer)
            writer.close()

    def shutdown(self):
        for c in list(self.conns):
            c.abort()
        for w in list(self.controls):
            w.transport.abort()  # its reader sees EOF and the handler ends


def log(msg):
    print("faultproxy: " + msg, file=sys.stderr, flush=True)


def remove_stale_socket(path):
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


async def serve(args):
    proxy = Proxy(args)
    host, port = args.listen
    server = await asyncio.start_server(proxy.on_client, host, port)
    sa = server.sockets[0].getsockname()
    proxy.listen = "%s:%d" % (sa[0], sa[1])
    remove_stale_socket(args.control)
    control = await asyncio.start_unix_server(proxy.on_control, path=args.control)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        control.close()
        proxy.shutdown()
        remove_stale_socket(args.control)
        await asyncio.sleep(0.05)  # let the handlers finish before asyncio.run cancels them
        try:
            await asyncio.wait_for(server.wait_closed(), 2)
        except asyncio.TimeoutError:
            pass
    return 0


def ctl(argv):
    ap = argparse.ArgumentParser(
        prog="faultproxy.py ctl",
        description="Send one command to a running faultproxy and print its reply.")
    ap.add_argument("control", metavar="PATH", help="the proxy's control socket")
    ap.add_argument("command", metavar="COMMAND", help="cut, blackhole, restore or stats")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    a = ap.parse_args(argv)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(a.timeout)
            s.connect(a.control)
            s.sendall((a.command + "\n").encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError as e:
        print("faultproxy ctl: %s: %s" % (a.control, e), file=sys.stderr)
        return 2
    text = reply.decode("utf-8", "replace").rstrip("\n")
    print(text)
    return 1 if not text or text.startswith("error") else 0


def main(argv):
    if argv[:1] == ["ctl"]:
        return ctl(argv[1:])
    ap = argparse.ArgumentParser(
        prog="faultproxy.py",
        usage="%(prog)s --listen HOST:PORT --target HOST:PORT --control PATH\n"
              "       %(prog)s ctl PATH COMMAND",
        description=__doc__.split("\n", 1)[0],
        epilog=__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, type=hostport, metavar="HOST:PORT",
                    help="where to accept connections (port 0: any; see stats)")
    ap.add_argument("--target", required=True, type=hostport, metavar="HOST:PORT",
                    help="where to forward them")
    ap.add_argument("--control", required=True, metavar="PATH",
                    help="UNIX socket to create for commands")
    ap.add_argument("--on-restore", choices=("reset", "resume"), default="reset",
                    help="what restore does with a connection that lost bytes in a "
                         "blackhole: reset it (default), or resume forwarding, holes "
                         "and all")
    args = ap.parse_args(argv)
    try:
        return asyncio.run(serve(args))
    except OSError as e:
        log(str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
