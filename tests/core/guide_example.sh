#!/bin/sh
# The guide's complete example compiles as written and loads: extracts the
# C block between the guide-example markers of docs/writing-a-plugin.md,
# builds it as a plugin against the SDK with -Wall -Wextra -Werror, and
# checks that `ltrain plugins` registers its three components.
#
# Usage: guide_example.sh SOURCE_ROOT BUILD_ROOT LTRAIN_EXE CC
set -eu
src=$1 build=$2 ltrain=$3 cc=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ltrain-guide.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "guide_example: $*" >&2; exit 1; }

sed -n '/<!-- guide-example: begin -->/,/<!-- guide-example: end -->/p' "$src/docs/writing-a-plugin.md" |
    sed '/^<!--/d; /^```/d' >"$tmp/guide_example.c"
[ -s "$tmp/guide_example.c" ] || fail "no example between the markers in docs/writing-a-plugin.md"

$cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -I"$src/include" "$tmp/guide_example.c" \
    -L"$build/sdk" -lltrain -Wl,-rpath,"$build/sdk" -o "$tmp/guide_example.so" ||
    fail "the guide's example does not compile"

"$ltrain" plugins --plugin-path "$tmp" >"$tmp/out.txt" 2>"$tmp/err.txt" || fail "ltrain plugins failed: $(cat "$tmp/err.txt")"
for name in PoolHead SimpleCrossEntropy SimpleAccuracy; do
    grep -q "$name .*guide_example" "$tmp/out.txt" || fail "$name not listed: $(cat "$tmp/out.txt" "$tmp/err.txt")"
done
if grep -q guide_example "$tmp/err.txt"; then fail "load problem: $(cat "$tmp/err.txt")"; fi
echo "guide example: compiled and registered PoolHead, SimpleCrossEntropy, SimpleAccuracy"
