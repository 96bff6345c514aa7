// Small behaviour HTMX does not cover: showing the server's message when an
// HTMX request is refused (409) instead of dropping it, and the pages' few
// handlers; the announcement of new bookings and the live poll are below,
// the modals in dialogs.js. They live here, not inline, because the
// Content-Security-Policy allows no inline script, no inline style and no
// eval (so no hx-on attributes).
(function () {
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

// New bookings in a live region ([data-live]) are announced politely in
// #live-announcer ("1 new booking: Intro call with Ann at 9:00 AM on …"), from
// the rows' data-announce text, instead of the whole list being read again.
(function () {
  var seen = null, MAX_NAMED = 3;

  function mark(root, fresh) {
    var items = root.querySelectorAll ? root.querySelectorAll("[data-announce-id]") : [];
    if (root.hasAttribute && root.hasAttribute("data-announce-id")) items = [root].concat(Array.prototype.slice.call(items));
    Array.prototype.forEach.call(items, function (el) {
      var id = el.getAttribute("data-announce-id");
      if (seen[id]) return;
      seen[id] = true;
      if (fresh) fresh.push(el.getAttribute("data-announce"));
    });
  }

  function say(texts) {
    var box = document.getElementById("live-announcer");
    if (!box || !texts.length) return;
    var n = texts.length;
    var named = texts.slice(0, MAX_NAMED).join("; ");
    var more = n > MAX_NAMED ? "; and " + (n - MAX_NAMED) + " more" : "";
    var text = n + (n === 1 ? " new booking: " : " new bookings: ") + named + more + ".";
    // A polite region announces a change of its text; emptying it first makes the same words count again.
    box.textContent = "";
    window.requestAnimationFrame(function () { box.textContent = text; });
  }

  function start() {
    seen = {};
    mark(document, null);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  document.addEventListener("htmx:load", function (e) {
    if (seen === null || e.target === document.body) return;
    var live = e.target.closest && e.target.closest("[data-live]");
    var fresh = live ? [] : null;  // rows drawn by the user's own navigation are not news
    mark(e.target, fresh);
    if (fresh) say(fresh.filter(Boolean));
  });
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
