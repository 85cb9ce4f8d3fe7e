"""Store administration: `init` (create or upgrade the schema) and `doctor` (its health). No SQL:
both ask the store's schema admin port (`store.admin`)."""

from esctl.admin.doctor import DoctorReport, describe_nodes, diagnose
from esctl.admin.init import InitResult, init_store

__all__ = ["DoctorReport", "InitResult", "describe_nodes", "diagnose", "init_store"]
