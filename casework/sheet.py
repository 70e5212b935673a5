"""The printable case sheet: one case on A4, laid out like the paper 投诉处理表 / 客户投诉意见表
it replaces (seed 000 §1.4: the form is filled in at intake, followed by the dispatcher,
archived once all parties, the complainant included, have confirmed it).

Boxes in the paper form's order: who complained, who received it when and how, the account,
the classification and department, the handling steps with their times, the reply (the
written reply's investigation, facts, responsibility, decision), the call-back and the
complainant's satisfaction, the closure and its approvals, and the lines where the receiver,
the department, the manager and the complainant sign. Labels are bilingual (Chinese first, as
on the paper); the case's own words are as recorded. Fonts as in `cms.poster` (reportlab's
CID font for Chinese, Helvetica for Latin runs: no font file shipped).
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cms.poster import CJK_FONT, LATIN_BOLD, LATIN_FONT, _register_fonts, _runs

PAGE_W, PAGE_H = A4
MARGIN = 12 * mm
WIDTH = PAGE_W - 2 * MARGIN
GRID = colors.HexColor("#444444")
SHADE = colors.HexColor("#E8ECF0")

BODY = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9, leading=12)
LABEL = ParagraphStyle("label", parent=BODY, fontSize=7.5, leading=9)
TITLE = ParagraphStyle("title", parent=BODY, fontSize=14, leading=17, alignment=1)
SUBTITLE = ParagraphStyle("subtitle", parent=BODY, fontSize=10, leading=13, alignment=1)


def _markup(text: str, *, bold: bool = False) -> str:
    """`text` as Paragraph markup: Latin runs in Helvetica, the rest in the CJK font."""
    parts = []
    for run, latin in _runs(str(text)):
        face = (LATIN_BOLD if bold else LATIN_FONT) if latin else CJK_FONT
        body = escape(run).replace("\n", "<br/>")
        parts.append(f'<font name="{face}">{body}</font>')
    return "".join(parts)


def _p(text, style=BODY, *, bold: bool = False) -> Paragraph:
    return Paragraph(_markup(text if text not in (None, "") else "—", bold=bold), style)


def _label(zh: str, en: str) -> Paragraph:
    return Paragraph(_markup(zh, bold=True) + " " + _markup(en), LABEL)


def _box(rows, widths, *, header: tuple[str, str] | None = None) -> Table:
    """A ruled box of the form: label cells shaded, as on the paper."""
    data = []
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        data.append([_label(*header)] + [""] * (len(widths) - 1))
        style += [("SPAN", (0, 0), (-1, 0)), ("BACKGROUND", (0, 0), (-1, 0), SHADE)]
    start = len(data)
    for row in rows:
        data.append(row)
    for r, row in enumerate(rows, start=start):
        for c, cell in enumerate(row):
            if getattr(cell, "style", None) is LABEL:
                style.append(("BACKGROUND", (c, r), (c, r), SHADE))
    return Table(data, colWidths=widths, style=TableStyle(style), repeatRows=1 if header else 0)


def render_case_sheet(*, case, site, complainant: dict, steps: list[tuple]) -> bytes:
    """The case sheet as PDF bytes. `complainant` is the panel as the reader may see it
    (`casework.selectors.complainant_details`); `steps` the handling steps as
    (time, what, who, note) rows, already in the reader's language and masking."""
    _register_fonts()
    zone = ZoneInfo(site.time_zone)

    def when(moment) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    def person(user) -> str:
        return str(user) if user else ""

    q = WIDTH / 4
    story = [
        _p(f"{site.name}  {site.name_en}".strip(), SUBTITLE),
        _p("投诉处理表", TITLE, bold=True),
        _p("Complaint handling form", SUBTITLE),
        Spacer(0, 3 * mm),
        _box(
            [
                [
                    _label("编号", "Reference"),
                    _p(case.reference, bold=True),
                    _label("状态", "Status"),
                    _p(case.get_status_display()),
                ]
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
        ),
        Spacer(0, 1.2 * mm),
    ]
    anonymous = "匿名 anonymous" if case.anonymous else ""
    story.append(
        _box(
            [
                [
                    _label("投诉人姓名", "Complainant"),
                    _p(complainant.get("name") or anonymous),
                    _label("联系电话", "Phone"),
                    _p(complainant.get("phone")),
                ],
                [
                    _label("电子邮件", "E-mail"),
                    _p(complainant.get("email")),
                    _label("与医院关系", "Relation"),
                    _p(case.get_relation_display()),
                ],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("投诉人", "Complainant"),
        )
    )
    story.append(Spacer(0, 1.2 * mm))
    story.append(
        _box(
            [
                [
                    _label("受理人", "Received by"),
                    _p(person(case.first_responder)),
                    _label("受理时间", "Received at"),
                    _p(when(case.registered_at)),
                ],
                [
                    _label("投诉渠道", "Channel"),
                    _p(case.get_channel_display()),
                    _label("当前负责人", "Owner"),
                    _p(person(case.owner)),
                ],
                [
                    _label("发生时间", "When it happened"),
                    _p(when(case.occurred_at)),
                    _label("发生地点", "Where"),
                    _p(case.location),
                ],
                [_label("被投诉部门或人员", "Complained about"), _p(case.subject), "", ""],
                [_label("投诉内容", "Account"), _p(case.account), "", ""],
                [_label("投诉人要求", "Wants"), _p(case.desired_outcome), "", ""],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("受理", "Intake"),
        )
    )
    story[-1].setStyle(TableStyle([("SPAN", (1, r), (3, r)) for r in (4, 5, 6)]))
    story.append(Spacer(0, 1.2 * mm))
    cooperating = ", ".join(str(d) for d in case.cooperating_departments.all())
    story.append(
        _box(
            [
                [
                    _label("投诉级别", "Tier"),
                    _p(case.tier.display_name),
                    _label("投诉性质", "Nature"),
                    _p(case.nature.display_name if case.nature else ""),
                ],
                [
                    _label("投诉内容类别", "Content"),
                    _p(case.content.display_name if case.content else ""),
                    _label("责任部门", "Department"),
                    _p(case.lead_department.display_name if case.lead_department else ""),
                ],
                [_label("配合部门", "Cooperating"), _p(cooperating), "", ""],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("分类与派单", "Classification and dispatch"),
        )
    )
    story[-1].setStyle(TableStyle([("SPAN", (1, 3), (3, 3))]))
    story.append(Spacer(0, 1.2 * mm))
    step_rows = [
        [
            _label("时间", "Time"),
            _label("处理步骤", "Step"),
            _label("经办人", "By"),
            _label("说明", "Note"),
        ]
    ] + [[_p(when(at)), _p(what), _p(who), _p(note)] for at, what, who, note in steps]
    story.append(
        _box(
            step_rows, [q * 0.75, q * 1.0, q * 0.75, q * 1.5], header=("处理过程", "Handling steps")
        )
    )
    story.append(Spacer(0, 1.2 * mm))
    reply = case.replies.order_by("-at", "-id").first()
    story.append(
        _box(
            [
                [
                    _label("答复时间", "Replied at"),
                    _p(when(reply.at) if reply else ""),
                    _label("答复方式", "Method"),
                    _p(reply.get_method_display() if reply else ""),
                ],
                [
                    _label("调查经过", "Investigation"),
                    _p(reply.investigation if reply else ""),
                    "",
                    "",
                ],
                [
                    _label("事实与证据", "Facts and evidence"),
                    _p(reply.facts if reply else ""),
                    "",
                    "",
                ],
                [
                    _label("责任认定", "Responsibility"),
                    _p(reply.responsibility if reply else ""),
                    "",
                    "",
                ],
                [_label("处理决定", "Decision"), _p(reply.decision if reply else ""), "", ""],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("答复投诉人", "Reply to the complainant"),
        )
    )
    story[-1].setStyle(TableStyle([("SPAN", (1, r), (3, r)) for r in (2, 3, 4, 5)]))
    story.append(Spacer(0, 1.2 * mm))
    callback = case.callbacks.order_by("-at", "-id").first()
    satisfied = ""
    if callback:
        satisfied = "满意 satisfied" if callback.satisfied else "不满意 dissatisfied"
    story.append(
        _box(
            [
                [
                    _label("回访时间", "Called back at"),
                    _p(when(callback.at) if callback else ""),
                    _label("回访方式", "Method"),
                    _p(callback.get_method_display() if callback else ""),
                ],
                [
                    _label("满意度", "Satisfaction"),
                    _p(satisfied),
                    _label("评分", "Rating"),
                    _p(f"{callback.rating}/5" if callback and callback.rating else ""),
                ],
                [_label("回访意见", "Comments"), _p(callback.note if callback else ""), "", ""],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("回访", "Call-back"),
        )
    )
    story[-1].setStyle(TableStyle([("SPAN", (1, 3), (3, 3))]))
    story.append(Spacer(0, 1.2 * mm))
    approvals = "; ".join(
        f"{a.get_kind_display()}: {a.by} {when(a.at)}" for a in case.approvals.all()
    )
    story.append(
        _box(
            [
                [
                    _label("销项时间", "Closed at"),
                    _p(when(case.closed_at)),
                    _label("处理结果", "Outcome"),
                    _p(case.get_outcome_display() if case.outcome else ""),
                ],
                [_label("审批", "Approvals"), _p(approvals), "", ""],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("销项", "Closure"),
        )
    )
    story[-1].setStyle(TableStyle([("SPAN", (1, 2), (3, 2))]))
    story.append(Spacer(0, 4 * mm))
    line = "________________"
    story.append(
        _box(
            [
                [
                    _label("受理人签字", "Receiver's signature"),
                    _p(line),
                    _label("责任部门签字", "Department's signature"),
                    _p(line),
                ],
                [
                    _label("服务中心经理签字", "Service-centre manager"),
                    _p(line),
                    _label("投诉人确认", "Complainant's confirmation"),
                    _p(line),
                ],
                [_label("日期", "Date"), _p("____年____月____日"), "", ""],
            ],
            [q * 0.7, q * 1.3, q * 0.7, q * 1.3],
            header=("签字确认", "Sign-off"),
        )
    )
    story[-1].setStyle(TableStyle([("SPAN", (1, 3), (3, 3))]))
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"投诉处理表 {case.reference}",
        author=site.name,
        invariant=True,
    )

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(LATIN_FONT, 7)
        canvas.drawRightString(PAGE_W - MARGIN, MARGIN / 2, f"{case.reference} - {document.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
