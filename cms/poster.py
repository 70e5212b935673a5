"""A printable A4 poster for one ward or building: how to complain, in the site's languages.

`render_poster` is a pure function (no database, no request): the caller gathers the site's
names, the hotline lines and the complaint form's address with the location already in its
query string, and gets PDF bytes back.

- Chinese is set in reportlab's built-in CID font STSong-Light, so no font file is shipped.
  CID fonts are not embedded: the PDF viewer or printer driver supplies a Song/Ming face
  (every Chinese Windows, macOS and Adobe Reader does; on Linux poppler needs a CJK font such
  as Debian's fonts-noto-cjk). Latin-only strings (the English, the phone numbers) use the
  standard Helvetica faces, which every viewer has.
- The QR code is vector: reportlab's own encoder (`reportlab.graphics.barcode.qrencoder`)
  gives the module matrix and each row's dark runs are drawn as rectangles of one path, so
  it prints crisp at any size, with a 4-module quiet zone.
- Output is deterministic (reportlab's `invariant` mode): the same input gives the same bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from reportlab.graphics.barcode import qrencoder
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas

__all__ = ["MAX_FORM_URL_LENGTH", "PosterLine", "qr_matrix", "render_poster"]

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"

INK = HexColor("#111111")
MUTED = HexColor("#3A3A3A")
ACCENT = HexColor("#0B3A66")  # deep navy: white on it and it on white both pass WCAG AAA
RULE = HexColor("#9AA5B1")

PAGE_W, PAGE_H = A4
MARGIN = 15 * mm
CONTENT_W = PAGE_W - 2 * MARGIN

QR_BORDER = 4  # modules of quiet zone, as the QR standard asks
QR_MIN = 48 * mm  # the symbol itself, quiet zone not counted
QR_MAX = 70 * mm
MAX_FORM_URL_LENGTH = 600  # longer would make the modules too small to scan from a wall

TITLE = {"zh": "投诉与建议", "en": "Complaints and suggestions"}
LOCATION_LABEL = {"zh": "所在位置", "en": "Location"}
CAPTION = {
    "zh": "扫码在线投诉，无需注册",
    "en": "Scan to file a complaint online, no account needed",
}
PRIVACY = {
    "zh": "您的个人信息仅用于处理本次投诉",
    "en": "Your details are used only to handle this complaint",
}


@dataclass(frozen=True)
class PosterLine:
    """One contact line: e.g. ("24小时投诉热线", "24-hour complaint hotline", "021-6234 5678")."""

    label_zh: str
    label_en: str
    value: str


def render_poster(
    *,
    site_name_zh: str,
    site_name_en: str,
    location: str,
    form_url: str,
    lines: list[PosterLine],
    languages: list[str],
) -> bytes:
    """Return a one-page A4 portrait PDF poster.

    `languages` are the site's language codes ("zh-hans", "en"; case and region do not
    matter: "zh", "zh-Hans", "en-gb" work too); the poster shows Chinese and/or English
    accordingly, the first one listed set larger. `form_url` is encoded in the QR code as
    given (the caller has already put the URL-encoded location in its query string).
    Raises ValueError for no known language, an empty location, a form_url that is not an
    absolute http(s) URL or is longer than MAX_FORM_URL_LENGTH, or more lines than fit.
    """
    langs = _languages(languages)
    location = " ".join(location.split())
    if not location:
        raise ValueError("the poster needs a location (ward or building)")
    if not re.match(r"https?://[^\s/]+", form_url) or any(c.isspace() for c in form_url):
        raise ValueError(f"form_url must be an absolute http(s) URL, got {form_url!r}")
    if len(form_url) > MAX_FORM_URL_LENGTH:
        raise ValueError(
            f"form_url is {len(form_url)} characters; at most {MAX_FORM_URL_LENGTH} keep the "
            "QR code scannable"
        )
    _register_fonts()

    names = {"zh": site_name_zh.strip(), "en": site_name_en.strip()}
    contact_lines = [
        (
            _pick({"zh": line.label_zh.strip(), "en": line.label_en.strip()}, langs),
            line.value.strip(),
        )
        for line in lines
    ]
    matrix = qr_matrix(form_url)

    layout = None
    for scale in (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6):
        layout = _Layout(langs, _pick(names, langs), location, contact_lines, matrix, scale)
        if layout.fits():
            break
    else:
        raise ValueError(f"{len(lines)} contact lines do not fit on one A4 page")

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    title = " / ".join(TITLE[lang] for lang in langs)
    canvas.setTitle(f"{title} · {location}")
    canvas.setSubject(" / ".join(filter(None, _pick(names, langs))))
    canvas.setCreator("Carefront")
    canvas.setAuthor("Carefront")
    layout.draw(canvas)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules for `data` (byte mode, UTF-8, error correction level M), True
    for dark, row by row from the top, quiet zone not included."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    # Byte mode always: reportlab would otherwise pick numeric, alphanumeric or Kanji mode
    # by what the string happens to contain.
    code.addData(qrencoder.QR8bitByte(data))
    code.make()
    return [[bool(module) for module in row] for row in code.modules]


# --- helpers ---------------------------------------------------------------------------------


def _languages(languages: list[str]) -> list[str]:
    """The poster's languages, "zh" and/or "en", in the order the site lists them."""
    found: list[str] = []
    for code in languages:
        base = code.strip().lower().replace("_", "-").split("-")[0]
        if base in ("zh", "en") and base not in found:
            found.append(base)
    if not found:
        raise ValueError(f"no poster language among {languages!r}; expected zh-hans and/or en")
    return found


def _pick(texts: dict[str, str], langs: list[str]) -> list[str]:
    """The texts in the poster's languages, in order; a missing one borrows the other's text
    (once, so a site without an English name still shows its Chinese one)."""
    picked = [texts[lang] or texts["en" if lang == "zh" else "zh"] for lang in langs]
    if len(picked) == 2 and picked[0] == picked[1]:
        picked = picked[:1]
    return [text for text in picked if text]


def _register_fonts() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _is_latin(text: str) -> bool:
    try:
        text.encode("cp1252")  # what the standard fonts' WinAnsiEncoding can show
    except UnicodeEncodeError:
        return False
    return True


def _runs(text: str) -> list[tuple[str, bool]]:
    """`text` cut into runs the standard fonts can show (True) and runs they cannot (False):
    digits and Latin letters are set in Helvetica even inside a Chinese string."""
    runs: list[tuple[str, bool]] = []
    for char in text:
        latin = _is_latin(char)
        if runs and runs[-1][1] == latin:
            runs[-1] = (runs[-1][0] + char, latin)
        else:
            runs.append((char, latin))
    return runs


@dataclass(frozen=True)
class _Style:
    size: float
    bold: bool = False
    color: Color = INK

    def font(self, latin: bool) -> str:
        if latin:
            return LATIN_BOLD if self.bold else LATIN_FONT
        return CJK_FONT

    def width(self, text: str) -> float:
        return sum(
            pdfmetrics.stringWidth(run, self.font(latin), self.size) for run, latin in _runs(text)
        )

    @property
    def leading(self) -> float:
        return self.size * 1.22


_CJK = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_TOKENS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+|\s+")


def _wrap(text: str, style: _Style, width: float) -> list[str]:
    """Greedy line breaking: between words, or between any two Chinese characters."""
    lines: list[str] = []
    current = ""
    for token in _TOKENS.findall(text):
        candidate = current + (" " if token.isspace() else token)
        if style.width(candidate.strip()) <= width or not current.strip():
            current = candidate
        else:
            lines.append(current.strip())
            current = "" if token.isspace() else token
        while style.width(current.strip()) > width and len(current.strip()) > 1:
            # One word wider than the line (a long number, a URL): break it anywhere.
            head = current.strip()
            cut = len(head) - 1
            while cut > 1 and style.width(head[:cut]) > width:
                cut -= 1
            lines.append(head[:cut])
            current = head[cut:]
    if current.strip():
        lines.append(current.strip())
    return lines


def _fit(
    text: str, style: _Style, width: float, max_lines: int, min_size: float
) -> list[tuple[str, _Style]]:
    """`text` wrapped in `style`: on as few lines as a shrink of up to a third allows, at most
    `max_lines` (shrinking down to `min_size` if need be)."""
    for allowed in range(1, max_lines + 1):
        floor = min_size if allowed == max_lines else max(min_size, style.size * 2 / 3)
        size = style.size
        while True:
            fitted = _Style(size, style.bold, style.color)
            lines = _wrap(text, fitted, width)
            if len(lines) <= allowed:
                return [(line, fitted) for line in lines]
            if size <= floor:
                break
            size = max(floor, size - 1)
    return [(line, fitted) for line in lines]


def _draw_line(canvas: Canvas, text: str, style: _Style, x: float, y: float, align: str) -> None:
    if align == "center":
        x -= style.width(text) / 2
    elif align == "right":
        x -= style.width(text)
    # Text render mode and stroke width outlive a text object: keep them to this line.
    canvas.saveState()
    obj = canvas.beginText(x, y)
    obj.setFillColor(style.color)
    obj.setStrokeColor(style.color)
    canvas.setLineWidth(style.size * 0.035)
    for run, latin in _runs(text):
        obj.setFont(style.font(latin), style.size)
        # STSong-Light has no bold face: fill and stroke the outline to thicken it.
        obj.setTextRenderMode(2 if style.bold and not latin else 0)
        obj.textOut(run)
    canvas.drawText(obj)
    canvas.restoreState()


class _Layout:
    """Measures the poster top-down, then draws it; `scale` shrinks the flexible parts."""

    def __init__(self, langs, names, location, contact_lines, matrix, scale):
        self.langs = langs
        self.scale = scale
        inner = CONTENT_W - 2 * 14
        self.header = self._stack(
            [TITLE[lang] for lang in langs],
            [_Style(40, True, white), _Style(22, False, white)],
            inner,
        )
        self.names = self._stack(names, [_Style(24, True), _Style(15, False, MUTED)], CONTENT_W)
        self.location_label = " · ".join(LOCATION_LABEL[lang] for lang in langs)
        self.location = _fit(location, _Style(46 * scale, True), inner, 2, 20)
        self.rows = []
        value_w = CONTENT_W * 0.52
        label_w = CONTENT_W - value_w - 12
        for labels, value in contact_lines:
            label_lines = self._stack(
                labels, [_Style(18 * scale, True), _Style(12.5 * scale, False, MUTED)], label_w
            )
            value_lines = _fit(value, _Style(34 * scale, True), value_w, 2, 16)
            self.rows.append((label_lines, value_lines))
        self.caption = self._stack(
            [CAPTION[lang] for lang in langs],
            [_Style(15, True), _Style(12, False, MUTED)],
            CONTENT_W,
        )
        self.privacy = self._stack(
            [PRIVACY[lang] for lang in langs],
            [_Style(13, False, MUTED), _Style(11, False, MUTED)],
            CONTENT_W,
        )
        self.matrix = matrix

    @staticmethod
    def _stack(texts, styles, width):
        """Each text wrapped (up to two lines) in its style: the first text gets the first."""
        out = []
        for text, style in zip(texts, styles, strict=False):
            out.extend(_fit(text, style, width, 2, style.size * 0.6))
        return out

    # -- measuring --

    @staticmethod
    def _height(lines) -> float:
        return sum(style.leading for _, style in lines)

    def _header_h(self):
        return self._height(self.header) + 2 * 16

    def _location_h(self):
        return 14 + 14 + 6 + self._height(self.location) + 12

    def _row_h(self, row):
        labels, values = row
        return max(self._height(labels), self._height(values)) + 16 * self.scale

    def _footer_h(self):
        return self._height(self.privacy) + 6 + 12

    def _fixed_h(self):
        """Everything but the QR symbol (quiet zone counted), including the gaps."""
        rows = sum(self._row_h(row) for row in self.rows)
        gaps = 14 + 12 + 16 + 10 + 4  # as in draw()
        return (
            self._header_h()
            + self._height(self.names)
            + self._location_h()
            + rows
            + self._height(self.caption)
            + self._footer_h()
            + gaps
        )

    def _qr_side(self):
        """The symbol's side (quiet zone not counted), as large as the space allows."""
        modules = len(self.matrix)
        room = PAGE_H - 2 * MARGIN - self._fixed_h()
        side = room * modules / (modules + 2 * QR_BORDER)
        return min(QR_MAX, side)

    def fits(self) -> bool:
        return self._qr_side() >= QR_MIN

    # -- drawing --

    def _draw_lines(self, canvas, lines, top, x, align):
        y = top
        for text, style in lines:
            _draw_line(canvas, text, style, x, y - style.size * 0.86, align)
            y -= style.leading
        return y

    def draw(self, canvas: Canvas) -> None:
        cx = PAGE_W / 2
        top = PAGE_H - MARGIN

        # Title band.
        h = self._header_h()
        canvas.setFillColor(ACCENT)
        canvas.roundRect(MARGIN, top - h, CONTENT_W, h, 6, stroke=0, fill=1)
        self._draw_lines(canvas, self.header, top - 16, cx, "center")
        top -= h + 14

        # Site name.
        top = self._draw_lines(canvas, self.names, top, cx, "center") - 12

        # Location, boxed.
        h = self._location_h()
        canvas.setStrokeColor(ACCENT)
        canvas.setLineWidth(2.5)
        canvas.roundRect(MARGIN, top - h, CONTENT_W, h, 6, stroke=1, fill=0)
        label_style = _Style(12.5, False, ACCENT)
        _draw_line(canvas, self.location_label, label_style, cx, top - 14 - 12.5 * 0.86, "center")
        self._draw_lines(canvas, self.location, top - 14 - 14 - 6, cx, "center")
        top -= h + 16

        # Contact lines: label on the left, the number large on the right.
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.8)
        canvas.line(MARGIN, top, PAGE_W - MARGIN, top)
        for row in self.rows:
            labels, values = row
            h = self._row_h(row)
            pad = 8 * self.scale
            lh, vh = self._height(labels), self._height(values)
            self._draw_lines(canvas, labels, top - pad - (h - 2 * pad - lh) / 2, MARGIN + 4, "left")
            self._draw_lines(
                canvas, values, top - pad - (h - 2 * pad - vh) / 2, PAGE_W - MARGIN - 4, "right"
            )
            top -= h
            canvas.setStrokeColor(RULE)
            canvas.setLineWidth(0.8)
            canvas.line(MARGIN, top, PAGE_W - MARGIN, top)

        # Footer, anchored at the bottom margin.
        bottom = MARGIN + self._height(self.privacy)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.8)
        canvas.line(MARGIN, bottom + 6, PAGE_W - MARGIN, bottom + 6)
        self._draw_lines(canvas, self.privacy, bottom, cx, "center")

        # QR code and its caption, centred in the space left between the rows and the footer.
        side = self._qr_side()
        module = side / len(self.matrix)
        quiet = QR_BORDER * module
        total = side + 2 * quiet
        block = total + 4 + self._height(self.caption)
        free_top, free_bottom = top - 10, bottom + 6 + 12
        qr_top = free_bottom + (free_top - free_bottom + block) / 2
        self._draw_qr(canvas, cx - total / 2, qr_top, module)
        # The caption starts below the quiet zone, never inside it.
        self._draw_lines(canvas, self.caption, qr_top - total - 4, cx, "center")

    def _draw_qr(self, canvas: Canvas, left: float, top: float, module: float) -> None:
        """The symbol with its quiet zone, top-left corner at (left, top)."""
        count = len(self.matrix)
        total = (count + 2 * QR_BORDER) * module
        canvas.setFillColor(white)
        canvas.rect(left, top - total, total, total, stroke=0, fill=1)
        # All dark runs in one path, filled once: no hairline seams between modules.
        path = canvas.beginPath()
        for r, row in enumerate(self.matrix):
            y = top - (QR_BORDER + r + 1) * module
            c = 0
            while c < count:
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < count and row[c]:
                    c += 1
                path.rect(left + (QR_BORDER + start) * module, y, (c - start) * module, module)
        canvas.setFillColor(INK)
        canvas.drawPath(path, stroke=0, fill=1, fillMode=FILL_NON_ZERO)
