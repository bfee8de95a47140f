(function () {
  "use strict";
  // Sortable tables: a button in each header; numbers come from data-v, text from the cell.
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) return numeric ? -Infinity : "";
    var v = cell.getAttribute("data-v");
    if (v === null) v = cell.textContent.trim();
    if (numeric) { var n = parseFloat(v); return isNaN(n) ? -Infinity : n; }
    return v.toLowerCase();
  }
  function makeSortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
          var c = x < y ? -1 : x > y ? 1 : 0;
          return asc ? c : -c;
        });
        var frag = document.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r); });
        body.appendChild(frag);
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);

  // Rule filters; shown only when scripts run, so the page without JS has no dead controls.
  var table = document.getElementById("rule-table");
  var box = document.getElementById("rule-filters");
  if (!table || !box) return;
  box.hidden = false;
  var text = document.getElementById("f-text");
  var status = document.getElementById("f-status");
  var severity = document.getElementById("f-severity");
  var count = document.getElementById("f-count");
  var samples = document.getElementById("f-samples");
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  function apply() {
    var q = text.value.trim().toLowerCase(), st = status.value, sv = severity.value, shown = 0;
    rows.forEach(function (row) {
      var rs = row.getAttribute("data-status");
      var ok = (!q || row.getAttribute("data-q").indexOf(q) !== -1) &&
        (!st || rs === st || (st === "problem" && (rs === "failed" || rs === "error"))) &&
        (!sv || row.getAttribute("data-severity") === sv);
      row.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = "Showing " + shown + " of " + rows.length + " rules";
  }
  text.addEventListener("input", apply);
  status.addEventListener("change", apply);
  severity.addEventListener("change", apply);
  samples.addEventListener("click", function () {
    var open = samples.getAttribute("aria-pressed") !== "true";
    samples.setAttribute("aria-pressed", open ? "true" : "false");
    samples.textContent = open ? "Collapse all samples" : "Expand all samples";
    Array.prototype.forEach.call(table.querySelectorAll("details"), function (d) { d.open = open; });
  });
  apply();
})();
