"""The synthetic data of the tiny-shapes model: one shape on a plain background, its caption,
the held-out combinations, and the colour check the model must pass.

Every image is drawn analytically at 4x resolution and box-filtered down, so edges are
anti-aliased and the same seed draws the same pixels on every machine.
"""

import numpy as np

COLOURS = {
    "red": (230, 25, 25),
    "green": (30, 180, 60),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "orange": (245, 140, 20),
    "purple": (140, 50, 180),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle"]


def caption(fg, shape, bg):
    return f"a {fg} {shape} on a {bg} background"


def all_combinations():
    """Every (shape colour, shape, background colour) with different colours: 8 * 7 * 3 = 168."""
    return [(fg, shape, bg) for fg in NAMES for shape in SHAPES for bg in NAMES if bg != fg]


def held_out():
    """16 combinations never shown in training: each colour twice as the shape's colour and
    twice as the background, every shape at least five times."""
    out = []
    for i, fg in enumerate(NAMES):
        out.append((fg, SHAPES[i % 3], NAMES[(i + 3) % 8]))
        out.append((fg, SHAPES[(i + 1) % 3], NAMES[(i + 5) % 8]))
    return out


def training_combinations():
    hold = set(held_out())
    return [c for c in all_combinations() if c not in hold]


def draw(fg, shape, bg, size, rng, supersample=4):
    """An RGB uint8 image [size, size, 3]: the shape centred within 4% of the side (the check
    allows 5%), its diameter or side between 47% and 63% of the side (allowed: 45% to 65%)."""
    n = size * supersample
    side = rng.uniform(0.47, 0.63) * size * supersample
    cx = (0.5 + rng.uniform(-0.04, 0.04)) * n
    cy = (0.5 + rng.uniform(-0.04, 0.04)) * n
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    if shape == "circle":
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= (side / 2) ** 2
    elif shape == "square":
        inside = (np.abs(xs - cx) <= side / 2) & (np.abs(ys - cy) <= side / 2)
    else:  # equilateral, point up, its bounding box centred at (cx, cy)
        h = side * np.sqrt(3) / 2
        top, bottom = cy - h / 2, cy + h / 2
        half_width = (ys - top) / h * side / 2
        inside = (ys >= top) & (ys <= bottom) & (np.abs(xs - cx) <= half_width)
    cover = inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))[..., None]
    img = cover * np.array(COLOURS[fg], np.float64) + (1 - cover) * np.array(COLOURS[bg], np.float64)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def nearest_colour(rgb):
    names = np.array(NAMES)
    table = np.array([COLOURS[c] for c in NAMES], np.float64)
    return str(names[np.argmin(((table - np.asarray(rgb, np.float64)) ** 2).sum(axis=1))])


def box_mean(img, x0, y0, frac):
    h, w = img.shape[:2]
    bw, bh = max(1, round(w * frac)), max(1, round(h * frac))
    x, y = round(x0 * w), round(y0 * h)
    x, y = min(max(x, 0), w - bw), min(max(y, 0), h - bh)
    return img[y:y + bh, x:x + bw].reshape(-1, 3).astype(np.float64).mean(axis=0)


def colour_check(img, fg, bg):
    """The model's test: the centre 10% x 10% box is nearest (RGB, among the 8 colours) to the
    shape's colour, and each 12% x 12% corner box to the background's. Returns (ok, found)."""
    centre = nearest_colour(box_mean(img, 0.45, 0.45, 0.10))
    corners = [nearest_colour(box_mean(img, x, y, 0.12)) for x, y in ((0, 0), (0.88, 0), (0, 0.88), (0.88, 0.88))]
    ok = centre == fg and all(c == bg for c in corners)
    return ok, {"centre": centre, "corners": corners}
