#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm_sample_c.ko
# zonemm-file: zonemm_sample_rust.ko
# The sample client modules load after zonemm, use its API, hold it
# (zonemm cannot go first), and leave every view as it was when they go.
. /zonemm/lib.sh
plan 15

# views: the pool once settled (lib.sh).
views() {
	settle
	cat $D/buddy/buddyinfo $D/slab/slabinfo $D/region/vmallocinfo
}
before=$(views)
for m in c rust; do
	dmesg -c >/dev/null
	check "insmod zonemm_sample_$m" insmod /zonemm/zonemm_sample_$m.ko
	check "  it reports its allocations" sh -c "dmesg | grep -q 'zonemm_sample_$m: .*: ok'"
	check "  its cache is in slabinfo" grep -q "^sample-" $D/slab/slabinfo
	check "  zonemm cannot be unloaded under it" sh -c "! rmmod zonemm 2>/dev/null"
	check "  rmmod zonemm_sample_$m" rmmod zonemm_sample_$m
	check "  its cache was destroyed" sh -c "dmesg | grep -q 'zonemm_sample_$m: destroy: 0'"
	check "  every view is back" test "$(views)" = "$before"
done
check "rmmod zonemm" rmmod zonemm
finish
