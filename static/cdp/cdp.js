/*! CDP web SDK: plain ES2017, no build step, no dependencies. Snippet (PPMessage's queue):
 *   window.cdp = window.cdp || [];
 *   cdp.push(["init", {key: "<public key>"}]);  // endpoint: this script's host by default
 *   cdp.push(["track", "c_signup", {plan: "pro"}]);
 *   cdp.push(["identify", {externalId: "CUST-1", email: "ann@example.com"}, {firstName: "Ann"}]);
 * Also ["page", {props}] (single-page apps), ["reset"] (sign out), ["flush"].
 * PPMessage's queue works unchanged: window._ppmatc.push({track_event: {event_name, event_uuid,
 * event_data, event_timestamp (seconds)}}), pushed before or after this script loads.
 * Opt-in form tracking: init with {trackForms: true} records formSubmitted (formId, formName,
 * pageTitle, url, path; never the fields' values) for every form submitted on the page, except
 * forms marked data-cdp-ignore.
 * Automatic: sessionStarted (UTM; utm_source "direct"), pageView, sessionEnded (after 30 minutes
 * without events, or when a new campaign starts a session). Batches go every second or at 20
 * events, by sendBeacon when the page is hidden; network and 5xx errors are retried with
 * backoff; leftovers wait in localStorage. messageIds make every retry safe.
 */
(function (window, document) {
  "use strict";
  if (window.cdp && window.cdp.loaded) return;

  var AID = "cdp_aid", SID = "cdp_sid", UID = "cdp_uid", STORE = "cdp_queue";
  var YEAR = 31536000, MAX_TEXT = 2000;
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  var config = {key: "", endpoint: "", flushInterval: 1000, batchSize: 20,
                sessionTimeout: 1800000, autoPageView: true, cookieDomain: "",
                trackForms: false};
  var script = document.currentScript;
  var queue = [], inflight = null, waiting = [], started = false, memoryAid = null;
  var timer = null, idleTimer = null, backoff = 0, retryAt = 0;

  function warn() { if (window.console) console.warn.apply(console, arguments); }
  function iso(ms) { return new Date(ms).toISOString(); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }
  function getCookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    try { return m ? decodeURIComponent(m[1]) : null; } catch (e) { return null; }
  }
  function setCookie(name, value, maxAge) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; Path=/; Max-Age=" + maxAge +
      "; SameSite=Lax" + (config.cookieDomain ? "; Domain=" + config.cookieDomain : "") +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function stored() { try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch (e) { return []; } }
  function store(items) {
    try {
      if (items.length) localStorage.setItem(STORE, JSON.stringify(items.slice(-200)));
      else localStorage.removeItem(STORE);
    } catch (e) { /* full or disabled: memory only */ }
  }
  function aid() { return getCookie(AID) || memoryAid; }
  // Drop empty values; clip long strings so that one long URL does not get an event refused.
  function clean(obj) {
    var out = {};
    Object.keys(obj || {}).forEach(function (k) {
      var v = obj[k];
      if (v !== null && v !== undefined && v !== "") out[k] = typeof v === "string" ? v.slice(0, MAX_TEXT) : v;
    });
    return out;
  }

  // The session {id, start, last, utm, ended} lives in a cookie that outlives the timeout, so
  // that the next visit can still end it properly.
  function readSession() { try { return JSON.parse(getCookie(SID)) || null; } catch (e) { return null; } }
  function writeSession(s) { setCookie(SID, JSON.stringify(s), YEAR); }
  function sessionProps(s, extra) {
    return Object.assign({sessionId: s.id, sessionType: "web", utm_source: "direct"}, s.utm, extra);
  }
  function endSession(s) {
    add({type: "track", event: "sessionEnded", properties: sessionProps(s, {sessionEnd: iso(s.last),
      sessionDuration: Math.max(0, Math.round((s.last - s.start) / 1000))})}, s.last, s.id, "se-" + s.id);
    s.ended = true;
    writeSession(s);
  }
  function live(s) { return s && s.id && !s.ended; }

  // Return the current session, after ending one that timed out or that a new campaign replaces.
  function session(now) {
    var s = readSession(), utm = {}, params = new URLSearchParams(location.search);
    UTM.forEach(function (k) { if (params.get(k)) utm[k] = params.get(k).slice(0, 200); });
    var expired = !live(s) || now - s.last > config.sessionTimeout;
    var campaign = !expired && Object.keys(utm).length > 0 &&
      UTM.some(function (k) { return (utm[k] || "") !== ((s.utm || {})[k] || ""); });
    if (live(s) && (expired || campaign)) endSession(s);
    if (expired || campaign) {
      s = {id: uuid(), start: now, utm: utm};
      add({type: "track", event: "sessionStarted", properties: sessionProps(s, {sessionStart: iso(now)})},
        now, s.id, "ss-" + s.id);
    }
    s.last = now;
    writeSession(s);
    clearTimeout(idleTimer);
    idleTimer = setTimeout(checkIdle, config.sessionTimeout + 1000);
    return s;
  }
  // A tab left open past the timeout ends its session (unless another tab kept it alive).
  function checkIdle() {
    var s = readSession();
    if (!live(s)) return;
    var left = s.last + config.sessionTimeout - Date.now();
    if (left >= 0) idleTimer = setTimeout(checkIdle, left + 1000);
    else { endSession(s); flush(); }
  }

  function add(item, time, sessionId, messageId) {
    if (item.timestamp === undefined) item.timestamp = iso(time);
    item.messageId = messageId || uuid();
    item.sessionId = sessionId;
    queue.push({a: aid(), u: getCookie(UID), e: item});
    if (started) schedule();
  }
  function pageView(extra) {
    var now = Date.now(), s = session(now);
    add({type: "track", event: "pageView", properties: clean(Object.assign({
      pageTitle: document.title, url: location.href, domain: location.hostname,
      path: location.pathname, referrer: document.referrer, browserLanguage: navigator.language,
      websiteLanguage: document.documentElement.lang, timestamp: iso(now)}, extra))}, now, s.id);
  }

  function formSubmitted(e) {
    var form = e.target;
    if (!form || form.tagName !== "FORM" || form.hasAttribute("data-cdp-ignore")) return;
    var name = form.getAttribute("name") || "", now = Date.now();
    add({type: "track", event: "formSubmitted", properties: clean({
      formId: form.getAttribute("id") || name, formName: name || form.getAttribute("id") || "",
      pageTitle: document.title, url: location.href, path: location.pathname})}, now, session(now).id);
    // A submit usually leaves the page: pagehide sends the queue by beacon; a form handled by
    // script stays, and the next flush sends it.
  }

  var commands = {
    init: function (options) {
      Object.assign(config, options);
      config.endpoint = config.endpoint || new URL("/api/v1/collect", (script && script.src) || location.href).href;
      if (started) return;
      started = true;
      memoryAid = aid() || uuid();
      setCookie(AID, memoryAid, YEAR);
      queue = stored().concat(queue);
      store([]);
      if (config.autoPageView) pageView();
      waiting.splice(0).forEach(run);
      window.addEventListener("pagehide", leave);
      if (config.trackForms) document.addEventListener("submit", formSubmitted, true);
      window.addEventListener("pageshow", function (e) { if (e.persisted && config.autoPageView) pageView(); });
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "hidden") leave(); else store([]);
      });
      schedule();
    },
    track: function (name, properties) {
      var now = Date.now();
      add({type: "track", event: name, properties: properties || {}}, now, session(now).id);
    },
    identify: function (identifiers, traits) {
      identifiers = clean(identifiers);
      var id = String(identifiers.externalId || ""), current = getCookie(UID);
      if (id && current && id !== current) commands.reset(); // someone else signs in here
      if (id) setCookie(UID, id, YEAR);
      var now = Date.now();
      add({type: "identify", identifiers: identifiers, traits: clean(traits)}, now, session(now).id);
    },
    page: pageView,
    reset: function () {
      var s = readSession();
      if (live(s)) endSession(s);
      setCookie(UID, "", 0);
      setCookie(AID, memoryAid = uuid(), YEAR);
    },
    flush: function () { flush(); },
    // One PPMessage track_event: event_data is sent whole (the server validates the
    // definition's declared properties from it) and event_timestamp as the number it is
    // (seconds). In PPMessage's own snippet event_uuid is the same for every event of a kind
    // (it names the event field), so each push gets its own messageId, which keeps retries
    // safe; were event_uuid the dedupe id, a page's second click would be dropped.
    ppmatc: function (te) {
      if (!te || typeof te !== "object" || typeof te.event_name !== "string" || !te.event_name) {
        return warn("cdp: _ppmatc needs {track_event: {event_name, …}}", te);
      }
      var now = Date.now(), ts = te.event_timestamp, data = te.event_data;
      var item = {type: "track", event: te.event_name,
        data: data && typeof data === "object" && !Array.isArray(data) ? data : {}};
      if (typeof ts === "number" && isFinite(ts)) item.timestamp = ts;
      add(item, now, session(now).id);
    },
  };
  function run(cmd) {
    if (!Array.isArray(cmd) || !commands.hasOwnProperty(cmd[0])) return warn("cdp: unknown command", cmd);
    if (!started && cmd[0] !== "init") return waiting.push(cmd);
    try { commands[cmd[0]].apply(null, cmd.slice(1)); } catch (e) { warn("cdp:", e); }
  }

  // The leading run of queued events sent under the same ids, at most batchSize of them.
  function nextBatch() {
    var n = 0, first = queue[0];
    while (n < queue.length && n < config.batchSize && queue[n].a === first.a && queue[n].u === first.u) n++;
    return queue.splice(0, n);
  }
  function body(batch) {
    return JSON.stringify({key: config.key, anonymousId: batch[0].a, externalId: batch[0].u || undefined,
      sentAt: iso(Date.now()), events: batch.map(function (x) { return x.e; })});
  }
  function schedule() {
    if (queue.length >= config.batchSize) flush();
    else if (!timer && queue.length) timer = setTimeout(flush, config.flushInterval);
  }
  function flush() {
    clearTimeout(timer);
    timer = null;
    if (inflight || !queue.length || !started || !config.key) return;
    if (retryAt > Date.now()) { timer = setTimeout(flush, retryAt - Date.now()); return; }
    var batch = inflight = nextBatch(), text = body(batch);
    fetch(config.endpoint, {method: "POST", body: text, credentials: "omit", keepalive: text.length < 60000,
      headers: {"Content-Type": "text/plain;charset=UTF-8"}}) // a "simple" request: no preflight
      .then(function (response) {
        if (response.status >= 500 || response.status === 429 || response.status === 408) throw response.status;
        if (!response.ok) warn("cdp: batch refused, HTTP " + response.status); // not retried
        inflight = null;
        backoff = 0;
        schedule();
      })
      .catch(function () {
        queue = batch.concat(queue);
        inflight = null;
        backoff = Math.min(backoff * 2 || 1000, 60000);
        retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
        schedule();
      });
  }

  // The page is going away, or hidden (on mobile perhaps for good): send the queue by beacon
  // (no headers, so the key goes in the URL too) and keep what could not go, or what fetch
  // still carries, for the next page.
  function leave() {
    var s = readSession();
    if (live(s) && Date.now() - s.last > config.sessionTimeout) endSession(s);
    clearTimeout(timer);
    timer = null;
    if (!config.key) return;
    var url = config.endpoint + (config.endpoint.indexOf("?") < 0 ? "?" : "&") + "key=" + encodeURIComponent(config.key);
    while (queue.length && navigator.sendBeacon) {
      var batch = nextBatch();
      if (!navigator.sendBeacon(url, new Blob([body(batch)], {type: "text/plain;charset=UTF-8"}))) {
        queue = batch.concat(queue);
        break;
      }
    }
    var seen = {};
    store(stored().concat(inflight || [], queue).filter(function (x) {
      return !seen[x.e.messageId] && (seen[x.e.messageId] = true);
    }));
  }

  var pending = Array.isArray(window.cdp) ? window.cdp : [];
  window.cdp = {loaded: true, push: function () { Array.prototype.forEach.call(arguments, run); }};
  pending.filter(function (c) { return c && c[0] === "init"; }).forEach(run);
  pending.filter(function (c) { return !c || c[0] !== "init"; }).forEach(run);

  // PPMessage's queue: what the page pushed before this script, then every later push.
  function ppmPush() {
    Array.prototype.forEach.call(arguments, function (x) {
      if (x && x.track_event) run(["ppmatc", x.track_event]);
      else warn("cdp: _ppmatc items are {track_event: {…}}", x);
    });
    return 0;
  }
  var ppm = Array.isArray(window._ppmatc) ? window._ppmatc.splice(0) : [];
  window._ppmatc = [];
  window._ppmatc.push = ppmPush;
  ppmPush.apply(null, ppm);
})(window, document);
