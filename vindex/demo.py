"""Generate a small corpus of synthetic videos with a distinct look per channel.

`make demo` and the test suite use it, so both run with nothing but this package installed.
Each channel has a theme (a pattern and a palette); every video varies its size, frame rate,
length, phase and colour a little, and is encoded with PyAV (which bundles FFmpeg).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PATTERNS = ("stripes", "checker", "rings", "gradient", "blobs", "plasma", "bars", "noise")
PALETTES = (
    ((255, 40, 180), (20, 0, 60)),  # neon pink on deep blue
    ((250, 220, 40), (30, 30, 30)),  # yellow on black
    ((40, 200, 90), (230, 255, 230)),  # green on white
    ((255, 120, 0), (0, 90, 200)),  # orange and blue
    ((200, 200, 200), (40, 40, 40)),  # greys
    ((0, 230, 255), (120, 0, 0)),  # cyan on dark red
    ((160, 90, 40), (250, 240, 210)),  # browns on cream
    ((120, 60, 255), (255, 255, 120)),  # violet on pale yellow
)
CONTAINERS = {"libx264": ".mp4", "mpeg4": ".avi", "libvpx-vp9": ".webm", "mjpeg": ".avi", "mpeg1video": ".mpg"}


@dataclass(frozen=True)
class Theme:
    pattern: str
    palette: tuple[tuple[int, int, int], tuple[int, int, int]]


def theme_for(channel_number: int) -> Theme:
    return Theme(PATTERNS[channel_number % len(PATTERNS)], PALETTES[(channel_number * 3) % len(PALETTES)])


def render(theme: Theme, width: int, height: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, height, width, 3) uint8 pictures of the theme, moving over time."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = x / width, y / height
    phase, speed, scale = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.5), rng.uniform(0.8, 1.25)
    blobs = rng.uniform(0.1, 0.9, (4, 2))
    coarse = rng.random((frames // 8 + 2, 6, 8)).astype(np.float32)
    low, high = (np.array(c, np.float32) * rng.uniform(0.85, 1.0) for c in theme.palette)
    out = np.empty((frames, height, width, 3), np.uint8)
    for index in range(frames):
        t = phase + speed * index / 8
        if theme.pattern == "stripes":
            mix = 0.5 + 0.5 * np.sin(2 * np.pi * 6 * scale * (x + 0.3 * y) + t)
        elif theme.pattern == "checker":
            mix = (np.sin(2 * np.pi * 4 * scale * (x + 0.05 * t)) * np.sin(2 * np.pi * 3 * scale * y) > 0) * 1.0
        elif theme.pattern == "rings":
            mix = 0.5 + 0.5 * np.sin(2 * np.pi * 8 * scale * np.hypot(x - 0.5, y - 0.5) - t)
        elif theme.pattern == "gradient":
            angle = t / 4
            mix = np.clip(0.5 + (x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle), 0, 1)
        elif theme.pattern == "blobs":
            centres = blobs + 0.1 * np.sin(t + np.arange(4))[:, None]
            mix = np.zeros_like(x)
            for cx, cy in centres:
                mix = np.maximum(mix, np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (0.01 * scale)))
        elif theme.pattern == "plasma":
            mix = 0.5 + 0.25 * (np.sin(10 * scale * x + t) + np.sin(7 * scale * (x * np.sin(t / 3) + y * np.cos(t / 2))))
        elif theme.pattern == "bars":
            mix = np.floor((x * 7 * scale + 0.02 * t) % 7) / 6
        else:  # noise: smooth random texture that drifts
            grid = coarse[index // 8]
            mix = grid[(y * 5.99).astype(int), (x * 7.99).astype(int)]
        mix = mix[..., None]
        out[index] = np.clip(low * (1 - mix) + high * mix, 0, 255).astype(np.uint8)
    return out


def write_video(path: Path, pictures: np.ndarray, fps: float, codec: str = "libx264") -> Path:
    """Encode `pictures` ((n, h, w, 3) uint8 RGB) with PyAV. Width and height must be even."""
    import av
    from fractions import Fraction

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = pictures.shape[1:3]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_corpus(
    out: Path,
    channels: int = 4,
    videos_per_channel: int = 6,
    seed: int = 0,
    size: tuple[int, int] = (160, 120),
    seconds: tuple[float, float] = (1.0, 3.0),
    fps: float = 12,
) -> list[Path]:
    """Write `out/<channel>/<video>.mp4` files; returns their paths. Sizes vary ±25% around `size`."""
    rng = np.random.default_rng(seed)
    paths = []
    for channel in range(channels):
        theme = theme_for(channel)
        folder = out / f"{channel:02d}_{theme.pattern}"
        for number in range(videos_per_channel):
            width = int(size[0] * rng.uniform(0.75, 1.25)) // 2 * 2
            height = int(size[1] * rng.uniform(0.75, 1.25)) // 2 * 2
            frames = max(2, int(rng.uniform(*seconds) * fps))
            pictures = render(theme, width, height, frames, rng)
            paths.append(write_video(folder / f"{theme.pattern}_{number:03d}.mp4", pictures, fps))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create (videos go into OUT/<channel>/)")
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--videos", type=int, default=20, help="videos per channel")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", default="2,6", help="min,max length in seconds")
    parser.add_argument("--size", default="320x240", help="typical WIDTHxHEIGHT (each video varies by ±25%%)")
    parser.add_argument("--fps", type=float, default=24)
    args = parser.parse_args()
    low, high = (float(v) for v in args.seconds.split(","))
    width, height = (int(v) for v in args.size.lower().split("x"))
    paths = make_corpus(args.out, args.channels, args.videos, args.seed, (width, height), (low, high), args.fps)
    print(f"wrote {len(paths)} videos in {args.channels} channels under {args.out}")


if __name__ == "__main__":
    main()
