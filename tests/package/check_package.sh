#!/usr/bin/env bash
# Builds the .deb with CPack and checks it as a user's machine would see it: metadata and
# dependencies, the file list, the desktop entry and AppStream metainfo, and the installed
# programs run from a scratch root (dpkg -x) on their own installed files, not the source tree.
#
# usage: check_package.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD="$1"; SRC="$2"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack failed"; }
DEB="$(ls "$WORK"/out/*.deb)"
echo "package: $(basename "$DEB") $(du -h "$DEB" | cut -f1)"

info="$(dpkg-deb -I "$DEB")"
for dep in libtorch libopenblas0-pthread libqt6widgets6 libqcustomplot; do
  grep -q "Depends:.*$dep" <<<"$info" || fail "Depends has no $dep"$'\n'"$info"
done

contents="$(dpkg-deb -c "$DEB" | awk '{print $6}')"
for f in ./usr/bin/attnx ./usr/bin/attnx-cli \
         ./usr/share/applications/attnx.desktop \
         ./usr/share/metainfo/io.github.attnx.attnx.metainfo.xml \
         ./usr/share/icons/hicolor/scalable/apps/attnx.svg \
         ./usr/share/man/man1/attnx.1.gz ./usr/share/man/man1/attnx-cli.1.gz \
         ./usr/share/attnx/banks/local-sinks.json \
         ./usr/share/attnx/gpt2-tokenizer/vocab.json ./usr/share/attnx/gpt2-tokenizer/merges.txt; do
  grep -qxF "$f" <<<"$contents" || fail "package lacks $f"
done
has_model=0
if grep -qxF ./usr/share/attnx/default-model/model.safetensors <<<"$contents"; then has_model=1; fi
if [[ -f "$SRC/resources/default-model/model.safetensors" && $has_model == 0 ]]; then
  fail "package lacks the default model"
fi

ROOT="$WORK/root"
dpkg-deb -x "$DEB" "$ROOT"
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net "$ROOT/usr/share/metainfo/io.github.attnx.attnx.metainfo.xml" >/dev/null \
    || fail "metainfo does not validate"
fi
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$ROOT/usr/share/applications/attnx.desktop" || fail "desktop entry does not validate"
fi
zcat "$ROOT/usr/share/man/man1/attnx-cli.1.gz" | grep -q '^\.TH ATTNX' || fail "man page is not troff"

# The installed binary must use the installed model and tokenizer (ATTNX_DEFAULT_MODEL unset).
version="$(env -u ATTNX_DEFAULT_MODEL "$ROOT/usr/bin/attnx-cli" --version)"
echo "$version"
grep -q "attnx-cli [0-9]" <<<"$version" || fail "--version"
grep -qF "tokenizer: $ROOT/usr/share/attnx/gpt2-tokenizer" <<<"$version" || fail "installed tokenizer not used"
if [[ $has_model == 1 ]]; then
  ids="$(env -u ATTNX_DEFAULT_MODEL "$ROOT/usr/bin/attnx-cli" tokenize --text "Hello world" --json)"
  grep -q '15496, *995' <<<"$ids" || fail "tokenize from installed files: $ids"
  grep -qF "default model: $ROOT/usr/share/attnx/default-model" <<<"$version" || fail "installed model not used"
  out="$(env -u ATTNX_DEFAULT_MODEL "$ROOT/usr/bin/attnx-cli" generate --prompt "The" --max-new-tokens 8 --greedy --json)"
  grep -q '"ids"' <<<"$out" || fail "generate from installed files: $out"
  echo "generate: ok"
fi
echo "package ok"
