#!/usr/bin/env python3
"""Python's smtplib, one cold submission, for postel-bench's cold section.

Connect, EHLO, STARTTLS trusting only --ca, EHLO, AUTH PLAIN with its initial response
(what SMTP.login does when the server offers only PLAIN), one 1 kB message composed with
email.message.EmailMessage, then leave without waiting for QUIT's reply: the harness times
the run from its proxy, up to the message's reply.
"""
import argparse
import os
import smtplib
import ssl
from email.message import EmailMessage

FROM = "sender@example.test"
EHLO_NAME = "bench.example.test"
SUBJECT = "Postel benchmark message"
WORDS = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "


def body_text(length):
    """The same text as postel-bench's message::body_text."""
    out = bytearray()
    col = i = 0
    while len(out) < length:
        if col == 71 or len(out) + 1 == length:
            out += b"\n"
            col = 0
        else:
            out.append(WORDS[i % len(WORDS)])
            i += 1
            col += 1
    return out.decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    a = p.parse_args()
    host, port = a.addr.rsplit(":", 1)
    msg = EmailMessage()
    msg["From"] = FROM
    msg["To"] = "rcpt1@example.test"
    msg["Subject"] = SUBJECT
    msg.set_content(body_text(1000))
    ctx = ssl.create_default_context(cafile=a.ca)
    s = smtplib.SMTP(host, int(port), local_hostname=EHLO_NAME)
    s.starttls(context=ctx)
    s.login(a.user, a.password)
    s.send_message(msg)
    # The message's reply is in: leave without QUIT.
    os._exit(0)


if __name__ == "__main__":
    main()
