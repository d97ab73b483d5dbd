/* Flow builder, the element side: the palette of element kinds, the words each box shows, and
   the settings form of each kind (the side panel), with pickers fed by the workspace's
   catalogue (definitions and their typed properties, operators per type, segments,
   attributes, tags). Each form edits the element's config in the JSON format of its kind
   (flows.elements, README "Flows") and tells the builder (flow_builder.js) through
   ctx.changed() while typing and ctx.commit() once a value is changed. */
(function () {
  "use strict";

  // Small DOM helpers ------------------------------------------------------------------------

  function h(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (name) {
      var value = props[name];
      if (value === undefined || value === null) return;
      if (name === "className") node.className = value;
      else if (name === "htmlFor") node.htmlFor = value;
      else if (name === "text") node.textContent = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function select(id, options, value, placeholder) {
    var node = h("select", {id: id});
    if (placeholder !== undefined) node.appendChild(h("option", {value: "", text: placeholder}));
    options.forEach(function (o) {
      node.appendChild(h("option", {value: String(o.value), text: o.label}));
    });
    node.value = value === null || value === undefined ? "" : String(value);
    return node;
  }

  function row(labelText, control, hint) {
    return h("div", {className: "cdp-fb-field"}, [
      h("label", {htmlFor: control.id, text: labelText}), control,
      hint ? h("p", {className: "cdp-hint", text: hint}) : null]);
  }

  // Call apply(); then ctx.changed() while typing, ctx.commit() once changed.
  function bind(control, ctx, apply) {
    control.addEventListener("input", function () { apply(); ctx.changed(); });
    control.addEventListener("change", function () { apply(); ctx.commit(); });
    return control;
  }

  function button(text, className, onClick, id) {
    var node = h("button", {type: "button", className: "button " + className, text: text, id: id});
    node.addEventListener("click", onClick);
    return node;
  }

  function numberOrNull(text) {
    if (String(text).trim() === "") return null;
    var n = Number(text);
    return isNaN(n) ? text : n;
  }

  // The palette --------------------------------------------------------------------------------

  var OUTCOMES = {trigger: ["next"], wait: ["next"], wait_for_event: ["met", "timeout"],
                  branch: ["yes", "no"], action: ["next"], end: []};
  var PALETTE = [
    {id: "trigger_event", group: "Start", label: "Event happens", kind: "trigger", key: "trigger",
     config: function () { return {type: "event", event: ""}; }},
    {id: "trigger_segment", group: "Start", label: "Enters a segment", kind: "trigger",
     key: "trigger", config: function () { return {type: "segment_entry", segment: null}; }},
    {id: "trigger_schedule", group: "Start", label: "On a schedule", kind: "trigger",
     key: "trigger", config: function () { return {type: "schedule", segment: null,
                                                      every: {days: 1}}; }},
    {id: "wait", group: "Wait", label: "Wait", kind: "wait", key: "wait",
     config: function () { return {duration: {days: 1}}; }},
    {id: "wait_for_event", group: "Wait", label: "Wait for an event", kind: "wait_for_event",
     key: "waitevent", config: function () { return {occurred: [{event: ""}], within: {days: 1}}; }},
    {id: "branch", group: "Decide", label: "Branch (yes / no)", kind: "branch", key: "branch",
     config: function () { return {rules: {all: []}}; }},
    {id: "tag_add", group: "Do", label: "Add a tag", kind: "action", key: "tag",
     config: function () { return {action: "tag_add", tag: ""}; }},
    {id: "tag_remove", group: "Do", label: "Remove a tag", kind: "action", key: "untag",
     config: function () { return {action: "tag_remove", tag: ""}; }},
    {id: "attribute_set", group: "Do", label: "Set an attribute", kind: "action", key: "set",
     config: function () { return {action: "attribute_set", attribute: "", value: ""}; }},
    {id: "score_change", group: "Do", label: "Change the score", kind: "action", key: "score",
     config: function () { return {action: "score_change", by: 10}; }},
    {id: "webhook", group: "Do", label: "Call a webhook", kind: "action", key: "webhook",
     config: function () { return {action: "webhook", url: ""}; }},
    {id: "email", group: "Do", label: "Send an email", kind: "action", key: "email",
     config: function () { return {action: "email", to: "person", subject: "", body: ""}; }},
    {id: "event_record", group: "Do", label: "Record an event", kind: "action", key: "record",
     config: function () { return {action: "event_record", event: ""}; }},
    {id: "segment_add", group: "Do", label: "Add to a segment", kind: "action", key: "addseg",
     config: function () { return {action: "segment_add", segment: null}; }},
    {id: "end", group: "End", label: "End", kind: "end", key: "end",
     config: function () { return {}; }}
  ];

  // The palette entry an element belongs to (by kind, trigger type or action).
  function paletteOf(element) {
    var config = element.config || {};
    var id = element.kind;
    if (element.kind === "trigger") {
      id = {event: "trigger_event", segment_entry: "trigger_segment",
            schedule: "trigger_schedule"}[config.type] || "trigger_event";
    } else if (element.kind === "action") {
      id = config.action;
    }
    for (var i = 0; i < PALETTE.length; i++) if (PALETTE[i].id === id) return PALETTE[i];
    return {id: element.kind, label: element.kind, kind: element.kind, key: element.kind};
  }

  // Words -------------------------------------------------------------------------------------

  function durationWords(d) {
    if (!d || typeof d !== "object") return "?";
    var parts = [];
    if (d.days) parts.push(d.days + " d");
    if (d.hours) parts.push(d.hours + " h");
    if (d.minutes) parts.push(d.minutes + " min");
    return parts.join(" ") || "?";
  }

  function segmentName(cat, id) {
    var found = (cat && cat.segments || []).filter(function (s) { return s.id === id; })[0];
    return found ? found.name : (id ? "segment " + id : "?");
  }

  function conditionWords(node) {
    if (!node || typeof node !== "object") return "?";
    var value = node.value === undefined ? "" : " " + JSON.stringify(node.value);
    if (node.attribute || node.customAttribute) {
      return (node.attribute || node.customAttribute) + " " + (node.operator || "") + value;
    }
    if (node.tag !== undefined) return (node.operator === "has_not" ? "has no tag " : "has tag ") + node.tag;
    if (node.segment !== undefined) return (node.operator === "not_member" ? "not in " : "in ") + "segment " + node.segment;
    if (node.event !== undefined) return (node.occurred === false ? "did not do " : "did ") + node.event;
    return JSON.stringify(node);
  }

  function summary(element, cat) {
    var c = element.config || {};
    switch (element.kind) {
      case "trigger":
        if (c.type === "event") return "when " + (c.event || "?") + " happens";
        if (c.type === "segment_entry") return "on entering " + segmentName(cat, c.segment);
        return "members of " + segmentName(cat, c.segment) + " on a schedule";
      case "wait": return "wait " + durationWords(c.duration);
      case "wait_for_event":
        return "until " + ((c.occurred || []).map(function (o) { return o.event || "?"; }).join(", ") || "?") +
          " within " + durationWords(c.within);
      case "branch":
        var group = c.rules && (c.rules.all ? "all" : c.rules.any ? "any" : null);
        var items = group ? c.rules[group] : [];
        return items.length ? items.map(conditionWords).join(group === "all" ? " and " : " or ") :
          (c.trigger && c.trigger.length ? "on the trigger event" : "no condition yet");
      case "action":
        switch (c.action) {
          case "tag_add": return "add tag " + (c.tag || "?");
          case "tag_remove": return "remove tag " + (c.tag || "?");
          case "attribute_set": return "set " + (c.attribute || "?") + " to " + JSON.stringify(c.value);
          case "score_change": return "score " + (c.by > 0 ? "+" : "") + c.by;
          case "webhook": return "POST " + (c.url || "?");
          case "email": return "email " + (c.to || "?") + ": " + (c.subject || "?");
          case "event_record": return "record " + (c.event || "?");
          case "segment_add": return "add to " + segmentName(cat, c.segment);
        }
        return c.action || "?";
      case "end": return "the run ends";
    }
    return "";
  }

  // Pickers -----------------------------------------------------------------------------------

  function definitions(cat, customOnly) {
    return (cat && cat.definitions || []).filter(function (d) {
      return !customOnly || d.id.indexOf("c_") === 0;
    }).map(function (d) {
      return {value: d.id, label: d.name && d.name !== d.id ? d.name + " (" + d.id + ")" : d.id};
    });
  }

  function definitionOf(cat, id) {
    return (cat && cat.definitions || []).filter(function (d) { return d.id === id; })[0];
  }

  function segmentOptions(cat, staticOnly) {
    return (cat && cat.segments || []).filter(function (s) {
      return !staticOnly || s.kind === "static";
    }).map(function (s) { return {value: s.id, label: s.name}; });
  }

  function durationInputs(prefix, duration, ctx, apply) {
    var d = duration || {};
    var wrap = h("div", {className: "cdp-fb-duration"});
    ["days", "hours", "minutes"].forEach(function (unit) {
      var input = h("input", {type: "number", min: "0", id: prefix + "-" + unit, value: d[unit] || ""});
      bind(input, ctx, function () {
        var next = {};
        wrap.querySelectorAll("input").forEach(function (i) {
          var n = parseInt(i.value, 10);
          if (!isNaN(n) && n > 0) next[i.id.slice(prefix.length + 1)] = n;
        });
        apply(next);
      });
      wrap.appendChild(h("label", {className: "cdp-fb-unit"}, [input, " " + unit]));
    });
    return wrap;
  }

  // A value input for a type and operator; read() returns the JSON value.
  function valueInput(id, type, operator, value) {
    if (operator === "is_set" || operator === "is_not_set") {
      return {node: h("span", {className: "cdp-hint", text: ""}), read: function () { return undefined; }};
    }
    if (operator === "between") {
      var pair = Array.isArray(value) ? value : ["", ""];
      var low = h("input", {id: id, value: pair[0] === undefined ? "" : pair[0], size: 8});
      var high = h("input", {id: id + "-to", value: pair[1] === undefined ? "" : pair[1], size: 8});
      return {node: h("span", {}, [low, " and ", high]), read: function () {
        return type === "number" ? [numberOrNull(low.value), numberOrNull(high.value)] : [low.value, high.value];
      }};
    }
    if (operator === "in") {
      var list = h("input", {id: id, value: Array.isArray(value) ? value.join(", ") : "",
                             placeholder: "a, b, c"});
      return {node: list, read: function () {
        return list.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean)
          .map(function (v) { return type === "number" ? numberOrNull(v) : v; });
      }};
    }
    if (type === "boolean") {
      var yesNo = select(id, [{value: "true", label: "true"}, {value: "false", label: "false"}],
                         value === false ? "false" : "true");
      return {node: yesNo, read: function () { return yesNo.value === "true"; }};
    }
    var numeric = type === "number" || operator === "within_last_days";
    var input = h("input", {id: id, type: numeric ? "number" : type === "date" ? "date" : "text",
                            value: value === undefined || value === null ? "" : value});
    return {node: input, read: function () { return numeric ? numberOrNull(input.value) : input.value; }};
  }

  // One "property operator value" row over typed fields ([{key, label, type}]).
  function conditionRow(id, fields, node, keyName, ctx, onRemove) {
    var wrap = h("div", {className: "cdp-fb-condition"});
    function render() {
      wrap.textContent = "";
      var field = fields.filter(function (f) { return f.key === node[keyName]; })[0];
      var picker = select(id + "-field", fields.map(function (f) {
        return {value: f.key, label: f.label + " (" + f.type + ")"};
      }), node[keyName], "— choose —");
      wrap.appendChild(picker);
      picker.addEventListener("change", function () {
        node[keyName] = picker.value;
        var chosen = fields.filter(function (f) { return f.key === picker.value; })[0];
        if (chosen && chosen.apply) chosen.apply(node);
        delete node.value;
        node.operator = chosen ? (ctx.catalogue.operators[chosen.type] || [{}])[0].value : "";
        render();
        ctx.commit();
      });
      if (field) {
        var ops = ctx.catalogue.operators[field.type] || [];
        var operator = select(id + "-operator", ops, node.operator);
        wrap.appendChild(operator);
        var value = valueInput(id + "-value", field.type, node.operator, node.value);
        wrap.appendChild(value.node);
        operator.addEventListener("change", function () {
          node.operator = operator.value;
          var v = valueInput(id + "-value", field.type, node.operator, node.value).read();
          if (v === undefined) delete node.value; else node.value = v;
          render();
          ctx.commit();
        });
        value.node.querySelectorAll("input,select").forEach(function (c) { bind(c, ctx, store); });
        if (value.node.matches("input,select")) bind(value.node, ctx, store);
        function store() {
          var v = value.read();
          if (v === undefined) delete node.value; else node.value = v;
        }
        if (value.read() !== undefined && node.value === undefined) store();
      }
      wrap.appendChild(button("×", "cdp-fb-remove", onRemove, id + "-remove"));
    }
    render();
    return wrap;
  }

  function propertyFields(cat, eventId) {
    var d = definitionOf(cat, eventId);
    return d ? d.properties.map(function (p) { return {key: p.key, label: p.name || p.key, type: p.type}; }) : [];
  }

  // The "where" conditions on an event's properties.
  function whereList(prefix, holder, ctx) {
    var wrap = h("div", {className: "cdp-fb-where"});
    function render() {
      wrap.textContent = "";
      var fields = propertyFields(ctx.catalogue, holder.event);
      (holder.where || []).forEach(function (cond, i) {
        wrap.appendChild(conditionRow(prefix + "-where-" + i, fields, cond, "property", ctx, function () {
          holder.where.splice(i, 1);
          if (!holder.where.length) delete holder.where;
          render();
          ctx.commit();
        }));
      });
      if (fields.length) {
        wrap.appendChild(button("+ property condition", "cdp-fb-add-condition", function () {
          holder.where = holder.where || [];
          holder.where.push({property: "", operator: ""});
          render();
        }, prefix + "-add-where"));
      }
    }
    render();
    return wrap;
  }

  function eventPicker(prefix, holder, ctx, customOnly, after) {
    var picker = select(prefix + "-event", definitions(ctx.catalogue, customOnly), holder.event,
                        "— choose an event —");
    picker.addEventListener("change", function () {
      holder.event = picker.value;
      delete holder.where;
      ctx.commit();
      if (after) after();
    });
    return picker;
  }

  // The forms per kind -------------------------------------------------------------------------

  function triggerForm(el, ctx) {
    var c = el.config;
    var parts = [];
    if (c.type === "event") {
      var where = h("div");
      var renderWhere = function () { where.textContent = ""; where.appendChild(whereList("cdp-fb", c, ctx)); };
      parts.push(row("Event", eventPicker("cdp-fb", c, ctx, false, function () { renderWhere(); })));
      renderWhere();
      parts.push(h("div", {className: "cdp-fb-field"}, [h("span", {className: "cdp-fb-caption", text: "Only when"}), where]));
      return parts;
    }
    var segment = select("cdp-fb-segment", segmentOptions(ctx.catalogue), c.segment, "— choose a segment —");
    bind(segment, ctx, function () { c.segment = segment.value ? Number(segment.value) : null; });
    parts.push(row(c.type === "segment_entry" ? "Segment entered" : "Segment whose members enter", segment));
    if (c.type === "schedule") {
      var mode = c.at !== undefined ? "at" : c.cron !== undefined ? "cron" : "every";
      var modes = select("cdp-fb-schedule", [{value: "every", label: "every …"},
        {value: "at", label: "once, at …"}, {value: "cron", label: "crontab (UTC)"}], mode);
      var detail = h("div");
      var renderDetail = function () {
        detail.textContent = "";
        if (mode === "every") {
          detail.appendChild(row("Every", durationInputs("cdp-fb-every", c.every, ctx, function (d) { c.every = d; })));
        } else if (mode === "at") {
          var at = h("input", {id: "cdp-fb-at", value: c.at || "", placeholder: "2025-01-31T09:00:00Z"});
          bind(at, ctx, function () { c.at = at.value; });
          detail.appendChild(row("At", at));
        } else {
          var cron = h("input", {id: "cdp-fb-cron", value: c.cron || "", placeholder: "0 9 * * 1"});
          bind(cron, ctx, function () { c.cron = cron.value; });
          detail.appendChild(row("Crontab", cron, "minute hour day-of-month month day-of-week"));
        }
      };
      modes.addEventListener("change", function () {
        delete c.at; delete c.every; delete c.cron;
        mode = modes.value;
        c[mode] = mode === "every" ? {days: 1} : "";
        renderDetail();
        ctx.commit();
      });
      renderDetail();
      parts.push(row("When", modes), detail);
    }
    return parts;
  }

  function waitForEventForm(el, ctx) {
    var c = el.config;
    var parts = [];
    ["occurred", "notOccurred"].forEach(function (list) {
      var wrap = h("div", {className: "cdp-fb-list"});
      var render = function () {
        wrap.textContent = "";
        (c[list] || []).forEach(function (item, i) {
          var prefix = "cdp-fb-" + list + "-" + i;
          var where = h("div");
          var renderWhere = function () { where.textContent = ""; where.appendChild(whereList(prefix, item, ctx)); };
          renderWhere();
          wrap.appendChild(h("div", {className: "cdp-fb-item"}, [
            eventPicker(prefix, item, ctx, false, renderWhere),
            button("×", "cdp-fb-remove", function () {
              c[list].splice(i, 1);
              if (!c[list].length && list === "notOccurred") delete c.notOccurred;
              render();
              ctx.commit();
            }, prefix + "-remove"),
            where]));
        });
        wrap.appendChild(button(list === "occurred" ? "+ event to wait for" : "+ event that must not happen",
          "cdp-fb-add-item", function () {
            c[list] = c[list] || [];
            c[list].push({event: ""});
            render();
          }, "cdp-fb-add-" + list));
      };
      render();
      parts.push(h("div", {className: "cdp-fb-field"}, [
        h("span", {className: "cdp-fb-caption", text: list === "occurred" ? "Met when these happen" : "… and these do not"}), wrap]));
    });
    parts.push(row("Within", durationInputs("cdp-fb-within", c.within, ctx, function (d) { c.within = d; }),
                   "met: the events happened in time; timeout: the time ran out"));
    return parts;
  }

  // Branch conditions on the person: attributes, tags, segments, events.
  function personFields(cat) {
    var fields = (cat.fields || []).map(function (f) {
      return {key: "attribute:" + f.key, label: f.label, type: f.type};
    });
    (cat.customAttributes || []).forEach(function (a) {
      fields.push({key: "customAttribute:" + a.key, label: a.label, type: a.type});
    });
    return fields;
  }

  function branchForm(el, ctx) {
    var c = el.config;
    c.rules = c.rules || {all: []};
    var group = c.rules.all ? "all" : c.rules.any ? "any" : null;
    var flat = group && c.rules[group].every(function (n) {
      return n && typeof n === "object" && !n.all && !n.any && !n.none;
    });
    if (!flat) {
      return [h("p", {className: "cdp-hint", text: "These rules are nested groups: edit them in the JSON (the “JSON” button)."})];
    }
    var list = c.rules[group];
    var match = select("cdp-fb-match", [{value: "all", label: "all of these hold"}, {value: "any", label: "any of these holds"}], group);
    match.addEventListener("change", function () {
      var items = c.rules[group];
      group = match.value;
      c.rules = {};
      c.rules[group] = items;
      ctx.commit();
    });
    var wrap = h("div", {className: "cdp-fb-conditions"});
    var fields = personFields(ctx.catalogue);
    function render() {
      wrap.textContent = "";
      list = c.rules[group];
      list.forEach(function (node, i) {
        var id = "cdp-fb-rule-" + i;
        var remove = function () { list.splice(i, 1); render(); ctx.commit(); };
        if (node.attribute !== undefined || node.customAttribute !== undefined) {
          var proxy = {field: node.attribute !== undefined ? "attribute:" + node.attribute : "customAttribute:" + node.customAttribute,
                       operator: node.operator, value: node.value};
          var sync = {changed: function () { write(); ctx.changed(); }, commit: function () { write(); ctx.commit(); }, catalogue: ctx.catalogue};
          var write = function () {
            var parts = String(proxy.field || "").split(":");
            var next = {};
            next[parts[0] || "attribute"] = parts.slice(1).join(":");
            next.operator = proxy.operator;
            if (proxy.value !== undefined) next.value = proxy.value;
            list[i] = next;
          };
          wrap.appendChild(conditionRow(id, fields, proxy, "field", sync, remove));
        } else if (node.tag !== undefined) {
          var tagOp = select(id + "-operator", [{value: "has", label: "has tag"}, {value: "has_not", label: "has no tag"}], node.operator || "has");
          var tag = h("input", {id: id + "-value", value: node.tag, list: "cdp-fb-tags"});
          bind(tagOp, ctx, function () { node.operator = tagOp.value; });
          bind(tag, ctx, function () { node.tag = tag.value; });
          wrap.appendChild(h("div", {className: "cdp-fb-condition"}, [tagOp, tag, button("×", "cdp-fb-remove", remove, id + "-remove")]));
        } else if (node.segment !== undefined) {
          var segOp = select(id + "-operator", [{value: "member", label: "is in segment"}, {value: "not_member", label: "is not in segment"}], node.operator || "member");
          var seg = select(id + "-value", segmentOptions(ctx.catalogue), node.segment, "— choose —");
          bind(segOp, ctx, function () { node.operator = segOp.value; });
          bind(seg, ctx, function () { node.segment = seg.value ? Number(seg.value) : null; });
          wrap.appendChild(h("div", {className: "cdp-fb-condition"}, [segOp, seg, button("×", "cdp-fb-remove", remove, id + "-remove")]));
        } else if (node.event !== undefined) {
          var did = select(id + "-operator", [{value: "true", label: "did"}, {value: "false", label: "did not do"}], node.occurred === false ? "false" : "true");
          var days = h("input", {id: id + "-days", type: "number", min: "1", value: node.window ? node.window.lastDays : "", size: 4});
          bind(did, ctx, function () { node.occurred = did.value === "true"; });
          bind(days, ctx, function () {
            var n = parseInt(days.value, 10);
            if (n > 0) node.window = {lastDays: n}; else delete node.window;
          });
          wrap.appendChild(h("div", {className: "cdp-fb-condition"}, [did, eventPicker(id, node, ctx, false),
            " in the last ", days, " days (empty: ever)", button("×", "cdp-fb-remove", remove, id + "-remove")]));
        } else {
          wrap.appendChild(h("div", {className: "cdp-fb-condition"}, [h("code", {text: JSON.stringify(node)}),
            button("×", "cdp-fb-remove", remove, id + "-remove")]));
        }
      });
    }
    render();
    var adders = h("div", {className: "cdp-fb-adders"}, [
      button("+ attribute", "cdp-fb-add-rule", function () { list.push({attribute: "", operator: ""}); render(); }, "cdp-fb-add-attribute"),
      button("+ tag", "cdp-fb-add-rule", function () { list.push({tag: "", operator: "has"}); render(); }, "cdp-fb-add-tag"),
      button("+ segment", "cdp-fb-add-rule", function () { list.push({segment: null, operator: "member"}); render(); }, "cdp-fb-add-segment"),
      button("+ event", "cdp-fb-add-rule", function () { list.push({event: "", occurred: true}); render(); }, "cdp-fb-add-event")]);
    var parts = [row("Yes when", match), wrap, adders];
    if (ctx.triggerEvent) {
      parts.push(triggerConditions(c, ctx));
    } else if (c.trigger && c.trigger.length) {
      parts.push(h("p", {className: "cdp-hint", text: "It also tests the trigger event: " + JSON.stringify(c.trigger) + " (edit in the JSON)."}));
    }
    return parts;
  }

  // Conditions on the event that started the run: its count, sequence, id and properties.
  function triggerConditions(c, ctx) {
    var fields = [{key: "track_event_count", label: "times the person has had it", type: "number"},
                  {key: "track_event_seq", label: "its sequence number", type: "number"},
                  {key: "track_event_uuid", label: "its event id", type: "text"}]
      .concat(propertyFields(ctx.catalogue, ctx.triggerEvent).map(function (f) {
        return {key: "track_event_data." + f.key, label: f.label, type: f.type};
      }));
    var wrap = h("div", {className: "cdp-fb-conditions"});
    function render() {
      wrap.textContent = "";
      (c.trigger || []).forEach(function (cond, i) {
        wrap.appendChild(conditionRow("cdp-fb-trigger-" + i, fields, cond, "trigger", ctx, function () {
          c.trigger.splice(i, 1);
          if (!c.trigger.length) delete c.trigger;
          render();
          ctx.commit();
        }));
      });
      wrap.appendChild(button("+ trigger event condition", "cdp-fb-add-rule", function () {
        c.trigger = c.trigger || [];
        c.trigger.push({trigger: "", operator: ""});
        render();
      }, "cdp-fb-add-trigger"));
    }
    render();
    return h("div", {className: "cdp-fb-field"}, [
      h("span", {className: "cdp-fb-caption", text: "… and the trigger event (" + ctx.triggerEvent + ")"}), wrap]);
  }

  // A webhook's payload as "field: text" rows (texts may hold {{ person.… }} and the like);
  // a nested payload is shown as it is and edited in the JSON.
  function payloadRows(c, ctx) {
    var flat = !c.payload || Object.keys(c.payload).every(function (k) { return typeof c.payload[k] === "string"; });
    if (!flat) {
      return h("p", {className: "cdp-hint", text: "Payload: " + JSON.stringify(c.payload) + " (nested: edit it in the JSON)."});
    }
    var rows = Object.keys(c.payload || {}).map(function (k) { return [k, c.payload[k]]; });
    var wrap = h("div", {className: "cdp-fb-payload"});
    function store() {
      var payload = {};
      rows.forEach(function (r) { if (r[0].trim()) payload[r[0].trim()] = r[1]; });
      if (Object.keys(payload).length) c.payload = payload; else delete c.payload;
    }
    function render() {
      wrap.textContent = "";
      rows.forEach(function (r, i) {
        var key = h("input", {id: "cdp-fb-payload-" + i + "-key", value: r[0], placeholder: "field", size: 10});
        var value = h("input", {id: "cdp-fb-payload-" + i + "-value", value: r[1], placeholder: "{{ person.id }}", size: 18});
        bind(key, ctx, function () { r[0] = key.value; store(); });
        bind(value, ctx, function () { r[1] = value.value; store(); });
        wrap.appendChild(h("div", {className: "cdp-fb-condition"}, [key, value,
          button("×", "cdp-fb-remove", function () { rows.splice(i, 1); store(); render(); ctx.commit(); },
                 "cdp-fb-payload-" + i + "-remove")]));
      });
      wrap.appendChild(button("+ payload field", "cdp-fb-add-item", function () { rows.push(["", ""]); render(); },
                              "cdp-fb-add-payload"));
    }
    render();
    return h("div", {className: "cdp-fb-field"}, [h("span", {className: "cdp-fb-caption", text: "Payload (JSON fields)"}), wrap,
      h("p", {className: "cdp-hint", text: "Texts may use {{ person.firstName }} (or any attribute), {{ event.<property> }}, {{ flow.name }}."})]);
  }

  function textInput(id, value, ctx, apply, attrs) {
    var input = h(attrs && attrs.multiline ? "textarea" : "input",
                  Object.assign({id: id, value: value === undefined || value === null ? "" : value}, attrs && attrs.props));
    if (attrs && attrs.multiline) input.value = value || "";
    return bind(input, ctx, function () { apply(input.value); });
  }

  function actionForm(el, ctx) {
    var c = el.config;
    var cat = ctx.catalogue;
    switch (c.action) {
      case "tag_add":
      case "tag_remove":
        return [row("Tag", textInput("cdp-fb-tag", c.tag, ctx, function (v) { c.tag = v; },
                                     {props: {list: "cdp-fb-tags", maxLength: 64}}))];
      case "score_change":
        return [row("Points (negative removes)", textInput("cdp-fb-by", c.by, ctx, function (v) { c.by = numberOrNull(v); },
                                                          {props: {type: "number"}}))];
      case "attribute_set":
        var names = (cat.settableAttributes || []).map(function (k) { return {value: k, label: k}; })
          .concat((cat.customAttributes || []).map(function (a) { return {value: a.key, label: a.label + " (" + a.key + ")"}; }));
        var attr = select("cdp-fb-attribute", names, c.attribute, "— choose —");
        bind(attr, ctx, function () { c.attribute = attr.value; });
        return [row("Attribute", attr),
                row("Value", textInput("cdp-fb-value", c.value, ctx, function (v) {
                  var custom = (cat.customAttributes || []).filter(function (a) { return a.key === c.attribute; })[0];
                  c.value = custom && custom.type === "number" ? numberOrNull(v) : v;
                }))];
      case "webhook":
        var parts = [row("URL", textInput("cdp-fb-url", c.url, ctx, function (v) { c.url = v; },
                                          {props: {type: "url", placeholder: "https://…", size: 40}})),
                     row("Secret (signs the body)", textInput("cdp-fb-secret", "", ctx, function (v) {
                       if (v) c.secret = v; else delete c.secret;
                     }, {props: {type: "password", placeholder: c.hasSecret ? "kept (type to replace)" : "",
                                 autocomplete: "off"}}))];
        parts.push(payloadRows(c, ctx));
        return parts;
      case "email":
        var toPerson = c.to === "person";
        var to = select("cdp-fb-to", [{value: "person", label: "the person"}, {value: "address", label: "an address …"}],
                        toPerson ? "person" : "address");
        var address = textInput("cdp-fb-address", toPerson ? "" : c.to, ctx, function (v) { c.to = v; },
                                {props: {type: "email", hidden: toPerson}});
        bind(to, ctx, function () {
          address.hidden = to.value === "person";
          c.to = to.value === "person" ? "person" : address.value;
        });
        return [row("To", h("span", {}, [to, " ", address])),
                row("Subject", textInput("cdp-fb-subject", c.subject, ctx, function (v) { c.subject = v; }, {props: {size: 40}})),
                row("Body", textInput("cdp-fb-body", c.body, ctx, function (v) { c.body = v; }, {multiline: true, props: {rows: 5}}),
                    "{{ person.firstName }} (or any attribute), {{ event.<property> }} of the trigger event and {{ flow.name }} may be used")];
      case "event_record":
        return [row("Event (custom)", eventPicker("cdp-fb", c, ctx, true))];
      case "segment_add":
        var segment = select("cdp-fb-segment", segmentOptions(cat, true), c.segment, "— choose a static segment —");
        bind(segment, ctx, function () { c.segment = segment.value ? Number(segment.value) : null; });
        return [row("Static segment", segment)];
    }
    return [h("p", {className: "cdp-hint", text: "Edit this action in the JSON."})];
  }

  // The settings of one element: its name, then its kind's form.
  function panel(el, ctx) {
    el.config = el.config && typeof el.config === "object" ? el.config : {};
    var parts = [row("Name", textInput("cdp-fb-label", el.label, ctx, function (v) { el.label = v; }))];
    if (!ctx.catalogue) {
      parts.push(h("p", {className: "cdp-hint", text: "Loading the workspace's events and segments…"}));
      return parts;
    }
    var forms = {trigger: triggerForm, wait: function () {
      return [row("Wait for", durationInputs("cdp-fb-duration", el.config.duration, ctx, function (d) { el.config.duration = d; }))];
    }, wait_for_event: waitForEventForm, branch: branchForm, action: actionForm, end: function () {
      return [h("p", {className: "cdp-hint", text: "The run ends here."})];
    }};
    return parts.concat((forms[el.kind] || function () { return []; })(el, ctx));
  }

  window.cdpFlowForms = {h: h, button: button, select: select, PALETTE: PALETTE, OUTCOMES: OUTCOMES,
                         paletteOf: paletteOf, summary: summary, panel: panel};
})();
