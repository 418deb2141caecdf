#!/usr/bin/env python3
"""A tiny authoritative DNS server for DKIM tests: answers TXT queries for the names
given, NXDOMAIN for everything else (dnspython, a dependency of python3-dkim).

    dkim-dns.py ADDR PORT NAME=TXT [NAME=TXT ...]

Prints `READY` once listening; exits when stdin closes. Used by scripts/dkim-opendkim.sh
inside a private network namespace, where it is the only resolver.
"""
import socket
import sys
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def txt_strings(value):
    # A TXT record holds strings of at most 255 octets; long keys are split.
    b = value.encode()
    return " ".join('"%s"' % b[i : i + 255].decode() for i in range(0, len(b), 255))


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    records = {}
    for arg in sys.argv[3:]:
        name, _, txt = arg.partition("=")
        records[name.lower().rstrip(".") + "."] = txt
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    print("READY", flush=True)

    def serve():
        while True:
            data, peer = sock.recvfrom(4096)
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            question = q.question[0]
            name = question.name.to_text().lower()
            if question.rdtype == dns.rdatatype.TXT and name in records:
                r.answer.append(
                    dns.rrset.from_text(
                        question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT,
                        txt_strings(records[name]),
                    )
                )
            elif name not in records:
                r.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(r.to_wire(), peer)

    threading.Thread(target=serve, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
