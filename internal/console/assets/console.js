// payops console: the few behaviours pages need beyond htmx. No inline
// script anywhere (the Content-Security-Policy forbids it); everything is
// wired here from data attributes.
(function () {
  "use strict";

  // "/" focuses the search box, unless the person is typing somewhere.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.getElementById("search");
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  });

  // Click an id to copy it.
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-copy]");
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.getAttribute("data-copy")).then(function () {
      el.classList.add("copied");
      setTimeout(function () { el.classList.remove("copied"); }, 1200);
    }, function () {});
  });

  // A checkbox with data-select-all ticks every checkbox named by its value.
  document.addEventListener("change", function (e) {
    var all = e.target;
    if (!all.matches || !all.matches("[data-select-all]")) return;
    document.querySelectorAll('input[type=checkbox][name="' + all.getAttribute("data-select-all") + '"]')
      .forEach(function (box) { box.checked = all.checked; });
  });

  // A <select data-autosubmit> submits its form when changed (sort, page size).
  document.addEventListener("change", function (e) {
    var s = e.target;
    if (s.matches && s.matches("select[data-autosubmit]") && s.form) s.form.requestSubmit();
  });

  // A button with data-dismiss removes the element it names (a confirmation
  // panel the person decided against).
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-dismiss]");
    if (!b) return;
    var el = document.getElementById(b.getAttribute("data-dismiss"));
    if (el) el.innerHTML = "";
  });
})();

// A form with data-clears empties the element it names when it is sent
// through htmx: a confirmation panel of an earlier preview, which no longer
// matches the form (payment.html).
document.addEventListener("htmx:beforeRequest", function (e) {
  var f = e.detail && e.detail.elt;
  if (!f || !f.getAttribute) return;
  var id = f.getAttribute("data-clears");
  var el = id && document.getElementById(id);
  if (el) el.innerHTML = "";
});
