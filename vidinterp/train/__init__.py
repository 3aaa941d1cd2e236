"""Training: `TrainConfig` and recipes (`config`), the loop (`train.train`), checkpoints, LR schedule, DDP helpers.

from vidinterp.train.config import TrainConfig
from vidinterp.train.train import train
result = train(TrainConfig(data_dir="videos", out_dir="runs/a", steps=1000))
"""
