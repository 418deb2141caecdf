#!/usr/bin/env python3
"""Python's smtplib as a benchmark contender, for postel-bench.

Same options and the same RESULT line as `postel-bench client NAME`: compose each message
with email.message.EmailMessage (the standard library's composer), send it with
SMTP.send_message over connections kept open, one thread per connection; with --ca, each
connection says STARTTLS first.
"""
import argparse
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage

FROM = "sender@example.test"
EHLO_NAME = "bench.example.test"
SUBJECT = "Postel benchmark message"
WORDS = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "


def body_text(length):
    """The same text as postel-bench's message::body_text: 72-column lines of words."""
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


def vm_hwm_kib():
    """Peak RSS of this process (VmHWM), as the Rust contenders report it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def compose(rcpts, text, attachment):
    msg = EmailMessage()
    msg["From"] = FROM
    msg["To"] = ", ".join(rcpts)
    msg["Subject"] = SUBJECT
    msg.set_content(text)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream",
                           filename="data.bin")
    return msg


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--rcpts", type=int, default=1)
    p.add_argument("--body", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--max", type=int, default=2**63)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--attach", type=int, default=0)
    p.add_argument("--ca", default=None, help="STARTTLS, trusting only this CA file")
    a = p.parse_args()
    host, port = a.addr.rsplit(":", 1)
    rcpts = [f"rcpt{i}@example.test" for i in range(1, a.rcpts + 1)]
    text = body_text(a.body)
    limit = 1 if a.attach else a.max

    lock = threading.Lock()
    state = {"taken": 0, "sent": 0, "start": None}
    ready = threading.Barrier(a.conns)
    errors = []

    def take():
        with lock:
            if state["start"] is None:
                state["start"] = time.perf_counter()
            if time.perf_counter() - state["start"] >= a.seconds:
                return False
            state["taken"] += 1
            return state["taken"] <= limit

    def worker():
        try:
            # Made before the timed phase: smtplib needs the attachment in memory.
            attachment = None
            if a.attach:
                attachment = __import__("random").Random(1).randbytes(a.attach)
            s = smtplib.SMTP(host, int(port), local_hostname=EHLO_NAME)
            if a.ca:
                s.starttls(context=ssl.create_default_context(cafile=a.ca))
            s.send_message(compose(rcpts, text, None))
            ready.wait()
            while take():
                s.send_message(compose(rcpts, text, attachment))
                attachment = None
                with lock:
                    state["sent"] += 1
            s.quit()
        except Exception as e:  # reported, and the exit status says it failed
            errors.append(e)
            ready.abort()

    threads = [threading.Thread(target=worker) for _ in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"smtplib: {errors[0]!r}")
    secs = time.perf_counter() - state["start"]
    print(f"RESULT msgs={state['sent']} secs={secs:.6f} hwm={vm_hwm_kib()}")


if __name__ == "__main__":
    main()
