// Small behaviour HTMX does not cover: closing the modal, showing the server's
// message when an HTMX request is refused (409) instead of dropping it, and the
// pages' few handlers. They live here, not inline, because the Content-Security-Policy
// allows no inline script, no inline style and no eval (so no hx-on attributes).
(function () {
  function closeModal() {
    var modal = document.getElementById("modal");
    if (modal && modal.firstElementChild) {
      modal.innerHTML = "";
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closeModal();
  });

  // [data-close-modal]: a Cancel/close control, or the backdrop itself (clicks inside the dialog don't count).
  document.addEventListener("click", function (e) {
    var el = e.target.closest("[data-close-modal]");
    if (!el || !el.closest("#modal")) return;
    if (el.classList.contains("modal-backdrop") && e.target !== el) return;
    e.preventDefault();
    closeModal();
  });

  // A background request that ended on the sign-in page (the session expired):
  // go there for real instead of drawing the sign-in form inside a list.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var landed = e.detail.xhr.responseURL || "";
    if (landed.indexOf("/signin") !== -1 && window.location.pathname !== "/signin") {
      e.detail.shouldSwap = false;
      window.location.assign(landed);
    }
  });

  // HTMX does not swap 4xx bodies by default. The server marks the ones meant
  // for the user (409 conflicts, 422 form errors) with HX-Retarget/its target.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status === 409 || status === 422) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // The selection modal's form swaps its 4xx answers too (the form with the server's message).
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status >= 400 && e.target.closest && e.target.closest("[data-swap-errors]")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // <select data-autosubmit>: choosing an option submits its form (a Switch button is in <noscript>).
  document.addEventListener("change", function (e) {
    var el = e.target.closest && e.target.closest("select[data-autosubmit]");
    if (el && el.form) el.form.requestSubmit();
  });

  // Save is enabled once the choices a form needs are made.
  document.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form");
    if (!form) return;
    if (form.hasAttribute("data-selection-form")) {
      // The first Save needs a calendar and consent; Edit with nothing ticked saves into the Disconnect offer.
      var consent = form.querySelector("input[name=consent]");
      var ticked = !!form.querySelector("input[name=event_type]:checked");
      var ok = consent ? ticked && consent.checked : true;
      form.querySelector("button[type=submit]").disabled = !ok;
      form.querySelector(".selection-hint").hidden = consent ? ok : ticked;
    } else if (form.hasAttribute("data-removal-form")) {
      var answered = Array.prototype.every.call(form.querySelectorAll(".removal-choice"), function (g) {
        return g.querySelector("input:checked");
      });
      form.querySelector(".js-submit").disabled = !answered;
    }
  });

  // Progress bars: <span data-percent="40"> gets its width here (an inline style attribute is not allowed).
  function drawProgress(root) {
    var bars = root.querySelectorAll ? root.querySelectorAll("[data-percent]") : [];
    Array.prototype.forEach.call(bars, function (bar) {
      var pct = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-percent")) || 0));
      bar.style.width = pct + "%";
    });
  }
  // The calendar's time grid opens scrolled to its first hour of interest ([data-scroll-here], chosen by the server).
  function scrollCalendar(root) {
    var grids = root.querySelectorAll ? root.querySelectorAll("[data-scroll-calendar]") : [];
    Array.prototype.forEach.call(grids, function (grid) {
      var here = grid.querySelector("[data-scroll-here]");
      var head = grid.querySelector(".tg-head");
      if (!here) return;
      grid.scrollTop += here.getBoundingClientRect().top - grid.getBoundingClientRect().top - (head ? head.offsetHeight : 0) - 10;
    });
  }
  if (window.htmx) {
    window.htmx.onLoad(scrollCalendar);
  } else {
    document.addEventListener("DOMContentLoaded", function () { scrollCalendar(document); });
  }

  if (window.htmx) {
    window.htmx.onLoad(drawProgress);  // the page, then every swapped-in fragment
  } else {
    document.addEventListener("DOMContentLoaded", function () { drawProgress(document); });
  }
})();

// Live pages (portal/live.py): while the page has a [data-live] region, ask the
// body's data-live-url every POLL ms with the last version seen. 204 means
// nothing changed; a new version fires "calbridge:changed" on document, which
// the regions (and any other script) listen to. A failed ask (the server is
// restarting) backs off to a few seconds and, once answered, fires the event
// too, so the page catches up by itself.
(function () {
  var POLL = 450, HIDDEN = 3000, MAX_BACKOFF = 4000;
  var url = document.body && document.body.getAttribute("data-live-url");
  if (!url || !window.fetch) return;
  // The version the page was drawn at: a change between drawing and the first ask still counts.
  var version = document.body.getAttribute("data-live-version"), failing = false, backoff = POLL, timer = null, inFlight = false;

  function changed(reason) {
    document.dispatchEvent(new CustomEvent("calbridge:changed", {detail: {version: version, reason: reason}}));
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(ask, ms);
  }

  function ask() {
    if (!document.querySelector("[data-live]")) { schedule(HIDDEN); return; }
    if (inFlight) return;
    inFlight = true;
    var q = url + (version === null ? "" : "&v=" + encodeURIComponent(version));
    fetch(q, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        if (r.status === 204) return null;
        if (r.status === 200) return r.text();
        // Signed out (the session ended): the regions ask again, land on the sign-in page and go there.
        if (r.status === 401 && !failing) changed("signed-out");
        throw new Error("live " + r.status);
      })
      .then(function (text) {
        var recovered = failing;
        failing = false;
        backoff = POLL;
        if (text !== null && text !== version) {
          var first = version === null;
          version = text;
          if (!first) changed("version");
          else if (recovered) changed("recovered");
        } else if (recovered) {
          changed("recovered");
        }
      }, function () {
        failing = true;
        backoff = Math.min(MAX_BACKOFF, Math.max(1000, backoff * 2));
      })
      .then(function () {
        inFlight = false;
        schedule(failing ? backoff : (document.hidden ? HIDDEN : POLL));
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !inFlight) schedule(0);
  });
  schedule(POLL);
})();
