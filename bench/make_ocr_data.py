"""Renders printed English pages for ppocr-det-v4 in the GPTQ-on-Conv run of `npm run bench:gptq -- --cnn`
(bench/gptq.ts), in DejaVu and Liberation fonts (Debian's fonts-dejavu and fonts-liberation), from the words
of a text file when given (e.g. nlp-corpus sentences), else a fixed word list. Deterministic (seeded).
(The recognizer's text lines come from test/helpers/text-lines.ts, shared with `npm run bench:calib`.)

Needs Pillow and numpy, e.g.  python3 -m venv V && V/bin/pip install --retries 0 --timeout 3 pillow numpy

  V/bin/python bench/make_ocr_data.py --out DIR [--pages 24] [--words FILE]

Writes to DIR:
  det_x.npy    float32 [pages, 3, 320, 320]: white pages with 3 to 6 lines of text at random places,
               normalised with ImageNet's mean and std as PaddleOCR's det preprocessing does
"""
import argparse
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = ("quantize model weights onnx runtime accuracy invoice total amount date number street city "
         "station coffee market open closed monday friday price discount order receipt table chapter page "
         "north south east west river bridge library museum garden hotel airport").split()
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
]
PAGE = 320


def phrase(rng, words):
    k = rng.randint(1, 4)
    out = [rng.choice(words) for _ in range(k)]
    if rng.random() < 0.5:
        out.insert(rng.randint(0, k), str(rng.randint(1, 9999)))
    text = " ".join(out)
    return text.capitalize() if rng.random() < 0.3 else text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages", type=int, default=24)
    ap.add_argument("--words", help="a text file whose words are drawn from (e.g. nlp-corpus sentences)")
    args = ap.parse_args()
    words = WORDS
    if args.words:
        with open(args.words, encoding="utf-8") as fh:
            words = sorted({w.strip(".,;:!?\"'()").lower() for w in fh.read().split() if w.isascii() and 2 <= len(w.strip(".,;:!?\"'()")) <= 10} - {""})
    rng = random.Random(2025)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
    det = np.zeros((args.pages, 3, PAGE, PAGE), dtype=np.float32)
    for p in range(args.pages):
        page = Image.new("L", (PAGE, PAGE), 255)
        for _ in range(rng.randint(3, 6)):
            font = ImageFont.truetype(rng.choice(FONTS), rng.randint(14, 30))
            text = phrase(rng, words)
            x, y = rng.randint(0, PAGE // 3), rng.randint(0, PAGE - 36)
            ImageDraw.Draw(page).text((x, y), text, font=font, fill=rng.randint(0, 80))
        a = np.asarray(page, dtype=np.float32)[None].repeat(3, 0) / 255
        det[p] = (a - mean) / std
    np.save(f"{args.out}/det_x.npy", det)
    print("wrote", args.pages, "pages to", args.out)


if __name__ == "__main__":
    main()
