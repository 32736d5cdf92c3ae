"""libvips' best plan through pyvips, for bench/compare.sh: one
shrink-on-load thumbnail for the largest height, then each smaller height
from it (thumbnail_image), as image-vault's kernel does. vipsthumbnail, the
usual way, loads the file once per height.

    pyvips_thumbs.py OUTDIR HEIGHT[,HEIGHT...] FILES...
"""

import os
import sys
import time

import pyvips


def main():
    out, heights = sys.argv[1], sorted((int(h) for h in sys.argv[2].split(",")), reverse=True)
    files = sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    for path in files:
        stem, ext = os.path.splitext(os.path.basename(path))
        suffix = ".jpg[Q=85,strip]" if ext.lower() in (".jpg", ".jpeg") else ".png[strip]"
        # Keep the pixels: libvips is lazy, and the smaller sizes would
        # otherwise decode the file again.
        image = pyvips.Image.thumbnail(path, 10_000_000, height=heights[0]).copy_memory()
        image.write_to_file(os.path.join(out, f"{stem}_{heights[0]}{suffix}"))
        for height in heights[1:]:
            if image.height > height:
                image = image.thumbnail_image(10_000_000, height=height)
            image.write_to_file(os.path.join(out, f"{stem}_{height}{suffix}"))
    seconds = time.perf_counter() - start
    print(f"{len(files)} images in {seconds:.3f} s: {len(files) / seconds:.2f} images/s")


if __name__ == "__main__":
    main()
