"""``python -m facelandmarks.human``: the same as ``facelandmarks human`` (see :func:`facelandmarks.human.study.main`)."""
from .study import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
