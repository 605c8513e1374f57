"""A process posing as a delivery agent on queue.sock (test_queue_agents.py runs
it under each account of the suite): sends QUEUE_AGENT_HELLO, then reports on
stdout what queued did within the time given: `closed` (refused), `job`
(queued handed it a message) or `open` (neither).

With key:HEX (the run's agent key) it is a real agent that answers its first
job with a malformed QUEUE_JOB_RES: "delivered", then bytes after the last
field; it reports `job` and then what queued did about the answer.

usage: rogue_agent.py SOCKET none|wrong|empty|key:HEX SECONDS"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternipc as ipc  # noqa: E402

QUEUE_AGENT_HELLO, QUEUE_JOB, QUEUE_JOB_RES = 205, 206, 207


def answer_with_trailing_bytes(c, job):
    """'delivered' for the job's first recipient, then one field too many."""
    qid, rcpt_idx = job.fields[0][1], job.fields[7][1]
    res = ipc.Msg(QUEUE_JOB_RES, 0).str(qid).u32(1).u32(rcpt_idx).u32(0)  # QR_DELIVERED
    c.send(res.str("2.0.0").str("delivered").u32(0))


def main():
    path, kind, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    hello = ipc.Msg(QUEUE_AGENT_HELLO, 0).u32(0)      # QT_LOCAL
    if kind == "wrong":
        hello.bytes(os.urandom(32))
    elif kind == "empty":
        hello.bytes(b"")
    elif kind.startswith("key:"):
        hello.bytes(bytes.fromhex(kind[4:]))
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
        if kind.startswith("key:") and m.type == QUEUE_JOB:
            answer_with_trailing_bytes(c, m)
            try:
                print("closed" if c.recv() is None else "open", flush=True)
            except socket.timeout:
                print("open", flush=True)
            except ConnectionResetError:
                print("closed", flush=True)


if __name__ == "__main__":
    main()
