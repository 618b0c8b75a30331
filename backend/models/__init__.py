"""All tables; importing this package registers them on `SQLModel.metadata` for Alembic."""

from backend.models.audit import Event
from backend.models.auth import SignInAttempt, UserSession
from backend.models.base import UTCDateTime, utcnow
from backend.models.enterprises import Enterprise, Industry, KeyPoint
from backend.models.units import LEVEL_ORDER, Unit, UnitLevel
from backend.models.users import Role, User

__all__ = [
    "LEVEL_ORDER",
    "Enterprise",
    "Event",
    "Industry",
    "KeyPoint",
    "Role",
    "SignInAttempt",
    "UTCDateTime",
    "Unit",
    "UnitLevel",
    "User",
    "UserSession",
    "utcnow",
]
