#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make run's demonstration: what zonemm took, and that rmmod gives it back.
. /zonemm/lib.sh

show() {
	echo
	echo "\$ $*"
	sh -c "$*"
}

echo "zonemm demonstration on $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
show "ls /sys/devices/system/node | grep node"
show "dmesg | grep -E 'Faking node|cma: Reserved|Brought up'"
show "grep 'zonemm: took' /run/zonemm/insmod.log"
show "grep -E 'MemTotal|CmaTotal|CmaFree' /proc/meminfo"
show "cat $D/source/areas"
show "cat $D/buddy/buddyinfo"
show "head -n 10 $D/buddy/zoneinfo"
show "echo 'order=3 count=2 node=0' > $D/buddy/alloc; cat $D/buddy/allocations"
show "cat $D/buddy/buddyinfo  # node 0: one order-10 block split down to order 3"
show "echo all > $D/buddy/free; echo 1 > $D/buddy/drain; cat $D/buddy/buddyinfo"
show "grep -E 'splits|merges|fallbacks|claims|pcp' $D/buddy/stats"
show "echo 'demo 200 flags=redzone,poison' > $D/slab/create; echo count=50 > $D/slab/demo/alloc"
show "head -n 2 $D/slab/slabinfo; grep -E '^(demo|kmalloc-64|kmalloc-8k) ' $D/slab/slabinfo"
show "echo all > $D/slab/demo/free; echo 1 > $D/slab/demo/shrink; echo demo > $D/slab/destroy; grep -c '^demo ' $D/slab/slabinfo"
show "echo '64K zero' > $D/region/alloc; echo '4M huge' > $D/region/alloc; cat $D/region/vmallocinfo $D/region/list"
a=$(head -n 1 $D/region/vmallocinfo | cut -d- -f1)
show "echo '$a 0x5a' > $D/region/fill; echo '$a 0x5a' > $D/region/check && echo check passed"
show "echo all > $D/region/free; echo 1 > $D/region/purge; cat $D/region/stats"
show "echo '64K mergeable' > $D/region/alloc; echo '64K mergeable' > $D/region/alloc; cat $D/region/list"
for id in $(cut -d' ' -f1 $D/region/list); do echo "$id 0x42" > $D/region/fill; done
show "echo 5 > $D/merge/sleep_millisecs; echo 1 > $D/merge/run; sleep 1; echo 0 > $D/merge/run"
show "for f in full_scans pages_shared pages_sharing general_profit; do echo \$f \$(cat $D/merge/\$f); done"
show "/zonemm/zonemm-top -n 1"
show "rmmod zonemm"
wait_for cma_back
# debugfs cma/*/used, or sysfs on a kernel without CMA debugfs (Debian's).
if [ -e /sys/kernel/debug/cma ]; then
	show "cat /sys/kernel/debug/cma/*/used  # pages taken from CMA: back to $(cat /run/zonemm/cmaused.before)"
else
	show "grep . /sys/kernel/mm/cma/*/available_pages  # pages taken from CMA: $(cma_used), back to $(cat /run/zonemm/cmaused.before)"
fi
