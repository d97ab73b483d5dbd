/* One row per condition kind of the segment builder (segment_builder.js): attribute, custom
   attribute, tag, identifier, event (count, window, property filters), aggregate, segment.
   Each is a method of the builder, drawing its controls into the row's line; ``data-path``
   marks every control with the path rule errors name (rules.all[1].count.value). */
(function () {
  "use strict";

  var R = window.cdpSegmentRules;
  var h = R.h, button = R.button, choice = R.choice, reshape = R.reshape;
  var scalarInput = R.scalarInput, valueEditor = R.valueEditor, DAYS = R.DAYS;
  var methods = R.methods;
  var WINDOWS = [["ever", "ever"], ["lastHours", "in the last … hours"],
                 ["lastDays", "in the last … days"], ["between", "between dates"]];

  methods.operators = function (type) {
    return (this.catalogue.operators[type] || []).map(function (o) {
      return [o.value, o.label];
    });
  };

  methods.attributeType = function (kind, key) {
    var list = kind === "attribute" ? this.catalogue.fields : this.catalogue.customAttributes;
    var found = list.filter(function (f) { return f.key === key; })[0];
    return found ? found.type : "text";
  };

  methods.definition = function (code) {
    return this.catalogue.definitions.filter(function (d) { return d.id === code; })[0] || null;
  };

  methods.definitionChoices = function () {
    return this.catalogue.definitions.map(function (d) {
      return [d.id, d.name + " (" + d.id + ")" + (d.enabled ? "" : " — tracking off")];
    });
  };

  methods.newLeaf = function (kind) {
    var c = this.catalogue;
    var firstDefinition = c.definitions.filter(function (d) { return d.enabled; })[0] ||
      c.definitions[0];
    var code = firstDefinition ? firstDefinition.id : "";
    if (kind === "attribute" || kind === "customAttribute") {
      var fields = kind === "attribute" ? c.fields : c.customAttributes;
      var leaf = {};
      leaf[kind] = fields.length ? fields[0].key : "";
      var type = this.attributeType(kind, leaf[kind]);
      leaf.operator = (c.operators[type] || [{value: "equals"}])[0].value;
      reshape(leaf, type, leaf.operator, true);
      return leaf;
    }
    if (kind === "tag") { return {tag: "", operator: "has"}; }
    if (kind === "identifier") { return {identifier: "email", operator: "has"}; }
    if (kind === "event") {
      return {event: code, occurred: true, count: {operator: ">=", value: 1}, window: null,
              where: []};
    }
    if (kind === "aggregate") {
      return {aggregate: code, field: "lastTime", operator: "older_than_days", value: 30};
    }
    return {segment: c.segments.length ? c.segments[0].id : null, operator: "member"};
  };

  function field(path, name) { return path + "." + name; }

  /* Field, operator and value of a standard or custom attribute. */
  methods.attributeRow = function (kind, leaf, path, line) {
    var self = this;
    var list = kind === "attribute" ? this.catalogue.fields : this.catalogue.customAttributes;
    var type = this.attributeType(kind, leaf[kind]);
    var options = list.map(function (f) { return [f.key, f.label]; });
    line.appendChild(choice(options, leaf[kind], {
      className: kind === "attribute" ? "cdp-attribute-field" : "cdp-custom-attribute",
      "aria-label": kind === "attribute" ? "attribute" : "custom attribute",
      "data-path": field(path, kind)}, function (key) {
      var next = self.attributeType(kind, key);
      leaf[kind] = key;
      var allowed = self.operators(next).map(function (o) { return o[0]; });
      if (allowed.indexOf(leaf.operator) < 0) { leaf.operator = allowed[0]; }
      reshape(leaf, next, leaf.operator, next !== type);
      self.structural();
    }));
    this.operatorAndValue(leaf, type, this.operators(type), path, line);
  };

  methods.operatorAndValue = function (holder, type, operators, path, line) {
    var self = this;
    line.appendChild(choice(operators, holder.operator, {
      className: "cdp-operator", "aria-label": "operator", "data-path": field(path, "operator")
    }, function (operator) {
      holder.operator = operator;
      reshape(holder, type, operator, false);
      self.structural();
    }));
    var editor = valueEditor(holder, type, holder.operator, path, this.changed.bind(this));
    if (editor) { line.appendChild(editor); }
  };

  methods.attribute = function (leaf, path, line) {
    this.attributeRow("attribute", leaf, path, line);
  };

  methods.customAttribute = function (leaf, path, line) {
    if (!this.catalogue.customAttributes.length && !leaf.customAttribute) {
      line.appendChild(h("span", {className: "cdp-hint",
                                  text: "This workspace has no custom attributes."}));
      return;
    }
    this.attributeRow("customAttribute", leaf, path, line);
  };

  methods.tag = function (leaf, path, line) {
    var self = this;
    line.appendChild(choice([["has", "has tag"], ["has_not", "does not have tag"]],
                            leaf.operator, {className: "cdp-tag-operator",
                                            "aria-label": "has or has not",
                                            "data-path": field(path, "operator")},
                            function (op) { leaf.operator = op; self.changed(); }));
    var input = h("input", {type: "text", list: "cdp-tag-suggestions", maxlength: "64",
                            className: "cdp-tag-name", "aria-label": "tag",
                            "data-path": field(path, "tag"), placeholder: "tag name"});
    input.value = leaf.tag || "";
    input.addEventListener("input", function () { leaf.tag = input.value; self.changed(); });
    line.appendChild(input);
  };

  methods.identifier = function (leaf, path, line) {
    var self = this;
    line.appendChild(choice([["has", "has"], ["has_not", "does not have"]], leaf.operator, {
      className: "cdp-identifier-operator", "aria-label": "has or has not",
      "data-path": field(path, "operator")}, function (op) {
      leaf.operator = op; self.changed();
    }));
    line.appendChild(choice(this.catalogue.identifierTypes.map(function (t) {
      return [t.value, t.label];
    }), leaf.identifier, {className: "cdp-identifier-type", "aria-label": "identifier type",
                          "data-path": field(path, "identifier")}, function (type) {
      leaf.identifier = type; self.changed();
    }));
    line.appendChild(document.createTextNode(" identifier"));
  };

  methods.event = function (leaf, path, line, row) {
    var self = this;
    line.appendChild(choice(this.definitionChoices(), leaf.event, {
      className: "cdp-event-definition", "aria-label": "event",
      "data-path": field(path, "event")}, function (code) {
      leaf.event = code;
      var known = (self.definition(code) || {properties: []}).properties.map(function (p) {
        return p.key;
      });
      leaf.where = leaf.where.filter(function (f) { return known.indexOf(f.property) >= 0; });
      self.structural();
    }));
    line.appendChild(choice([["true", "occurred"], ["false", "did not occur"]],
                            String(leaf.occurred), {
      className: "cdp-event-occurred", "aria-label": "occurred",
      "data-path": field(path, "occurred")}, function (value) {
      leaf.occurred = value === "true"; self.changed();
    }));
    var counts = this.catalogue.countOperators.map(function (o) { return [o, o]; });
    line.appendChild(choice(counts, leaf.count.operator, {
      className: "cdp-count-operator", "aria-label": "count comparison",
      "data-path": field(path, "count.operator")}, function (op) {
      leaf.count.operator = op; self.changed();
    }));
    var count = scalarInput("number", leaf.count.value, function (v) {
      leaf.count.value = v; self.changed();
    }, "count", "cdp-count-value");
    count.setAttribute("data-path", field(path, "count.value"));
    count.min = "0";
    count.step = "1";
    line.appendChild(count);
    line.appendChild(document.createTextNode(" times "));
    this.windowEditor(leaf, path, line);
    row.appendChild(this.filters(leaf, path));
  };

  methods.windowEditor = function (leaf, path, line) {
    var self = this;
    var w = leaf.window || {};
    var kind = "ever";
    if ("lastHours" in w) { kind = "lastHours"; }
    else if ("lastDays" in w) { kind = "lastDays"; }
    else if ("from" in w || "to" in w) { kind = "between"; }
    line.appendChild(choice(WINDOWS, kind, {
      className: "cdp-window", "aria-label": "when", "data-path": field(path, "window")
    }, function (chosen) {
      leaf.window = {ever: null, lastHours: {lastHours: 24}, lastDays: {lastDays: 30},
                     between: {from: null, to: null}}[chosen];
      self.structural();
    }));
    if (kind === "lastHours" || kind === "lastDays") {
      var amount = scalarInput("number", w[kind], function (v) {
        leaf.window[kind] = v; self.changed();
      }, kind === "lastHours" ? "hours" : "days", "cdp-window-amount");
      amount.setAttribute("data-path", field(path, "window." + kind));
      amount.min = "1";
      amount.step = "1";
      line.appendChild(amount);
    } else if (kind === "between") {
      ["from", "to"].forEach(function (end) {
        var input = scalarInput("date", w[end], function (v) {
          leaf.window[end] = v; self.changed();
        }, end, "cdp-window-" + end);
        input.setAttribute("data-path", field(path, "window." + end));
        line.appendChild(document.createTextNode(end === "from" ? " " : " and "));
        line.appendChild(input);
      });
    }
  };

  /* "with <property> <operator> <value>" rows over the chosen definition's properties. */
  methods.filters = function (leaf, path) {
    var self = this;
    var definition = this.definition(leaf.event);
    var properties = definition ? definition.properties : [];
    var typeOf = function (key) {
      var found = properties.filter(function (p) { return p.key === key; })[0];
      return found ? found.type : "text";
    };
    var box = h("div", {className: "cdp-filters", "data-path": field(path, "where")});
    leaf.where.forEach(function (filter, j) {
      var at = path + ".where[" + j + "]";
      var type = typeOf(filter.property);
      var line = h("div", {className: "cdp-filter-row", "data-path": at}, ["with "]);
      line.appendChild(choice(properties.map(function (p) {
        return [p.key, p.name === p.key ? p.key : p.name + " (" + p.key + ")"];
      }), filter.property, {className: "cdp-filter-property", "aria-label": "property",
                            "data-path": field(at, "property")}, function (key) {
        var next = typeOf(key);
        filter.property = key;
        var allowed = self.operators(next).map(function (o) { return o[0]; });
        if (allowed.indexOf(filter.operator) < 0) { filter.operator = allowed[0]; }
        reshape(filter, next, filter.operator, next !== type);
        self.structural();
      }));
      self.operatorAndValue(filter, type, self.operators(type), at, line);
      line.appendChild(button("×", "cdp-remove-filter", function () {
        leaf.where.splice(j, 1);
        self.structural();
      }, "Remove this property filter"));
      box.appendChild(line);
    });
    var add = button("+ Property filter", "cdp-add-filter", function () {
      var first = properties[0];
      var type = first.type;
      var filter = {property: first.key, operator: self.operators(type)[0][0]};
      reshape(filter, type, filter.operator, true);
      leaf.where.push(filter);
      self.structural();
    }, "Only count events whose property matches");
    add.disabled = !properties.length;
    box.appendChild(add);
    return box;
  };

  methods.aggregate = function (leaf, path, line) {
    var self = this;
    line.appendChild(choice(this.definitionChoices(), leaf.aggregate, {
      className: "cdp-aggregate-definition", "aria-label": "event",
      "data-path": field(path, "aggregate")}, function (code) {
      leaf.aggregate = code; self.changed();
    }));
    line.appendChild(choice(this.catalogue.aggregateFields.map(function (f) {
      return [f.value, f.label];
    }), leaf.field, {className: "cdp-aggregate-field", "aria-label": "aggregate",
                     "data-path": field(path, "field")}, function (value) {
      var wasCount = leaf.field === "count";
      leaf.field = value;
      if (value === "count" && !wasCount) {
        leaf.operator = ">="; leaf.value = 1;
      } else if (value !== "count" && wasCount) {
        leaf.operator = "older_than_days"; leaf.value = 30;
      }
      self.structural();
    }));
    if (leaf.field === "count") {
      var counts = this.catalogue.countOperators.map(function (o) { return [o, o]; });
      this.operatorAndValue(leaf, "number", counts, path, line);
      return;
    }
    var operators = this.catalogue.aggregateTimeOperators.map(function (o) {
      return [o.value, o.label];
    });
    line.appendChild(choice(operators, leaf.operator, {
      className: "cdp-operator", "aria-label": "operator", "data-path": field(path, "operator")
    }, function (operator) {
      var days = DAYS.indexOf(operator) >= 0;
      if (days !== (DAYS.indexOf(leaf.operator) >= 0)) { leaf.value = days ? 30 : null; }
      leaf.operator = operator;
      self.structural();
    }));
    line.appendChild(valueEditor(leaf, "datetime", leaf.operator, path,
                                 this.changed.bind(this)));
  };

  methods.segment = function (leaf, path, line) {
    var self = this;
    line.appendChild(choice([["member", "is a member of"], ["not_member", "is not a member of"]],
                            leaf.operator, {className: "cdp-segment-operator",
                                            "aria-label": "member or not",
                                            "data-path": field(path, "operator")},
                            function (op) { leaf.operator = op; self.changed(); }));
    line.appendChild(choice(this.catalogue.segments.map(function (s) {
      return [s.id, s.name + (s.kind === "static" ? " (static)" : "")];
    }), leaf.segment, {className: "cdp-segment-choice", "aria-label": "segment",
                       "data-path": field(path, "segment")}, function (id) {
      leaf.segment = /^\d+$/.test(id) ? parseInt(id, 10) : id;
      self.changed();
    }));
  };
})();
