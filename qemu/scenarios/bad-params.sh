#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-noload
# Each bad module parameter fails insmod with EINVAL and a one-line
# reason, and leaves nothing allocated.
. /zonemm/lib.sh
plan 67


# try_bad PARAM REASON: insmod with PARAM fails, logs REASON, keeps nothing.
try_bad() {
	dmesg -c >/dev/null
	if insmod /zonemm/zonemm.ko "$1" 2>/tmp/err; then
		not_ok "$1 is refused"
		rmmod zonemm
		return
	fi
	ok "$1 is refused"
	check "$1: EINVAL" grep -qi 'invalid' /tmp/err
	check "$1: reason logged" sh -c "dmesg | grep -q \"$2\""
	check "$1: not loaded" test ! -e /sys/module/zonemm
	check "$1: no CMA page taken" cma_back
}

try_bad pool_mb=0 "zonemm: pool_mb=0: must be"
try_bad node_mb=0 "zonemm: node_mb=0: must be"
try_bad node_mb=6 "zonemm: node_mb=6: must be a positive multiple of 4"
try_bad pool_mb=abc "pool_mb"
try_bad pool_mb=-1 "pool_mb"
try_bad pool_mb=4096 "zonemm: pool_mb=4096: CMA area reserved cannot give"
try_bad node_mb=65536 "zonemm: node_mb=65536: node 0 has only"
try_bad movable_mb=6 "zonemm: movable_mb=6: must be a multiple of 4"
try_bad movable_mb=4096 "zonemm: movable_mb=4096: node 0 has less than that"
try_bad region_cache=2 "zonemm: region_cache=2: must be 0 or 1"
try_bad dev_mode=01000 "zonemm: dev_mode=0o1000: must be a file mode"
try_bad max_pool_mb=40 "zonemm: max_pool_mb=40: must be 0 (no growth) or at least 52"
try_bad max_pool_mb=1048576 "zonemm: max_pool_mb=1048576: more than the machine's"

# And a good load still works afterwards.
check "good parameters load" insmod /zonemm/zonemm.ko pool_mb=4 node_mb=4
check "and unload" rmmod zonemm
finish
