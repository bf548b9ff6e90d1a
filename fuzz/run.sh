#!/usr/bin/env bash
# Fuzzes one target (or all of them, one after the other) for SECONDS each with AFL++ through
# cargo-afl, then appends a summary of AFL's fuzzer_stats to fuzz/stats/<target>.txt and copies
# every crashing or hanging input into fuzz/regressions/<target>/ (the main workspace's
# crates/dragnet/tests/fuzz_regressions.rs replays them).
#
#   fuzz/run.sh TARGET|all SECONDS
#
# Needs: cargo install cargo-afl --locked && cargo afl config --build
# A run resumes the target's previous AFL output (fuzz/out/<target>, not committed) when there
# is one, so interrupted or repeated runs add up; the stats line records this run's own share.
# Runs under `nice -n 19`, one fuzzer at a time; a hang is an input running over 1 s (-t 1000).
set -euo pipefail

TARGETS=(kql eql esql esql_plan datemath framer gzip mapper)

usage() {
    echo "usage: $0 TARGET|all SECONDS   (targets: ${TARGETS[*]})" >&2
    exit 2
}
[[ $# -eq 2 ]] || usage
[[ $2 =~ ^[1-9][0-9]*$ ]] || usage
seconds=$2
if [[ $1 == all ]]; then
    selected=("${TARGETS[@]}")
else
    [[ " ${TARGETS[*]} " == *" $1 "* ]] || usage
    selected=("$1")
fi

cd "$(dirname "$0")"
command -v cargo-afl >/dev/null || {
    echo "cargo-afl is missing: cargo install cargo-afl --locked && cargo afl config --build" >&2
    exit 2
}
nice -n 19 cargo afl build --release --locked --bins

# Running as root in a container: no CPU frequency governor to check, core dumps handled by
# the host (core_pattern pipes to a program AFL cannot change), no terminal UI. The scheduler
# places the fuzzer: the cores are shared, so AFL must not pin one.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_NO_AFFINITY=1 AFL_AUTORESUME=1
# An input is saved as a hang when it runs over 1 s, the -t below (AFL++ otherwise confirms
# timeouts with a longer one first).
export AFL_HANG_TMOUT=1000

# One value of a fuzzer_stats file ("key : value"), 0 when absent.
stat() {
    local value
    value=$(awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null)
    echo "${value:-0}"
}

for target in "${selected[@]}"; do
    out="out/$target"
    stats="$out/default/fuzzer_stats"
    mkdir -p stats "regressions/$target" out
    # fuzzer_stats counts from the first run of this output folder: remember where it stood.
    before_time=$(stat "$stats" run_time)
    before_execs=$(stat "$stats" execs_done)
    before_crashes=$(stat "$stats" saved_crashes)
    before_hangs=$(stat "$stats" saved_hangs)
    dict=()
    [[ -f dict/$target.dict ]] && dict=(-x "dict/$target.dict")
    started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    echo "fuzzing $target for ${seconds}s (log: fuzz/$out.log)" >&2
    nice -n 19 cargo afl fuzz -V "$seconds" -t 1000 -i "corpus/$target" -o "$out" "${dict[@]}" \
        -- "target/release/$target" >"$out.log" 2>&1 || {
        echo "afl-fuzz failed for $target; see fuzz/$out.log" >&2
        tail -20 "$out.log" >&2
        exit 1
    }
    ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)

    # Every input that crashed or hung, kept under its content hash (duplicates collapse).
    kept=0
    for file in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
        [[ -f $file ]] || continue
        cp "$file" "regressions/$target/$(sha1sum "$file" | cut -c1-16)"
        kept=$((kept + 1))
    done

    # AFL's timeout is wall-clock: on a loaded machine (this fuzzer runs under nice 19) an input
    # can be saved as a hang only because the fuzzer was starved of CPU. Each saved hang is run
    # again on its own, instrumented binary and all; only one still over 1 s is a real hang.
    rechecks=()
    for file in "$out"/default/hangs/id:*; do
        [[ -f $file ]] || continue
        t0=$(date +%s%N)
        timeout 10 "target/release/$target" <"$file" >/dev/null 2>&1 || true
        ms=$((($(date +%s%N) - t0) / 1000000))
        verdict="spurious (the fuzzer was starved of CPU)"
        ((ms > 1000)) && verdict="REAL HANG"
        rechecks+=("  hang re-check: $(sha1sum "$file" | cut -c1-16) runs in ${ms} ms on its own: $verdict")
    done

    run_time=$(stat "$stats" run_time)
    execs=$(stat "$stats" execs_done)
    this_time=$((run_time - before_time))
    this_execs=$((execs - before_execs))
    {
        echo "run $started .. $ended, commit ${commit}, $(stat "$stats" afl_version)"
        echo "  this run: run_time ${this_time} s, execs ${this_execs}," \
            "new crashes $(($(stat "$stats" saved_crashes) - before_crashes))," \
            "new hangs $(($(stat "$stats" saved_hangs) - before_hangs))"
        echo "  output folder totals: run_time ${run_time} s, execs_done ${execs}," \
            "execs_per_sec $(stat "$stats" execs_per_sec), corpus_count $(stat "$stats" corpus_count)," \
            "saved_crashes $(stat "$stats" saved_crashes), saved_hangs $(stat "$stats" saved_hangs)," \
            "total_tmouts $(stat "$stats" total_tmouts), stability $(stat "$stats" stability)," \
            "bitmap_cvg $(stat "$stats" bitmap_cvg), edges_found $(stat "$stats" edges_found)"
        echo "  inputs copied to regressions/$target: $kept"
        for line in "${rechecks[@]}"; do echo "$line"; done
    } >>"stats/$target.txt"
    # Every run recorded so far, summed (runs spanning sessions add up).
    awk '/this run:/ { t += $4; e += $7; n++ }
         END { printf "  all runs of this target: %d, run_time %d s (%.1f min), execs %d\n", n, t, t / 60, e }' \
        "stats/$target.txt" >>"stats/$target.txt"
    tail -5 "stats/$target.txt" >&2
done
