// drgaudit review service: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    // A form that changes something is sent once: a second click while the first is on its way (a
    // double click, an impatient one) sent it again: two identical 协查 requests or replies, or a
    // refusal ("already exists") shown instead of an account's one-time password.
    var changes = (form.getAttribute("method") || "get").toLowerCase() === "post";
    if (changes && form.getAttribute("data-sent")) {
      event.preventDefault();
      return;
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (changes) {
      form.setAttribute("data-sent", "1");
    }
    // Long work (an import, a screen): say so while it runs, its buttons greyed out.
    var busy = form.getAttribute("data-busy");
    if (busy) {
      form.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
      var note = document.createElement("p");
      note.className = "flash busy";
      note.setAttribute("role", "status");
      note.textContent = busy;
      form.appendChild(note);
    }
  });
  // Coming back to the page (the browser's back button restores it as it was): its forms can be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
    });
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
      form.querySelectorAll("p.busy").forEach(function (note) { note.remove(); });
    });
  });
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
    if (field.name === "kind" && field.form) {
      showKindFields(field.form);
    }
  });
  // The decision form: show the fields of the chosen kind (amount, items, merged claim). The hidden ones
  // are disabled too, so they are not sent: an amount typed for a deduction, the kind then changed to
  // 按病组标准支付, was sent all the same and refused ("不填写金额") by a field the page no longer showed.
  function showKindFields(form) {
    var checked = form.querySelector("input[name=kind]:checked, select[name=kind]");
    var kind = checked ? checked.value : "";
    form.querySelectorAll(".kind-fields").forEach(function (box) {
      var kinds = (box.getAttribute("data-kinds") || "").split(" ");
      var shown = kinds.indexOf(kind) >= 0;
      box.classList.toggle("shown", shown);
      box.querySelectorAll("input, select, textarea").forEach(function (field) { field.disabled = !shown; });
    });
  }
  // A screen running in the background (导入与筛查): ask the server how far it is every second and show
  // it; when it has ended, open the page of its end (data-ended), which shows its result and the batch's
  // new screen run.
  // Without this file the page reloads itself (a <noscript> refresh) and has a link to do so.
  // A page that shows an import's result (data-stay: the answer to a form sent) is not left or reloaded:
  // the end is said in place, so the refused rows being read stay (a reload would send the file again).
  function pollJob(box) {
    var url = box.getAttribute("data-poll");
    var ended = box.getAttribute("data-ended") || window.location.href;
    var stay = box.hasAttribute("data-stay");
    var text = box.querySelector(".job-text");
    var bar = box.querySelector("progress");
    var failures = 0;
    function say(message, kind, id) {
      if (text) { text.textContent = message; text.className = "job-text flash " + kind; }
      if (bar) { bar.remove(); }
      document.querySelectorAll("[data-job='" + id + "']").forEach(function (cell) {
        cell.textContent = "筛查已结束（见页首）";
      });
    }
    function round() {
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin", cache: "no-store"})
        .then(function (response) {
          if (response.redirected) {  // signed out meanwhile: the page says so (the log-in page)
            if (stay) { window.location.assign(ended); } else { window.location.reload(); }
            return null;
          }
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (job) {
          if (job === null) { return; }
          failures = 0;
          if (!job.running) {
            if (stay) { say(job.text, job.kind, job.id); } else { window.location.assign(ended); }
            return;
          }
          if (text) { text.textContent = job.text; }
          if (bar) { bar.max = job.total || 1; bar.value = job.done; bar.textContent = job.percent + "%"; }
          document.querySelectorAll("[data-job='" + job.id + "']").forEach(function (cell) {
            cell.textContent = "筛查中：" + job.done.toLocaleString("en-US") + " / " +
              job.total.toLocaleString("en-US") + " 份（" + job.percent + "%）";
          });
          window.setTimeout(round, 1000);
        })
        .catch(function () {
          failures += 1;
          if (failures >= 5) {  // the server is gone or refuses: the page itself says why
            if (stay) { window.location.assign(ended); } else { window.location.reload(); }
            return;
          }
          window.setTimeout(round, 2000);
        });
    }
    window.setTimeout(round, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(pollJob);
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector(".kind-fields")) {
        showKindFields(form);
      }
    });
    // Add one more row of special-payment items.
    document.querySelectorAll("[data-add-item]").forEach(function (button) {
      button.addEventListener("click", function () {
        var list = document.getElementById(button.getAttribute("data-add-item"));
        var row = list && list.querySelector(".item-row");
        if (!row) { return; }
        var copy = row.cloneNode(true);
        copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
        list.appendChild(copy);
      });
    });
  });
})();
