#!/usr/bin/env python3
"""Reads messages written by postel-mime with Python's stdlib `email` package
(policy.default) and compares them with what the Rust test says went in.

Usage: check_email.py CASES_DIR. The directory holds N.eml and N.json pairs; the JSON
says: subject, from [name, addr], to [[name, addr]...], custom, shape, single, leaves
[{type, filename, text, data_b64}]. Prints one line per mismatch and a summary line;
exits 1 on any mismatch.
"""
import base64
import email
import json
import pathlib
import sys
from email import policy


def shape(part):
    if part.is_multipart():
        return part.get_content_subtype() + "(" + "".join(shape(p) for p in part.iter_parts()) + ")"
    return "."


def norm(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check(eml, want):
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    errors = []

    def same(what, got, expected):
        if got != expected:
            errors.append(f"{eml.name}: {what}: got {got!r}, want {expected!r}")

    same("subject", str(msg.get("subject", "")), want["subject"])
    # Python keeps the space between adjacent encoded words in a phrase (RFC 2047 §6.2
    # says to drop it), so display names are compared without whitespace; the
    # mail-parser test compares them exactly.
    def name(n):
        return "".join(n.split()) if n else None
    frm = msg["from"].addresses[0]
    same("from", [name(frm.display_name), frm.addr_spec], [name(want["from"][0]), want["from"][1]])
    same("to", [[name(a.display_name), a.addr_spec] for a in msg["to"].addresses],
         [[name(n), a] for n, a in want["to"]])
    same("custom header", str(msg["x-custom"]), want["custom"])
    same("no Bcc header", msg["bcc"], None)
    same("shape", shape(msg), want["shape"])
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    same("leaf count", len(leaves), len(want["leaves"]))
    for i, (part, w) in enumerate(zip(leaves, want["leaves"])):
        same(f"leaf {i} type", part.get_content_type(), w["type"])
        same(f"leaf {i} filename", part.get_filename(), w["filename"])
        data = base64.b64decode(w["data_b64"])
        content = part.get_content()
        if w["text"]:
            got = norm(content if isinstance(content, str) else content.decode("utf-8"))
            expected = norm(data.decode("utf-8"))
            if want["single"] and got == expected + "\n":
                got = expected
            same(f"leaf {i} text", got, expected)
        else:
            same(f"leaf {i} bytes", content if isinstance(content, bytes) else content.encode(), data)
        for d in part.defects:
            errors.append(f"{eml.name}: leaf {i} defect {d!r}")
    for d in msg.defects:
        errors.append(f"{eml.name}: defect {d!r}")
    return errors


def main():
    cases = sorted(pathlib.Path(sys.argv[1]).glob("*.eml"))
    failed = 0
    for eml in cases:
        want = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
        errors = check(eml, want)
        if errors:
            failed += 1
            for e in errors:
                print(e)
    print(f"python email: {len(cases) - failed} messages matched, {failed} did not")
    sys.exit(1 if failed or not cases else 0)


if __name__ == "__main__":
    main()
