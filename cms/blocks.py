"""StreamField blocks of the public pages: the ways to reach the service centre."""

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail import blocks


class ChannelKind:
    HOTLINE = "hotline"
    DUTY = "duty"
    WINDOW = "window"
    EMAIL = "email"
    POST = "post"
    OPINION_BOOK = "opinion_book"
    SUPERVISOR = "supervisor"
    PHONE_KINDS = {HOTLINE, DUTY, SUPERVISOR}

    CHOICES = [
        (HOTLINE, _("24-hour complaint hotline")),
        (DUTY, _("after-hours duty number")),
        (WINDOW, _("service-centre window")),
        (EMAIL, _("e-mail")),
        (POST, _("postal address")),
        (OPINION_BOOK, _("ward opinion books")),
        (SUPERVISOR, _("supervisory body")),
    ]


class ChannelBlock(blocks.StructBlock):
    """One way to complain: a number to call, a window to visit, an address to write to."""

    kind = blocks.ChoiceBlock(choices=ChannelKind.CHOICES, label=_("kind"))
    label = blocks.CharBlock(label=_("name"), max_length=100)
    label_en = blocks.CharBlock(label=_("English name"), max_length=100, required=False)
    value = blocks.CharBlock(
        label=_("number, address or e-mail"),
        max_length=200,
        help_text=_("Phone numbers become click-to-call links, e-mail addresses mail links."),
    )
    hours = blocks.CharBlock(label=_("opening hours"), max_length=100, required=False)
    hours_en = blocks.CharBlock(label=_("English opening hours"), max_length=100, required=False)

    class Meta:
        icon = "mail"
        template = "cms/blocks/channel.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        english = (get_language() or "").startswith("en")
        context["label"] = value["label_en"] if english and value["label_en"] else value["label"]
        context["hours"] = value["hours_en"] if english and value["hours_en"] else value["hours"]
        digits = "".join(ch for ch in value["value"] if ch.isdigit() or ch == "+")
        if value["kind"] in ChannelKind.PHONE_KINDS and digits:
            context["href"] = f"tel:{digits}"
        elif value["kind"] == ChannelKind.EMAIL:
            context["href"] = f"mailto:{value['value']}"
        return context
