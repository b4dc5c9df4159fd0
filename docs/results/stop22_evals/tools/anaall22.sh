#!/bin/bash
# anaall22.sh PREFIX: ana21.py (src22) on every finished run PREFIX-* without an analysis yet
for f in evals17/$1-*.json; do
  n=$(basename $f .json)
  [ -f ana/$n.json ] || PYTHONPATH=$PWD/src22 OMP_NUM_THREADS=1 .venv/bin/python ana21.py runs/$n ana/$n.json 2>&1 | tail -1
done
