/* The dashboard on the admin index: events per day over 30 days (a chart), events and new
   people in figures, the top definitions and the active flows with their runs, and the pinned
   insights (insight_dashboard.js). Reads the figures of one workspace from the dashboard
   endpoint, which picks the workspace last chosen (else the first with events); a select
   switches workspaces and the server remembers the choice. */
(function () {
  "use strict";

  /* "1 active flow", "2 active flows". */
  function plural(count, one, many) {
    return count.toLocaleString() + " " + (count === 1 ? one : many);
  }

  function show(box, data) {
    var A = window.cdpAnalytics;
    var select = document.getElementById("cdp-dashboard-workspace");
    if (data.workspaces.length > 1 && !select.options.length) {
      data.workspaces.forEach(function (w) {
        var option = document.createElement("option");
        option.value = w.id;
        option.textContent = w.name;
        select.appendChild(option);
      });
      select.hidden = false;
      select.addEventListener("change", function () { load(box, select.value); });
    }
    select.value = String(data.workspace.id);
    box.querySelector(".cdp-dashboard-figures").textContent =
      plural(data.events, "event", "events") + ", " +
      plural(data.newPeople, "new person", "new people") + ", " +
      plural(data.activeFlows.length, "active flow", "active flows");
    A.chart(document.getElementById("cdp-dashboard-chart"), "line",
            data.days.map(function (day) { return day.slice(5); }),
            [{label: "events", data: data.eventsPerDay},
             {label: "new people", data: data.newPeoplePerDay}]);
    A.table(document.getElementById("cdp-dashboard-top"), ["Event", "Events"],
            data.topDefinitions.map(function (d) { return [d.event, d.events]; }));
    A.table(document.getElementById("cdp-dashboard-flows"),
            ["Flow", "Entered", "In progress", "Finished", "Exited"],
            data.activeFlows.map(function (f) {
              return [f.name, f.entered, f.live, f.finished, f.exited];
            }));
    var insights = document.getElementById("cdp-dashboard-insights");
    if (insights && window.cdpInsights) { window.cdpInsights.draw(insights, data.workspace.id); }
  }

  function load(box, workspace) {
    var url = box.getAttribute("data-url") + (workspace ? "?workspace=" + workspace : "");
    window.cdpAnalytics.request(url).then(function (data) { show(box, data); })
      .catch(function (error) {
        box.querySelector(".cdp-dashboard-figures").textContent =
          "The figures could not be read: " + error.message;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("cdp-dashboard");
    if (box) { load(box, ""); }
  });
})();
