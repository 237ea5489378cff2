#!/usr/bin/env bash
# format.sh: the checked-in .clang-format (Google, 100 columns) over every
# tracked C++ source. `make format-check` / `make format` call it.
#
#   scripts/format.sh check   list the files clang-format would change, with
#                             its diagnostics; exit 1 if there is any
#   scripts/format.sh fix     rewrite them in place (clang-format -i)
#
# Files: every *.h / *.cc git tracks, except anything under build*/ and
# generated code (*_generated.h: flatc's output, never checked in anyway).
# CLANG_FORMAT picks the binary (default: clang-format; make setup installs
# Debian's).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in
  check | fix) ;;
  *)
    echo "usage: scripts/format.sh check|fix" >&2
    exit 2
    ;;
esac

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$CLANG_FORMAT" >/dev/null || {
  echo "format: $CLANG_FORMAT not found; make setup installs clang-format" >&2
  exit 2
}

files=()
while IFS= read -r -d '' f; do
  case "$f" in
    build*/* | */build*/* | *_generated.h) continue ;;
  esac
  files+=("$f")
done < <(git ls-files -z -- '*.h' '*.cc')

if ((${#files[@]} == 0)); then
  echo "format: no C++ files tracked" >&2
  exit 2
fi

if [[ $mode == fix ]]; then
  "$CLANG_FORMAT" -i --style=file -- "${files[@]}"
  echo "format: formatted ${#files[@]} files with $("$CLANG_FORMAT" --version)"
  exit 0
fi

# check: one clang-format run per file, so that every offender is named
# with the number of places it differs (with --Werror a run over many files
# stops at the first one with a finding). FORMAT_VERBOSE=1 also prints
# clang-format's diagnostics (file:line:col and the line).
offenders=()
for f in "${files[@]}"; do
  if ! out=$("$CLANG_FORMAT" --dry-run --Werror --style=file -- "$f" 2>&1); then
    offenders+=("$f")
    echo "$f: $(grep -c 'clang-format-violations' <<<"$out") place(s)"
    [[ ${FORMAT_VERBOSE:-0} == 1 ]] && printf '%s\n' "$out"
  fi
done

if ((${#offenders[@]} != 0)); then
  echo "format: ${#offenders[@]} of ${#files[@]} files differ from .clang-format" \
    "(scripts/format.sh fix rewrites them)" >&2
  exit 1
fi
echo "format: all ${#files[@]} files match .clang-format"
