"""The simulated cloud's inventory: what a real cloud would keep in its own databases.

Nothing here is a real resource. The simulated driver (:mod:`simcloud.driver`) is
the only writer; the admin shows these tables read-only (hosts' capacity aside),
labelled as a simulation.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class SimSite(models.Model):
    """A region/site of the simulated cloud (``cn-east-1``)."""

    site_id = models.CharField(_("site ID"), max_length=64, unique=True)
    name = models.CharField(_("site name"), max_length=128)

    class Meta:
        db_table = "sim_site"
        ordering = ["site_id"]
        verbose_name = _("simulated site")
        verbose_name_plural = _("simulated sites")

    def __str__(self):
        return f"{self.name} ({self.site_id})"


class SimHost(models.Model):
    """A hypervisor of a site, with CPU and memory capacity and what is allocated of it."""

    site = models.ForeignKey(SimSite, models.PROTECT, related_name="hosts", verbose_name=_("site"))
    hostname = models.CharField(_("host name"), max_length=64, unique=True)
    cpu_total = models.PositiveIntegerField(_("vCPUs in total"))
    cpu_used = models.PositiveIntegerField(_("vCPUs allocated"), default=0)
    memory_gb_total = models.PositiveIntegerField(_("memory in total (GB)"))
    memory_gb_used = models.PositiveIntegerField(_("memory allocated (GB)"), default=0)
    enabled = models.BooleanField(_("takes new VMs"), default=True)

    class Meta:
        db_table = "sim_host"
        ordering = ["site_id", "hostname"]
        verbose_name = _("simulated host")
        verbose_name_plural = _("simulated hosts")
        constraints = [
            models.CheckConstraint(condition=Q(cpu_used__lte=F("cpu_total")), name="sim_host_cpu_within_capacity"),
            models.CheckConstraint(
                condition=Q(memory_gb_used__lte=F("memory_gb_total")), name="sim_host_memory_within_capacity"
            ),
        ]

    def __str__(self):
        return self.hostname

    @property
    def cpu_free(self) -> int:
        return self.cpu_total - self.cpu_used

    @property
    def memory_gb_free(self) -> int:
        return self.memory_gb_total - self.memory_gb_used


class VmState(models.TextChoices):
    ALLOCATED = "allocated", _("allocated (no disk yet)")
    STOPPED = "stopped", _("stopped")
    RUNNING = "running", _("running")
    DELETED = "deleted", _("deleted")


class SimVm(models.Model):
    """A VM of the simulated cloud; its vCPUs and memory are allocated on ``host`` until deleted."""

    vm_id = models.CharField(_("VM ID"), max_length=128, unique=True)
    site = models.ForeignKey(SimSite, models.PROTECT, related_name="vms", verbose_name=_("site"))
    host = models.ForeignKey(SimHost, models.PROTECT, null=True, blank=True, related_name="vms", verbose_name=_("host"))
    customer_id = models.CharField(_("customer ID"), max_length=64, blank=True)
    cpu_type = models.CharField(_("CPU type code"), max_length=32)
    cpu = models.PositiveIntegerField(_("vCPUs"))
    memory_gb = models.PositiveIntegerField(_("memory (GB)"))
    disk_gb = models.PositiveIntegerField(_("disk (GB)"), default=0)
    disk_id = models.CharField(_("disk ID"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=VmState.choices, default=VmState.ALLOCATED)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "sim_vm"
        ordering = ["-id"]
        verbose_name = _("simulated VM")
        verbose_name_plural = _("simulated VMs")

    def __str__(self):
        return self.vm_id


class NicState(models.TextChoices):
    ALLOCATED = "allocated", _("address allocated")
    ATTACHED = "attached", _("attached")
    DELETED = "deleted", _("deleted")


class SimNic(models.Model):
    """A network interface attached to a simulated VM."""

    nic_id = models.CharField(_("NIC ID"), max_length=128, unique=True)
    vm = models.ForeignKey(SimVm, models.PROTECT, related_name="nics", verbose_name=_("VM"))
    site = models.ForeignKey(SimSite, models.PROTECT, related_name="nics", verbose_name=_("site"))
    customer_id = models.CharField(_("customer ID"), max_length=64, blank=True)
    mac = models.CharField(_("MAC address"), max_length=17)
    ip = models.GenericIPAddressField(_("IP address"), protocol="IPv4")
    state = models.CharField(_("state"), max_length=16, choices=NicState.choices, default=NicState.ATTACHED)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "sim_nic"
        ordering = ["-id"]
        verbose_name = _("simulated NIC")
        verbose_name_plural = _("simulated NICs")

    def __str__(self):
        return self.nic_id


class SimPipe(models.Model):
    """A dedicated network pipe of a customer in a site, with its bandwidth."""

    pipe_id = models.CharField(_("pipe ID"), max_length=128, unique=True)
    site = models.ForeignKey(SimSite, models.PROTECT, related_name="pipes", verbose_name=_("site"))
    customer_id = models.CharField(_("customer ID"), max_length=64, blank=True)
    bandwidth_mbps = models.PositiveIntegerField(_("bandwidth (Mbit/s)"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "sim_pipe"
        ordering = ["-id"]
        verbose_name = _("simulated pipe")
        verbose_name_plural = _("simulated pipes")

    def __str__(self):
        return self.pipe_id


class SimBandwidth(models.Model):
    """The bandwidth set on one resource (a VM, a NIC or a pipe); one row per resource."""

    resource_type = models.CharField(_("resource type"), max_length=16)
    resource_id = models.CharField(_("resource ID"), max_length=128)
    bandwidth_mbps = models.PositiveIntegerField(_("bandwidth (Mbit/s)"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "sim_bandwidth"
        ordering = ["resource_type", "resource_id"]
        verbose_name = _("simulated bandwidth setting")
        verbose_name_plural = _("simulated bandwidth settings")
        constraints = [
            models.UniqueConstraint(fields=["resource_type", "resource_id"], name="sim_bandwidth_resource_uniq")
        ]

    def __str__(self):
        return f"{self.resource_type}:{self.resource_id} {self.bandwidth_mbps} Mbit/s"
