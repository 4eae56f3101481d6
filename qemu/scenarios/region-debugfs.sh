#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# region/: vmallocinfo lines appear and disappear as alloc/free predict,
# fill then check round-trips, and malformed writes change nothing.
. /zonemm/lib.sh
plan 69
R=$D/region

# newest ADDRS_BEFORE: the start of the one line not in ADDRS_BEFORE.
starts() { cut -d- -f1 $R/vmallocinfo; }
newest() { starts | grep -v -x -F "$1" | head -n 1; }
line_of() { grep "^$1-" $R/vmallocinfo; }
stat() { awk -v k="$1" '$1 == k { print $2 }' $R/stats; }

check "empty at first" test ! -s $R/vmallocinfo
check "alloc 16K" sh -c "echo 16K > $R/alloc"
a=$(newest "")
check "a line with pages=4" sh -c "echo '$(line_of $a)' | grep -q ' pages=4 vmalloc'"
check "its size counts the guard page" test "$(line_of $a | awk '{ print $2 }')" -eq 20480
check "the line format" sh -c "echo '$(line_of $a)' | grep -Eq '^0x[0-9a-f]{16}-0x[0-9a-f]{16} +20480 [^ ]+:[0-9]+ pages=4 vmalloc( N[01]=[0-9]+)+$'"

before=$(starts)
check "alloc 8K no_guard" sh -c "echo '8K no_guard' > $R/alloc"
b=$(newest "$before")
check "no guard: 8192 bytes" test "$(line_of $b | awk '{ print $2 }')" -eq 8192
check "flag shown" sh -c "echo '$(line_of $b)' | grep -q ' no_guard$'"
before=$(starts)
check "alloc 4M huge mergeable zero" sh -c "echo '4M huge mergeable zero' > $R/alloc"
c=$(newest "$before")
check "pages=1024" sh -c "echo '$(line_of $c)' | grep -q ' pages=1024 vmalloc'"
check "flags shown" sh -c "echo '$(line_of $c)' | grep -q ' zero mergeable huge$'"
check "three lines, by address" test "$(starts | sort -c 2>&1 && starts | wc -l)" = 3

check "fill a 0x5a" sh -c "echo '$a 0x5a' > $R/fill"
check "check a 0x5a" sh -c "echo '$a 0x5a' > $R/check"
dmesg -c >/dev/null
check "check a 0x77 fails" sh -c "! echo '$a 0x77' > $R/check 2>/dev/null"
check "  reporting offset 0" sh -c "dmesg | grep -q 'first mismatch at offset 0: 0x5a, expected 0x77'"
check "the zeroed region checks 0" sh -c "echo '$c 0' > $R/check"
check "fill and check the huge one" sh -c "echo '$c 0xa1' > $R/fill && echo '$c 0xa1' > $R/check"

check "free a" sh -c "echo $a > $R/free"
check "a's line gone" test -z "$(line_of $a)"
check "a's pages wait for the purge" test "$(stat lazily_pending)" -eq 4
check "purge" sh -c "echo 1 > $R/purge"
check "nothing waits" test "$(stat lazily_pending)" -eq 0

views() { cat $R/vmallocinfo $R/stats; }
bad() { refuses $R "$@"; }
bad alloc '' 'usage: SIZE'
bad alloc '0' 'SIZE is a number'
bad alloc 'lots' 'SIZE is a number'
bad alloc '16K bogus' 'flags are zero'
bad alloc '16K zero zero' 'flag given twice'
bad alloc '64G' 'larger than the pool'
bad free '0x1000' 'no region starts there'
bad free 'xyz' 'expected 0xADDR'
bad free "$(printf '0x%x' $(($b + 4096)))" 'no region starts there'
bad fill "$b" 'usage: 0xADDR PATTERN'
bad fill "$b 0x100" 'PATTERN is a byte'
bad fill '0x1000 0x5a' 'no region starts there'
bad check "$b 0x5a extra" 'usage: 0xADDR PATTERN'
bad purge '2' 'write 1 to purge'

check "free all" sh -c "echo all > $R/free"
check "no lines left" test ! -s $R/vmallocinfo
check "rmmod" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
