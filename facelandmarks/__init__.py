"""facelandmarks: the deep coarse-to-fine CNN cascade of Fan & Zhou (2016), for learning and doing."""
__version__ = "0.1.0"
