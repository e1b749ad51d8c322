"""Words the console shows for codes the services use (roles, lanes, states, field errors),
marked for translation and translated where they are shown."""

from __future__ import annotations

from silkgate.core.errors import FieldError


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


ROLES = {
    "officer": N_("Officer"),
    "supervisor": N_("Supervisor"),
    "administrator": N_("Administrator"),
}

ORG_ROLES = {
    "customs": N_("Customs"),
    "e-port": N_("E-port operator"),
    "customs-service": N_("Customs service"),
    "carrier": N_("Carrier"),
    "broker": N_("Customs broker"),
    "analyst": N_("Analyst"),
    "admin": N_("Platform administration"),
}

LANES = {
    "green": N_("Green"),
    "yellow": N_("Yellow"),
    "red": N_("Red"),
}

LANE_HINTS = {
    "green": N_("release without checks"),
    "yellow": N_("document check"),
    "red": N_("physical inspection"),
}

STATUSES = {
    "submitted": N_("Submitted"),
    "accepted": N_("Accepted"),
    "risk_assessed": N_("Risk assessed"),
    "at_border": N_("At the border"),
    "held": N_("Held"),
    "released": N_("Released"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}

TYPES = {
    "export": N_("Export"),
    "import": N_("Import"),
    "transit": N_("Transit"),
}

OUTCOMES = {
    "no_discrepancy": N_("No discrepancy"),
    "discrepancy": N_("Discrepancy found"),
}

FINDINGS = {
    "misdescribed_goods": N_("Goods misdescribed"),
    "classification": N_("Wrong classification (HS code)"),
    "undervaluation": N_("Undervaluation"),
    "quantity": N_("Quantity differs"),
    "origin": N_("Origin differs"),
    "prohibited_or_restricted": N_("Prohibited or restricted goods"),
    "documents": N_("Documents missing or wrong"),
    "concealment": N_("Concealment"),
    "other": N_("Other"),
}

#: What a consignment timeline entry says happened (gate read points, audited actions).
TIMELINE = {
    "waiting_area": N_("Arrived in the waiting area"),
    "called_forward": N_("Called forward"),
    "gate_in": N_("Entered the checkpoint"),
    "document_control_start": N_("Document control started"),
    "document_control_end": N_("Document control ended"),
    "weighing": N_("Weighed"),
    "scanning": N_("Scanned (X-ray)"),
    "physical_inspection_start": N_("Physical inspection started"),
    "physical_inspection_end": N_("Physical inspection ended"),
    "exit_gate": N_("Left through the exit gate"),
    "neutral_zone": N_("In the neutral zone"),
    "entry_gate_in": N_("Entered the other side's checkpoint"),
    "entry_controls": N_("Entry controls"),
    "release": N_("Released"),
    "declaration.submitted": N_("Declaration lodged"),
    "declaration.accepted": N_("Declaration accepted"),
    "declaration.amended": N_("Declaration amended"),
    "declaration.risk_assessed": N_("Risk assessed, lane assigned"),
    "declaration.lane_overridden": N_("Lane changed by customs"),
    "declaration.at_border": N_("Truck at the border"),
    "declaration.held": N_("Goods held"),
    "declaration.released": N_("Goods released"),
    "declaration.rejected": N_("Declaration rejected"),
    "declaration.cancelled": N_("Declaration withdrawn"),
    "inspection.recorded": N_("Inspection result recorded"),
    "queue.booked": N_("Slot booked"),
    "queue.rescheduled": N_("Slot rescheduled"),
    "queue.cancelled": N_("Booking cancelled"),
    "queue.called": N_("Called forward from the queue"),
    "queue.arrived": N_("Arrived for the slot"),
    "queue.late": N_("Arrived late for the slot"),
    "queue.gate_in": N_("Entered the checkpoint from the queue"),
    "queue.exited": N_("Left the queue"),
    "queue.no_show": N_("Did not come for the slot"),
    "queue.walk_in": N_("Joined the queue without a booking"),
    "queue.expired": N_("Booking expired"),
}

QUOTA_CLASSES = {
    "regular": N_("Regular"),
    "perishables": N_("Perishable goods"),
    "live_animals": N_("Live animals"),
    "dangerous_goods": N_("Dangerous goods"),
    "humanitarian": N_("Humanitarian aid"),
    "aeo_tir": N_("AEO and TIR carriers"),
    "live": N_("Without a booking (live queue)"),
}

#: How the public estimate of the wait was made.
ESTIMATE_BASES = {
    "call_rate": N_("at the rate trucks were called forward recently"),
    "slot_capacity": N_("at this hour's planned places"),
}

BOOKING_STATUSES = {
    "confirmed": N_("Confirmed"),
    "late": N_("Late"),
    "called": N_("Called forward"),
    "arrived": N_("Arrived"),
    "in_checkpoint": N_("In the checkpoint"),
    "exited": N_("Crossed"),
    "no_show": N_("Did not come"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
}

#: Where a booked truck stands in the waiting area.
POSITION_STATES = {
    "not_checked_in": N_("Not yet in the waiting area"),
    "waiting": N_("Waiting to be called"),
    "called": N_("Called forward"),
    "left": N_("Left the waiting area"),
}

#: Where a truck stands on the operator's board.
BOARD_STATES = {
    "waiting": N_("Waiting"),
    "called": N_("Called forward"),
    "in_stage": N_("At the gate, in the stage"),
}

#: The call-forward classes (the interleave's order).
CALL_CLASSES = {
    "priority_aeo_tir": N_("Priority, AEO"),
    "priority": N_("Priority"),
    "aeo": N_("AEO and TIR carriers"),
    "regular": N_("Regular"),
    "live": N_("Without a booking (live queue)"),
}

AGREEMENT_STATUSES = {
    "proposed": N_("Proposed, awaiting signatures"),
    "active": N_("Active"),
    "superseded": N_("Superseded"),
    "revoked": N_("Revoked"),
}

CATEGORIES = {
    "declaration": N_("Export declarations"),
    "pre_arrival": N_("Pre-arrival information"),
    "risk_lane": N_("Risk lanes"),
    "risk_score": N_("Risk scores"),
    "inspection_result": N_("Inspection results"),
    "booking": N_("Slot bookings"),
    "gate_events": N_("Gate events"),
    "timeline": N_("Consignment timelines"),
    "kpi_aggregates": N_("Crossing statistics"),
}

PURPOSES = {
    "customs_control": N_("Customs control"),
    "risk_analysis": N_("Risk analysis"),
    "transit_guarantee": N_("Transit guarantee"),
    "statistics": N_("Statistics"),
    "queue_management": N_("Queue management"),
}

#: Refusals of agreement proposals, signatures and revocations, by code.
AGREEMENT_ERRORS = {
    "not_party": N_("Your organization must be the provider or one of the consumers."),
    "not_yours": N_("No agreement of your organization has this id."),
    "unknown_party": N_("No such organization or member state."),
    "not_member": N_("This country is not an SCO member state."),
    "is_provider": N_("The provider cannot also be a consumer."),
    "duplicate": N_("Listed twice."),
    "unknown_field": N_("This field is not in the category's catalogue."),
    "personal_data": N_("This field is personal data: tick “Share personal data” to share it."),
    "no_personal_field": N_("None of the fields chosen is personal data."),
    "unknown_country": N_("Enter two-letter country codes (ISO 3166-1), such as CN or KZ."),
    "unknown_crossing": N_("Choose one of the crossings offered."),
    "before_start": N_("The last day must not be before the first."),
    "expired": N_("This validity has ended already."),
    "overlap": N_(
        "Another live agreement covers the same data for a shared consumer and purpose; "
        "propose a new version of it instead."
    ),
    "pending_version": N_("A version of this agreement awaits signatures; revoke it first."),
    "already_signed": N_("Your organization has signed this version already."),
    "no_signing_key": N_(
        "Your organization has no registered signing key yet; register one on its page."
    ),
    "bad_signature": N_(
        "The signature does not verify with your organization's registered key over this "
        "version's terms. Sign the downloaded file exactly."
    ),
    "wrong_state": N_("The agreement is not in a state that allows this."),
    "too_short": N_("Choose or enter at least one."),
    "party_format": N_(
        "Enter member ids such as KZ/GOV/KGD, or a two-letter country code for that state's "
        "customs."
    ),
    "id_format": N_("Use 3 to 80 letters, digits and . _ -, starting with a letter or a digit."),
    "datetime_parsing": N_("Enter a day as YYYY-MM-DD."),
    "url_format": N_("Enter an absolute http or https address, without a user name or password."),
    "not_public": N_("This address is not public; deliveries go to public addresses only."),
    "not_consumer": N_("No agreement in force under this id names your organization a consumer."),
    "not_delivered": N_("This data is not delivered by subscription."),
    "not_in_agreement": N_("The agreement does not cover this data."),
    "not_allowed": N_("The agreement does not allow this."),
    "needs_agreement": N_("Choose an agreement for this, or leave it empty."),
    "excluded": N_("With an agreement, choose data, not topics."),
    "cel_syntax": N_("The condition is not valid CEL."),
    "cel_unknown_variable": N_("The condition names a variable that does not exist."),
    "cel_function_not_allowed": N_("The condition uses a function that is not allowed."),
    "cel_not_bool": N_("The condition must give true or false."),
    "cel_type": N_("The condition fails on a sample record."),
    "cel_too_long": N_("The condition is too long."),
    "cel_empty": N_("The condition is empty; leave it out instead."),
}

SIDES = {"CN": N_("Chinese side"), "KZ": N_("Kazakh side")}

DIRECTIONS = {
    "incoming": N_("Incoming (entering my country)"),
    "outgoing": N_("Outgoing (leaving my country)"),
    "all": N_("All I may see"),
}

#: Field errors by (field, code), then by code alone.
ERRORS = {
    ("/login", "format"): N_(
        "Use 3 to 64 characters: letters a–z, digits and . _ @ -, starting with a letter or a "
        "digit."
    ),
    ("/login", "duplicate"): N_("This login is taken."),
    ("/login", "self"): N_("You cannot disable yourself; ask another administrator."),
    ("/login", "joined"): N_("This person has joined already and needs no invitation."),
    ("/display_name", "format"): N_("Enter a name of 1 to 120 characters."),
    ("/password", "length"): N_("The password needs 12 to 256 characters."),
    ("/password", "is_login"): N_("The password must not be the login."),
    ("/confirm", "mismatch"): N_("The two passwords differ."),
    ("/roles", "required"): N_("Choose at least one role."),
    ("/roles", "not_allowed"): N_("This role is not available to your organization."),
    ("/language", "unknown"): N_("Choose one of the languages offered."),
    ("/reason", "required"): N_("Give the reason for the change."),
    ("/lane", "required"): N_("Choose a lane."),
    ("/lane", "not_assessed"): N_("The declaration has not been assessed yet."),
    ("/outcome", "duplicate"): N_("An inspection result is recorded already."),
    ("/outcome", "required"): N_("Choose the outcome."),
    ("/findings", "required"): N_("Say what was found."),
    ("/findings", "not_allowed"): N_("Findings go with a discrepancy only."),
    ("/additional_duties/amount", "not_allowed"): N_(
        "Additional duties go with a discrepancy only."
    ),
    ("/additional_duties/amount", "format"): N_("Enter an amount of zero or more."),
    ("/additional_duties/currency", "unknown_currency"): N_(
        "Enter an ISO 4217 currency code, such as KZT or CNY."
    ),
    ("/direction", "enum"): N_("Choose one of the directions offered."),
    ("/crossing", "enum"): N_("Your organization does not serve this crossing."),
    ("/status", "enum"): N_("Choose one of the states offered."),
    ("/type", "enum"): N_("Choose one of the types offered."),
    ("/query/cursor", "invalid_cursor"): N_("This page link is not valid any more."),
    ("/slot/hour", "in_past"): N_("This hour has begun already; choose a later one."),
    ("/slot/day", "beyond_horizon"): N_("This day is too far ahead to book yet."),
    ("/slot/day", "no_capacity"): N_("No places are planned on both sides for this day yet."),
    ("/truck/tractor_plate", "value_error"): N_("The plate is not in its country's format."),
    ("/truck/trailer_plate", "value_error"): N_("The plate is not in its country's format."),
    ("/truck/vin", "format"): N_("A VIN has 17 letters and digits, without I, O or Q."),
    ("/driver/document_number", "format"): N_("Use 3 to 30 letters and digits."),
    ("/declaration_ids", "too_short"): N_("Give the declarations the truck carries."),
    ("/declaration_ids", "duplicate"): N_("A declaration is listed twice."),
    ("/daily_cap", "int_type"): N_("Enter a whole number of trucks, 0 or more."),
    ("/daily_cap", "less_than_equal"): N_("The number is too large."),
    ("/capacity", "int_type"): N_("Enter a whole number of trucks, 0 or more."),
    ("/capacity", "required"): N_("Enter a whole number of trucks, 0 or more."),
    ("/live_share", "float_type"): N_("Enter a percentage from 0 to 100."),
    ("/live_share", "less_than_equal"): N_("Enter a percentage from 0 to 100."),
    ("/live_share", "greater_than_equal"): N_("Enter a percentage from 0 to 100."),
    ("/hourly_profile", "too_short"): N_("Give 24 weights, one for each hour, or none."),
    ("/hourly_profile", "too_long"): N_("Give 24 weights, one for each hour, or none."),
    ("/hourly_profile", "list_type"): N_("Give 24 numbers separated by spaces."),
    ("/valid_from", "date_type"): N_("Enter a day as YYYY-MM-DD."),
    ("/quotas", "over_one"): N_(
        "The priority quotas and the share without a booking add up to more than 100 %."
    ),
    ("/hourly_profile", "no_weight"): N_("Give at least one hour a positive weight."),
    # a walk-in registered by the e-port operator (queue.walkin)
    ("/truck/tractor_nationality", "format"): N_(
        "Enter a two-letter country code (ISO 3166-1), such as CN or KZ."
    ),
    ("/truck/trailer_nationality", "format"): N_(
        "Enter a two-letter country code (ISO 3166-1), such as CN or KZ."
    ),
    ("/truck/tractor_plate", "already_booked"): N_(
        "This truck has an active booking: check that booking in instead."
    ),
    ("/declaration_ids", "unknown"): N_("No such declaration at this crossing."),
    ("/declaration_ids", "format"): N_("A declaration id is 22 characters: digits and a–f."),
    ("/declaration_ids", "too_long"): N_("Give at most 10 declarations."),
    ("/declaration_ids", "not_active"): N_(
        "The declaration is cancelled, rejected or released already."
    ),
    ("/declaration_ids", "vehicle_mismatch"): N_("The declaration names another tractor."),
    ("/at", "in_future"): N_("This time is ahead of the clock; check it."),
    ("/at", "too_old"): N_("A truck is registered within 24 hours of its arrival."),
    ("/at", "datetime_parsing"): N_("Enter the arrival time, or leave it empty for now."),
    ("/at", "datetime_from_date_parsing"): N_("Enter the arrival time, or leave it empty for now."),
    "in_queue": N_("This truck is in the waiting-area queue already."),
    "no_capacity": N_("No places are planned on both sides for this day yet."),
    "live_share_full": N_("No place without a booking is left today; the truck needs a booking."),
    ("/event/truck/plate", "value_error"): N_(
        "A plate is 2 to 15 capital letters or digits, or a Chinese plate such as 新F12345."
    ),
    ("/event/truck/plate", "string_too_short"): N_(
        "A plate is 2 to 15 capital letters or digits, or a Chinese plate such as 新F12345."
    ),
    ("/event/truck/nationality", "format"): N_("Choose the country of the tractor."),
    ("/event/eventTime", "datetime_parsing"): N_("Enter the time of the event."),
    ("/event/eventTime", "in_future"): N_("This time is ahead of the clock; check it."),
    ("/event/readPoint", "enum"): N_("Choose where the truck is."),
    ("/event/bizStep", "enum"): N_("Choose the step."),
    ("/event/corrects", "format"): N_("An event id is 64 hex digits (0-9, a-f)."),
    ("/event/corrects", "unknown_event"): N_("Your organization reported no such event."),
    ("/event/corrects", "not_yours"): N_(
        "A correction keeps the reporter and the truck of the event it corrects."
    ),
    ("/signature", "bad_signature"): N_(
        "The signature does not verify with your organization's registered key over the text "
        "shown. Sign that text exactly."
    ),
    ("/signature", "no_public_key"): N_(
        "Your organization has no registered signing key yet; its administrator registers one."
    ),
    "unknown_declaration": N_("No such declaration at this crossing."),
    "unknown_booking": N_("No such booking at this crossing."),
    "other_truck": N_("This booking is for another truck."),
    ("/signing_public_key", "format"): N_(
        "Paste the public key as base64 of its 32 bytes (Ed25519, raw)."
    ),
    ("/id", "wrong_state"): N_("Only a failed delivery of an active subscription can be retried."),
    ("/id", "agreement_ended"): N_(
        "The agreement is no longer in force: its messages are not sent."
    ),
    # lodging a declaration through the form (declarations.rules and the schema)
    ("/lrn", "duplicate"): N_("Your organization has used this reference already."),
    ("/lrn", "immutable"): N_("A declaration's reference cannot change."),
    ("/headers/idempotency-key", "idempotency_key_reused"): N_(
        "This form was lodged already, with other values; open a new form."
    ),
    ("/country_of_export", "mismatch"): N_("The country of export does not fit the route."),
    ("/country_of_destination", "mismatch"): N_(
        "The country of destination does not fit the route."
    ),
    ("/goods_items", "too_short"): N_("Fill in at least one goods line."),
    "unknown_country": N_("Enter a two-letter country code (ISO 3166-1), such as CN or KZ."),
    "invalid_identifier": N_("The identifier is not valid: its format or check digit is wrong."),
    "invalid_plate": N_("The plate is not in its country's format."),
    "invalid_tir_carnet": N_("This is not a valid TIR carnet number."),
    "unknown_currency": N_("Enter an ISO 4217 currency code, such as KZT or CNY."),
    "unknown_incoterm": N_("Choose an Incoterm 2020."),
    "unknown_hs_code": N_("This is not an HS subheading of the code list."),
    "impossible_mass": N_("This mass is not possible."),
    "totals_mismatch": N_("This total differs from the sum of the goods lines."),
    "wrong_direction": N_("This crossing does not join these two countries."),
    "float_type": N_("Enter a number."),
    "float_parsing": N_("Enter a number."),
    "int_parsing": N_("Enter a whole number."),
    "greater_than": N_("The number is too small."),
    "string_pattern_mismatch": N_("The format is not right."),
    "revoked": N_("This key is revoked already."),
    "slot_full": N_("No place is left in this hour for this class; choose another hour."),
    "reschedule_limit": N_("This booking cannot be moved again."),
    "too_late": N_("It is too close to the booked slot to move it."),
    "unchanged": N_("This is the slot booked already."),
    "already_booked": N_("Another active booking holds this already."),
    "not_entitled": N_("No such declaration, or your organization may not act for its declarant."),
    "not_accepted": N_("The declaration is not accepted yet."),
    "crossing_mismatch": N_("The declaration is for another crossing."),
    "direction_mismatch": N_("The declaration or the route is for the other direction."),
    "unknown_crossing": N_("Choose one of the crossings offered."),
    "date_from_datetime_parsing": N_("Enter a day as YYYY-MM-DD."),
    "date_parsing": N_("Enter a day as YYYY-MM-DD."),
    "int_type": N_("Choose one of the options offered."),
    "wrong_state": N_("The declaration is not in a state that allows this."),
    "too_long": N_("The text is too long."),
    "string_too_long": N_("The text is too long."),
    "string_too_short": N_("The text is too short."),
    "required": N_("This field is needed."),
    "out_of_range": N_("Enter a time in the years 2000 to 2999."),
    "enum": N_("Choose one of the options offered."),
    "literal_error": N_("Choose one of the options offered."),
    "format": N_("The format is not right."),
    "greater_than_equal": N_("The number is too small."),
    "less_than_equal": N_("The number is too large."),
}


#: A priority quota's share is entered in percent, as the share without a booking.
ERRORS.update(
    {
        (f"/quotas/{quota}", code): ERRORS[("/live_share", code)]
        for quota in QUOTA_CLASSES
        if quota not in ("regular", "live")
        for code in ("float_type", "less_than_equal", "greater_than_equal")
    }
)


def field_message(gettext: object, error: FieldError) -> str:
    """A field error in the page's language (the service's English text if none is known)."""
    text = ERRORS.get((error.field or "", error.code)) or ERRORS.get(error.code)
    if text is None:
        return error.message
    return str(gettext(text))  # type: ignore[operator]


#: Codes whose English message from the service carries the specifics (the expected check
#: digit, the sum a total differs from); the console shows it beside the translated text.
DETAILED = {"invalid_identifier", "invalid_plate", "impossible_mass", "totals_mismatch"}
