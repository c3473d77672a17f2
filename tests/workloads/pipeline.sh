#!/bin/sh
# Shell pipelines (dash: vfork-started commands, fork for subshells and pipes).
set -e
seq 1 20000 | sort -rn | uniq | wc -l > /dev/null
grep -c root /etc/passwd | tr 0-9 a-j > /dev/null
for i in 1 2 3 4 5; do echo "$i" | sed 's/1/one/' | cut -c1-3 > /dev/null; done
x=$(ls /usr/bin | head -50 | sort | tail -3)
( cd /tmp && echo "$x" | awk '{ n += length($0) } END { print n }' > /dev/null )
cat /proc/self/status | grep -i vm | sort > /dev/null
