#!/bin/bash
# reeval.sh RUN...: diag17.py for each run into evals17/ (skipping done ones)
for r in "$@"; do n=$(basename $r); [ -f evals17/$n.json ] || OMP_NUM_THREADS=1 /work/main/.venv/bin/python diag17.py $r evals17/$n.json 2>&1 | grep -v "^diagn"; done
