"""A process posing as a delivery agent on queue.sock (test_queue_agents.py runs
it under each account of the suite): sends QUEUE_AGENT_HELLO, then reports on
stdout what queued did within the time given: `closed` (refused), `job`
(queued handed it a message) or `open` (neither).

usage: rogue_agent.py SOCKET none|wrong|empty SECONDS"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternipc as ipc  # noqa: E402

QUEUE_AGENT_HELLO, QUEUE_JOB = 205, 206


def main():
    path, kind, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    hello = ipc.Msg(QUEUE_AGENT_HELLO, 0).u32(0)      # QT_LOCAL
    if kind == "wrong":
        hello.bytes(os.urandom(32))
    elif kind == "empty":
        hello.bytes(b"")
    c = ipc.Conn(s)
    c.send(hello)
    s.settimeout(secs)
    print("ready", flush=True)
    try:
        m = c.recv()
    except socket.timeout:
        m = "open"
    except ConnectionResetError:
        m = None
    if m is None:
        print("closed", flush=True)
    elif m == "open":
        print("open", flush=True)
    else:
        print("job" if m.type == QUEUE_JOB else f"type {m.type}", flush=True)


if __name__ == "__main__":
    main()
