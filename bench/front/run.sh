#!/bin/sh
# Times `hiko check` on generated programs of growing size (bench/front/gen.py).
# Usage: bench/front/run.sh BUILD/hiko [FUNS...]   (default: 2500 5000 10000 20000)
# Prints: functions, lines, elapsed and CPU (user + sys) seconds, peak RSS (KB). Target (issue #3):
# under 0.5 s at 10,000 functions (~100,000 lines), memory linear in size.
set -e
hiko=${1:?usage: run.sh BUILD/hiko [FUNS...]}
shift
[ $# -gt 0 ] || set -- 2500 5000 10000 20000
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
here=$(dirname "$0")
printf '%8s %8s %8s %8s %10s\n' funs lines elapsed cpu maxrss_kb
for n in "$@"; do
  python3 "$here/gen.py" --funs "$n" "$dir/p$n.hml"
  lines=$(wc -l < "$dir/p$n.hml")
  /usr/bin/time -f '%e %U %S %M' -o "$dir/t" "$hiko" check "$dir/p$n.hml" > /dev/null
  read -r secs user sys rss < "$dir/t"
  cpu=$(echo "$user $sys" | awk '{ printf "%.2f", $1 + $2 }')
  printf '%8s %8s %8s %8s %10s\n' "$n" "$lines" "$secs" "$cpu" "$rss"
done
