"""Console pages under /admin/console/, behind the admin's login."""

from django.contrib import admin
from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("tasks/<int:task_id>/timeline/", admin.site.admin_view(views.task_timeline), name="task_timeline"),
]
