#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-noload
# Fault injection at the source site: fail_source=N fails the Nth chance
# while the pool's pages are taken (one chance before each chunk, one for
# the metadata after the last). Every such load fails with ENOMEM and one
# log line, and gives back every page it took: every CMA page (the areas'
# used counts), and MemFree within less than one chunk (4 MiB) of what it was.
. /zonemm/lib.sh

dmesg -c >/dev/null
insmod /zonemm/zonemm.ko || { echo "# plain insmod failed"; exit 1; }
chunks=$(dmesg | sed -n 's/.*zonemm: took [0-9]* pages in \([0-9]*\) chunks.*/\1/p')
rmmod zonemm
[ -n "$chunks" ] || { echo "# no chunk count in the log"; exit 1; }
chances=$((chunks + 1))
plan $((chances * 5 + 4))

# One chunk (4 MiB) on the reference kernel. On the debug kernel (KASAN,
# kmemleak: /sys/kernel/debug/kmemleak exists) a failed load of the much
# larger instrumented module itself leaves up to several MiB behind for a
# while (vmalloc shadow, quarantine), measured at over 4 MiB in 3 of 12
# loads: two chunks there. A CMA chunk kept is caught exactly by the CMA
# check on both kernels; a node chunk kept, by this check on the
# reference kernel (make test).
slack=4096 slack_what="one chunk"
if [ -e /sys/kernel/debug/kmemleak ]; then
	slack=8192 slack_what="two chunks (debug kernel)"
fi

n=1
while [ $n -le $chances ]; do
	mem_before=$(memfree_pcp)
	dmesg -c >/dev/null
	if insmod /zonemm/zonemm.ko fail_source=$n 2>/tmp/err; then
		not_ok "fail_source=$n: load refused"
		rmmod zonemm
	else
		ok "fail_source=$n: load refused"
	fi
	check "fail_source=$n: ENOMEM" grep -qi 'cannot allocate memory' /tmp/err
	check "fail_source=$n: one log line" sh -c "dmesg | grep -q 'zonemm: fault injected at the source site, after $((n - 1)) chunks'"
	check "fail_source=$n: no CMA page kept" cma_back
	# MemFree with the pages parked on per-CPU lists (free, uncounted).
	mem_back() { [ "$(memfree_pcp)" -gt $((mem_before - slack)) ]; }
	# Up to 30 s: on the debug kernel, RCU-deferred and KASAN-quarantined
	# frees of the failed load's own memory come back late.
	wait_tries=300 check "fail_source=$n: MemFree back within $slack_what" wait_for mem_back
	n=$((n + 1))
done

# One chance past the last: nothing fails, the load works and reports no
# fault left armed.
check "fail_source=$n: loads" insmod /zonemm/zonemm.ko fail_source=$n
check "no site left armed" grep -qx none /sys/kernel/debug/zonemm/fault/where
check "unload" rmmod zonemm
check "every CMA page back" cma_back
finish
