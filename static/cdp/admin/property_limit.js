/* The property limit of a custom definition, said where the "Add another Property" link
 * disappears: the note under the properties (templates/admin/events/eventdefinition/
 * property_inline.html) counts the rows after each add or remove and, at the limit, says
 * that no more can be added. */
"use strict";
(function () {
  function update(note) {
    const prefix = note.dataset.prefix;
    const max = parseInt(note.dataset.max, 10);
    const total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    if (!total) return;
    const count = parseInt(total.value, 10);
    const full = count >= max;
    note.classList.toggle("cdp-limit-reached", full);
    note.textContent = full
      ? "A custom definition has at most " + max + " custom properties: " +
        "this one has all " + max + ", so no more can be added."
      : "A custom definition has at most " + max + " custom properties (rows: " + count + " of " + max + ").";
  }

  function start() {
    const note = document.getElementById("cdp-property-limit");
    if (!note) return;
    update(note);
    // Django's inlines.js sends "formset:removed" before it lowers TOTAL_FORMS: count after.
    const later = () => setTimeout(() => update(note), 0);
    document.addEventListener("formset:added", later);
    document.addEventListener("formset:removed", later);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
