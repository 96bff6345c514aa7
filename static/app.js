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

// Says ``text`` politely in #live-announcer. A polite region announces a change of its text;
// emptying it first makes the same words count again.
function announce(text) {
  var box = document.getElementById("live-announcer");
  if (!box) return;
  box.textContent = "";
  window.requestAnimationFrame(function () { box.textContent = text; });
}

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
    if (!texts.length) return;
    var n = texts.length;
    var named = texts.slice(0, MAX_NAMED).join("; ");
    var more = n > MAX_NAMED ? "; and " + (n - MAX_NAMED) + " more" : "";
    announce(n + (n === 1 ? " new booking: " : " new bookings: ") + named + more + ".");
  }

  function start() {
    seen = {};
    mark(document, null);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  document.addEventListener("calbridge:merged", function (e) {
    if (seen === null) return;
    var fresh = [];
    mark(e.target, fresh);
    say(fresh.filter(Boolean));
  });

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
//
// Live lists ([data-live-list], the Calendars list) are drawn once per version for every open page
// (portal/live_fragments.py). A page whose only live region is a list names its data-live-key in the
// poll; the answer to a new version carries the list when some page has drawn it already, so most
// pages make one request per poll and never a second (issue 19, figure 2: with 50 open pages each
// browser request costs ~5 ms of Chromium's CPU, which was most of the machine). Otherwise the list
// asks data-live-list (204 while its fingerprint holds). A changed list is merged row by row (rows
// keyed by data-id): unchanged rows stay in the DOM, a new one is inserted, a changed one replaced,
// a gone one removed, instead of the whole table built again.
(function () {
  var POLL = 450, HIDDEN = 3000, MAX_BACKOFF = 4000;
  var url = document.body && document.body.getAttribute("data-live-url");
  if (!url || !window.fetch) return;
  // The version the page was drawn at: a change between drawing and the first ask still counts.
  var version = document.body.getAttribute("data-live-version"), failing = false, backoff = POLL, timer = null, inFlight = false;

  // ------------------------------------------------------------ live lists
  var lists = {};  // id -> {busy, again}: at most one request per list in flight; a change meanwhile asks once more

  function rowsById(tbody) {
    var found = {};
    Array.prototype.forEach.call(tbody.children, function (tr) {
      if (tr.getAttribute("data-id")) found[tr.getAttribute("data-id")] = tr;
    });
    return found;
  }

  // Lists and rows are compared as the server drew them (static/responsive.js later adds column names
  // and classes to the DOM, which are no change): each keeps its server HTML from when it was drawn.
  // The pager is compared apart from the rest: its Next link names the last row, so it changes with
  // nearly every booking, and the table around the rows should not be built again for that.
  function shellOf(list, tbody) {
    var html = list.innerHTML.replace(tbody.outerHTML, ""), pager = list.querySelector(".pager");
    return pager ? html.replace(pager.outerHTML, "<pager>") : html;  // a pager come or gone is a change of shell
  }
  function remember(list) {
    var tbody = list.querySelector("tbody"), pager = list.querySelector(".pager");
    list.__shell = tbody ? shellOf(list, tbody) : null;
    if (pager) pager.__html = pager.outerHTML;
    if (tbody) Array.prototype.forEach.call(tbody.children, function (tr) { tr.__html = tr.outerHTML; });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-live-list]"), remember);

  // Shows ``rows`` in this order in ``tbody``: rows already there stay in the DOM, the others go.
  function placeRows(tbody, rows) {
    Array.prototype.slice.call(tbody.children).forEach(function (tr) {
      if (tr.getAttribute("data-id") && rows.indexOf(tr) === -1) tr.remove();
    });
    rows.forEach(function (tr, i) {
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
  }

  // The pager as the server drew it now (replaced only when its links differ).
  function takePager(pager, freshPager) {
    if (!pager || !freshPager || pager.__html === freshPager.outerHTML) return;
    freshPager.__html = freshPager.outerHTML;
    pager.replaceWith(freshPager);
  }

  function mergeRows(tbody, fresh) {
    var kept = rowsById(tbody);
    placeRows(tbody, Array.prototype.map.call(fresh.children, function (tr) {
      var was = kept[tr.getAttribute("data-id")];
      tr.__html = tr.outerHTML;
      return was && was.__html === tr.__html ? was : tr;
    }));
  }

  function merge(list, fresh) {
    var tbody = list.querySelector("tbody"), freshBody = fresh.querySelector("tbody");
    var freshShell = freshBody ? shellOf(fresh, freshBody) : null;
    // Anything but the rows and the pager's links differs (a pager come or gone, the empty state, the caption):
    // take the server's list whole.
    var now = list;
    if (!tbody || !freshBody || list.__shell == null || list.__shell !== freshShell) {
      remember(fresh);
      list.replaceWith(fresh);
      now = fresh;
    } else {
      mergeRows(tbody, freshBody);
      takePager(list.querySelector(".pager"), fresh.querySelector(".pager"));
      Array.prototype.forEach.call(fresh.attributes, function (a) { list.setAttribute(a.name, a.value); });
    }
    // The announcer above says which rows are new (the merge is not an htmx swap, so no htmx:load).
    now.dispatchEvent(new CustomEvent("calbridge:merged", {bubbles: true}));
  }

  // A stream event's ``changes`` (portal/appointments/live_list.py) for a list still drawn as ``changes.from``:
  // only the new and changed rows are parsed, the others stay as they are. False when they do not fit the
  // page (it then takes the event's whole list).
  function applyChanges(list, changes, fingerprint) {
    var tbody = list.querySelector("tbody");
    if (!tbody || list.getAttribute("data-live-fingerprint") !== changes.from) return false;
    var kept = rowsById(tbody), ids = Object.keys(changes.rows), fresh = {};
    if (ids.length) {
      var holder = document.createElement("template");
      holder.innerHTML = "<table><tbody>" + ids.map(function (id) { return changes.rows[id]; }).join("") + "</tbody></table>";
      Array.prototype.forEach.call(holder.content.querySelector("tbody").children, function (tr) {
        tr.__html = tr.outerHTML;
        fresh[tr.getAttribute("data-id")] = tr;
      });
    }
    var pager = list.querySelector(".pager"), freshPager = null;
    if (changes.pager !== null) {
      if (!pager) return false;
      var box = document.createElement("template");
      box.innerHTML = changes.pager;
      freshPager = box.content.firstElementChild;
    }
    if (!changes.order.every(function (id) { return fresh[id] || kept[id]; })) return false;
    placeRows(tbody, changes.order.map(function (id) { return fresh[id] || kept[id]; }));
    takePager(pager, freshPager);
    list.setAttribute("data-live-fingerprint", fingerprint);
    if (changes.list_url) list.setAttribute("data-live-list", changes.list_url);
    list.dispatchEvent(new CustomEvent("calbridge:merged", {bubbles: true}));
    return true;
  }

  // Resolves once the list is current (or gone); rejects when the server could not answer.
  function refreshList(id) {
    var s = lists[id] || (lists[id] = {busy: false, again: false});
    var list = document.getElementById(id);
    if (!list || !list.hasAttribute("data-live-list")) return Promise.resolve();
    if (s.busy) { s.again = true; return Promise.resolve(); }
    s.busy = true;
    return fetch(list.getAttribute("data-live-list"), {credentials: "same-origin", cache: "no-store",
                                                       headers: {"HX-Request": "true"}})
      .then(function (r) {
        // The session ended: go to the sign-in page for real instead of drawing it inside the list.
        if (r.redirected && r.url.indexOf("/signin") !== -1) { window.location.assign(r.url); return null; }
        if (r.status === 204) return null;
        if (r.status !== 200) throw new Error("live list " + r.status);
        return r.text();
      })
      .then(function (text) {
        if (!text) return;
        var holder = document.createElement("template");
        holder.innerHTML = text;
        var fresh = holder.content.getElementById(id), current = document.getElementById(id);
        if (fresh && current) merge(current, fresh);
      })
      .then(function () { s.busy = false; }, function (err) { s.busy = false; s.again = false; throw err; })
      .then(function () {
        if (s.again) { s.again = false; return refreshList(id); }
      });
  }

  function refreshLists() {
    var ids = Array.prototype.map.call(document.querySelectorAll("[data-live-list]"), function (l) { return l.id; });
    return Promise.all(ids.filter(Boolean).map(refreshList));
  }

  document.addEventListener("calbridge:changed", function () { refreshLists().catch(function () {}); });

  // ------------------------------------------------------------ the poll
  function changed(reason) {
    document.dispatchEvent(new CustomEvent("calbridge:changed", {detail: {version: version, reason: reason}}));
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(ask, ms);
  }

  // The list whose key goes with the poll: a page whose only live regions are lists (the Calendars list).
  function keyedList() {
    if (document.querySelector("[data-live]:not([data-live-list])")) return null;
    return document.querySelector("[data-live-list][data-live-key]");
  }

  function fromPoll(list, answer) {
    if (answer.html === null) return refreshList(list.id);  // no page has drawn it at this version yet
    if (answer.fingerprint === list.getAttribute("data-live-fingerprint")) return null;
    var holder = document.createElement("template");
    holder.innerHTML = answer.html;
    var fresh = holder.content.getElementById(list.id);
    if (fresh) merge(list, fresh);
    return null;
  }

  function askVersion() {
    var list = keyedList();
    var q = url + (version === null ? "" : "&v=" + encodeURIComponent(version)) +
      (list ? "&k=" + encodeURIComponent(list.getAttribute("data-live-key")) : "");
    return fetch(q, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        if (r.status === 204) return null;
        if (r.status === 200) return list ? r.json() : r.text().then(function (v) { return {version: v}; });
        // Signed out (the session ended): the regions ask again, land on the sign-in page and go there.
        if (r.status === 401 && !failing) changed("signed-out");
        throw new Error("live " + r.status);
      })
      .then(function (answer) {
        var recovered = failing;
        if (answer !== null && answer.version !== version) {
          var first = version === null;
          version = answer.version;
          if (list && answer.html !== undefined) return fromPoll(list, answer);
          if (!first) changed("version");
          else if (recovered) changed("recovered");
        } else if (recovered) {
          changed("recovered");
        }
      });
  }

  function ask() {
    if (streaming) return;  // the stream says when something changed
    if (!document.querySelector("[data-live]")) { schedule(HIDDEN); return; }
    if (inFlight) return;
    inFlight = true;
    askVersion()
      .then(function () {
        failing = false;
        backoff = POLL;
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
    if (!document.hidden && !inFlight && !streaming) schedule(0);
  });

  // ------------------------------------------------------------ the stream
  // With the live process (data-live-stream, portal/live_stream.py) the page polls only while its event
  // stream is not open: each change arrives as one event, a live list's new rows inside it, so an open
  // page makes no request at all to stay current. A refused or broken stream falls back to the poll and
  // is opened again after a growing pause; once it is, the regions fetch themselves to catch up.
  // A browser opens at most 6 connections to one host:port, so a seventh tab's stream would wait, silent,
  // for one of them: a stream not open within STREAM_WAIT ms is given up for the poll and tried again later.
  // The live process pings every 15 s; a stream silent for SILENT ms is dead (a half-open connection) and opened again.
  var STREAM_WAIT = 3000, SILENT = 40000, LEAN_RETRY = 5000, heardAt = 0, reopenedAt = 0;
  var streamUrl = document.body.getAttribute("data-live-stream"), source = null, streaming = false, streamFailures = 0;

  function openStream() {
    if (!streamUrl || !window.EventSource || !document.querySelector("[data-live]")) return false;
    var list = keyedList();
    var opening = new EventSource(streamUrl + "&v=" + encodeURIComponent(version || "") +
      (list ? "&list=" + encodeURIComponent(list.getAttribute("data-live-list")) : ""), {withCredentials: true});
    source = opening;
    var waited = setTimeout(function () {
      if (source === opening && !streaming) opening.dispatchEvent(new Event("error"));
    }, STREAM_WAIT);
    source.addEventListener("ping", function () { heardAt = Date.now(); });
    source.addEventListener("open", function () {
      var recovered = failing || streamFailures > 0;
      heardAt = Date.now();
      clearTimeout(waited);
      streaming = true;
      streamFailures = 0;
      clearTimeout(timer);
      if (recovered) { failing = false; changed("recovered"); }
    });
    source.addEventListener("changed", function (e) {
      var answer = JSON.parse(e.data), shown = keyedList();
      heardAt = Date.now();
      if (shown && answer.changes && applyChanges(shown, answer.changes, answer.fingerprint)) { version = answer.version; return; }
      if (shown && typeof answer.html === "string") { version = answer.version; fromPoll(shown, answer); return; }
      // Only changes, for a list this page no longer shows (it was fetched meanwhile): the stream thinks the page
      // is at its last event. A stream opened again names the list the page does show, and, the version left as
      // it was, sends at once: the whole list, or changes that fit. Again within LEAN_RETRY ms: fetch the list.
      if (shown && answer.changes && Date.now() - reopenedAt > LEAN_RETRY) { reopenedAt = Date.now(); reopen(); return; }
      version = answer.version;
      changed("version");
    });
    source.addEventListener("renew", reopen);
    source.addEventListener("error", function () {
      if (source !== opening) return;
      clearTimeout(waited);
      source.close();
      source = null;
      streaming = false;
      streamFailures += 1;
      schedule(0);
      // Pages that lost the same live process do not all come back in the same second.
      var pause = Math.min(30000, 1000 * Math.pow(2, Math.min(streamFailures, 5)));
      setTimeout(openStream, pause * (0.5 + Math.random()));
    });
    return true;
  }

  function reopen() {
    source.close();
    streaming = false;
    if (!openStream()) schedule(0);
  }

  setInterval(function () {
    if (streaming && source && Date.now() - heardAt > SILENT) source.dispatchEvent(new Event("error"));
  }, 10000);

  if (!openStream()) schedule(POLL);
})();

// A search answer swapped in by htmx ([data-announce-found], the contacts search) says its count in
// #live-announcer ("12 contacts found"), so a screen reader hears that on each search, not the whole list.
(function () {
  document.addEventListener("htmx:load", function (e) {
    var el = e.target.closest && e.target.closest("[data-announce-found]");
    if (!el || e.target === document.body) return;
    announce(el.getAttribute("data-announce-found"));
  });
})();
