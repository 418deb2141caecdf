"""Send a body with bare LFs (smtplib would fix them in sendmail, so write it raw).

usage: smtplib_bare_lf.py HOST PORT strict|lenient
"""
import smtplib
import sys

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP(host, port, timeout=10)
s.ehlo("smtplib.test")
assert s.docmd("MAIL", "FROM:<a@smtplib.test>")[0] == 250
assert s.docmd("RCPT", "TO:<b@mx.test>")[0] == 250
assert s.docmd("DATA")[0] == 354
s.send(b"Subject: bare\n\nline one\nline two\n.\n")
code, msg = s.getreply()
if mode == "strict":
    assert (code, msg) == (550, b"5.5.2 mx.sim.test Error: bare <LF> received"), (code, msg)
else:
    assert code == 250, (code, msg)
    s.quit()
print("ok")
