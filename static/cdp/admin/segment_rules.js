/* The rule tree of the segment builder (segment_builder.js): the JSON format of
   people/segments/rules.py as the builder holds it (groups {op, children}; conditions as their
   JSON objects), and the inputs that edit a condition's value for its type and operator.
   Loaded before segment_conditions.js and segment_builder.js; exports cdpSegmentRules. */
(function () {
  "use strict";

  var GROUP_OPS = ["all", "any", "none"];
  var LEAF_KEYS = ["attribute", "customAttribute", "tag", "identifier", "event", "aggregate",
                   "segment"];
  var KINDS = [["attribute", "Attribute"], ["customAttribute", "Custom attribute"],
               ["tag", "Tag"], ["identifier", "Identifier"], ["event", "Event"],
               ["aggregate", "Event aggregate"], ["segment", "Segment"]];
  var NO_VALUE = ["is_set", "is_not_set"];
  var DAYS = ["within_last_days", "older_than_days", "newer_than_days"];
  var LISTS = ["in", "not_in"];

  // DOM helpers ------------------------------------------------------------------------------

  function h(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null || value === false) { return; }
      if (key === "className") { node.className = value; }
      else if (key === "text") { node.textContent = value; }
      else { node.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function button(label, className, onClick, title) {
    var node = h("button", {type: "button", className: "button " + className, text: label,
                            title: title, "aria-label": title});
    node.addEventListener("click", function (event) { event.preventDefault(); onClick(); });
    return node;
  }

  /* A select over [[value, label], …]; a value not among them stays selectable (marked), an
     empty one shows a "choose" placeholder, so the tree is never silently changed. */
  function choice(options, value, props, onChange) {
    var select = h("select", props);
    var wanted = value === undefined || value === null ? "" : String(value);
    var known = options.some(function (o) { return String(o[0]) === wanted; });
    if (wanted === "" && !known) {
      select.appendChild(h("option", {value: "", text: "— choose —"}));
    } else if (!known) {
      select.appendChild(h("option", {value: wanted, text: wanted + " (not in this workspace)"}));
    }
    options.forEach(function (o) {
      select.appendChild(h("option", {value: String(o[0]), text: o[1]}));
    });
    select.value = wanted;
    if (onChange) { select.addEventListener("change", function () { onChange(select.value); }); }
    return select;
  }

  function isDate(value) { return /^\d{4}-\d{2}-\d{2}$/.test(value); }

  // The rule tree: groups are {op, children}; conditions are their JSON objects ---------------

  function isGroup(node) { return node && Array.isArray(node.children) && !!node.op; }

  function kindOf(leaf) {
    for (var i = 0; i < LEAF_KEYS.length; i++) {
      if (Object.prototype.hasOwnProperty.call(leaf, LEAF_KEYS[i])) { return LEAF_KEYS[i]; }
    }
    return null;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function groupKey(raw) {
    var keys = isObject(raw) ? Object.keys(raw) : [];
    return keys.length === 1 && GROUP_OPS.indexOf(keys[0]) >= 0 ? keys[0] : null;
  }

  /* Return the builder's tree for stored rules, or throw when the builder cannot show them. */
  function fromJson(raw) {
    var op = groupKey(raw);
    if (!op || !Array.isArray(raw[op])) {
      throw new Error('the rules must be a group: {"all": […]}, {"any": […]} or {"none": […]}');
    }
    return {op: op, children: raw[op].map(function (child) {
      if (groupKey(child)) { return fromJson(child); }
      var kind = isObject(child) ? kindOf(child) : null;
      if (!kind) { throw new Error("a condition names one of: " + LEAF_KEYS.join(", ")); }
      return normalise(kind, JSON.parse(JSON.stringify(child)));
    })};
  }

  function normalise(kind, leaf) {
    if (kind === "tag" || kind === "identifier") { leaf.operator = leaf.operator || "has"; }
    if (kind === "segment") { leaf.operator = leaf.operator || "member"; }
    if (kind === "event") {
      leaf.occurred = leaf.occurred !== false;
      if (!isObject(leaf.count)) { leaf.count = {operator: ">=", value: 1}; }
      if (!isObject(leaf.window) || !Object.keys(leaf.window).length) { leaf.window = null; }
      leaf.where = Array.isArray(leaf.where) ? leaf.where : [];
    }
    return leaf;
  }

  function toJson(node) {
    if (isGroup(node)) {
      var group = {};
      group[node.op] = node.children.map(toJson);
      return group;
    }
    var kind = kindOf(node);
    var out = {};
    out[kind] = node[kind];
    if (kind === "event") {
      out.occurred = node.occurred;
      out.count = {operator: node.count.operator, value: node.count.value};
      if (node.window) {
        out.window = {};
        Object.keys(node.window).forEach(function (key) {
          if (node.window[key] !== null && node.window[key] !== "") {
            out.window[key] = node.window[key];
          }
        });
      }
      if (node.where.length) {
        out.where = node.where.map(function (filter) {
          var item = {property: filter.property, operator: filter.operator};
          if (NO_VALUE.indexOf(filter.operator) < 0) { item.value = valueOf(filter); }
          return item;
        });
      }
      return out;
    }
    if (kind === "aggregate") { out.field = node.field; }
    out.operator = node.operator;
    if ((kind === "attribute" || kind === "customAttribute" || kind === "aggregate") &&
        NO_VALUE.indexOf(node.operator) < 0) {
      out.value = valueOf(node);
    }
    return out;
  }

  function valueOf(holder) { return holder.value === undefined ? null : holder.value; }

  // Values by type and operator -----------------------------------------------------------

  function blank(type) {
    if (type === "boolean") { return true; }
    return type === "text" || type === "list" ? "" : null;
  }

  function convert(type, raw) {
    if (type === "number") {
      if (raw.trim() === "") { return null; }
      var number = Number(raw);
      return isNaN(number) ? raw : number;
    }
    if (type === "date" || type === "datetime") { return raw === "" ? null : raw; }
    return raw;
  }

  /* Give ``holder.value`` the shape ``operator`` needs, keeping what still fits. */
  function reshape(holder, type, operator, typeChanged) {
    var value = typeChanged ? undefined : holder.value;
    if (NO_VALUE.indexOf(operator) >= 0) { delete holder.value; return; }
    if (DAYS.indexOf(operator) >= 0) {
      holder.value = typeof value === "number" ? value : 30;
    } else if (operator === "between") {
      holder.value = Array.isArray(value) && value.length === 2 ? value : [blank(type), blank(type)];
    } else if (LISTS.indexOf(operator) >= 0) {
      holder.value = Array.isArray(value) ? value
        : (value === undefined || value === null || value === "" ? [blank(type)] : [value]);
    } else {
      holder.value = value === undefined || Array.isArray(value) ||
        (type === "boolean" && typeof value !== "boolean") ? blank(type) : value;
    }
  }

  function scalarInput(type, value, set, label, className) {
    if (type === "boolean") {
      return choice([["true", "true"], ["false", "false"]], value === false ? "false" : "true",
                    {"aria-label": label, className: className},
                    function (chosen) { set(chosen === "true"); });
    }
    var shown = value === null || value === undefined ? "" : String(value);
    var inputType = "text";
    if (type === "number") { inputType = "number"; }
    if ((type === "date" || type === "datetime") && (shown === "" || isDate(shown))) {
      inputType = "date";
    }
    var input = h("input", {type: inputType, "aria-label": label, className: className,
                            step: type === "number" ? "any" : null,
                            placeholder: type === "datetime" ? "2024-05-31T14:00:00Z" : null});
    input.value = shown;
    input.addEventListener("input", function () { set(convert(type, input.value)); });
    return input;
  }

  /* The inputs for ``holder.value``: none, a number of days, two values, a list or one. */
  function valueEditor(holder, type, operator, path, changed) {
    if (NO_VALUE.indexOf(operator) >= 0) { return null; }
    var box = h("span", {className: "cdp-value", "data-path": path + ".value"});
    if (DAYS.indexOf(operator) >= 0) {
      box.appendChild(scalarInput("number", holder.value, function (v) {
        holder.value = v; changed();
      }, "number of days", "cdp-value-input cdp-days"));
      box.appendChild(document.createTextNode(" days"));
    } else if (operator === "between") {
      if (!Array.isArray(holder.value) || holder.value.length !== 2) {
        holder.value = [blank(type), blank(type)];
      }
      [0, 1].forEach(function (i) {
        if (i === 1) { box.appendChild(document.createTextNode(" and ")); }
        box.appendChild(scalarInput(type, holder.value[i], function (v) {
          holder.value[i] = v; changed();
        }, i ? "to" : "from", "cdp-value-input"));
      });
    } else if (LISTS.indexOf(operator) >= 0) {
      if (!Array.isArray(holder.value)) { holder.value = [blank(type)]; }
      var items = holder.value;
      var drawList = function () {
        box.textContent = "";
        items.forEach(function (item, i) {
          box.appendChild(scalarInput(type, item, function (v) { items[i] = v; changed(); },
                                      "value " + (i + 1), "cdp-value-input cdp-list-item"));
          if (items.length > 1) {
            box.appendChild(button("×", "cdp-remove-item", function () {
              items.splice(i, 1); drawList(); changed();
            }, "Remove this value"));
          }
        });
        box.appendChild(button("+ value", "cdp-add-item", function () {
          items.push(blank(type)); drawList(); changed();
        }, "Add a value"));
      };
      drawList();
    } else {
      box.appendChild(scalarInput(type, holder.value, function (v) {
        holder.value = v; changed();
      }, "value", "cdp-value-input"));
    }
    return box;
  }

  window.cdpSegmentRules = {
    KINDS: KINDS, DAYS: DAYS, h: h, button: button, choice: choice, isGroup: isGroup,
    isObject: isObject, kindOf: kindOf, fromJson: fromJson, toJson: toJson, reshape: reshape,
    scalarInput: scalarInput, valueEditor: valueEditor, methods: {}
  };
})();
