/* "Try it" page: one input per property of the chosen definition, kept in sync with the JSON
   textarea (which is what the server reads, so the page still works without this script). */
(function () {
  "use strict";

  function readJson(textarea) {
    try {
      var value = JSON.parse(textarea.value || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch (e) {
      return null; // hand-edited and broken: leave the textarea alone
    }
  }

  function inputFor(prop, value) {
    var input;
    if (prop.type === "boolean") {
      input = document.createElement("select");
      [["", "—"], ["true", "true"], ["false", "false"]].forEach(function (pair) {
        var option = document.createElement("option");
        option.value = pair[0];
        option.textContent = pair[1];
        input.appendChild(option);
      });
      input.value = value === true ? "true" : value === false ? "false" : "";
    } else {
      input = document.createElement("input");
      input.type = prop.type === "number" ? "number" : "text";
      if (prop.type === "number") { input.step = "any"; }
      if (prop.type === "datetime") { input.placeholder = "2024-05-01T12:00:00Z"; }
      input.value = value === undefined || value === null ? "" : String(value);
    }
    input.dataset.key = prop.key;
    input.dataset.type = prop.type;
    return input;
  }

  function convert(input) {
    var raw = input.value;
    if (raw === "") { return undefined; }
    if (input.dataset.type === "number") { return Number(raw); }
    if (input.dataset.type === "boolean") { return raw === "true"; }
    return raw;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var dataNode = document.getElementById("cdp-definition-properties");
    var select = document.getElementById("id_definition");
    var textarea = document.getElementById("id_properties");
    var box = document.getElementById("cdp-property-inputs");
    if (!dataNode || !select || !textarea || !box) { return; }
    var definitions = JSON.parse(dataNode.textContent);

    function sync() {
      var values = {};
      box.querySelectorAll("[data-key]").forEach(function (input) {
        var value = convert(input);
        if (value !== undefined) { values[input.dataset.key] = value; }
      });
      textarea.value = JSON.stringify(values, null, 2);
    }

    function render(rewrite) {
      var props = definitions[select.value] || [];
      var current = readJson(textarea);
      box.textContent = "";
      if (current === null || !props.length) { return; }
      props.forEach(function (prop) {
        var row = document.createElement("div");
        row.className = "cdp-property";
        var label = document.createElement("label");
        label.textContent = prop.name + " (" + prop.key + ", " + prop.type + ")" +
          (prop.required ? " *" : "");
        var input = inputFor(prop, current[prop.key]);
        input.addEventListener("input", sync);
        input.addEventListener("change", sync);
        row.appendChild(label);
        row.appendChild(input);
        box.appendChild(row);
      });
      if (rewrite) { sync(); } // a new definition: keep only its properties
    }

    select.addEventListener("change", function () { render(true); });
    render(false);
  });
})();
