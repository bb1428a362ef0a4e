"""Drivers: how coreTasker reaches a cloud. See :mod:`coretasker.drivers.base`."""

from .base import Driver, DriverRefusal, get_driver

__all__ = ["Driver", "DriverRefusal", "get_driver"]
