// postel sim web bench: vanilla JS, no dependencies. Message data is only ever put
// into the page as text (textContent), never as markup; HTML bodies go into a
// sandboxed iframe served with a CSP that blocks scripts and remote loads.
"use strict";

const api = "/api/v1";
let current = null; // { kind: "message"|"session", id }
let tab = "messages";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
  }
  return e;
}

async function getJson(path, options) {
  const r = await fetch(path, options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function showTab(name) {
  tab = name;
  for (const b of document.querySelectorAll("nav .tab")) b.classList.toggle("active", b.dataset.tab === name);
  for (const v of ["messages", "sessions", "faults"]) document.getElementById("view-" + v).hidden = v !== name;
  if (name === "sessions") loadSessions();
  if (name === "faults") loadFaults();
}

async function loadMessages() {
  const q = document.getElementById("search").value.trim();
  const data = await getJson(api + "/messages" + (q ? "?query=" + encodeURIComponent(q) : ""));
  const body = document.getElementById("messages");
  body.replaceChildren(...data.messages.map((m) => {
    const row = el("tr", { class: "msg-row", "data-id": m.id, onclick: () => openMessage(m.id) },
      el("td", { class: "from" }, m.header_from || m.from || "<>"),
      el("td", { class: "to" }, m.to.join(", ")),
      el("td", { class: "subject" }, m.subject || "(no subject)"),
      el("td", {}, m.annotations ? el("span", { class: "badge" }, m.annotations) : ""),
      el("td", {}, m.size));
    if (current && current.kind === "message" && current.id === m.id) row.classList.add("selected");
    return row;
  }));
  document.getElementById("count").textContent =
    q ? `${data.count} of ${data.total} messages match` : `${data.total} message${data.total === 1 ? "" : "s"}`;
}

async function loadSessions() {
  const data = await getJson(api + "/sessions");
  document.getElementById("sessions").replaceChildren(...data.sessions.map((s) =>
    el("tr", { class: "session-row", "data-id": s.id, onclick: () => openSession(s.id) },
      el("td", {}, "#" + s.connection + (s.closed ? "" : " (open)")),
      el("td", {}, s.first_line || ""),
      el("td", {}, s.annotations ? el("span", { class: "badge" }, s.annotations + " " + s.codes.join(" ")) : "0"),
      el("td", {}, s.messages.length))));
}

function headersTable(headers) {
  return el("table", { class: "headers" }, ...headers.map((h) => el("tr", {}, el("td", {}, h.name), el("td", {}, h.value))));
}

function subtabs(names, show) {
  const bar = el("div", { class: "subtabs" });
  for (const n of names) {
    bar.append(el("button", { class: "subtab", "data-sub": n, onclick: () => {
      for (const b of bar.children) b.classList.toggle("active", b.dataset.sub === n);
      show(n);
    } }, n));
  }
  return bar;
}

async function openMessage(id) {
  current = { kind: "message", id };
  history.replaceState(null, "", "#message=" + encodeURIComponent(id));
  for (const r of document.querySelectorAll("tr.msg-row")) r.classList.toggle("selected", r.dataset.id === id);
  const m = await getJson(api + "/messages/" + encodeURIComponent(id));
  const content = el("div", { id: "message-content" });
  const detail = document.getElementById("detail");
  detail.className = "";
  detail.replaceChildren(
    el("h2", { id: "message-subject" }, m.subject || "(no subject)"),
    el("p", {}, "MAIL FROM:<" + m.envelope.mail_from + "> to " + m.to.map((t) => "<" + t + ">").join(", ") +
      ` · ${m.envelope.transfer}${m.envelope.tls ? " · TLS" : ""}${m.envelope.auth_user ? " · AUTH " + m.envelope.auth_user : ""} · ${m.size} octets `,
      el("button", { id: "delete-one", onclick: async () => {
        await getJson(api + "/messages/" + encodeURIComponent(id), { method: "DELETE" });
        current = null;
        detail.replaceChildren("Deleted.");
        loadMessages();
      } }, "Delete")),
    subtabs(["Message", "Raw", "Session"], (n) => showMessagePart(m, n, content)),
    content);
  detail.querySelector('[data-sub="Message"]').click();
}

async function showMessagePart(m, which, content) {
  if (which === "Message") {
    const parts = el("ul", { id: "parts" }, ...m.parts.map((p) => el("li", {},
      p.url ? el("a", { href: p.url, class: "part-link" }, p.filename || ("part " + p.index)) : "multipart",
      ` ${p.content_type}, ${p.size} octets${p.attachment ? " (attachment)" : ""}`)));
    content.replaceChildren(
      headersTable(m.headers),
      m.text !== null ? el("pre", { id: "message-text" }, m.text) : null,
      m.html ? el("iframe", { class: "html", id: "message-html", sandbox: "", src: m.html, referrerpolicy: "no-referrer" }) : null,
      el("h3", {}, "MIME parts"), parts);
  } else if (which === "Raw") {
    const r = await fetch(m.links.raw);
    content.replaceChildren(el("pre", { id: "message-raw" }, await r.text()));
  } else {
    const s = await getJson(m.links.session);
    content.replaceChildren(renderSession(s));
  }
}

function renderSession(s) {
  const list = el("ol", { class: "transcript", id: "transcript" });
  const seen = new Set();
  for (const line of s.lines) {
    const cls = "line " + (line.side || "note") + (line.annotations.length ? " annotated" : "");
    list.append(el("li", { class: cls, "data-index": line.index }, line.text));
    for (const k of line.annotations) {
      const a = s.annotations[k];
      // The servers' verdicts open at a deviation's first occurrence, folded after.
      const verdicts = el("details", seen.has(a.code) ? {} : { open: "" },
        el("summary", {}, "what real servers do"),
        el("table", { class: "verdicts" }, ...a.verdicts.map((v) =>
          el("tr", {}, el("td", {}, v.server), el("td", { class: v.outcome }, v.outcome), el("td", {}, v.how)))));
      seen.add(a.code);
      list.append(el("div", { class: "annotation", "data-code": a.code, "data-line": a.line },
        el("div", { class: "title" }, a.title || a.code),
        el("div", { class: "detail" }, a.detail),
        verdicts));
    }
  }
  return el("div", { class: "session", "data-id": s.id },
    el("p", {}, `Connection ${s.connection}${s.closed ? "" : " (still open)"} · ${s.annotations.length} annotations`),
    list);
}

async function openSession(id) {
  current = { kind: "session", id };
  history.replaceState(null, "", "#session=" + encodeURIComponent(id));
  const s = await getJson(api + "/sessions/" + encodeURIComponent(id));
  const detail = document.getElementById("detail");
  detail.className = "";
  detail.replaceChildren(el("h2", {}, "Session " + s.connection), renderSession(s));
}

async function loadFaults() {
  const data = await getJson(api + "/faults");
  document.getElementById("fault-list").replaceChildren(...data.faults.map((f) =>
    el("li", { class: "fault", "data-id": f.id }, f.description + " ",
      el("button", { onclick: async () => {
        await getJson(api + "/faults/" + f.id, { method: "DELETE" });
        loadFaults();
      } }, "remove"))));
}

async function addFault(ev) {
  ev.preventDefault();
  const v = (id) => document.getElementById(id).value;
  const rule = { step: v("fault-step"), action: v("fault-action") };
  if (rule.step === "rcpt" && v("fault-rcpt")) rule.rcpt = Number(v("fault-rcpt"));
  if (rule.action === "reply") { rule.code = Number(v("fault-code")); rule.text = v("fault-text"); }
  if (rule.action === "delay") rule.delay_ms = Number(v("fault-delay"));
  if (v("fault-connection") === "next") rule.connection = "next";
  const err = document.getElementById("fault-error");
  err.textContent = "";
  try {
    await getJson(api + "/faults", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(rule) });
  } catch (e) {
    err.textContent = e.message;
  }
  loadFaults();
}

function live() {
  const status = document.getElementById("live");
  const es = new EventSource(api + "/events");
  es.onopen = () => { status.className = "live on"; status.textContent = "live"; };
  es.onerror = () => { status.className = "live off"; status.textContent = "reconnecting"; };
  es.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (ev.type === "message" || ev.type === "deleted") loadMessages();
    if (ev.type === "session" || ev.type === "connected" || ev.type === "sessions-deleted") {
      if (tab === "sessions") loadSessions();
      loadMessages();
    }
    if (ev.type === "faults" && tab === "faults") loadFaults();
  };
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("nav .tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
  document.getElementById("search").addEventListener("input", () => loadMessages());
  document.getElementById("delete-all").addEventListener("click", async () => {
    await getJson(api + "/messages", { method: "DELETE" });
    loadMessages();
  });
  document.getElementById("fault-form").addEventListener("submit", addFault);
  document.getElementById("fault-clear").addEventListener("click", async () => {
    await getJson(api + "/faults", { method: "DELETE" });
    loadFaults();
  });
  showTab("messages");
  loadMessages();
  live();
  // Deep links: #message=ID, #session=ID.
  const link = /^#(message|session)=(.+)$/.exec(location.hash);
  if (link) {
    const id = decodeURIComponent(link[2]);
    if (link[1] === "message") openMessage(id);
    else { showTab("sessions"); openSession(id); }
  }
});
