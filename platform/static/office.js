/* The back office's small enhancements; every page works without them.
   - Countdowns tick each 30 s and turn amber, then red, at the times the server wrote into
     data-amber / data-due (ISO 8601), so an open queue stays true without a reload.
   - Keyboard shortcuts of the queue: j/k move, Enter opens, / searches, n new case,
     g i notifications, ? shows the list (dialog#shortcuts). Ignored while typing. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "zh-hans";
  var zh = lang.indexOf("zh") === 0;

  function span(seconds) {
    var minutes = Math.max(Math.floor(seconds / 60), 0);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (zh) {
      if (days) return days + " 天 " + hours + " 小时";
      if (hours) return hours + " 小时 " + mins + " 分钟";
      return mins + " 分钟";
    }
    if (days) return days + " d " + hours + " h";
    if (hours) return hours + " h " + mins + " min";
    return mins + " min";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      var amber = Date.parse(el.dataset.amber);
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      var state = left < 0 ? "red" : now >= amber ? "amber" : "ok";
      el.classList.remove("countdown-ok", "countdown-amber", "countdown-red");
      el.classList.add("countdown-" + state);
      if (left < 0) {
        el.textContent = zh ? "已超时 " + span(-left) : "overdue by " + span(-left);
      } else {
        el.textContent = zh ? "剩余 " + span(left) : span(left) + " left";
      }
    });
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  }

  function select(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row) { row.classList.remove("selected"); row.removeAttribute("aria-selected"); });
    var row = all[index];
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    var link = row.querySelector("a.case-link");
    if (link) link.focus({ preventScroll: false });
  }

  function current() {
    return rows().findIndex(function (row) { return row.classList.contains("selected"); });
  }

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "i") { var inbox = document.querySelector("a.office-inbox"); if (inbox) inbox.click(); }
      return;
    }
    if (key === "j") { select(current() + 1); event.preventDefault(); }
    else if (key === "k") { select(Math.max(current() - 1, 0)); event.preventDefault(); }
    else if (key === "Enter" && target === document.body && current() >= 0) {
      var link = rows()[current()].querySelector("a.case-link");
      if (link) link.click();
    }
    else if (key === "/") {
      var search = document.getElementById("queue-search");
      if (search) { search.focus(); search.select(); event.preventDefault(); }
    }
    else if (key === "n") {
      var add = document.querySelector('a[accesskey="n"]');
      if (add) { add.click(); event.preventDefault(); }
    }
    else if (key === "g") { pendingG = true; }
    else if (key === "?") {
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.showModal) { dialog.open ? dialog.close() : dialog.showModal(); event.preventDefault(); }
    }
  });

  // A click anywhere on a row opens its case (the reference stays the real, focusable link).
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("tr.queue-row");
    if (!row || event.target.closest("a, button, input, select")) return;
    var link = row.querySelector("a.case-link");
    if (link) link.click();
  });

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 30000);
})();
