"""Real PDFs laid out as reports are, written with reportlab: what the PDF reader must cope with.

``write_report_pdf`` writes four A4 pages: a running header and footer and a bare page number on
every page with text, two columns, hyphenated line ends, a table across both columns, a paragraph
that runs from page 1 on to page 2, a page that is only an image (a scan without a text layer),
and a one-column last page. The constants hold what a reader should get out of it.
"""

from __future__ import annotations

from pathlib import Path

HEADER = "Baltic Customs Review 2010"
FOOTER = "Regional office report, internal use"
TITLE = "Annual Review of the Baltic Customs Office"
# Paragraphs as a reader counts them, each with the page it starts on, in reading order.
EXPECTED: list[tuple[int, str]] = [
    (1, TITLE),
    (1, ("In 2010 the Baltic office carried out more inspections than in any year before, and its teams worked "
        "with the Finnish and Estonian services on joint risk profiles for the inspections of container traffic "
        "at the three largest ports.")),
    (1, ("The officers checked the customs declarations of every vessel that entered Tallinn harbour during the "
        "summer.")),
    (1, "A Franco-German team trained the new dog handlers of the office in March."),
    (1, ("Operation Baltic Shield seized 42 kg of heroin and 3 tonnes of cigarettes in October, the largest haul "
        "of the year.")),
    (1, ("At night the mobile teams of the office supported the officers of the northern border posts, who "
        "checked 118 trucks with the new scanners.")),
    (2, "The well-known Narva crossing opened a second lane for lorries in June."),
    (2, "Training of the well-known handlers continued in autumn with two courses."),
    (2, "Port | Seizures | Tobacco (kg)\nTallinn | 12 | 42\nNarva | 7 | 19\nKotka | 5 | 11"),
    (2, "All figures are provisional and will be revised in the final report."),
    (4, "Conclusions"),
    (4, ("The office will extend joint inspections to the ports of Muuga and Paldiski in 2011, as agreed with "
        "the Finnish service.")),
]
SCANNED_PAGE = 3
SCANNED_TEXT = "Annex: the seized cigarettes were destroyed on 5 May 2010."

_LEFT, _RIGHT, _FULL = 72.0, 308.0, 72.0  # column x positions (A4 is 595 x 842 points)
# Each block: (x, top y, font size, lines); "" leaves a paragraph gap.
_PAGES: list[list[tuple[float, float, float, list[str]]]] = [
    [
        (_FULL, 760, 16, [TITLE]),
        (_FULL, 730, 10, [
            "In 2010 the Baltic office carried out more inspections than in any year before, and its",
            "teams worked with the Finnish and Estonian services on joint risk profiles for the inspec-",
            "tions of container traffic at the three largest ports."]),
        (_LEFT, 670, 10, [
            "The officers checked the cus-", "toms declarations of every vessel that", "entered Tallinn harbour during the",
            "summer.", "",
            "A Franco-", "German team trained the new dog", "handlers of the office in March."]),
        (_RIGHT, 670, 10, [
            "Operation Baltic Shield seized 42 kg of", "heroin and 3 tonnes of cigarettes in",
            "October, the largest haul of the year.", "",
            "At night the mobile teams of the office", "supported the officers of the northern"]),
    ],
    [
        (_LEFT, 770, 10, [
            "border posts, who checked 118 trucks", "with the new scanners.", "",
            "The well-known Narva crossing opened", "a second lane for lorries in June."]),
        (_RIGHT, 770, 10, [
            "Training of the well-", "known handlers continued in autumn", "with two courses."]),
        (_FULL, 600, 10, ["All figures are provisional and will be revised in the final report."]),
    ],
    [],  # the scanned page: an image only
    [
        (_FULL, 760, 13, ["Conclusions"]),
        (_FULL, 735, 10, [
            "The office will extend joint inspections to the ports of Muuga and Paldiski in 2011, as agreed",
            "with the Finnish service."]),
    ],
]
_TABLE = [("Port", "Seizures", "Tobacco (kg)"), ("Tallinn", "12", "42"), ("Narva", "7", "19"), ("Kotka", "5", "11")]


def _scan_image():
    """A page photographed: text as pixels only."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (1240, 1754), 255)
    ImageDraw.Draw(image).text((120, 200), SCANNED_TEXT, fill=0)
    return image


def write_report_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Table

    width, height = A4
    canvas = Canvas(str(path), pagesize=A4, pageCompression=0)
    for number, blocks in enumerate(_PAGES, 1):
        if number == SCANNED_PAGE:
            canvas.drawImage(ImageReader(_scan_image()), 0, 0, width, height)
            canvas.showPage()
            continue
        canvas.setFont("Helvetica", 9)
        canvas.drawString(_FULL, height - 36, HEADER)
        canvas.drawString(_FULL, 30, FOOTER)
        canvas.drawCentredString(width / 2, 30, str(number))
        for x, top, size, lines in blocks:
            canvas.setFont("Helvetica-Bold" if size > 10 else "Helvetica", size)
            y = top
            for line in lines:
                if line:
                    canvas.drawString(x, y, line)
                y -= 1.2 * size if line else 0.8 * size
        if number == 2:
            table = Table(_TABLE, colWidths=[160, 160, 131])
            table.wrapOn(canvas, width, height)
            table.drawOn(canvas, _FULL, 640)
        canvas.showPage()
    canvas.save()
