/* The analytics page: three tabs (event segmentation, funnel, retention), each a form built
   from the catalogue in #cdp-analytics-config that posts the API's JSON query to the admin
   endpoint and draws the answer as a chart and a table (analytics_charts.js), with a CSV
   download of the table. A click on a number (a table cell, a bar or a point) lists the people
   behind it in #cdp-people, from where they can be saved as a static segment.

   For other pages and scripts, window.cdpAnalytics gains:
   - currentQuery(): {kind: "segmentation" | "funnel" | "retention", query: the body the current
     tab would POST to the API}, or null when the form is not complete;
   - load({kind, query}): fill that tab's form from such an object, show it and run it (a
     promise of the answer). */
(function () {
  "use strict";

  var A, config, catalogue, byCode = {}, tabs = {}, current = "segmentation";
  var KIND_OF_TAB = {"cdp-segmentation": "segmentation", "cdp-funnel": "funnel",
                     "cdp-retention": "retention"};

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

  function definitionChoices() {
    return catalogue.definitions.map(function (d) { return [d.id, d.name + " (" + d.id + ")"]; });
  }

  function url(key) { return config.urls[key] + "?workspace=" + catalogue.workspace.id; }

  function code(selection) { return typeof selection === "string" ? selection : selection.event; }

  // Pickers, dates and segments shared by the forms -----------------------------------------

  /* A text filter over a select's options (the .cdp-filter next to it): options not matching
     every typed word are hidden; a single select moves to the first match. */
  function searchable(select) {
    var filter = select.parentNode.querySelector(".cdp-filter");
    if (!filter) {
      filter = document.createElement("input");
      filter.type = "search";
      filter.className = "cdp-filter";
      filter.placeholder = "Search events…";
      filter.setAttribute("aria-label", "Search events");
      select.parentNode.insertBefore(filter, select);
    }
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean), first = null;
      Array.prototype.forEach.call(select.options, function (o) {
        var text = o.textContent.toLowerCase();
        o.hidden = !words.every(function (w) { return text.indexOf(w) !== -1; });
        if (!o.hidden && !first) { first = o; }
      });
      var chosen = select.options[select.selectedIndex];
      if (!select.multiple && first && (!chosen || chosen.hidden)) {
        select.value = first.value;
        select.dispatchEvent(new Event("change"));
      }
    });
    return filter;
  }

  /* A multiple select where a click chooses or unchooses one option (no Ctrl/⌘ needed), with
     the chosen ones named in .cdp-chosen. */
  function clickToChoose(select) {
    var named = select.parentNode.querySelector(".cdp-chosen");
    function name() {
      var chosen = Array.prototype.filter.call(select.options, function (o) { return o.selected; });
      named.textContent = chosen.length ? "Chosen: " + chosen.map(function (o) { return o.value; })
        .join(", ") : "Nothing chosen";
    }
    select.addEventListener("mousedown", function (event) {
      if (event.target.tagName !== "OPTION") { return; }
      event.preventDefault();
      event.target.selected = !event.target.selected;
      select.focus();
      select.dispatchEvent(new Event("change"));
    });
    select.addEventListener("change", name);
    return name;
  }

  /* From/to inputs with presets: the last 7, 30 or 90 days (today included) or this month. */
  function range(box) {
    var from = box.querySelector(".cdp-from"), to = box.querySelector(".cdp-to");
    function last(days) {
      var today = new Date();
      to.value = isoDate(today);
      from.value = isoDate(new Date(today.getTime() - (days - 1) * 864e5));
    }
    box.querySelectorAll(".cdp-preset").forEach(function (preset) {
      preset.addEventListener("click", function () {
        if (preset.getAttribute("data-month")) {
          var today = isoDate(new Date());
          from.value = today.slice(0, 8) + "01";
          to.value = today;
        } else {
          last(Number(preset.getAttribute("data-days")));
        }
      });
    });
    last(30);
  }

  function segments(box) {
    fill(box.querySelector(".cdp-segment"), catalogue.segments.map(function (s) {
      return [String(s.id), s.name + (s.kind === "static" ? " (static)" : "")];
    }), 1);
  }

  /* The range and segment of a body; an Error when a date is missing. */
  function common(box, body) {
    body.from = box.querySelector(".cdp-from").value;
    body.to = box.querySelector(".cdp-to").value;
    if (!body.from || !body.to) { throw new Error("Choose a start and an end date (or a preset)."); }
    var segment = box.querySelector(".cdp-segment").value;
    if (segment) { body.segment = Number(segment); }
    return body;
  }

  function loadCommon(box, query) {
    if (query.from) { box.querySelector(".cdp-from").value = String(query.from).slice(0, 10); }
    if (query.to) { box.querySelector(".cdp-to").value = String(query.to).slice(0, 10); }
    box.querySelector(".cdp-segment").value = query.segment ? String(query.segment) : "";
  }

  /* Run a query: show progress and errors in the box, hand the answer to draw(). */
  function run(box, kind, body, draw) {
    var message = box.querySelector(".cdp-analytics-message");
    message.textContent = "Running…";
    message.className = "cdp-analytics-message";
    return A.request(url(kind), body).then(function (answer) {
      message.textContent = "";
      box.querySelector(".cdp-chart-box").hidden = false;
      box.querySelector(".cdp-hint").hidden = false;
      draw(answer);
      var csv = box.querySelector(".cdp-csv");
      csv.hidden = false;
      csv.onclick = function () {
        var form = document.getElementById("cdp-csv-form");
        form.elements.kind.value = kind;
        form.elements.query.value = JSON.stringify(body);
        form.submit();
      };
      return answer;
    }).catch(function (error) {
      message.textContent = error.message;
      message.className = "cdp-analytics-message cdp-analytics-error";
    });
  }

  /* The Run button of a tab: the body, or the reason it cannot be sent, shown in the box. */
  function runTab(tab) {
    var body;
    try {
      body = tab.body();
    } catch (error) {
      var message = tab.box.querySelector(".cdp-analytics-message");
      message.textContent = error.message;
      message.className = "cdp-analytics-message cdp-analytics-error";
      return Promise.resolve(null);
    }
    return tab.run(body);
  }

  function drillNumber(value, drill, title, text, shade) {
    return {value: value, text: text, title: title, drill: drill, shade: shade};
  }

  /* Open a chart's clicked element: (dataset, index) of the nearest one. */
  function chartClick(open) {
    return {
      onClick: function (event, elements, chart) {
        var near = chart.getElementsAtEventForMode(event, "nearest", {intersect: true}, false);
        var hit = near[0] || elements[0];
        if (hit) { open(hit.datasetIndex, hit.index); }
      },
      onHover: function (event, elements) {
        event.native.target.style.cursor = elements.length ? "pointer" : "default";
      }
    };
  }

  // The people behind a number -------------------------------------------------------------

  var people = {kind: null, body: null, offset: 0};

  function peopleMessage(text, error) {
    var message = document.querySelector("#cdp-people .cdp-people-message");
    message.textContent = text;
    message.className = "cdp-analytics-message cdp-people-message" +
      (error ? " cdp-analytics-error" : "");
    return message;
  }

  function peoplePage() {
    var panel = document.getElementById("cdp-people");
    var body = Object.assign({}, people.body, {limit: 100, offset: people.offset});
    return A.request(url(people.kind + "People"), body).then(function (answer) {
      var count = panel.querySelector(".cdp-people-count");
      count.textContent = answer.count + (answer.count === 1 ? " person" : " people");
      count.setAttribute("data-count", String(answer.count));
      var list = panel.querySelector(".cdp-people-list");
      answer.results.forEach(function (person) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = person.url;
        link.className = "cdp-person";
        link.textContent = person.name;
        item.appendChild(link);
        if (person.externalId && person.externalId !== person.name) {
          item.appendChild(document.createTextNode(" (" + person.externalId + ")"));
        }
        list.appendChild(item);
      });
      people.offset += answer.results.length;
      panel.querySelector(".cdp-people-more").hidden = people.offset >= answer.count;
      return answer;
    }).catch(function (error) { peopleMessage(error.message, true); });
  }

  /* Show the people behind a number: kind is funnels, segmentation or retention; body the
     API's people request; title says which number. */
  function openPeople(kind, body, title) {
    var panel = document.getElementById("cdp-people");
    people = {kind: kind, body: body, offset: 0};
    panel.hidden = false;
    panel.querySelector(".cdp-people-title").textContent = "People: " + title;
    panel.querySelector(".cdp-people-count").textContent = "Loading…";
    panel.querySelector(".cdp-people-count").removeAttribute("data-count");
    panel.querySelector(".cdp-people-list").textContent = "";
    var name = panel.querySelector(".cdp-segment-name");
    if (name) { name.value = title.slice(0, 200); }
    peopleMessage("");
    panel.scrollIntoView({block: "start"});
    return peoplePage();
  }

  function peoplePanel() {
    var panel = document.getElementById("cdp-people");
    panel.querySelector(".cdp-people-more").addEventListener("click", peoplePage);
    var save = panel.querySelector(".cdp-save-segment");
    if (!save) { return; }
    save.addEventListener("click", function () {
      var name = panel.querySelector(".cdp-segment-name").value.trim();
      if (!name) { peopleMessage("Give the segment a name.", true); return; }
      peopleMessage("Saving…");
      A.request(url("saveSegment"), {kind: people.kind, query: people.body, name: name})
        .then(function (answer) {
          var message = peopleMessage("Saved the static segment ");
          var link = document.createElement("a");
          link.href = answer.segment.url;
          link.className = "cdp-saved-segment";
          link.textContent = answer.segment.name;
          message.appendChild(link);
          message.appendChild(document.createTextNode(" with " + answer.segment.members +
            (answer.segment.members === 1 ? " person." : " people.")));
          catalogue.segments.push({id: answer.segment.id, name: answer.segment.name,
                                   kind: "static"});
          Object.keys(tabs).forEach(function (k) {
            var select = tabs[k].box.querySelector(".cdp-segment"), value = select.value;
            segments(tabs[k].box);
            select.value = value;
          });
        }).catch(function (error) { peopleMessage(error.message, true); });
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
    var last = null, lastBody = null;
    fill(events, definitionChoices());
    if (events.options.length) { events.options[0].selected = true; }
    searchable(events);
    var name = clickToChoose(events);
    range(box);
    segments(box);

    function chosen() {
      return Array.prototype.filter.call(events.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
    }

    function properties() {
      var keys = {};
      chosen().forEach(function (c) {
        byCode[c].properties.forEach(function (p) { keys[p.key] = p.name; });
      });
      var before = breakdown.value;
      fill(breakdown, Object.keys(keys).sort().map(function (k) { return [k, keys[k]]; }), 1);
      breakdown.value = keys[before] !== undefined ? before : "";
    }

    function drill(series, bucket) {
      var s = last.series[series];
      openPeople("segmentation", Object.assign({}, lastBody, {series: series, bucket: bucket}),
                 s.label + ", " + bucketLabel(last.buckets[bucket], last.interval));
    }

    function draw() {
      if (!last) { return; }
      var labels = last.buckets.map(function (b) { return bucketLabel(b, last.interval); });
      var which = measure.value;
      A.chart(document.getElementById("cdp-segmentation-chart"), "line", labels,
              last.series.map(function (s) { return {label: s.label, data: s[which]}; }),
              chartClick(drill));
      var header = ["Bucket"];
      last.series.forEach(function (s) { header.push(s.label + ": events", s.label + ": people"); });
      var rows = labels.map(function (label, i) {
        var row = [label];
        last.series.forEach(function (s, j) {
          row.push(s.events[i], drillNumber(s.people[i], function () { drill(j, i); },
                                            "See these people"));
        });
        return row;
      });
      A.table(box.querySelector(".cdp-table-box"), header, rows);
    }

    events.addEventListener("change", properties);
    measure.addEventListener("change", draw);
    properties();
    name();

    var tab = {
      box: box,
      body: function () {
        var codes = chosen();
        if (!codes.length) { throw new Error("Choose at least one event to count."); }
        var body = {events: codes, interval: box.querySelector(".cdp-interval").value};
        if (breakdown.value) {
          body.breakdown = {property: breakdown.value,
                            limit: Number(box.querySelector(".cdp-limit").value) || 10};
        }
        return common(box, body);
      },
      run: function (body) {
        return run(box, "segmentation", body, function (answer) {
          last = answer;
          lastBody = body;
          draw();
        });
      },
      load: function (query) {
        var codes = (query.events || []).map(code);
        Array.prototype.forEach.call(events.options, function (o) {
          o.selected = codes.indexOf(o.value) !== -1;
        });
        properties();
        name();
        box.querySelector(".cdp-interval").value = query.interval || "day";
        var split = query.breakdown;
        breakdown.value = split ? (typeof split === "string" ? split : split.property) : "";
        box.querySelector(".cdp-limit").value = split && split.limit ? split.limit : 10;
        loadCommon(box, query);
      }
    };
    box.querySelector(".cdp-run").addEventListener("click", function () { runTab(tab); });
    return tab;
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

  function conditionRow(step, list, condition) {
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
    if (condition) { property.value = condition.property; }
    operators();
    if (condition) {
      operator.value = condition.operator;
      toggle();
      var given = condition.value;
      value.value = given === undefined || given === null ? "" :
        Array.isArray(given) ? given.join(", ") : String(given);
    }
    list.appendChild(row);
    return row;
  }

  function stepItem(list, selection, renumber) {
    var item = document.createElement("li");
    item.className = "cdp-step";
    var picker = document.createElement("span");
    picker.className = "cdp-picker cdp-step-picker";
    var select = document.createElement("select");
    select.className = "cdp-step-event";
    select.setAttribute("aria-label", "Step event");
    fill(select, definitionChoices());
    if (selection && byCode[code(selection)]) { select.value = code(selection); }
    picker.appendChild(select);
    searchable(select);
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
    [picker, add, remove, conditions].forEach(function (n) { item.appendChild(n); });
    list.appendChild(item);
    if (selection && typeof selection === "object" && selection.where) {
      selection.where.forEach(function (c) { conditionRow(item, conditions, c); });
    }
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
    var chosen = item.querySelector(".cdp-step-event").value;
    if (!chosen) { throw new Error("Choose an event for every step."); }
    return where.length ? {event: chosen, where: where} : chosen;
  }

  function funnel() {
    var box = document.getElementById("cdp-funnel");
    var list = box.querySelector(".cdp-steps");
    var template = box.querySelector(".cdp-template");
    var addStep = box.querySelector(".cdp-add-step");
    range(box);
    segments(box);
    fill(template, catalogue.funnelTemplates.map(function (t) { return [t.key, t.name]; }), 1);

    function renumber() { addStep.disabled = list.children.length >= 10; }

    function load(steps, conversion) {
      list.textContent = "";
      steps.forEach(function (selection) { stepItem(list, selection, renumber); });
      conversion = conversion || {days: 7};
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

    function draw(answer, body) {
      function drill(step, outcome) {
        var s = answer.steps[step - 1];
        openPeople("funnels", Object.assign({}, body, {step: step, outcome: outcome}),
                   "step " + step + " " + s.label + (outcome === "dropped" ? ", dropped off" :
                                                       ", converted"));
      }
      var labels = answer.steps.map(function (s) { return s.step + ". " + s.label; });
      A.chart(document.getElementById("cdp-funnel-chart"), "bar", labels,
              [{label: "people", data: answer.steps.map(function (s) { return s.people; })}],
              chartClick(function (dataset, index) { drill(index + 1, "converted"); }));
      A.table(box.querySelector(".cdp-table-box"),
              ["Step", "Event", "People", "Dropped off", "From previous", "From first",
               "Median time from previous"],
              answer.steps.map(function (s, i) {
                var dropped = i ? answer.steps[i - 1].people - s.people : null;
                return [
                  s.step, s.label,
                  drillNumber(s.people, function () { drill(s.step, "converted"); },
                              "See the people who reached this step"),
                  i ? drillNumber(dropped, function () { drill(s.step, "dropped"); },
                                  "See the people who reached the step before, not this one")
                    : null,
                  A.percent(s.conversionFromPrevious), A.percent(s.conversionFromFirst),
                  A.duration(s.medianSecondsFromPrevious)
                ];
              }));
    }

    var tab = {
      box: box,
      body: function () {
        var conversion = {};
        var amount = Number(box.querySelector(".cdp-window-amount").value);
        if (!amount) { throw new Error("Give the conversion window a length."); }
        conversion[box.querySelector(".cdp-window-unit").value] = amount;
        if (list.children.length < 2) { throw new Error("A funnel has at least two steps."); }
        return common(box, {steps: Array.prototype.map.call(list.children, stepJson),
                            conversionWindow: conversion});
      },
      run: function (body) {
        return run(box, "funnels", body, function (answer) { draw(answer, body); });
      },
      load: function (query) {
        load(query.steps || [], query.conversionWindow);
        template.value = "";
        loadCommon(box, query);
      }
    };
    box.querySelector(".cdp-run").addEventListener("click", function () { runTab(tab); });
    return tab;
  }

  // Retention --------------------------------------------------------------------------------

  function retention() {
    var box = document.getElementById("cdp-retention");
    var cohortEvent = box.querySelector(".cdp-cohort-event");
    var returnEvent = box.querySelector(".cdp-return-event");
    [cohortEvent, returnEvent].forEach(function (select) {
      fill(select, definitionChoices());
      searchable(select);
    });
    range(box);
    segments(box);

    function draw(answer, body) {
      var unit = answer.interval === "week" ? "Week " : "Day ";
      var periods = [];
      for (var p = 0; p <= answer.periods; p++) { periods.push(p); }
      function drill(cohort, period) {
        var start = bucketLabel(answer.cohorts[cohort].start, answer.interval);
        openPeople("retention", Object.assign({}, body, {cohort: cohort, period: period}),
                   "cohort " + start + (period === null ? "" : ", " + unit.toLowerCase() +
                                        period));
      }
      var total = 0, back = periods.map(function () { return 0; });
      answer.cohorts.forEach(function (c) {
        total += c.people;
        c.returned.forEach(function (n, i) { back[i] += n; });
      });
      A.chart(document.getElementById("cdp-retention-chart"), "line",
              periods.map(function (p) { return unit + p; }),
              [{label: "returned, all cohorts (%)", data: back.map(function (n) {
                return total ? Math.round(n / total * 1000) / 10 : 0;
              })}],
              {scales: {y: {beginAtZero: true, max: 100, ticks: {callback: function (v) {
                return v + " %";
              }}}}});
      A.table(box.querySelector(".cdp-table-box"),
              ["Cohort", "People"].concat(periods.map(function (p) { return unit + p; })),
              answer.cohorts.map(function (c, i) {
                return [bucketLabel(c.start, answer.interval),
                        drillNumber(c.people, function () { drill(i, null); },
                                    "See everyone in this cohort")]
                  .concat(c.returned.map(function (n, p) {
                    var share = c.people ? " (" + A.percent(n / c.people) + ")" : "";
                    return drillNumber(n, function () { drill(i, p); },
                                       "See the people of this cohort who came back then",
                                       n + share, c.people ? n / c.people : 0);
                  }));
              }), "cdp-retention-table");
    }

    var tab = {
      box: box,
      body: function () {
        if (!cohortEvent.value || !returnEvent.value) {
          throw new Error("Choose the event that starts a cohort and the one they come back to do.");
        }
        var periods = Number(box.querySelector(".cdp-periods").value);
        if (!periods) { throw new Error("Give the number of periods (1 to 60)."); }
        return common(box, {cohortEvent: cohortEvent.value, returnEvent: returnEvent.value,
                            interval: box.querySelector(".cdp-interval").value,
                            periods: periods});
      },
      run: function (body) {
        return run(box, "retention", body, function (answer) { draw(answer, body); });
      },
      load: function (query) {
        if (query.cohortEvent) { cohortEvent.value = code(query.cohortEvent); }
        if (query.returnEvent) { returnEvent.value = code(query.returnEvent); }
        box.querySelector(".cdp-interval").value = query.interval || "day";
        box.querySelector(".cdp-periods").value = query.periods || 7;
        loadCommon(box, query);
      }
    };
    box.querySelector(".cdp-run").addEventListener("click", function () { runTab(tab); });
    return tab;
  }

  // Tabs and the page's functions ------------------------------------------------------------

  function show(kind) {
    current = kind;
    document.querySelectorAll(".cdp-tab").forEach(function (tab) {
      var mine = KIND_OF_TAB[tab.getAttribute("data-tab")] === kind;
      tab.setAttribute("aria-selected", mine ? "true" : "false");
      document.getElementById(tab.getAttribute("data-tab")).hidden = !mine;
    });
  }

  function currentQuery() {
    try {
      return {kind: current, query: tabs[current].body()};
    } catch (error) {
      return null;
    }
  }

  function load(insight) {
    var tab = tabs[insight && insight.kind];
    if (!tab) { return Promise.reject(new Error("kind is segmentation, funnel or retention")); }
    show(insight.kind);
    tab.load(insight.query || {});
    return runTab(tab);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("cdp-analytics-config");
    if (!element) { return; }
    A = window.cdpAnalytics;
    config = JSON.parse(element.textContent);
    catalogue = config.catalogue;
    catalogue.definitions.forEach(function (d) { byCode[d.id] = d; });
    document.querySelectorAll(".cdp-tab").forEach(function (tab) {
      tab.addEventListener("click", function () { show(KIND_OF_TAB[tab.getAttribute("data-tab")]); });
    });
    if (!catalogue.definitions.length) {
      var message = document.querySelector(".cdp-analytics-page-message");
      message.textContent = "This workspace has no enabled event definitions yet: add or enable " +
        "some under Events › Event definitions to analyse their events.";
      message.className = "cdp-analytics-message cdp-analytics-page-message cdp-analytics-error";
      return;
    }
    tabs.segmentation = segmentation();
    tabs.funnel = funnel();
    tabs.retention = retention();
    peoplePanel();
    A.currentQuery = currentQuery;
    A.load = load;
  });
})();
