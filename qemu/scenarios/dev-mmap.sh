#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm-mem
# /dev/zonemm: root-only (0600); mmap gives zeroed pool pages on first
# touch and every page goes back to the pool when the last mapping goes
# (munmap, exit, kill -9, after fork); MAP_POPULATE mappings work; two
# mappings never share; 1000 map/fill/mark/unmap rounds leave nothing
# behind; hostile mmap and ioctl arguments are refused and change
# nothing; a process holding a mapping holds the module.
. /zonemm/lib.sh
plan 42
T=/zonemm/zonemm-mem

# pool_free: the pool's free pages, per-CPU lists drained (buddyinfo).
pool_free() {
	settle
	awk '{ m = 1; for (i = 5; i <= NF; i++) { s += $i * m; m *= 2 } } END { printf "%d\n", s }' $D/buddy/buddyinfo
}
base=$(pool_free)
echo "# pool free pages at the start: $base"
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
has() { grep -qx "$1" /tmp/out; }
# held FILE: wait until the tool writing FILE says "held".
held() { wait_for grep -qx held "$1"; }

check "/dev/zonemm is a character device" test -c /dev/zonemm
check "/dev/zonemm is 0600 root:root" test "$(stat -c '%a %u %g' /dev/zonemm)" = "600 0 0"
run "nobody cannot open it" $T open-as 65534
check "nobody: EACCES" has "open as uid 65534: Permission denied"

# Touched pages come from the pool, and go back at kill -9.
$T map 256 hold >/tmp/hold 2>&1 &
pid=$!
check "256 pages mapped, touched, held" held /tmp/hold
sed 's/^/# /' /tmp/hold
check "new pages read as zero, writes read back" sh -c 'grep -c "^ok" /tmp/hold | grep -qx 2'
check "the process's figures: 1 mapping, 256 pages" sh -c 'grep -qx "mappings 1" /tmp/hold && grep -qx "mapped_pages 256" /tmp/hold'
check "the pool has 256 pages fewer" test "$(pool_free)" -eq $((base - 256))
check "rmmod refused while a mapping exists" sh -c '! rmmod zonemm 2>/dev/null'
kill -9 $pid
wait $pid 2>/dev/null
check "kill -9: every page back" back

run "map, touch, munmap 256 pages" $T map 256
check "no page there before the first touch" sh -c 'sed -n 2,3p /tmp/out | grep -qx "mapped_pages 0"'
check "after munmap: no page mapped" sh -c 'tail -n 2 /tmp/out | grep -qx "mapped_pages 0"'
check "munmap: every page back" back

run "MAP_POPULATE mapping of 64 pages" $T map 64 populate
check "MAP_POPULATE: all 64 pages there before the first touch" sh -c 'sed -n 2,3p /tmp/out | grep -qx "mapped_pages 64"'
check "MAP_POPULATE: every page back" back

run "fork: parent and child share the mapping" $T fork 64
check "fork: every page back after both exit" back

run "two mappings do not share" $T two 32
check "two mappings: every page back" back

# kill -9 while the merger's scanner runs.
echo 1 >$D/merge/run
$T merge 128 hold >/tmp/hold 2>&1 &
pid=$!
check "128 pages filled alike, marked mergeable, held" held /tmp/hold
check "128 mergeable pages" grep -qx "mergeable_pages 128" /tmp/hold
sleep 0.3
kill -9 $pid
wait $pid 2>/dev/null
echo 0 >$D/merge/run
check "kill -9 with the scanner running: every page back" back

# More pages than the pool can give: SIGBUS at the first one it cannot.
managed=$(awk '$1 == "managed" { s += $2 } END { print s }' $D/buddy/zoneinfo)
$T map "$managed" >/tmp/out 2>&1
rc=$?
check "touching all $managed pages of the pool: SIGBUS (status $rc)" test "$rc" -eq 135
check "after SIGBUS: every page back" back

slab_before=$(meminfo SUnreclaim)
run "1000 rounds of 64 pages" $T rounds 1000 64
check "1000 rounds: every page back" back
slab_after=$(meminfo SUnreclaim)
echo "# SUnreclaim: $slab_before kB before, $slab_after kB after"
# A leaked area per round would be 1000 slot vectors of 1.5 KiB.
check "1000 rounds: the kernel's slab did not grow by 512 kB" test "$slab_after" -lt $((slab_before + 512))

dmesg -c >/dev/null
run "hostile arguments refused, nothing changed" $T hostile
check "hostile: every page back" back
for reason in "mmap: MAP_PRIVATE: only MAP_SHARED mappings" "mmap: offset is not 0" "mmap: PROT_EXEC" \
	"mmap: longer than the pool" "ZONEMM_IOC_MERGEABLE: start is not page-aligned" \
	"ZONEMM_IOC_MERGEABLE: len is 0 or not a multiple of the page size" \
	"ZONEMM_IOC_MERGEABLE: start + len overflows" \
	"ZONEMM_IOC_MERGEABLE: not a range inside one /dev/zonemm mapping of this process"; do
	check "reason logged: $reason" sh -c "dmesg | grep -qF '/dev/zonemm: $reason'"
done
check "no kernel report" no_kernel_report
check "rmmod once no mapping is left" rmmod zonemm
check "/dev/zonemm is gone" test ! -e /dev/zonemm
finish
