"""The old import path of `esctl.admin` (init and doctor)."""

from esctl.admin.doctor import DoctorReport, describe_nodes, diagnose
from esctl.admin.init import InitResult, init_store

__all__ = ["DoctorReport", "InitResult", "describe_nodes", "diagnose", "init_store"]
