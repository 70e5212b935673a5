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
