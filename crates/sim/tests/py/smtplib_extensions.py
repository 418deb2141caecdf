"""Send through every extension with Python's smtplib (stdlib), as an independent client.

usage: smtplib_extensions.py HOST PORT
"""
import smtplib
import sys

host, port = sys.argv[1], int(sys.argv[2])

s = smtplib.SMTP(host, port, timeout=10)
code, _ = s.ehlo("smtplib.test")
assert code == 250, code
for ext in ["pipelining", "size", "8bitmime", "smtputf8", "chunking", "dsn",
            "enhancedstatuscodes", "starttls", "auth"]:
    assert s.has_extn(ext), ext

# 8BITMIME + DSN (RET, ENVID, NOTIFY, ORCPT); smtplib adds SIZE= itself.
body = "Subject: dsn\r\n\r\nGrüße\r\n".encode("utf-8")
refused = s.sendmail(
    "a@smtplib.test",
    ["b@mx.test", "c@mx.test"],
    body,
    mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=env+2B1"],
    rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@mx.test"],
)
assert refused == {}, refused

# SMTPUTF8: a UTF-8 sender and recipient.
s.sendmail("jöran@smtplib.test", ["用户@例子.test"], "Subject: utf8\r\n\r\nhi\r\n".encode("utf-8"),
           mail_options=["SMTPUTF8", "BODY=8BITMIME"])

# A recipient scripted to be refused does not stop the others (RFC 5321 §3.3).
refused = s.sendmail("a@smtplib.test", ["ok@mx.test", "nobody@mx.test"], b"Subject: partial\r\n\r\nx\r\n")
assert refused == {"nobody@mx.test": (550, b"5.1.1 <nobody@mx.test>: Recipient address rejected")}, refused

# A bad NOTIFY is refused with 501.
code, msg = s.docmd("MAIL", "FROM:<a@smtplib.test>")
assert code == 250, (code, msg)
code, msg = s.docmd("RCPT", "TO:<b@mx.test> NOTIFY=NEVER,DELAY")
assert (code, msg) == (501, b"5.5.4 Bad NOTIFY parameter syntax"), (code, msg)
s.rset()

s.quit()
print("ok")
