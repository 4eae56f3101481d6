#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-needs: CONFIG_HOTPLUG_CPU
# CPU hotplug: pages on the per-CPU lists of a CPU that goes offline go
# back to their zones at once (the CPU-dead callback, as
# page_alloc_cpu_dead() does), objects its slab caches held are flushed by
# the next shrink while it is away, and once back online it allocates and
# frees as before.
. /zonemm/lib.sh
plan 18
B=$D/buddy
S=$D/slab
online=/sys/devices/system/cpu/cpu1/online

# cpu1_pages: pages on CPU 1's per-CPU lists, over every zone.
cpu1_pages() {
	awk '$1 == "cpu:" { cpu = $2 } $1 == "count:" && cpu == 1 { s += $2 } END { print s + 0 }' $B/zoneinfo
}
# zone_free: pages on the zones' free lists.
zone_free() {
	awk '$1 == "pages" && $2 == "free" { s += $3 } END { print s + 0 }' $B/zoneinfo
}
# field NAME N: field N of a cache's slabinfo row (2: active_objs,
# 15: num_slabs).
field() { grep "^$1 " $S/slabinfo | awk -v n="$2" '{ print $n }'; }

dmesg -c >/dev/null
check "CPU 1 can go offline" test -w $online
# Pages freed on CPU 1 wait on its lists; objects freed there in its cache.
echo 'hotplug 128' >$S/create
taskset 2 sh -c "echo count=20 > $S/hotplug/alloc && echo all > $S/hotplug/free"
check "the cache has a slab" test "$(field hotplug 15)" -ge 1
taskset 2 sh -c "echo 'order=0 count=40 node=0' > $B/alloc && echo all > $B/free"
held=$(cpu1_pages)
check "CPU 1's lists hold pages" test "$held" -gt 0
free_before=$(zone_free)

check "offline CPU 1" sh -c "echo 0 > $online"
check "its lists are empty" test "$(cpu1_pages)" -eq 0
check "its zones got the pages back" test "$(zone_free)" -eq $((free_before + held))
check "shrink while it is away" sh -c "echo 1 > $S/hotplug/shrink"
check "no slab left" test "$(field hotplug 15)" -eq 0
check "destroy the cache" sh -c "echo hotplug > $S/destroy"

check "online CPU 1" sh -c "echo 1 > $online"
check "allocate and free on it again" \
	taskset 2 sh -c "echo 'order=0 count=40 node=0' > $B/alloc && echo all > $B/free"
check "its lists fill again" test "$(cpu1_pages)" -gt 0
check "a kmalloc class on it" \
	taskset 2 sh -c "echo count=5 > $S/kmalloc-64/alloc && echo all > $S/kmalloc-64/free"
check "offline and online again" sh -c "echo 0 > $online && echo 1 > $online"
# Allocations and frees from two tasks, which the scheduler moves between
# the CPUs, while CPU 1 goes down and up.
churn() {
	i=0
	while [ $i -lt 60 ]; do
		echo 'order=0 count=20' >$B/alloc && echo all >$B/free || return 1
		echo count=8 >$S/kmalloc-256/alloc && echo all >$S/kmalloc-256/free || return 1
		i=$((i + 1))
	done
}
toggle() { while [ ! -e /tmp/churned ]; do echo 0 >$online; echo 1 >$online; done; }
toggle &
churn >/tmp/churn2 2>&1 &
churn2=$!
churn_ok=0
churn && wait $churn2 && churn_ok=1
touch /tmp/churned
wait
check "allocations and frees while CPU 1 comes and goes" test $churn_ok -eq 1
check "CPU 1 is back" test "$(cat $online)" = 1
check "no kernel report" no_kernel_report
unload() {
	rmmod zonemm || return 1
	cma_back && return 0
	echo "# CMA pages in use: $(cma_used), before zonemm: $(cat /run/zonemm/cmaused.before)"
	return 1
}
check "rmmod gives every page back" unload
finish
