#!/bin/sh
# Out-of-tree plugin check: installs ltrain into a scratch DESTDIR, builds a
# one-file plugin with nothing but `cc -shared -fPIC x.c $(pkg-config
# --cflags --libs ltrain)`, and checks that the installed `ltrain plugins`
# finds it through LTRAIN_PLUGIN_PATH.
#
# Usage: out_of_tree.sh BUILD_DIR PREFIX LIBDIR BINDIR
set -eu

build=$1 prefix=$2 libdir=$3 bindir=$4
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
case $bindir in /*) ;; *) bindir=$prefix/$bindir ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ltrain-oot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "out_of_tree: $*" >&2; exit 1; }

# ---- install ----
meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install failed"; }
root=$tmp/root
pcdir=$root$libdir/pkgconfig
[ -f "$pcdir/ltrain.pc" ] || fail "no ltrain.pc under $pcdir"
[ -x "$root$bindir/ltrain" ] || fail "no ltrain executable under $root$bindir"

# The .pc names the real prefix; the sysroot maps its -I/-L into DESTDIR.
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$pcdir"
pluginsdir=$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=pluginsdir ltrain)
[ "$pluginsdir" = "$libdir/ltrain/plugins" ] ||
    fail "ltrain.pc pluginsdir is '$pluginsdir', expected '$libdir/ltrain/plugins'"

# ---- a plugin written and built the way a user would ----
mkdir -p "$tmp/src" "$tmp/plugins"
cat >"$tmp/src/x.c" <<'C'
#include <ltrain/plugin.h>

static lt_tensor *l1_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    (void)m;
    return lt_mean(lt_abs(lt_sub(predictions, target)), NULL, 0, false);
}

static const lt_loss_desc out_of_tree_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "OutOfTreeL1Loss"),
    .supported_tasks = (const char *const[]){"segmentation", NULL},
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {"target", LT_ARG_TENSOR, 0}, {0}},
    .forward = LT_FN(l1_forward),
};

LT_PLUGIN("out_of_tree", "0.1", &out_of_tree_loss.header)
C
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
${CC:-cc} -shared -fPIC "$tmp/src/x.c" -o "$tmp/plugins/out_of_tree.so" $(pkg-config --cflags --libs ltrain) ||
    fail "the plugin does not build with pkg-config alone"

# ---- the installed ltrain finds it ----
export LD_LIBRARY_PATH="$root$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LTRAIN_PLUGIN_PATH="$tmp/plugins" XDG_DATA_HOME="$tmp/xdg"
"$root$bindir/ltrain" plugins >"$tmp/list.txt" 2>"$tmp/err.txt" ||
    { cat "$tmp/err.txt" >&2; fail "ltrain plugins exited with $?"; }
grep -q "OutOfTreeL1Loss .*out_of_tree .*$tmp/plugins/out_of_tree.so" "$tmp/list.txt" ||
    { cat "$tmp/list.txt" "$tmp/err.txt" >&2; fail "ltrain plugins does not list OutOfTreeL1Loss from the plugin"; }
if grep -q "out_of_tree.so" "$tmp/err.txt"; then
    cat "$tmp/err.txt" >&2
    fail "loading the out-of-tree plugin reported a problem"
fi
"$root$bindir/ltrain" plugins --json >"$tmp/list.json" 2>/dev/null
grep -q '"name": "OutOfTreeL1Loss", "plugin": "out_of_tree"' "$tmp/list.json" ||
    { cat "$tmp/list.json" >&2; fail "ltrain plugins --json does not list OutOfTreeL1Loss"; }
echo "out_of_tree: ok (pluginsdir=$pluginsdir)"
