#!/bin/sh
# `ltrain inspect` and `ltrain infer` end to end on the demo config, shrunk:
# train one epoch, inspect (resolved config, graph, sample picture), then
# infer on three single-sample PNGs written by inspect plus a corrupt file,
# which must be reported by path while the others are still drawn.
#
# Usage: infer_inspect.sh SOURCE_ROOT LTRAIN_EXE
set -eu
src=$1
ltrain=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") # absolute: the test runs in a temporary directory
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ltrain-infer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "infer_inspect: $*" >&2; exit 1; }
# Sanitizer reports (an ASan build) would otherwise pass as the expected exit status 1.
clean() { if grep -q "Sanitizer\|runtime error" "$@"; then fail "sanitizer report: $(cat "$@")"; fi; }
cd "$tmp"

cfg="$src/configs/demo.yaml"
small="trainer.epochs 1 trainer.batch_size 8 loader.params.n_train 64 loader.params.n_val 16
       loader.params.n_test 16 tracker.save_directory $tmp/runs"
# shellcheck disable=SC2086  # $small is a list of KEY VALUE words
"$ltrain" train --config "$cfg" $small >train.txt 2>&1 || fail "train failed: $(cat train.txt)"
weights=$(ls "$tmp"/runs/*/last.safetensors) || fail "no last.safetensors: $(cat train.txt)"
run=$(dirname "$weights")
# The run's logs: every printed line, stamped as luxonis-ml's file sink; scalars as name,value,step.
grep -q "^[0-9-]* [0-9:]* \[INFO\] config: $cfg$" "$run/luxonis_train.log" || fail "no config line: $(cat "$run/luxonis_train.log")"
grep -q "^[0-9-]* [0-9:]* \[INFO\] epoch 1/1  train/loss " "$run/luxonis_train.log" || fail "no epoch line in the log"
head -1 "$run/metrics.csv" | grep -qx "name,value,step" || fail "metrics.csv header: $(head -1 "$run/metrics.csv")"
grep -q "^val/loss,[0-9.e+-]*,0$" "$run/metrics.csv" || fail "no val/loss at step 0: $(cat "$run/metrics.csv")"
# n_log_images (4) pictures per head and evaluation, named by their counter.
for view_epoch in val/0 test/1; do
    n=$(find "$run/visualizations/${view_epoch%/*}" -path "*/${view_epoch#*/}/*.png" | wc -l)
    [ "$n" = 4 ] || fail "$n pictures for $view_epoch, expected trainer.n_log_images = 4"
done

# inspect: config, graph with shapes and parameter counts, a PNG of samples.
# shellcheck disable=SC2086
"$ltrain" inspect --config "$cfg" $small --save-path "$tmp/inspect/samples.png" >inspect.txt 2>err.txt ||
    fail "inspect failed: $(cat err.txt)"
for want in '^# resolved config' '^model:' '^trainer:' '^# model graph' '^  ResNet (ResNet' \
    '^  ClassificationHead (ClassificationHead)' 'inputs: ResNet' 'attach_index: -1' \
    'classification *\[8,4\]' 'features *list of 4: \[8,64,' '^    parameters: 2052$' \
    '^# parameters: [0-9]* total' "samples: $tmp/inspect/samples.png"; do
    grep -q "$want" inspect.txt || fail "inspect output lacks '$want':
$(cat inspect.txt)"
done
[ -s inspect/samples.png ] || fail "inspect wrote no picture"
"$ltrain" inspect --config "$cfg" --view nope >/dev/null 2>err.txt && fail "--view nope accepted"
grep -q "view must be train, val or test" err.txt || fail "bad --view message: $(cat err.txt)"
"$ltrain" inspect --help | grep -q "Usage: ltrain inspect" || fail "inspect --help"

# Three different single-sample pictures (one test sample of each seed).
mkdir images
for seed in 1 2 3; do
    # shellcheck disable=SC2086
    "$ltrain" inspect --config "$cfg" $small --view test loader.params.n_test 1 trainer.seed $seed \
        --save-path "images/sample_$seed.png" >/dev/null 2>err.txt || fail "inspect seed $seed: $(cat err.txt)"
done
printf 'not an image' >images/sample_0_corrupt.png
printf 'ignored' >images/notes.txt

# infer: the corrupt file is named and skipped (exit status 1), the three
# others are drawn in one batch.
set +e
# shellcheck disable=SC2086
"$ltrain" infer --config "$cfg" $small --weights "$weights" --source-path images --save-dir "$tmp/pics" \
    >infer.txt 2>err.txt
rc=$?
set -e
clean err.txt
[ $rc -eq 1 ] || fail "infer exit status $rc, expected 1 (one corrupt image): $(cat infer.txt err.txt)"
grep -q "images/sample_0_corrupt.png" err.txt || fail "corrupt image not reported by path: $(cat err.txt)"
pic="$tmp/pics/ClassificationHead/ClassificationVisualizer_0.png"
grep -qx "$pic" infer.txt || fail "infer did not print $pic: $(cat infer.txt)"
[ "$(wc -l <infer.txt)" -eq 1 ] || fail "expected one picture: $(cat infer.txt)"
[ -s "$pic" ] || fail "$pic missing"

# A single good file: exit status 0.
# shellcheck disable=SC2086
"$ltrain" infer --config "$cfg" $small --weights "$weights" --source-path images/sample_2.png \
    --save-dir "$tmp/one" >infer1.txt 2>err.txt || fail "infer on one image: $(cat err.txt)"
[ -s "$tmp/one/ClassificationHead/ClassificationVisualizer_0.png" ] || fail "no picture for one image"

"$ltrain" infer --config "$cfg" --source-path images >/dev/null 2>err.txt && fail "missing --save-dir accepted"
grep -q -- "--save-dir DIR is required" err.txt || fail "missing --save-dir message: $(cat err.txt)"
"$ltrain" infer --config "$cfg" --source-path "$tmp/none" --save-dir x >/dev/null 2>err.txt &&
    fail "missing source accepted"
grep -q "$tmp/none" err.txt || fail "missing source not named: $(cat err.txt)"
"$ltrain" infer --help | grep -q "Usage: ltrain infer" || fail "infer --help"
clean ./*.txt
echo "infer_inspect: inspect printed the graph and drew samples; infer drew $pic"
