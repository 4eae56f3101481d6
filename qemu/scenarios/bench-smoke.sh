#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: ksm-bench
# zonemm-params: pool_mb=48
# zonemm-skip-debug
# The benchmark runs end to end with tiny counts (make bench runs it in
# full): every case has a number for both sides. No timing is judged.
. /zonemm/lib.sh
B=$D/bench

check "bench/run quick all" sh -c "echo 'quick all' > $B/run"
res=$B/results
cat $res
cases=$(grep -c '_ps=' $res)
check "37 timed cases" test "$cases" -eq 37
check "both sides of every case timed" \
	test "$(grep '_ps=' $res | grep -c -e 'zonemm_ps=0 ' -e 'kernel_ps=0 ')" -eq 0
check "the merge case merged" sh -c "grep '^layer=merge' $res | grep -qv 'merged_pages=0 '"
check "metadata per page" sh -c "grep -q '^layer=memory case=metadata_bytes_per_page zonemm=[1-9]' $res"
check "unusable index for 11 orders" test "$(grep -c 'case=unusable_index' $res)" -eq 11
check "bad run input refused" sh -c "! echo 'slow all' > $B/run 2>/dev/null"
check "the kernel's KSM timed" sh -c "/zonemm/ksm-bench 8 | grep -q '^ksm_mib_per_s_x1000=[0-9]* merged_pages=8$'"
check "rmmod" rmmod zonemm
finish
