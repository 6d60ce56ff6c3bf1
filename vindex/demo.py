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


def write_video(path: Path, pictures: np.ndarray, fps: float, codec: str = "libx264",
                bit_rate: int | None = None, keyframe_every: float | None = None) -> Path:
    """Encode `pictures` ((n, h, w, 3) uint8 RGB) with PyAV. Width and height must be even.
    `keyframe_every` (seconds) sets the keyframe spacing; the codec's default otherwise."""
    import av
    from fractions import Fraction

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = pictures.shape[1:3]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        if keyframe_every:
            stream.codec_context.gop_size = max(1, round(fps * keyframe_every))
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def render_scene(look: int, width: int, height: int, frames: int, fps: float,
                 rng: np.random.Generator) -> np.ndarray:
    """(frames, height, width, 3) uint8 pictures of a scene: a smooth textured background whose
    look (palette, texture) comes from `look`, under soft shapes that `rng` places, colours and
    moves. Two clips of one look share their style but not their content, as two shots of a place
    do; within a clip the picture changes smoothly, as filmed footage does."""
    style = np.random.default_rng(look)
    coarse, fine = style.random((6, 8)).astype(np.float32), style.random((30, 40)).astype(np.float32)
    low, high = style.uniform(0, 100, 3).astype(np.float32), style.uniform(155, 255, 3).astype(np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = x / width, y / height
    start, drift = rng.uniform(0, 1, 2), rng.uniform(-0.04, 0.04, 2)
    count = 6
    centres, speeds = rng.uniform(0, 2, (count, 2)), rng.uniform(-0.08, 0.08, (count, 2))
    radii = rng.uniform(0.1, 0.25, count)
    colours = rng.uniform(0, 255, (count, 3)).astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for index in range(frames):
        t = index / fps
        u, v = (x + start[0] + drift[0] * t) % 1.0, (y + start[1] + drift[1] * t) % 1.0
        mix = (0.65 * _smooth(coarse, u, v) + 0.35 * _smooth(fine, u, v))[..., None]  # shapes and grain
        picture = low * (1 - mix) + high * mix
        for centre, speed, radius, colour in zip(centres, speeds, radii, colours):
            cx, cy = 0.1 + 0.8 * np.abs((centre + speed * t) % 2.0 - 1.0)  # bounces inside the frame
            alpha = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius * radius))[..., None] ** 2
            picture = picture * (1 - alpha) + colour * alpha
        out[index] = np.clip(picture, 0, 255).astype(np.uint8)
    return out


def _smooth(grid: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """`grid` sampled with bilinear interpolation at (u, v) in [0, 1), wrapping around."""
    rows, cols = grid.shape
    fy, fx = v * rows, u * cols
    y0, x0 = fy.astype(int) % rows, fx.astype(int) % cols
    y1, x1 = (y0 + 1) % rows, (x0 + 1) % cols
    wy, wx = fy - np.floor(fy), fx - np.floor(fx)
    top = grid[y0, x0] * (1 - wx) + grid[y0, x1] * wx
    return top * (1 - wy) + (grid[y1, x0] * (1 - wx) + grid[y1, x1] * wx) * wy


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


# A labelled set of duplicates for tests and scripts/bench_dupes.py: (transformation, how to make it
# from the original's pictures, codec, bit rate).
TRANSFORMATIONS = {
    "re-encode low bit rate": (lambda p: p, "libx264", 40_000),
    "re-encode mpeg4": (lambda p: p, "mpeg4", None),
    "re-encode vp9": (lambda p: p, "libvpx-vp9", None),
    "re-encode mjpeg": (lambda p: p, "mjpeg", None),
    "scaled down": (lambda p: _resized(p, p.shape[2] // 4 * 2, p.shape[1] // 4 * 2), "libx264", None),
    "scaled up": (lambda p: _resized(p, p.shape[2] * 3 // 4 * 2, p.shape[1] * 3 // 4 * 2), "libx264", None),
    "cropped": (lambda p: centre_crop(p, 0.95), "libx264", None),  # 2.5 % off each side: a border, a logo
    "letterboxed": (lambda p: _letterboxed(p, 0.75), "libx264", None),
    "trimmed": (lambda p: p[: len(p) * 2 // 3], "libx264", None),
    "start cut": (lambda p: p[len(p) // 3 :], "libx264", None),
    "sped up": (lambda p: p[np.arange(0, len(p), 1.25).astype(int)], "libx264", None),  # 25 % faster
}


def make_duplicate_set(out: Path, originals: int = 1, long_seconds: float = 48.0,
                       clip: tuple[float, float] = (17.4, 8.0), size: tuple[int, int] = (160, 120),
                       seconds: float = 6.0, fps: float = 10, seed: int = 0,
                       keyframe_every: float = 2.0) -> list[tuple[str, str, str]]:
    """Write originals, their copies made by every one of `TRANSFORMATIONS`, a long video with a
    sub-clip cut from it at `clip` (start, length in seconds), and look-alikes that are not copies:
    videos sharing a black intro, videos sharing a title card, and other clips of an original's
    scene. The long video has a keyframe every `keyframe_every` seconds (past 30 s vindex
    fingerprints keyframes only). Returns (path under `out`, family, kind): the videos of one
    family are copies."""
    rng = np.random.default_rng(seed)
    width, height = size
    frames = int(seconds * fps)
    labels = []

    def write(name: str, pictures: np.ndarray, family: str, kind: str, codec: str = "libx264", rate=None,
              keyframe_every=None) -> None:
        path = write_video(out / (name + CONTAINERS[codec]), pictures, fps, codec, rate, keyframe_every)
        labels.append((str(path.relative_to(out)), family, kind))

    for number in range(originals):
        master = render_scene(100 + number, width, height, frames, fps, rng)
        write(f"original_{number}", master, f"original_{number}", "original")
        for kind, (change, codec, rate) in TRANSFORMATIONS.items():
            write(f"{kind.replace(' ', '_')}_{number}", change(master), f"original_{number}", kind, codec, rate)
        for other in range(2):  # the same scene, other content: not a copy
            write(f"same_scene_{number}_{other}", render_scene(100 + number, width, height, frames, fps, rng),
                  f"same_scene_{number}_{other}", "same scene")
    long = render_scene(99, width, height, int(long_seconds * fps), fps, rng)
    # Keyframes every 2 s, as streaming encodes have them: past 30 s vindex fingerprints keyframes only.
    write("long", long, "long", "original", keyframe_every=keyframe_every)
    start, length = (int(round(value * fps)) for value in clip)
    write("subclip", long[start : start + length], "long", "sub-clip")
    write("subclip_scaled", _resized(long[start : start + length], width // 4 * 2, height // 4 * 2), "long", "sub-clip")
    card = np.zeros((int(2 * fps), height, width, 3), np.uint8)
    card[:, height // 4 : height * 3 // 4, width // 8 : width * 7 // 8] = (230, 200, 40)
    card[:, height // 3 : height // 3 + 4, width // 6 : width * 5 // 6] = (20, 20, 120)
    for number in range(2):  # different videos behind one black intro / one title card: not copies
        for kind, opening in (("black intro", np.zeros_like(card)), ("title card", card)):
            body = render_scene(200 + number, width, height, frames - len(card), fps, rng)
            name = f"{kind.replace(' ', '_')}_{number}"
            write(name, np.concatenate([opening, body]), name, kind)
    return labels


def _resized(pictures: np.ndarray, width: int, height: int) -> np.ndarray:
    import av

    return np.stack([av.VideoFrame.from_ndarray(p, format="rgb24").reformat(width=width, height=height)
                     .to_ndarray(format="rgb24") for p in pictures])


def centre_crop(pictures: np.ndarray, keep: float) -> np.ndarray:
    height, width = pictures.shape[1:3]
    new_height, new_width = int(height * keep) // 2 * 2, int(width * keep) // 2 * 2
    top, left = (height - new_height) // 2, (width - new_width) // 2
    return pictures[:, top : top + new_height, left : left + new_width]


def _letterboxed(pictures: np.ndarray, share: float) -> np.ndarray:
    """The whole picture, unchanged, in a taller frame: it fills `share` of the height, black bars
    above and below."""
    count, height, width = pictures.shape[:3]
    out = np.zeros((count, int(height / share) // 2 * 2, width, 3), np.uint8)
    top = (out.shape[1] - height) // 2
    out[:, top : top + height] = pictures
    return out


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
