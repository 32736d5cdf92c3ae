"""Times image-vault's thumbnail CLI against libvips and Pillow on the same
corpus in the same run, one thread each, then scores every output against a
floating-point reference. Driven by bench/compare.sh, which installs the
peers and builds the corpus and the binary.

Each tool runs as one process over a whole file set (JPEG or PNG) making
both heights; runs are interleaved (the order rotates every round) so that
load from other processes on the machine hits every tool alike, and the
median of the rounds is reported. Everything runs pinned to one core.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
HEIGHTS = [200, 400]


def tools(ours, out, py, kind):
    """name -> list of commands (each a list of argv prefixes, files appended)."""
    ext = "jpg" if kind == "jpeg" else "png"
    vips_opts = "[Q=85,strip]" if kind == "jpeg" else "[strip]"
    hs = ",".join(str(h) for h in HEIGHTS)
    return {
        "image-vault": [[ours, "thumbnail", "--threads", "1", "-q", "--out", f"{out}/image-vault"]
                        + [a for h in HEIGHTS for a in ("--height", str(h))]],
        "vipsthumbnail": [["vipsthumbnail", "--size", f"x{h}", "-o",
                           f"{out}/vipsthumbnail/%s_{h}.{ext}{vips_opts}"] for h in HEIGHTS],
        "pyvips-chain": [[py, f"{HERE}/pyvips_thumbs.py", f"{out}/pyvips-chain", hs]],
        "pillow-draft": [[py, f"{HERE}/pillow_thumbs.py", "draft", f"{out}/pillow-draft", hs]],
        "pillow-chain": [[py, f"{HERE}/pillow_thumbs.py", "chain", f"{out}/pillow-chain", hs]],
    }


def run_tool(commands, files, pin, env):
    start = time.perf_counter()
    for cmd in commands:
        subprocess.run(pin + cmd + files, check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def to_float(im):
    """Float RGB, or premultiplied RGBA, 0..255."""
    if "A" in im.getbands():
        a = np.asarray(im.convert("RGBA"), dtype=np.float64)
        a[..., :3] *= a[..., 3:4] / 255.0
        return a
    return np.asarray(im.convert("RGB"), dtype=np.float64)


def reference(path, size, cache):
    """The full decode, downscaled in floating point with Lanczos3 per channel."""
    key = (path, size)
    if key not in cache:
        if path not in cache:
            with Image.open(path) as im:
                cache[path] = to_float(im)
        full = cache[path]
        planes = [
            np.asarray(Image.fromarray(full[..., c].astype(np.float32), "F")
                       .resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
            for c in range(full.shape[2])
        ]
        cache[key] = np.clip(np.stack(planes, axis=2), 0, 255)
    return cache[key]


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def box(x, r):
    """Mean over (2r+1)^2 windows, valid region only."""
    c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), 0), 1)
    n = 2 * r + 1
    return (c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]) / (n * n)


def ssim(a, b):
    """SSIM of the luma (BT.601), 7x7 uniform windows."""
    la = a[..., :3] @ [0.299, 0.587, 0.114]
    lb = b[..., :3] @ [0.299, 0.587, 0.114]
    c1, c2, r = (0.01 * 255) ** 2, (0.03 * 255) ** 2, 3
    ma, mb = box(la, r), box(lb, r)
    va = box(la * la, r) - ma * ma
    vb = box(lb * lb, r) - mb * mb
    cov = box(la * lb, r) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(np.mean(s))


def quality(name, out, files, cache):
    rows = {h: [] for h in HEIGHTS}
    for path in files:
        stem, ext = os.path.splitext(os.path.basename(path))
        for h in HEIGHTS:
            thumb = os.path.join(out, name, f"{stem}_{h}{'.jpg' if ext == '.jpg' else '.png'}")
            with Image.open(thumb) as im:
                got = to_float(im)
                size = im.size
            ref = reference(path, size, cache)
            if got.shape != ref.shape:
                raise SystemExit(f"{thumb}: {got.shape} vs reference {ref.shape}")
            rows[h].append((psnr(got, ref), ssim(got, ref), os.path.getsize(thumb), size))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ours", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--core", default="1")
    p.add_argument("--json")
    args = p.parse_args()

    names = sorted(os.listdir(args.corpus))
    sets = {
        "jpeg": [os.path.join(args.corpus, n) for n in names if n.endswith(".jpg")],
        "png": [os.path.join(args.corpus, n) for n in names if n.endswith(".png")],
    }
    pin = ["taskset", "-c", args.core] if shutil.which("taskset") else []
    env = dict(os.environ, VIPS_CONCURRENCY="1", RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1")
    shutil.rmtree(args.work, ignore_errors=True)
    py = sys.executable

    results = {}
    for kind, files in sets.items():
        cmds = tools(args.ours, args.work, py, kind)
        for name in cmds:
            os.makedirs(os.path.join(args.work, name), exist_ok=True)
            run_tool(cmds[name], files, pin, env)  # warm-up: page cache, imports
        times = {name: [] for name in cmds}
        order = list(cmds)
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                times[name].append(run_tool(cmds[name], files, pin, env))
        cache = {}
        results[kind] = {}
        for name in cmds:
            med = statistics.median(times[name])
            results[kind][name] = {
                "files": len(files),
                "seconds": times[name],
                "median_s": med,
                "images_per_s": len(files) / med,
                "quality": {str(h): q for h, q in quality(name, args.work, files, cache).items()},
            }
        print_table(kind, results[kind])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def print_table(kind, res):
    ours = res["image-vault"]["images_per_s"]
    print(f"\n### {kind.upper()} ({res['image-vault']['files']} files, both heights, 1 thread)\n")
    print("| tool | images/s | ms/image | image-vault is x faster | "
          "PSNR 200 | PSNR 400 | SSIM 200 | SSIM 400 | KB 200 | KB 400 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in res.items():
        q = r["quality"]
        mean = lambda h, i: statistics.mean(row[i] for row in q[str(h)])
        print(f"| {name} | {r['images_per_s']:.2f} | {1000 / r['images_per_s']:.1f} | "
              f"{ours / r['images_per_s']:.2f} | {mean(200, 0):.2f} | {mean(400, 0):.2f} | "
              f"{mean(200, 1):.4f} | {mean(400, 1):.4f} | "
              f"{mean(200, 2) / 1024:.1f} | {mean(400, 2) / 1024:.1f} |")
    print("\nseconds per round: " + "; ".join(
        f"{n} " + " ".join(f"{s:.2f}" for s in r["seconds"]) for n, r in res.items()))


if __name__ == "__main__":
    main()
