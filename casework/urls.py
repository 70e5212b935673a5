"""The back office under /office/ on a site's domain. One block per screen module."""

from django.urls import path

from casework.views import case, configuration, home, queue

urlpatterns = [
    path("", home.office_home, name="office-home"),
    path(
        "cases/<int:case_id>/files/<int:attachment_id>/",
        home.attachment,
        name="case-attachment",
    ),
    # --- queue, search, new case, notifications (casework/views/queue.py) ---
    path("queue/", queue.queue, name="queue"),
    path("queue/filters/new/", queue.saved_filter_create, name="queue-filter-new"),
    path("queue/filters/<int:filter_id>/", queue.saved_filter_open, name="queue-filter"),
    path(
        "queue/filters/<int:filter_id>/delete/",
        queue.saved_filter_delete,
        name="queue-filter-delete",
    ),
    path("cases/new/", queue.case_new, name="case-new"),
    path("notifications/", queue.notifications, name="notifications"),
    path(
        "notifications/<int:notification_id>/open/",
        queue.notification_open,
        name="notification-open",
    ),
    path("notifications/read-all/", queue.notifications_read_all, name="notifications-read-all"),
    # --- the case page and its actions (casework/views/case.py) ---
    *case.urlpatterns,  # case-detail, case-sheet, case-<action> (one POST URL per action)
    # --- the site admin's configuration screens (casework/views/configuration.py) ---
    path("configuration/", configuration.configuration_home, name="configuration-home"),
    path("configuration/tiers/new/", configuration.tier_new, name="configuration-tier-new"),
    path("configuration/tiers/<int:tier_id>/", configuration.tier_page, name="configuration-tier"),
    path(
        "configuration/tiers/<int:tier_id>/rules/new/",
        configuration.rule_new,
        name="configuration-rule-new",
    ),
    path("configuration/rules/<int:rule_id>/", configuration.rule_page, name="configuration-rule"),
    path(
        "configuration/rules/<int:rule_id>/preview/",
        configuration.rule_preview,
        name="configuration-rule-preview",
    ),
    path(
        "configuration/rules/<int:rule_id>/retire/",
        configuration.rule_retire,
        name="configuration-rule-retire",
    ),
    path(
        "configuration/departments/",
        configuration.departments,
        name="configuration-departments",
    ),
    path(
        "configuration/departments/<int:department_id>/",
        configuration.department_page,
        name="configuration-department",
    ),
    path("configuration/categories/", configuration.categories, name="configuration-categories"),
    path(
        "configuration/categories/<int:category_id>/",
        configuration.category_page,
        name="configuration-category",
    ),
    path("configuration/calendar/", configuration.calendar_page, name="configuration-calendar"),
    path(
        "configuration/calendar/<int:day_id>/remove/",
        configuration.calendar_remove,
        name="configuration-calendar-remove",
    ),
    path("configuration/settings/", configuration.settings_page, name="configuration-settings"),
    path(
        "configuration/settings/reference-preview/",
        configuration.reference_preview,
        name="configuration-reference-preview",
    ),
    path("configuration/staff/", configuration.staff_page, name="configuration-staff"),
    path(
        "configuration/staff/<int:membership_id>/revoke/",
        configuration.staff_revoke,
        name="configuration-staff-revoke",
    ),
    path("configuration/history/", configuration.history, name="configuration-history"),
    path(
        "configuration/reply-templates/",
        configuration.reply_templates,
        name="configuration-reply-templates",
    ),
    path(
        "configuration/reply-templates/<int:template_id>/",
        configuration.reply_template_page,
        name="configuration-reply-template",
    ),
]
