from django.urls import path

from casework import views

urlpatterns = [
    path("", views.office_home, name="office-home"),
    path(
        "cases/<int:case_id>/files/<int:attachment_id>/",
        views.attachment,
        name="case-attachment",
    ),
]
