"""Pillow's thumbnails of the corpus, one thread, for bench/compare.sh.

    pillow_thumbs.py MODE OUTDIR HEIGHT[,HEIGHT...] FILES...

MODE "draft": the usual Pillow way, per height: open, Image.draft (JPEG
DCT scaling), Image.thumbnail (BICUBIC with reducing_gap), save.
MODE "chain": one decode per file (draft for the largest height), LANCZOS
to the largest, then each smaller height from the previous one: the same
plan as image-vault's kernel, as fast as Pillow gets.
Output: OUTDIR/<stem>_<height>.<jpg|png>, JPEG quality 85 (4:2:0).
"""

import os
import sys
import time

from PIL import Image


def target(size, height):
    w, h = size
    if height >= h:
        return w, h
    return max(1, (w * height + h // 2) // h), height


def save(im, out, stem, height, fmt):
    ext = "jpg" if fmt == "JPEG" else "png"
    path = os.path.join(out, f"{stem}_{height}.{ext}")
    if fmt == "JPEG":
        im.save(path, "JPEG", quality=85)
    else:
        im.save(path, "PNG")


def draft(path, out, heights):
    stem = os.path.splitext(os.path.basename(path))[0]
    for height in heights:
        with Image.open(path) as im:
            fmt = im.format
            size = target(im.size, height)
            if fmt == "JPEG":
                im.draft("RGB", size)
            im.thumbnail(size)
            save(im, out, stem, height, fmt)


def chain(path, out, heights):
    stem = os.path.splitext(os.path.basename(path))[0]
    with Image.open(path) as im:
        fmt = im.format
        original = im.size
        order = sorted(heights, reverse=True)
        if fmt == "JPEG":
            im.draft("RGB", target(original, order[0]))
        current = im.convert("RGBA" if "A" in im.mode else "RGB")
        for height in order:
            size = target(original, height)
            if current.size != size:
                current = current.resize(size, Image.Resampling.LANCZOS)
            save(current, out, stem, height, fmt)


def main():
    mode, out, heights = sys.argv[1], sys.argv[2], [int(h) for h in sys.argv[3].split(",")]
    files = sys.argv[4:]
    os.makedirs(out, exist_ok=True)
    run = {"draft": draft, "chain": chain}[mode]
    start = time.perf_counter()
    for path in files:
        run(path, out, heights)
    seconds = time.perf_counter() - start
    print(f"{len(files)} images in {seconds:.3f} s: {len(files) / seconds:.2f} images/s")


if __name__ == "__main__":
    main()
