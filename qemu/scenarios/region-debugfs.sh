#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# region/: regions appear in list (and mapped ones in vmallocinfo) and go
# as alloc/free predict, keep their address and id, fill then check
# round-trips by id or address, kept mappings are reused and purged, and
# malformed writes change nothing.
. /zonemm/lib.sh
plan 89
R=$D/region

newest() { tail -n 1 $R/list | cut -d' ' -f1; }
addr_of() { awk -v id="$1" '$1 == id { print $NF }' $R/list; }
line_of() { grep " id=$1\$" $R/vmallocinfo; }
stat() { awk -v k="$1" '$1 == k { print $2 }' $R/stats; }

check "empty at first" test ! -s $R/vmallocinfo -a ! -s $R/list
check "alloc 16K" sh -c "echo 16K > $R/alloc"
a=$(newest)
aa=$(addr_of $a)
check "listed with its address" sh -c "grep -Eq '^$a 4 0x[0-9a-f]{16}\$' $R/list"
check "a vmallocinfo line with pages=4" sh -c "echo '$(line_of $a)' | grep -q ' pages=4 vmalloc'"
check "starting at its address" sh -c "echo '$(line_of $a)' | grep -q '^$aa-'"
check "its size counts the guard page" test "$(line_of $a | awk '{ print $2 }')" -eq 20480
check "the line format" sh -c "echo '$(line_of $a)' | grep -Eq '^0x[0-9a-f]{16}-0x[0-9a-f]{16} +20480 [^ ]+:[0-9]+ pages=4 vmalloc( N[01]=[0-9]+)+ id=$a\$'"

check "alloc 4M huge zero" sh -c "echo '4M huge zero' > $R/alloc"
c=$(newest)
check "pages=1024" sh -c "echo '$(line_of $c)' | grep -q ' pages=1024 vmalloc'"
check "flags shown" sh -c "echo '$(line_of $c)' | grep -q ' zero huge id=$c\$'"
check "alloc 16K mergeable zero" sh -c "echo '16K mergeable zero' > $R/alloc"
m=$(newest)
check "a mergeable region has no address" sh -c "grep -q '^$m 4 zero mergeable -\$' $R/list"
check "  and no vmallocinfo line" test -z "$(line_of $m)"
check "two vmallocinfo lines, by address" test "$(cut -d- -f1 $R/vmallocinfo | sort -c 2>&1 && wc -l < $R/vmallocinfo)" = 2
check "ids never repeat" test "$(cut -d' ' -f1 $R/list | sort -u | wc -l)" -eq 3

check "fill a 0x5a by address" sh -c "echo '$aa 0x5a' > $R/fill"
check "check a 0x5a by id" sh -c "echo '$a 0x5a' > $R/check"
dmesg -c >/dev/null
check "check a 0x77 fails" sh -c "! echo '$a 0x77' > $R/check 2>/dev/null"
check "  reporting offset 0" sh -c "dmesg | grep -q 'region/check id $a: first mismatch at offset 0: 0x5a, expected 0x77'"
check "the zeroed regions check 0" sh -c "echo '$c 0' > $R/check && echo '$m 0' > $R/check"
check "fill and check the huge one" sh -c "echo '$c 0xa1' > $R/fill && echo '$c 0xa1' > $R/check"
check "fill and check the mergeable one" sh -c "echo '$m 0x3c' > $R/fill && echo '$m 0x3c' > $R/check"
check "a's address has not moved" test "$(addr_of $a)" = "$aa"

pages=$(stat pages)
check "free a" sh -c "echo $a > $R/free"
check "a is gone" test -z "$(line_of $a)" -a -z "$(addr_of $a)"
check "its pages no longer count" test "$(stat pages)" -eq $((pages - 4))
check "its mapping is kept" test "$(stat cached_mappings)" -eq 1 -a "$(stat cached_pages)" -eq 4
hits=$(stat cache_hits)
check "alloc 16K again" sh -c "echo 16K > $R/alloc"
n=$(newest)
check "  a new id" test "$n" -gt "$m"
check "  the kept mapping, at a's address" test "$(addr_of $n)" = "$aa" -a "$(stat cache_hits)" -eq $((hits + 1))
check "  nothing kept now" test "$(stat cached_mappings)" -eq 0
check "free it by address" sh -c "echo $aa > $R/free"
check "purge" sh -c "echo 1 > $R/purge"
check "nothing kept after the purge" test "$(stat cached_mappings)" -eq 0 -a "$(stat cached_pages)" -eq 0

views() { cat $R/vmallocinfo $R/list $R/stats; }
bad() { refuses $R "$@"; }
bad alloc '' 'usage: SIZE'
bad alloc '0' 'SIZE is a number'
bad alloc 'lots' 'SIZE is a number'
bad alloc '16K bogus' 'flags are zero'
bad alloc '16K zero zero' 'flag given twice'
bad alloc '8K no_guard' 'no_guard is gone'
bad alloc '16K mergeable huge' 'never huge'
bad alloc '64G' 'larger than the pool'
bad free '0x1000' 'no mapped region starts there'
bad free 'xyz' 'expected an ID or a 0xADDR'
bad free "$a" 'no region has that id'
bad free "$(printf '0x%x' $(($(addr_of $c) + 4096)))" 'no mapped region starts there'
bad fill "$c" 'usage: ID|0xADDR PATTERN'
bad fill "$c 0x100" 'PATTERN is a byte'
bad fill '0x1000 0x5a' 'no mapped region starts there'
bad check "$c 0x5a extra" 'usage: ID|0xADDR PATTERN'
bad purge '2' 'write 1 to purge'

check "free all" sh -c "echo all > $R/free"
check "nothing left" test ! -s $R/vmallocinfo -a ! -s $R/list
check "rmmod" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
