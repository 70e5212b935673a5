"""The printable ward/building poster (cms.poster): a pure function from texts to PDF bytes.

No database. The PDF's structure and the QR code's drawn modules are checked from the bytes
alone; what a reader sees (the page size, the extracted text, the QR code decoded from a
rendered image) is checked with Debian's poppler-utils and zbar-tools when they are installed
(`apt-get install poppler-utils zbar-tools`), and skipped with a message when they are not.
"""

import base64
import re
import shutil
import subprocess
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest

from cms.poster import MAX_FORM_URL_LENGTH, PosterLine, qr_matrix, render_poster

MM = 72 / 25.4
A4_POINTS = (595.2756, 841.8898)
LOCATION = "3号楼 5层 心内科病区"
FORM_URL = "https://renhe.carefront.example/complaint/?location=" + quote(LOCATION)
LINES = [
    PosterLine("24小时投诉热线", "24-hour complaint hotline", "021-6234 5678"),
    PosterLine("客户服务中心", "Patient service centre", "021-6234 5000 转 8001"),
    PosterLine("上海市卫生健康委投诉电话", "Municipal health commission", "12345"),
]
CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


def poster(**overrides) -> bytes:
    kwargs = {
        "site_name_zh": "上海市仁和医院",
        "site_name_en": "Shanghai Renhe Hospital",
        "location": LOCATION,
        "form_url": FORM_URL,
        "lines": LINES,
        "languages": ["zh-hans", "en"],
    }
    kwargs.update(overrides)
    return render_poster(**kwargs)


def page_content(pdf: bytes) -> str:
    """The page's content stream, decoded (reportlab writes ASCII85 over Flate)."""
    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        raw = match.group(1).strip()
        if raw.endswith(b"~>"):
            raw = base64.a85decode(raw, adobe=True)
        streams.append(zlib.decompress(raw).decode("latin-1"))
    pages = [s for s in streams if " Tj" in s]
    assert len(pages) == 1
    return pages[0]


def needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed (apt-get install poppler-utils zbar-tools)"
        )


def run(*args: str | Path) -> str:
    return subprocess.run(
        [str(a) for a in args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    needs("pdftotext")
    path = tmp_path / "poster.pdf"
    path.write_bytes(pdf)
    return run("pdftotext", "-enc", "UTF-8", path, "-")


def cjk_extractable() -> bool:
    # pdftotext maps STSong-Light's character codes back to Unicode with poppler-data's CMaps.
    return Path("/usr/share/poppler/cMap/Adobe-GB1").is_dir()


# --- from the bytes alone ------------------------------------------------------------------


def test_one_a4_portrait_page():
    pdf = poster()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 1
    boxes = re.findall(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) == 1
    x0, y0, x1, y1 = map(float, boxes[0])
    assert (x0, y0) == (0, 0)
    assert (x1, y1) == pytest.approx(A4_POINTS, abs=0.01)


def test_same_input_same_bytes():
    assert poster() == poster()
    assert poster() != poster(location="2号楼 3层 骨科病区")


def test_drawn_qr_code_is_the_form_urls_matrix_with_a_quiet_zone():
    content = page_content(poster())
    # The dark modules: one path of rectangles, the longest line of the stream.
    path = max(content.splitlines(), key=len)
    rects = [
        tuple(map(float, r))
        for r in re.findall(r"([\d.-]+) ([\d.-]+) ([\d.-]+) ([\d.-]+) re", path)
    ]
    module = min(h for _, _, _, h in rects)
    left = min(x for x, _, _, _ in rects)
    top = max(y + h for _, y, _, h in rects)
    expected = qr_matrix(FORM_URL)
    count = len(expected)
    drawn = [[False] * count for _ in range(count)]
    for x, y, w, h in rects:
        assert h == pytest.approx(module)
        row = round((top - y - h) / module)
        col = round((x - left) / module)
        for c in range(col, col + round(w / module)):
            drawn[row][c] = True
    assert drawn == expected

    side = count * module
    assert side >= 45 * MM, f"QR symbol is {side / MM:.1f} mm"
    # The quiet zone: a white square four modules wider on each side, drawn under the symbol.
    quiet = re.search(r"1 1 1 rg\s+n ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re f", content)
    assert quiet, "no white quiet-zone square"
    qx, qy, qw, qh = map(float, quiet.groups())
    assert qw == qh == pytest.approx(side + 8 * module)
    assert qx == pytest.approx(left - 4 * module)
    assert qy + qh == pytest.approx(top + 4 * module)


def test_qr_matrix_is_a_qr_symbol():
    matrix = qr_matrix(FORM_URL)
    count = len(matrix)
    assert all(len(row) == count for row in matrix)
    assert (count - 17) % 4 == 0 and 1 <= (count - 17) // 4 <= 40
    finder = [
        [r in (0, 6) or c in (0, 6) or (2 <= r <= 4 and 2 <= c <= 4) for c in range(7)]
        for r in range(7)
    ]
    for r0, c0 in ((0, 0), (0, count - 7), (count - 7, 0)):
        assert [row[c0 : c0 + 7] for row in matrix[r0 : r0 + 7]] == finder
    # A longer address needs a bigger symbol.
    assert len(qr_matrix(FORM_URL + "&x=" + "a" * 200)) > count


def test_english_only_poster_uses_no_chinese_font():
    pdf = poster(
        languages=["en"],
        location="Building 3, Ward 5",
        lines=[PosterLine("24小时投诉热线", "Complaint hotline", "021-6234 5678")],
    )
    assert b"STSong-Light" not in pdf
    assert b"Helvetica" in pdf


def test_language_codes_are_read_loosely():
    assert (
        poster(languages=["zh-Hans"]) == poster(languages=["zh_hans"]) == poster(languages=["zh"])
    )
    assert poster(languages=["en-gb", "fr"]) == poster(languages=["en"])
    assert poster(languages=["en", "zh-hans"]) != poster(languages=["zh-hans", "en"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"languages": []}, "no poster language"),
        ({"languages": ["fr", "de"]}, "no poster language"),
        ({"location": "  "}, "needs a location"),
        ({"form_url": "/complaint/?location=x"}, "absolute http"),
        ({"form_url": "ftp://example.com/"}, "absolute http"),
        ({"form_url": "https://example.com/a b"}, "absolute http"),
        ({"form_url": "https://example.com/?q=" + "x" * MAX_FORM_URL_LENGTH}, "at most"),
        ({"lines": LINES * 4}, "do not fit"),
    ],
)
def test_rejects_what_cannot_make_a_poster(overrides, message):
    with pytest.raises(ValueError, match=message):
        poster(**overrides)


def test_many_lines_still_fit_one_page():
    pdf = poster(lines=LINES * 2)
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 1


# --- as a reader sees it (poppler-utils, zbar-tools) -----------------------------------------


def test_pdfinfo_sees_one_a4_page(tmp_path):
    needs("pdfinfo")
    path = tmp_path / "poster.pdf"
    path.write_bytes(poster())
    info = run("pdfinfo", path)
    assert re.search(r"^Pages:\s+1$", info, re.M)
    assert re.search(r"^Page size:\s+595.2\d* x 841.8\d* pts \(A4\)$", info, re.M)


def test_bilingual_poster_text(tmp_path):
    text = pdftotext(poster(), tmp_path)
    flat = " ".join(text.split())
    for english in [
        "Complaints and suggestions",
        "Shanghai Renhe Hospital",
        "Location",
        "24-hour complaint hotline",
        "Patient service centre",
        "Municipal health commission",
        "Scan to file a complaint online, no account needed",
        "Your details are used only to handle this complaint",
    ]:
        assert english in flat
    for number in ["021-6234 5678", "021-6234 5000", "8001", "12345"]:
        assert number in flat
    if not cjk_extractable():
        pytest.skip("poppler-data missing: pdftotext cannot map the Chinese text back")
    for chinese in [
        "投诉与建议",
        "上海市仁和医院",
        "所在位置",
        LOCATION,
        "24小时投诉热线",
        "客户服务中心",
        "扫码在线投诉，无需注册",
        "您的个人信息仅用于处理本次投诉",
    ]:
        assert chinese in flat


def test_english_only_poster_has_no_chinese(tmp_path):
    text = pdftotext(poster(languages=["en"], location="Building 3, Ward 5"), tmp_path)
    assert "Complaints and suggestions" in text
    assert "Building 3, Ward 5" in text
    assert "021-6234 5678" in text
    assert "Shanghai Renhe Hospital" in text
    if not cjk_extractable():
        pytest.skip("poppler-data missing: pdftotext cannot map the Chinese text back")
    # Only the value the hospital typed in Chinese ("转" = extension) remains.
    assert CJK.findall(text) == ["转"]


def test_chinese_only_poster_has_no_english(tmp_path):
    text = pdftotext(poster(languages=["zh-hans"]), tmp_path)
    for english in ["Complaints", "Shanghai", "Location", "hotline", "Scan", "Your details"]:
        assert english not in text
    assert "021-6234 5678" in text
    assert re.sub(r"[^A-Za-z]", "", text) == "", "no Latin letters at all"
    if not cjk_extractable():
        pytest.skip("poppler-data missing: pdftotext cannot map the Chinese text back")
    assert "投诉与建议" in text
    assert "上海市仁和医院" in text


def test_site_without_english_name_shows_the_chinese_one_once(tmp_path):
    needs("pdftotext")
    if not cjk_extractable():
        pytest.skip("poppler-data missing: pdftotext cannot map the Chinese text back")
    text = pdftotext(poster(site_name_en="", languages=["en"]), tmp_path)
    assert text.count("上海市仁和医院") == 1


@pytest.mark.parametrize("languages", [["zh-hans", "en"], ["en"], ["zh-hans"]])
def test_qr_code_scans_back_to_the_form_url(tmp_path, languages):
    needs("pdftoppm", "zbarimg")
    path = tmp_path / "poster.pdf"
    path.write_bytes(poster(languages=languages))
    run("pdftoppm", "-r", "150", "-png", "-singlefile", path, tmp_path / "page")
    decoded = run("zbarimg", "--quiet", "--raw", tmp_path / "page.png")
    assert decoded.splitlines() == [FORM_URL]
