// drgaudit review service: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
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
  // The decision form: show the fields of the chosen kind (amount, items, merged claim).
  function showKindFields(form) {
    var checked = form.querySelector("input[name=kind]:checked, select[name=kind]");
    var kind = checked ? checked.value : "";
    form.querySelectorAll(".kind-fields").forEach(function (box) {
      var kinds = (box.getAttribute("data-kinds") || "").split(" ");
      box.classList.toggle("shown", kinds.indexOf(kind) >= 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
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
