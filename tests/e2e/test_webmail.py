"""The webmail (httpd/webmail/) end to end: its headers, login session and
CSRF checks over plain HTTP requests, then a real headless Chromium
(Debian's chromium + chromium-driver + python3-selenium) that logs in, reads,
flags (seen by IMAP), moves, searches and logs out, and opens a hostile HTML
message whose script and remote images must do nothing. One instance and
one browser for the module."""
import http.server
import imaplib
import json
import os
import shutil
import ssl
import tempfile
import threading
import time

import pytest

from jmap_harness import JmapInstance
from imap_harness import tls_ctx
from conftest import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def srv():
    inst = JmapInstance()
    yield inst
    inst.close()


def plain(subject, body, to, frm="Alice <alice@remote.test>"):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\n{body}\r\n").encode()


def html(subject, body, to):
    return (f"From: Mallory <mallory@remote.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "Date: Mon, 02 Mar 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/html; charset=utf-8\r\n\r\n{body}\r\n").encode()


def login(srv, user, pw):
    """A webmail login over HTTP: (status, headers, parsed body)."""
    st, h, body = srv.request("POST", "/webmail/login",
                              json.dumps({"username": user, "password": pw}).encode(),
                              {"Content-Type": "application/json"})
    return st, h, json.loads(body or b"{}")


def cookie_of(h):
    return h["set-cookie"].split(";")[0]


# ---- headers, cookie and CSRF, without a browser ----

def policy(h):
    """The Content-Security-Policy header as {directive: [values]}."""
    return {d.split()[0]: d.split()[1:] for d in h["content-security-policy"].split("; ")}


def test_page_and_its_policy(srv):
    st, h, _ = srv.request("GET", "/")
    assert st == 302 and h["location"] == "/webmail/"
    st, h, body = srv.request("GET", "/webmail/")
    assert st == 200 and h["content-type"].startswith("text/html") and b"app.js" in body
    csp = policy(h)
    assert csp["default-src"] == ["'none'"] and csp["script-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    # no inline style and no remote image for the page: those are the
    # message frame's, in its own policy
    assert csp["style-src"] == ["'self'"] and csp["img-src"] == ["'self'"]
    assert h["x-frame-options"] == "DENY"
    for name, img in (("frame.html", ["data:"]), ("frame-images.html", ["data:", "https:"])):
        st, h, body = srv.request("GET", "/webmail/" + name)
        assert st == 200 and h["content-type"].startswith("text/html") and b"<script" not in body
        csp = policy(h)
        assert "script-src" not in csp and csp["default-src"] == ["'none'"], csp
        assert csp["img-src"] == img and csp["style-src"] == ["'unsafe-inline'"], csp
        assert csp["frame-ancestors"] == ["'self'"] and h["x-frame-options"] == "SAMEORIGIN"
    st, h, body = srv.request("GET", "/webmail/app.js")
    assert st == 200 and h["content-type"].startswith("text/javascript") and b"import" in body
    assert srv.request("GET", "/webmail/nope.js")[0] == 404
    assert srv.request("POST", "/webmail/app.js", b"x")[0] == 405
    # no inline script anywhere in the page
    assert b"<script>" not in srv.request("GET", "/webmail/")[2]


def test_login_cookie_csrf_logout(srv):
    user, pw = srv.new_user()
    st, h, _ = login(srv, user, "wrong")
    assert st == 401 and "set-cookie" not in h
    st, _, _ = srv.request("POST", "/webmail/login", b"username=a&password=b",
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 415  # a cross-site form cannot send JSON without a preflight
    st, h, who = login(srv, user, pw)
    assert st == 200 and who["user"] == user and len(who["csrf"]) == 64
    attrs = [a.strip() for a in h["set-cookie"].split(";")]
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= set(attrs), attrs
    cookie = cookie_of(h)
    api = json.dumps({"using": ["urn:ietf:params:jmap:core"],
                      "methodCalls": [["Core/echo", {"x": 1}, "e"]]}).encode()
    base = {"Cookie": cookie, "Content-Type": "application/json"}
    st, h, _ = srv.request("POST", "/jmap/api", api, base)
    assert st == 403 and "www-authenticate" not in h  # no CSRF token
    st, _, _ = srv.request("POST", "/jmap/api", api, {**base, "X-CSRF-Token": "0" * 64})
    assert st == 403
    st, _, body = srv.request("POST", "/jmap/api", api, {**base, "X-CSRF-Token": who["csrf"]})
    assert st == 200 and json.loads(body)["methodResponses"][0][1] == {"x": 1}
    st, _, body = srv.request("GET", "/jmap/session", headers={"Cookie": cookie})
    assert st == 200 and user in body.decode()
    # after a reload the page asks for its token again
    st, _, body = srv.request("GET", "/webmail/session", headers={"Cookie": cookie})
    assert st == 200 and json.loads(body)["csrf"] == who["csrf"]
    assert srv.request("POST", "/webmail/logout", b"{}", base)[0] == 403
    st, h, _ = srv.request("POST", "/webmail/logout", b"{}", {**base, "X-CSRF-Token": who["csrf"]})
    assert st == 200 and "Max-Age=0" in h["set-cookie"]
    assert srv.request("GET", "/webmail/session", headers={"Cookie": cookie})[0] == 401
    st, h, _ = srv.request("GET", "/jmap/session", headers={"Cookie": cookie})
    assert st == 401 and "www-authenticate" not in h


# ---- the browser ----

class Hits(http.server.BaseHTTPRequestHandler):
    """A "remote" HTTPS server: every request it gets is a load the page
    should not have made."""
    paths = []

    def do_GET(self):
        Hits.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    do_POST = do_GET

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def remote(srv):
    """An HTTPS server on 127.0.0.1 with the instance's certificate (the
    browser ignores certificate errors), so that https: image URLs would load
    if the page let them."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hits)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls = os.path.dirname(srv.cert())
    ctx.load_cert_chain(srv.cert(), os.path.join(tls, "key.pem"))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        pytest.skip(f"python3-selenium is not installed: {e}")
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    profile = tempfile.mkdtemp(prefix="tern-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--ignore-certificate-errors", "--window-size=1280,900",
              f"--user-data-dir={profile}"):
        opts.add_argument(a)
    try:
        d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except Exception as e:  # noqa: BLE001 - any failure to start is the same skip
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"headless chromium could not start: {e}")
    d.set_page_load_timeout(30)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait(d, pred, timeout=15, what="condition"):
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import TimeoutException
    try:
        return WebDriverWait(d, timeout).until(lambda _: pred())
    except TimeoutException:
        # what the page said, for the failure's report
        said = d.execute_script("const s = document.getElementById('status');"
                                " return s ? s.textContent : ''")
        raise AssertionError(f"timed out: {what}; page status: {said!r}") from None


def by_id(d, i):
    from selenium.webdriver.common.by import By
    return d.find_element(By.ID, i)


def list_subjects(d):
    # in one script: the list may be redrawn (a push event) between calls
    return d.execute_script("return [...document.querySelectorAll('#messages li .subject')]"
                            ".map((e) => e.textContent)")


def click(d, script, *args, what="element"):
    """Click the element the script returns, once there: found again after
    each redraw (a push event re-renders the lists)."""
    from selenium.common.exceptions import StaleElementReferenceException

    def once():
        e = d.execute_script(script, *args)
        try:
            return e is not None and (e.click() or True)
        except StaleElementReferenceException:
            return False
    wait(d, once, what=what)


def open_message(d, subject):
    click(d, "return [...document.querySelectorAll('#messages li')].find("
             "(li) => li.querySelector('.subject').textContent === arguments[0])",
          subject, what=f"{subject} listed")
    wait(d, lambda: by_id(d, "msg-subject").text == subject, what=f"{subject} open")


def imap_flags(srv, user, pw, folder, subject):
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=20)
    try:
        c.login(user, pw)
        c.select(f'"{folder}"', readonly=True)
        typ, data = c.search(None, "SUBJECT", f'"{subject}"')
        nums = data[0].split()
        if not nums:
            return None
        typ, data = c.fetch(nums[0], "(FLAGS)")
        return data[0].decode()
    finally:
        c.logout()


def test_browser_session(srv, browser, remote):
    d = browser
    user, pw = srv.new_user()
    srv.smtp_send(user, [plain("Lunch on Friday", "Shall we meet at the quayside?", user),
                         plain("Quarterly figures", "The numbers are attached in spirit.", user)])
    base = f"https://127.0.0.1:{srv.https_port}"
    d.get(base + "/")
    wait(d, lambda: by_id(d, "login").is_displayed(), what="login form")
    by_id(d, "login-user").send_keys(user)
    by_id(d, "login-pass").send_keys("not the password")
    by_id(d, "login-go").click()
    wait(d, lambda: by_id(d, "login-error").text, what="login error")
    by_id(d, "login-pass").clear()
    by_id(d, "login-pass").send_keys(pw)
    by_id(d, "login-go").click()
    wait(d, lambda: by_id(d, "app").is_displayed(), what="app after login")
    cookie = d.get_cookie("tern_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert d.execute_script("return document.cookie") == ""  # HttpOnly: not for scripts
    wait(d, lambda: by_id(d, "whoami").text == user, what="user shown")
    wait(d, lambda: by_id(d, "list-title").text == "INBOX", what="INBOX listed")

    # read, flag: the flag is IMAP's \Flagged at once, and reading set \Seen
    open_message(d, "Lunch on Friday")
    assert "quayside" in by_id(d, "msg-text").text
    by_id(d, "act-flag").click()
    wait(d, lambda: by_id(d, "act-flag").text == "Unflag", what="flagged")
    flags = imap_flags(srv, user, pw, "INBOX", "Lunch on Friday")
    assert "\\Flagged" in flags and "\\Seen" in flags, flags

    # move to Archive: gone from the list, there for IMAP
    from selenium.webdriver.support.ui import Select
    Select(by_id(d, "act-move")).select_by_visible_text("Archive")
    wait(d, lambda: "Lunch on Friday" not in list_subjects(d), what="moved out of INBOX")
    assert imap_flags(srv, user, pw, "INBOX", "Lunch on Friday") is None
    assert "\\Flagged" in imap_flags(srv, user, pw, "Archive", "Lunch on Friday")

    # search finds it across folders, and not the other message
    by_id(d, "search-text").send_keys("quayside")
    by_id(d, "search-go").click()
    wait(d, lambda: list_subjects(d) == ["Lunch on Friday"], what="search result")
    assert "quayside" in by_id(d, "list-title").text

    # the hostile message: its script runs nothing, its remote images load
    # nothing until asked
    Hits.paths.clear()
    page = (f"<html><head><style>body {{ background: url({remote}/css-bg.gif) }}"
            "p { color: rgb(1, 2, 3) }</style>"
            f"<script>new Image().src = '{remote}/script-ran';"
            f" parent.document.title = 'pwned';</script></head><body>"
            f"<p id=t>Special offer inside</p><img src=\"{remote}/tracker.gif\">"
            f"<img src=x onerror=\"new Image().src='{remote}/onerror-ran'\">"
            f"<a href=\"javascript:new Image().src='{remote}/js-link'\">click</a></body></html>")
    srv.smtp_send(user, [html("Special offer", page, user)])
    from selenium.webdriver.common.by import By
    click(d, "return document.querySelector('#mailboxes button[data-role=inbox]')", what="INBOX")
    open_message(d, "Special offer")
    wait(d, lambda: by_id(d, "msg-html").is_displayed(), what="html frame")
    wait(d, lambda: d.execute_script("const d = document.getElementById('msg-html').contentDocument;"
                                     " return d && d.getElementById('t') !== null"),
         what="message written into the frame")
    d.switch_to.frame(by_id(d, "msg-html"))
    assert "Special offer inside" in d.find_element(By.ID, "t").text
    # the message's own style applies: the frame's policy, not the page's
    assert d.find_element(By.ID, "t").value_of_css_property("color") in \
        ("rgb(1, 2, 3)", "rgba(1, 2, 3, 1)")
    for a in d.find_elements(By.TAG_NAME, "a"):
        a.click()
    d.switch_to.default_content()
    time.sleep(1.5)
    assert Hits.paths == [] and d.title != "pwned", Hits.paths
    assert by_id(d, "msg-images").is_displayed()  # "Remote images are blocked"
    # asked for: the images come, the script still does not run
    by_id(d, "msg-images-show").click()
    wait(d, lambda: "/tracker.gif" in Hits.paths, what="image shown on request")
    time.sleep(0.5)
    assert not [p for p in Hits.paths if "ran" in p or "js-link" in p], Hits.paths

    # compose: a draft saved (IMAP sees it in Drafts), then sent to another
    # user (EmailSubmission): it arrives, and the sender's copy is in Sent
    other, other_pw = srv.new_user()
    by_id(d, "compose-new").click()
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="compose form")
    by_id(d, "c-to").send_keys(other)
    by_id(d, "c-subject").send_keys("Minutes of the meeting")
    by_id(d, "c-body").send_keys("Attached in spirit, again.")
    by_id(d, "c-save").click()
    wait(d, lambda: by_id(d, "c-status").text == "Draft saved.", what="draft saved")
    assert "\\Draft" in imap_flags(srv, user, pw, "Drafts", "Minutes of the meeting")
    assert by_id(d, "c-send").is_displayed()  # the server announces submission
    by_id(d, "c-send").click()
    wait(d, lambda: by_id(d, "status").text == "Sent.", what="sent")
    assert wait_for(lambda: imap_flags(srv, other, other_pw, "INBOX", "Minutes of the meeting"), 30)
    assert imap_flags(srv, user, pw, "Drafts", "Minutes of the meeting") is None
    assert "\\Draft" not in imap_flags(srv, user, pw, "Sent", "Minutes of the meeting")

    # log out: the login form, and the old cookie opens nothing
    old = cookie["value"]
    by_id(d, "logout").click()
    wait(d, lambda: by_id(d, "login").is_displayed(), what="login form after logout")
    assert d.get_cookie("tern_session") is None
    st, _, _ = srv.request("GET", "/webmail/session", headers={"Cookie": f"tern_session={old}"})
    assert st == 401
    d.refresh()
    wait(d, lambda: by_id(d, "login").is_displayed(), what="login form after reload")


def log_in(d, srv, user, pw):
    """A fresh page logged in as user, INBOX listed."""
    d.delete_all_cookies()
    d.get(f"https://127.0.0.1:{srv.https_port}/")
    wait(d, lambda: by_id(d, "login").is_displayed(), what="login form")
    by_id(d, "login-user").send_keys(user)
    by_id(d, "login-pass").send_keys(pw)
    by_id(d, "login-go").click()
    wait(d, lambda: by_id(d, "list-title").text == "INBOX", what="INBOX listed")


def open_folder(d, role):
    click(d, "return document.querySelector(`#mailboxes button[data-role=${arguments[0]}]`)",
          role, what=f"{role} folder")
    wait(d, lambda: by_id(d, "list-title").text.lower() == role, what=f"{role} listed")


def compose(d, to, subject, body, files=()):
    """A new message filled in, its files uploaded (not sent yet)."""
    by_id(d, "compose-new").click()
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="compose form")
    by_id(d, "c-to").send_keys(to)
    by_id(d, "c-subject").send_keys(subject)
    by_id(d, "c-body").send_keys(body)
    if files:
        by_id(d, "c-files").send_keys("\n".join(str(f) for f in files))
        wait(d, lambda: len(d.find_elements("css selector", "#c-attachments li")) == len(files),
             what="files uploaded")


def page_fetch(d, href):
    """GET href from the page (its cookie): status, headers, bytes."""
    import base64
    d.set_script_timeout(30)
    r = d.execute_async_script(
        "const done = arguments[1];"
        "fetch(arguments[0], { credentials: 'same-origin' }).then(async (r) => {"
        "  const b = new Uint8Array(await r.arrayBuffer()); let s = '';"
        "  for (const x of b) s += String.fromCharCode(x);"
        "  done({ status: r.status, headers: Object.fromEntries(r.headers), b64: btoa(s) });"
        "}).catch((e) => done({ error: String(e) }));", href)
    assert "error" not in r, r
    return r["status"], r["headers"], base64.b64decode(r["b64"])


def imap_fetch(srv, user, pw, folder, subject, item):
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=20)
    try:
        c.login(user, pw)
        c.select(f'"{folder}"', readonly=True)
        nums = c.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
        assert nums, f"{subject} not in {folder}"
        typ, data = c.fetch(nums[0], f"({item})")
        assert typ == "OK", data
        return data
    finally:
        c.logout()


def test_attachments(srv, browser, tmp_path):
    """Files attached in compose (uploaded, then named by blobId) arrive as
    MIME parts the recipient's IMAP sees; the reader lists them with type and
    size, and their links download the same bytes, as attachments that this
    origin never renders."""
    import base64
    d = browser
    user, pw = srv.new_user()
    other, other_pw = srv.new_user()
    data = bytes(range(256)) * 12 + b"\r\n\x00end"
    (tmp_path / "minutes.bin").write_bytes(data)
    page = b"<html><body><script>alert(1)</script>hostile</body></html>"
    (tmp_path / "page.html").write_bytes(page)
    log_in(d, srv, user, pw)
    compose(d, other, "Files for you", "Two files.",
            [tmp_path / "minutes.bin", tmp_path / "page.html"])
    by_id(d, "c-send").click()
    wait(d, lambda: by_id(d, "status").text == "Sent.", what="sent")

    # the recipient's IMAP: two attachment parts, the bytes as sent
    assert wait_for(lambda: imap_flags(srv, other, other_pw, "INBOX", "Files for you"), 30)
    bs = imap_fetch(srv, other, other_pw, "INBOX", "Files for you", "BODYSTRUCTURE")[0].decode()
    assert '"MIXED"' in bs.upper() and '"minutes.bin"' in bs and '"page.html"' in bs, bs
    assert bs.upper().count('"ATTACHMENT"') == 2, bs
    part = imap_fetch(srv, other, other_pw, "INBOX", "Files for you", "BODY.PEEK[2]")
    assert base64.b64decode(part[0][1]) == data

    # the sender's copy in Sent: listed with type and size, downloaded exact
    open_folder(d, "sent")
    open_message(d, "Files for you")
    items = d.execute_script("return [...document.querySelectorAll('#msg-attachments li')]"
                             ".map((li) => [li.querySelector('a').textContent,"
                             " li.querySelector('a').getAttribute('href'), li.textContent])")
    assert [i[0] for i in items] == ["minutes.bin", "page.html"], items
    assert "application/octet-stream" in items[0][2] and "3.0 kB" in items[0][2], items
    assert "text/html" in items[1][2], items
    st, h, body = page_fetch(d, items[0][1])
    assert st == 200 and body == data
    assert h["content-disposition"] == "attachment; filename*=UTF-8''minutes.bin"
    st, h, body = page_fetch(d, items[1][1])
    assert st == 200 and body == page
    assert h["content-disposition"].startswith("attachment;")
    assert h["x-content-type-options"] == "nosniff"
    assert "sandbox" in h["content-security-policy"].split("; ")
    assert "default-src 'none'" in h["content-security-policy"]


def test_new_mail_appears_live(srv, browser):
    """A delivery while the page is open reaches the list by EventSource,
    without a reload."""
    d = browser
    user, pw = srv.new_user()
    srv.smtp_send(user, [plain("Before the page", "Already here.", user)])
    log_in(d, srv, user, pw)
    wait(d, lambda: list_subjects(d) == ["Before the page"], what="first message listed")
    d.execute_script("window.__notReloaded = true")
    # the stream is open: what follows comes by a state event
    wait(d, lambda: by_id(d, "app").get_attribute("data-live") == "on", what="event stream open")
    srv.smtp_send(user, [plain("Fresh off the wire", "Delivered live.", user)])
    wait(d, lambda: "Fresh off the wire" in list_subjects(d), timeout=10, what="pushed message")
    assert d.execute_script("return window.__notReloaded === true")
    # the folder's unread count followed
    assert d.execute_script("return document.querySelector("
                            "'#mailboxes button[data-role=inbox] .count').textContent") == "2"


def test_reply_all_forward_and_thread(srv, browser, tmp_path):
    """Threads collapse in the list and open as a conversation; reply-all
    answers everyone but the user, with In-Reply-To/References naming the
    original and Re: once; forward carries the attachments, Fwd: once."""
    d = browser
    user, pw = srv.new_user()
    other, other_pw = srv.new_user()
    third, third_pw = srv.new_user()
    root = (f"From: Olly <{other}>\r\nTo: {user}\r\nSubject: Plans\r\n"
            "Message-ID: <plans-1@remote.test>\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n\r\n"
            "What are the plans?\r\n").encode()
    follow = (f"From: Olly <{other}>\r\nTo: {user}, {third}\r\nSubject: Re: Plans\r\n"
              "Message-ID: <plans-2@remote.test>\r\nIn-Reply-To: <plans-1@remote.test>\r\n"
              "References: <plans-1@remote.test>\r\nDate: Mon, 02 Mar 2026 09:30:00 +0000\r\n"
              "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
              "--b\r\nContent-Type: text/plain\r\n\r\nThe agenda is attached.\r\n"
              "--b\r\nContent-Type: text/plain; name=agenda.txt\r\n"
              "Content-Disposition: attachment; filename=agenda.txt\r\n\r\n"
              "1. coffee\r\n2. plans\r\n--b--\r\n").encode()
    srv.smtp_send(user, [root])
    time.sleep(1.1)  # receivedAt has seconds: the follow-up is the newer
    srv.smtp_send(user, [follow])
    log_in(d, srv, user, pw)
    # one row for the thread, saying how many messages it has
    wait(d, lambda: list_subjects(d) == ["Re: Plans"], what=f"one row for the thread: {list_subjects(d)}")
    assert d.execute_script("return document.querySelector('#messages li .thread-size')"
                            ".textContent") == "2 messages"
    open_message(d, "Re: Plans")
    # the conversation, oldest first, the open message marked
    thread = d.execute_script("return [...document.querySelectorAll('#msg-thread li')]"
                              ".map((li) => [li.className, li.querySelector('.preview').textContent])")
    assert [t[0] for t in thread] == ["", "current"], thread
    assert thread[0][1].startswith("What are the plans?"), thread

    # reply to all: Olly and the third, not the user; Re: once; quoted
    by_id(d, "act-reply-all").click()
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="reply form")
    to = by_id(d, "c-to").get_attribute("value")
    assert other in to and third in to and user not in to, to
    assert by_id(d, "c-subject").get_attribute("value") == "Re: Plans"
    assert "> The agenda is attached." in by_id(d, "c-body").get_attribute("value")
    by_id(d, "c-body").send_keys("Coffee first.")
    (tmp_path / "menu.txt").write_bytes(b"espresso\r\nflat white\r\n")
    by_id(d, "c-files").send_keys(str(tmp_path / "menu.txt"))
    wait(d, lambda: "menu.txt" in by_id(d, "c-attachments").text, what="reply's file uploaded")
    by_id(d, "c-send").click()
    wait(d, lambda: by_id(d, "status").text == "Sent.", what="reply sent")
    for who, who_pw in ((other, other_pw), (third, third_pw)):
        assert wait_for(lambda: imap_flags(srv, who, who_pw, "INBOX", "Re: Plans"), 30), who
    hdr = imap_fetch(srv, other, other_pw, "INBOX", "Re: Plans",
                     "BODY.PEEK[HEADER.FIELDS (TO IN-REPLY-TO REFERENCES)]")[0][1].decode()
    assert "In-Reply-To: <plans-2@remote.test>" in hdr, hdr
    refs = hdr.split("References:")[1].split()
    assert refs[:2] == ["<plans-1@remote.test>", "<plans-2@remote.test>"], hdr
    assert user not in hdr, hdr
    # the reply's attachment is in the other user's copy
    import base64
    assert base64.b64decode(imap_fetch(srv, other, other_pw, "INBOX", "Re: Plans",
                                       "BODY.PEEK[2]")[0][1]) == b"espresso\r\nflat white\r\n"
    assert "\\Answered" in imap_flags(srv, user, pw, "INBOX", "Re: Plans")
    # the reply joined the conversation
    open_message(d, "Re: Plans")
    wait(d, lambda: len(d.find_elements("css selector", "#msg-thread li")) == 3,
         what="three messages in the thread")

    # forward: Fwd: once, the attachment travels by its blobId
    by_id(d, "act-forward").click()
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="forward form")
    assert by_id(d, "c-to").get_attribute("value") == ""
    assert by_id(d, "c-subject").get_attribute("value") == "Fwd: Re: Plans"
    assert "Forwarded message" in by_id(d, "c-body").get_attribute("value")
    assert "agenda.txt" in by_id(d, "c-attachments").text
    by_id(d, "c-to").send_keys(third)
    by_id(d, "c-send").click()
    wait(d, lambda: by_id(d, "status").text == "Sent.", what="forward sent")
    assert wait_for(lambda: imap_flags(srv, third, third_pw, "INBOX", "Fwd: Re: Plans"), 30)
    bs = imap_fetch(srv, third, third_pw, "INBOX", "Fwd: Re: Plans", "BODYSTRUCTURE")[0].decode()
    assert '"agenda.txt"' in bs, bs
    part = imap_fetch(srv, third, third_pw, "INBOX", "Fwd: Re: Plans", "BODY.PEEK[2]")
    import base64
    assert base64.b64decode(part[0][1]) == b"1. coffee\r\n2. plans"


def test_sort_delete_and_empty_trash(srv, browser):
    """The list's sort order; Delete moves to Trash, Delete in Trash destroys,
    Empty Trash (confirmed) destroys the rest: IMAP sees each step."""
    d = browser
    user, pw = srv.new_user()
    srv.smtp_send(user, [plain("Bravo", "bbb\r\n" * 1000, user), plain("Charlie", "c", user),
                         plain("Alpha", "a" * 100, user)])
    log_in(d, srv, user, pw)
    wait(d, lambda: len(list_subjects(d)) == 3, what="three listed")
    from selenium.webdriver.support.ui import Select
    Select(by_id(d, "sort")).select_by_visible_text("Subject")
    wait(d, lambda: list_subjects(d) == ["Alpha", "Bravo", "Charlie"], what="by subject")
    Select(by_id(d, "sort")).select_by_visible_text("Largest first")
    wait(d, lambda: list_subjects(d) == ["Bravo", "Alpha", "Charlie"], what="by size")
    assert by_id(d, "empty-trash").is_displayed() is False

    for subject in ("Bravo", "Alpha"):
        open_message(d, subject)
        by_id(d, "act-delete").click()
        wait(d, lambda: subject not in list_subjects(d), what=f"{subject} out of INBOX")
        assert imap_flags(srv, user, pw, "Trash", subject) is not None
    open_folder(d, "trash")
    open_message(d, "Alpha")
    by_id(d, "act-delete").click()  # in Trash: for good
    wait(d, lambda: list_subjects(d) == ["Bravo"], what="Alpha destroyed")
    assert imap_flags(srv, user, pw, "Trash", "Alpha") is None

    by_id(d, "empty-trash").click()
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(d, 10).until(lambda _: d.switch_to.alert).accept()
    wait(d, lambda: list_subjects(d) == [], what="Trash emptied")
    assert by_id(d, "status").text == "Deleted 1 message for good."
    assert imap_flags(srv, user, pw, "Trash", "Bravo") is None
    assert imap_flags(srv, user, pw, "INBOX", "Charlie") is not None
    assert not by_id(d, "empty-trash").is_displayed()


def test_edit_saved_draft(srv, browser, tmp_path):
    """A draft saved with an attachment opens again in compose (Edit draft)
    with its fields and attachment; sending it replaces it."""
    d = browser
    user, pw = srv.new_user()
    other, other_pw = srv.new_user()
    log_in(d, srv, user, pw)
    (tmp_path / "notes.txt").write_bytes(b"draft notes\r\n")
    compose(d, other, "Half-written", "To be continued", [tmp_path / "notes.txt"])
    by_id(d, "c-save").click()
    wait(d, lambda: by_id(d, "c-status").text == "Draft saved.", what="draft saved")
    by_id(d, "c-cancel").click()

    open_folder(d, "drafts")
    open_message(d, "Half-written")
    assert by_id(d, "act-edit").is_displayed()
    by_id(d, "act-edit").click()
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="draft in compose")
    assert by_id(d, "c-to").get_attribute("value") == other
    assert by_id(d, "c-subject").get_attribute("value") == "Half-written"
    assert "To be continued" in by_id(d, "c-body").get_attribute("value")
    assert "notes.txt" in by_id(d, "c-attachments").text
    by_id(d, "c-body").send_keys(", and finished.")
    # saved again before sending: the attachment (a part of the copy that
    # save destroyed) must still be found by the send
    wait(d, lambda: by_id(d, "c-status").text == "Draft saved.", what="autosaved edit")
    by_id(d, "c-send").click()
    wait(d, lambda: by_id(d, "status").text == "Sent.", what="sent")
    assert wait_for(lambda: imap_flags(srv, other, other_pw, "INBOX", "Half-written"), 30)
    text = imap_fetch(srv, other, other_pw, "INBOX", "Half-written", "BODY.PEEK[1]")[0][1]
    assert b"To be continued" in text and b"and finished." in text, text
    import base64
    assert base64.b64decode(imap_fetch(srv, other, other_pw, "INBOX", "Half-written",
                                       "BODY.PEEK[2]")[0][1]) == b"draft notes\r\n"
    assert imap_flags(srv, user, pw, "Drafts", "Half-written") is None


def test_keyboard(srv, browser):
    """Single keys move through the list, reply and close; typed into a
    field they are text."""
    from selenium.webdriver.common.action_chains import ActionChains
    d = browser
    user, pw = srv.new_user()
    srv.smtp_send(user, [plain("First by key", "one", user), plain("Second by key", "two", user)])
    log_in(d, srv, user, pw)
    wait(d, lambda: len(list_subjects(d)) == 2, what="two listed")
    order = list_subjects(d)

    def keys(k):
        ActionChains(d).send_keys(k).perform()

    d.execute_script("document.activeElement.blur()")
    keys("j")
    wait(d, lambda: by_id(d, "msg-subject").text == order[0], what="j opens the first")
    keys("j")
    wait(d, lambda: by_id(d, "msg-subject").text == order[1], what="j opens the next")
    keys("k")
    wait(d, lambda: by_id(d, "msg-subject").text == order[0], what="k goes back")
    keys("r")
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="r replies")
    assert by_id(d, "c-subject").get_attribute("value") == f"Re: {order[0]}"
    by_id(d, "c-body").send_keys("jk")  # text in a field, not commands
    assert by_id(d, "c-body").get_attribute("value").endswith("\njk")
    assert by_id(d, "compose").is_displayed()
    keys("\ue00c")  # Escape
    wait(d, lambda: not by_id(d, "compose").is_displayed(), what="Esc closes compose")
    keys("/")
    assert d.execute_script("return document.activeElement.id") == "search-text"


def png(width, height):
    """A real PNG of width x height red pixels (the browser must decode it)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_inline_images(srv, browser, remote):
    """An HTML message's cid: images come from its own parts (img and CSS),
    shown in the sandboxed frame under the same strict policy (data: images
    only); a cid: naming a part that is not an image shows nothing, remote
    images stay blocked, and the inline image is not listed again as an
    attachment."""
    import base64
    d = browser
    user, pw = srv.new_user()
    logo = base64.encodebytes(png(3, 2)).decode().replace("\n", "\r\n")
    body = (f"<html><body><p id=t>Our new logo:</p><img id=logo src=\"cid:logo%40tern.test\">"
            "<div id=bg style=\"width:9px;height:9px;background-image:url('cid:logo@tern.test')\"></div>"
            "<img id=notimg src=\"cid:notes@tern.test\">"
            f"<img id=far src=\"{remote}/far.gif\"></body></html>")
    msg = (f"From: Designer <design@remote.test>\r\nTo: {user}\r\nSubject: New logo\r\n"
           "Date: Mon, 02 Mar 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/related; boundary=rel\r\n\r\n"
           "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body + "\r\n"
           "--rel\r\nContent-Type: image/png; name=logo.png\r\nContent-ID: <logo@tern.test>\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" + logo +
           "--rel\r\nContent-Type: text/plain; name=notes.txt\r\nContent-ID: <notes@tern.test>\r\n\r\n"
           "not an image\r\n--rel--\r\n").encode()
    srv.smtp_send(user, [msg])
    log_in(d, srv, user, pw)
    Hits.paths.clear()
    open_message(d, "New logo")
    wait(d, lambda: d.execute_script(
        "const f = document.getElementById('msg-html').contentDocument;"
        " const i = f && f.getElementById('logo'); return i && i.complete && i.naturalWidth > 0"),
        what="inline image decoded in the frame")
    shown = d.execute_script(
        "const f = document.getElementById('msg-html').contentDocument;"
        " const i = f.getElementById('logo'), n = f.getElementById('notimg');"
        " return [i.naturalWidth, i.naturalHeight, i.getAttribute('src').slice(0, 22),"
        " n.getAttribute('src'), getComputedStyle(f.getElementById('bg')).backgroundImage.slice(0, 27),"
        " f.querySelector('meta[http-equiv]').content]")
    assert shown[:3] == [3, 2, "data:image/png;base64,"], shown
    assert shown[3] is None, shown  # a cid: naming a text part is dropped
    assert shown[4] == 'url("data:image/png;base64,', shown
    assert "img-src data:;" in shown[5] and "https:" not in shown[5], shown
    # the frame document is still the one with the data:-only policy
    assert d.execute_script("return document.getElementById('msg-html').getAttribute('src')") \
        == "frame.html"
    time.sleep(1)
    assert Hits.paths == [], Hits.paths
    assert by_id(d, "msg-images").is_displayed()  # the remote one waits for the user
    names = d.execute_script("return [...document.querySelectorAll('#msg-attachments a')]"
                             ".map((a) => a.textContent)")
    assert names == ["notes.txt"], names


def in_view_width(d, element_id):
    """The element shown, and inside the window's width (reachable without
    scrolling sideways)."""
    return d.execute_script(
        "const e = document.getElementById(arguments[0]), r = e.getBoundingClientRect();"
        " return e.offsetParent !== null && r.width > 0 && r.left >= 0"
        " && r.right <= document.documentElement.clientWidth", element_id)


def no_sideways_scroll(d):
    return d.execute_script("const h = document.documentElement;"
                            " return [h.scrollWidth, h.clientWidth, window.innerWidth]")


def test_phone_width(srv, browser):
    """At a phone's 360 px the page is one column with no sideways scroll:
    the list, then the reader (or compose) in its place with a way back; the
    compose button, the reader and the send button are all within the width,
    even for a message with a long unbroken line."""
    d = browser
    user, pw = srv.new_user()
    long_line = "https://example.test/" + "x" * 300
    srv.smtp_send(user, [plain("A rather long subject line that a narrow screen has to wrap somehow",
                               f"See {long_line} for details.", user)])
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    try:
        log_in(d, srv, user, pw)
        assert d.execute_script("return window.innerWidth") == 360
        w = no_sideways_scroll(d)
        assert w[0] <= w[1], w
        for i in ("compose-new", "search-text", "logout", "messages"):
            assert in_view_width(d, i), i
        # the folders and the list share the column
        left = d.execute_script("return [document.getElementById('mailboxes'),"
                                " document.querySelector('.list')].map((e) => e.getBoundingClientRect().left)")
        assert left == [0, 0], left

        click(d, "return document.querySelector('#messages li')", what="a message listed")
        wait(d, lambda: by_id(d, "reader").is_displayed(), what="reader open")
        assert not d.find_element("css selector", ".list").is_displayed()
        for i in ("reader", "msg-text", "act-back", "act-reply", "act-delete"):
            assert in_view_width(d, i), i
        w = no_sideways_scroll(d)
        assert w[0] <= w[1], w
        by_id(d, "act-back").click()
        wait(d, lambda: d.find_element("css selector", ".list").is_displayed(), what="back to the list")
        assert not by_id(d, "reader").is_displayed()

        by_id(d, "compose-new").click()
        wait(d, lambda: by_id(d, "compose").is_displayed(), what="compose open")
        for i in ("c-to", "c-subject", "c-body", "c-send", "c-cancel"):
            assert in_view_width(d, i), i
        w = no_sideways_scroll(d)
        assert w[0] <= w[1], w
        by_id(d, "c-cancel").click()
        wait(d, lambda: d.find_element("css selector", ".list").is_displayed(), what="compose closed")
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def imap_count(srv, user, pw, folder, subject):
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=20)
    try:
        c.login(user, pw)
        c.select(f'"{folder}"', readonly=True)
        return len(c.search(None, "SUBJECT", f'"{subject}"')[1][0].split())
    finally:
        c.logout()


def test_draft_autosave(srv, browser):
    """Compose saves itself into Drafts ($draft) without a click, each save
    replacing the one before; after a reload the draft is there to edit,
    and sending it removes it from Drafts."""
    d = browser
    user, pw = srv.new_user()
    other, other_pw = srv.new_user()
    log_in(d, srv, user, pw)
    compose(d, other, "Saved by itself", "First thoughts")
    wait(d, lambda: by_id(d, "c-status").text == "Draft saved.", what="autosaved")
    assert "\\Draft" in imap_flags(srv, user, pw, "Drafts", "Saved by itself")
    by_id(d, "c-body").send_keys(", second thoughts")
    assert wait_for(lambda: b"second thoughts" in imap_fetch(
        srv, user, pw, "Drafts", "Saved by itself", "BODY.PEEK[TEXT]")[0][1], 15, 0.5), "autosaved again"
    wait(d, lambda: by_id(d, "c-status").text == "Draft saved.", what="saved said")
    assert imap_count(srv, user, pw, "Drafts", "Saved by itself") == 1  # replaced, not added

    d.refresh()
    wait(d, lambda: by_id(d, "list-title").text == "INBOX", what="INBOX after reload")
    open_folder(d, "drafts")
    assert list_subjects(d) == ["Saved by itself"]
    open_message(d, "Saved by itself")
    by_id(d, "act-edit").click()
    wait(d, lambda: by_id(d, "compose").is_displayed(), what="draft in compose")
    assert by_id(d, "c-body").get_attribute("value").startswith("First thoughts, second thoughts")
    by_id(d, "c-body").send_keys(" and done")
    by_id(d, "c-send").click()
    wait(d, lambda: by_id(d, "status").text == "Sent.", what="sent")
    assert wait_for(lambda: imap_flags(srv, other, other_pw, "INBOX", "Saved by itself"), 30)
    assert imap_count(srv, user, pw, "Drafts", "Saved by itself") == 0
    assert imap_count(srv, user, pw, "Sent", "Saved by itself") == 1
    wait(d, lambda: list_subjects(d) == [], what="Drafts empty in the page")


def append_dated(srv, user, pw, dated):
    """APPEND (internal date, message) pairs: receivedAt is the date given."""
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=20)
    try:
        c.login(user, pw)
        for when, m in dated:
            typ, data = c.append("INBOX", None, f'"{when}"', m)
            assert typ == "OK", data
    finally:
        c.logout()


def test_structured_search(srv, browser):
    """from: to: subject: has:attachment before: after: is: and -negation
    typed into the search field become Email/query's FilterCondition: each
    query lists exactly the messages it names; a wrong date is said, not
    searched."""
    d = browser
    user, pw = srv.new_user()
    with_file = (f"From: Alice <alice@remote.test>\r\nTo: {user}\r\nSubject: Invoice March\r\n"
                 "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                 "--b\r\nContent-Type: text/plain\r\n\r\nPlease pay.\r\n"
                 "--b\r\nContent-Type: application/pdf; name=march.pdf\r\n"
                 "Content-Disposition: attachment; filename=march.pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n").encode()
    append_dated(srv, user, pw, [
        ("05-Mar-2026 12:00:00 +0000", with_file),
        ("05-Apr-2026 12:00:00 +0000",
         plain("Invoice April", "Please pay again.", user, frm="Bob <bob@remote.test>")),
        ("01-Feb-2026 12:00:00 +0000",
         plain("Lunch", "The invoice can wait until after lunch.", user)),
    ])
    log_in(d, srv, user, pw)
    wait(d, lambda: len(list_subjects(d)) == 3, what="three listed")

    def search(q):
        by_id(d, "search-text").clear()
        by_id(d, "search-text").send_keys(q)
        by_id(d, "search-go").click()
        wait(d, lambda: by_id(d, "list-title").text == f"Search: {q}", what=f"search {q}")

    for q, want in (
            ("from:alice", ["Invoice March", "Lunch"]),
            ("from:alice has:attachment", ["Invoice March"]),
            ("subject:invoice after:2026-04-01", ["Invoice April"]),
            ("before:2026-03-01", ["Lunch"]),
            ("after:2026-03-01 before:2026-04-01", ["Invoice March"]),
            ('subject:"invoice april"', ["Invoice April"]),
            ("invoice -subject:invoice", ["Lunch"]),
            (f"to:{user} is:unread", ["Invoice April", "Invoice March", "Lunch"]),
            ("pay from:bob", ["Invoice April"]),
    ):
        search(q)
        got = wait_for(lambda: list_subjects(d) == want and want, 15, 0.2) or list_subjects(d)
        assert got == want, (q, got)
    search("is:flagged")
    wait(d, lambda: list_subjects(d) == [], what="nothing flagged")
    by_id(d, "search-text").clear()
    by_id(d, "search-text").send_keys("before:2026-02-30")
    by_id(d, "search-go").click()
    wait(d, lambda: "wants a date" in by_id(d, "status").text, what="a wrong date said")


def test_draft_close_and_discard(srv, browser):
    """Closing compose saves what was typed at once (no waiting for the
    timer); Discard destroys the saved copy and saves nothing more."""
    d = browser
    user, pw = srv.new_user()
    log_in(d, srv, user, pw)
    compose(d, "someone@remote.test", "Closed quickly", "typed and closed")
    by_id(d, "c-cancel").click()  # "Close", within the autosave delay
    assert wait_for(lambda: imap_count(srv, user, pw, "Drafts", "Closed quickly") == 1, 15, 0.5)

    compose(d, "someone@remote.test", "Thrown away", "never mind")
    wait(d, lambda: by_id(d, "c-status").text == "Draft saved.", what="autosaved")
    assert imap_count(srv, user, pw, "Drafts", "Thrown away") == 1
    by_id(d, "c-body").send_keys(" at all")  # a change pending when discarded
    by_id(d, "c-discard").click()
    wait(d, lambda: by_id(d, "status").text == "Draft discarded.", what="discarded")
    assert not by_id(d, "compose").is_displayed()
    time.sleep(2)  # longer than the autosave delay: nothing comes back
    assert imap_count(srv, user, pw, "Drafts", "Thrown away") == 0
    assert imap_count(srv, user, pw, "Drafts", "Closed quickly") == 1
