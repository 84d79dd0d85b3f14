// Duty, teams and transfer (bot/desk/assign.py): the agent goes on duty or on a break, hands a
// conversation to a colleague or to a team's queue with a note the receiver sees, and
// supervisors set who belongs to which team.
"use strict";

const assignState = { teams: [], started: false };

function teamName(code) {
  const team = assignState.teams.find((t) => t.code === code);
  return team ? team.name : code;
}

// --- duty ------------------------------------------------------------------------------------

function showDuty(duty) {
  const button = $("#duty");
  button.hidden = me.role !== "agent";
  button.setAttribute("aria-pressed", duty.on_duty ? "true" : "false");
  button.textContent = duty.on_duty
    ? `接待中（${duty.open}/${duty.limit}）· 点此暂停`
    : "已暂停接待 · 点此开始";
  button.title = duty.auto_assign ? "接待中时系统会自动分配排队客户" : "接待中时可从排队中接入客户";
}

$("#duty").addEventListener("click", async () => {
  const on = $("#duty").getAttribute("aria-pressed") !== "true";
  const duty = await api("POST", "/desk/api/duty", { on_duty: on }).catch((error) => {
    $("#action-error").textContent = error.message; return null;
  });
  if (duty) { showDuty(duty); refreshLists(); }
});

// --- teams -----------------------------------------------------------------------------------

function addTeamTargets() {
  const select = $("#transfer-to");
  select.querySelectorAll("optgroup.teams").forEach((g) => g.remove());
  if (!assignState.teams.length) return;
  select.append(el("optgroup", { class: "teams", label: "转到班组（回到排队，由组内同事接入）" },
    ...assignState.teams.map((t) => el("option", { value: `team:${t.code}` }, `${t.name}`))));
}

// Supervisors: who belongs to which team, as checkboxes per team.
async function teamPanel() {
  const staff = await api("GET", "/desk/api/staff").catch(() => []);
  const panel = el("details", { id: "teams", class: "keys" }, el("summary", {}, "班组成员"));
  for (const team of assignState.teams) {
    const members = new Set(team.members.map((m) => m.id));
    const boxes = staff.map((s) => el("label", {},
      Object.assign(el("input", { type: "checkbox", value: s.id }), { checked: members.has(s.id) }),
      ` ${s.display_name}`));
    const save = el("button", { type: "button" }, "保存");
    const status = el("span", { class: "muted", role: "status" });
    save.addEventListener("click", async () => {
      const ids = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => Number(i.value));
      const done = await api("POST", `/desk/api/teams/${team.code}/members`, { staff_ids: ids })
        .catch((error) => { status.textContent = error.message; return null; });
      if (done) status.textContent = "已保存";
    });
    panel.append(el("fieldset", { "data-team": team.code }, el("legend", {}, team.name), ...boxes, save, status));
  }
  $("#keys").after(panel);
}

async function startAssign() {
  if (assignState.started) return;
  assignState.started = true;
  assignState.teams = await api("GET", "/desk/api/teams").catch(() => []);
  addTeamTargets();
  if (me.role === "agent") api("GET", "/desk/api/duty").then(showDuty).catch(() => {});
  if (isBoss()) teamPanel();
}

document.addEventListener("desk:lists", () => {
  startAssign();
  if (me && me.role === "agent" && assignState.started) {
    api("GET", "/desk/api/duty").then(showDuty).catch(() => {});
  }
});

// --- transfer --------------------------------------------------------------------------------

$("#transfer").addEventListener("click", async () => {
  const target = $("#transfer-to").value;
  const note = $("#transfer-reason").value.trim();
  const body = target.startsWith("team:") ? { team: target.slice(5), note } : { to: Number(target), note };
  const done = await act(api("POST", `/desk/api/handoffs/${selected.id}/transfer`, body));
  if (done) $("#transfer-reason").value = "";
});

// --- what the receiver sees ------------------------------------------------------------------

itemDecorators.push((item, li) => {
  const open = li.querySelector(".open");
  if (item.team) open.append(el("span", { class: "team" }, `班组：${teamName(item.team)}`));
  if (item.transfer_note) {
    open.append(el("span", { class: "transfer-note" },
      `转接备注（${item.transferred_by || ""}）：${item.transfer_note}`));
  }
});

document.addEventListener("desk:selected", (event) => {
  const item = event.detail;
  const box = $("#transfer-note");
  box.hidden = !item.transfer_note;
  box.textContent = item.transfer_note ? `${item.transferred_by || "同事"} 转接时留言：${item.transfer_note}` : "";
});

// A customer given to this agent (automatically, or by a colleague's transfer) is news like a
// new customer in the queue: the same sound and notification (desk-alerts.js).
document.addEventListener("desk:feed", (event) => {
  const m = event.detail;
  if (m.kind !== "state" || !me || !m.data) return;
  if (["auto_assigned", "transferred"].includes(m.text) && m.data.to === me.display_name) {
    notify("有客户转给了您", "", m.handoff_id);
  } else if (m.text === "transferred" && m.data.team) {
    notify("有客户转到班组排队", teamName(m.data.team), m.handoff_id);
  }
});
