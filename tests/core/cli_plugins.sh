#!/bin/sh
# `ltrain` dispatch and `ltrain plugins` on the loader's test plugins:
# listing grouped by kind with tasks, plugin and file; one stderr line per
# broken plugin; exit 0 despite them; --json; usage errors exit 2.
#
# Usage: cli_plugins.sh LTRAIN_EXE LOADER_PLUGINS_DIR
set -eu

ltrain=$1 dir=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ltrain-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "cli_plugins: $*" >&2; exit 1; }
# Nothing but what the test names: no user plugins, no environment path.
export XDG_DATA_HOME="$tmp/xdg"
unset LTRAIN_PLUGIN_PATH

expect_in() { # FILE PATTERN WHAT
    grep -q -- "$2" "$1" || { cat "$1" >&2; fail "$3"; }
}

# ---- dispatch ----
"$ltrain" --version >"$tmp/out"
expect_in "$tmp/out" '^ltrain [0-9]*\.[0-9]*\.[0-9]* (plugin ABI [0-9]*)$' "--version"
"$ltrain" --help >"$tmp/out"
expect_in "$tmp/out" '^  plugins ' "--help lists the plugins command"
"$ltrain" help plugins >"$tmp/out"
expect_in "$tmp/out" 'Usage: ltrain plugins' "help plugins"
"$ltrain" plugins --help >"$tmp/out"
expect_in "$tmp/out" 'LTRAIN_PLUGIN_PATH' "plugins --help explains the search path"

status=0; "$ltrain" plugin >/dev/null 2>"$tmp/err" || status=$?
[ "$status" = 2 ] || fail "unknown command exits $status, expected 2"
expect_in "$tmp/err" "unknown command 'plugin' (did you mean 'plugins'?)" "did you mean for commands"
status=0; "$ltrain" >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "no command exits $status, expected 2"
status=0; "$ltrain" plugins --frobnicate >/dev/null 2>"$tmp/err" || status=$?
[ "$status" = 2 ] || fail "unknown option exits $status, expected 2"
status=0; "$ltrain" plugins --plugin-path >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "--plugin-path without a value exits $status, expected 2"

# ---- listing ----
"$ltrain" plugins --plugin-path "$dir/good" --plugin-path="$dir/bad" >"$tmp/out" 2>"$tmp/err" ||
    fail "plugins exited $? with broken plugins on the path"
for heading in 'Nodes (' 'Tasks (' 'Losses (' 'Metrics (' 'Visualizers ('; do
    expect_in "$tmp/out" "^$heading" "heading $heading"
done
expect_in "$tmp/out" "LoaderTestNet  *backbone .*loader_good  *$dir/good/loader_good.so" "node row"
expect_in "$tmp/out" "LoaderTestHead  *head  *distance " "head row with its task"
expect_in "$tmp/out" "distance  *boundingbox, metadata/distance (float|int)  *boundingbox  *boundingbox " \
    "task row with resolved labels, main output and base"
expect_in "$tmp/out" "classification  *classification  *classification .*core  *(built in)" "built-in task row"
expect_in "$tmp/out" "LoaderTestLoss  *distance, boundingbox  .*loader_good" "loss row with supported tasks"
expect_in "$tmp/out" "LoaderTestMetric  *any  *LoaderTestHead " "metric row with its node"
expect_in "$tmp/out" "Valid_ok_neighbour" "the valid neighbour of the broken plugins"
if grep -q "Valid_null_forward" "$tmp/out"; then fail "a broken plugin's descriptor is listed"; fi
expect_in "$tmp/err" "^ltrain: $dir/bad/null_forward.so: lt_plugin_entry(): descriptors\[1\] (node 'NullForwardNet'): forward is NULL; plugin skipped$" \
    "stderr names file, descriptor and reason"
[ "$(grep -c 'plugin skipped$' "$tmp/err")" -ge 20 ] || { cat "$tmp/err" >&2; fail "one line per broken plugin"; }

# LTRAIN_PLUGIN_PATH is honoured, after --plugin-path.
LTRAIN_PLUGIN_PATH="$dir/shadow" "$ltrain" plugins --plugin-path "$dir/good" >"$tmp/out" 2>"$tmp/err"
expect_in "$tmp/out" "ShadowOnlyLoss" "a plugin from LTRAIN_PLUGIN_PATH"
expect_in "$tmp/err" "node 'LoaderTestNet' is shadowed by the one of plugin 'loader_good'" "shadowing reported"
expect_in "$tmp/err" "^ltrain: warning: loss 'ShadowOnlyLoss' of plugin 'loader_shadow' ($dir/shadow/loader_shadow.so): unknown task 'segmentaton' (did you mean 'segmentation'?)$" \
    "a module naming an unknown task is warned about"

# ---- JSON ----
"$ltrain" plugins --json --plugin-path "$dir/good" >"$tmp/out.json" 2>/dev/null
expect_in "$tmp/out.json" '"kind": "task", "name": "distance", "plugin": "loader_good"' "JSON task entry"
expect_in "$tmp/out.json" '"required_labels": \[{"name": "boundingbox"}, {"name": "distance", "metadata_types": \["float", "int"\]}\]' \
    "JSON resolved labels"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert any(e["name"] == "LoaderTestNet" for e in d["entries"])' \
        "$tmp/out.json" || fail "--json output is not valid JSON"
fi
echo "cli_plugins: ok"
