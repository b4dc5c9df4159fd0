#!/bin/bash
# run_var.sh REGIME NAME SEED 'python dict of overrides'  -> runs/NAME-sSEED, evals/NAME-sSEED.json
set -e
# run in the folder where prep.py wrote final/ and base-*.json; VENV: the venv with cocu (default .venv)
R=$1; N=$2; S=$3; O=${4:-"{}"}
RUN=runs/$N-s$S
mkdir -p runs evals cfgs
${VENV:-.venv}/bin/python -c "import json; c=json.load(open('base-$R.json')); c.update(out='$RUN', seed=$S); c.update($O); json.dump(c, open('cfgs/$N-s$S.json','w'), indent=1)"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
${VENV:-.venv}/bin/cocu train --preset cfgs/$N-s$S.json --shards final/world/train --out $RUN > logs_$N-s$S.txt 2>&1
${VENV:-.venv}/bin/python diag.py $RUN evals/$N-s$S.json >> logs_$N-s$S.txt 2>&1
echo done $N-s$S
