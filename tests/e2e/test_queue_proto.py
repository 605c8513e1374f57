"""queue.sock spoken directly (common/queue_proto.h): the enqueue contract and
bad input. A malformed or unexpected message closes that connection only;
queued keeps serving everyone else."""
import os
import socket

import pytest

import ternipc as ipc
from queue_env import QueueEnv

QUEUE_AGENT_HELLO, QUEUE_JOB, QUEUE_JOB_RES, QUEUE_ADMIN_REQ, QUEUE_ADMIN_RES = 205, 206, 207, 208, 209


@pytest.fixture
def env(tmp_parent):
    e = QueueEnv(tmp_parent)
    e.add_user("alice@example.test")
    e.start()
    yield e
    e.stop()


def connect(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(env.path("run", "queue.sock"))
    return ipc.Conn(s)


def new_file(c, mid=1):
    c.send(ipc.Msg(ipc.QUEUE_NEW_REQ, mid))
    r = c.recv()
    assert r.type == ipc.QUEUE_NEW_RES and r.id == mid and r.u32() == ipc.QS_OK
    qid = r.str()
    assert len(qid) == 16 and r.fd is not None
    return qid, r.fd


def commit(c, qid, rcpts, mid=2, sender="bob@example.test"):
    m = ipc.Msg(ipc.QUEUE_COMMIT_REQ, mid).str(qid).str(sender).u32(0).str("").u32(0)
    m.str("test client").str("").u32(len(rcpts))
    for a in rcpts:
        m.str(a).u32(0).str("")
    c.send(m)
    r = c.recv()
    assert r.type == ipc.QUEUE_COMMIT_RES and r.id == mid
    return r.u32(), r.str(), r.str()


def test_enqueue_contract(env):
    c = connect(env)
    qid, fd = new_file(c)
    os.write(fd, b"Subject: direct\r\n\r\nvia queue.sock\r\n")
    os.close(fd)
    st, rid, _ = commit(c, qid, ["alice@example.test"])
    assert st == ipc.QS_OK and rid == qid
    [p] = env.wait_mail("alice@example.test")
    with open(p, "rb") as f:
        assert f.read().endswith(b"Subject: direct\n\nvia queue.sock\n")
    # Committing the same id again, or an id this connection never got: refused.
    st, _, _ = commit(c, qid, ["alice@example.test"], mid=3)
    assert st == ipc.QS_TEMPFAIL
    st, _, _ = commit(c, "0123456789ABCDEF", ["alice@example.test"], mid=4)
    assert st == ipc.QS_TEMPFAIL


def test_abort_and_disconnect_leave_nothing(env):
    c = connect(env)
    qid, fd = new_file(c)
    os.write(fd, b"half a mess")
    os.close(fd)
    c.send(ipc.Msg(ipc.QUEUE_ABORT_REQ, 2).str(qid))
    qid2, fd2 = new_file(c, mid=3)
    os.close(fd2)
    c.sock.close()		# uncommitted file of a closed connection: removed
    env.wait_log(f"{qid}: enqueue aborted by the client")
    from conftest import wait_for
    assert wait_for(lambda: os.listdir(env.path("spool", "incoming")) == [], 10)
    assert env.queue_list() == []


@pytest.mark.parametrize("frame", [
    b"\x00\x00\x00\x05\x00\xca\x01\x00\x00\x00\x00\x01garba",        # fields that do not parse
    ipc.Msg(ipc.QUEUE_COMMIT_REQ, 1).str("x").encode(),              # commit missing fields
    ipc.Msg(QUEUE_JOB_RES, 1).str("0123456789ABCDEF").u32(0).encode(),  # not an agent
    ipc.Msg(999, 1).encode(),                                        # unknown type
    b"\x7f\xff\xff\xff\x00\xc8\x01\x00\x00\x00\x00\x01",             # oversized frame
    b"\x00\x00\x00\x00\x00\xc8\x09\x00\x00\x00\x00\x01",             # wrong version
])
def test_bad_input_closes_only_that_connection(env, frame):
    c = connect(env)
    c.sock.sendall(frame)
    r = c.recv()
    # At most a refusal for a malformed commit, then the connection is closed.
    while r is not None:
        assert r.type == ipc.QUEUE_COMMIT_RES and r.u32() == ipc.QS_REJECT
        r = c.recv()
    # queued still serves.
    c2 = connect(env)
    qid, fd = new_file(c2)
    os.write(fd, b"Subject: still here\r\n\r\nok\r\n")
    os.close(fd)
    assert commit(c2, qid, ["alice@example.test"])[0] == ipc.QS_OK
    env.wait_mail("alice@example.test")


def test_long_admin_answer_comes_in_several_frames(env):
    """A list longer than one IPC frame (256 KiB) arrives whole."""
    env.ctl("queue", "pause")
    c = connect(env)
    rcpts = [f"recipient-number-{k:04d}@example.test" for k in range(900)]
    ids = []
    for i in range(12):
        qid, fd = new_file(c, mid=10 + 2 * i)
        os.write(fd, b"Subject: many\r\n\r\nx\r\n")
        os.close(fd)
        assert commit(c, qid, rcpts, mid=11 + 2 * i)[0] == ipc.QS_OK
        ids.append(qid)
    lines = env.queue_list()
    assert sorted(l.split()[0] for l in lines) == sorted(ids)
    assert sum(len(l) for l in lines) > 300 * 1024
    assert all(l.split()[4] == ",".join(rcpts) for l in lines)
    env.ctl("queue", "delete", "all")
    env.wait_queue_empty()
