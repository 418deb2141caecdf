"""STARTTLS with the simulator's generated CA, then AUTH with one mechanism.

usage: smtplib_tls_auth.py HOST PORT CA_FILE MECHANISM [implicit]
"""
import base64
import hashlib
import hmac
import os
import smtplib
import ssl
import sys

host, port, cafile, mech = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
implicit = len(sys.argv) > 5 and sys.argv[5] == "implicit"
ctx = ssl.create_default_context(cafile=cafile)

if implicit:
    s = smtplib.SMTP_SSL(host, port, context=ctx, timeout=10)
    s.ehlo("smtplib.test")
else:
    s = smtplib.SMTP(host, port, timeout=10)
    s.ehlo("smtplib.test")
    assert "auth" not in s.esmtp_features, "AUTH must wait for TLS"
    code, _ = s.starttls(context=ctx)
    assert code == 220, code
    s.ehlo("smtplib.test")
    # A second STARTTLS is refused the way Postfix refuses it.
    code, msg = s.docmd("STARTTLS")
    assert (code, msg) == (554, b"5.5.1 Error: TLS already active"), (code, msg)
assert mech in s.esmtp_features["auth"].split(), s.esmtp_features

s.user, s.password = "alice", "secret"


def xoauth2(challenge=None):
    if challenge is None:
        return "user=alice\x01auth=Bearer token-1\x01\x01"
    return ""


class Scram:
    """RFC 5802 / 7677 client, no channel binding."""

    def __init__(self):
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=alice,r={self.cnonce}"
        self.expect = None

    def __call__(self, challenge=None):
        if challenge is None:
            return "n,," + self.first_bare
        text = challenge.decode()
        if text.startswith("v="):
            assert base64.b64decode(text[2:]) == self.expect, "bad server signature"
            return ""
        attrs = dict(a.split("=", 1) for a in text.split(","))
        assert attrs["r"].startswith(self.cnonce)
        salt, it = base64.b64decode(attrs["s"]), int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", b"secret", salt, it)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{text},{without_proof}".encode()
        sig = hmac.new(stored, auth_message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        self.expect = hmac.new(server_key, auth_message, "sha256").digest()
        return without_proof + ",p=" + base64.b64encode(proof).decode()


authobject = {
    "PLAIN": s.auth_plain,
    "LOGIN": s.auth_login,
    "CRAM-MD5": s.auth_cram_md5,
    "XOAUTH2": xoauth2,
    "SCRAM-SHA-256": Scram(),
}[mech]
code, msg = s.auth(mech, authobject)
assert (code, msg) == (235, b"2.7.0 Authentication successful"), (code, msg)
s.sendmail("alice@smtplib.test", ["b@mx.test"], f"Subject: {mech}\r\n\r\nover TLS\r\n".encode())
s.quit()
print("ok")
