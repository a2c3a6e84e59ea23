#!/usr/bin/env bash
# Runs one libFuzzer target of the fuzz build on a copy of its corpus, so the
# repository's corpus stays small; new inputs stay in the work directory until
# merged back by hand (docs/fuzzing.md).
#
#   tests/fuzz/run.sh TARGET [SECONDS] [BUILD_DIR] [WORK_DIR]
#
# TARGET is api, spec, daemon_config, quantity, records, docker_json, image_archive or
# mesh_replay.
# Crashes, leaks and timeouts land in WORK_DIR/TARGET/artifacts/.
set -euo pipefail

target=${1:?usage: run.sh TARGET [SECONDS] [BUILD_DIR] [WORK_DIR]}
seconds=${2:-240}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${3:-$root/build-fuzz}")
work=$(realpath -m "${4:-$root/build-fuzz/fuzz-work}")

binary=$build/tests/fuzz/fuzz_$target
[ -x "$binary" ] || { echo "run.sh: no $binary; build with -DTUTTI_FUZZ=ON first" >&2; exit 1; }

dir=$work/$target
mkdir -p "$dir/corpus" "$dir/artifacts"
cp -n "$root/tests/fuzz/corpus/$target/"* "$dir/corpus/" 2>/dev/null || true

# A dictionary of the format's keys and tokens, where there is one.
dict=()
[ -f "$root/tests/fuzz/dict/$target.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$target.dict")

# fuzz_api's process holds a whole daemon: libFuzzer's leak check after an
# input scans its heap with every thread stopped, which takes seconds and
# expires the daemon's own timers meanwhile. LeakSanitizer checks the whole run
# when it ends instead.
leaks=()
[ "$target" = api ] && leaks=(-detect_leaks=0)

# -jobs=1: one worker process, its output in fuzz-0.log; -timeout: an input
# that takes longer is a hang (the mesh target's own deadline is 20 s).
cd "$dir"
"$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -jobs=1 "${dict[@]}" "${leaks[@]}" \
  -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" || true
tail -n 20 "$dir/fuzz-0.log"
echo "corpus: $(ls "$dir/corpus" | wc -l) files, $(du -sk "$dir/corpus" | cut -f1) KiB"
echo "artifacts: $(ls "$dir/artifacts" | wc -l)"
