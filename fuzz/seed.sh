#!/usr/bin/env bash
# Seeds both corpora with the server side of every transcript (escapes left as written).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/reply corpus/session
for f in ../testdata/transcripts/*.smtp; do
    name=$(basename "$f" .smtp)
    server=$(grep '^S:' "$f" | sed -e 's/^S: \{0,1\}//' -e 's/$/\r/' || true)
    printf '\x35%s\n' "$server" > "corpus/reply/$name"
    printf '\x1d\x10%s\n' "$server" > "corpus/session/$name"
done
echo "seeded $(ls corpus/reply | wc -l) transcripts"
