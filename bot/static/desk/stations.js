// Supervisors' station panel: flagged orders and every station's load, re-read each minute.
"use strict";

const $ = (selector) => document.querySelector(selector);
const STATUS = { created: "已受理", scheduled: "待接单", accepted: "已接单", on_the_way: "工程师已出发",
  received: "已接机", diagnosing: "检测中", waiting_parts: "等待配件", repaired: "已修好",
  ready_for_pickup: "待取机", closed: "已完成", cancelled: "已取消" };
const KINDS = { on_site: "上门", drop_off: "送修", remote: "远程" };
const REASONS = { not_accepted: "接单超时", sla_amber: "上门即将超时", sla_red: "上门已超时" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

async function get(path) {
  const reply = await fetch(path, { credentials: "same-origin" });
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401) { location.href = "/desk/"; }
  if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
  return data;
}

function sla(s) {
  if (!s) return "";
  return el("span", { class: `sla ${s.state}` }, `${Math.round(s.used * 100)}% · 截止 ${s.due.slice(0, 16).replace("T", " ")}`);
}

async function refresh() {
  try {
    const [flagged, load] = await Promise.all([get("/desk/api/stations/flagged"), get("/desk/api/stations/load")]);
    $("#error").textContent = "";
    $("#flagged").replaceChildren(...(flagged.length ? [] : [el("tr", {}, el("td", { colspan: "7", class: "muted" }, "暂无"))]),
      ...flagged.map((f) => el("tr", {},
      el("td", {}, f.id), el("td", {}, `${f.station_code} ${f.station_name}`), el("td", {}, KINDS[f.kind] || f.kind),
      el("td", {}, STATUS[f.status] || f.status), el("td", {}, f.slot_date ? `${f.slot_date} ${f.slot_start}` : ""),
      el("td", {}, f.reasons.map((r) => REASONS[r] || r).join("、")), el("td", {}, sla(f.sla)))));
    $("#load").replaceChildren(...load.map((s) => el("tr", {},
      el("td", {}, `${s.code} ${s.name}`), el("td", {}, s.city), el("td", {}, String(s.open_orders)),
      el("td", {}, s.oldest_open_hours == null ? "—" : `${s.oldest_open_hours} 小时`),
      el("td", { class: s.capacity_today && s.booked_today >= s.capacity_today ? "bad" : "" }, `${s.booked_today} / ${s.capacity_today}`),
      el("td", { class: s.late ? "bad" : "" }, String(s.late)), el("td", { class: s.sla_red ? "bad" : "" }, String(s.sla_red)))));
  } catch (error) {
    $("#error").textContent = error.message;
  }
}

refresh();
setInterval(refresh, 60000);
