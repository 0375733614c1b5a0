"""The cascade's networks: level 1 (Table 1a), level 2 (Table 1b) and the cascade (Fig. 3)."""
from .cascade import BatchPrediction, Cascade, FacePrediction
from .files import CheckpointMismatchError, load_model, save_model
from .level1 import DEEP, SHALLOW, Level1Config, Level1Net
from .level2 import Level2Config, Level2Net
from .pretrained import load_pretrained

__all__ = ["Cascade", "FacePrediction", "BatchPrediction", "load_pretrained", "Level1Config", "Level1Net",
           "DEEP", "SHALLOW", "Level2Config", "Level2Net", "load_model", "save_model", "CheckpointMismatchError"]
