"""The cascade's networks: level 1 (Table 1a), level 2 (Table 1b) and the cascade (Fig. 3)."""
from .cascade import BatchPrediction, Cascade, FacePrediction, load_pretrained
from .level1 import DEEP, SHALLOW, Level1Config, Level1Net
from .level2 import Level2Config, Level2Net

__all__ = ["Cascade", "FacePrediction", "BatchPrediction", "load_pretrained", "Level1Config", "Level1Net",
           "DEEP", "SHALLOW", "Level2Config", "Level2Net"]
