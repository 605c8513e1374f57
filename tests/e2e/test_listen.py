"""Several `listen` addresses: the master binds each port on every address and
smtpd serves all of them."""
import smtplib

from conftest import port_open


def test_smtpd_serves_every_listen_address(new_instance):
    inst = new_instance()
    inst.init()
    inst.set_conf("tern", "listen", "127.0.0.1, 127.0.0.2")
    inst.start()
    for addr in ("127.0.0.1", "127.0.0.2"):
        assert port_open(inst.port("smtp"), addr)
        with smtplib.SMTP(addr, inst.port("smtp"), timeout=30) as s:
            code, _ = s.ehlo("client.test")
            assert code == 250


def test_pop3d_and_imapd_serve_every_listen_address(new_instance):
    import imaplib
    import poplib
    inst = new_instance()
    inst.init()
    inst.set_conf("tern", "listen", "127.0.0.1, 127.0.0.2")
    inst.start()
    for addr in ("127.0.0.1", "127.0.0.2"):
        p = poplib.POP3(addr, inst.port("pop3"), timeout=30)
        assert p.getwelcome().startswith(b"+OK")
        p.quit()
        m = imaplib.IMAP4(addr, inst.port("imap"), timeout=30)
        assert m.welcome.startswith(b"* OK")
        m.logout()
