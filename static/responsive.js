// Narrow screens (the "responsive" block of app.css): the Menu button that folds the
// main navigation, and the column names each table cell shows once a table is
// stacked into rows on a phone. Without this script the navigation stays open and
// tables scroll sideways inside their box, so nothing is lost.
(function () {
  var nav = document.querySelector(".sidebar");
  var button = nav && nav.querySelector(".menu-toggle");

  function setOpen(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("is-open", open);
  }

  if (button) {
    nav.classList.add("has-menu");  // the CSS folds the links only once the button works
    button.hidden = false;
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    // Escape inside the open menu folds it and puts focus back on Menu (an open modal handles its own Escape).
    nav.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && nav.classList.contains("is-open") && window.getComputedStyle(button).display !== "none") {
        setOpen(false);
        button.focus();
      }
    });
  }

  // Each body cell gets data-label = its column's heading; the CSS shows it before the cell when stacked.
  // Tables of fewer than three columns, and the month grid, stay tables.
  function labelTables(root) {
    var tables = root.querySelectorAll ? root.querySelectorAll("table") : [];
    if (root.tagName === "TABLE") tables = [root];
    Array.prototype.forEach.call(tables, function (table) {
      if (table.classList.contains("cal-month") || table.hasAttribute("data-no-stack")) return;
      var heads = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : null;
      if (!heads) return;
      var names = [];
      Array.prototype.forEach.call(heads.cells, function (th) {
        var span = th.colSpan || 1;
        for (var i = 0; i < span; i++) names.push(th.textContent.replace(/\s+/g, " ").trim());
      });
      if (names.length < 3) return;
      table.classList.add("stackable");
      table.setAttribute("data-columns", names.length);
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          // A live list's merge (app.js) keeps the rows that did not change: they are labelled already.
          if (row.__labelled === names.length) return;
          row.__labelled = names.length;
          var col = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            var span = cell.colSpan || 1;
            // A row heading names itself; a cell across the whole row (an empty-state line) needs no column name.
            if (cell.tagName === "TD" && span < names.length && names[col]) cell.setAttribute("data-label", names[col]);
            else cell.removeAttribute("data-label");
            // A cell with nothing in it (no action for this row) is left out of the stacked row.
            cell.toggleAttribute("data-empty", !cell.textContent.trim() && !cell.querySelector("input, select, button, a, svg"));
            col += span;
          });
        });
      });
    });
  }

  // Up to 900 px a labelled table stacks when it does not fit its box (measured unstacked each time the box
  // changes width); on a phone one of four columns or more stacks anyway, so lists read alike; on a laptop none does.
  var phone = window.matchMedia("(max-width: 600px)"), narrow = window.matchMedia("(max-width: 900px)");

  function stack(table) {
    // Wider than 900 px nothing stacks: no need to measure (reading the box's width forces a layout).
    if (!narrow.matches) { if (table.classList.contains("is-stacked")) table.classList.remove("is-stacked"); return; }
    var box = table.parentElement, style = window.getComputedStyle(box);
    var room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    table.classList.remove("is-stacked");
    var wide = table.getAttribute("data-columns") >= 4;
    if ((phone.matches && wide) || (narrow.matches && table.offsetWidth > room + 1)) table.classList.add("is-stacked");
  }

  var fit = window.ResizeObserver && new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var box = entry.target, width = Math.round(entry.contentRect.width);
      if (box._stackWidth === width) return;  // a height change (from stacking itself) is no reason to measure
      box._stackWidth = width;
      Array.prototype.forEach.call(box.children, function (el) {
        if (el.classList.contains("stackable")) stack(el);
      });
    });
  });

  function watchFit(root) {
    var tables = root.querySelectorAll ? root.querySelectorAll("table.stackable") : [];
    if (root.tagName === "TABLE" && root.classList.contains("stackable")) tables = [root];
    Array.prototype.forEach.call(tables, function (table) {
      stack(table);
      if (fit && table.__fitted !== table.parentElement) {
        table.__fitted = table.parentElement;  // a merged list keeps its table: observed once
        table.parentElement._stackWidth = null;
        fit.observe(table.parentElement);
      }
    });
  }

  function onLoad(root) {
    labelTables(root);
    watchFit(root);
  }

  // A live list merged row by row (app.js) is no htmx swap: its new rows get their column names here.
  document.addEventListener("calbridge:merged", function (e) { onLoad(e.target); });

  if (window.htmx) {
    window.htmx.onLoad(onLoad);  // the page, then every swapped-in fragment (live regions redraw rows)
  } else {
    document.addEventListener("DOMContentLoaded", function () { onLoad(document); });
  }
})();
