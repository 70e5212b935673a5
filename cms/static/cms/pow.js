// Finds the proof-of-work nonce for the complaint form while the person types (cms/pow.py).
(function () {
  "use strict";
  var form = document.querySelector("form[data-pow]");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) return;
  var challenge = form.querySelector("input[name=pow_challenge]").value;
  var nonceField = form.querySelector("input[name=pow_nonce]");
  var difficulty = parseInt(form.getAttribute("data-pow"), 10);
  var encoder = new TextEncoder();

  function zeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { bits += 8; continue; }
      for (var mask = 0x80; mask && !(bytes[i] & mask); mask >>= 1) bits++;
      return bits;
    }
    return bits;
  }

  async function solve() {
    for (var nonce = 0; nonce < 50000000; nonce++) {
      var data = encoder.encode(challenge + ":" + nonce);
      var digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      if (zeroBits(digest) >= difficulty) return String(nonce);
    }
    return "";
  }

  var found = solve().then(function (nonce) { nonceField.value = nonce; return nonce; });
  form.addEventListener("submit", function (event) {
    if (nonceField.value) return;
    event.preventDefault();
    found.then(function () { form.submit(); });
  });
})();
