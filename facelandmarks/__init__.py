"""facelandmarks: the deep coarse-to-fine CNN cascade of Fan & Zhou (2016), for learning and doing.

Start with :func:`load_pretrained` and :meth:`Cascade.predict`; the modules are named by domain:
``schemes``, ``io``, ``geometry``, ``augment``, ``datasets``, ``detect``, ``metrics``, ``models``,
``train``, ``evaluation``, ``human``, ``viz``, ``widgets``, ``labs``, ``course``, ``cli`` (their layers:
``docs/architecture.md``).
"""
from .models.cascade import Cascade
from .models.pretrained import load_pretrained
from .version import __version__

__all__ = ["Cascade", "load_pretrained", "__version__"]
