// Signing in the browser: an organization's Ed25519 private key file (base64 of its 32-byte
// seed, as `silkgate org keygen` writes it) is read here, used by WebCrypto to sign the text
// the page shows, and never sent: the file input has no name and sits outside every form, the
// key is imported as not extractable, and only the base64 signature is put in the form's
// signature input. Without this script (or without Ed25519 in WebCrypto) the part stays
// hidden and the text is signed elsewhere (`silkgate org sign-text`).
(function () {
  "use strict";
  // PKCS #8 header of an Ed25519 private key (RFC 8410): the 32-byte seed follows it
  var PKCS8 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
               0x04, 0x22, 0x04, 0x20];

  function seedOf(text) {
    var raw = atob(text.trim());
    if (raw.length !== 32) throw new Error("not a 32-byte key");
    var der = new Uint8Array(PKCS8.length + 32);
    der.set(PKCS8);
    for (var i = 0; i < 32; i++) der[PKCS8.length + i] = raw.charCodeAt(i);
    return der;
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }

  function setUp(part) {
    var source = document.getElementById(part.dataset.signSource);
    var target = document.getElementById(part.dataset.signTarget);
    var file = part.querySelector("input[type=file]");
    var button = part.querySelector("button");
    var status = part.querySelector("[data-sign-status]");
    if (!source || !target || !file || !button || !status) return;
    part.hidden = false;
    button.addEventListener("click", function () {
      var chosen = file.files && file.files[0];
      if (!chosen) { status.textContent = part.dataset.msgNoFile; return; }
      chosen.text().then(function (text) {
        var der;
        try { der = seedOf(text); } catch (e) { throw new Error("bad key"); }
        return crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
      }).then(function (key) {
        var message = new TextEncoder().encode(source.textContent);
        return crypto.subtle.sign({ name: "Ed25519" }, key, message);
      }).then(function (signature) {
        target.value = base64(signature);
        file.value = "";  // the key is not kept in the page
        status.textContent = part.dataset.msgSigned;
        target.focus();
      }).catch(function () {
        status.textContent = part.dataset.msgBadKey;
      });
    });
  }

  function supported() {
    if (!window.crypto || !crypto.subtle || !window.isSecureContext) return Promise.resolve(false);
    // a throwaway key: Ed25519 in WebCrypto is recent in some browsers
    return crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign"])
      .then(function () { return true; }, function () { return false; });
  }

  supported().then(function (ok) {
    if (!ok) return;
    var parts = document.querySelectorAll("[data-sign-source]");
    for (var i = 0; i < parts.length; i++) setUp(parts[i]);
  });
})();
