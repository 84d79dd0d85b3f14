// Early-warning alerts on the supervisors' desk: a badge in the header with the number of new
// alerts, a panel to acknowledge, dismiss (with a reason) or escalate each to quality, and a
// link to the reports. Kept apart from desk.js; it needs only the desk's login cookie.
"use strict";

(() => {
  const POLL_MS = 15000;
  const RULES = { cusum: "故障上升", new_fault: "新故障" };
  const ACTIONS = { acknowledge: "确认", dismiss: "忽略", escalate: "上报质量" };
  let csrf = null;

  const make = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  };

  async function call(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const reply = await fetch(path, { method, headers, credentials: "same-origin",
      body: body ? JSON.stringify(body) : undefined });
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
    return data;
  }

  const badge = make("button", "alerts-badge", "预警 0");
  badge.id = "alerts-badge";
  badge.title = "故障预警";
  const reports = make("a", "reports-link", "报表");
  reports.href = "/desk/reports.html";
  const panel = make("section", "alerts-panel card");
  panel.id = "alerts-panel";
  panel.hidden = true;

  function render(alerts) {
    badge.textContent = `预警 ${alerts.length}`;
    badge.classList.toggle("hot", alerts.length > 0);
    const items = alerts.map((a) => {
      const li = make("li", "alert");
      li.append(make("div", "alert-head", `${RULES[a.rule] || a.rule} · ${a.raised_on}`));
      li.append(make("p", "alert-text", a.summary));
      const row = make("div", "alert-actions");
      for (const [action, label] of Object.entries(ACTIONS)) {
        const button = make("button", action === "escalate" ? "primary" : "", label);
        button.dataset.action = action;
        button.addEventListener("click", () => decide(a.id, action));
        row.append(button);
      }
      li.append(row);
      return li;
    });
    const list = make("ul", "alert-list");
    list.append(...items);
    const title = make("h2", null, alerts.length ? "新的故障预警" : "没有新的故障预警");
    panel.replaceChildren(title, list);
  }

  async function decide(id, action) {
    let reason = "";
    if (action === "dismiss") {
      reason = window.prompt("忽略的原因（必填）：") || "";
      if (!reason.trim()) return;
    } else if (action === "escalate") {
      reason = window.prompt("上报质量部门的说明（可不填）：") || "";
    }
    try {
      await call("POST", `/desk/api/insight/alerts/${id}/decisions`, { action, reason });
    } catch (error) {
      window.alert(error.message);
    }
    refresh();
  }

  async function refresh() {
    try {
      render(await call("GET", "/desk/api/insight/alerts?status=new"));
    } catch (_) { /* logged out, or the backend restarts: the next poll tries again */ }
  }

  async function start() {
    let me;
    try { me = await call("GET", "/desk/api/me"); } catch (_) { setTimeout(start, POLL_MS); return; }
    if (me.role !== "supervisor" && me.role !== "manager") return;
    csrf = me.csrf_token;
    const header = document.querySelector("#desk header");
    const anchor = document.getElementById("me");
    header.insertBefore(badge, anchor);
    header.insertBefore(reports, anchor);
    document.querySelector("#desk").insertBefore(panel, document.querySelector("#desk .columns"));
    badge.addEventListener("click", () => { panel.hidden = !panel.hidden; });
    refresh();
    setInterval(refresh, POLL_MS);
  }

  start();
})();
