#!/bin/bash
# pool.sh JOBFILE P: run the lines "REGIME NAME SEED OVERRIDES" of JOBFILE with run_var.sh, P at a
# time, taking the first line each time a slot frees (so JOBFILE may be edited while it runs)
export VENV=/work/main/.venv
P=${2:-3}
while true; do
  n=$(pgrep -fc "run_var.sh")
  if [ "$n" -lt "$P" ]; then
    line=$(head -n 1 "$1")
    if [ -z "$line" ]; then [ "$n" -eq 0 ] && break; sleep 20; continue; fi
    sed -i '1d' "$1"
    eval "./run_var.sh $line" &
    sleep 2
  fi
  sleep 15
done
