#!/bin/bash
# One prepared GPU sweep (issue 13 model choice + issue 16 CUDA throughput), run by the device tool.
cd "$(dirname "$0")"
export PYTHONPATH=$PWD/pkg FACELANDMARKS_DATA=$PWD/data PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
nvidia-smi -L; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
T="python3 -m facelandmarks.cli train"
C="--device cuda --threads 2 --seed 0"
mkdir -p r L; t0=$(date +%s)
$T level1 --out r/l1_l1 --epochs 60 $C > L/l1_l1.txt 2>&1 &
$T level1 --out r/l1_wing --epochs 60 --loss wing $C > L/l1_wing.txt 2>&1 &
$T level1 --out r/l1_wing_light --epochs 60 --loss wing --augment light $C > L/l1_wing_light.txt 2>&1 &
$T level1 --out r/l1_wing_100 --epochs 80 --loss wing $C > L/l1_wing_100.txt 2>&1 &
$T level2 --k 3 --out r/l2_l1 --epochs 12 $C > L/l2_l1.txt 2>&1 &
$T level2 --k 3 --out r/l2_wing --epochs 12 --loss wing $C > L/l2_wing.txt 2>&1 &
wait; echo "phase A $(( $(date +%s) - t0 )) s"; tail -qn 1 L/*.txt
F="--k 3 --lr 5e-4 --epochs 4 --box-shift 0.075 --box-scale 0.085 $C"
$T level2 --level1 r/l1_l1/level1.pt --init r/l2_l1/level2.pt $F --out r/ft_l1 > L/ft_l1.txt 2>&1 &
$T level2 --level1 r/l1_wing/level1.pt --init r/l2_wing/level2.pt --loss wing $F --out r/ft_wing > L/ft_wing.txt 2>&1 &
$T level2 --level1 r/l1_wing_light/level1.pt --init r/l2_wing/level2.pt --loss wing $F --out r/ft_wing_light > L/ft_wing_light.txt 2>&1 &
$T level2 --level1 r/l1_wing_100/level1.pt --init r/l2_wing/level2.pt --loss wing $F --out r/ft_wing_100 > L/ft_wing_100.txt 2>&1 &
wait; echo "phase B $(( $(date +%s) - t0 )) s"; tail -qn 1 L/ft_*.txt
python3 eval_val.py data r '{"l1": ["l1_l1/level1.pt", "ft_l1/level2.pt"], "wing": ["l1_wing/level1.pt", "ft_wing/level2.pt"], "wing_light": ["l1_wing_light/level1.pt", "ft_wing_light/level2.pt"], "wing_100": ["l1_wing_100/level1.pt", "ft_wing_100/level2.pt"], "wing_100_simL2": ["l1_wing_100/level1.pt", "l2_wing/level2.pt"]}' $OUT/val.json
echo "eval $(( $(date +%s) - t0 )) s"
python3 - <<'PY'
import time, torch
from facelandmarks.models.level1 import Level1Net, DEEP
net = Level1Net(DEEP).cuda().eval(); x = torch.rand(64, 3, 128, 128, device="cuda")
with torch.no_grad():
    for _ in range(5): net(x)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(50): net(x)
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 50
print(f"CUDA level-1 forward, batch 64: {1000*dt:.2f} ms per batch, {64/dt:.0f} faces/s")
PY
tar czf $OUT/logs.tgz L r/*/*_log.csv r/*/*_split.json; cd r
for n in l1_l1 l1_wing l1_wing_100; do tar cf $OUT/w_$n.tar $n/level1.pt; done
tar cf $OUT/w_l2.tar ft_l1/level2.pt ft_wing/level2.pt ft_wing_light/level2.pt ft_wing_100/level2.pt
echo "total $(( $(date +%s) - t0 )) s"
