/* The analytics page: a segmentation form and a funnel form built from the catalogue in
   #cdp-analytics-config, each posting the API's JSON query to the admin endpoint and drawing
   the answer as a chart and a table (analytics_charts.js), with a CSV download of the table. */
(function () {
  "use strict";

  var A, config, catalogue, byCode = {};

  function option(value, label) {
    var node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    return node;
  }

  function fill(select, items, keep) {
    while (select.options.length > (keep || 0)) { select.remove(keep || 0); }
    items.forEach(function (item) { select.appendChild(option(item[0], item[1])); });
  }

  function button(className, text) {
    var node = document.createElement("button");
    node.type = "button";
    node.className = "button " + className;
    node.textContent = text;
    return node;
  }

  function isoDate(date) { return date.toISOString().slice(0, 10); }

  function initRange(box) {
    var today = new Date();
    box.querySelector(".cdp-to").value = isoDate(today);
    box.querySelector(".cdp-from").value = isoDate(new Date(today.getTime() - 29 * 864e5));
  }

  function definitionChoices() {
    return catalogue.definitions.map(function (d) { return [d.id, d.name + " (" + d.id + ")"]; });
  }

  function common(box, body) {
    body.from = box.querySelector(".cdp-from").value;
    body.to = box.querySelector(".cdp-to").value;
    var segment = box.querySelector(".cdp-segment").value;
    if (segment) { body.segment = Number(segment); }
    return body;
  }

  function url(kind) { return config.urls[kind] + "?workspace=" + catalogue.workspace.id; }

  /* Run a query: show progress and errors in the box, hand the answer to draw(). */
  function run(box, kind, body, draw) {
    var message = box.querySelector(".cdp-analytics-message");
    message.textContent = "Running…";
    message.className = "cdp-analytics-message";
    A.request(url(kind), body).then(function (answer) {
      message.textContent = "";
      box.querySelector(".cdp-chart-box").hidden = false;
      draw(answer);
      var csv = box.querySelector(".cdp-csv");
      csv.hidden = false;
      csv.onclick = function () {
        var form = document.getElementById("cdp-csv-form");
        form.elements.kind.value = kind;
        form.elements.query.value = JSON.stringify(body);
        form.submit();
      };
    }).catch(function (error) {
      message.textContent = error.message;
      message.className = "cdp-analytics-message cdp-analytics-error";
    });
  }

  // Event segmentation ---------------------------------------------------------------------

  function bucketLabel(iso, interval) {
    if (interval === "hour") { return iso.slice(0, 13).replace("T", " ") + ":00"; }
    return (interval === "week" ? "week of " : "") + iso.slice(0, 10);
  }

  function segmentation() {
    var box = document.getElementById("cdp-segmentation");
    var events = box.querySelector(".cdp-events");
    var breakdown = box.querySelector(".cdp-breakdown");
    var measure = box.querySelector(".cdp-measure");
    var last = null;
    fill(events, definitionChoices());
    if (events.options.length) { events.options[0].selected = true; }
    initRange(box);

    function chosen() {
      return Array.prototype.filter.call(events.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
    }

    function properties() {
      var keys = {};
      chosen().forEach(function (code) {
        byCode[code].properties.forEach(function (p) { keys[p.key] = p.name; });
      });
      var current = breakdown.value;
      fill(breakdown, Object.keys(keys).sort().map(function (k) { return [k, keys[k]]; }), 1);
      breakdown.value = keys[current] !== undefined ? current : "";
    }

    function draw() {
      if (!last) { return; }
      var labels = last.buckets.map(function (b) { return bucketLabel(b, last.interval); });
      var which = measure.value;
      A.chart(document.getElementById("cdp-segmentation-chart"), "line", labels,
              last.series.map(function (s) { return {label: s.label, data: s[which]}; }));
      var header = ["Bucket"];
      last.series.forEach(function (s) { header.push(s.label + ": events", s.label + ": people"); });
      var rows = labels.map(function (label, i) {
        var row = [label];
        last.series.forEach(function (s) { row.push(s.events[i], s.people[i]); });
        return row;
      });
      A.table(box.querySelector(".cdp-table-box"), header, rows);
    }

    events.addEventListener("change", properties);
    measure.addEventListener("change", draw);
    properties();
    box.querySelector(".cdp-run").addEventListener("click", function () {
      var body = common(box, {events: chosen(), interval: box.querySelector(".cdp-interval").value});
      if (breakdown.value) {
        body.breakdown = {property: breakdown.value,
                          limit: Number(box.querySelector(".cdp-limit").value) || 10};
      }
      run(box, "segmentation", body, function (answer) { last = answer; draw(); });
    });
  }

  // Funnels ----------------------------------------------------------------------------------

  function parseValue(text, type, operator) {
    if (operator === "in" || operator === "between") {
      return text.split(",").map(function (part) { return parseValue(part.trim(), type, ""); });
    }
    if (type === "number") { return text === "" ? text : Number(text); }
    if (type === "boolean") { return text === "true"; }
    return text;
  }

  function conditionRow(step, list) {
    var row = document.createElement("div");
    row.className = "cdp-condition";
    var property = document.createElement("select");
    property.className = "cdp-condition-property";
    var operator = document.createElement("select");
    operator.className = "cdp-condition-operator";
    var value = document.createElement("input");
    value.className = "cdp-condition-value";
    value.placeholder = "value (a, b for lists)";
    var remove = button("cdp-remove", "×");
    var props = byCode[step.querySelector(".cdp-step-event").value].properties;
    fill(property, props.map(function (p) { return [p.key, p.name]; }));

    function operators() {
      var found = props.filter(function (p) { return p.key === property.value; })[0];
      var type = found ? found.type : "text";
      row.setAttribute("data-type", type);
      fill(operator, (catalogue.operators[type] || []).filter(function (o) {
        return o.value !== "within_last_days";
      }).map(function (o) { return [o.value, o.label]; }));
      toggle();
    }

    function toggle() {
      value.hidden = operator.value === "is_set" || operator.value === "is_not_set";
    }

    property.addEventListener("change", operators);
    operator.addEventListener("change", toggle);
    remove.addEventListener("click", function () { row.remove(); });
    [property, operator, value, remove].forEach(function (n) { row.appendChild(n); });
    operators();
    list.appendChild(row);
    return row;
  }

  function stepItem(list, code, renumber) {
    var item = document.createElement("li");
    item.className = "cdp-step";
    var select = document.createElement("select");
    select.className = "cdp-step-event";
    fill(select, definitionChoices());
    if (code) { select.value = code; }
    var conditions = document.createElement("div");
    conditions.className = "cdp-conditions";
    var add = button("cdp-add-condition", "+ property condition");
    var remove = button("cdp-remove", "Remove step");
    select.addEventListener("change", function () { conditions.textContent = ""; });
    add.addEventListener("click", function () {
      if (byCode[select.value].properties.length) { conditionRow(item, conditions); }
    });
    remove.addEventListener("click", function () {
      if (list.children.length > 2) { item.remove(); renumber(); }
    });
    [select, add, remove, conditions].forEach(function (n) { item.appendChild(n); });
    list.appendChild(item);
    renumber();
    return item;
  }

  function stepJson(item) {
    var where = Array.prototype.map.call(item.querySelectorAll(".cdp-condition"), function (row) {
      var operator = row.querySelector(".cdp-condition-operator").value;
      var condition = {property: row.querySelector(".cdp-condition-property").value,
                       operator: operator};
      if (operator !== "is_set" && operator !== "is_not_set") {
        condition.value = parseValue(row.querySelector(".cdp-condition-value").value,
                                     row.getAttribute("data-type"), operator);
      }
      return condition;
    });
    var code = item.querySelector(".cdp-step-event").value;
    return where.length ? {event: code, where: where} : code;
  }

  function funnel() {
    var box = document.getElementById("cdp-funnel");
    var list = box.querySelector(".cdp-steps");
    var template = box.querySelector(".cdp-template");
    var addStep = box.querySelector(".cdp-add-step");
    initRange(box);
    fill(template, catalogue.funnelTemplates.map(function (t) { return [t.key, t.name]; }), 1);

    function renumber() { addStep.disabled = list.children.length >= 10; }

    function load(steps, conversion) {
      list.textContent = "";
      steps.forEach(function (code) { stepItem(list, code, renumber); });
      var unit = Object.keys(conversion)[0];
      box.querySelector(".cdp-window-unit").value = unit;
      box.querySelector(".cdp-window-amount").value = conversion[unit];
    }

    var codes = catalogue.definitions.map(function (d) { return d.id; });
    load([codes[0], codes[1] || codes[0]], {days: 7});
    template.addEventListener("change", function () {
      var chosen = catalogue.funnelTemplates.filter(function (t) { return t.key === template.value; })[0];
      if (chosen) { load(chosen.query.steps, chosen.query.conversionWindow); }
    });
    addStep.addEventListener("click", function () { stepItem(list, codes[0], renumber); });

    box.querySelector(".cdp-run").addEventListener("click", function () {
      var conversion = {};
      conversion[box.querySelector(".cdp-window-unit").value] =
        Number(box.querySelector(".cdp-window-amount").value);
      var body = common(box, {steps: Array.prototype.map.call(list.children, stepJson),
                              conversionWindow: conversion});
      run(box, "funnels", body, function (answer) {
        var labels = answer.steps.map(function (s) { return s.step + ". " + s.label; });
        A.chart(document.getElementById("cdp-funnel-chart"), "bar", labels,
                [{label: "people", data: answer.steps.map(function (s) { return s.people; })}]);
        A.table(box.querySelector(".cdp-table-box"),
                ["Step", "Event", "People", "From previous", "From first",
                 "Median time from previous"],
                answer.steps.map(function (s) {
                  return [s.step, s.label, s.people, A.percent(s.conversionFromPrevious),
                          A.percent(s.conversionFromFirst), A.duration(s.medianSecondsFromPrevious)];
                }));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("cdp-analytics-config");
    if (!element) { return; }
    A = window.cdpAnalytics;
    config = JSON.parse(element.textContent);
    catalogue = config.catalogue;
    catalogue.definitions.forEach(function (d) { byCode[d.id] = d; });
    if (!catalogue.definitions.length) { return; }
    segmentation();
    funnel();
  });
})();
