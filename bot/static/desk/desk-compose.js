// The desk composer's helpers (issue 16): canned replies found by typing "/", photos and files
// to and from the customer, and typing indicators both ways. Uses desk.js's `window.desk`.
"use strict";

(function () {
  const MAX_BYTES = 10 * 1024 * 1024; // the backend's default BOT_ATTACHMENT_MAX_BYTES
  const TYPING_EVERY_MS = 2500; // at most one "I am typing" signal this often
  const TYPING_SHOWN_MS = 4000; // how long a signal keeps "客户正在输入…" visible

  const text = document.getElementById("text");
  const compose = document.getElementById("compose");
  const transcript = document.getElementById("transcript");
  const error = document.getElementById("action-error");

  function make(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function size(bytes) {
    return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // --- a photo or file in the transcript ----------------------------------------------------

  // Opened from the desk's own route, which checks that this agent may see the conversation.
  function attachmentNode(a) {
    const url = `/desk/api/attachments/${encodeURIComponent(a.id)}`;
    if (a.image) {
      const img = make("img", { class: "attachment-image", src: url, alt: `图片：${a.name}`, loading: "lazy" });
      img.addEventListener("load", () => { transcript.scrollTop = transcript.scrollHeight; });
      return make("a", { class: "attachment", href: url, target: "_blank", rel: "noopener" }, img);
    }
    return make("a", { class: "attachment file", href: `${url}?download=1` }, `文件：${a.name}（${size(a.size)}）`);
  }
  window.deskCompose = { attachmentNode };

  // --- "/" finds a canned reply -------------------------------------------------------------

  let canned = [];
  let matches = [];
  let active = -1;
  const popup = make("ul", { id: "canned-popup", class: "canned-popup", role: "listbox", "aria-label": "常用回复" });
  popup.hidden = true;
  compose.prepend(popup);
  text.setAttribute("aria-autocomplete", "list");
  text.setAttribute("aria-controls", "canned-popup");
  text.setAttribute("placeholder", "输入回复，Enter 发送，Shift+Enter 换行；输入 / 查找常用回复");

  document.addEventListener("desk:opened", async (event) => {
    canned = [];
    close();
    hideTyping();
    const id = event.detail.id;
    const list = await window.desk.api("GET", `/desk/api/handoffs/${id}/canned`).catch(() => []);
    const now = window.desk.selected();
    if (now && now.id === id) canned = list;
  });

  function query() {
    const value = text.value;
    return value.startsWith("/") && !value.includes("\n") ? value.slice(1).trim().toLowerCase() : null;
  }

  function close() {
    popup.hidden = true;
    active = -1;
    text.removeAttribute("aria-activedescendant");
  }

  function render() {
    const q = query();
    if (q === null || !canned.length) { close(); return; }
    matches = canned.filter((c) => !q || c.title.toLowerCase().includes(q) || c.text.toLowerCase().includes(q));
    if (!matches.length) {
      popup.replaceChildren(make("li", { class: "empty", role: "option", "aria-disabled": "true" }, "没有匹配的常用回复"));
      active = -1;
    } else {
      if (active < 0 || active >= matches.length) active = 0;
      popup.replaceChildren(...matches.map((c, i) => {
        const item = make("li", { id: `canned-${i}`, role: "option", "aria-selected": i === active ? "true" : "false",
          class: i === active ? "active" : "" }, make("b", {}, c.title), " ", make("span", {}, c.text));
        // mousedown, not click: the box keeps the focus.
        item.addEventListener("mousedown", (e) => { e.preventDefault(); pick(i); });
        return item;
      }));
      text.setAttribute("aria-activedescendant", `canned-${active}`);
    }
    popup.hidden = false;
  }

  function pick(i) {
    const chosen = matches[i];
    if (!chosen) return;
    text.value = chosen.text;
    close();
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  }

  text.addEventListener("input", render);
  text.addEventListener("blur", () => setTimeout(close, 100));
  // On the capture phase, before desk.js's own Enter (send) and desk-keys.js's Esc.
  compose.addEventListener("keydown", (event) => {
    if (popup.hidden || event.target !== text || event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!matches.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      render();
      popup.querySelector(".active")?.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (!matches.length) return;
      pick(active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);

  // --- sending a photo or file ----------------------------------------------------------------

  const picker = make("input", { type: "file", id: "attach-file", accept: "image/*,application/pdf", class: "visually-hidden" });
  const attach = make("label", { class: "attach button" }, "发送图片/文件", picker);
  compose.querySelector(".row").append(attach);

  picker.addEventListener("change", async () => {
    const file = picker.files[0];
    picker.value = "";
    const open = window.desk.selected();
    if (!file || !open) return;
    error.textContent = "";
    if (file.size > MAX_BYTES) { error.textContent = `文件太大：最大 ${size(MAX_BYTES)}`; return; }
    attach.classList.add("busy");
    try {
      const reply = await fetch(`/desk/api/handoffs/${open.id}/attachments?name=${encodeURIComponent(file.name)}`, {
        method: "POST", body: file, credentials: "same-origin",
        headers: { "X-CSRF-Token": window.desk.me().csrf_token, "Content-Type": "application/octet-stream" },
      });
      const data = await reply.json().catch(() => ({}));
      if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
    } catch (e) {
      error.textContent = `发送失败：${e.message}`;
    } finally {
      attach.classList.remove("busy");
    }
  });

  // --- typing, both ways ------------------------------------------------------------------------

  const typing = make("p", { id: "customer-typing", class: "typing-indicator", role: "status" });
  transcript.after(typing);
  let typingTimer = null;

  function hideTyping() {
    clearTimeout(typingTimer);
    typing.textContent = "";
  }

  document.addEventListener("desk:feed", (event) => {
    const m = event.detail;
    const open = window.desk.selected();
    if (!open || m.handoff_id !== open.id) return;
    if (m.kind === "typing" && m.who === "customer") {
      typing.textContent = "客户正在输入…";
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
    } else if (m.kind === "customer") {
      hideTyping();
    }
  });

  // At most one signal every TYPING_EVERY_MS; typing within that time is said at its end
  // rather than dropped (else one change soon after the last signal would never be said).
  let lastSignal = 0;
  let pendingSignal = null;

  function signalTyping() {
    pendingSignal = null;
    const open = window.desk.selected();
    const me = window.desk.me();
    const note = document.getElementById("as-note").checked;
    if (!open || !me || note || open.status !== "assigned" || open.holder_id !== me.id) return;
    if (!text.value.trim() || text.value.startsWith("/")) return;
    const wait = lastSignal + TYPING_EVERY_MS - Date.now();
    if (wait > 0) {
      pendingSignal = setTimeout(signalTyping, wait);
      return;
    }
    lastSignal = Date.now();
    window.desk.api("POST", `/desk/api/handoffs/${open.id}/typing`).catch(() => {});
  }

  text.addEventListener("input", () => {
    if (pendingSignal === null) signalTyping();
  });
})();
