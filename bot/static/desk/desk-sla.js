// Response timers (first and next response, bot/desk/sla.py) on each queue item and on the
// open conversation: amber once most of the target has gone, red once it is missed, and
// said in words each time, never by colour alone. They stop when the agent answers.
"use strict";

const sla = {
  targets: null,   // from GET /desk/api/duty: the page starts a timer itself on a new message
};

const SLA_PHASES = { first: "首次响应", next: "回复" };

function slaClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// The timer as it stands now: the server's elapsed time plus what passed since it answered.
function slaNow(timer, loadedAt) {
  const elapsed = timer.elapsed_seconds + Math.max(0, (Date.now() - loadedAt) / 1000);
  const level = elapsed >= timer.target_seconds ? "late"
    : elapsed >= timer.warn_seconds ? "warn" : "ok";
  const phase = SLA_PHASES[timer.phase] || timer.phase;
  const left = timer.target_seconds - elapsed;
  const text = level === "late" ? `${phase}已超时 ${slaClock(-left)}`
    : level === "warn" ? `${phase}即将超时，剩 ${slaClock(left)}`
      : `${phase}剩 ${slaClock(left)}`;
  return { level, text };
}

function slaBadge(timer, loadedAt) {
  const now = slaNow(timer, loadedAt);
  return el("span", { class: `sla sla-${now.level}`, "data-level": now.level }, now.text);
}

// desk.js redraws the list every second, so the badge is drawn anew each time.
itemDecorators.push((item, li) => {
  if (!item.sla) return;
  li.querySelector(".open").append(slaBadge(item.sla, item.loadedAt || Date.now()));
});

function showCurrentTimer() {
  const box = $("#sla-current");
  const timer = selected && selected.sla;
  if (!timer) { box.hidden = true; box.textContent = ""; return; }
  const now = slaNow(timer, selected.slaLoadedAt || Date.now());
  box.hidden = false;
  box.className = `sla sla-${now.level}`;
  box.dataset.level = now.level;
  box.textContent = now.text;
}

document.addEventListener("desk:selected", (event) => {
  event.detail.slaLoadedAt = Date.now();
  showCurrentTimer();
});

document.addEventListener("desk:feed", (event) => {
  const m = event.detail;
  if (m.kind !== "customer") return;
  refreshSoon();
  // A customer message in the open conversation starts the reply timer, unless one runs.
  if (selected && m.handoff_id === selected.id && !selected.sla && sla.targets
      && selected.status !== "closed") {
    const target = sla.targets.next_response_seconds;
    selected.sla = { phase: "next", elapsed_seconds: 0, target_seconds: target,
      warn_seconds: Math.floor(target * sla.targets.warn_percent / 100) };
    selected.slaLoadedAt = Date.now();
    showCurrentTimer();
  }
});

document.addEventListener("desk:lists", () => {
  if (!sla.targets) api("GET", "/desk/api/duty").then((d) => { sla.targets = d; }).catch(() => {});
});

setInterval(() => { if (me && selected) showCurrentTimer(); }, 1000);
