"""Stable error codes of the service API: what the backend answers and the actions test for.

A code names one refusal and never changes meaning; messages are for developers and may.
The HTTP status comes with the kind of error (bot.errors), not with the code.
"""

from __future__ import annotations

# Not found (404): "<what>_not_found", e.g. device_not_found, work_order_not_found.
DEVICE_NOT_FOUND = "device_not_found"
WORK_ORDER_NOT_FOUND = "work_order_not_found"

# The request is malformed or names nothing we know (422).
INVALID_BODY = "invalid_body"
INVALID_QUERY = "invalid_query"
INVALID_SERIAL = "invalid_serial"
INVALID_SECURITY_CODE = "invalid_security_code"
IMPOSSIBLE_DATE = "impossible_date"
UNKNOWN_MODEL = "unknown_model"

# The state forbids it (409).
NO_POLICY = "no_policy"
DEVICE_EXISTS = "device_exists"
NO_INVOICE = "no_invoice"
ALREADY_EXTENDED = "already_extended"
COVERAGE_EXPIRED = "coverage_expired"
PLAN_NOT_APPLICABLE = "plan_not_applicable"
SERVICE_NOT_OFFERED = "service_not_offered"
CATEGORY_NOT_SERVED = "category_not_served"
SLOT_UNAVAILABLE = "slot_unavailable"
SLOT_FULL = "slot_full"
NO_REPAIRS = "no_repairs"
NOT_CHANGEABLE = "not_changeable"
TOO_MANY_RESCHEDULES = "too_many_reschedules"
TOO_LATE = "too_late"
SAME_SLOT = "same_slot"
INVALID_TRANSITION = "invalid_transition"
NOT_CLOSED = "not_closed"
ALREADY_RATED = "already_rated"
ALREADY_REVIEWED = "already_reviewed"
# The survey of this round of the order is over (14 days after its close).
RATING_EXPIRED = "rating_expired"
# The 回访 of this order has been answered, expired or cancelled by a reopen.
FOLLOWUP_CLOSED = "followup_closed"
# A complaint is resolved or closed with a resolution; a serious one only after a review, by
# someone other than who resolved it.
RESOLUTION_NEEDED = "resolution_needed"
REVIEW_NEEDED = "review_needed"
OWN_RESOLUTION = "own_resolution"
# The phone check of a work order (POST /api/workorders/{id}/verify-phone).
NO_PHONE_ON_RECORD = "no_phone_on_record"
PHONE_TRIES_USED = "phone_tries_used"  # this conversation used its tries on this order
PHONE_CHECK_LOCKED = "phone_check_locked"  # too many failures on this order; has retry_after

# Too many requests (429); the error carries retry_after in seconds.
RATE_LIMITED = "rate_limited"
