from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimcloudConfig(AppConfig):
    name = "simcloud"
    verbose_name = _("Simulated cloud (simulation, not a real cloud)")
