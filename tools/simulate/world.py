"""A seeded world of people walking through both funnels.

Each simulated person gets a journey: a time-ordered list of `Touch`es, each the
payload a provider would send (or the request a browser would make) at a moment
of simulated time. Payload shapes follow shared/reference/vendors.md. The same
seed and `now` always yield the same world (ids included), so a demo or a bug report
can be replayed and a replay is recognised as redeliveries. Time only moves forward
within a journey: what would happen after `now` has not happened yet and is left out,
so no subscription is cancelled before it starts and no deal is won before its proposal.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PLANS = {
    "price_starter_monthly": ("starter", 1900),
    "price_pro_monthly": ("pro", 4900),
    "price_team_monthly": ("team", 14900),
}
CAMPAIGNS = {
    "newsletter": ["weekly_digest", "product_tips", "launch_week"],
    "outbound": ["cold_intro", "cold_followup"],
}
FIRST_NAMES = ["ada", "grace", "alan", "linus", "barbara", "edsger", "margaret", "ken", "donald", "frances"]
COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne"]
PLACEHOLDER_DISTINCT_IDS = ["undefined", "null", "anonymous", "0", "guest"]
# (country, national phone format with x = random digit, cities as (city, state, postal code))
CONTACT_COUNTRIES = [
    ("US", "(415) 555-01xx", [("San Francisco", "CA", "94103"), ("New York", "NY", "10001"), ("Austin", "Texas", "78701")]),
    ("DE", "030 1234 xxxx", [("Berlin", "BE", "10115"), ("München", "BY", "80331")]),
    ("IT", "06 1234 xxxx", [("Roma", "RM", "00184"), ("Milano", "MI", "20121")]),
    ("GB", "020 7946 0xxx", [("London", "", "SW1A 1AA")]),
    ("FR", "06 12 34 xx xx", [("Paris", "", "75001")]),
]
DEAL_AMOUNTS_CENTS = [600_000, 1_200_000, 2_400_000]


def landing_params(url: str) -> dict[str, str]:
    """The UTM parameters (and gdp_click_id) of a landing URL, as gdp.js registers them on PostHog events."""
    return {k: v for k, v in parse_qsl(urlsplit(url).query) if k.startswith("utm_") or k == "gdp_click_id"}


@dataclass
class Touch:
    """One thing that happens: `kind` names the channel, `payload` the provider's body."""

    at: datetime
    kind: str  # resend | stripe | posthog | click | capi | identify | cal | calendly | deal | lead | auth_user
    payload: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Person:
    person_id: str
    email: str
    name: str
    company: str
    funnel: str
    anon_distinct_id: str
    touches: list[Touch] = field(default_factory=list)
    open_rate: float = 0.5
    click_rate: float = 0.35
    identified_in_browser: bool = False  # gdp.js has called posthog.identify for this person
    contact: dict[str, str] = field(default_factory=dict)  # phone, country, city, state, postal_code
    clicked: bool = False  # has a campaign touch (a tracked click or a tagged visit)


def contact_for(seed: int, index: int) -> dict[str, str]:
    """Phone and address of person `index`, from its own random stream so the rest of the world is unchanged."""
    rng = random.Random(f"{seed}:{index}:contact")
    country, phone_format, cities = rng.choices(CONTACT_COUNTRIES, weights=[50, 15, 12, 13, 10])[0]
    city, state, postal_code = rng.choice(cities)
    phone = "".join(str(rng.randint(0, 9)) if ch == "x" else ch for ch in phone_format)
    return {"phone": phone, "country": country, "city": city, "state": state, "postal_code": postal_code}


class World:
    """Generates persons and their touches over `days` of simulated time ending at `now`."""

    def __init__(self, persons: int = 2000, days: int = 14, seed: int = 7, now: datetime | None = None):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_persons = persons
        self.days = days
        self.now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        self.start = self.now - timedelta(days=days)
        self.persons: list[Person] = []
        self._ids = 0

    # -- ids -------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self.rng.getrandbits(48):012x}{self._ids:05d}"

    def _moment(self, after: datetime, max_hours: float) -> datetime:
        """A moment after `after`; possibly after `now` (build() then leaves it out)."""
        return after + timedelta(minutes=self.rng.uniform(1, max_hours * 60))

    # -- generation ------------------------------------------------------------
    def build(self) -> list[Person]:
        for i in range(self.n_persons):
            funnel = "outbound" if self.rng.random() < 0.3 else "newsletter"
            first = self.rng.choice(FIRST_NAMES)
            company = self.rng.choice(COMPANIES)
            email = f"{first}.{i}@{company}.example.com"
            person = Person(
                person_id=self._uuid(),
                email=email,
                name=first.title(),
                company=company,
                funnel=funnel,
                anon_distinct_id=self._uuid(),
                contact=contact_for(self.seed, i),
            )
            # Edge cases the identity graph must survive.
            if self.rng.random() < 0.02:
                person.email = f"  {email.upper()} "  # messy casing and whitespace
            start = self.start + timedelta(hours=self.rng.uniform(0, self.days * 24 * 0.55))
            if funnel == "newsletter":
                self._newsletter_journey(person, start)
            else:
                self._outbound_journey(person, start)
            person.touches = sorted((t for t in person.touches if t.at <= self.now), key=lambda t: t.at)
            for click in (t for t in person.touches if t.kind == "click"):
                click.meta["landing"] = [t for t in click.meta["landing"] if t.at <= self.now]
            for n, touch in enumerate(t for t in person.touches if t.kind == "deal"):
                # The CRM's own id for the move: a replayed world's moves are recognised, not doubled.
                touch.payload["event_id"] = f"sim-{person.person_id}-{n}-{touch.payload['stage']}"
            self.persons.append(person)
        self._shared_devices()
        return self.persons

    def touches(self) -> list[Touch]:
        return sorted((t for p in self.persons for t in p.touches), key=lambda t: t.at)

    # -- email -------------------------------------------------------------------
    def _email(self, person: Person, at: datetime, campaign: str, *, subject: str) -> tuple[str, datetime]:
        """Sent + delivered, maybe opened/clicked/bounced/complained; returns (email_id, last time)."""
        email_id = self._uuid()
        tags = {"person_id": person.person_id, "campaign_id": campaign, "funnel": person.funnel}
        # Resend documents tags both as an object and as a list of {name, value}.
        tag_value: Any = tags if self.rng.random() < 0.5 else [{"name": k, "value": v} for k, v in tags.items()]
        data = {
            "email_id": email_id,
            "created_at": at.isoformat(),
            "from": "Growth <hello@example.com>",
            "to": [person.email.strip().lower()],
            "subject": subject,
            "tags": tag_value,
        }
        self._resend(person, at, "email.sent", data)
        if self.rng.random() < 0.03:
            bounced = self._moment(at, 0.1)
            self._resend(
                person,
                bounced,
                "email.bounced",
                {**data, "bounce": {"message": "mailbox does not exist", "type": "Permanent", "subType": "General"}},
            )
            return email_id, bounced
        delivered = self._moment(at, 0.05)
        self._resend(person, delivered, "email.delivered", data)
        last = delivered
        if self.rng.random() < 0.005:
            last = self._moment(delivered, 24)
            self._resend(person, last, "email.complained", data)
            return email_id, last
        if self.rng.random() < person.open_rate:
            last = self._moment(delivered, 30)
            self._resend(person, last, "email.opened", data)
            if self.rng.random() < person.click_rate:
                page = "offer" if person.funnel == "outbound" else "blog/launch"
                url = f"https://app.example.com/{page}?utm_source={person.funnel}&utm_medium=email&utm_campaign={campaign}"
                last = self._moment(last, 0.5)
                click = {"ipAddress": "203.0.113.7", "link": url, "timestamp": last.isoformat(), "userAgent": "Mozilla/5.0"}
                self._resend(person, last, "email.clicked", {**data, "click": click})
                landing = self._land_from_click(person, self._moment(last, 0.01), url)
                person.touches.append(
                    Touch(last, "click", {"person_id": person.person_id, "campaign_id": campaign,
                                          "funnel": person.funnel, "url": url, "email_id": email_id},
                          {"landing": landing})
                )
                person.clicked = True
        return email_id, last

    def _resend(self, person: Person, at: datetime, event_type: str, data: dict[str, Any]) -> None:
        payload = {"type": event_type, "created_at": at.isoformat(), "data": data}
        person.touches.append(Touch(at, "resend", payload, {"svix_id": self._id("msg")}))

    # -- web and app ------------------------------------------------------------
    def _posthog(self, person: Person, at: datetime, event: str, properties: dict[str, Any], distinct_id: str,
                 *, keep: bool = True) -> Touch:
        payload = {
            "event": {
                "uuid": self._uuid(),
                "event": event,
                "distinct_id": distinct_id,
                "properties": {"$current_url": properties.pop("$current_url", None), **properties},
                "timestamp": at.isoformat(),
                "url": None,
            },
            "person": {"id": self._uuid(), "properties": {}},
        }
        touch = Touch(at, "posthog", payload)
        if keep:
            person.touches.append(touch)
        return touch

    def _pageview(self, person: Person, at: datetime, url: str, distinct_id: str | None = None) -> None:
        self._posthog(person, at, "$pageview", {"$current_url": url}, distinct_id or person.anon_distinct_id)

    def _land_from_click(self, person: Person, at: datetime, url: str) -> list[Touch]:
        """The visit a tracked-link click starts, as gdp.js records it: identify once (the link set the
        person cookie), then a session whose events carry the landing URL's UTM parameters (and, added
        by the sender from the real redirect, `gdp_click_id`). Returned, not kept: the sender sends them
        after the click, with the URL the redirect really pointed at."""
        session = {"$session_id": self._uuid(), **landing_params(url)}
        touches = []
        if not person.identified_in_browser:
            touches.append(self._posthog(person, at, "$identify", {"$anon_distinct_id": person.anon_distinct_id},
                                         person.person_id, keep=False))
            person.identified_in_browser = True
        at = self._moment(at, 0.01)
        touches.append(self._posthog(person, at, "$pageview", {"$current_url": url, **session}, person.person_id,
                                     keep=False))
        touches.append(self._posthog(person, self._moment(at, 0.1), "$pageview",
                                     {"$current_url": "https://app.example.com/pricing", **session},
                                     person.person_id, keep=False))
        return touches

    def _tagged_visit(self, person: Person, at: datetime, campaign: str, source: str) -> None:
        """A visit from a UTM-tagged link outside email (a shared post, an ad): a web-session touch."""
        url = f"https://example.com/?utm_source={source}&utm_medium=social&utm_campaign={campaign}"
        self._posthog(person, at, "$pageview", {"$current_url": url, "$session_id": self._uuid(),
                                                **landing_params(url)}, person.anon_distinct_id)

    def _newsletter_journey(self, person: Person, start: datetime) -> None:
        at = start
        clicky = self.rng.random() < 0.06  # reads and clicks everything, barely uses the product
        if clicky:
            person.open_rate, person.click_rate = 0.95, 0.9
        for _ in range(self.rng.randint(5, 6) if clicky else self.rng.randint(1, 4)):
            campaign = self.rng.choice(CAMPAIGNS["newsletter"])
            _, at = self._email(person, at, campaign, subject=f"{campaign.replace('_', ' ').title()}")
            at = self._moment(at, 30)
        # People who clicked sign up far more often; a few arrive through a tagged post, fewer still organically.
        if not person.clicked and self.rng.random() < 0.12:
            at = self._moment(at, 24)
            self._tagged_visit(person, at, self.rng.choice(CAMPAIGNS["newsletter"]), "linkedin")
            person.clicked = True
        if clicky or self.rng.random() < (0.6 if person.clicked else 0.03):
            self._signup_and_use(person, self._moment(at, 24), light_user=clicky)

    def _signup_and_use(self, person: Person, at: datetime, *, light_user: bool = False) -> None:
        user_id = self._uuid()
        person.touches.append(
            Touch(at, "auth_user", {"id": user_id, "email": person.email.strip().lower(), "created_at": at.isoformat(),
                                     "raw_user_meta_data": {"full_name": person.name, "phone": person.contact["phone"],
                                                            "country": person.contact["country"]}})
        )
        distinct_id = person.anon_distinct_id
        if self.rng.random() < 0.01:
            distinct_id = self.rng.choice(PLACEHOLDER_DISTINCT_IDS)  # a buggy client: must link nobody
        self._posthog(person, at, "$identify", {"$anon_distinct_id": distinct_id, "email": person.email.strip().lower()},
                      person.person_id)
        person.touches.append(
            Touch(self._moment(at, 0.01), "identify",
                  {"person_id": person.person_id, "email": person.email.strip().lower(),
                   "distinct_id": person.anon_distinct_id, "app_user_id": user_id})
        )
        self._posthog(person, self._moment(at, 0.02), "signed_up", {"$current_url": "https://app.example.com/welcome"},
                      person.person_id)
        if self.rng.random() < 0.7:
            at = self._moment(at, 30)
            self._posthog(person, at, "project_created", {}, person.person_id)
            for _ in range(self.rng.randint(0, 1) if light_user else self.rng.randint(0, 25)):
                at_use = self._moment(at, 24 * 7)
                self._posthog(person, at_use, "feature_used", {"feature": self.rng.choice(["export", "share", "edit"])},
                              person.person_id)
        for _ in range(self.rng.choice([0, 0, 1, 2, 3])):
            at = self._moment(at, 24)
            self._pageview(person, at, "https://example.com/pricing", person.person_id)
        if self.rng.random() < 0.5:
            self._checkout(person, self._moment(at, 24), user_id)

    # -- billing ------------------------------------------------------------------
    def _stripe(self, person: Person, at: datetime, event_type: str, obj: dict[str, Any],
                previous: dict[str, Any] | None = None) -> None:
        payload = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(at.timestamp()),
            "livemode": False,
            "type": event_type,
            "data": {"object": obj, **({"previous_attributes": previous} if previous else {})},
        }
        person.touches.append(Touch(at, "stripe", payload))

    def _checkout(self, person: Person, at: datetime, user_id: str) -> None:
        event_id = self._uuid()
        self._posthog(person, at, "checkout_started", {"$current_url": "https://app.example.com/checkout"},
                      person.person_id)
        person.touches.append(Touch(at, "capi", {"event_id": event_id, "event_name": "InitiateCheckout",
                                                 "person_id": person.person_id,
                                                 "event_source_url": "https://app.example.com/checkout"}))
        if self.rng.random() < 0.35:
            return  # abandoned checkout
        price = self.rng.choice(list(PLANS))
        plan, amount = PLANS[price]
        customer = self._id("cus")
        subscription = self._id("sub")
        email = person.email.strip().lower()
        paid_at = self._moment(at, 0.2)
        contact = person.contact
        address = {"line1": "1 Main Street", "city": contact["city"], "state": contact["state"] or None,
                   "postal_code": contact["postal_code"], "country": contact["country"]}
        self._stripe(person, paid_at, "customer.created",
                     {"id": customer, "object": "customer", "email": email, "name": person.name, "phone": contact["phone"],
                      "address": address, "metadata": {"person_id": person.person_id}})
        # The app minted the Purchase's event id (gdp.eventId()) before creating the session; set below.
        session = {"id": self._id("cs"), "object": "checkout.session", "mode": "subscription", "customer": customer,
                   "subscription": subscription, "client_reference_id": person.person_id,
                   "customer_details": {"email": email}, "amount_total": amount, "currency": "usd", "metadata": {}}
        self._stripe(person, paid_at, "checkout.session.completed", session)
        period_end = paid_at + timedelta(days=30)
        sub = {
            "id": subscription, "object": "subscription", "customer": customer, "status": "active",
            "created": int(paid_at.timestamp()), "cancel_at_period_end": False,
            "items": {"object": "list", "data": [{
                "id": self._id("si"), "price": {"id": price, "nickname": plan, "unit_amount": amount,
                                                "currency": "usd", "recurring": {"interval": "month"}},
                "quantity": 1, "current_period_start": int(paid_at.timestamp()),
                "current_period_end": int(period_end.timestamp())}]},
        }
        self._stripe(person, paid_at, "customer.subscription.created", sub)
        self._stripe(person, paid_at, "invoice.paid",
                     {"id": self._id("in"), "object": "invoice", "customer": customer, "subscription": subscription,
                      "amount_paid": amount, "currency": "usd", "status": "paid"})
        purchase_id = self._uuid()
        session["metadata"]["gdp_event_id"] = purchase_id  # what the success page's gdp.track('Purchase') also sends
        person.touches.append(Touch(paid_at, "capi", {"event_id": purchase_id, "event_name": "Purchase",
                                                      "person_id": person.person_id,
                                                      "event_source_url": "https://app.example.com/checkout/success",
                                                      "custom_data": {"currency": "USD", "value": amount / 100}}))
        roll = self.rng.random()
        later = self._moment(paid_at, 24 * 5)
        if roll < 0.1:
            self._stripe(person, later, "invoice.payment_failed",
                         {"id": self._id("in"), "object": "invoice", "customer": customer, "subscription": subscription,
                          "amount_due": amount, "currency": "usd", "status": "open"})
            self._stripe(person, later, "customer.subscription.updated", {**sub, "status": "past_due"},
                         {"status": "active"})
        elif roll < 0.2:
            self._stripe(person, later, "customer.subscription.deleted",
                         {**sub, "status": "canceled", "canceled_at": int(later.timestamp())}, {"status": "active"})
        elif roll < 0.3:
            up = "price_team_monthly"
            items = {"object": "list", "data": [{**sub["items"]["data"][0],
                                                 "price": {**sub["items"]["data"][0]["price"], "id": up,
                                                           "nickname": PLANS[up][0], "unit_amount": PLANS[up][1]}}]}
            self._stripe(person, later, "customer.subscription.updated", {**sub, "items": items},
                         {"items": sub["items"]})

    # -- outbound -------------------------------------------------------------------
    def _outbound_journey(self, person: Person, start: datetime) -> None:
        email = person.email.strip().lower()
        person.touches.append(Touch(start, "lead", {"email": email, "name": person.name.title(),
                                                    "company": person.company.title(), "owner": "sam",
                                                    "source": "apollo", "phone": person.contact["phone"],
                                                    "country": person.contact["country"]}))
        person.touches.append(Touch(start, "deal", {"email": email, "stage": "contacted", "occurred_at": start.isoformat()}))
        at = start
        clicked = False
        for step, campaign in enumerate(CAMPAIGNS["outbound"]):
            at = self._moment(at, 24 * 2)
            _, last = self._email(person, at, campaign, subject="Quick question" if step == 0 else "Following up")
            clicked = clicked or any(t.kind == "click" for t in person.touches)
            at = last
        for _ in range(self.rng.choice([0, 1, 2, 3]) if clicked else 0):
            at = self._moment(at, 24)
            self._pageview(person, at, "https://example.com/offer", person.person_id)
        roll = self.rng.random() * (1.0 if clicked else 5.0)  # people who clicked reply far more often
        if roll < 0.25:
            self._reply(person, self._moment(at, 24), positive=True)
            if self.rng.random() < 0.6:  # the rest are still waiting for a human to follow up
                self._booking(person, self._moment(at, 48))
        elif roll < 0.35:
            self._reply(person, self._moment(at, 24), positive=False)

    def _reply(self, person: Person, at: datetime, *, positive: bool) -> None:
        email = person.email.strip().lower()
        data = {"email_id": self._uuid(), "created_at": at.isoformat(), "from": email,
                "to": ["sales@example.com"], "subject": "Re: Quick question", "tags": {}}
        self._resend(person, at, "email.received", data)
        stage = "replied_positive" if positive else "replied_negative"
        deal = {"email": email, "stage": stage, "occurred_at": self._moment(at, 1).isoformat()}
        if not positive:
            deal["objection"] = self.rng.choice(["price", "timing", "no_need"])
        person.touches.append(Touch(self._moment(at, 1), "deal", deal))

    def _booking(self, person: Person, at: datetime) -> None:
        email = person.email.strip().lower()
        uid = self._uuid()
        start_time = at + timedelta(days=2)
        booking = {"uid": uid, "title": "Intro call", "startTime": start_time.isoformat(),
                   "endTime": (start_time + timedelta(minutes=30)).isoformat(),
                   "attendees": [{"email": email, "name": person.name, "timeZone": "UTC"}],
                   "organizer": {"email": "sam@example.com", "name": "Sam"}, "metadata": {}}
        use_cal = self.rng.random() < 0.5
        invitee = f"https://api.calendly.com/scheduled_events/{uid}/invitees/{self._uuid()}"
        if use_cal:
            person.touches.append(Touch(at, "cal", {"triggerEvent": "BOOKING_CREATED", "createdAt": at.isoformat(),
                                                    "payload": booking}))
        else:
            person.touches.append(Touch(at, "calendly", {"event": "invitee.created", "created_at": at.isoformat(),
                                                         "payload": {"email": email, "name": person.name,
                                                                     "uri": invitee, "status": "active",
                                                                     "scheduled_event": {"start_time": start_time.isoformat()}}}))
        person.touches.append(Touch(self._moment(at, 0.1), "deal", {"email": email, "stage": "booked",
                                                                    "occurred_at": at.isoformat()}))
        schedule_id = self._uuid()
        booking["metadata"]["gdp_event_id"] = schedule_id  # Cal.com keeps the page's metadata[gdp_event_id]
        person.touches.append(Touch(at, "capi", {"event_id": schedule_id, "event_name": "Schedule",
                                                 "person_id": person.person_id,
                                                 "event_source_url": "https://example.com/book"}))
        outcome = self.rng.random()
        later = start_time
        if later <= at:
            return
        if outcome < 0.2:
            if use_cal:
                person.touches.append(Touch(later, "cal", {"triggerEvent": "BOOKING_NO_SHOW_UPDATED",
                                                           "createdAt": later.isoformat(),
                                                           "payload": {**booking, "attendees": [{"email": email, "noShow": True}]}}))
            else:
                person.touches.append(Touch(later, "calendly", {"event": "invitee_no_show.created",
                                                                "created_at": later.isoformat(),
                                                                "payload": {"uri": f"https://api.calendly.com/invitee_no_shows/{self._uuid()}",
                                                                            "invitee": invitee, "email": email,
                                                                            "created_at": later.isoformat()}}))
            person.touches.append(Touch(later, "deal", {"email": email, "stage": "no_show", "occurred_at": later.isoformat()}))
        else:
            if use_cal:
                person.touches.append(Touch(later, "cal", {"triggerEvent": "MEETING_ENDED", "createdAt": later.isoformat(),
                                                           "payload": booking}))
            stages = ["proposal_sent"] + (["won"] if outcome < 0.6 else ["lost"] if outcome < 0.8 else [])
            amount = self.rng.choice(DEAL_AMOUNTS_CENTS)
            for stage in stages:
                later = self._moment(later, 24)
                person.touches.append(Touch(later, "deal", {"email": email, "stage": stage, "amount_cents": amount,
                                                            "occurred_at": later.isoformat()}))

    # -- identity edge cases ---------------------------------------------------------
    def _shared_devices(self) -> None:
        """A few people browse on someone else's device before identifying."""
        for _ in range(max(1, self.n_persons // 200)):
            a, b = self.rng.sample(self.persons, 2)
            at = self._moment(self.start, self.days * 24 * 0.9)
            self._pageview(b, at, "https://example.com/blog", a.anon_distinct_id)
