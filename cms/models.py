"""Page types of a site's public page tree (bakerydemo style: fields, panels, template)."""

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.models import Page


class HomePage(Page):
    """The site's home: where a patient or visitor finds how to complain.

    One per site, at the top of the site's page tree, created when the site is provisioned.
    """

    title_en = models.CharField(_("English title"), max_length=255, blank=True)
    intro = models.TextField(_("introduction"), blank=True)
    intro_en = models.TextField(_("English introduction"), blank=True)

    content_panels = [
        *Page.content_panels,
        FieldPanel("title_en"),
        FieldPanel("intro"),
        FieldPanel("intro_en"),
    ]
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        english = (get_language() or "").startswith("en")
        context["display_title"] = self.title_en if english and self.title_en else self.title
        context["display_intro"] = self.intro_en if english and self.intro_en else self.intro
        return context
