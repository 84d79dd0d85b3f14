// The agent console: plain DOM code over the desk's JSON API and its websocket.
"use strict";

const $ = (selector) => document.querySelector(selector);
const REASONS = { requested: "客户要求", fallback: "多次未理解", complaint: "投诉", angry: "客户不满",
  safety: "安全问题", backend_down: "系统故障", other: "其他" };
const CHANNELS = { webchat: "网页", telegram: "Telegram", rest: "接口", socketio: "网页" };
const KINDS = { customer: "客户", bot: "智能助手", agent: "客服", note: "备注" };

let me = null;
let scope = "queue";
let selected = null;    // the open handoff
let items = [];
// Transcript lines already shown, by kind, timestamp and words: the lines of one bot turn
// share a timestamp to the millisecond, so the timestamp alone would drop all but the first.
let seen = new Set();

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (me) headers["X-CSRF-Token"] = me.csrf_token;
  const reply = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin" });
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401 && path !== "/desk/api/login") { showLogin(); }
  if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function waited(seconds) {
  if (seconds < 60) return `${seconds} 秒`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} 分 ${seconds % 60} 秒`;
  return `${Math.floor(seconds / 3600)} 小时 ${Math.floor((seconds % 3600) / 60)} 分`;
}

// --- login ---------------------------------------------------------------------------------

function showLogin() {
  me = null;
  $("#desk").hidden = true;
  $("#login").hidden = false;
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    me = await api("POST", "/desk/api/login",
      { username: form.get("username"), password: form.get("password") });
    $("#login-error").textContent = "";
    start();
  } catch (error) {
    $("#login-error").textContent = "账号或密码不对";
  }
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/desk/api/logout").catch(() => {});
  location.reload();
});

// --- lists ---------------------------------------------------------------------------------

const ROLE_NAMES = { agent: "客服", supervisor: "主管", manager: "经理" };
// A manager has every right of a supervisor (and is the last step of a complaint).
const isBoss = () => me.role === "supervisor" || me.role === "manager";

async function refreshLists() {
  const scopes = isBoss() ? ["queue", "mine", "live"] : ["queue", "mine"];
  const results = await Promise.all(scopes.map((s) => api("GET", `/desk/api/handoffs?scope=${s}`)));
  scopes.forEach((s, i) => { $(`#count-${s}`).textContent = results[i].length; });
  items = results[scopes.indexOf(scope)] || [];
  // For desk-alerts.js (tab title, notifications) and desk-keys.js.
  document.dispatchEvent(new CustomEvent("desk:lists",
    { detail: { queue: results[0], mine: results[1] } }));
  items.forEach((item) => { item.loadedAt = Date.now(); });
  renderList();
}

function renderList() {
  const list = $("#list");
  list.replaceChildren(...items.map((item) => {
    const seconds = item.waited_seconds +
      (item.status === "waiting" ? Math.floor((Date.now() - item.loadedAt) / 1000) : 0);
    const p = item.package || {};
    const current = selected && selected.id === item.id;
    // A button inside the item, so the queue is reachable by Tab and opened by Enter or Space.
    return decorateItem(item, el("li", { class: `item ${item.reason}${current ? " selected" : ""}`, "data-id": item.id },
      el("button", { type: "button", class: "open", "aria-current": current ? "true" : "false" },
        el("span", {}, el("b", {}, REASONS[item.reason] || item.reason), " · ",
          CHANNELS[item.channel] || item.channel, item.callback_phone ? ` · 回电 ${item.callback_phone}` : ""),
        el("span", { class: "summary" }, (p.fault || p.last_message || "").slice(0, 60)),
        el("span", { class: "muted" }, [p.model_code, p.serial].filter(Boolean).join(" ") || item.conversation_id),
        el("span", { class: "muted" }, item.status === "waiting" ? `已等待 ${waited(seconds)}`
          : `${item.holder || ""} 处理中 · 等待了 ${waited(item.waited_seconds)}`))));
  }));
}

$("#list").addEventListener("click", (event) => {
  const li = event.target.closest("li[data-id]");
  if (li) open(li.dataset.id);
});

document.querySelectorAll(".tabs button").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll(".tabs button").forEach((b) => b.classList.remove("active"));
  button.classList.add("active");
  scope = button.dataset.scope;
  refreshLists();
}));

// --- one conversation ------------------------------------------------------------------------

function line(kind, text, who, buttons, attachment) {
  const item = el("li", { class: `line ${kind}` },
    el("span", { class: "who" }, who || KINDS[kind] || kind), el("span", { class: "text" }, text));
  if (buttons && buttons.length) item.append(el("span", { class: "buttons" }, `［${buttons.join("］［")}］`));
  // A photo or file sent with the line (desk-compose.js draws it).
  if (attachment && window.deskCompose) item.append(window.deskCompose.attachmentNode(attachment));
  const transcript = $("#transcript");
  transcript.append(item);
  transcript.scrollTop = transcript.scrollHeight;
}

function showLine(kind, text, who, buttons, sentAt, attachment) {
  const key = sentAt != null ? `${kind}:${Number(sentAt).toFixed(3)}:${text}` : null;
  if (key && seen.has(key)) return;
  if (key) seen.add(key);
  line(kind, text, who, buttons, attachment);
}

// Other scripts (desk-sla.js, desk-assign.js) add to each queue item as it is drawn.
const itemDecorators = [];
function decorateItem(item, li) {
  itemDecorators.forEach((decorate) => decorate(item, li));
  return li;
}

function renderPackage(item) {
  // For desk-sla.js, desk-assign.js and desk-order.js: the open conversation changed.
  document.dispatchEvent(new CustomEvent("desk:selected", { detail: item }));
  const p = item.package || {};
  const rows = [["转接编号", item.id], ["原因", REASONS[item.reason] || item.reason],
    ["渠道", CHANNELS[item.channel] || item.channel], ["客户", p.customer_name], ["联系电话", p.contact || item.callback_phone],
    ["型号", p.model_code], ["序列号", p.serial], ["保修结论", p.warranty], ["故障", p.fault],
    ["已试过", (p.steps_tried || []).join("；")], ["工单", p.work_order_id],
    ["状态", item.status === "waiting" ? "排队中" : item.status === "assigned" ? `${item.holder} 处理中` : "已结束"]];
  $("#package").replaceChildren(el("dl", {}, ...rows.filter(([, v]) => v).flatMap(([k, v]) =>
    [el("dt", {}, k), k === "联系电话" && String(v).includes("*") ? phoneCell(item, String(v))
      : el("dd", {}, String(v))])));
}

// The desk shows phones masked; the full number is asked for, for a callback, and audited.
function phoneCell(item, masked) {
  const number = el("span", {}, masked);
  const button = el("button", { type: "button", class: "reveal" }, "显示号码");
  button.addEventListener("click", async () => {
    const data = await api("POST", `/desk/api/handoffs/${item.id}/reveal`).catch((error) => {
      $("#action-error").textContent = error.message; return null;
    });
    if (!data) return;
    number.textContent = data.contact || data.callback_phone || masked;
    button.remove();
  });
  return el("dd", {}, number, " ", button);
}

// The colleagues to transfer to, by name (namesakes: whoever is at work first). Loaded
// again whenever a conversation is opened, so that colleagues who logged in (or were added)
// since this page loaded are in the right place; the teams (desk-assign.js's optgroup) stay.
async function loadColleagues() {
  const staff = await api("GET", "/desk/api/staff");
  const select = $("#transfer-to");
  const chosen = select.value;
  select.querySelectorAll(":scope > option").forEach((option) => option.remove());
  select.prepend(...staff.filter((s) => s.id !== me.id)
    .map((s) => el("option", { value: s.id }, s.display_name)));
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

async function open(id) {
  loadColleagues().catch(() => {});
  const data = await api("GET", `/desk/api/handoffs/${id}`).catch((error) => {
    $("#action-error").textContent = error.message; return null;
  });
  if (!data) return;
  selected = data.handoff;
  seen = new Set();
  $("#transcript").replaceChildren();
  renderPackage(selected);
  data.transcript.forEach((l) => showLine(l.kind, l.text, l.kind === "agent" ? `客服 ${l.agent}` : null,
    l.buttons, l.sent_at, l.attachment));
  data.notes.filter((n) => n.kind === "note").forEach((n) => line("note", n.text, `备注 · ${n.staff}`));
  $("#partial").hidden = data.transcript_complete;
  $("#conversation").hidden = false;
  $("#actions").hidden = false;
  // Open at the latest message: the lines were added while the pane may still have been hidden.
  $("#transcript").scrollTop = $("#transcript").scrollHeight;
  updateActions();
  // For desk-context.js (the customer panel).
  document.dispatchEvent(new CustomEvent("desk:opened", { detail: selected }));
  renderList();
  document.dispatchEvent(new CustomEvent("desk:opened", { detail: selected }));
  const canned = await api("GET", `/desk/api/handoffs/${id}/canned`).catch(() => []);
  $("#canned").replaceChildren(el("option", { value: "" }, "常用回复…"),
    ...canned.map((c) => el("option", { value: c.text }, c.title)));
}

function updateActions() {
  const mine = selected.status === "assigned" && selected.holder_id === me.id;
  const boss = isBoss();
  $("#claim").hidden = selected.status !== "waiting";
  $("#compose").hidden = !(mine || selected.status !== "closed");
  $("#send").disabled = !mine && !$("#as-note").checked;
  for (const id of ["#transfer", "#close", "#handback"]) $(id).disabled = !(mine || (boss && selected.status !== "closed"));
  $("#workorder-form button").disabled = !mine;
  $("#step-form button").disabled = !mine;
  // For desk-search.js (reopening a closed conversation).
  document.dispatchEvent(new CustomEvent("desk:selected", { detail: selected }));
}

$("#as-note").addEventListener("change", updateActions);
$("#canned").addEventListener("change", (event) => {
  if (event.target.value) $("#text").value = event.target.value;
  event.target.value = "";
  $("#text").focus();
});

async function act(promise) {
  $("#action-error").textContent = "";
  try {
    const item = await promise;
    // Only a handoff (with its holder) becomes the open item: a booking answers a work order.
    if (item && item.id && "holder_id" in item) { selected = item; renderPackage(item); updateActions(); }
    await refreshLists();
    return item;
  } catch (error) {
    $("#action-error").textContent = error.message;
    return null;
  }
}

async function send() {
  const box = $("#text");
  const text = box.value.trim();
  if (!text || !selected) return;
  const note = $("#as-note").checked;
  // Cleared at once, so what the agent types or picks while this is on its way stays; put
  // back only if it failed and the box is still empty.
  box.value = "";
  const done = await act(api("POST", `/desk/api/handoffs/${selected.id}/${note ? "notes" : "messages"}`, { text }));
  if (!done && !box.value) box.value = text;
}

$("#send").addEventListener("click", send);
$("#text").addEventListener("keydown", (event) => {
  // Enter sends, except while an input method is composing Chinese.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
});
$("#claim").addEventListener("click", () => act(api("POST", `/desk/api/handoffs/${selected.id}/claim`)));
$("#close").addEventListener("click", () => act(api("POST", `/desk/api/handoffs/${selected.id}/close`,
  { resolution: $("#resolution").value })));
$("#handback").addEventListener("click", () => act(api("POST", `/desk/api/handoffs/${selected.id}/handback`,
  { resolution: $("#resolution").value })));

$("#workorder-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = Object.fromEntries([...new FormData(event.target)].filter(([, v]) => v));
  const order = await act(api("POST", `/desk/api/handoffs/${selected.id}/workorders`, body));
  if (order) { line("note", `已创建工单 ${order.id}`, "系统"); open(selected.id); }
});
$("#step-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = Object.fromEntries(new FormData(event.target));
  const order = await act(api("POST", `/desk/api/handoffs/${selected.id}/workorders/${form.order}/transitions`,
    { to: form.to, note: form.note }));
  if (order) line("note", `工单 ${order.id} → ${order.status}`, "系统");
});

// --- live ------------------------------------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshLists, 150);
}

// Said in words as well as colour.
function setLive(on) {
  $("#live").className = on ? "live on" : "live off";
  $("#live").textContent = on ? "● 实时连接中" : "○ 连接已断开";
}

function connect() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/desk/ws`);
  socket.onopen = () => { setLive(true); refreshLists(); };
  socket.onclose = () => {
    setLive(false);
    if (me) setTimeout(connect, 1000);
  };
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data);
    document.dispatchEvent(new CustomEvent("desk:feed", { detail: m }));
    if (m.kind === "state") {
      refreshSoon();
      if (selected && m.handoff_id === selected.id) {
        api("GET", `/desk/api/handoffs/${selected.id}`).then((d) => {
          selected = d.handoff; renderPackage(selected); updateActions();
        }).catch(() => {});
      }
      return;
    }
    if (m.kind === "typing") return; // desk-compose.js shows it, from desk:feed
    if (!selected || m.handoff_id !== selected.id) { refreshSoon(); return; }
    if (m.kind === "note") line("note", m.text, `备注 · ${m.staff}`);
    else showLine(m.kind, m.text, m.kind === "agent" ? `客服 ${m.data.agent}` : null, m.data.buttons, m.sent_at,
      m.data.attachment);
  };
}

// What the backend can reach (GET /desk/api/status): say so when the assistant or the live
// feed is down, since replies and customers' messages are then held up.
async function checkStatus() {
  if (!me) return;
  const problems = [];
  try {
    const status = await api("GET", "/desk/api/status");
    if (!status.rasa_reachable) problems.push("智能助手（Rasa）暂时连不上：您的回复可能发不到客户那里");
    if (!status.feed_alive) problems.push("客户消息的实时通道中断：新消息可能延迟显示");
  } catch (error) {
    problems.push("工作台后台暂时连不上，正在重试");
  }
  $("#banner").textContent = problems.join("；");
  $("#banner").hidden = problems.length === 0;
}

async function start() {
  // An operator's account sees the reports and alerts only: no conversation is theirs to read.
  if (me.role === "operator") { location.href = "/desk/reports.html"; return; }
  $("#login").hidden = true;
  $("#desk").hidden = false;
  $("#me").textContent = `${me.display_name}（${ROLE_NAMES[me.role] || "客服"}）`;
  $("#tab-live").hidden = !isBoss();
  $("#stations-link").hidden = !isBoss();
  await loadColleagues();
  await refreshLists();
  connect();
  checkStatus();
}

setInterval(checkStatus, 15000);

setInterval(() => { if (me && items.length) renderList(); }, 1000);

// For desk-compose.js: the open conversation, who is logged in, the API helper.
window.desk = { selected: () => selected, me: () => me, api };

api("GET", "/desk/api/me").then((who) => { me = who; start(); }).catch(showLogin);
