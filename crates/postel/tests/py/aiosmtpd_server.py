#!/usr/bin/env python3
"""aiosmtpd (an independent SMTP server) for Postel's interoperability tests.

    aiosmtpd_server.py --dir DIR [--host 127.0.0.1] [--port 0]
                       [--starttls CERT KEY [--require-starttls]]
                       [--auth USER:PASS [--auth-plaintext]]
                       [--refuse RCPT]... [--defer RCPT]... [--size N] [--no-smtputf8]
                       [--timeout SECS]

Prints "PORT <n>" on stdout once listening, then serves until stdin is closed (so a test
that dies never leaves a server behind). For each accepted message it writes, in DIR:

    NNNN.eml   the exact DATA content: dots un-stuffed, final CRLF.CRLF removed
               (aiosmtpd's envelope.original_content, nothing decoded or added)
    NNNN.json  the envelope and session: mail_from, rcpt_tos, mail_options,
               rcpt_options, smtp_utf8, helo, tls, auth (mechanism, login), connection

NNNN.json is renamed into place after NNNN.eml is complete, before the 250 is sent.
When aiosmtpd closes connection n for its idle --timeout, an empty file idle-closed-n
appears once the FIN (or TLS close_notify) has been sent.
"""

import argparse
import asyncio
import itertools
import json
import os
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOSTNAME = "aiosmtpd.postel.test"


class Handler:
    def __init__(self, out_dir, refuse, defer):
        self.out_dir = out_dir
        self.refuse = set(refuse)
        self.defer = set(defer)
        self.messages = itertools.count(1)
        self.connections = itertools.count(1)

    def connection(self, server):
        # One SMTP protocol object per TCP connection (the Session is replaced after
        # STARTTLS): number them in order of first use.
        if not hasattr(server, "postel_connection"):
            server.postel_connection = next(self.connections)
        return server.postel_connection

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connection(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        if address in self.defer:
            return "450 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.messages)
        base = os.path.join(self.out_dir, f"{n:04}")
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        auth = None
        if session.authenticated:
            login = getattr(session, "postel_login", None)
            auth = {"mechanism": getattr(session, "postel_mechanism", None), "login": login}
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "smtp_utf8": envelope.smtp_utf8,
            "helo": session.host_name,
            "tls": server._tls_protocol is not None,
            "auth": auth,
            "connection": self.connection(server),
        }
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")
        return f"250 2.0.0 Ok: queued as {n:04}"


class RecordingSMTP(SMTP):
    """Marks each idle timeout with a file, so tests wait for it instead of a clock."""

    def __init__(self, handler, **kwargs):
        super().__init__(handler, **kwargs)
        self.postel_handler = handler

    def _timeout_cb(self):
        # aiosmtpd closes an idle connection without a word (no 421): a FIN, or over TLS
        # a close_notify. The FIN leaves in a callback scheduled by close(), the
        # close_notify within it; the marker is written after both.
        super()._timeout_cb()
        n = getattr(self, "postel_connection", 0)
        path = os.path.join(self.postel_handler.out_dir, f"idle-closed-{n}")
        self.loop.call_soon(lambda: open(path, "wb").close())


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        if ok:
            session.postel_mechanism = mechanism
            session.postel_login = auth_data.login.decode()
        return AuthResult(success=ok, handled=False)

    return check


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--auth-plaintext", action="store_true",
                   help="offer and accept AUTH without TLS (auth_require_tls=False)")
    p.add_argument("--refuse", action="append", default=[], metavar="RCPT")
    p.add_argument("--defer", action="append", default=[], metavar="RCPT",
                   help="answer RCPT TO this address with 450 4.2.1")
    p.add_argument("--size", type=int, default=33554432)
    p.add_argument("--no-smtputf8", action="store_true")
    p.add_argument("--timeout", type=float, default=300,
                   help="close a connection idle this long (aiosmtpd sends no 421)")
    return p.parse_args()


def exit_when_stdin_closes():
    def wait():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=wait, daemon=True).start()


async def main(args):
    kwargs = {
        "hostname": HOSTNAME,
        "data_size_limit": args.size,
        "enable_SMTPUTF8": not args.no_smtputf8,
        "decode_data": False,
        "auth_require_tls": not args.auth_plaintext,
        "timeout": args.timeout,
    }
    if args.starttls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*args.starttls)
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = args.require_starttls
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = authenticator(user, password)
        kwargs["auth_required"] = True
    handler = Handler(args.dir, args.refuse, args.defer)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RecordingSMTP(handler, loop=loop, **kwargs), host=args.host, port=args.port
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    exit_when_stdin_closes()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
