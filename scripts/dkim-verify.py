#!/usr/bin/env python3
"""Verify every DKIM-Signature of a message with dkimpy (Debian's python3-dkim), the
public keys given on the command line instead of looked up in DNS.

    dkim-verify.py MESSAGE NAME=TXT [NAME=TXT ...]

NAME is `selector._domainkey.domain`, TXT the record's value (`v=DKIM1; k=...; p=...`).
Prints one line per signature, `PASS d=... s=... a=...` or `FAIL ...`, and exits 0 when
every signature verifies, 1 when one does not, 2 on bad usage. Used by
crates/cli/tests/dkim.rs.
"""
import logging
import sys

import dkim


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    message = open(sys.argv[1], "rb").read()
    keys = {}
    for arg in sys.argv[2:]:
        name, _, txt = arg.partition("=")
        keys[name.lower().rstrip(".")] = txt.encode()

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return keys.get(name.lower().rstrip("."))

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    d = dkim.DKIM(message, logger=logging.getLogger("dkimpy"))
    count = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    if count == 0:
        print("FAIL no DKIM-Signature")
        return 1
    ok = True
    for i in range(count):
        try:
            good = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            print(f"FAIL signature {i}: {e}")
            good = False
        sig = d.signature_fields if hasattr(d, "signature_fields") else {}
        tags = " ".join(
            f"{k.decode()}={sig[k].decode()}" for k in (b"d", b"s", b"a") if k in sig
        )
        print(("PASS " if good else "FAIL ") + tags)
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
