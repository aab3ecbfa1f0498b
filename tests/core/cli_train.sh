#!/bin/sh
# `ltrain train` and `ltrain test` command lines (one parser, lt_cli_parse):
# usage errors exit 2 with their message; test --json / --view / -v on a
# trained checkpoint; --resume CKPT (an optional value) followed by
# overrides continues a finished run with more epochs, and --resume without
# CKPT treats the next words as overrides; a killed run keeps its logs.
#
# Usage: cli_train.sh SOURCE_ROOT LTRAIN_EXE
set -eu
src=$1
ltrain=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ltrain-cli-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "cli_train: $*" >&2; exit 1; }
cd "$tmp"

# expect_usage WANT_MESSAGE ARGS...: exit status 2 and the message on stderr.
expect_usage() {
    want=$1
    shift
    status=0
    "$ltrain" "$@" >/dev/null 2>err.txt || status=$?
    [ "$status" = 2 ] || fail "'$*' exited $status, expected 2: $(cat err.txt)"
    grep -qF -- "$want" err.txt || fail "'$*': no '$want' in: $(cat err.txt)"
}

cfg="$src/configs/demo.yaml"
expect_usage "--config FILE is required" train
expect_usage "unknown option '--frobnicate'" train --config "$cfg" --frobnicate
expect_usage "option '--config' needs a value" test --config
expect_usage "override 'trainer.epochs' has no value" train --config "$cfg" trainer.epochs
expect_usage "--resume and --weights exclude each other" train --config "$cfg" --resume --weights x.safetensors
expect_usage "--view must be train, val or test, not 'nope'" test --config "$cfg" --view nope
expect_usage "unknown option '--json'" train --config "$cfg" --json
expect_usage "unknown option '--resume'" test --config "$cfg" --resume
"$ltrain" train --help | grep -q "^Usage: ltrain train" || fail "train --help"
"$ltrain" test -h | grep -q "^Usage: ltrain test" || fail "test -h"

small="trainer.batch_size 8 loader.params.n_train 32 loader.params.n_val 16 loader.params.n_test 16
       trainer.n_log_images 2 tracker.save_directory $tmp/runs"
# shellcheck disable=SC2086  # $small is a list of KEY VALUE words
"$ltrain" train --config "$cfg" trainer.epochs 1 $small >train.txt 2>&1 || fail "train failed: $(cat train.txt)"
weights=$(ls "$tmp"/runs/0-*/last.safetensors) || fail "no last.safetensors: $(cat train.txt)"

# shellcheck disable=SC2086
"$ltrain" test --config "$cfg" $small --weights "$weights" --json -v >test.json 2>test.err || fail "test --json"
grep -q '^{"test/loss": [0-9.e+-]*, "test/metric/ClassificationHead/' test.json || fail "test --json: $(cat test.json)"
grep -q "^ltrain: default: " test.err || fail "-v listed no defaults: $(cat test.err)"
# shellcheck disable=SC2086
"$ltrain" test --config "$cfg" $small --weights "$weights" --view val >val.txt || fail "test --view val"
grep -q "^val/loss " val.txt || fail "test --view val: $(cat val.txt)"

# --resume CKPT then overrides: epoch 2 of 2 in a new run directory.
# shellcheck disable=SC2086
"$ltrain" train --config "$cfg" --resume "$weights" trainer.epochs 2 $small >resume.txt 2>&1 ||
    fail "resume failed: $(cat resume.txt)"
grep -q "^resuming at epoch 2" resume.txt || fail "no resume line: $(cat resume.txt)"
grep -q "^epoch 2/2 " resume.txt || fail "no epoch 2/2: $(cat resume.txt)"
grep -q "\[INFO\] resuming at epoch 2" "$tmp"/runs/1-*/luxonis_train.log || fail "resume not in the run's log"
# the end of a run says where its checkpoints are, and they exist
best=$(sed -n 's/^best checkpoint (main metric): //p' resume.txt)
last=$(sed -n 's/^last checkpoint: //p' resume.txt)
[ -f "$best" ] && [ -f "$last" ] || fail "checkpoint lines name no files: $(cat resume.txt)"
# --resume without CKPT: 'trainer.epochs' is an override; the newest run of
# this config (epochs 3: none) is looked for.
status=0
# shellcheck disable=SC2086
"$ltrain" train --config "$cfg" --resume trainer.epochs 3 $small >/dev/null 2>err.txt || status=$?
[ "$status" = 1 ] || fail "--resume without a run exited $status: $(cat err.txt)"
grep -q "no run under '$tmp/runs' has this config" err.txt || fail "--resume message: $(cat err.txt)"
# A killed run (SIGKILL: no chance to flush) keeps its log up to the last epoch.
# shellcheck disable=SC2086
"$ltrain" train --config "$cfg" trainer.epochs 50 $small tracker.run_name killed >/dev/null 2>&1 &
pid=$!
tries=0
until grep -q "\[INFO\] epoch 1/50 " "$tmp"/runs/*-killed/luxonis_train.log 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 1500 ] || { kill -9 "$pid"; fail "no epoch line after 300 s"; }
    sleep 0.2
done
kill -9 "$pid"
wait "$pid" || true
grep -q "^train/loss,[0-9.e+-]*,0$" "$tmp"/runs/*-killed/metrics.csv || fail "killed run lost metrics.csv rows"
echo "cli_train: ok"
