// The customer beside the conversation (GET /desk/api/handoffs/{id}/context): who they are,
// their earlier conversations, their devices with the 三包 engine's verdict for today,
// extensions and repairs, their work orders and complaints. Phones come masked; the full
// number stays the audited "显示号码" of the package. Uses desk.js's globals ($, el, api, open).
"use strict";

const CTX_REMEDIES = { return: "可退货", exchange: "可换货", free_repair: "免费维修", paid_repair: "付费维修" };
const CTX_COVERAGE = { return_window: "退货期", exchange_window: "换货期", whole_machine: "整机保修",
  whole_unit: "整机保修", main_parts: "主要部件保修" };
const CTX_PHONES = { contact: "联系电话", callback: "回电号码", proven: "已验证" };
const CTX_ORDER_STATUS = { created: "已创建", scheduled: "已预约", accepted: "服务站已接单",
  on_the_way: "工程师已出发", received: "已收到设备", diagnosing: "检测中", waiting_parts: "等配件",
  repaired: "已修好", ready_for_pickup: "待取机", closed: "已完结", cancelled: "已取消" };
const CTX_KINDS = { drop_off: "送修", on_site: "上门", remote: "远程" };
const CTX_COMPLAINT = { open: "待处理", in_progress: "处理中", resolved: "已解决", closed: "已关闭" };
const CTX_STATUS = { waiting: "排队中", assigned: "处理中", closed: "已结束" };

let contextFor = null;   // the handoff the panel shows
let contextTimer = null;

function contextPanel() {
  let panel = $("#context");
  if (!panel) {
    panel = el("section", { id: "context", class: "context", "aria-labelledby": "context-title" },
      el("h2", { id: "context-title" }, "客户与设备"), el("div", { id: "context-body" }));
    $("#actions").append(panel);
  }
  return panel;
}

function day(iso) {
  return iso ? String(iso).slice(0, 10) : "";
}

function when(iso) {
  return iso ? String(iso).slice(0, 16).replace("T", " ") : "";
}

function group(title, count, ...rows) {
  return el("div", { class: "ctx-group" },
    el("h3", {}, `${title}（${count}）`),
    count ? el("ul", { class: "ctx-list" }, ...rows) : el("p", { class: "muted" }, "无"));
}

function warrantyLine(device) {
  const w = device.warranty;
  if (!device.known) return el("span", { class: "muted" }, "未登记的序列号");
  if (!w || w.problem) return el("span", { class: "muted" }, "暂无保修结论");
  const until = w.until ? ` · 至 ${w.until}` : "";
  const cls = w.remedy === "paid_repair" ? "ctx-warranty expired" : "ctx-warranty active";
  const badge = el("span", { class: cls }, `${CTX_REMEDIES[w.remedy] || w.remedy}${until}`);
  // Paid for the whole, yet a part may still be covered (main parts run longer): say which.
  const still = (w.coverage || []).filter((c) => c.active).sort((a, b) => (a.ends_on < b.ends_on ? 1 : -1))[0];
  if (w.remedy !== "paid_repair" || !still) return badge;
  return el("span", {}, badge, " ", el("span", { class: "ctx-warranty active" },
    `${CTX_COVERAGE[still.key] || still.key}至 ${still.ends_on}`));
}

function deviceItem(device) {
  const details = el("details", { class: "ctx-device" },
    el("summary", {}, el("b", {}, device.serial), " ", device.model_name || "", " ", warrantyLine(device)));
  const w = device.warranty;
  const facts = [];
  if (device.invoice_date) facts.push(el("li", {}, `购买日期 ${device.invoice_date}`));
  if (w && w.policy_title) facts.push(el("li", {}, `依据 ${w.policy_title}`));
  for (const c of (w && w.coverage) || []) {
    facts.push(el("li", {}, `${CTX_COVERAGE[c.key] || c.key} 至 ${c.ends_on}（${c.active ? "有效" : "已过期"}）`));
  }
  for (const x of device.extensions) facts.push(el("li", {}, `延保 ${x.plan_code}：${x.starts_on} 至 ${x.ends_on}`));
  if (device.extended_until && !device.extensions.length) facts.push(el("li", {}, `延保至 ${device.extended_until}`));
  for (const r of device.repairs) {
    facts.push(el("li", {}, `维修 ${r.repaired_on}：${r.part_name || r.part || ""} ${r.fault}`
      + (r.work_order_id ? `（${r.work_order_id}）` : "")));
  }
  if (!facts.length) facts.push(el("li", { class: "muted" }, "没有更多记录"));
  details.append(el("ul", {}, ...facts));
  return el("li", {}, details);
}

function conversationItem(c) {
  const who = c.holder ? `（${c.holder}）` : "";
  const words = `${when(c.created_at)} · ${REASONS[c.reason] || c.reason} · ${CTX_STATUS[c.status] || c.status}${who}`;
  if (c.current) return el("li", { class: "ctx-current" }, `${words} · 当前`);
  if (!c.openable) return el("li", { class: "muted" }, words);
  const button = el("button", { type: "button", class: "link ctx-open", "data-id": c.id }, words);
  button.addEventListener("click", () => open(c.id));
  return el("li", {}, button);
}

function orderItem(o) {
  const details = el("details", { class: "ctx-order", "data-id": o.id },
    el("summary", {}, el("b", {}, o.id), ` · ${CTX_ORDER_STATUS[o.status] || o.status}`),
    el("ul", {},
      el("li", {}, `${CTX_KINDS[o.kind] || o.kind} · 网点 ${o.station_code}`
        + (o.slot_date ? ` · ${o.slot_date} ${o.slot_start || ""}` : "")),
      o.serial ? el("li", {}, `序列号 ${o.serial}`) : null,
      el("li", {}, `故障：${o.fault}`),
      o.phone ? el("li", {}, `电话 ${o.phone}`) : null,
      o.address ? el("li", {}, `地址 ${o.address}`) : null,
      el("li", { class: "muted" }, `创建于 ${when(o.created_at)}`)));
  // Opening an order makes it the one the status form changes: no retyping of its id.
  details.addEventListener("toggle", () => {
    const field = document.querySelector("#step-form [name=order]");
    if (details.open && field) field.value = o.id;
  });
  return el("li", {}, details);
}

function complaintItem(c) {
  return el("li", {}, el("details", { class: "ctx-complaint" },
    el("summary", {}, el("b", {}, c.id), ` · ${CTX_COMPLAINT[c.status] || c.status} · ${day(c.created_at)}`),
    el("p", {}, c.text), c.work_order_id ? el("p", { class: "muted" }, `关联工单 ${c.work_order_id}`) : null));
}

function renderContext(ctx) {
  const phones = ctx.phones.map((p) => `${p.masked}（${CTX_PHONES[p.source] || p.source}）`);
  const who = el("dl", { class: "ctx-who" },
    el("dt", {}, "渠道"), el("dd", {}, CHANNELS[ctx.channel] || ctx.channel),
    el("dt", {}, "身份"), el("dd", { class: "ctx-identity" }, ctx.identity),
    el("dt", {}, "姓名"), el("dd", {}, ctx.customer_name || "未提供"),
    el("dt", {}, "电话"), el("dd", {}, phones.join("，") || "未提供"));
  $("#context-body").replaceChildren(who,
    group("历次会话", ctx.conversations.length, ...ctx.conversations.map(conversationItem)),
    group("设备", ctx.devices.length, ...ctx.devices.map(deviceItem)),
    group("维修工单", ctx.work_orders.length, ...ctx.work_orders.map(orderItem)),
    group("投诉", ctx.complaints.length, ...ctx.complaints.map(complaintItem)));
}

async function loadContext(item) {
  contextPanel();
  contextFor = item.id;
  // A waiting customer is for whoever claims them (the rule of the reveal).
  if (item.status === "waiting" && !isBoss()) {
    $("#context-body").replaceChildren(el("p", { class: "muted" }, "接入会话后显示客户资料"));
    return;
  }
  try {
    const ctx = await api("GET", `/desk/api/handoffs/${item.id}/context`);
    if (contextFor === item.id) renderContext(ctx);
  } catch (error) {
    if (contextFor === item.id) {
      $("#context-body").replaceChildren(el("p", { class: "muted" }, `客户资料暂不可用：${error.message}`));
    }
  }
}

document.addEventListener("desk:opened", (event) => loadContext(event.detail));
// A claim, a new work order or a close changes what the panel shows: reload it, once.
document.addEventListener("desk:feed", (event) => {
  const m = event.detail;
  if (m.kind !== "state" || !selected || m.handoff_id !== contextFor) return;
  clearTimeout(contextTimer);
  contextTimer = setTimeout(() => { if (selected) loadContext(selected); }, 300);
});
