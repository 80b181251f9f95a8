"""Video quality figures against a reference rendering, in numpy: PSNR and SSIM on uint8
frames (F, H, W, 3). What the step-cache gate (conf.check_step_cache) and the batching
tolerance are measured with (bench/throughput.py, tests/generation/test_batching.py)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Frames = npt.NDArray[np.uint8]


def psnr(a: Frames, b: Frames) -> float:
    """Peak signal-to-noise ratio in dB over all frames (inf when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _luma(frames: Frames) -> npt.NDArray[np.float64]:
    f = frames.astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _box_mean(x: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    """Mean over every k×k window of each frame (valid windows only), by summed-area tables."""
    s = np.cumsum(np.cumsum(np.pad(x, ((0, 0), (1, 0), (1, 0))), axis=1), axis=2)
    total = s[:, k:, k:] - s[:, :-k, k:] - s[:, k:, :-k] + s[:, :-k, :-k]
    return total / (k * k)


def ssim(a: Frames, b: Frames, *, window: int = 7) -> float:
    """Mean structural similarity of the luma over k×k windows (Wang et al. 2004 with a
    uniform window, as scikit-image's default), averaged over frames."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    x, y = _luma(a), _luma(b)
    k = max(1, min(window, x.shape[1], x.shape[2]))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box_mean(x, k), _box_mean(y, k)
    n = k * k
    cov = n / max(1, n - 1)  # sample (co)variances, as scikit-image
    vx = (_box_mean(x * x, k) - mx * mx) * cov
    vy = (_box_mean(y * y, k) - my * my) * cov
    vxy = (_box_mean(x * y, k) - mx * my) * cov
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(np.mean(s))
