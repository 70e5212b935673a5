"""The back office under /office/ on a site's domain. One block per screen module."""

from django.urls import path

from casework.views import case, configuration, home, queue  # noqa: F401

urlpatterns = [
    path("", home.office_home, name="office-home"),
    path(
        "cases/<int:case_id>/files/<int:attachment_id>/",
        home.attachment,
        name="case-attachment",
    ),
    # --- queue, search, new case, notifications (casework/views/queue.py) ---
    # --- the case page and its actions (casework/views/case.py) ---
    *case.urlpatterns,  # case-detail, case-sheet, case-<action> (one POST URL per action)
    # --- the site admin's configuration screens (casework/views/configuration.py) ---
]
