// Telling an agent who looks elsewhere that someone needs them: the number of waiting
// customers in the tab title, a short sound and (with the agent's permission) a browser
// notification for a new waiting customer and for a new message in a conversation they hold.
// It listens to the events desk.js sends (desk:lists, desk:feed).
"use strict";

const alerts = {
  baseTitle: document.title,
  mine: new Set(),     // handoffs this agent holds
  button: document.querySelector("#alerts"),
  audio: null,
};

function alertsOn() {
  return "Notification" in window && Notification.permission === "granted";
}

function showAlertState() {
  if (!alerts.button) return;
  const on = alertsOn();
  alerts.button.textContent = on ? "桌面提醒：已开启" : "开启桌面提醒";
  alerts.button.disabled = on || !("Notification" in window);
}

function beep() {
  try {
    alerts.audio = alerts.audio || new AudioContext();
    const tone = alerts.audio.createOscillator();
    const gain = alerts.audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.08;
    tone.connect(gain).connect(alerts.audio.destination);
    tone.start();
    tone.stop(alerts.audio.currentTime + 0.15);
  } catch (error) {
    // No sound device or no user gesture yet: the title and the notification still say it.
  }
}

function notify(title, body, handoffId) {
  beep();
  if (!alertsOn()) return;
  const shown = new Notification(title, { body, tag: handoffId, lang: "zh-CN" });
  shown.onclick = () => { window.focus(); if (handoffId) open(handoffId); shown.close(); };
}

// Is the agent looking at this conversation right now?
function watching(handoffId) {
  return !document.hidden && document.hasFocus() && selected && selected.id === handoffId;
}

document.addEventListener("desk:lists", (event) => {
  const waiting = event.detail.queue.length;
  alerts.mine = new Set((event.detail.mine || []).map((item) => item.id));
  document.title = waiting ? `(${waiting}) ${alerts.baseTitle}` : alerts.baseTitle;
});

document.addEventListener("desk:feed", (event) => {
  const m = event.detail;
  if (m.kind === "state" && m.text === "waiting") {
    notify("新客户在排队", REASONS[m.data && m.data.reason] || "", m.handoff_id);
  } else if (m.kind === "customer" && alerts.mine.has(m.handoff_id) && !watching(m.handoff_id)) {
    notify("客户发来新消息", m.text.slice(0, 80), m.handoff_id);
  }
});

if (alerts.button) {
  alerts.button.addEventListener("click", async () => {
    if ("Notification" in window) await Notification.requestPermission();
    showAlertState();
  });
}
showAlertState();
