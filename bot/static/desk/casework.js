// Casework beside the conversations: the 回访 calls due today (and overdue) with their outcome
// buttons, and the complaints with their escalation steps, each behind a badge in the header
// that polls like the early-warning badge (insight.js). Kept apart from desk.js; it needs only
// the desk's login cookie. Outcomes land on the order's timeline (bot/followups.py); complaint
// steps on the complaint (bot/complaints/desk.py).
"use strict";

(() => {
  const POLL_MS = 15000;
  const SEVERITY = { low: "轻微", medium: "一般", high: "严重", critical: "紧急" };
  const LEVEL = { agent: "客服", supervisor: "主管", manager: "经理" };
  const STATUS = { open: "待处理", in_progress: "处理中", resolved: "待审核", closed: "已结案" };
  const STEP = {
    opened: "登记", taken: "接手", escalated: "升级", resolved: "提交处理结果",
    returned: "退回重办", approved: "审核通过结案", closed: "结案",
  };
  const OUTCOMES = [
    ["satisfied", "客户满意", "primary"],
    ["recurred", "问题复发", ""],
    ["unreachable", "联系不上，明天再打", ""],
  ];
  let me = null;
  let followupScope = "today";
  let complaintView = "mine";

  const make = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  };
  const when = (iso) => (iso ? iso.slice(5, 16).replace("T", " ") : "—");
  const boss = () => me && (me.role === "supervisor" || me.role === "manager");

  async function call(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (me) headers["X-CSRF-Token"] = me.csrf_token;
    const reply = await fetch(path, { method, headers, credentials: "same-origin",
      body: body ? JSON.stringify(body) : undefined });
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
    return data;
  }

  function badgeButton(id, title) {
    const button = make("button", "case-badge", title);
    button.id = id;
    button.type = "button";
    return button;
  }

  function panel(id, title) {
    const section = make("section", "case-panel card");
    section.id = id;
    section.hidden = true;
    section.setAttribute("aria-label", title);
    return section;
  }

  const followupBadge = badgeButton("followups-badge", "回访 0");
  const complaintBadge = badgeButton("complaints-badge", "投诉 0");
  const followupPanel = panel("followups-panel", "回访任务");
  const complaintPanel = panel("complaints-panel", "投诉");
  const casework = make("div", "casework");

  function tabs(options, current, choose) {
    const row = make("div", "case-tabs");
    for (const [value, label] of options) {
      const button = make("button", value === current ? "active" : "", label);
      button.type = "button";
      button.dataset.value = value;
      button.addEventListener("click", () => choose(value));
      row.append(button);
    }
    return row;
  }

  // --- 回访 tasks ----------------------------------------------------------------------------

  function renderFollowups(tasks) {
    const overdue = tasks.filter((t) => t.overdue).length;
    if (followupScope === "today") {
      followupBadge.textContent = `回访 ${tasks.length}`;
      followupBadge.classList.toggle("hot", overdue > 0);
    }
    const head = make("h2", null, "电话回访");
    const choose = tabs([["today", "今日到期及逾期"], ["open", "全部待回访"]], followupScope,
      (value) => { followupScope = value; refreshFollowups(); });
    const list = make("ul", "case-list");
    if (!tasks.length) list.append(make("li", "case-empty", "没有需要回访的工单"));
    for (const task of tasks) {
      const li = make("li", "case-item followup");
      li.dataset.id = task.id;
      li.dataset.order = task.work_order_id;
      const title = make("div", "case-head");
      title.append(make("strong", null, task.work_order_id),
        make("span", null, ` 第${task.round}次维修 · ${task.customer_name || "客户"} ${task.phone || ""}`));
      if (task.overdue) title.append(make("span", "tag late", "已逾期"));
      li.append(title);
      li.append(make("p", "case-text",
        `${task.fault}（${task.station_code}）应回访：${when(task.due_at)} · 已拨打 ${task.attempts} 次`));
      if (task.note) li.append(make("p", "case-note", `上次备注：${task.note}`));
      const note = make("textarea", "case-input");
      note.rows = 2;
      note.placeholder = "回访备注（可不填）";
      note.setAttribute("aria-label", `工单 ${task.work_order_id} 的回访备注`);
      const row = make("div", "case-actions");
      for (const [outcome, label, cls] of OUTCOMES) {
        const button = make("button", cls, label);
        button.type = "button";
        button.dataset.outcome = outcome;
        button.addEventListener("click", () => recordOutcome(task.id, outcome, note.value));
        row.append(button);
      }
      li.append(note, row);
      list.append(li);
    }
    followupPanel.replaceChildren(head, choose, list);
  }

  async function recordOutcome(id, outcome, note) {
    try {
      await call("POST", `/desk/api/followups/${id}/outcome`, { outcome, note: note.trim() });
    } catch (error) {
      window.alert(error.message);
    }
    refreshFollowups();
    refreshComplaints();  // a recurrence opens a complaint
  }

  async function refreshFollowups() {
    try {
      renderFollowups(await call("GET", `/desk/api/followups?due=${followupScope}`));
      if (followupScope !== "today") {
        const today = await call("GET", "/desk/api/followups?due=today");
        followupBadge.textContent = `回访 ${today.length}`;
        followupBadge.classList.toggle("hot", today.some((t) => t.overdue));
      }
    } catch (_) { /* logged out, or the backend restarts: the next poll tries again */ }
  }

  // --- complaints ----------------------------------------------------------------------------

  // The resolution box (when it can be resolved) and the buttons the caller may use.
  function complaintActions(c) {
    const nodes = [];
    const row = make("div", "case-actions");
    if (c.status === "open" || c.status === "in_progress") {
      if (c.owner !== me.username) {
        const take = make("button", "", "接手");
        take.type = "button";
        take.dataset.act = "take";
        take.addEventListener("click", () => act(`/desk/api/complaints/${c.id}/take`));
        row.append(take);
      }
      const text = make("textarea", "case-input");
      text.rows = 2;
      text.placeholder = c.serious ? "处理结果（严重投诉需主管审核后结案）" : "处理结果（必填，提交即结案并通知客户）";
      text.setAttribute("aria-label", `投诉 ${c.id} 的处理结果`);
      const resolve = make("button", "primary", c.serious ? "提交审核" : "结案");
      resolve.type = "button";
      resolve.dataset.act = "resolve";
      resolve.addEventListener("click", () => {
        if (text.value.trim().length < 2) { window.alert("请填写处理结果"); return; }
        act(`/desk/api/complaints/${c.id}/resolve`, { resolution: text.value.trim() });
      });
      nodes.push(text);
      row.append(resolve);
    } else if (c.status === "resolved" && boss()) {
      const approve = make("button", "primary", "批准结案");
      approve.type = "button";
      approve.dataset.act = "approve";
      approve.addEventListener("click",
        () => act(`/desk/api/complaints/${c.id}/review`, { approve: true, note: "" }));
      const back = make("button", "", "退回重办");
      back.type = "button";
      back.dataset.act = "return";
      back.addEventListener("click", () => {
        const note = window.prompt("退回的原因：") || "";
        act(`/desk/api/complaints/${c.id}/review`, { approve: false, note });
      });
      row.append(approve, back);
    }
    return [...nodes, row];
  }

  function renderComplaints(complaints) {
    const head = make("h2", null, "投诉");
    const views = [["mine", "待我处理"], ["open", "全部未结"], ["closed", "已结案"]];
    const choose = tabs(views, complaintView, (value) => { complaintView = value; refreshComplaints(); });
    const list = make("ul", "case-list");
    if (!complaints.length) list.append(make("li", "case-empty", "没有投诉"));
    for (const c of complaints) {
      const li = make("li", `case-item complaint ${c.serious ? "serious" : ""}`);
      li.dataset.id = c.id;
      const title = make("div", "case-head");
      title.append(make("strong", null, c.id),
        make("span", "tag", SEVERITY[c.severity] || c.severity),
        make("span", "tag level", `${LEVEL[c.level]}级`),
        make("span", "tag", STATUS[c.status] || c.status));
      if (c.overdue) title.append(make("span", "tag late", "已超时"));
      li.append(title);
      const who = c.owner ? `负责人 ${c.owner}` : "未接手";
      const order = c.work_order_id ? ` · 工单 ${c.work_order_id}` : "";
      li.append(make("p", "case-text", c.text));
      li.append(make("p", "case-meta", `${who} · 答复期限 ${when(c.due_at)}${order}`));
      if (c.resolution) li.append(make("p", "case-note", `处理结果：${c.resolution}`));
      const steps = make("ol", "case-steps");
      for (const s of c.steps) {
        // What was done and why; an escalation's level is in the line already.
        const note = s.note && !["opened", "escalated"].includes(s.kind) ? `：${s.note}` : "";
        steps.append(make("li", null, `${when(s.at)} ${STEP[s.kind] || s.kind}（${LEVEL[s.level]}级，${s.actor}）${note}`));
      }
      li.append(steps, ...complaintActions(c));
      list.append(li);
    }
    complaintPanel.replaceChildren(head, choose, list);
  }

  async function act(path, body) {
    try {
      await call("POST", path, body);
    } catch (error) {
      window.alert(error.message);
    }
    refreshComplaints();
  }

  async function refreshComplaints() {
    try {
      const [summary, complaints] = await Promise.all([
        call("GET", "/desk/api/complaints/summary"),
        call("GET", `/desk/api/complaints?view=${complaintView}`),
      ]);
      const count = summary.waiting + summary.review;
      complaintBadge.textContent = summary.overdue ? `投诉 ${count}（超时 ${summary.overdue}）` : `投诉 ${count}`;
      complaintBadge.classList.toggle("hot", summary.overdue > 0 || summary.review > 0);
      renderComplaints(complaints);
    } catch (_) { /* logged out, or the backend restarts: the next poll tries again */ }
  }

  async function start() {
    try { me = await call("GET", "/desk/api/me"); } catch (_) { setTimeout(start, POLL_MS); return; }
    const header = document.querySelector("#desk header");
    const anchor = document.getElementById("me");
    header.insertBefore(followupBadge, anchor);
    header.insertBefore(complaintBadge, anchor);
    casework.append(followupPanel, complaintPanel);
    document.querySelector("#desk").insertBefore(casework, document.querySelector("#desk .columns"));
    followupBadge.addEventListener("click", () => { followupPanel.hidden = !followupPanel.hidden; });
    complaintBadge.addEventListener("click", () => { complaintPanel.hidden = !complaintPanel.hidden; });
    refreshFollowups();
    refreshComplaints();
    setInterval(() => { refreshFollowups(); refreshComplaints(); }, POLL_MS);
  }

  start();
})();
