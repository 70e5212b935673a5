from django.urls import path

from casework import views

urlpatterns = [
    path("", views.office_home, name="office-home"),
]
