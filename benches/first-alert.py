#!/usr/bin/env python3
"""Time to the first line of a command's stdout, and its peak memory (issue 15: `hunt ... | head -1`).

    first-alert.py LABEL head1|full CMD...

head1: reads one line of stdout, notes the time, closes the pipe (as `| head -1` does) and
waits for the exit; full: stdout to /dev/null. Samples /proc/PID/status every 50 ms for the
peak RssAnon (heap and stacks) and VmRSS (plus mapped input pages) of CMD's process (run CMD
directly or under `nice`, which execs it). Prints one line, then the `hunt:` and
`--time-ordered` lines of its stderr.
"""
import subprocess, sys, time, threading, os
label, mode = sys.argv[1], sys.argv[2]
cmd = sys.argv[3:]
peak = {"anon": 0, "rss": 0}
def sample(pid, stop):
    while not stop.is_set():
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("RssAnon:"): peak["anon"] = max(peak["anon"], int(line.split()[1]))
                if line.startswith("VmRSS:"): peak["rss"] = max(peak["rss"], int(line.split()[1]))
        except Exception: pass
        time.sleep(0.05)
t0 = time.time()
first = None
if mode == "head1":
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
else:
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stop = threading.Event(); th = threading.Thread(target=sample, args=(p.pid, stop)); th.start()
if mode == "head1":
    line = p.stdout.readline(); first = time.time() - t0
    p.stdout.close()
err = p.stderr.read()
rc = p.wait(); total = time.time() - t0
stop.set(); th.join()
summary = [l for l in err.decode(errors="replace").splitlines() if l.startswith("hunt:") or "time-ordered" in l]
print(f"{label}: mode={mode} rc={rc} first_alert_s={first if first is None else round(first,2)} exit_s={total:.2f} peak_RssAnon_MiB={peak['anon']/1024:.0f} peak_VmRSS_MiB={peak['rss']/1024:.0f}")
for l in summary: print("   ", l[:300])
sys.stdout.flush()
