from worklists.models.alerts import CoordinatorAlert, CoordinatorAlertEvent
from worklists.models.audit import AuditEvent
from worklists.models.choices import PRIORITY_RANK, Modality, Priority, Sex
from worklists.models.inbound import InboundMessage
from worklists.models.low_value import LowValueRule
from worklists.models.milestones import StudyMilestones
from worklists.models.patients import Patient, PatientIdentifier, PatientRecord
from worklists.models.preferences import UserPreference
from worklists.models.radiologists import Competence, Credential, Radiologist
from worklists.models.routing import (
    AiFinding,
    CoverageWindow,
    ReaderFactsVersion,
    RoutingDecision,
    Shift,
)
from worklists.models.sites import DeadlineContract, Site, SiteApiToken, SiteMembership
from worklists.models.studies import (
    UNREAD_STATUSES,
    Assignment,
    ReadRestriction,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.models.surges import Surge, SurgeEvent
from worklists.models.tokens import PersonalToken
from worklists.models.worklists import ClassificationRule, Worklist

__all__ = [
    "PRIORITY_RANK",
    "UNREAD_STATUSES",
    "AiFinding",
    "Assignment",
    "AuditEvent",
    "ClassificationRule",
    "Competence",
    "CoordinatorAlert",
    "CoordinatorAlertEvent",
    "CoverageWindow",
    "Credential",
    "DeadlineContract",
    "InboundMessage",
    "LowValueRule",
    "Modality",
    "Patient",
    "PatientIdentifier",
    "PatientRecord",
    "PersonalToken",
    "Priority",
    "Radiologist",
    "ReadRestriction",
    "ReaderFactsVersion",
    "RoutingDecision",
    "Sex",
    "Shift",
    "Site",
    "SiteApiToken",
    "SiteMembership",
    "Study",
    "StudyEvent",
    "StudyMilestones",
    "StudyStatus",
    "Surge",
    "SurgeEvent",
    "UserPreference",
    "Worklist",
]
