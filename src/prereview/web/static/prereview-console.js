/* prereview's own page script (no CDN, no inline script: the pages' CSP allows neither).
 *
 * Three behaviours, each switched on by the markup that needs it:
 *  - the audit page (#checkpoint): the signed checkpoint's Ed25519 signature and each entry's
 *    RFC 9162 inclusion proof are checked here, with WebCrypto, against the signed root;
 *  - an upload form with data-progress: htmx's upload progress events drive a <progress>;
 *  - a button with data-copy: copies the named element's text (a gateway key shown once).
 * Every form works without this script; the audit check is the one thing that needs it.
 */
"use strict";

(function () {
  const utf8 = new TextEncoder();

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function fromBase64(text) {
    const raw = atob(text);  // throws on anything that is not base64
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // RFC 9162 section 2.1.1: leaves are hashed with 0x00, interior nodes with 0x01.
  const leafHash = (entry) => sha256(concat(new Uint8Array([0]), entry));
  const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

  // RFC 9162 section 2.1.3.2: the root that an audit path leads to, or an error.
  async function inclusionRoot(leaf, index, size, proof) {
    if (index >= size) throw new Error(`entry ${index} is not in a tree of ${size}`);
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (p.length !== 32) throw new Error("a proof hash is not 32 bytes");
      if (sn === 0) throw new Error("the proof is too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("the proof is too short");
    return r;
  }

  // A note verifier key: <name>+<8 hex digits of key ID>+<base64(0x01 || Ed25519 key)>.
  async function parseVerifier(vkey) {
    const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
    if (first < 1 || second < 0) throw new Error("the log key is not <name>+<key ID>+<key>");
    const name = vkey.slice(0, first), id = vkey.slice(first + 1, second);
    const material = fromBase64(vkey.slice(second + 1));
    if (material.length !== 33 || material[0] !== 1) throw new Error("the log key is not Ed25519");
    const digest = await sha256(concat(utf8.encode(name + "\n"), material));
    if (hex(digest.slice(0, 4)) !== id) throw new Error("the log key's ID does not match its key");
    const key = await crypto.subtle.importKey(
      "raw", material.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, id: digest.slice(0, 4), key };
  }

  // C2SP signed note: text, a blank line, then "— <name> <base64(key ID || signature)>" lines.
  // Other keys' signatures (witnesses) are skipped; every one by the log's key must verify.
  async function openNote(note, verifier) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) throw new Error("the note has no signature block");
    const text = note.slice(0, split + 1);
    let verified = 0;
    for (const line of note.slice(split + 2, -1).split("\n")) {
      if (!line.startsWith("\u2014 ")) throw new Error("a signature line is malformed");
      const [name, sig64] = line.slice(2).split(" ");
      const blob = fromBase64(sig64 || "");
      if (name !== verifier.name || !equal(blob.slice(0, 4), verifier.id)) continue;
      const ok = await crypto.subtle.verify(
        { name: "Ed25519" }, verifier.key, blob.slice(4), utf8.encode(text));
      if (!ok) throw new Error("the log's signature does not verify: the checkpoint was changed");
      verified++;
    }
    if (!verified) throw new Error("the note carries no signature by the log's key");
    const [origin, size, root] = text.slice(0, -1).split("\n");
    if (!/^(0|[1-9][0-9]*)$/.test(size || "")) throw new Error("the tree size is malformed");
    return { origin, size: Number(size), root: fromBase64(root || "") };
  }

  function mark(element, ok, words) {
    element.classList.remove("pending", "ok", "bad");
    element.classList.add(ok ? "ok" : "bad");
    element.textContent = (ok ? "\u2713 " : "\u2717 FAILED: ") + words;
  }

  async function checkEntry(row, checkpoint) {
    const cell = row.querySelector("td.proof");
    if (!row.hasAttribute("data-proof")) return null;  // newer than the checkpoint
    try {
      const seq = Number(row.dataset.seq), leaf = row.dataset.leaf;
      const fields = JSON.parse(leaf);
      // What the row says must be what was hashed.
      if (fields.seq !== seq) throw new Error(`the entry says it is #${fields.seq}`);
      const shown = row.querySelector("td.action").textContent.trim();
      if (fields.action !== shown) throw new Error(`the entry records '${fields.action}'`);
      const proof = row.dataset.proof.split(" ").filter(Boolean).map(fromBase64);
      const root = await inclusionRoot(
        await leafHash(utf8.encode(leaf)), seq, checkpoint.size, proof);
      if (!equal(root, checkpoint.root)) {
        throw new Error("its proof does not lead to the signed root: the entry was changed");
      }
      mark(cell, true, `verified in the signed tree of ${checkpoint.size}`);
      return true;
    } catch (error) {
      mark(cell, false, error.message);
      return false;
    }
  }

  async function checkAuditPage(section) {
    const status = document.getElementById("checkpoint-status");
    const rows = Array.from(document.querySelectorAll("tr.entry"));
    const summary = document.getElementById("summary");
    if (!window.crypto || !crypto.subtle) {
      status.textContent = "This browser offers no WebCrypto here (it needs https or localhost): " +
        "check with prereview audit verify instead.";
      return;
    }
    let checkpoint;
    try {
      const verifier = await parseVerifier(section.dataset.verifierKey);
      checkpoint = await openNote(section.dataset.note, verifier);
      mark(status, true, `signature by ${verifier.name} verified: ${checkpoint.size} entries, ` +
        `root ${hex(checkpoint.root).slice(0, 16)}\u2026`);
    } catch (error) {
      mark(status, false, error.message);
      for (const row of rows) {
        mark(row.querySelector("td.proof"), false, "the checkpoint it is checked against is invalid");
      }
      summary.textContent = "Nothing on this page could be verified.";
      return;
    }
    const results = await Promise.all(rows.map((row) => checkEntry(row, checkpoint)));
    const failed = results.filter((r) => r === false).length;
    const passed = results.filter((r) => r === true).length;
    summary.textContent = failed
      ? `${failed} of ${passed + failed} entries FAILED their proof.`
      : `All ${passed} entries verified.`;
    summary.classList.add(failed ? "bad" : "ok");
  }

  function watchUpload(form) {
    const bar = document.getElementById(form.dataset.progress);
    const status = document.getElementById("upload-status");
    let best = 0;
    form.addEventListener("htmx:beforeRequest", () => {
      best = 0; bar.value = 0; bar.hidden = false; status.textContent = "Uploading\u2026";
    });
    form.addEventListener("htmx:xhr:progress", (event) => {
      const { lengthComputable, loaded, total } = event.detail;
      if (!lengthComputable || !total) return;
      best = Math.max(best, Math.round((100 * loaded) / total));
      bar.value = best;
      bar.textContent = `${best}%`;
      status.textContent = best < 100 ? `Uploading\u2026 ${best}%` : "Encrypting and recording\u2026";
    });
    form.addEventListener("htmx:afterRequest", (event) => {
      const xhr = event.detail.xhr;
      if (event.detail.successful) return;  // htmx follows HX-Redirect to the new list
      bar.hidden = true;
      let words = `the server answered ${xhr.status}`;
      const answer = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      const detail = answer.querySelector("p.error");
      if (detail) words = detail.textContent;
      status.textContent = `Upload refused: ${words}`;
      status.classList.add("bad");
    });
  }

  function copyButtons() {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      button.hidden = false;  // without this script the text stays selectable, and no button
      button.addEventListener("click", async () => {
        const text = document.getElementById(button.dataset.copy).textContent.trim();
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = "Copied";
        } catch (error) {
          window.getSelection().selectAllChildren(document.getElementById(button.dataset.copy));
          button.textContent = "Selected: press Ctrl+C";
        }
      });
    }
  }

  function start() {
    const section = document.getElementById("checkpoint");
    if (section) checkAuditPage(section);
    for (const form of document.querySelectorAll("form[data-progress]")) watchUpload(form);
    copyButtons();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
