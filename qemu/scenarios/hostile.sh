#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm_hostile.ko
# The hostile client (testing/hostile): zonemm from hard and soft
# interrupts, under a spinlock with interrupts off, with preemption off and
# from a kthread per CPU, all at once; a cache destroyed under its users;
# stale, made-up and foreign handles and pointers. It loads with no check
# failed, every phase succeeded some of the time, the kernel reported
# nothing, and every view is back when it goes. With hold=1 it keeps a
# cache and memory: zonemm cannot go first, and all comes back after it.
. /zonemm/lib.sh
plan 28

# views: the pool once settled (lib.sh).
views() {
	settle
	cat $D/buddy/buddyinfo $D/slab/slabinfo $D/region/vmallocinfo
}
# succeeded PHASE: the module's line for PHASE counts successes.
succeeded() { phase_succeeded zonemm_hostile "$1"; }
no_check_failed() { dmesg | grep -q 'zonemm_hostile: [0-9]* checks, 0 failed$'; }

before=$(views)
dmesg -c >/dev/null
check "insmod zonemm_hostile" insmod /zonemm/zonemm_hostile.ko
check "  no check failed" no_check_failed
for p in hardirq hardirq-xfree hardirq-bulk softirq-timer softirq-bh irqsave preempt \
	kthread handles foreign nofail; do
	check "  $p: allocations (or hostile calls) succeeded" succeeded $p
done
check "  no kernel report" no_kernel_report
check "  its caches are gone" sh -c "! grep -q '^hostile-' $D/slab/slabinfo"
check "  rmmod zonemm_hostile" rmmod zonemm_hostile
check "  every view is back" test "$(views)" = "$before"

dmesg -c >/dev/null
check "insmod zonemm_hostile hold=1" insmod /zonemm/zonemm_hostile.ko hold=1
check "  no check failed" no_check_failed
check "  its cache is in slabinfo" grep -q '^hostile-hold ' $D/slab/slabinfo
check "  zonemm cannot be unloaded under it" sh -c "! rmmod zonemm 2>/dev/null"
check "  still loaded" test -d /sys/module/zonemm
check "  rmmod zonemm_hostile" rmmod zonemm_hostile
check "  it gave back what it held, intact" \
	sh -c "dmesg | grep -q 'zonemm_hostile: hold: released, 0 changed, destroy 0$'"
check "  no kernel report" no_kernel_report
check "  every view is back" test "$(views)" = "$before"
check "rmmod zonemm" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
