#!/bin/bash
# GPU sweep 2 (issue 13): which second level-1 cycle, from the same 60-epoch level 1 (sweep 1's l1_l1).
cd "$(dirname "$0")"
export PYTHONPATH=$PWD/pkg FACELANDMARKS_DATA=$PWD/data PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
T="python3 -m facelandmarks.cli train"; C="--device cuda --threads 2 --seed 0"
mkdir -p r L; t0=$(date +%s)
B="--init init/l1_60.pt --epochs 30 --lr 1e-3"
J="--box-shift 0.075 --box-scale 0.085"
$T level1 $B --augment light $J $C --out r/c2_light_wide > L/c2_light_wide.txt 2>&1 &
$T level1 $B --augment light $C --out r/c2_light > L/c2_light.txt 2>&1 &
$T level1 $B $C --out r/c2_full > L/c2_full.txt 2>&1 &
$T level1 $B $J $C --out r/c2_full_wide > L/c2_full_wide.txt 2>&1 &
wait; echo "phase A $(( $(date +%s) - t0 )) s"; tail -qn 1 L/*.txt
F="--k 3 --init init/l2_ft.pt --lr 5e-4 --epochs 4 $J $C"
for n in c2_light_wide c2_light c2_full c2_full_wide; do
  $T level2 --level1 r/$n/level1.pt $F --out r/ft_$n > L/ft_$n.txt 2>&1 &
done
wait; echo "phase B $(( $(date +%s) - t0 )) s"
python3 eval_val.py data . '{"l1_60": ["init/l1_60.pt", "init/l2_ft.pt"], "c2_light_wide": ["r/c2_light_wide/level1.pt", "r/ft_c2_light_wide/level2.pt"], "c2_light": ["r/c2_light/level1.pt", "r/ft_c2_light/level2.pt"], "c2_full": ["r/c2_full/level1.pt", "r/ft_c2_full/level2.pt"], "c2_full_wide": ["r/c2_full_wide/level1.pt", "r/ft_c2_full_wide/level2.pt"]}' $OUT/val2.json
tar czf $OUT/logs2.tgz L r/*/*_log.csv
echo "total $(( $(date +%s) - t0 )) s"
