#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-params: dev_mode=0666
# zonemm-file: zonemm-mem
# dev_mode sets /dev/zonemm's permissions: with 0666 any user may open
# it and map pool pages, which go back when the user's process exits.
. /zonemm/lib.sh
plan 5
T=/zonemm/zonemm-mem
dmesg -c >/dev/null

check "/dev/zonemm is 0666" test "$(stat -c %a /dev/zonemm)" = 666
$T open-as 65534 >/tmp/out 2>&1
sed 's/^/# /' /tmp/out
check "nobody may open it" grep -qx "open as uid 65534: opened" /tmp/out
check "nobody maps and writes pool pages" grep -qx "ok 16 pages mapped and written" /tmp/out
check "no kernel report" no_kernel_report
check "rmmod" rmmod zonemm
finish
