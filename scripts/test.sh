#!/bin/sh
# Build raw2dmp twice (plain with -Werror, and with AddressSanitizer + UndefinedBehaviorSanitizer) and run
# the whole test suite in both. Prints "N passed, N failed" last; exits non-zero on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/setup-deps.sh" || exit 1
passed=0 failed=0 skipped=0
# What git sees as untracked before and after the run: the run may add nothing (build folders are ignored).
untracked() { git -C "$top" status --porcelain --untracked-files=all 2>/dev/null | sed -n 's/^?? //p'; }
untracked_before=$(untracked)
# The suite needs about 2 GiB of scratch space at its peak (tests remove their work directories when they pass).
avail=$(df -Pk "$top" | awk 'NR == 2 { print int($4 / 1024) }')
echo "scratch space: ${avail:-?} MiB free in $top"
[ "${avail:-0}" -ge 3072 ] || echo "warning: less than 3 GiB free; tests may fail with 'No space left on device'"
run_suite() { # name, meson options...
    name=$1; shift
    dir="$top/build-$name"
    # Logs go into the build folders (ignored by git): the work tree is left with nothing untracked.
    if [ ! -f "$dir/build.ninja" ]; then
        mkdir -p "$dir"
        meson setup "$dir" "$top" --werror "$@" >"$dir/setup.log" 2>&1 ||
            { cat "$dir/setup.log"; failed=$((failed + 1)); return; }
    fi
    if ! ninja -C "$dir" >"$dir/ninja.log" 2>&1; then
        tail -50 "$dir/ninja.log"; echo "$name: build failed"; failed=$((failed + 1)); return
    fi
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        meson test -C "$dir" --print-errorlogs --num-processes 2 >"$dir/test.log" 2>&1
    grep -E '^ *[0-9]+/[0-9]+ ' "$dir/test.log" | sed "s/^/[$name] /"
    ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$dir/test.log" | tail -1)
    xfail=$(sed -n 's/^Expected Fail: *\([0-9]*\).*/\1/p' "$dir/test.log" | tail -1)
    fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$dir/test.log" | tail -1)
    upass=$(sed -n 's/^Unexpected Pass: *\([0-9]*\).*/\1/p' "$dir/test.log" | tail -1)
    skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$dir/test.log" | tail -1)
    timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$dir/test.log" | tail -1)
    if [ -z "$ok" ]; then
        tail -30 "$dir/test.log"; echo "$name: no test summary"; failed=$((failed + 1)); return
    fi
    [ "${fail:-0}" -gt 0 ] || [ "${timeout:-0}" -gt 0 ] && grep -A40 -E '(FAIL|TIMEOUT) ' "$dir/test.log" | head -200
    passed=$((passed + ok + ${xfail:-0}))
    failed=$((failed + ${fail:-0} + ${upass:-0} + ${timeout:-0}))
    skipped=$((skipped + ${skip:-0}))
}
# libFuzzer targets (fuzz/, clang only): each runs briefly from its seed corpus and counts as one test.
# -timeout=30: a hostile page table makes discovery scan the whole KASLR window (bounded, ~10 s under ASan).
run_fuzz() {
    dir="$top/build-fuzz"
    if [ ! -f "$dir/build.ninja" ]; then
        mkdir -p "$dir"
        CC=clang meson setup "$dir" "$top" -Dfuzzing=true -Dtests=disabled >"$dir/setup.log" 2>&1 ||
            { cat "$dir/setup.log"; echo "fuzz: setup failed"; failed=$((failed + 1)); return; }
    fi
    if ! ninja -C "$dir" >"$dir/ninja.log" 2>&1; then
        tail -50 "$dir/ninja.log"; echo "fuzz: build failed"; failed=$((failed + 1)); return
    fi
    for exe in "$dir"/fuzz/fuzz_*; do
        [ -f "$exe" ] && [ -x "$exe" ] || continue
        t=$(basename "$exe") work="$dir/fuzz-run/$(basename "$exe")"
        rm -rf "$work" && mkdir -p "$work/corpus"
        seeds="$top/fuzz/corpus/$t"
        [ -d "$seeds" ] || seeds=""
        # shellcheck disable=SC2086
        if "$exe" -max_total_time="${R2D_FUZZ_SECONDS:-6}" -rss_limit_mb=2048 -timeout=30 -max_len=131072 \
            -artifact_prefix="$work/" "$work/corpus" $seeds >"$work/log" 2>&1; then
            echo "[fuzz] $t OK $(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -1)"; passed=$((passed + 1))
        else
            tail -60 "$work/log"; echo "[fuzz] $t FAIL (input saved in $work/)"; failed=$((failed + 1))
        fi
    done
}
run_suite release -Dbuildtype=debugoptimized
run_suite asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
run_fuzz
untracked_after=$(untracked)
new_files=$(printf '%s\n' "$untracked_after" | grep -vxF -e "$untracked_before" -e '' || true)
if [ -n "$new_files" ]; then
    echo "the test run left untracked files in the work tree:"; echo "$new_files"; failed=$((failed + 1))
fi
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
