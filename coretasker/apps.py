from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoretaskerConfig(AppConfig):
    name = "coretasker"
    verbose_name = _("coreTasker (execution layer)")
