"""Throttling of writes: reads are never throttled, writes share one rate per client."""

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WriteRateThrottle(UserRateThrottle):
    """Rate ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["write"]`` (env ``API_WRITE_THROTTLE_RATE``)."""

    scope = "write"

    def get_rate(self):
        # Read at request time, not import time, so settings overrides take effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
