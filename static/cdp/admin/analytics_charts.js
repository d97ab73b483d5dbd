/* Charts and tables of the analytics page and the admin index's dashboard, drawn with the
   vendored Chart.js (static/cdp/vendor/chart.umd.min.js). Exposes window.cdpAnalytics. */
(function () {
  "use strict";

  var PALETTE = ["#417690", "#e07b39", "#5a9e4b", "#b8473e", "#8a6bb8", "#c9a227", "#3b9fa8",
                 "#d16a9f", "#6f7c85", "#9c6b3f", "#2f5d8a", "#7fa33a"];

  function color(i) { return PALETTE[i % PALETTE.length]; }

  /* Draw (or redraw) a line or bar chart on a canvas: labels along x, one dataset per
     {label, data}. */
  function chart(canvas, type, labels, datasets, options) {
    var previous = window.Chart.getChart(canvas);
    if (previous) { previous.destroy(); }
    return new window.Chart(canvas, {
      type: type,
      data: {
        labels: labels,
        datasets: datasets.map(function (set, i) {
          return {label: set.label, data: set.data, borderColor: color(i),
                  backgroundColor: type === "bar" ? color(i) : color(i) + "33",
                  fill: false, tension: 0.2, pointRadius: labels.length > 60 ? 0 : 2};
        })
      },
      options: Object.assign({
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: {mode: "index", intersect: false},
        scales: {y: {beginAtZero: true, ticks: {precision: 0}}},
        plugins: {legend: {display: datasets.length > 1, position: "bottom"}}
      }, options || {})
    });
  }

  function cell(tag, text, className) {
    var node = document.createElement(tag);
    node.textContent = text;
    if (className) { node.className = className; }
    return node;
  }

  /* A number that opens the people behind it: {value, text, drill: function, title, shade}
     (shade, 0 to 1: how strongly the cell is tinted, as in a heat map). */
  function drillCell(value) {
    var td = cell("td", "", "cdp-number");
    if (value.shade) {
      td.style.backgroundColor = "rgba(65, 118, 144, " + (value.shade * 0.55).toFixed(3) + ")";
    }
    var link = document.createElement("button");
    link.type = "button";
    link.className = "cdp-drill";
    link.textContent = value.text !== undefined ? value.text : String(value.value);
    link.title = value.title || "See these people";
    link.setAttribute("data-count", String(value.value));
    link.addEventListener("click", value.drill);
    td.appendChild(link);
    return td;
  }

  /* Fill a container with a table: a header row and rows of cells (numbers right-aligned; a
     cell given as {value, drill} is a button opening the people behind it). */
  function table(container, header, rows, className) {
    var element = document.createElement("table");
    element.className = "cdp-analytics-table" + (className ? " " + className : "");
    var head = element.createTHead().insertRow();
    header.forEach(function (text) { head.appendChild(cell("th", text)); });
    var body = element.createTBody();
    rows.forEach(function (values) {
      var row = body.insertRow();
      values.forEach(function (value) {
        if (value && typeof value === "object" && value.drill) {
          row.appendChild(drillCell(value));
          return;
        }
        row.appendChild(cell("td", value === null || value === undefined ? "–" : String(value),
                             typeof value === "number" ? "cdp-number" : ""));
      });
    });
    container.textContent = "";
    container.appendChild(rows.length ? element : cell("p", "None.", "cdp-empty"));
    return element;
  }

  function percent(value) {
    return value === null || value === undefined ? null : (value * 100).toFixed(1) + " %";
  }

  /* "2 d 3 h", "4 h 5 min", "6 min 7 s", "8.5 s". */
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return null; }
    var units = [["d", 86400], ["h", 3600], ["min", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var big = Math.floor(seconds / units[i][1]);
        var rest = seconds - big * units[i][1];
        var next = i + 1 < units.length ? units[i + 1] : ["s", 1];
        var small = Math.floor(rest / next[1]);
        return big + " " + units[i][0] + (small ? " " + small + " " + next[0] : "");
      }
    }
    return (Math.round(seconds * 10) / 10) + " s";
  }

  function csrfToken() {
    var input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* Fetch JSON (POST when a body is given); reject with the answer's error message. */
  function request(url, body) {
    var init = {credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      init.method = "POST";
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

  window.cdpAnalytics = {chart: chart, table: table, percent: percent, duration: duration,
                         request: request};
})();
