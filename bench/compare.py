"""Times image-vault's thumbnail CLI against libvips and Pillow on the same
corpus in the same run, one thread each, then scores every output against a
floating-point reference. Driven by bench/compare.sh, which installs the
peers and builds the corpus and the binary.

Each tool runs as one process over a whole file set (JPEG or PNG) making
both heights; runs are interleaved (the order rotates every round) so that
load from other processes on the machine hits every tool alike, and the
median of the rounds is reported. Everything runs pinned to one core.
Throughput is reckoned from CPU time (user + system, all threads of the
tool's processes): on a shared machine wall time also counts the time spent
waiting for the core, which hits whichever tool ran while something else
did. Wall-time ratios are printed beside it.
"""

import argparse
import json
import os
import resource
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
    """(CPU seconds, wall seconds) of the tool's processes, all threads."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for cmd in commands:
        subprocess.run(pin + cmd + files, check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


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
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--core", default="1")
    p.add_argument("--json")
    args = p.parse_args()

    corpus = os.path.abspath(args.corpus)
    # vipsthumbnail takes a relative -o as relative to each input's folder.
    args.work = os.path.abspath(args.work)
    names = sorted(n for n in os.listdir(corpus) if n.endswith((".jpg", ".png")))
    # One set per kind and size: "jpeg-4000x3000-1.jpg" -> "jpeg-4000x3000".
    sets = {}
    for n in names:
        sets.setdefault(n.rsplit("-", 1)[0], []).append(os.path.join(corpus, n))
    pin = ["taskset", "-c", args.core] if shutil.which("taskset") else []
    env = dict(os.environ, VIPS_CONCURRENCY="1", RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1")
    shutil.rmtree(args.work, ignore_errors=True)
    py = sys.executable

    results = {}
    for kind, files in sets.items():
        cmds = tools(args.ours, args.work, py, kind.split("-")[0])
        for name in cmds:
            os.makedirs(os.path.join(args.work, name), exist_ok=True)
            run_tool(cmds[name], files, pin, env)  # warm-up: page cache, imports
        times = {name: [] for name in cmds}
        walls = {name: [] for name in cmds}
        order = list(cmds)
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                cpu, wall = run_tool(cmds[name], files, pin, env)
                times[name].append(cpu)
                walls[name].append(wall)
        cache = {}
        results[kind] = {}
        for name in cmds:
            med = statistics.median(times[name])
            results[kind][name] = {
                "files": len(files),
                "seconds": times[name],
                "wall_seconds": walls[name],
                "median_s": med,
                "images_per_s": len(files) / med,
                "wall_images_per_s": len(files) / statistics.median(walls[name]),
                "quality": {str(h): q for h, q in quality(name, args.work, files, cache).items()},
            }
        print_table(kind, results[kind])
    print_jpeg_total(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def print_jpeg_total(results):
    """All JPEG sets together: the sums of the per-set medians."""
    jpeg = {k: v for k, v in results.items() if k.startswith("jpeg")}
    if not jpeg:
        return
    files = sum(v["image-vault"]["files"] for v in jpeg.values())
    total = {name: sum(v[name]["median_s"] for v in jpeg.values())
             for name in next(iter(jpeg.values()))}
    print(f"\n### All JPEG ({files} files, both heights, 1 thread)\n")
    print("| tool | images/s (CPU) | ms/image (CPU) | image-vault is x faster (CPU) |")
    print("|---|---:|---:|---:|")
    for name, seconds in total.items():
        print(f"| {name} | {files / seconds:.2f} | {1000 * seconds / files:.1f} | "
              f"{seconds / total['image-vault']:.2f} |")
    results["all-jpeg"] = {"files": files, "median_s_sum": total}


def print_table(kind, res):
    ours = res["image-vault"]["images_per_s"]
    print(f"\n### {kind} ({res['image-vault']['files']} files, both heights, 1 thread)\n")
    wall = res["image-vault"]["wall_images_per_s"]
    print("| tool | images/s (CPU) | ms/image (CPU) | image-vault is x faster (CPU) | x faster (wall) | "
          "PSNR 200 | PSNR 400 | SSIM 200 | SSIM 400 | KB 200 | KB 400 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in res.items():
        q = r["quality"]
        mean = lambda h, i: statistics.mean(row[i] for row in q[str(h)])
        print(f"| {name} | {r['images_per_s']:.2f} | {1000 / r['images_per_s']:.1f} | "
              f"{ours / r['images_per_s']:.2f} | {wall / r['wall_images_per_s']:.2f} | "
              f"{mean(200, 0):.2f} | {mean(400, 0):.2f} | "
              f"{mean(200, 1):.4f} | {mean(400, 1):.4f} | "
              f"{mean(200, 2) / 1024:.1f} | {mean(400, 2) / 1024:.1f} |")
    print("\nCPU seconds per round: " + "; ".join(
        f"{n} " + " ".join(f"{s:.2f}" for s in r["seconds"]) for n, r in res.items()))


if __name__ == "__main__":
    main()
