#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The short stress run: both CPUs, every layer, the merger scanning; then
# again under fault injection at every site. Nothing is lost, mixed or
# leaked, and faults show up only as ENOMEM. (make stress runs it longer.)
. /zonemm/lib.sh
plan 34
S=$D/stress
F=$D/fault
secs=$(sed -n 's/.*zonemm.stress=\([0-9]*\).*/\1/p' /proc/cmdline)
secs=${secs:-3}

get() { awk -v k="$1" '$1 == k { print $2 }' $S/results; }
verify() {
	cat $S/results
	check "$1: no mismatch" test "$(get mismatches)" -eq 0
	check "$1: no error but ENOMEM" test "$(get errors)" -eq 0
	check "$1: no object left" test "$(get objects_left)" -eq 0
	check "$1: every page back" test "$(get pages_back)" = yes
	check "$1: every zone sound" test "$(get zones_sound)" = yes
	check "$1: operations ran" test "$(get free)" -gt 100
}

check "stress seconds=$secs" sh -c "echo seconds=$secs > $S/run"
verify plain

echo 10 >$F/probability
echo buddy,slab,region,merge >$F/where
check "stress under faults" sh -c "echo seconds=$secs > $S/run"
verify faults
check "faults were injected" test "$(get faults_injected)" -gt 0
check "and seen as ENOMEM" test "$(get enomem)" -gt 0
echo none >$F/where

views() { cat $F/probability $F/interval $F/times $F/space $F/where; }
bad() { refuses $F "$@"; }
bad probability 101 'out of range'
bad interval 0 'out of range'
bad times -2 'or a count'
bad space x 'out of range'
bad where 'buddy,disk' 'sites are'
check "stress/run without seconds refused" sh -c "! echo go > $S/run 2>/dev/null"
check "rmmod" rmmod zonemm
cma_back() { [ "$(meminfo CmaFree)" -eq "$(cat /run/zonemm/cmafree.before)" ]; }
check "every CMA page back" wait_for cma_back
finish
