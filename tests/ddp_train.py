"""A torchrun worker for tests/test_train_anywhere.py: a tiny level-1 net on 8 faces, 2 epochs.

``python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_train.py OUT``: each rank
also saves its final weights as ``OUT/rankR.pt`` so the test can compare the ranks.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from facelandmarks import datasets
from facelandmarks.models.level1 import Level1Config
from facelandmarks.train import TrainConfig, train_level1

CONFIG = Level1Config(input_size=32, blocks=((8,), (16,), (16,)), padding=1, fc=64, batchnorm=False)
TRAIN_CONFIG = TrainConfig(epochs=2, batch_size=4, seed=7, lr=3e-3)  # the global batch; full augmentation


def faces() -> datasets.FaceSet:
    return datasets.load_split("train", limit=8, progress=False)


if __name__ == "__main__":
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    out = Path(sys.argv[1])
    model, _ = train_level1(CONFIG, TRAIN_CONFIG, faces(), faces(), out, progress=False)
    torch.save(model.state_dict(), out / f"rank{dist.get_rank()}.pt")
    dist.destroy_process_group()
