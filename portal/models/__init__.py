"""Peewee models, one module per concept; ``ALL_MODELS`` in creation order."""
from portal.models.audit import AuditEntry
from portal.models.automation import (
    ContactTag,
    DomainEvent,
    Enrolment,
    EnrolmentState,
    EventKind,
    FollowUpTask,
    Notification,
    Origin,
    StatusChange,
    StepKind,
    StepRun,
    WebhookAttempt,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from portal.models.calendly import CalendarSelection, CalendlyConnection, Status
from portal.models.crm import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    AppointmentStatus,
    Contact,
    Source,
    normalize_email,
)
from portal.models.mail import ConnectionAlert, DoNotDisturb, MailState, OutboundEmail, UsedLink
from portal.models.sync import (
    DeliveryState,
    Outcome,
    SkipReason,
    SyncDecision,
    Task,
    TaskState,
    WebhookDelivery,
)
from portal.models.sessions import UserSession
from portal.models.team import Invitation
from portal.models.tenancy import ROLES, Membership, Subaccount, User

ALL_MODELS = [
    Subaccount,
    User,
    Membership,
    CalendlyConnection,
    CalendarSelection,
    Contact,
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    WebhookDelivery,
    SyncDecision,
    Task,
    AuditEntry,
    DomainEvent,
    StatusChange,
    ContactTag,
    Workflow,
    WorkflowStep,
    Enrolment,
    StepRun,
    WebhookAttempt,
    FollowUpTask,
    Notification,
    OutboundEmail,
    DoNotDisturb,
    ConnectionAlert,
    UsedLink,
    Invitation,
    UserSession,
]

__all__ = [m.__name__ for m in ALL_MODELS] + [
    "ALL_MODELS",
    "AppointmentStatus",
    "DeliveryState",
    "EnrolmentState",
    "EventKind",
    "Origin",
    "StepKind",
    "WorkflowStatus",
    "MailState",
    "Outcome",
    "ROLES",
    "SkipReason",
    "Source",
    "Status",
    "TaskState",
    "normalize_email",
]
