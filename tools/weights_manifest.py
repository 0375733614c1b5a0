"""Write facelandmarks/weights/sha256.json and the SHA-256 table of facelandmarks/weights/README.md
from the shipped files as they are now. Run it after the weights are retrained or re-saved:

    .venv/bin/python tools/weights_manifest.py

tests/test_model_files.py then checks that the shipped files, the manifest and the README agree.
"""
from __future__ import annotations

import json
import re

from facelandmarks.models.pretrained import MANIFEST, WEIGHTS_DIR, sha256_table, weights_manifest

README = WEIGHTS_DIR / "README.md"
BEGIN, END = "<!-- sha256 table: tools/weights_manifest.py -->", "<!-- end of sha256 table -->"


def main() -> None:
    manifest = weights_manifest()
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README}: no {BEGIN} ... {END} markers to put the table between")
    table = f"{BEGIN}\n{sha256_table(manifest)}\n{END}"
    README.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: table, text, flags=re.S), encoding="utf-8")
    print(f"wrote {MANIFEST} ({len(manifest)} files) and the table in {README}")


if __name__ == "__main__":
    main()
