"""Renders printed text lines for the ppocr-rec-v4 quality runs (test/passes/quantize/*.slow.test.ts).

Real inputs for a text recognizer: 48 lines (the first 32 for evaluation, the last 16 for calibration) of English words and numbers in several system fonts (DejaVu, Liberation),
sizes and small rotations, resized as PaddleOCR's RecResizeImg does (height 48, width by aspect ratio, at
most 320). Saved as uint8 grey [N, 48, 320] (white padding) plus the used widths [N] and the texts; the test
normalises with (x / 255 - 0.5) / 0.5, repeats the grey channel to 3, and zero-fills beyond each width, as
PaddleOCR does. Run with Debian's python3 (PIL):  /usr/bin/python3 make_text_lines.py
"""
import json
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

random.seed(2024)
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
N = 48
H, W = 48, 320
images = np.full((N, H, W), 255, dtype=np.uint8)
widths = np.zeros(N, dtype=np.int64)
texts = []
for i in range(N):
    k = random.randint(1, 3)
    words = random.sample(WORDS, k)
    if random.random() < 0.5:
        words.insert(random.randint(0, k), str(random.randint(1, 9999)))
    text = " ".join(words)
    if random.random() < 0.3:
        text = text.capitalize()
    font = ImageFont.truetype(random.choice(FONTS), random.randint(28, 40))
    left, top, right, bottom = font.getbbox(text)
    pad = 8
    img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=random.randint(0, 60))
    img = img.rotate(random.uniform(-1.5, 1.5), expand=False, fillcolor=255)
    ratio = img.width / img.height
    w = min(W, int(math.ceil(H * ratio)))
    img = img.resize((w, H), Image.BILINEAR)
    images[i, :, :w] = np.asarray(img)
    widths[i] = w
    texts.append(text)
np.save("text_lines.npy", images)
np.save("text_line_widths.npy", widths)
with open("text_lines.json", "w") as f:
    json.dump(texts, f, indent=0)
print("wrote", N, "lines, mean width", widths.mean())
