// Modals (issue 16): each is a <dialog data-modal> that HTMX loads into #modal
// (or a page draws open). showModal() makes the page behind inert, keeps Tab
// off it and closes on Escape; this file moves focus in (the first field, else
// the heading), remembers the control that opened it and gives focus back to it
// on close, also after a Save that reloads the page (sessionStorage carries it).
(function () {
  var RETURN_KEY = "calbridge:return-focus";
  var opener = null, openerSelector = null, lastTrigger = null;

  function focusable(el) {
    return !!el && el.isConnected && el !== document.body && typeof el.focus === "function";
  }

  // How to find the opener again once the page is drawn anew (a live refresh, a reload).
  function selectorFor(el) {
    if (!el || !el.getAttribute) return null;
    if (el.id) return "#" + CSS.escape(el.id);
    var attrs = ["hx-get", "href"];
    for (var i = 0; i < attrs.length; i++) {
      var v = el.getAttribute(attrs[i]);
      if (v) return el.tagName.toLowerCase() + "[" + attrs[i] + "=\"" + CSS.escape(v) + "\"]";
    }
    return null;
  }

  function findBySelector(sel) {
    if (!sel) return null;
    try {
      var found = document.querySelector(sel);
      return found && !found.closest("dialog[data-modal]") ? found : null;
    } catch (err) {
      return null;
    }
  }

  function firstField(d) {
    var auto = d.querySelector("[autofocus]");
    if (auto) return auto;
    var field = d.querySelector("input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])");
    if (field) return field;
    var heading = d.querySelector("#" + CSS.escape(d.getAttribute("aria-labelledby") || "")) || d.querySelector("h1, h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      return heading;
    }
    return d;
  }

  function show(d) {
    if (d.matches(":modal")) return;
    var before = document.activeElement;
    if (!opener) {
      opener = focusable(lastTrigger) ? lastTrigger : (focusable(before) && !d.contains(before) ? before : null);
      openerSelector = selectorFor(opener);
    }
    lastTrigger = null;
    if (d.open) d.close();  // drawn open by the page (works without script): reopen it as a modal
    d.showModal();
    // A dialog drawn again (a form's answer) keeps the field the user was in; a new one starts at its first field.
    (before && before.id && d.contains(before) ? before : firstField(d)).focus();
  }

  function giveFocusBack() {
    var back = focusable(opener) ? opener : findBySelector(openerSelector);
    opener = null;
    openerSelector = null;
    (back || document.getElementById("content") || document.body).focus();
  }

  function close(d) {
    if (d.open) d.close();  // the "close" listener below removes it and gives focus back
    else d.remove();
  }

  function each(root, fn) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("dialog[data-modal]")) fn(root);
    Array.prototype.forEach.call(root.querySelectorAll("dialog[data-modal]"), fn);
  }

  // Escape, a Close/Cancel control or the backdrop: the dialog goes and focus returns to its opener.
  document.addEventListener("close", function (e) {
    var d = e.target;
    if (!d.matches || !d.matches("dialog[data-modal]") || d.open) return;
    if (d.isConnected) d.remove();
    if (!document.querySelector("dialog[data-modal][open]")) giveFocusBack();
  }, true);

  // [data-close-modal]: a Cancel/close control, or on the dialog itself a click on its backdrop.
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-close-modal]");
    var d = el && el.closest("dialog[data-modal]");
    if (!d) return;
    if (el === d) {
      var r = d.getBoundingClientRect();
      var inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
      if (e.target !== d || inside) return;
    }
    e.preventDefault();
    close(d);
  });

  // A modal dialog keeps Tab off the page behind, but past its last control Chromium hands focus to
  // the browser's own toolbar: wrap around instead, so Tab and Shift+Tab cycle inside the dialog.
  var TABBABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), " +
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Tab") return;
    var d = document.querySelector("dialog[data-modal]:modal");
    if (!d) return;
    var all = Array.prototype.filter.call(d.querySelectorAll(TABBABLE), function (el) {
      return el.getClientRects().length > 0;
    });
    if (!all.length) { e.preventDefault(); return; }
    var first = all[0], last = all[all.length - 1], active = document.activeElement;
    var before = active === first || !d.contains(active) ||
      !!(first.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_PRECEDING);
    var after = active === last || !d.contains(active) ||
      !!(last.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (e.shiftKey && before) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && after) { e.preventDefault(); first.focus(); }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.target && e.detail.target.id === "modal") lastTrigger = e.detail.elt;
  });

  // Leaving the page from a dialog (a Save that redirects, a plain form post): remember where to come back.
  function rememberReturn(elt) {
    if (!elt || !elt.closest || !elt.closest("dialog[data-modal]") || !openerSelector) return;
    try { sessionStorage.setItem(RETURN_KEY, openerSelector); } catch (err) { /* private mode: no return */ }
  }
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    if (e.detail.xhr.getResponseHeader("HX-Redirect") || e.detail.xhr.getResponseHeader("HX-Refresh")) rememberReturn(e.detail.elt);
  });
  document.addEventListener("submit", function (e) {
    if (!e.defaultPrevented && !e.target.hasAttribute("hx-post")) rememberReturn(e.target);
  });

  function start() {
    var sel = null;
    try {
      sel = sessionStorage.getItem(RETURN_KEY);
      sessionStorage.removeItem(RETURN_KEY);
    } catch (err) { /* no storage */ }
    var back = findBySelector(sel);
    if (back) {
      opener = back;
      openerSelector = sel;
    }
    each(document, show);
    if (back && !document.querySelector("dialog[data-modal][open]")) giveFocusBack();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:load", function (e) {
    if (e.target !== document.body) each(e.target, show);
  });
})();
