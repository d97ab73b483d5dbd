/* The pinned insights on the admin index's dashboard: each pinned funnel (bars, people per
   step), segmentation (a line per series) or other kind (a table) of the dashboard's
   workspace, answered now by the saved insights API's result endpoint; each name opens the
   insight on the analytics page. analytics_dashboard.js calls window.cdpInsights.draw once it
   knows the workspace. Drawing uses window.cdpAnalytics (analytics_charts.js). */
(function () {
  "use strict";

  function plural(count, one, many) {
    return count.toLocaleString() + " " + (count === 1 ? one : many);
  }

  function funnel(A, canvas, result) {
    A.chart(canvas, "bar", result.steps.map(function (s) { return s.step + ". " + s.label; }),
            [{label: "people", data: result.steps.map(function (s) { return s.people; })}]);
    return result.steps.length ? plural(result.steps[result.steps.length - 1].people,
                                        "person", "people") + " converted" : "";
  }

  function segmentation(A, canvas, result) {
    var short = result.interval === "hour" ? 16 : 10;
    A.chart(canvas, "line",
            result.buckets.map(function (b) { return b.slice(5, short).replace("T", " "); }),
            result.series.map(function (s) { return {label: s.label, data: s.events}; }));
    var total = result.series.reduce(function (sum, s) { return sum + s.totalEvents; }, 0);
    return plural(total, "event", "events");
  }

  /* Kinds registered elsewhere (retention…) may add a drawing: cdpInsights.renderers[kind]. */
  var renderers = {funnel: funnel, segmentation: segmentation};

  function card(list, insight, openUrl) {
    var box = document.createElement("div");
    box.className = "cdp-insight-card";
    box.setAttribute("data-insight", insight.id);
    var title = document.createElement("h3");
    var link = document.createElement("a");
    link.href = openUrl + "?workspace=" + insight.workspace + "&insight=" + insight.id;
    link.textContent = insight.name;
    title.appendChild(link);
    title.appendChild(document.createTextNode(" (" + insight.kind + ")"));
    var status = document.createElement("p");
    status.className = "cdp-insight-status";
    status.setAttribute("role", "status");
    status.textContent = "Loading…";
    var chartBox = document.createElement("div");
    chartBox.className = "cdp-chart-box cdp-chart-small";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", insight.name);
    chartBox.appendChild(canvas);
    box.appendChild(title);
    box.appendChild(status);
    box.appendChild(chartBox);
    list.appendChild(box);
    return {box: box, status: status, canvas: canvas, chartBox: chartBox};
  }

  function drawOne(A, parts, insight, url) {
    return A.request(url + "/" + insight.id + "/result").then(function (result) {
      var draw = renderers[insight.kind];
      if (draw) {
        parts.status.textContent = draw(A, parts.canvas, result) || "";
      } else {
        parts.chartBox.hidden = true;
        parts.status.textContent = "Open it to see the answer.";
      }
      parts.box.setAttribute("data-drawn", "true");
    }).catch(function (error) {
      parts.chartBox.hidden = true;
      parts.status.textContent = "Could not be answered: " + error.message;
    });
  }

  /* Draw the pinned insights of a workspace into the container (data-url: the API's list,
     data-open-url: the analytics page). */
  function draw(container, workspaceId) {
    var A = window.cdpAnalytics;
    var url = container.getAttribute("data-url");
    var openUrl = container.getAttribute("data-open-url");
    var list = container.querySelector(".cdp-insight-list");
    var status = container.querySelector(".cdp-insight-summary");
    A.request(url + "?pinned=true&workspace=" + encodeURIComponent(workspaceId))
      .then(function (insights) {
        list.textContent = "";
        status.textContent = insights.length ? plural(insights.length, "pinned insight",
                                                      "pinned insights")
          : "No pinned insights: pin one under Saved insights, or save one on the analytics page.";
        // One after the other: each answer is an analytics query of its own.
        insights.reduce(function (previous, insight) {
          var parts = card(list, insight, openUrl);
          return previous.then(function () { return drawOne(A, parts, insight, url); });
        }, Promise.resolve());
      })
      .catch(function (error) {
        status.textContent = "The pinned insights could not be read: " + error.message;
      });
  }

  window.cdpInsights = {draw: draw, renderers: renderers, plural: plural};
})();
