/* Segment rule builder: edits the rule tree of a dynamic segment with groups (all / any /
   none, nested) and condition rows, and writes the JSON into the rules textarea, which stays
   in the form (hidden; "Show JSON" reveals it) so the server validates and saves exactly as
   without this script. The fields, operators, definitions, segments, tags and templates come
   from the admin's catalogue endpoint; every change asks the preview endpoint how many people
   match (debounced) and marks the condition the server names in a rule error.
   The tree and value inputs are in segment_rules.js, the condition rows in
   segment_conditions.js (loaded before this file). */
(function () {
  "use strict";

  var R = window.cdpSegmentRules;
  var h = R.h, button = R.button, choice = R.choice, fromJson = R.fromJson, toJson = R.toJson;
  var isGroup = R.isGroup, isObject = R.isObject, kindOf = R.kindOf, KINDS = R.KINDS;
  var DEBOUNCE = 400;

  // The builder ------------------------------------------------------------------------------

  function Builder(textarea, config) {
    this.textarea = textarea;
    this.config = config;
    this.catalogue = null;
    this.model = null;
    this.seq = 0;
    this.timer = null;
    this.row = textarea.closest(".form-row") || textarea.parentNode;
    this.workspaceSelect = document.getElementById("id_workspace");
    this.kindSelect = document.getElementById("id_kind");
    this.templateSelect = document.getElementById("id_template");
    this.stash = null;
    // A template chosen before the page was redisplayed is already in the rules.
    this.appliedTemplate = this.templateSelect && textarea.value.trim() ?
      this.templateSelect.value : "";

    this.preview = h("span", {className: "cdp-preview", id: "cdp-preview",
                              "aria-live": "polite"});
    this.toggle = button("Show JSON", "cdp-json-toggle", this.toggleJson.bind(this),
                         "Show or hide the rules as JSON");
    this.message = h("p", {className: "cdp-builder-message", hidden: true});
    this.tree = h("div", {className: "cdp-builder-tree"});
    this.tags = h("datalist", {id: "cdp-tag-suggestions"});
    this.root = h("div", {className: "cdp-builder", id: "cdp-builder"}, [
      h("div", {className: "cdp-builder-bar"}, [this.preview, this.toggle]),
      this.message, this.tree, this.tags]);
    this.row.appendChild(this.root);
    textarea.hidden = true;
    this.loadTextarea();
    this.bind();
    this.applyKind();
    this.loadCatalogue();
  }

  Builder.prototype.bind = function () {
    var self = this;
    var typed = null;
    this.textarea.addEventListener("input", function () {
      clearTimeout(typed);
      typed = setTimeout(function () {
        self.loadTextarea();
        self.render();
        self.schedulePreview();
      }, DEBOUNCE);
    });
    if (this.workspaceSelect) {
      this.workspaceSelect.addEventListener("change", function () { self.loadCatalogue(); });
    }
    if (this.kindSelect) {
      this.kindSelect.addEventListener("change", function () { self.applyKind(); });
    }
    if (this.templateSelect) {
      this.templateSelect.addEventListener("change", function () {
        self.appliedTemplate = "";
        self.applyTemplate();
      });
    }
  };

  Builder.prototype.isStatic = function () {
    return this.kindSelect ? this.kindSelect.value === "static" : this.config.kind === "static";
  };

  /* Static segments have members, not rules: no builder, and an empty rules field. */
  Builder.prototype.applyKind = function () {
    var hide = this.isStatic();
    this.row.hidden = hide;
    if (hide) {
      if (this.stash === null) { this.stash = this.textarea.value; }
      this.textarea.value = "";
    } else if (this.stash !== null) {
      this.textarea.value = this.stash;
      this.stash = null;
      this.schedulePreview();
    }
  };

  Builder.prototype.loadTextarea = function () {
    var text = this.textarea.value.trim();
    this.say("");
    if (!text) {
      this.model = {op: "all", children: []};
      return;
    }
    try {
      var raw = JSON.parse(text);
      this.model = raw === null || (isObject(raw) && !Object.keys(raw).length)
        ? {op: "all", children: []} : fromJson(raw);
    } catch (error) {
      this.model = null;
      this.say("These rules cannot be shown in the builder (" + error.message + "); " +
               "edit the JSON below.");
      this.showJson(true);
    }
  };

  Builder.prototype.say = function (text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  };

  Builder.prototype.toggleJson = function () { this.showJson(this.textarea.hidden); };

  Builder.prototype.showJson = function (show) {
    this.textarea.hidden = !show;
    this.toggle.textContent = show ? "Hide JSON" : "Show JSON";
  };

  /* ?segment=<id> when editing, ?workspace=<id> when a workspace is chosen on the add form,
     nothing when the user has one workspace; null while the workspace is still to choose. */
  Builder.prototype.scope = function () {
    if (this.config.segmentId) { return "segment=" + this.config.segmentId; }
    if (this.workspaceSelect) {
      return this.workspaceSelect.value ? "workspace=" + this.workspaceSelect.value : null;
    }
    return "";
  };

  Builder.prototype.loadCatalogue = function () {
    var self = this;
    var scope = this.scope();
    this.catalogue = null;
    if (scope === null) {
      this.tree.textContent = "";
      this.setPreview("Choose a workspace to build the rules.", "");
      return;
    }
    this.tree.textContent = "Loading…";
    fetch(this.config.catalogueUrl + "?" + scope, {credentials: "same-origin"})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          self.tree.textContent = "";
          self.setPreview(answer.body.error ? answer.body.error.message : "Not available.",
                          "error");
          return;
        }
        self.catalogue = answer.body;
        self.tags.textContent = "";
        self.catalogue.tags.forEach(function (name) {
          self.tags.appendChild(h("option", {value: name}));
        });
        self.render();
        self.applyTemplate();
        self.schedulePreview();
      })
      .catch(function () {
        self.tree.textContent = "";
        self.setPreview("The builder could not load; reload the page.", "error");
      });
  };

  Builder.prototype.applyTemplate = function () {
    if (!this.catalogue || !this.templateSelect || !this.templateSelect.value) { return; }
    var key = this.templateSelect.value;
    var template = this.catalogue.templates.filter(function (t) { return t.key === key; })[0];
    if (!template || this.appliedTemplate === key) { return; }  // not again on reloads
    this.appliedTemplate = key;
    this.model = fromJson(template.rules);
    this.say("");
    this.structural();
  };

  /* A change of structure (rows added, removed, kinds or operators changed): draw again. */
  Builder.prototype.structural = function () {
    this.render();
    this.changed();
  };

  /* A value changed: write the JSON and ask for a new count. */
  Builder.prototype.changed = function () {
    if (this.model) { this.textarea.value = JSON.stringify(toJson(this.model), null, 2); }
    this.schedulePreview();
  };

  Builder.prototype.render = function () {
    this.tree.textContent = "";
    if (!this.catalogue || !this.model) { return; }
    this.tree.appendChild(this.group(this.model, "rules", null, 0));
  };

  // Groups and rows ------------------------------------------------------------------------

  Builder.prototype.group = function (group, path, parent, index) {
    var self = this;
    var ops = this.catalogue.groupOperators.map(function (o) { return [o.value, o.label]; });
    var head = h("div", {className: "cdp-group-head"}, [
      "Match ",
      choice(ops, group.op, {className: "cdp-group-op", "aria-label": "match"},
             function (op) { group.op = op; self.structural(); }),
      " the following ",
      button("+ Condition", "cdp-add-condition", function () {
        group.children.push(self.newLeaf("attribute"));
        self.structural();
      }, "Add a condition"),
      button("+ Group", "cdp-add-group", function () {
        group.children.push({op: "all", children: [self.newLeaf("attribute")]});
        self.structural();
      }, "Add a nested group"),
      parent ? button("Remove group", "cdp-remove-group", function () {
        parent.children.splice(index, 1);
        self.structural();
      }, "Remove this group") : null]);
    var list = h("div", {className: "cdp-group-children", "data-path": path + "." + group.op});
    group.children.forEach(function (child, i) {
      var at = path + "." + group.op + "[" + i + "]";
      list.appendChild(isGroup(child) ? self.group(child, at, group, i)
                                      : self.condition(child, at, group, i));
    });
    if (!group.children.length) {
      list.appendChild(h("p", {className: "cdp-empty", text: "No conditions yet: add one."}));
    }
    return h("div", {className: "cdp-group", "data-path": path}, [head, list]);
  };

  Builder.prototype.condition = function (leaf, path, group, index) {
    var self = this;
    var kind = kindOf(leaf);
    var line = h("div", {className: "cdp-rule-line"}, [
      choice(KINDS, kind, {className: "cdp-rule-kind", "aria-label": "condition kind"},
             function (chosen) {
               group.children[index] = self.newLeaf(chosen);
               self.structural();
             })]);
    var row = h("div", {className: "cdp-rule-row cdp-rule-" + kind, "data-path": path},
                [line]);
    this[kind](leaf, path, line, row);
    line.appendChild(button("×", "cdp-remove-condition", function () {
      group.children.splice(index, 1);
      self.structural();
    }, "Remove this condition"));
    return row;
  };

  // Condition rows (segment_conditions.js) are methods of the builder.
  Object.keys(R.methods).forEach(function (name) { Builder.prototype[name] = R.methods[name]; });

  // Preview and errors -------------------------------------------------------------------

  Builder.prototype.setPreview = function (text, state) {
    this.preview.textContent = text;
    this.preview.className = "cdp-preview" + (state ? " cdp-preview-" + state : "");
  };

  Builder.prototype.schedulePreview = function () {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.runPreview.bind(this), DEBOUNCE);
  };

  Builder.prototype.runPreview = function () {
    var self = this;
    var scope = this.scope();
    if (!this.catalogue || scope === null || this.isStatic()) { return; }
    var rules;
    try {
      rules = JSON.parse(this.textarea.value || "null");
    } catch (error) {
      this.setPreview("The JSON is not valid: " + error.message, "error");
      return;
    }
    if (this.model && !this.model.children.length) {
      this.clearErrors();
      this.setPreview("Add a condition to see how many people match.", "");
      return;
    }
    var seq = ++this.seq;
    var token = document.querySelector("[name=csrfmiddlewaretoken]");
    this.preview.classList.add("cdp-preview-busy");
    fetch(this.config.previewUrl + "?" + scope, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token ? token.value : ""},
      body: JSON.stringify({rules: rules})
    }).then(function (response) {
      return response.json().then(function (body) {
        return {status: response.status, body: body};
      });
    }).then(function (answer) {
      if (seq !== self.seq) { return; } // a newer preview is on its way
      self.clearErrors();
      if (answer.status === 200) {
        var n = answer.body.count;
        self.setPreview("≈ " + n.toLocaleString("en") +
                        (n === 1 ? " person matches" : " people match"), "count");
      } else if (answer.body && answer.body.error) {
        self.showError(answer.body.error.field || "", answer.body.error.message);
      } else {
        self.setPreview("The preview is not available.", "error");
      }
    }).catch(function () {
      if (seq === self.seq) { self.setPreview("The preview is not available.", "error"); }
    });
  };

  Builder.prototype.clearErrors = function () {
    this.tree.querySelectorAll(".cdp-rule-message").forEach(function (node) { node.remove(); });
    this.tree.querySelectorAll(".cdp-invalid, .cdp-rule-error").forEach(function (node) {
      node.classList.remove("cdp-invalid", "cdp-rule-error");
    });
  };

  /* Mark the deepest element whose path starts the error's field, and say why on its row. */
  Builder.prototype.showError = function (fieldPath, message) {
    var best = null;
    this.tree.querySelectorAll("[data-path]").forEach(function (node) {
      var p = node.getAttribute("data-path");
      var next = fieldPath.charAt(p.length);
      var hit = fieldPath === p || (fieldPath.indexOf(p) === 0 && (next === "." || next === "["));
      if (hit && (!best || p.length > best.getAttribute("data-path").length)) { best = node; }
    });
    this.setPreview("⚠ " + (best ? "" : fieldPath + ": ") + message, "error");
    if (!best) { return; }
    best.classList.add("cdp-invalid");
    var row = best.closest(".cdp-filter-row, .cdp-rule-row, .cdp-group");
    row.classList.add("cdp-rule-error");
    var note = h("div", {className: "cdp-rule-message", text: message});
    if (row.classList.contains("cdp-group")) {
      row.insertBefore(note, row.children[1]);
    } else {
      row.appendChild(note);
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var configNode = document.getElementById("cdp-segment-builder-config");
    var textarea = document.getElementById("id_rules");
    if (!configNode || !textarea) { return; }
    window.cdpSegmentBuilder = new Builder(textarea, JSON.parse(configNode.textContent));
  });
})();
