"""Raw rows staging cannot cast, landed straight into `raw` (past the ingest validation, as an
older landing, a backfill or a hand-made insert would be): one or more for every source
whose staging casts text, with the (raw_table, raw_key, field) int_capture__unreadable_rows
must show. Sources whose raw columns are typed (clicks, identify calls, unsubscribes,
leads, auth.users, activation's tables) have nothing staging casts from text.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

SUBSCRIPTION = {
    "object": "subscription", "id": "sub_hostile", "customer": "cus_hostile", "status": "active", "created": 1764000000,
    "items": {"data": [{"price": {"id": "price_1", "unit_amount": 1000, "recurring": {"interval": "month"}}, "quantity": "two"}]},
}

ROWS = [
    ("cal_event", "delivery_id", {"delivery_id": "cal_bad_created", "trigger_event": "BOOKING_CREATED"},
     {"triggerEvent": "BOOKING_CREATED", "createdAt": "not-a-date", "payload": {"uid": "b1"}}, "createdAt"),
    ("cal_event", "delivery_id", {"delivery_id": "cal_bad_no_show", "trigger_event": "BOOKING_NO_SHOW_UPDATED"},
     {"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-11-20T10:00:00Z",
      "payload": {"uid": "b2", "attendees": [{"email": "a@example.org", "noShow": "maybe"}]}}, "payload.attendees[].noShow"),
    ("calendly_event", "delivery_id", {"delivery_id": "calendly_bad", "event_type": "invitee.created"},
     {"event": "invitee.created", "created_at": "yesterday-ish", "payload": {"email": "b@example.org"}}, "created_at"),
    ("deal_event", "deal_event_id", {"deal_event_id": "deal_bad", "email": "c@example.org", "stage": "won"},
     {"amount_cents": "a lot"}, "amount_cents"),
    ("meta_capi_event", "event_id", {"event_id": "capi_bad", "event_name": "Purchase", "event_time": "2026-11-20T10:00:00Z",
                                     "custom_data": Jsonb({"value": "ten", "currency": "EUR"})},
     {}, "custom_data.value"),
    ("posthog_event", "uuid", {"uuid": "00000000-0000-4000-8000-00000000bad1", "event_name": "$pageview", "distinct_id": "d1"},
     {"event": "$pageview", "timestamp": "soon", "properties": {}}, "timestamp"),
    ("resend_event", "svix_id", {"svix_id": "msg_bad_created", "event_type": "email.sent"},
     {"type": "email.sent", "created_at": "whenever", "data": {"email_id": "e1", "to": ["d@example.org"]}}, "created_at"),
    ("resend_event", "svix_id", {"svix_id": "msg_bad_click", "event_type": "email.clicked"},
     {"type": "email.clicked", "created_at": "2026-11-20T10:00:00Z",
      "data": {"email_id": "e2", "click": {"timestamp": "x", "link": "https://example.org"}}}, "data.click.timestamp"),
    ("stripe_event", "stripe_event_id", {"stripe_event_id": "evt_bad_created", "event_type": "customer.created"},
     {"type": "customer.created", "created": "abc", "data": {"object": {"object": "customer", "id": "cus_1"}}}, "created"),
    ("stripe_event", "stripe_event_id", {"stripe_event_id": "evt_far_future", "event_type": "customer.created"},
     {"type": "customer.created", "created": 1e20, "data": {"object": {"object": "customer", "id": "cus_2"}}}, "created"),
    ("stripe_event", "stripe_event_id", {"stripe_event_id": "evt_bad_amount", "event_type": "checkout.session.completed"},
     {"type": "checkout.session.completed", "created": 1764000000,
      "data": {"object": {"object": "checkout.session", "id": "cs_1", "amount_total": "12.5x"}}}, "data.object.amount_total"),
    ("stripe_event", "stripe_event_id", {"stripe_event_id": "evt_bad_quantity", "event_type": "customer.subscription.created"},
     {"type": "customer.subscription.created", "created": 1764000000, "data": {"object": SUBSCRIPTION}},
     "data.object.items.data[].quantity"),
]

# A readable row beside them: staging keeps it.
READABLE = ("cal_event", "delivery_id", {"delivery_id": "cal_fine", "trigger_event": "BOOKING_CREATED"},
            {"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-20T10:00:00Z", "payload": {"uid": "b3"}}, None)

EXPECTED = {(table, columns[key], field) for table, key, columns, _, field in ROWS}


def land_hostile(url: str) -> None:
    with psycopg.connect(url) as conn:
        for table, _, columns, payload, _ in [*ROWS, READABLE]:
            values = {**columns, "payload": Jsonb(payload)}
            names = ", ".join(values)
            marks = ", ".join(["%s"] * len(values))
            conn.execute(f"insert into raw.{table} ({names}) values ({marks})", list(values.values()))
