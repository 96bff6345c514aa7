// Small behaviour HTMX does not cover: closing the modal, and showing the
// server's message when an HTMX request is refused (409) instead of dropping it.
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
})();
