/* Flow builder: the graph of a draft or paused flow drawn on the drawflow canvas (vendored,
   static/vendor/drawflow), built with clicks. The palette adds an element (after the selected
   one, on its first free exit); boxes are dragged, exits dragged onto inputs (or chosen in the
   side panel) to connect them, each exit labelled with its outcome (next, yes / no,
   met / timeout); the side panel edits the selected element (flow_builder_forms.js). The
   graph lives here as the API's elements / edges lists and is written into the form's two
   JSON fields (hidden; "JSON" shows them) on every change, so the page saves it through the
   same services as the API. The server's errors come back by element key: the box is marked
   and its panel lists them. Undo (button or Ctrl+Z) goes back one change at a time. */
(function () {
  "use strict";

  var F = window.cdpFlowForms;
  var h = F.h, button = F.button;
  var GAP_X = 250, START_X = 30, START_Y = 40, NODE_WIDTH = 180, ROW_HEIGHT = 170;

  function Builder(elementsArea, edgesArea, config) {
    this.elementsArea = elementsArea;
    this.edgesArea = edgesArea;
    this.config = config;
    this.errors = config.errors || {};
    this.catalogue = null;
    this.graph = {elements: [], edges: []};
    this.undoStack = [];
    this.selected = null;
    this.ids = {};      // element key → drawflow node id
    this.keys = {};     // drawflow node id → element key
    this.quiet = false; // while drawing from the model, drawflow's events are ignored
    this.build();
    this.readAreas();
    if (this.overlapping()) this.layout();
    if (this.listErrors.length) this.say(this.listErrors.join(" "));
    this.last = this.snapshot();
    this.draw();
    this.loadCatalogue();
  }

  Builder.prototype.build = function () {
    var self = this;
    var row = this.elementsArea.closest(".form-row");
    this.jsonRows = [row, this.edgesArea.closest(".form-row")];
    this.jsonRows.forEach(function (r) { r.classList.add("cdp-fb-json"); r.hidden = true; });
    var palette = h("div", {className: "cdp-fb-palette", id: "cdp-fb-palette"});
    var group = null;
    var groupNode = null;
    F.PALETTE.forEach(function (item) {
      if (item.group !== group) {
        group = item.group;
        groupNode = h("div", {className: "cdp-fb-group"}, [h("span", {className: "cdp-fb-group-name", text: group})]);
        palette.appendChild(groupNode);
      }
      groupNode.appendChild(button(item.label, "cdp-fb-add", function () { self.add(item); },
                                   "cdp-fb-add-" + item.id));
    });
    this.undoButton = button("Undo", "cdp-fb-undo", function () { self.undo(); }, "cdp-fb-undo");
    this.undoButton.title = "Undo the last change (Ctrl+Z)";
    this.undoButton.disabled = true;
    var zoomIn = button("+", "cdp-fb-zoom", function () { self.editor.zoom_in(); }, "cdp-fb-zoom-in");
    var zoomOut = button("−", "cdp-fb-zoom", function () { self.editor.zoom_out(); }, "cdp-fb-zoom-out");
    zoomIn.title = "Zoom in";
    zoomOut.title = "Zoom out";
    var tidy = button("Tidy up", "cdp-fb-tidy", function () { self.layout(); self.commit(); self.draw(); }, "cdp-fb-tidy");
    tidy.title = "Place the elements in columns, from the trigger on";
    var json = button("JSON", "cdp-fb-json-toggle", function () { self.toggleJson(); }, "cdp-fb-json-toggle");
    json.title = "Show or hide the elements and edges as JSON";
    this.canvas = h("div", {className: "cdp-fb-canvas", id: "cdp-fb-canvas"});
    this.panel = h("div", {className: "cdp-fb-panel", id: "cdp-fb-panel"});
    this.message = h("div", {className: "cdp-fb-message", id: "cdp-fb-message", hidden: true});
    this.root = h("div", {className: "cdp-fb", id: "cdp-flow-builder"}, [
      h("div", {className: "cdp-fb-bar"}, [this.undoButton, zoomOut, zoomIn, tidy, json,
        h("span", {className: "cdp-hint", text: "Add elements from the palette (after the selected one); drag an exit dot onto a box to connect it, or choose where each exit leads in the box's settings."})]),
      this.message,
      palette,
      h("div", {className: "cdp-fb-main"}, [this.canvas, this.panel]),
      h("datalist", {id: "cdp-fb-tags"})]);
    row.parentNode.insertBefore(this.root, row);
    // Errors about the lists as a whole stay in view with the JSON hidden.
    var listErrors = [];
    this.jsonRows.forEach(function (r) {
      r.querySelectorAll(".errorlist li").forEach(function (li) { listErrors.push(li.textContent); });
    });
    this.listErrors = listErrors;

    var editor = new window.Drawflow(this.canvas);
    editor.reroute = false;
    editor.start();
    this.editor = editor;
    editor.on("nodeSelected", function (id) { self.select(self.keys[id] || null); });
    editor.on("nodeUnselected", function () { if (!self.quiet) self.select(null); });
    editor.on("nodeMoved", function (id) { self.moved(id); });
    editor.on("connectionCreated", function (c) { self.connected(c); });
    editor.on("connectionRemoved", function (c) { self.disconnected(c); });
    editor.on("nodeRemoved", function (id) { self.removed(id); });
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z") {
        var tag = event.target.tagName;
        if (tag === "INPUT" || tag === "TEXTAREA") return; // their own undo
        event.preventDefault();
        self.undo();
      }
    });
    [this.elementsArea, this.edgesArea].forEach(function (area) {
      area.addEventListener("change", function () {
        if (self.readAreas()) { self.commit(); self.draw(); }
      });
    });
    var workspace = document.getElementById("id_workspace");
    if (workspace && workspace.tagName === "SELECT") {
      workspace.addEventListener("change", function () { self.loadCatalogue(); });
    }
  };

  Builder.prototype.toggleJson = function () {
    var show = this.jsonRows[0].hidden;
    this.jsonRows.forEach(function (r) { r.hidden = !show; });
  };

  // The model and the form's JSON fields ------------------------------------------------------

  Builder.prototype.readAreas = function () {
    try {
      var elements = JSON.parse(this.elementsArea.value || "[]");
      var edges = JSON.parse(this.edgesArea.value || "[]");
      if (!Array.isArray(elements) || !Array.isArray(edges)) throw new Error("not lists");
      this.graph = {elements: elements.filter(function (e) { return e && typeof e === "object"; }),
                    edges: edges.filter(function (e) { return e && typeof e === "object"; })};
      this.say("");
      return true;
    } catch (e) {
      this.say("The JSON cannot be read (" + e.message + "); the builder shows the last graph that could.");
      return false;
    }
  };

  // An element as it is saved: a branch's empty rule group (conditions still to add) is left
  // out, since the rules say "add at least one condition".
  function saved(el) {
    var rules = el.kind === "branch" && el.config && el.config.rules;
    var group = rules && typeof rules === "object" ? rules[Object.keys(rules)[0]] : null;
    if (!Array.isArray(group) || group.length) return el;
    var config = Object.assign({}, el.config);
    delete config.rules;
    return Object.assign({}, el, {config: config});
  }

  Builder.prototype.writeAreas = function () {
    this.elementsArea.value = JSON.stringify(this.graph.elements.map(saved), null, 2);
    this.edgesArea.value = JSON.stringify(this.graph.edges, null, 2);
  };

  // Boxes on top of each other (a graph made without positions, through the API).
  Builder.prototype.overlapping = function () {
    var seen = {};
    return this.graph.elements.some(function (e) {
      var spot = Math.round((e.positionX || 0) / 50) + ":" + Math.round((e.positionY || 0) / 50);
      if (seen[spot]) return true;
      seen[spot] = true;
      return false;
    });
  };

  // Columns by the distance from the trigger, a row per element in a column.
  Builder.prototype.layout = function () {
    var self = this;
    var depth = {};
    var queue = this.graph.elements.filter(function (e) { return e.kind === "trigger"; })
      .map(function (e) { depth[e.key] = 0; return e.key; });
    for (var guard = 0; queue.length && guard < 10000; guard++) {
      var key = queue.shift();
      this.graph.edges.forEach(function (edge) {
        if (edge.source === key && depth[edge.target] === undefined && self.element(edge.target)) {
          depth[edge.target] = depth[key] + 1;
          queue.push(edge.target);
        }
      });
    }
    var rows = {};
    var deepest = Math.max.apply(null, [0].concat(Object.keys(depth).map(function (k) { return depth[k]; })));
    this.graph.elements.forEach(function (e) {
      var d = depth[e.key] === undefined ? deepest + 1 : depth[e.key];
      rows[d] = (rows[d] || 0) + 1;
      e.positionX = START_X + d * GAP_X;
      e.positionY = START_Y + (rows[d] - 1) * ROW_HEIGHT;
    });
  };

  Builder.prototype.snapshot = function () { return JSON.stringify(this.graph); };

  Builder.prototype.say = function (text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  };

  // While typing: the fields and the box follow, no undo step yet.
  Builder.prototype.changed = function () {
    this.writeAreas();
    if (this.selected) this.paint(this.selected);
  };

  // A change is done: one undo step (the state before it).
  Builder.prototype.commit = function () {
    var now = this.snapshot();
    if (now !== this.last) {
      this.undoStack.push(this.last);
      this.last = now;
    }
    this.undoButton.disabled = !this.undoStack.length;
    this.writeAreas();
    if (this.selected) this.paint(this.selected);
  };

  Builder.prototype.undo = function () {
    if (!this.undoStack.length) return;
    this.last = this.undoStack.pop();
    this.graph = JSON.parse(this.last);
    this.undoButton.disabled = !this.undoStack.length;
    this.writeAreas();
    if (this.selected && !this.element(this.selected)) this.selected = null;
    this.draw();
    this.showPanel();
  };

  Builder.prototype.element = function (key) {
    return this.graph.elements.filter(function (e) { return e.key === key; })[0] || null;
  };

  Builder.prototype.outcomes = function (el) { return F.OUTCOMES[el.kind] || []; };

  Builder.prototype.freeKey = function (base) {
    for (var n = 1; ; n++) if (!this.element(base + n)) return base + n;
  };

  // Palette: a new element, placed right of the selected one and connected from its first
  // free exit (or placed after the last element).
  Builder.prototype.add = function (item) {
    var from = this.selected ? this.element(this.selected) : null;
    var key = this.freeKey(item.key);
    var x = START_X, y = START_Y;
    if (from) {
      var free = this.outcomes(from).filter(function (o) {
        return !this.edgeFrom(from.key, o);
      }, this);
      var taken = this.outcomes(from).length - free.length;
      x = (from.positionX || 0) + GAP_X;
      y = (from.positionY || 0) + (this.outcomes(from).length > 1 ? taken * ROW_HEIGHT : 0);
    } else if (this.graph.elements.length) {
      var last = this.graph.elements[this.graph.elements.length - 1];
      x = (last.positionX || 0) + GAP_X;
      y = last.positionY || START_Y;
    }
    if (x + NODE_WIDTH > this.canvas.clientWidth - 20 && this.graph.elements.length) {
      // The row is full: start a new one below everything.
      x = START_X;
      y = Math.max.apply(null, this.graph.elements.map(function (e) { return e.positionY || 0; })) + ROW_HEIGHT;
    }
    var el = {key: key, kind: item.kind, label: item.label, config: item.config(),
              positionX: Math.round(x), positionY: Math.max(0, Math.round(y))};
    this.graph.elements.push(el);
    if (from && item.kind !== "trigger") {
      var outcome = this.outcomes(from).filter(function (o) { return !this.edgeFrom(from.key, o); }, this)[0];
      if (outcome) this.graph.edges.push({source: from.key, target: key, outcome: outcome});
    }
    this.commit();
    this.draw();
    this.select(key);
  };

  Builder.prototype.edgeFrom = function (key, outcome) {
    return this.graph.edges.filter(function (e) {
      return e.source === key && (e.outcome || "next") === outcome;
    })[0] || null;
  };

  Builder.prototype.connect = function (source, outcome, target) {
    this.graph.edges = this.graph.edges.filter(function (e) {
      return !(e.source === source && (e.outcome || "next") === outcome);
    });
    if (target) this.graph.edges.push({source: source, target: target, outcome: outcome});
    this.commit();
    this.draw();
  };

  Builder.prototype.remove = function (key) {
    this.graph.elements = this.graph.elements.filter(function (e) { return e.key !== key; });
    this.graph.edges = this.graph.edges.filter(function (e) { return e.source !== key && e.target !== key; });
    if (this.selected === key) this.selected = null;
    this.commit();
    this.draw();
    this.showPanel();
  };

  // Drawflow's events --------------------------------------------------------------------------

  Builder.prototype.moved = function (id) {
    var el = this.element(this.keys[id]);
    var node = this.editor.getNodeFromId(id);
    if (!el || !node) return;
    el.positionX = Math.max(0, Math.round(node.pos_x));
    el.positionY = Math.max(0, Math.round(node.pos_y));
    this.commit();
  };

  Builder.prototype.connected = function (c) {
    if (this.quiet) return;
    var source = this.element(this.keys[c.output_id]);
    var target = this.keys[c.input_id];
    if (!source || !target) return;
    var outcome = this.outcomes(source)[parseInt(c.output_class.slice(7), 10) - 1];
    if (outcome) this.connect(source.key, outcome, target);
  };

  Builder.prototype.disconnected = function (c) {
    if (this.quiet) return;
    var source = this.element(this.keys[c.output_id]);
    var target = this.keys[c.input_id];
    if (!source) return;
    var outcome = this.outcomes(source)[parseInt(c.output_class.slice(7), 10) - 1];
    var before = this.graph.edges.length;
    this.graph.edges = this.graph.edges.filter(function (e) {
      return !(e.source === source.key && e.target === target && (e.outcome || "next") === outcome);
    });
    if (this.graph.edges.length !== before) {
      // A box deleted with the Delete key first loses its lines, one event each: the whole
      // deletion is one undo step, taken once drawflow has finished.
      var self = this;
      Promise.resolve().then(function () { self.commit(); });
    }
  };

  Builder.prototype.removed = function (id) {
    if (this.quiet) return;
    var key = this.keys[id];
    if (key) this.remove(key);
  };

  // Drawing ------------------------------------------------------------------------------------

  Builder.prototype.draw = function () {
    var self = this;
    this.quiet = true;
    this.editor.clear();
    this.editor.nodeId = 1;
    this.editor.node_selected = null;
    this.editor.connection_selected = null;
    this.ids = {};
    this.keys = {};
    this.graph.elements.forEach(function (el) {
      var inputs = el.kind === "trigger" ? 0 : 1;
      var outputs = self.outcomes(el).length;
      var id = self.editor.addNode(el.key, inputs, outputs, el.positionX || 0, el.positionY || 0,
                                   "cdp-fb-node cdp-fb-kind-" + el.kind, {}, "");
      self.ids[el.key] = id;
      self.keys[id] = el.key;
      var node = self.canvas.querySelector("#node-" + id);
      node.dataset.key = el.key;
      self.outcomes(el).forEach(function (outcome, i) {
        var dot = node.querySelector(".outputs .output_" + (i + 1));
        dot.dataset.outcome = outcome;
        dot.title = outcome;
      });
      self.paint(el.key);
    });
    this.graph.edges.forEach(function (edge) {
      var source = self.element(edge.source);
      var from = self.ids[edge.source], to = self.ids[edge.target];
      var index = source ? self.outcomes(source).indexOf(edge.outcome || "next") : -1;
      if (from && to && index >= 0 && self.element(edge.target).kind !== "trigger") {
        self.editor.addConnection(from, to, "output_" + (index + 1), "input_1");
      }
    });
    this.quiet = false;
    if (this.selected && this.ids[this.selected]) {
      this.canvas.querySelector("#node-" + this.ids[this.selected]).classList.add("cdp-fb-selected");
    }
  };

  // The words inside one box, and its error mark.
  Builder.prototype.paint = function (key) {
    var el = this.element(key);
    var id = this.ids[key];
    if (!el || !id) return;
    var node = this.canvas.querySelector("#node-" + id);
    var content = node.querySelector(".drawflow_content_node");
    var kind = F.paletteOf(el);
    var errors = this.errors[key] || [];
    content.textContent = "";
    content.appendChild(h("div", {className: "cdp-fb-node-kind", text: kind.label}));
    content.appendChild(h("div", {className: "cdp-fb-node-label", text: el.label || el.key}));
    content.appendChild(h("div", {className: "cdp-fb-node-summary", text: F.summary(el, this.catalogue)}));
    if (errors.length) {
      content.appendChild(h("div", {className: "cdp-fb-node-error", text: errors.join("; ")}));
    }
    node.classList.toggle("cdp-fb-invalid", errors.length > 0);
  };

  Builder.prototype.select = function (key) {
    this.selected = key;
    this.canvas.querySelectorAll(".cdp-fb-selected").forEach(function (n) { n.classList.remove("cdp-fb-selected"); });
    if (key && this.ids[key]) {
      this.canvas.querySelector("#node-" + this.ids[key]).classList.add("cdp-fb-selected");
    }
    this.showPanel();
  };

  // The side panel: the selected element's settings and where its exits lead.
  Builder.prototype.showPanel = function () {
    var self = this;
    this.panel.textContent = "";
    var el = this.selected ? this.element(this.selected) : null;
    if (!el) {
      this.panel.appendChild(h("p", {className: "cdp-hint", text: "Choose an element to see its settings, or add one from the palette."}));
      return;
    }
    var kind = F.paletteOf(el);
    this.panel.appendChild(h("h3", {text: kind.label + " · " + el.key}));
    var errors = this.errors[el.key] || [];
    if (errors.length) {
      this.panel.appendChild(h("ul", {className: "errorlist cdp-fb-errors"},
                               errors.map(function (e) { return h("li", {text: e}); })));
    }
    var trigger = this.graph.elements.filter(function (e) {
      return e.kind === "trigger" && e.config && e.config.type === "event" && e.config.event;
    })[0];
    var ctx = {catalogue: this.catalogue, triggerEvent: trigger ? trigger.config.event : null,
               changed: function () { self.changed(); },
               commit: function () { self.commit(); }};
    F.panel(el, ctx).forEach(function (part) { self.panel.appendChild(part); });
    var outcomes = this.outcomes(el);
    if (outcomes.length) {
      var others = this.graph.elements.filter(function (o) { return o.key !== el.key && o.kind !== "trigger"; })
        .map(function (o) { return {value: o.key, label: (o.label || o.key) + " (" + o.key + ")"}; });
      var exits = h("div", {className: "cdp-fb-exits"}, [h("span", {className: "cdp-fb-caption", text: "Exits"})]);
      outcomes.forEach(function (outcome) {
        var edge = self.edgeFrom(el.key, outcome);
        var pick = F.select("cdp-fb-out-" + outcome, others, edge ? edge.target : "", "— not connected —");
        pick.addEventListener("change", function () { self.connect(el.key, outcome, pick.value); });
        exits.appendChild(h("div", {className: "cdp-fb-field"}, [
          h("label", {htmlFor: pick.id, text: outcome + " →"}), pick]));
      });
      this.panel.appendChild(exits);
    }
    this.panel.appendChild(button("Delete this element", "cdp-fb-delete", function () { self.remove(el.key); },
                                  "cdp-fb-delete"));
  };

  // The workspace's catalogue -----------------------------------------------------------------

  Builder.prototype.loadCatalogue = function () {
    var self = this;
    var url = this.config.catalogueUrl;
    var workspace = document.getElementById("id_workspace");
    if (!this.config.flowId && workspace && workspace.tagName === "SELECT" && !workspace.value) {
      this.catalogue = null;
      this.say("Choose the flow's workspace first: the pickers offer its events and segments.");
      this.showPanel();
      return;
    }
    if (this.config.flowId) url += "?flow=" + encodeURIComponent(this.config.flowId);
    else if (workspace && workspace.value) url += "?workspace=" + encodeURIComponent(workspace.value);
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          self.say((answer.body.error && answer.body.error.message) || "The workspace's catalogue could not be loaded.");
          return;
        }
        self.catalogue = answer.body;
        self.say(self.listErrors.join(" "));
        var tags = self.root.querySelector("#cdp-fb-tags");
        tags.textContent = "";
        (answer.body.tags || []).forEach(function (t) { tags.appendChild(h("option", {value: t})); });
        self.graph.elements.forEach(function (el) { self.paint(el.key); });
        self.showPanel();
        self.root.dataset.ready = "true";
      })
      .catch(function () { self.say("The workspace's catalogue could not be loaded."); });
  };

  // Problems found on activation come back as the page's messages, each naming its element
  // ("Flow: element 'wait1' (wait): …", "… edge a → b (yes): …"): file them by key too.
  var ELEMENT_RE = /element '([A-Za-z0-9_-]{1,32})' \([a-z_]+\)(?:, |: )(.*)$/;
  var EDGE_RE = /edge ([A-Za-z0-9_-]{1,32}) → ([A-Za-z0-9_-]{1,32}) \(([a-z]+)\)(?:, |: )(.*)$/;

  function messageErrors(errors) {
    document.querySelectorAll(".messagelist li.error").forEach(function (li) {
      var text = li.textContent.trim();
      var element = ELEMENT_RE.exec(text), edge = EDGE_RE.exec(text);
      if (element) (errors[element[1]] = errors[element[1]] || []).push(element[2]);
      else if (edge) {
        (errors[edge[1]] = errors[edge[1]] || []).push("exit " + edge[3] + " → " + edge[2] + ": " + edge[4]);
      }
    });
    return errors;
  }

  function start() {
    var elements = document.getElementById("id_graph_elements");
    var edges = document.getElementById("id_graph_edges");
    var configNode = document.getElementById("cdp-flow-builder-config");
    if (!elements || !edges || !configNode || elements.disabled || !window.Drawflow) return;
    var config = JSON.parse(configNode.textContent);
    config.errors = messageErrors(config.errors || {});
    var builder = new Builder(elements, edges, config);
    var firstError = Object.keys(builder.errors)[0];
    if (firstError && builder.element(firstError)) builder.select(firstError);
    else builder.showPanel();
    window.cdpFlowBuilder = builder;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
