// Checks the NHS number as it is typed (modulus 11); the server checks it again.
"use strict";
(function () {
  var input = document.getElementById("nhs");
  var note = document.getElementById("nhs-check");
  if (!input || !note) { return; }
  function valid(digits) {
    if (!/^[0-9]{10}$/.test(digits)) { return false; }
    var total = 0;
    for (var i = 0; i < 9; i++) { total += Number(digits[i]) * (10 - i); }
    var check = 11 - (total % 11);
    if (check === 11) { check = 0; }
    return check !== 10 && check === Number(digits[9]);
  }
  function update() {
    var digits = input.value.replace(/\s+/g, "");
    if (digits === "") {
      note.textContent = "";
      input.setCustomValidity("");
    } else if (valid(digits)) {
      note.textContent = "Check digit correct.";
      input.setCustomValidity("");
    } else {
      note.textContent = digits.length < 10 ? "An NHS number has ten digits."
        : "Not a valid NHS number: the check digit does not match.";
      input.setCustomValidity(note.textContent);
    }
  }
  input.addEventListener("input", update);
  update();
}());
