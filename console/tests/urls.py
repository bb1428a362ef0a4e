from django.contrib import admin
from django.urls import include, path

from .site import site

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/console/", include("console.urls")),
    path("admin/", admin.site.urls),
    path("testadmin/", site.urls),
]
