#!/usr/bin/env bash
# peak-rss.sh CMD...: runs CMD (output discarded), samples /proc/PID/status every 10 ms and
# prints "ANON FILE": the peak anonymous resident memory (heap, stacks) and the peak
# file-backed resident memory (the executable and memory-mapped input), in KiB.
# GNU time's %M reports their sum, which for a memory-mapped input grows with the pages
# touched; the kernel releases those on demand, and dragnet drops them as it goes.
"$@" >/dev/null 2>&1 &
pid=$!
peak_anon=0
peak_file=0
while kill -0 "$pid" 2>/dev/null; do
  if read -r anon file < <(awk '/^RssAnon/{a=$2} /^RssFile/{f=$2} END{print a+0, f+0}' "/proc/$pid/status" 2>/dev/null); then
    (( anon > peak_anon )) && peak_anon=$anon
    (( file > peak_file )) && peak_file=$file
  fi
  sleep 0.01
done
wait "$pid" || true
echo "$peak_anon $peak_file"
