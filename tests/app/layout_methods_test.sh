#!/usr/bin/env bash
# The same numbers on any layout, on the autograd inner loops: 1 x 4, 2 x 2 and 4 x 1 end with
# bit-identical final.h5, best.h5, metrics and summary after 500 meta-steps of
#  - a baseline, --method shared-align (a shared encoder: the fused loop steps aside);
#  - an LSTM over token ids and a CNN over images (autograd through sequence and image
#    encoders).
# Small models and few inner steps, so that 9 runs of 500 steps fit in about a minute.
# (The default configuration and resuming on another layout: layout_test.sh.)
# usage: layout_methods_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
mpirun=$2
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
source "$(dirname "$0")/layout_harness.sh"

small_world=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24 --target-dim 16
             --ways 4 --shots 3 --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10
             --log-every 10 --val-every 100)
layouts shared-align "${small_world[@]}" --hidden 16 --embed-dim 8 --classifier-hidden 8 --inner-steps 2 \
  --method shared-align \
  --steps 500

sequences=(--concepts 16 --samples-per-concept 12 --latent-dim 4 --nuisance-dim 2 --source-dim 12 --target-dim 10
           --min-frames 2 --max-frames 6 --frame-dim 4 --vocab 16 --image-size 6 --image-channels 1
           --hidden 8 --embed-dim 8 --classifier-hidden 8 --lstm-hidden 8 --token-embedding 6 --cnn-channels 4,6
           --source-form tokens --source-encoder lstm --target-form image --target-encoder cnn
           --ways 3 --shots 2 --inner-steps 1 --eval-ways 3 --eval-shots 2 --eval-tasks 2 --eval-queries 3
           --eval-steps 2 --log-every 10 --val-every 100)
layouts lstm-cnn "${sequences[@]}" --steps 500

echo "layout_methods: $passed passed, $failures failed"
[ $failures -eq 0 ]
