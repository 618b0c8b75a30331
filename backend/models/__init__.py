"""All tables; importing this package registers them on `SQLModel.metadata` for Alembic."""

from backend.models.audit import Event
from backend.models.auth import SignInAttempt, UserSession
from backend.models.base import UTCDateTime, utcnow
from backend.models.codes import CodeKind, QrCode
from backend.models.enterprises import Enterprise, Industry, KeyPoint
from backend.models.escalation import (
    TIERS,
    ApprovalKind,
    ApprovalRequest,
    ApprovalState,
    DutyShift,
    EscalationPolicy,
    Tier,
)
from backend.models.hazards import (
    CheckIn,
    Hazard,
    HazardCategory,
    HazardPhoto,
    HazardState,
    Photo,
    Severity,
)
from backend.models.inspections import (
    ChecklistItem,
    ChecklistTemplate,
    Inspection,
    InspectionKind,
    InspectionPhoto,
    InspectionResult,
    ItemResult,
)
from backend.models.public_reports import (
    PublicReport,
    PublicReportCategory,
    PublicReportState,
)
from backend.models.push import (
    Channel,
    Delivery,
    DeliveryState,
    Notification,
    PushSubscription,
)
from backend.models.sync import Change, SyncClient, SyncMutation
from backend.models.tasks import Rectification, RectificationPhoto, Task, TaskOffer, TaskState
from backend.models.units import LEVEL_ORDER, Unit, UnitLevel
from backend.models.users import Role, User

__all__ = [
    "LEVEL_ORDER",
    "TIERS",
    "ApprovalKind",
    "ApprovalRequest",
    "ApprovalState",
    "Change",
    "Channel",
    "CheckIn",
    "ChecklistItem",
    "ChecklistTemplate",
    "CodeKind",
    "Delivery",
    "DeliveryState",
    "DutyShift",
    "Enterprise",
    "EscalationPolicy",
    "Event",
    "Hazard",
    "HazardCategory",
    "HazardPhoto",
    "HazardState",
    "Industry",
    "Inspection",
    "InspectionKind",
    "InspectionPhoto",
    "InspectionResult",
    "ItemResult",
    "KeyPoint",
    "Notification",
    "Photo",
    "PublicReport",
    "PublicReportCategory",
    "PublicReportState",
    "PushSubscription",
    "QrCode",
    "Rectification",
    "RectificationPhoto",
    "Role",
    "Severity",
    "SignInAttempt",
    "SyncClient",
    "SyncMutation",
    "Task",
    "TaskOffer",
    "TaskState",
    "Tier",
    "UTCDateTime",
    "Unit",
    "UnitLevel",
    "User",
    "UserSession",
    "utcnow",
]
