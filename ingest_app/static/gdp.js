/*
 * gdp.js: the Growth Data Plane browser snippet, served by the ingest app at /gdp.js.
 *
 *   <script>window.gdpConfig = { email: "ada@example.org" };</script>   (optional)
 *   <script src="https://<ingest host>/gdp.js" data-email="ada@example.org"></script>
 *
 * On load: when the person cookie `gdp_pid` (set by a tracked-link click, value
 * "<person_id>.<mac>") is readable and PostHog is on the page (`window.posthog`),
 * calls posthog.identify(personId, {email}) once per page; the email comes from
 * gdpConfig.email or the script tag's data-email, and is left out when neither
 * is set. If PostHog is not there yet, it tries again once on window "load".
 * Also on load: `gdp_click_id` and utm_* of the landing URL are registered as PostHog
 * super properties (posthog.register), so every later event of the visit carries the
 * click and campaign that brought it (attribution's web-session touch).
 *
 * gdp.track(eventName, customData, {eventId}) -> event_id
 *   One event_id (crypto.randomUUID(), or a v4 UUID from crypto.getRandomValues on
 *   pages that are not a secure context; or options.eventId when the page minted it
 *   earlier), sent both ways so Meta deduplicates:
 *   fbq('track', eventName, customData, {eventID}) ('trackCustom' for the project's
 *   custom events) and a POST of {event_id, event_name, event_source_url,
 *   custom_data, fbp, fbc} to <endpoint>/api/meta/capi. fbp/fbc come from the
 *   _fbp/_fbc cookies; without _fbc and with ?fbclid= in the URL, fbc is built as
 *   fb.1.<ms>.<fbclid> (Meta's format, fbclid case kept).
 *
 * gdp.eventId() -> a new event_id, for a conversion the server also sees. Stripe
 *   Checkout: mint it before creating the session, pass it as
 *   metadata.gdp_event_id, and on the success page call
 *   gdp.track('Purchase', data, {eventId: id}); the server-side Purchase built
 *   from the Stripe webhook then carries the same id, so Meta counts one purchase.
 *   Cal.com works the same way: pass it as the booking's metadata[gdp_event_id]
 *   and track Schedule with it.
 *
 * The endpoint is the origin this script was loaded from, or gdpConfig.endpoint /
 * data-endpoint. A page of another origin must be listed in GDP_ALLOWED_ORIGINS.
 */
(function (window, document) {
  "use strict";
  if (window.gdp && window.gdp.version) return;

  var COOKIE = "gdp_pid";
  var STANDARD_EVENTS = [
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact", "CustomizeProduct",
    "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView", "Purchase", "Schedule", "Search",
    "StartTrial", "SubmitApplication", "Subscribe", "ViewContent"
  ];
  var script = document.currentScript;
  var config = window.gdpConfig || {};

  function attr(name) {
    return script ? script.getAttribute(name) : null;
  }

  function endpoint() {
    var base = config.endpoint || attr("data-endpoint");
    if (!base && script && script.src) base = new URL(script.src, window.location.href).origin;
    return (base || window.location.origin).replace(/\/+$/, "");
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(/;\s*/) : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq > 0 && parts[i].slice(0, eq) === name) {
        var value = parts[i].slice(eq + 1);
        if (value.charAt(0) === '"') value = value.slice(1, -1);
        try { return decodeURIComponent(value); } catch (e) { return value; }
      }
    }
    return null;
  }

  function personId() {
    var value = readCookie(COOKIE);
    var dot = value ? value.lastIndexOf(".") : -1;
    return dot > 0 ? value.slice(0, dot) : null;
  }

  function hex(byte) {
    return (byte + 0x100).toString(16).slice(1);
  }

  function uuid4() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var b = new Uint8Array(16);
    c.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    var h = Array.prototype.map.call(b, hex).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  var builtFbc = null;
  function fbc() {
    var cookie = readCookie("_fbc");
    if (cookie) return cookie;
    var fbclid = new URLSearchParams(window.location.search).get("fbclid");
    if (!fbclid) return null;
    if (!builtFbc) builtFbc = "fb.1." + Date.now() + "." + fbclid;
    return builtFbc;
  }

  var identified = false;
  function identify() {
    if (identified) return true;
    var pid = personId();
    var posthog = window.posthog;
    if (!pid || !posthog || typeof posthog.identify !== "function") return false;
    identified = true;
    var email = config.email || attr("data-email");
    if (email) posthog.identify(pid, { email: email });
    else posthog.identify(pid);
    return true;
  }

  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  function track(eventName, customData, options) {
    var given = options && options.eventId;
    var eventId = typeof given === "string" && UUID.test(given) ? given.toLowerCase() : uuid4();
    customData = customData || {};
    if (typeof window.fbq === "function") {
      var kind = STANDARD_EVENTS.indexOf(eventName) >= 0 ? "track" : "trackCustom";
      window.fbq(kind, eventName, customData, { eventID: eventId });
    }
    var body = JSON.stringify({
      event_id: eventId,
      event_name: eventName,
      event_source_url: window.location.href.slice(0, 2048),
      custom_data: customData,
      fbp: readCookie("_fbp"),
      fbc: fbc()
    });
    if (typeof window.fetch === "function") {
      window.fetch(endpoint() + "/api/meta/capi", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: body,
        credentials: "include",
        keepalive: true
      }).catch(function () { /* the Pixel event still went; nothing to retry from a page that may be closing */ });
    }
    return eventId;
  }

  var LANDING_KEYS = ["gdp_click_id", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id"];
  var landed = false;
  function carryLanding() {
    if (landed) return true;
    var posthog = window.posthog;
    if (!posthog || typeof posthog.register !== "function") return false;
    landed = true;
    var query = new URLSearchParams(window.location.search), props = {}, any = false;
    for (var i = 0; i < LANDING_KEYS.length; i++) {
      var value = query.get(LANDING_KEYS[i]);
      if (value) { props[LANDING_KEYS[i]] = value.slice(0, 500); any = true; }
    }
    if (any) posthog.register(props);
    return true;
  }

  window.gdp = { version: "1", track: track, eventId: uuid4, identify: identify, personId: personId, endpoint: endpoint };

  if (!identify()) {
    window.addEventListener("load", identify, { once: true });
  }
  if (!carryLanding()) {
    window.addEventListener("load", carryLanding, { once: true });
  }
})(window, document);
