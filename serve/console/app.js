// pach console: hash routes over the read-only API (/api/v1/).  Every
// name from the store reaches the page as text (textContent), never as
// markup: repo, branch and file names are data, and data is hostile.
"use strict";

const main = document.getElementById("main");

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const enc = encodeURIComponent;
const api = (what, q) =>
  fetch("/api/v1/" + what + "?" + new URLSearchParams(q || {})).then(async (r) => {
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r;
  });
const json = (what, q) => api(what, q).then((r) => r.json());
const fileUrl = (q) => "/api/v1/file?" + new URLSearchParams(q);

function when(t) { return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }
function size(n) {
  if (n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0; while (n >= 1024 && i < 4) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function short(id) { return id ? id.slice(0, 10) : ""; }
function link(href, text, cls) { return h("a", { href, class: cls }, text); }
function state(s) { return h("span", { class: "state-" + s }, s); }
function show(...nodes) { main.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined)); }

// The route from the hash: "#/repo/images/tree/master/a/b" -> parts.
function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return parts[0] === "" ? [] : parts;
}

async function repos() {
  const [rs, ps] = await Promise.all([json("repos"), json("pipelines")]);
  const rows = rs.map((r) => h("tr", {},
    h("td", {}, link("#/repo/" + enc(r.name) + "/tree/master/", r.name)),
    h("td", {}, r.branches.map((b, i) => [i ? ", " : "",
      link("#/repo/" + enc(r.name) + "/log/" + enc(b.name), b.name)])),
    h("td", {}, r.description),
    h("td", {}, when(r.created))));
  show(h("h1", {}, "Repos"),
    h("table", { id: "repos" }, h("tr", {}, h("th", {}, "repo"), h("th", {}, "branches"),
      h("th", {}, "description"), h("th", {}, "created")), rows),
    h("h2", {}, "Pipelines"), dag(rs, ps));
}

// Repos and pipelines as a layered drawing: a pipeline is its output
// repo, fed by its input repos; layers by longest path from a source.
function dag(rs, ps) {
  const feeds = {};
  for (const p of ps) feeds[p.name] = p.inputs.map((i) => i.repo);
  const names = [...new Set([...rs.map((r) => r.name), ...ps.map((p) => p.name)])];
  const layer = {};
  const depth = (n, seen) => {
    if (layer[n] !== undefined) return layer[n];
    if (seen.has(n)) return 0;   // a cycle: drawn, not followed
    seen.add(n);
    const ins = feeds[n] || [];
    layer[n] = ins.length ? 1 + Math.max(...ins.map((i) => depth(i, seen))) : 0;
    return layer[n];
  };
  names.forEach((n) => depth(n, new Set()));
  const cols = {};
  for (const n of names) (cols[layer[n]] = cols[layer[n]] || []).push(n);
  const W = 170, H = 34, GX = 70, GY = 22, pos = {};
  let maxRows = 0;
  Object.keys(cols).forEach((c) => {
    cols[c].forEach((n, i) => { pos[n] = { x: 10 + c * (W + GX), y: 10 + i * (H + GY) }; });
    maxRows = Math.max(maxRows, cols[c].length);
  });
  const ns = "http://www.w3.org/2000/svg";
  const s = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const width = 20 + Object.keys(cols).length * (W + GX), height = 20 + maxRows * (H + GY);
  const svg = s("svg", { class: "dag", id: "dag", width, height, viewBox: `0 0 ${width} ${height}` });
  const defs = s("defs", {});
  const m = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  m.append(s("path", { d: "M0,0 L10,5 L0,10 z" }));
  defs.append(m); svg.append(defs);
  for (const p of ps) for (const i of p.inputs) {
    if (!pos[i.repo]) continue;
    const a = pos[i.repo], b = pos[p.name];
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    svg.append(s("path", { class: "edge", d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` }));
  }
  for (const n of names) {
    const g = s("a", { href: feeds[n] ? "#/jobs/" + enc(n) : "#/repo/" + enc(n) + "/tree/master/" });
    g.append(s("rect", { x: pos[n].x, y: pos[n].y, width: W, height: H, rx: 5, class: feeds[n] ? "pipeline" : "repo" }));
    g.append(s("text", { x: pos[n].x + 8, y: pos[n].y + 21, "data-node": n }, (feeds[n] ? "\u2699 " : "") + n));
    svg.append(g);
  }
  return svg;
}

function crumbs(repo, ref, path) {
  const out = [link("#/", "repos"), " / ", link("#/repo/" + enc(repo) + "/log/" + enc(ref), repo + "@" + ref), " : "];
  let acc = "";
  out.push(link("#/repo/" + enc(repo) + "/tree/" + enc(ref) + "/", "/"));
  path.filter(Boolean).forEach((p, i, all) => {
    acc += (acc ? "/" : "") + p;
    out.push(i === all.length - 1 ? p : link("#/repo/" + enc(repo) + "/tree/" + enc(ref) + "/" + acc.split("/").map(enc).join("/"), p), i < all.length - 1 ? "/" : "");
  });
  return h("div", { class: "crumbs" }, out);
}

async function tree(repo, ref, path) {
  const p = path.filter(Boolean).join("/");
  const t = await json("tree", { repo, ref, path: p });
  if (t.type !== "dir") return file(repo, ref, path);
  const base = "#/repo/" + enc(repo) + "/tree/" + enc(ref) + "/" + (p ? p.split("/").map(enc).join("/") + "/" : "");
  const rows = t.entries.map((e) => h("tr", {},
    h("td", {}, link(base + enc(e.name), e.name + (e.type === "dir" ? "/" : ""))),
    h("td", { class: "muted" }, e.type), h("td", { class: "num" }, size(e.size))));
  show(h("h1", {}, "Files"), crumbs(repo, ref, path),
    h("p", { class: "muted" }, "commit ", link("#/repo/" + enc(repo) + "/commit/" + t.commit, short(t.commit)),
      t.total > t.entries.length ? ` (first ${t.entries.length} of ${t.total} entries)` : ""),
    h("table", { id: "tree" }, h("tr", {}, h("th", {}, "name"), h("th", {}, "type"), h("th", { class: "num" }, "size")), rows));
}

function csvTable(text) {
  const lines = text.split(/\r?\n/).filter((l) => l.length).slice(0, 101);
  const cells = (l) => l.split(",");   // a preview: quoted commas are not split apart
  const [head, ...rest] = lines;
  return h("table", { id: "csv" }, h("tr", {}, cells(head || "").map((c) => h("th", {}, c))),
    rest.map((l) => h("tr", {}, cells(l).map((c) => h("td", {}, c)))));
}

async function file(repo, ref, path) {
  const p = path.filter(Boolean).join("/");
  const q = { repo, ref, path: p };
  const head = await api("file", { ...q, head: 65536 });
  const total = Number(head.headers.get("X-Pach-Size"));
  const type = head.headers.get("Content-Type") || "";
  let preview;
  if (type.startsWith("image/")) {
    preview = h("img", { class: "preview", id: "preview", src: fileUrl(q), alt: p });
    preview.addEventListener("load", () => { preview.dataset.loaded = "1"; });
  } else if (type.startsWith("text/") || type.startsWith("application/json")) {
    const text = await head.text();
    preview = /\.(csv)$/i.test(p) ? csvTable(text) : h("pre", { id: "preview" }, text);
  } else {
    preview = h("p", { class: "muted", id: "preview" }, "no preview for this kind of file");
  }
  const more = total > 65536 && !type.startsWith("image/") ? h("p", { class: "muted" }, `first 64 KiB of ${size(total)}`) : null;
  const prov = h("div", { id: "provenance" });
  show(h("h1", {}, p.split("/").pop()), crumbs(repo, ref, path),
    h("p", {}, size(total), " \u00b7 ", h("a", { href: fileUrl({ ...q, download: 1 }), id: "download" }, "download")),
    preview, more, prov);
  json("provenance", q).then((pv) => {
    const j = pv.job;
    if (!j) return;   // not the output of a pipeline's job
    prov.replaceChildren(h("h2", {}, "Made by"), h("p", {},
      "job ", link("#/job/" + enc(j.pipeline) + "/" + enc(j.id), short(j.id)), " of pipeline ", j.pipeline,
      " from ", j.inputs.map((i, k) => [k ? ", " : "", i.input + " ", i.commit === "-" ? "-" :
        link("#/repo/" + enc(i.input.split("@")[0]) + "/commit/" + i.commit, short(i.commit))])),
      pv.datum ? h("p", {}, "datum ", h("code", {}, pv.datum.id), " read: ", pv.datum.files.join(", ")) : null);
  }).catch(() => {});
}

async function log(repo, ref) {
  const cs = await json("log", { repo, ref, n: 100 });
  show(h("h1", {}, "History of " + repo + "@" + ref),
    h("p", {}, link("#/repo/" + enc(repo) + "/tree/" + enc(ref) + "/", "browse files")),
    h("table", { id: "log" }, h("tr", {}, h("th", {}, "commit"), h("th", {}, "message"), h("th", {}, "author"), h("th", {}, "date")),
      cs.map((c) => h("tr", {}, h("td", { class: "mono" }, link("#/repo/" + enc(repo) + "/commit/" + c.id, short(c.id))),
        h("td", {}, c.subject), h("td", {}, c.author), h("td", {}, when(c.time))))));
}

function patchView(text) {
  return h("pre", { class: "patch" }, text.split("\n").map((l) =>
    h("span", { class: l.startsWith("@@") ? "hunk" : l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : "" }, l + "\n")));
}

async function commit(repo, id) {
  const c = await json("commit", { repo, ref: id });
  const rows = c.changes.map((ch) => {
    const cell = h("td", {});
    const open = h("button", { type: "button", onclick: async () => {
      const one = await json("commit", { repo, ref: id, path: ch.path });
      const it = one.changes.find((x) => x.path === ch.path);
      cell.replaceChildren(patchView(it && it.patch ? it.patch : "(no text diff)"));
    } }, "diff");
    return [h("tr", {}, h("td", { class: ch.status }, ch.status), h("td", {},
      link("#/repo/" + enc(repo) + "/tree/" + id + "/" + ch.path.split("/").map(enc).join("/"), ch.path)), h("td", {}, open)),
      h("tr", {}, h("td", {}), cell, h("td", {}))];
  });
  show(h("h1", {}, c.commit.subject || "(no message)"),
    h("p", { class: "mono" }, "commit ", c.commit.id, h("br"), "parents ",
      c.commit.parents.map((p) => [link("#/repo/" + enc(repo) + "/commit/" + p, short(p)), " "]),
      h("br"), c.commit.author, " \u00b7 ", when(c.commit.time)),
    h("pre", {}, c.commit.message),
    h("h2", {}, `${c.total} changed`), h("table", { id: "changes" }, rows));
}

async function pipelines() {
  const [rs, ps] = await Promise.all([json("repos"), json("pipelines")]);
  show(h("h1", {}, "Pipelines"), dag(rs, ps),
    h("table", { id: "pipelines" }, h("tr", {}, h("th", {}, "pipeline"), h("th", {}, "inputs"), h("th", {}, "last job"), h("th", {}, "datums")),
      ps.map((p) => h("tr", {}, h("td", {}, link("#/jobs/" + enc(p.name), p.name)),
        h("td", {}, p.inputs.map((i) => i.repo).join(", ")),
        h("td", {}, p.last_job ? [state(p.last_job.state), " ", when(p.last_job.started)] : "never run"),
        h("td", {}, p.last_job ? counts(p.last_job) : "")))));
}

function counts(j) {
  return Object.entries(j.counts).map(([s, n], i) => [i ? ", " : "", n + " ", state(s)]);
}

async function jobs(pipeline) {
  const js = await json("jobs", pipeline ? { pipeline } : {});
  show(h("h1", {}, pipeline ? "Jobs of " + pipeline : "Jobs"),
    h("table", { id: "jobs" }, h("tr", {}, h("th", {}, "job"), h("th", {}, "pipeline"), h("th", {}, "state"),
      h("th", {}, "started"), h("th", { class: "num" }, "datums"), h("th", {}, "by state")),
      js.map((j) => h("tr", {}, h("td", { class: "mono" }, link("#/job/" + enc(j.pipeline) + "/" + enc(j.id), short(j.id))),
        h("td", {}, j.pipeline), h("td", {}, state(j.state)), h("td", {}, when(j.started)),
        h("td", { class: "num" }, j.datums), h("td", {}, counts(j))))));
}

async function job(pipeline, id) {
  const d = await json("job", { pipeline, id, n: 500 });
  const j = d.job;
  show(h("h1", {}, "Job " + short(j.id) + " of " + pipeline),
    h("p", {}, state(j.state), " \u00b7 ", when(j.started), " \u2192 ", when(j.finished), " \u00b7 ", counts(j),
      j.output ? [" \u00b7 output ", link("#/repo/" + enc(pipeline) + "/commit/" + j.output, short(j.output))] : ""),
    j.error ? h("p", { class: "err" }, j.error) : null,
    h("p", {}, "inputs: ", j.inputs.map((i, k) => [k ? ", " : "", i.input + " ", h("code", {}, short(i.commit))])),
    h("table", { id: "datums" }, h("tr", {}, h("th", {}, "datum"), h("th", {}, "state"), h("th", { class: "num" }, "seconds"),
      h("th", {}, "files"), h("th", {}, "log")),
      d.datums.map((x) => h("tr", {}, h("td", { class: "mono" }, short(x.id)), h("td", {}, state(x.state)),
        h("td", { class: "num" }, x.seconds.toFixed(2)), h("td", {}, x.files.join(", ")),
        h("td", {}, x.log ? link("#/log/" + enc(pipeline) + "/" + enc(id) + "/" + enc(x.id), "log") : "")))));
}

async function datumLog(pipeline, id, datum) {
  const r = await api("datum-log", { pipeline, id, datum });
  show(h("h1", {}, "Log of datum " + short(datum)),
    h("p", {}, link("#/job/" + enc(pipeline) + "/" + enc(id), "job " + short(id))),
    h("pre", { id: "log" }, await r.text()));
}

async function render() {
  const r = route();
  try {
    if (r.length === 0) await repos();
    else if (r[0] === "pipelines") await pipelines();
    else if (r[0] === "jobs") await jobs(r[1]);
    else if (r[0] === "job") await job(r[1], r[2]);
    else if (r[0] === "log") await datumLog(r[1], r[2], r[3]);
    else if (r[0] === "repo" && r[2] === "log") await log(r[1], r[3] || "master");
    else if (r[0] === "repo" && r[2] === "commit") await commit(r[1], r[3]);
    else if (r[0] === "repo") await tree(r[1], r[3] || "master", r.slice(4));
    else show(h("p", { class: "err" }, "no such page"));
  } catch (e) {
    show(h("p", { class: "err", id: "error" }, String(e.message || e)));
  }
  document.body.dataset.ready = "1";
}

// Live updates: the server says when refs or jobs moved; the page is
// drawn again (list pages only, so a reader of a diff is not disturbed).
function live() {
  if (!window.EventSource) return;
  const es = new EventSource("/api/v1/events");
  const dot = document.getElementById("live");
  es.addEventListener("hello", () => dot.classList.add("on"));
  es.addEventListener("change", () => {
    const r = route();
    if (r.length === 0 || ["pipelines", "jobs", "job"].includes(r[0]) || (r[0] === "repo" && r[2] === "log")) render();
  });
  es.onerror = () => dot.classList.remove("on");
}

window.addEventListener("hashchange", render);
render();
live();
