#!/bin/bash
# anaall.sh: ana21.py on every finished run (an evals17 record exists) without an analysis yet (SRC: the source tree, default ./src0)
for f in evals17/g8-*.json; do
  n=$(basename $f .json)
  [ -f ana/$n.json ] || PYTHONPATH=${SRC:-$PWD/src0} OMP_NUM_THREADS=1 .venv/bin/python ana21.py runs/$n ana/$n.json 2>&1 | tail -1
done
