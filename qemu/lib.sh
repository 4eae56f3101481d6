# SPDX-License-Identifier: GPL-2.0
# Helpers for guest scripts (sourced by the init and by scenario scripts
# as /zonemm/lib.sh).

D=/sys/kernel/debug/zonemm

# meminfo FIELD: the value, in kB, of FIELD in /proc/meminfo.
meminfo() {
	awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo
}

# memfree_pcp: MemFree plus the pages freed onto per-CPU lists (the
# pagesets' "count:" in /proc/zoneinfo), in kB. Those pages are free but
# not in MemFree; how many a burst of frees leaves there depends on the
# kernel's pcp sizing (Debian's kernels park over 16 MiB after one failed
# zonemm load).
memfree_pcp() {
	awk -v free="$(meminfo MemFree)" '/^ +count:/ { pcp += $2 } END { print free + pcp * 4 }' /proc/zoneinfo
}

# node_memfree NID: MemFree of node NID, in kB.
node_memfree() {
	awk '$3 == "MemFree:" { print $4 }' "/sys/devices/system/node/node$1/meminfo"
}

# cma_used: pages taken from all CMA areas, the sum of the areas' debugfs
# cma/<area>/used (a count each area keeps, under its lock, as cma_alloc()
# takes pages and cma_release() gives them back), or on a kernel without
# CONFIG_CMA_DEBUGFS (Debian's) the same count from sysfs (CONFIG_CMA_SYSFS:
# total_pages - available_pages, kept by the same calls under the same
# lock). Exact, unlike CmaFree:
# freed CMA pages may wait on a per-CPU list, uncounted, and a movable
# allocation may take them before they are ever counted free. With no CMA
# area at all (cma=0: CmaTotal 0) that is 0; with CMA but no count to read
# it fails, with a message, rather than print a number it does not have.
cma_used() {
	set -- /sys/kernel/debug/cma/*/used
	if [ -e "$1" ]; then
		cma_counts=$(cat "$@") || { echo "cma_used: cannot read $*" >&2; return 1; }
		echo "$cma_counts" | awk '{ s += $1 } END { print s + 0 }'
	elif [ -e /sys/kernel/mm/cma ] && set -- /sys/kernel/mm/cma/*/available_pages && [ -e "$1" ]; then
		for a in "$@"; do
			a=${a%/available_pages}
			t=$(cat "$a/total_pages") && f=$(cat "$a/available_pages") ||
				{ echo "cma_used: cannot read $a" >&2; return 1; }
			echo $((t - f))
		done | awk '{ s += $1 } END { print s + 0 }'
	elif [ "$(meminfo CmaTotal)" = 0 ]; then
		echo 0
	else
		echo "cma_used: no /sys/kernel/debug/cma/*/used to read, but CmaTotal is" \
			"$(meminfo CmaTotal) kB (debugfs not mounted, or neither CONFIG_CMA_DEBUGFS nor CONFIG_CMA_SYSFS?)" >&2
		return 1
	fi
}

# cma_back: CMA as it was before zonemm loaded (qemu/init records it).
cma_back() {
	cma_now=$(cma_used) && [ "$cma_now" -eq "$(cat /run/zonemm/cmaused.before)" ]
}

# wait_for CMD...: retry CMD for up to 5 s (vmstat folds per-CPU counters
# into the global ones about once a second).
wait_for() {
	i=0
	until "$@"; do
		i=$((i + 1))
		[ "$i" -ge "${wait_tries:-50}" ] && return 1
		sleep 0.1
	done
}

# phase_succeeded MODULE PHASE: MODULE's "PHASE: ok N ..." line (the
# hostile clients') counts successes.
phase_succeeded() {
	line=$(dmesg | grep "$1: $2: ok [0-9]* " | tail -n 1)
	echo "# ${line:-no line for $2}"
	n=$(echo "$line" | sed -n "s/.*: ok \([0-9]*\) .*/\1/p")
	[ "${n:-0}" -gt 0 ]
}

# Minimal TAP for scenario scripts: plan N first (the number of checks
# the scenario makes), ok / not_ok NAME, then finish. A scenario that
# stops early, or runs more or fewer checks than it planned, fails.
tap_n=0
tap_failed=0
tap_plan=
# settle: give back what waits, so that views compare as the pool is:
# lazily freed regions, the kmalloc caches' empty slabs, then the per-CPU
# lists they went to.
settle() {
	echo 1 >$D/region/purge
	for c in $(cut -d' ' -f1 $D/slab/slabinfo | grep '^kmalloc-'); do echo 1 >$D/slab/$c/shrink; done
	echo 1 >$D/buddy/drain
}

# no_kernel_report: nothing in the kernel log since the last dmesg -c that
# a bug, a lockdep or KASAN splat, or a context violation prints (shown if
# there is).
kernel_reports='BUG:|WARNING:|KASAN|lockdep|possible circular locking|inconsistent lock state|sleeping function called from invalid context|scheduling while atomic'
no_kernel_report() {
	if dmesg | grep -Eq "$kernel_reports"; then
		dmesg | grep -E -A10 "$kernel_reports" | head -n 40 | sed 's/^/# /'
		return 1
	fi
}

plan() {
	tap_plan=$1
	echo "1..$1"
}
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}
not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}
# check NAME CMD...: ok if CMD succeeds.
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
finish() {
	if [ -z "$tap_plan" ]; then
		echo "# no plan: the scenario must call plan N first"
		return 1
	fi
	if [ "$tap_n" -ne "$tap_plan" ]; then
		echo "# planned $tap_plan checks, ran $tap_n"
		return 1
	fi
	[ "$tap_failed" -eq 0 ]
}

# refuses DIR FILE INPUT REASON: writing INPUT to DIR/FILE fails, the
# kernel log gets REASON, and the caller's `views` prints the same before
# and after.
refuses() {
	snap=$(views)
	dmesg -c >/dev/null
	# A file that is not there refuses nothing: that is a failure.
	if [ ! -f "$1/$2" ]; then
		not_ok "$2 '$3' is refused (no such file)"
		not_ok "$2 '$3': reason logged"
		not_ok "$2 '$3': nothing changed"
		return
	fi
	if echo "$3" 2>/dev/null >"$1/$2"; then
		not_ok "$2 '$3' is refused"
		return
	fi
	ok "$2 '$3' is refused"
	check "$2 '$3': reason logged" sh -c "dmesg | grep -q \"$4\""
	check "$2 '$3': nothing changed" test "$(views)" = "$snap"
}

# /dev/zonemm scenarios' helpers (zonemm-mem in /zonemm).
# pool_free: the pool's free pages, per-CPU lists drained (buddyinfo).
pool_free() {
	settle
	awk '{ m = 1; for (i = 5; i <= NF; i++) { s += $i * m; m *= 2 } } END { printf "%d\n", s }' $D/buddy/buddyinfo
}
# back: the pool has $base free pages again (set base=$(pool_free) first).
back() {
	now=$(pool_free)
	[ "$now" -eq "$base" ] || { echo "# pool free pages: $now, $base at the start"; return 1; }
}
# run NAME CMD...: CMD's output kept in /tmp/out, shown as comments; ok
# if it exits 0.
run() {
	name=$1
	shift
	"$@" >/tmp/out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/out
	check "$name" test "$rc" -eq 0
}
# held FILE: wait until the tool writing FILE says "held".
held() { wait_for grep -qsx held "$1"; }
# hold_bg FILE CMD...: CMD in the background, its output in FILE, its pid
# in $bg. FILE is removed first: the background shell truncates it only
# when it gets to run, and until then `held FILE` would read an earlier
# run's "held" (on the debug kernel it did, and the checks after it read
# the old figures).
hold_bg() {
	f=$1
	shift
	rm -f "$f"
	"$@" >"$f" 2>&1 &
	bg=$!
}

# pool_burst RUNS: make bench's elastic-pool row, on a zonemm loaded with
# max_pool_mb. Each run is a burst of twice the pool's starting size,
# order-0 GFP_KERNEL allocations 1024 at a time from two writers at once
# (one per CPU), held until both are done, then freed all at once; the
# pool must grow so that no allocation fails, and be back at its starting
# size within 10 s of the free. A line per run: the failed allocations
# (buddy/stats' alloc_fail_order*), the writers that stopped on an error
# (a failed allocation stops one too), the peak size, the seconds the
# burst took and the seconds until the pool was back (-1: not within 60 s
# of the free). Times from /proc/uptime (10 ms).
pool_burst() {
	bs=$D/buddy/stats
	stat_of() { awk -v k="$1" '$1 == k { print $2 }' $bs; }
	burst_fails() { awk '$1 ~ /^alloc_fail_order/ { s += $2 } END { print s + 0 }' $bs; }
	uptime_s() { cut -d' ' -f1 /proc/uptime; }
	start=$(stat_of pool_start_pages)
	run=1
	while [ "$run" -le "$1" ]; do
		f0=$(burst_fails)
		g0=$(stat_of pool_grow)
		t0=$(uptime_s)
		pids=
		for cpu in 0 1; do
			taskset -c $cpu sh -c "n=0; while [ \$n -lt $start ]; do
				echo 'order=0 count=1024 gfp=kernel' >$D/buddy/alloc || exit 1; n=\$((n + 1024)); done" &
			pids="$pids $!"
		done
		errors=0
		for p in $pids; do wait "$p" || errors=$((errors + 1)); done
		t1=$(uptime_s)
		peak=$(stat_of pool_pages)
		echo all >$D/buddy/free
		t2=$(uptime_s)
		back=-1
		while :; do
			t3=$(uptime_s)
			if [ "$(stat_of pool_pages)" -eq "$start" ]; then
				back=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }')
				break
			fi
			awk -v a="$t2" -v b="$t3" 'BEGIN { exit !(b - a > 60) }' && break
			sleep 0.1
		done
		echo "layer=burst run=$run start_pages=$start burst_pages=$((2 * ((start + 1023) / 1024 * 1024))) peak_pages=$peak" \
			"grown_blocks=$(($(stat_of pool_grow) - g0)) failed=$(($(burst_fails) - f0)) writer_errors=$errors" \
			"burst_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') back_s=$back"
		run=$((run + 1))
	done
}
