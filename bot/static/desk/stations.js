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

let csrf = "";
let shownDrafts = "";

async function get(path, method = "GET", body = undefined) {
  const reply = await fetch(path, { method, credentials: "same-origin", body: body && JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf } });
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401) { location.href = "/desk/"; }
  if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
  return data;
}

function sla(s) {
  if (!s) return "";
  return el("span", { class: `sla ${s.state}` }, `${Math.round(s.used * 100)}% · 截止 ${s.due.slice(0, 16).replace("T", " ")}`);
}

// A draft becomes a fault case the bot uses only once a supervisor approves it, with a title,
// the steps for customers and when they should stop.
function draftRow(d) {
  const title = el("input", { placeholder: "案例标题", value: `${d.model_code} ${d.error_code}` });
  const steps = el("textarea", { rows: "3", placeholder: "自查步骤，每行一步" });
  steps.value = d.steps.join("\n");
  const stop = el("input", { placeholder: "何时停止自查、预约维修" });
  const approve = el("button", { class: "primary" }, "通过");
  const reject = el("button", {}, "驳回");
  const review = async (decision) => {
    const body = { decision };
    if (decision === "approve") {
      Object.assign(body, { title: title.value.trim(), stop_when: stop.value.trim(),
        steps: steps.value.split("\n").map((s) => s.trim()).filter(Boolean) });
    }
    try { await get(`/desk/api/case-drafts/${d.id}/review`, "POST", body); refresh(); }
    catch (error) { $("#error").textContent = error.message; }
  };
  approve.addEventListener("click", () => review("approve"));
  reject.addEventListener("click", () => review("reject"));
  return el("tr", { "data-draft": String(d.id) }, el("td", {}, `${d.model_code} / ${d.error_code}`),
    el("td", {}, `${d.root_cause} → ${d.fix}${d.parts.length ? `（${d.parts.join(", ")}）` : ""}`),
    el("td", {}, String(d.occurrences)), el("td", {}, d.symptoms.join("；")),
    el("td", {}, title, steps, stop, approve, " ", reject));
}

async function refresh() {
  try {
    if (!csrf) csrf = (await get("/desk/api/me")).csrf_token;
    const [flagged, load, drafts] = await Promise.all([get("/desk/api/stations/flagged"),
      get("/desk/api/stations/load"), get("/desk/api/case-drafts")]);
    // Redrawn only when the drafts change, so the minute's refresh keeps what is being typed.
    const ids = drafts.map((d) => `${d.id}:${d.occurrences}`).join(",") || "none";
    if (ids !== shownDrafts) {
      shownDrafts = ids;
      $("#drafts").replaceChildren(...(drafts.length ? drafts.map(draftRow)
        : [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "暂无"))]));
    }
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
