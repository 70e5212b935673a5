"""Template tags of the back office's chrome (casework/office_base.html)."""

from django import template

from casework.selectors import unread_notification_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int:
    """The user's unread notices on this site: one indexed count per page."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return unread_notification_count(user=user)


@register.filter
def sees_configuration(site_roles) -> bool:
    """Whether these roles may open the configuration screens (read-only but for the site
    admin): the screens' own rule, so the link and the view never disagree."""
    from casework.views.configuration import VIEWERS

    return bool(VIEWERS.intersection(site_roles or ()))
