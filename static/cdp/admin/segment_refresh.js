/* "Refresh now" on the segment page: queue a refresh, then poll its state every second and
   draw the progress until it is done (the new member count) or failed (the error). With
   in-process Celery the refresh has run when the first answer arrives. */
(function () {
  "use strict";

  var ACTIVE = ["queued", "running"];

  function describe(state) {
    if (state.status === "failed") { return "Failed: " + (state.error || "unknown error"); }
    if (state.status === "queued") { return "Queued…"; }
    if (state.status === "running") { return "Refreshing… " + state.progress + "%"; }
    return "Done: " + state.memberCount + (state.memberCount === 1 ? " member" : " members");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("cdp-refresh");
    var button = document.getElementById("cdp-refresh-button");
    if (!box || !button) { return; }
    var bar = document.getElementById("cdp-refresh-progress");
    var text = document.getElementById("cdp-refresh-text");
    var count = document.querySelector(".field-member_count .readonly");

    function show(state) {
      var active = ACTIVE.indexOf(state.status) >= 0;
      box.setAttribute("data-status", state.status);
      bar.hidden = state.status === "failed";
      bar.value = active ? (state.status === "queued" ? 0 : state.progress) : 100;
      text.textContent = describe(state);
      text.className = state.status === "failed" ? "cdp-refresh-failed" : "";
      button.disabled = active;
      if (!active && count) { count.textContent = String(state.memberCount); }
      return active;
    }

    function fail(message) {
      button.disabled = false;
      bar.hidden = true;
      text.textContent = message;
      text.className = "cdp-refresh-failed";
    }

    function read(response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error ? body.error.message : response.status); }
        return body;
      });
    }

    function poll() {
      fetch(box.getAttribute("data-status-url"), {credentials: "same-origin"})
        .then(read)
        .then(function (state) { if (show(state)) { setTimeout(poll, 1000); } })
        .catch(function (error) { fail("The state could not be read: " + error.message); });
    }

    button.addEventListener("click", function () {
      var token = document.querySelector("[name=csrfmiddlewaretoken]");
      show({status: "queued", progress: 0});
      fetch(box.getAttribute("data-refresh-url"), {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.value : ""}
      }).then(read)
        .then(function (state) { if (show(state)) { setTimeout(poll, 1000); } })
        .catch(function (error) { fail("The refresh could not start: " + error.message); });
    });

    // Opened while a refresh is under way: follow it.
    if (ACTIVE.indexOf(box.getAttribute("data-status")) >= 0) {
      button.disabled = true;
      setTimeout(poll, 1000);
    }
  });
})();
