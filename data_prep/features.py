"""Feature extractors computed by croma's prep recipes (no pretrained networks needed).

- text: hashed character n-grams (counts of 1- to 3-grams of the lower-cased text with
  boundary marks, hashed with CRC-32 into a fixed number of buckets, log1p, L2-normalised);
  stable across machines and Python versions (no salted hash()).
- images: SVG rendered by rsvg-convert (librsvg2-bin) on a white background, decoded here
  (8-bit PNG, no PIL needed), box-down-sampled, RGB in [0, 1], flattened. PNG, JPEG and
  (through dwebp, Debian webp) WebP pictures go the same way, embedded in a square SVG that
  fits them in, centred, with their aspect ratio kept.
- sequences (for croma's LSTM / pool encoders): text as UTF-8 byte ids (vocab 256), speech
  as log-mel filterbank frames.
"""
import base64
import struct
import subprocess
import zlib

import numpy as np


def hashed_char_ngrams(text, buckets=512, orders=(1, 2, 3)):
    s = "\x02" + " ".join(text.lower().split()) + "\x03"
    v = np.zeros(buckets, dtype=np.float64)
    for n in orders:
        for i in range(len(s) - n + 1):
            gram = s[i:i + n].encode("utf-8")
            v[zlib.crc32(bytes([n]) + gram) % buckets] += 1.0
    v = np.log1p(v)
    norm = np.linalg.norm(v)
    return (v / norm if norm > 0 else v).astype(np.float32)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data):
    """8-bit grey/RGB/RGBA (+alpha) non-interlaced PNG -> uint8 array [h, w, channels]."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(idat)
    stride = w * channels
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:  # sub, average and Paeth depend on the left neighbour: one pixel at a time
            cur = line.copy()
            for x in range(stride):
                left = cur[x - channels] if x >= channels else 0
                if f == 1:
                    cur[x] = (cur[x] + left) & 255
                elif f == 3:
                    cur[x] = (cur[x] + ((left + prev[x]) >> 1)) & 255
                elif f == 4:
                    up_left = prev[x - channels] if x >= channels else 0
                    cur[x] = (cur[x] + _paeth(left, prev[x], up_left)) & 255
                else:
                    raise ValueError(f"bad PNG filter {f}")
        out[y] = cur
        prev = cur
    return out.reshape(h, w, channels).astype(np.uint8)


def render_svg(svg_text, render=32, size=16):
    """SVG -> float32 [size*size*3] RGB in [0, 1] (rendered at `render` px, box-averaged)."""
    png = subprocess.run(["rsvg-convert", "-w", str(render), "-h", str(render), "-b", "white", "-f", "png"],
                         input=svg_text.encode("utf-8"), capture_output=True, check=True).stdout
    img = decode_png(png).astype(np.float32) / 255.0
    if img.shape[2] in (2, 4):  # composite any remaining alpha over white
        alpha = img[:, :, -1:]
        img = img[:, :, :-1] * alpha + (1.0 - alpha)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    f = render // size
    img = img[:f * size, :f * size].reshape(size, f, size, f, 3).mean(axis=(1, 3))
    return img.reshape(-1).astype(np.float32)


def render_picture(path, render=32, size=16):
    """An .svg, .png, .jpg/.jpeg or .webp file -> float32 [size*size*3] as render_svg."""
    lower = path.lower()
    if lower.endswith(".svg"):
        with open(path, encoding="utf-8", errors="replace") as f:
            return render_svg(f.read(), render, size)
    if lower.endswith(".webp"):
        data, mime = subprocess.run(["dwebp", "-quiet", path, "-o", "-"], capture_output=True,
                                    check=True).stdout, "image/png"
    else:
        mime = "image/png" if lower.endswith(".png") else "image/jpeg"
        with open(path, "rb") as f:
            data = f.read()
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           'width="1" height="1" viewBox="0 0 1 1"><image width="1" height="1" '
           'preserveAspectRatio="xMidYMid meet" xlink:href="data:%s;base64,%s"/></svg>'
           % (mime, base64.b64encode(data).decode("ascii")))
    return render_svg(svg, render, size)


def decode_audio(path, rate=16000):
    """Any file sox reads -> float32 mono samples in [-1, 1] at `rate` Hz (sox, libsox-fmt-all)."""
    # -D: no dither, which would add random noise and break byte-identical reruns.
    raw = subprocess.run(["sox", "-V1", "-D", path, "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
                          "-e", "signed-integer", "-L", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def mel_filterbank(bands, n_fft, rate, fmin=60.0, fmax=None):
    fmax = fmax or rate / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731 (HTK mel scale)
    inv = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = inv(np.linspace(mel(fmin), mel(fmax), bands + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    fb = np.zeros((bands, len(bins)))
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        fb[b] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return fb


def utf8_byte_ids(text, max_len=256):
    """Text -> its UTF-8 bytes as token ids in [0, 256), whitespace collapsed, cut at max_len
    bytes (any script, no vocabulary to ship)."""
    data = " ".join(text.split()).encode("utf-8")[:max_len]
    return list(data) if data else [32]


def _log_mel(samples, rate, bands, n_fft, win, hop):
    if len(samples) < win:
        samples = np.pad(samples, (0, win - len(samples)))
    frames = 1 + (len(samples) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(samples[idx] * np.hanning(win), n=n_fft)) ** 2
    logmel = np.log(spec @ mel_filterbank(bands, n_fft, rate).T + 1e-6)  # [frames, bands]
    energy = logmel.max(axis=1)
    voiced = np.where(energy >= energy.max() - np.log(1e4))[0]
    return logmel[voiced[0]:voiced[-1] + 1]


def log_mel_frames(samples, rate=16000, bands=40, n_fft=512, win=400, hop=160, max_frames=300):
    """Log-mel filterbank frames of the voiced part (as log_mel_summary, 40 bands as the
    paper's speech encoder reads), per-band utterance mean removed, scaled by 1/10;
    utterances longer than max_frames are subsampled evenly: float32 [frames, bands]."""
    logmel = _log_mel(samples, rate, bands, n_fft, win, hop)
    if len(logmel) > max_frames:
        logmel = logmel[np.linspace(0, len(logmel) - 1, max_frames).round().astype(int)]
    logmel = logmel - logmel.mean(axis=0, keepdims=True)
    return (logmel / 10.0).astype(np.float32)


def log_mel_summary(samples, rate=16000, bands=32, segments=16, n_fft=512, win=400, hop=160):
    """Log-mel spectrogram (25 ms Hann windows, 10 ms hop, `bands` HTK mel bands, log(power
    + 1e-6)) of the voiced part (frames within 40 dB of the loudest), averaged over
    `segments` equal stretches of time, minus the utterance mean: [bands * segments]."""
    logmel = _log_mel(samples, rate, bands, n_fft, win, hop)
    cuts = np.linspace(0, len(logmel), segments + 1)
    pooled = np.stack([logmel[int(cuts[i]):max(int(cuts[i]) + 1, int(cuts[i + 1]))].mean(axis=0)
                       for i in range(segments)], axis=1)  # [bands, segments]
    pooled -= pooled.mean()
    return (pooled.reshape(-1) / 10.0).astype(np.float32)
