// The station console: plain DOM code over the station's JSON API (/station/api/).
"use strict";

const $ = (selector) => document.querySelector(selector);
const STATUS = { created: "已受理", scheduled: "待接单", accepted: "已接单", on_the_way: "工程师已出发",
  received: "已接机", diagnosing: "检测中", waiting_parts: "等待配件", repaired: "已修好",
  ready_for_pickup: "待取机", closed: "已完成", cancelled: "已取消" };
const KINDS = { on_site: "上门", drop_off: "送修", remote: "远程" };
const REMEDY = { return: "退货", exchange: "换货", free_repair: "免费维修", paid_repair: "付费维修" };
const SLA = { green: "响应时限内", amber: "即将超时", red: "已超时", met: "按时响应", missed: "超时响应" };

let me = null;
let scope = "open";
let selected = null;   // the open order's detail

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (me) headers["X-CSRF-Token"] = me.csrf_token;
  const reply = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin" });
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401 && path !== "/station/api/login") { showLogin(); }
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

// The backend sends times in the service's zone with its offset: shown as they are, whatever
// the zone of the browser.
const when = (iso) => iso ? iso.slice(0, 16).replace("T", " ") : "";
const slot = (o) => o.slot_date ? `${o.slot_date} ${o.slot_start}-${o.slot_end || ""}` : "未约时段";

function slaBadge(sla) {
  if (!sla) return null;
  const used = Math.round(sla.used * 100);
  return el("span", { class: `sla ${sla.state}`, title: `承诺 ${sla.promised_hours} 小时（${sla.tier} 类城市），截止 ${when(sla.due)}` },
    `${SLA[sla.state]} ${used}%`);
}

// --- login ---------------------------------------------------------------------------------

function showLogin() {
  me = null;
  $("#console").hidden = true;
  $("#login").hidden = false;
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    me = await api("POST", "/station/api/login",
      { username: form.get("username"), password: form.get("password") });
    $("#login-error").textContent = "";
    start();
  } catch (error) {
    $("#login-error").textContent = "账号或密码不对";
  }
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/station/api/logout").catch(() => {});
  location.reload();
});

// --- the list ------------------------------------------------------------------------------

async function refreshList() {
  const items = await api("GET", `/station/api/orders?scope=${scope}`);
  if (scope === "open") $("#count-open").textContent = items.length;
  const list = $("#list");
  list.replaceChildren(...items.map((o) => {
    const li = el("li", { class: "item" + (selected && selected.order.id === o.id ? " selected" : ""),
      "data-id": o.id },
      el("div", {}, el("b", {}, o.id), " ", el("span", { class: "tag" }, STATUS[o.status] || o.status),
        o.late ? el("span", { class: "tag late" }, "接单超时") : null, " ", slaBadge(o.sla)),
      el("div", { class: "summary" }, `${KINDS[o.kind] || o.kind} · ${o.model_code || ""} · ${o.fault}`),
      el("div", { class: "meta" }, el("span", {}, slot(o)), o.engineer ? el("span", {}, `工程师 ${o.engineer}`) : null));
    li.addEventListener("click", () => openOrder(o.id));
    return li;
  }));
}

document.querySelectorAll(".tabs button[data-scope]").forEach((button) => {
  button.addEventListener("click", () => {
    scope = button.dataset.scope;
    document.querySelectorAll(".tabs button[data-scope]").forEach((b) => b.classList.toggle("active", b === button));
    refreshList();
  });
});
$("#refresh").addEventListener("click", () => refreshList());

// --- one order -----------------------------------------------------------------------------

function row(label, value) {
  return value ? [el("dt", {}, label), el("dd", {}, value)] : [];
}

function render(detail) {
  selected = detail;
  const o = detail.order;
  $("#order").hidden = false;
  $("#actions").hidden = false;
  $("#order-title").replaceChildren(`${o.id} · ${STATUS[o.status] || o.status} `,
    detail.late ? el("span", { class: "tag late" }, "接单超时") : "", " ", slaBadge(detail.sla) || "");
  const v = detail.verdict;
  $("#package").replaceChildren(
    ...row("服务方式", KINDS[o.kind] || o.kind),
    ...row("机型", o.model_code), ...row("序列号", o.serial),
    ...row("三包结论", v ? `${REMEDY[v.remedy] || v.remedy}${v.until ? `（${v.until} 前）` : ""} · ${v.policy_title}` : "无设备档案"),
    ...row("故障", o.fault), ...row("错误代码", o.error_code),
    ...row("已尝试", (o.steps_tried || []).join("；")),
    ...row("预约时段", slot(o)), ...row("客户", o.customer_name), ...row("电话", o.phone),
    ...row("上门地址", o.kind === "on_site" ? o.address : null),
    ...row("工程师", o.engineer), ...row("接单时间", when(o.accepted_at)));
  $("#timeline").replaceChildren(...o.timeline.map((e) => el("li", {},
    el("span", { class: "when" }, when(e.at)), el("b", {}, STATUS[e.status] || e.status), " ",
    e.note || "", e.parts && e.parts.length ? ` · 配件 ${e.parts.join(", ")}` : "")));
  $("#similar").replaceChildren(...(detail.similar.length ? detail.similar.map((p) => el("li", {},
    el("span", { class: "when" }, `${when(p.closed_at)} ${p.station_code}`),
    `${p.root_cause} → ${p.fix}`, p.parts.length ? ` · 配件 ${p.parts.join(", ")}` : "",
    p.note ? ` · ${p.note}` : "")) : [el("li", { class: "muted" }, o.error_code ? "暂无记录" : "工单没有错误代码")]));
  const next = detail.next.filter((s) => s !== "accepted");
  $("#next").replaceChildren(...next.map((s) => el("option", { value: s }, STATUS[s] || s)));
  showOutcome();
  $("#step").disabled = next.length === 0;
  $("#accept").disabled = !detail.next.includes("accepted");
  $("#assign").disabled = ["closed", "cancelled"].includes(o.status);
  $("#engineer").value = o.engineer || "";
  document.querySelectorAll("#list .item").forEach((li) => li.classList.toggle("selected", li.dataset.id === o.id));
}

async function openOrder(id) {
  $("#action-error").textContent = "";
  render(await api("GET", `/station/api/orders/${id}`));
}

async function act(body) {
  $("#action-error").textContent = "";
  try {
    render(await api("POST", `/station/api/orders/${selected.order.id}/steps`, body));
    for (const field of ["#note", "#parts", "#root-cause", "#fix"]) $(field).value = "";
    await refreshList();
  } catch (error) {
    $("#action-error").textContent = error.message;
  }
}

const engineer = () => $("#engineer").value.trim() || undefined;

$("#accept").addEventListener("click", () => act({ to: "accepted", engineer: engineer() }));
$("#assign").addEventListener("click", () => {
  if (!engineer()) { $("#action-error").textContent = "请填写工程师姓名"; return; }
  act({ to: selected.order.status, engineer: engineer() });
});
// Closing records what was found and done, coded, for the fault-case base.
function showOutcome() { $("#outcome").hidden = $("#next").value !== "closed"; }
$("#next").addEventListener("change", showOutcome);

$("#step").addEventListener("click", () => {
  const body = {
    to: $("#next").value,
    note: $("#note").value.trim(),
    parts: $("#parts").value.split(/[,，\s]+/).filter(Boolean),
  };
  if (body.to === "closed") {
    body.outcome = { root_cause: $("#root-cause").value.trim(), fix: $("#fix").value.trim() };
  }
  act(body);
});

// --- start ---------------------------------------------------------------------------------

async function start() {
  $("#login").hidden = true;
  $("#console").hidden = false;
  $("#me").textContent = me.display_name;
  $("#station").textContent = me.station_code;
  const engineers = await api("GET", "/station/api/engineers").catch(() => ({ names: [] }));
  $("#engineers").replaceChildren(...engineers.names.map((n) => el("option", { value: n })));
  await refreshList();
}

(async () => {
  try {
    me = await api("GET", "/station/api/me");
    start();
  } catch (error) {
    showLogin();
  }
})();
// Bookings reach the console at once; the list is re-read every 30 s while the page is open.
setInterval(() => { if (me) refreshList().catch(() => {}); }, 30000);
