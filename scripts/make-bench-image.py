#!/usr/bin/env python3
"""Write the benchmark photo: skimage.data.astronaut (512x512, public domain) upscaled with
PIL LANCZOS to 4000x2667 (a 12 MP 3:2 camera-sized frame; the aspect ratio is stretched),
saved as JPEG quality 90.

    tests/fixtures/.venv/bin/python scripts/make-bench-image.py [OUT.jpg]

Default OUT: target/bench-4000x2667.jpg (git-ignored).
"""
import sys
from pathlib import Path

import skimage.data
from PIL import Image

W, H = 4000, 2667

out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench-4000x2667.jpg")
out.parent.mkdir(parents=True, exist_ok=True)
Image.fromarray(skimage.data.astronaut()).resize((W, H), Image.LANCZOS).save(
    out, format="JPEG", quality=90)
print(f"{out}: {W}x{H}, {out.stat().st_size / 1e6:.2f} MB")
