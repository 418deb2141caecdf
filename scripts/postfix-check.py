#!/usr/bin/env python3
"""Self-test of the private Postfix instance started by scripts/postfix-up.sh.

Proves every property the Rust client tests rely on, using only the Python
standard library. Reads the POSTEL_POSTFIX_* variables (source STATE/env, or
pass --env FILE). Quiet on success; prints each failure and exits 1 otherwise.

  --ehlo      print the EHLO capabilities of every listener (before/after TLS)
  --verbose   print each check as it passes
"""

import argparse
import base64
import hashlib
import hmac
import os
import re
import secrets
import shlex
import smtplib
import socket
import ssl
import sys
import time
import uuid

FAILURES = []
VERBOSE = False


def ok(msg):
    if VERBOSE:
        print("ok   " + msg)


def fail(msg):
    FAILURES.append(msg)
    print("FAIL " + msg, file=sys.stderr)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)
    return cond


def load_env(path):
    if not path:
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("export "):
                continue
            k, _, v = line[len("export "):].partition("=")
            vals = shlex.split(v)
            os.environ[k] = vals[0] if vals else ""


def env(name):
    v = os.environ.get("POSTEL_POSTFIX_" + name)
    if v is None:
        raise SystemExit("POSTEL_POSTFIX_%s not set: source $STATE/env or pass --env" % name)
    return v


def hostport(name):
    v = env(name)
    host, _, port = v.rpartition(":")
    return host.strip("[]"), int(port)


def ctx_verify():
    return ssl.create_default_context(cafile=env("CA"))


def ctx_noverify():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


TLS_NAME = "localhost"


def connect(name, server_hostname=TLS_NAME):
    """Cleartext connection; starttls() will verify server_hostname, not the IP."""
    host, port = hostport(name)
    s = smtplib.SMTP(host, port, timeout=15)
    s._host = server_hostname  # name used by starttls() for SNI + verification
    return s


class SMTP_SSL_Named(smtplib.SMTP_SSL):
    """SMTP_SSL that verifies a given host name while connecting to an IP."""

    def __init__(self, host, port, name, context, timeout=15):
        self._tls_name = name
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._tls_name)


def connect_implicit(name, context=None, tls_name=TLS_NAME):
    host, port = hostport(name)
    return SMTP_SSL_Named(host, port, tls_name, context or ctx_verify())


def caps(s):
    code, msg = s.ehlo("client.postel.test")
    if code != 250:
        raise RuntimeError("EHLO failed: %d %r" % (code, msg))
    return msg.decode("utf-8", "replace").split("\n")[1:]


# --------------------------------------------------------------------------
# Maildir helpers
# --------------------------------------------------------------------------

def maildir_find(marker, timeout=20.0):
    """Return the bytes of the one delivered file containing marker."""
    new = os.path.join(env("MAILDIR"), "new")
    deadline = time.monotonic() + timeout
    needle = marker.encode()
    while time.monotonic() < deadline:
        if os.path.isdir(new):
            for fn in os.listdir(new):
                p = os.path.join(new, fn)
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    continue
                if needle in data:
                    return data
        time.sleep(0.1)
    return None


# Header lines Postfix adds in front of the message as sent: virtual(8) writes
# Return-Path:, X-Original-To: and Delivered-To:, then comes the Received:
# header that smtpd(8) added (folded over several lines, continuation lines
# start with a TAB). See docs/testing-postfix.md.
PREPENDED_RE = re.compile(
    rb"\AReturn-Path: <[^>\n]*>\n"
    rb"X-Original-To: [^\n]+\n"
    rb"Delivered-To: [^\n]+\n"
    rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*"
)


def strip_prepended(stored):
    m = PREPENDED_RE.match(stored)
    if not m:
        return None, None
    return stored[: m.end()], stored[m.end():]


def to_lf(b):
    return b.replace(b"\r\n", b"\n")


def send_raw_and_compare(s, label, sender, rcpts, body_crlf, mail_opts=(), expect_rcpt=None):
    """MAIL/RCPT/DATA body_crlf (already CRLF, not dot-stuffed) and check delivery."""
    s.sendmail(sender, rcpts, body_crlf, mail_options=list(mail_opts))
    marker = re.search(rb"X-Postel-Marker: (\S+)", body_crlf).group(1).decode()
    stored = maildir_find(marker)
    if not check(stored is not None, "%s: message delivered to Maildir" % label):
        return None
    pre, rest = strip_prepended(stored)
    if not check(pre is not None, "%s: stored message starts with Return-Path/X-Original-To/Delivered-To/Received" % label):
        print(stored[:600].decode("utf-8", "replace"), file=sys.stderr)
        return None
    check(pre.startswith(b"Return-Path: <%s>\n" % sender.encode()),
          "%s: Return-Path is the envelope sender" % label)
    want_rcpt = (expect_rcpt or rcpts[0]).encode()
    check(b"Delivered-To: " + want_rcpt + b"\n" in pre,
          "%s: Delivered-To is the envelope recipient" % label)
    check(rest == to_lf(body_crlf),
          "%s: rest of the stored message is byte-for-byte the sent one (CRLF->LF)" % label)
    if rest != to_lf(body_crlf):
        print("sent:   %r\nstored: %r" % (to_lf(body_crlf)[:400], rest[:400]), file=sys.stderr)
    return pre


def make_message(subject, extra_headers=b"", body=None):
    marker = uuid.uuid4().hex
    if body is None:
        body = (
            b"Plain ASCII line\r\n"
            b".leading dot line (dot-stuffed on the wire)\r\n"
            b"..two leading dots\r\n"
            b"trailing spaces   \r\n"
            b"\ttab-indented\r\n"
            b"\r\n"
            b"8-bit: caf\xc3\xa9 \xe2\x82\xac\r\n"
            + b"x" * 990 + b"\r\n"
            b"last line without much\r\n"
        )
    msg = (
        b"From: Postel Test <sender@example.test>\r\n"
        b"To: rcpt@example.test\r\n"
        b"Subject: " + subject.encode() + b"\r\n"
        b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
        b"Message-ID: <" + marker.encode() + b"@postel.test>\r\n"
        b"X-Postel-Marker: " + marker.encode() + b"\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        + extra_headers
        + b"\r\n"
        + body
    )
    return msg


# --------------------------------------------------------------------------
# SCRAM (RFC 5802/7677) client, for a raw AUTH exchange
# --------------------------------------------------------------------------

def scram_auth(s, mech, user, password):
    hname = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}[mech]
    cnonce = base64.b64encode(secrets.token_bytes(18)).decode()
    gs2 = "n,,"
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
    code, resp = s.docmd("AUTH", mech + " " + base64.b64encode((gs2 + first_bare).encode()).decode())
    if code != 334:
        return code, resp
    server_first = base64.b64decode(resp).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    if not attrs["r"].startswith(cnonce):
        raise RuntimeError("SCRAM: server nonce does not extend client nonce")
    salt = base64.b64decode(attrs["s"])
    iters = int(attrs["i"])
    salted = hashlib.pbkdf2_hmac(hname, password.encode(), salt, iters)
    client_key = hmac.new(salted, b"Client Key", hname).digest()
    stored_key = hashlib.new(hname, client_key).digest()
    final_wo_proof = "c=%s,r=%s" % (base64.b64encode(gs2.encode()).decode(), attrs["r"])
    auth_msg = ",".join([first_bare, server_first, final_wo_proof]).encode()
    sig = hmac.new(stored_key, auth_msg, hname).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    final = final_wo_proof + ",p=" + base64.b64encode(proof).decode()
    code, resp = s.docmd(base64.b64encode(final.encode()).decode())
    if code == 334:
        server_final = base64.b64decode(resp).decode()
        server_key = hmac.new(salted, b"Server Key", hname).digest()
        want = "v=" + base64.b64encode(hmac.new(server_key, auth_msg, hname).digest()).decode()
        if server_final != want:
            raise RuntimeError("SCRAM: bad server signature %r" % server_final)
        code, resp = s.docmd("")
    return code, resp


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

EHLO_REPORT = {}


def t_plain():
    dom = env("DOMAIN")
    s = connect("PLAIN")
    c = caps(s)
    EHLO_REPORT["PLAIN"] = c
    for want in ("PIPELINING", "SIZE %s" % env("SIZE_LIMIT"), "STARTTLS", "8BITMIME",
                 "DSN", "SMTPUTF8", "CHUNKING", "ENHANCEDSTATUSCODES"):
        check(want in c, "PLAIN advertises %s" % want)
    check(not any(x.startswith("AUTH") for x in c), "PLAIN does not offer AUTH")
    msg = make_message("plain, no TLS")
    send_raw_and_compare(s, "PLAIN cleartext", "sender@%s" % dom, ["someone@%s" % dom], msg)

    # Refused and tempfailed recipients.
    s.rset()
    code, _ = s.mail("sender@%s" % dom)
    check(code == 250, "PLAIN MAIL FROM accepted")
    code, resp = s.rcpt(env("REFUSED"))
    check(code == 550 and b"5.1.1" in resp, "refused recipient gets 550 5.1.1 (got %d %r)" % (code, resp))
    code, resp = s.rcpt(env("TEMPFAIL"))
    check(code == 450 and b"4.2.1" in resp, "tempfail recipient gets 450 4.2.1 (got %d %r)" % (code, resp))
    code, resp = s.rcpt("someone@elsewhere.invalid")
    check(code == 554 and b"5.7.1" in resp, "relaying refused with 554 5.7.1 (got %d %r)" % (code, resp))
    code, resp = s.rcpt("ok@%s" % dom)
    check(code == 250, "a good recipient still works after refusals")
    s.rset()

    # SIZE enforcement at MAIL FROM.
    code, resp = s.mail("sender@%s" % dom, ["SIZE=%d" % (int(env("SIZE_LIMIT")) + 1)])
    check(code == 552 and b"5.3.4" in resp, "MAIL FROM SIZE over the limit gets 552 5.3.4 (got %d %r)" % (code, resp))
    s.rset()

    # Mixed: one good, one refused recipient; the good one still gets the mail.
    msg = make_message("partial")
    refused = s.sendmail("sender@%s" % dom, ["good@%s" % dom, env("REFUSED")], msg)
    check(env("REFUSED") in refused and refused[env("REFUSED")][0] == 550,
          "sendmail reports the refused recipient")
    marker = re.search(rb"X-Postel-Marker: (\S+)", msg).group(1).decode()
    check(maildir_find(marker) is not None, "partial-recipient message delivered")

    # DSN parameters accepted.
    s.rset()
    code, _ = s.mail("sender@%s" % dom, ["RET=HDRS", "ENVID=postel-test"])
    check(code == 250, "MAIL FROM with DSN RET/ENVID accepted")
    code, _ = s.rcpt("dsn@%s" % dom, ["NOTIFY=NEVER", "ORCPT=rfc822;dsn@%s" % dom])
    check(code == 250, "RCPT TO with DSN NOTIFY/ORCPT accepted")
    s.rset()

    # CHUNKING: BDAT with a raw exchange (smtplib has no BDAT).
    msg = make_message("bdat")
    code, _ = s.mail("sender@%s" % dom, ["BODY=8BITMIME"])
    check(code == 250, "MAIL FROM BODY=8BITMIME accepted")
    code, _ = s.rcpt("bdat@%s" % dom)
    half = len(msg) // 2
    # BDAT content is not dot-stuffed; the leading-dot lines go through verbatim.
    s.send(b"BDAT %d\r\n" % half + msg[:half])
    code1, _ = s.getreply()
    s.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    code2, resp = s.getreply()
    check(code1 == 250 and code2 == 250, "BDAT chunks accepted (%d, %d %r)" % (code1, code2, resp))
    marker = re.search(rb"X-Postel-Marker: (\S+)", msg).group(1).decode()
    stored = maildir_find(marker)
    if check(stored is not None, "BDAT message delivered"):
        _, rest = strip_prepended(stored)
        if not check(rest == to_lf(msg), "BDAT message stored byte-for-byte (CRLF->LF)"):
            print("sent:   %r\nstored: %r" % (to_lf(msg), stored), file=sys.stderr)

    # SMTPUTF8 with a UTF-8 domain and UTF-8 local part.
    udom = env("UTF8_DOMAIN")
    rcpt = "jörg@" + udom
    msg = make_message("smtputf8", extra_headers="X-UTF8: Grüße aus Köln\r\n".encode())
    send_raw_and_compare(s, "SMTPUTF8", "sender@%s" % dom, [rcpt], msg,
                         mail_opts=["SMTPUTF8", "BODY=8BITMIME"])

    # A message with no Date/Message-ID/From: Postfix must not add them.
    marker = uuid.uuid4().hex
    bare = b"Subject: bare\r\nX-Postel-Marker: " + marker.encode() + b"\r\n\r\nbody\r\n"
    send_raw_and_compare(s, "headerless", "sender@%s" % dom, ["bare@%s" % dom], bare)

    # Two recipients in one transaction, a 5000-byte line: one file per
    # recipient, Received: without a "for" clause, body intact.
    msg = make_message("two rcpts", body=b"z" * 5000 + b"\r\nend\r\n")
    marker = re.search(rb"X-Postel-Marker: (\S+)", msg).group(1).decode()
    s.sendmail("sender@%s" % dom, ["r1@%s" % dom, "r2@%s" % dom], msg)
    found = {}
    deadline = time.monotonic() + 20
    new = os.path.join(env("MAILDIR"), "new")
    while len(found) < 2 and time.monotonic() < deadline:
        for fn in os.listdir(new) if os.path.isdir(new) else ():
            with open(os.path.join(new, fn), "rb") as f:
                data = f.read()
            if marker.encode() in data:
                found[fn] = data
        time.sleep(0.1)
    check(len(found) == 2, "two recipients -> two Maildir files (got %d)" % len(found))
    for data in found.values():
        pre, rest = strip_prepended(data)
        check(pre is not None and rest == to_lf(msg), "multi-recipient copy stored byte-for-byte")
        check(pre is not None and b"\n\tfor <" not in pre, "multi-recipient Received: has no 'for' clause")

    # Null reverse-path.
    msg = make_message("null sender")
    s.sendmail("<>", ["null@%s" % dom], msg)
    marker = re.search(rb"X-Postel-Marker: (\S+)", msg).group(1).decode()
    stored = maildir_find(marker)
    check(stored is not None and stored.startswith(b"Return-Path: <>\n"),
          "null sender delivered with Return-Path: <>")
    s.quit()

    # STARTTLS, verifying the chain against root.pem and the name localhost.
    s = connect("PLAIN")
    s.ehlo("client.postel.test")
    s.starttls(context=ctx_verify())
    c = caps(s)
    EHLO_REPORT["PLAIN after STARTTLS"] = c
    check("STARTTLS" not in c, "PLAIN stops offering STARTTLS after TLS")
    tls = s.sock.version()
    check(tls in ("TLSv1.2", "TLSv1.3"), "PLAIN STARTTLS negotiated %s" % tls)
    msg = make_message("plain + starttls")
    send_raw_and_compare(s, "PLAIN STARTTLS", "sender@%s" % dom, ["tls@%s" % dom], msg)
    s.quit()

    # The certificate also verifies for the IP literal 127.0.0.1 (SAN IP).
    host, port = hostport("PLAIN")
    s = smtplib.SMTP(host, port, timeout=15)
    s.starttls(context=ctx_verify())
    ok("PLAIN STARTTLS verifies for IP 127.0.0.1")
    s.quit()

    # The server sends its intermediate: trusting only the root is enough, and
    # trusting only the intermediate is not (it's not a trust anchor).
    c = ssl.create_default_context(cafile=env("INTERMEDIATE"))
    s = connect("PLAIN")
    try:
        s.starttls(context=c)
        fail("trusting only the intermediate should fail verification")
    except ssl.SSLCertVerificationError:
        ok("trusting only the intermediate fails verification")
    finally:
        s.close()

    if os.environ.get("POSTEL_POSTFIX_PLAIN6"):
        host, port = hostport("PLAIN6")
        s = smtplib.SMTP(host, port, timeout=15)
        s._host = TLS_NAME
        check(s.ehlo()[0] == 250, "PLAIN6 ([::1]) answers EHLO")
        s.starttls(context=ctx_verify())
        ok("PLAIN6 STARTTLS verifies")
        s.quit()


def auth_with(s, mech, user, password):
    if mech.startswith("SCRAM-"):
        return scram_auth(s, mech, user, password)
    s.user, s.password = user, password
    fn = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
    try:
        return s.auth(mech, fn, initial_response_ok=(mech != "CRAM-MD5"))
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code, e.smtp_error


def t_submission():
    dom, user, pw = env("DOMAIN"), env("USER"), env("PASSWORD")
    s = connect("SUBMISSION")
    c = caps(s)
    EHLO_REPORT["SUBMISSION"] = c
    check("STARTTLS" in c, "SUBMISSION offers STARTTLS")
    check(not any(x.startswith("AUTH") for x in c), "SUBMISSION offers no AUTH before TLS")
    code, resp = s.mail("sender@%s" % dom)
    check(code == 530, "SUBMISSION refuses MAIL before STARTTLS with 530 (got %d %r)" % (code, resp))
    code, resp = s.docmd("AUTH", "PLAIN " + base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode())
    check(code in (503, 530, 538), "SUBMISSION refuses AUTH before STARTTLS (got %d %r)" % (code, resp))
    s.close()

    mechs_seen = None
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "SCRAM-SHA-1"):
        s = connect("SUBMISSION")
        s.ehlo("client.postel.test")
        s.starttls(context=ctx_verify())
        c = caps(s)
        EHLO_REPORT["SUBMISSION after STARTTLS"] = c
        auth = [x for x in c if x.startswith("AUTH ")]
        mechs_seen = auth[0].split()[1:] if auth else []
        if mech not in mechs_seen:
            fail("SUBMISSION does not advertise AUTH %s (has %s)" % (mech, mechs_seen))
            s.close()
            continue
        code, resp = auth_with(s, mech, user, pw + "-wrong")
        check(code == 535, "AUTH %s with a wrong password gets 535 (got %d %r)" % (mech, code, resp))
        code, resp = auth_with(s, mech, user, pw)
        check(code == 235, "AUTH %s succeeds (got %d %r)" % (mech, code, resp))
        if code == 235:
            msg = make_message("submission auth %s" % mech)
            send_raw_and_compare(s, "SUBMISSION %s" % mech, "alice@%s" % dom, ["sub@%s" % dom], msg)
            # Authenticated clients still can't relay.
            s.rset()
            s.mail("alice@%s" % dom)
            code, _ = s.rcpt("x@elsewhere.invalid")
            check(code == 554, "SUBMISSION: no relaying even when authenticated (got %d)" % code)
        s.quit()
    check(mechs_seen is not None, "SUBMISSION AUTH list: %s" % mechs_seen)


def t_notls_auth():
    dom, user, pw = env("DOMAIN"), env("USER"), env("PASSWORD")
    s = connect("SUBMISSION_NOTLS_AUTH")
    c = caps(s)
    EHLO_REPORT["SUBMISSION_NOTLS_AUTH"] = c
    check("STARTTLS" not in c, "SUBMISSION_NOTLS_AUTH offers no STARTTLS")
    check(any(x.startswith("AUTH ") for x in c), "SUBMISSION_NOTLS_AUTH offers AUTH in cleartext")
    code, resp = auth_with(s, "PLAIN", user, pw)
    check(code == 235, "SUBMISSION_NOTLS_AUTH AUTH PLAIN in cleartext succeeds (got %d %r)" % (code, resp))
    msg = make_message("notls auth")
    send_raw_and_compare(s, "SUBMISSION_NOTLS_AUTH", "alice@%s" % dom, ["notls@%s" % dom], msg)
    s.quit()


def t_implicit():
    dom, user, pw = env("DOMAIN"), env("USER"), env("PASSWORD")
    s = connect_implicit("IMPLICIT")
    c = caps(s)
    EHLO_REPORT["IMPLICIT"] = c
    check("STARTTLS" not in c, "IMPLICIT offers no STARTTLS")
    code, resp = auth_with(s, "PLAIN", user, pw)
    check(code == 235, "IMPLICIT AUTH PLAIN succeeds (got %d %r)" % (code, resp))
    msg = make_message("implicit tls")
    send_raw_and_compare(s, "IMPLICIT", "alice@%s" % dom, ["implicit@%s" % dom], msg)
    s.quit()


BAD = {
    # listener: (expected OpenSSL verify_code, text in the message)
    "BAD_EXPIRED": (ssl.X509_V_ERR_CERT_HAS_EXPIRED if hasattr(ssl, "X509_V_ERR_CERT_HAS_EXPIRED") else 10,
                    "expired"),
    "BAD_WRONGHOST": (62, "Hostname mismatch"),
    # A self-signed leaf: OpenSSL says "self-signed certificate" (18);
    # rustls/webpki report it as UnknownIssuer.
    "BAD_UNTRUSTED": (18, "self-signed certificate"),
}


def t_bad():
    for name, (vcode, text) in BAD.items():
        for variant in ("", "_STARTTLS"):
            lname = name + variant
            try:
                if variant:
                    s = connect(lname)
                    s.ehlo("client.postel.test")
                    s.starttls(context=ctx_verify())
                else:
                    s = connect_implicit(lname)
                fail("%s: TLS verification unexpectedly succeeded" % lname)
                s.close()
            except ssl.SSLCertVerificationError as e:
                check(e.verify_code == vcode and text.lower() in e.verify_message.lower(),
                      "%s fails verification: %d %s (want %d %s)"
                      % (lname, e.verify_code, e.verify_message, vcode, text))
            # Without verification the listener works, so the certificate is the only problem.
            if variant:
                s = connect(lname)
                s.ehlo("client.postel.test")
                s.starttls(context=ctx_noverify())
            else:
                s = connect_implicit(lname, context=ctx_noverify())
            c = caps(s)
            EHLO_REPORT[lname] = c
            check(s.noop()[0] == 250, "%s works without verification" % lname)
            s.quit()


def t_clientcert():
    dom = env("DOMAIN")
    c = ctx_verify()
    c.load_cert_chain(env("CLIENT_CERT"), env("CLIENT_KEY"))
    s = connect("CLIENTCERT")
    s.ehlo("client.postel.test")
    s.starttls(context=c)
    EHLO_REPORT["CLIENTCERT after STARTTLS (with client cert)"] = caps(s)
    msg = make_message("client cert")
    send_raw_and_compare(s, "CLIENTCERT with cert", "sender@%s" % dom, ["cc@%s" % dom], msg)
    s.quit()

    s = connect("CLIENTCERT")
    s.ehlo("client.postel.test")
    s.starttls(context=ctx_verify())
    try:
        s.ehlo("client.postel.test")
        code, resp = s.mail("sender@%s" % dom)
    except (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLError) as e:
        code, resp = 0, str(e).encode()
    check(code != 250, "CLIENTCERT without a client certificate is refused (got %d %r)" % (code, resp))
    try:
        s.close()
    except Exception:  # noqa: BLE001
        pass


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", help="env file written by postfix-up.sh")
    ap.add_argument("--ehlo", action="store_true", help="print EHLO capabilities per listener")
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.verbose
    load_env(a.env)
    for t in (t_plain, t_submission, t_notls_auth, t_implicit, t_bad, t_clientcert):
        try:
            t()
        except Exception as e:  # noqa: BLE001
            fail("%s raised %s: %s" % (t.__name__, type(e).__name__, e))
    if a.ehlo:
        for k, v in EHLO_REPORT.items():
            print("%s: %s" % (k, " | ".join(v)))
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
