// Work-order tools (bot/desk/orders.py): the booking form filled in from the handoff package
// and the conversation, the station and slot picked from what is really free, and the
// customer's orders to move along without retyping an id. desk.js sends the forms.
"use strict";

const orderState = { handoff: null, orders: [] };
const WEEKDAYS = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
const STEP_NAMES = { scheduled: "已预约", accepted: "服务站已接单", on_the_way: "工程师已出发",
  received: "已收到设备", diagnosing: "检测中", waiting_parts: "等配件", repaired: "已修好",
  ready_for_pickup: "待取机", closed: "已完结", cancelled: "已取消", created: "已创建" };

function slotLabel(slot) {
  const day = new Date(`${slot.date}T00:00:00`);
  return `${day.getMonth() + 1}月${day.getDate()}日 ${WEEKDAYS[day.getDay()]} ${slot.start}-${slot.end}（余 ${slot.free}）`;
}

function field(name) {
  return $("#workorder-form").elements.namedItem(name);
}

function onFile(name, masked) {
  const box = field(name);
  const label = box.closest("label");
  label.hidden = !masked;
  box.checked = Boolean(masked);
  label.querySelector("span").textContent = masked || "";
}

async function loadSlots() {
  const code = $("#wo-station").value;
  const select = $("#wo-slot");
  field("slot_date").value = "";
  field("slot_start").value = "";
  if (!code) { select.replaceChildren(el("option", { value: "" }, "先选网点，再选时段…")); return; }
  const slots = await api("GET", `/desk/api/stations/${code}/slots?days=7`).catch(() => []);
  select.replaceChildren(el("option", { value: "" }, slots.length ? "选择时段…" : "七天内没有空位，换个网点"),
    ...slots.map((s) => el("option", { value: `${s.date}|${s.start}` }, slotLabel(s))));
}

$("#wo-station").addEventListener("change", loadSlots);
$("#wo-slot").addEventListener("change", (event) => {
  const [day, start] = event.target.value.split("|");
  field("slot_date").value = day || "";
  field("slot_start").value = start || "";
});

async function fillBooking(item) {
  const draft = await api("GET", `/desk/api/handoffs/${item.id}/booking`).catch(() => null);
  if (!draft || !selected || selected.id !== item.id) return;
  field("kind").value = draft.kind;
  field("serial").value = draft.serial || "";
  field("model_code").value = draft.model_code || "";
  field("fault").value = draft.fault || "";
  field("phone").value = "";
  field("address").value = "";
  onFile("phone_on_file", draft.phone_masked);
  onFile("address_on_file", draft.address_masked);
  $("#wo-station").replaceChildren(el("option", { value: "" }, "选择服务网点…"),
    ...draft.stations.map((s) => el("option", { value: s.code }, `${s.code} ${s.name}（${s.city}${s.district}）`)));
  if (draft.station_code && draft.stations.some((s) => s.code === draft.station_code)) {
    $("#wo-station").value = draft.station_code;
  }
  await loadSlots();
}

function showSteps() {
  const order = orderState.orders.find((o) => o.id === $("#wo-order").value);
  const to = $("#step-form").elements.namedItem("to");
  const steps = order ? order.next : [];
  to.replaceChildren(...(steps.length ? steps.map((s) => el("option", { value: s }, STEP_NAMES[s] || s))
    : [el("option", { value: "" }, order ? "该工单已无可做的步骤" : "先选工单")]));
}

async function loadOrders(item) {
  orderState.orders = await api("GET", `/desk/api/handoffs/${item.id}/workorders`).catch(() => []);
  const select = $("#wo-order");
  const keep = select.value;
  select.replaceChildren(el("option", { value: "" }, orderState.orders.length ? "客户的工单…" : "客户还没有工单"),
    ...orderState.orders.map((o) => el("option", { value: o.id },
      `${o.id} · ${STEP_NAMES[o.status] || o.status}${o.slot_date ? ` · ${o.slot_date} ${o.slot_start}` : ""}`)));
  if (orderState.orders.some((o) => o.id === keep)) select.value = keep;
  else if (orderState.orders.length === 1) select.value = orderState.orders[0].id;
  showSteps();
}

$("#wo-order").addEventListener("change", showSteps);
$("#step-form").addEventListener("submit", () => {
  // desk.js moves the order; then the list shows its new status and next steps.
  setTimeout(() => { if (selected) loadOrders(selected); }, 400);
});

document.addEventListener("desk:selected", (event) => {
  const item = event.detail;
  if (item.status === "closed") return;
  // The form is filled once per conversation, so what the agent changed stays.
  if (orderState.handoff !== item.id) {
    orderState.handoff = item.id;
    fillBooking(item);
  }
  loadOrders(item);
});
