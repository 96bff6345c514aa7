// Small behaviour HTMX does not cover: closing the modal with Escape.
document.addEventListener("keydown", function (e) {
  if (e.key === "Escape") {
    var modal = document.getElementById("modal");
    if (modal && modal.firstElementChild) modal.innerHTML = "";
  }
});
