// Keyboard shortcuts of the desk, listed on the page (#keys): single keys, active only while
// the agent is not typing in a field, so they never eat a letter of a reply.
"use strict";

function typingInField(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function step(by) {
  if (!items.length) return;
  const at = selected ? items.findIndex((item) => item.id === selected.id) : -1;
  const next = items[Math.min(items.length - 1, Math.max(0, at + by))];
  if (next && (!selected || next.id !== selected.id)) open(next.id);
}

function press(selector) {
  const button = document.querySelector(selector);
  if (button && !button.hidden && !button.disabled && !button.closest("[hidden]")) button.click();
}

const KEYS = {
  j: () => step(1),
  k: () => step(-1),
  c: () => press("#claim"),
  r: () => { if (!$("#compose").hidden) $("#text").focus(); },
  1: () => press('.tabs button[data-scope="queue"]'),
  2: () => press('.tabs button[data-scope="mine"]'),
  3: () => press('.tabs button[data-scope="live"]'),
  "?": () => { $("#keys").open = !$("#keys").open; },
};

document.addEventListener("keydown", (event) => {
  if (!me || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (event.key === "Escape" && typingInField(event.target)) { event.target.blur(); return; }
  if (typingInField(event.target)) return;
  const action = KEYS[event.key];
  if (action) { event.preventDefault(); action(); }
});
