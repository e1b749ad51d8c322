"""Words the analyst pages show for the analytics jobs and the twin's figures, marked for
translation (the services' own texts are English; the pages show them beside these)."""

from __future__ import annotations

from silkgate.console.labels import N_

JOB_TITLES = {
    "trade_flows": N_("Trade flows"),
    "mirror_statistics": N_("Mirror statistics"),
    "unit_values": N_("Unit values"),
    "lane_shares": N_("Lane shares and inspection hit rates"),
    "model_drift": N_("Risk model drift"),
    "clearance_times": N_("Clearance times"),
    "equeue_use": N_("E-queue use"),
}

JOB_SUMMARIES = {
    "trade_flows": N_(
        "Value and net mass of goods by HS code, flow, reporting and partner country and "
        "month, with growth against the month before and the year before."
    ),
    "mirror_statistics": N_(
        "One country's recorded exports against its partner's recorded imports, with the "
        "gaps and a flag where the import unit value is much lower."
    ),
    "unit_values": N_(
        "Value per kilogram by HS subheading, origin and currency: percentiles and the bands "
        "beyond which a price stands out."
    ),
    "lane_shares": N_(
        "Declarations per lane, lanes changed by officers, inspections and how often they "
        "found a discrepancy."
    ),
    "model_drift": N_(
        "Per risk model and month: the scores, their stability, the share sent to checks and "
        "how often those checks found something."
    ),
    "clearance_times": N_(
        "Hours trucks spend at each side of a crossing, from the gate events, and the share "
        "released within a target time."
    ),
    "equeue_use": N_(
        "E-queue bookings by outcome (used, no-show, cancelled…), walk-ins and how much of the "
        "daily caps was used."
    ),
}

PARAMS = {
    "since": N_("First day"),
    "until": N_("Last day"),
    "level": N_("HS detail"),
    "hs": N_("HS code"),
    "reporter": N_("Reporting country"),
    "partner": N_("Partner country"),
    "exporter": N_("Exporting country"),
    "importer": N_("Importing country"),
    "ratio_threshold": N_("Unit-value ratio threshold"),
    "min_declarations": N_("Fewest declarations per side"),
    "origin": N_("Country of origin"),
    "flow": N_("Flow"),
    "min_items": N_("Fewest unit values per group"),
    "iqr_factor": N_("Fence factor (inter-quartile ranges)"),
    "min_log_width": N_("Smallest log width"),
    "office": N_("Customs office"),
    "trader_category": N_("Declarant kind"),
    "by": N_("Breakdown"),
    "model_id": N_("Risk model"),
    "crossing": N_("Crossing"),
    "period": N_("Period"),
    "target_hours": N_("Target (hours)"),
}

CHOICES = {
    "chapter": N_("chapter (2 digits)"),
    "heading": N_("heading (4 digits)"),
    "hs6": N_("subheading (6 digits)"),
    "export": N_("export"),
    "import": N_("import"),
    "transit": N_("transit"),
    "day": N_("day"),
    "week": N_("week"),
    "month": N_("month"),
    "office": N_("office"),
    "trader_category": N_("declarant kind"),
    "all": N_("all three"),
    "broker": N_("customs broker"),
    "customs-service": N_("customs service"),
    "carrier": N_("carrier"),
    "e-port": N_("e-port operator"),
    "unknown": N_("not recorded"),
}

#: Parameter errors by the service's code; %(min)s and %(max)s are the parameter's bounds.
ERRORS = {
    "bad_date": N_("Enter a day as YYYY-MM-DD."),
    "unknown_hs": N_("Enter an HS chapter, heading or subheading of 2, 4 or 6 digits."),
    "unknown_country": N_("Enter a two-letter country code, such as CN or KZ."),
    "unknown_crossing": N_("Choose one of the crossings offered."),
    "not_a_choice": N_("Choose one of the options offered."),
    "bad_text": N_("Use printable text of at most 128 characters."),
    "not_a_number": N_("Enter a number."),
    "too_small": N_("Enter a number of at least %(min)s."),
    "too_large": N_("Enter a number of at most %(max)s."),
    "inverted_range": N_("The last day is before the first day."),
    "same_country": N_("Choose two different countries."),
    "required": N_("This field is needed."),
    "unknown_param": N_("This job has no such parameter."),
}

DIRECTIONS = {"cn_to_kz": N_("China → Kazakhstan"), "kz_to_cn": N_("Kazakhstan → China")}

#: The twin's key figures (as ``twin.report.KEY_FIGURES``) and the unit each is shown in.
FIGURES = {
    "demand_per_day": (N_("Trucks ready to cross per day"), "trucks"),
    "released_per_day": (N_("Trucks across per day"), "trucks"),
    "time_in_system_h.mean": (N_("Mean time to cross"), "hours"),
    "time_in_system_h.p90": (N_("9 in 10 trucks cross within"), "hours"),
    "over_24h_share": (N_("Trucks taking over 24 hours"), "share"),
    "waiting_h.mean": (N_("Mean waiting per truck"), "hours"),
    "time_at_border_h.mean": (N_("Mean time at the border"), "hours"),
    "unreleased_end": (N_("Trucks not yet across at the end"), "trucks"),
    "unreleased_over_24h_end": (N_("… of them waiting over 24 hours"), "trucks"),
    "unreleased_wait_h.max": (N_("The longest wait so far"), "hours"),
}
