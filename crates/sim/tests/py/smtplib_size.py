"""SIZE refusal seen by smtplib: it declares SIZE=n itself, and the server refuses it.

usage: smtplib_size.py HOST PORT
"""
import smtplib
import sys

host, port = sys.argv[1], int(sys.argv[2])
s = smtplib.SMTP(host, port, timeout=10)
s.ehlo("smtplib.test")
assert s.esmtp_features["size"] == "1000", s.esmtp_features
try:
    s.sendmail("a@smtplib.test", ["b@mx.test"], b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n")
except smtplib.SMTPSenderRefused as e:
    assert (e.smtp_code, e.smtp_error) == (552, b"5.3.4 Message size exceeds fixed limit"), e
else:
    raise AssertionError("a message over the SIZE limit was accepted")
s.sendmail("a@smtplib.test", ["b@mx.test"], b"Subject: small\r\n\r\nok\r\n")
s.quit()
print("ok")
