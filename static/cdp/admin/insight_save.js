/* "Save insight" on the analytics page (templates/admin/events/analytics_save.html): saves the
   query the page shows (window.cdpAnalytics.currentQuery() → {kind, query}) under a name, pinned
   to the dashboard or not, through the saved insights API with the admin's session. Opened
   with ?insight=<id>, it reads that insight and loads it into the page
   (window.cdpAnalytics.load({kind, query})); saving again under the same name then changes it
   instead of adding another. */
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) { return decodeURIComponent(match[1]); }
    var input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function page() {
    var A = window.cdpAnalytics;
    return A && typeof A.currentQuery === "function" && typeof A.load === "function" ? A : null;
  }

  /* Fetch JSON with the session; reject with "field: message" of the API's error. */
  function call(url, method, body) {
    var init = {method: method, credentials: "same-origin",
                headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          var error = answer.error || {};
          throw new Error((error.field ? error.field + ": " : "") +
                          (error.message || "error " + response.status));
        }
        return answer;
      });
    });
  }

  // The page's own names of the kinds (its endpoints') → the insights' kinds.
  var KINDS = {funnels: "funnel", segmentations: "segmentation"};

  var opened = null;  // the insight loaded from ?insight=

  function say(form, text, link) {
    var message = form.querySelector(".cdp-insight-message");
    if (!message) { return; }
    message.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      message.appendChild(document.createTextNode(" "));
      message.appendChild(a);
    }
  }

  function save(form) {
    var A = page();
    if (!A) { say(form, "Saving needs the analytics page."); return; }
    var current = A.currentQuery();
    if (!current || !current.kind || !current.query) {
      say(form, "Choose and run a query first.");
      return;
    }
    var name = form.querySelector(".cdp-insight-name").value.trim();
    var kind = KINDS[current.kind] || current.kind;
    var body = {name: name, kind: kind, query: current.query,
                pinned: form.querySelector(".cdp-insight-pinned").checked};
    var url = form.getAttribute("data-url");
    var update = opened && opened.name === name && form.getAttribute("data-can-change") === "true";
    var done = update ? call(url + "/" + opened.id, "PATCH", body)
      : call(url + "?workspace=" + encodeURIComponent(form.getAttribute("data-workspace")),
             "POST", body);
    form.querySelector(".cdp-insight-submit").disabled = true;
    done.then(function (insight) {
      opened = insight;
      say(form, (update ? "Changed" : "Saved") + " “" + insight.name + "”" +
          (insight.pinned ? ", pinned to the dashboard." : "."),
          {href: form.getAttribute("data-list-url"), text: "Saved insights ›"});
    }).catch(function (error) {
      say(form, "Not saved: " + error.message);
    }).then(function () {
      form.querySelector(".cdp-insight-submit").disabled = false;
    });
  }

  function openInsight(form, id) {
    call(form.getAttribute("data-url") + "/" + encodeURIComponent(id), "GET")
      .then(function (insight) {
        opened = insight;
        var name = form.querySelector(".cdp-insight-name");
        if (name) {
          name.value = insight.name;
          form.querySelector(".cdp-insight-pinned").checked = insight.pinned;
        }
        var A = page();
        if (!A) { say(form, "Opening “" + insight.name + "” needs the analytics page."); return; }
        A.load({kind: insight.kind, query: insight.query});
        say(form, "Opened “" + insight.name + "”.");
      })
      .catch(function (error) { say(form, "The insight could not be opened: " + error.message); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cdp-insight-save");
    if (!form) { return; }
    if (form.tagName === "FORM") {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        save(form);
      });
    }
    var id = new URLSearchParams(window.location.search).get("insight");
    if (id) { openInsight(form, id); }
  });
})();
