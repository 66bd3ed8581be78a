// docflow console: reads docflow's API (same origin, the session cookie signs it) and the
// console's own /console/api routes, and redraws what changed. No framework, no network
// beyond this server. Every value from the service is set as text, never as HTML.
"use strict";

const POLL_MS = 1000;        // documents, batches and the open document: at most a second late
const OPERATIONS_MS = 2000;  // the service's metrics and queues
const SHOWN = 100;           // the newest documents read each time

// documents: the newest, for the counts and failures; listed: those of the chosen status
// (asked of the API, so that older ones of that status are found too).
const state = { documents: [], listed: [], statuses: [], filter: "", search: "", chosen: null };
const $ = (id) => document.getElementById(id);

async function api(method, path) {
  const response = await fetch(path, { method, headers: { Accept: "application/json" }, cache: "no-store" });
  if (response.status === 401) { location.reload(); throw new Error("signed out"); }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error ? body.error : { code: String(response.status), message: response.statusText };
    throw new Error(`${error.message} (${error.code})`);
  }
  return body;
}

function cell(row, value, className) {
  const td = row.insertCell();
  td.textContent = value === null || value === undefined ? "–" : String(value);
  if (className) td.className = className;
  return td;
}

function statusCell(row, status) { return cell(row, status, `status ${status}`); }

function replaceRows(tbody, items, fill) {
  const rows = document.createDocumentFragment();
  for (const item of items) { const row = document.createElement("tr"); fill(row, item); rows.appendChild(row); }
  tbody.replaceChildren(rows);
}

function when(iso) { return iso ? new Date(iso).toLocaleTimeString() : "–"; }
function ms(value) { return value === null || value === undefined ? "–" : value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`; }
function age(seconds) { return seconds === null || seconds === undefined ? "–" : seconds >= 60 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`; }

function showProblem(message) { $("problem").textContent = message || ""; $("problem").hidden = !message; }

// -- documents --------------------------------------------------------------------------

async function documentStatuses() {
  // The statuses as the API's own OpenAPI document lists them: one list, the service's.
  const openapi = await api("GET", "/docs?format=json");
  const parameter = openapi.paths["/documents"].get.parameters.find((p) => p.name === "status");
  const schema = (parameter.schema.anyOf || [parameter.schema]).find((s) => s.$ref || s.enum);
  const resolved = schema.$ref ? openapi.components.schemas[schema.$ref.split("/").pop()] : schema;
  return resolved.enum;
}

function drawFilter() {
  const counts = {};
  for (const doc of state.documents) counts[doc.status] = (counts[doc.status] || 0) + 1;
  const chips = [["", `all ${state.documents.length}`], ...state.statuses.map((s) => [s, `${s} ${counts[s] || 0}`])];
  const group = $("status-filter");
  if (group.children.length !== chips.length) {
    group.replaceChildren(...chips.map(([value]) => {
      const button = document.createElement("button");
      button.type = "button"; button.dataset.status = value;
      button.addEventListener("click", () => {
        state.filter = value; drawDocuments();
        poll().catch((error) => showProblem(error.message));
      });
      return button;
    }));
  }
  chips.forEach(([value, label], index) => {
    const button = group.children[index];
    button.textContent = label;
    button.setAttribute("aria-pressed", String(state.filter === value));
  });
}

function drawDocuments() {
  drawFilter();
  const needle = state.search.toLowerCase();
  const shown = state.listed.filter((doc) => (!state.filter || doc.status === state.filter) &&
    (!needle || doc.filename.toLowerCase().includes(needle)));
  replaceRows($("document-rows"), shown, (row, doc) => {
    row.className = doc.document_id === state.chosen ? "pick chosen" : "pick";
    row.dataset.documentId = doc.document_id;
    row.addEventListener("click", () => choose(doc.document_id));
    cell(row, doc.filename); statusCell(row, doc.status);
    cell(row, doc.results && doc.results.kind); cell(row, doc.results && doc.results.page_count);
    cell(row, when(doc.updated_at));
  });
  $("documents-note").textContent = state.listed.length >= SHOWN ? `The newest ${SHOWN} documents${state.filter ? ` ${state.filter}` : ""}; the counts are of the newest ${SHOWN} of all.` :
    state.documents.length ? "" : "No documents yet: upload one (docflow upload FILE) and it appears here.";
  drawFailures();
}

function drawFailures() {
  const byCode = new Map();
  for (const doc of state.documents) {
    if (doc.status !== "failed" || !doc.error) continue;
    const found = byCode.get(doc.error.code) || { code: doc.error.code, count: 0, message: doc.error.message };
    found.count += 1; byCode.set(doc.error.code, found);
  }
  const failures = [...byCode.values()].sort((a, b) => b.count - a.count);
  replaceRows($("failure-rows"), failures, (row, failure) => {
    cell(row, failure.code); cell(row, failure.count); cell(row, failure.message, "wrap");
  });
}

// -- one document -------------------------------------------------------------------------

function choose(documentId) { state.chosen = documentId; $("document").hidden = false; drawDocuments(); refreshChosen(); }

function fact(list, name, value, link) {
  if (value === null || value === undefined || value === "") return;
  const dt = document.createElement("dt"); dt.textContent = name;
  const dd = document.createElement("dd");
  if (link) { const a = document.createElement("a"); a.href = link; a.textContent = value; a.target = "_blank"; a.rel = "noopener"; dd.appendChild(a); }
  else dd.textContent = String(value);
  list.append(dt, dd);
}

async function refreshChosen() {
  if (!state.chosen) return;
  const id = state.chosen;
  const timeline = await api("GET", `/console/api/documents/${id}/timeline`);  // the document and its steps
  if (id !== state.chosen) return;
  const doc = timeline.document;
  $("document-title").textContent = doc.filename;
  const facts = document.createElement("dl"); facts.id = "document-facts";
  const results = doc.results || {};
  fact(facts, "status", doc.status); fact(facts, "id", doc.document_id);
  fact(facts, "kind", results.kind); fact(facts, "pages", results.page_count); fact(facts, "words", results.word_count);
  fact(facts, "language", results.language);
  fact(facts, "keywords", (results.keywords || []).map((k) => k.word).join(", "));
  fact(facts, "pages read by OCR", results.ocr_pages || null);
  fact(facts, "partial", results.partial ? results.partial_reason || "yes" : null);
  if (doc.error) fact(facts, "error", `${doc.error.code}: ${doc.error.message}`);
  if (doc.text_url) fact(facts, "text", "open the text", doc.text_url);
  $("document-facts").replaceWith(facts);
  const image = $("document-image");
  if (doc.thumbnail_url) { if (image.dataset.documentId !== id) { image.src = doc.thumbnail_url; image.dataset.documentId = id; } image.hidden = false; }
  else image.hidden = true;
  replaceRows($("timeline-rows"), timeline.steps || [], (row, step) => {
    cell(row, step.name); cell(row, when(step.started_at)); cell(row, step.duration_ms === null ? "running" : ms(step.duration_ms));
    cell(row, step.attempts); cell(row, step.error ? `${step.error}${step.cause ? ": " + step.cause : ""}` : null, "wrap");
  });
  $("timeline-note").textContent = timeline.note || "";
}

// -- batches ----------------------------------------------------------------------------

function drawBatches(batches) {
  replaceRows($("batch-rows"), batches, (row, batch) => {
    row.dataset.batchId = batch.batch_id;
    cell(row, batch.batch_id.slice(0, 12)).title = batch.batch_id;
    statusCell(row, batch.status);
    const progress = row.insertCell();
    const { total, done, failed } = batch.progress;
    const bar = document.createElement("span"); bar.className = "bar"; bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0"); bar.setAttribute("aria-valuemax", String(total)); bar.setAttribute("aria-valuenow", String(done));
    const bad = document.createElement("span"); bad.className = "failed"; bad.style.width = `${total ? (100 * failed) / total : 0}%`;
    const good = document.createElement("span"); good.style.width = `${total ? (100 * (done - failed)) / total : 0}%`;
    bar.append(bad, good);
    const label = document.createElement("span"); label.textContent = ` ${done}/${total}${failed ? `, ${failed} failed` : ""}`;
    progress.append(bar, label);
    const actions = row.insertCell();
    if (batch.status === "running" || batch.status === "scheduled") {
      actions.appendChild(action("Cancel", async () => {
        if (!confirm(`Cancel batch ${batch.batch_id}?`)) return;
        await api("DELETE", `/batches/${batch.batch_id}`);
      }));
    }
    const retryable = batch.status === "failed" || batch.status === "cancelled" || (batch.status === "completed" && failed > 0);
    if (retryable) actions.appendChild(action("Retry", () => api("POST", `/batches/${batch.batch_id}/retry`)));
    if (batch.report_url) { const a = document.createElement("a"); a.href = batch.report_url; a.textContent = " report"; a.target = "_blank"; a.rel = "noopener"; actions.appendChild(a); }
  });
}

function action(label, run) {
  const button = document.createElement("button");
  button.type = "button"; button.textContent = label;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try { await run(); showProblem(""); await Promise.all([poll(), refreshOperations()]); }
    catch (error) { showProblem(error.message); } finally { button.disabled = false; }
  });
  return button;
}

// -- the service ------------------------------------------------------------------------

function drawOperations(operations) {
  replaceRows($("function-rows"), operations.functions, (row, fn) => {
    cell(row, fn.name); cell(row, fn.invocations); cell(row, fn.errors, fn.errors ? "status failed" : "");
    cell(row, fn.throttles, fn.throttles ? "status failed" : ""); cell(row, ms(fn.p50_ms)); cell(row, ms(fn.p95_ms));
  });
  replaceRows($("queue-rows"), operations.queues, (row, queue) => {
    row.dataset.queue = queue.name;
    cell(row, queue.name); cell(row, queue.depth); cell(row, queue.in_flight); cell(row, age(queue.oldest_age_seconds));
    cell(row, queue.dead_letters, queue.dead_letters ? "status failed" : "");
    const actions = row.insertCell();
    if (queue.dead_letters) {
      actions.appendChild(action("Redrive", () => api("POST", `/console/api/queues/${queue.dead_letter_queue}/redrive`)));
    }
  });
  drawChart(operations.throughput);
}

async function refreshOperations() { drawOperations(await api("GET", "/console/api/operations")); }

function drawChart(throughput) {
  const svg = $("throughput-chart");
  const counts = throughput.per_minute;
  const top = Math.max(1, ...counts);
  const width = 600 / counts.length;
  const parts = counts.map((count, index) => {
    const height = (count / top) * 100;
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bar.setAttribute("x", String(index * width + 1)); bar.setAttribute("width", String(Math.max(1, width - 2)));
    bar.setAttribute("y", String(105 - height)); bar.setAttribute("height", String(height));
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${count} at ${new Date(Date.parse(throughput.start) + index * 60000).toLocaleTimeString()}`;
    bar.appendChild(title);
    return bar;
  });
  const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
  label.setAttribute("x", "0"); label.setAttribute("y", "118"); label.textContent = `peak ${top} a minute; now on the right`;
  svg.replaceChildren(...parts, label);
}

// -- the loops ----------------------------------------------------------------------------

async function poll() {
  const filter = state.filter;
  const [page, batches, ofStatus] = await Promise.all([
    api("GET", `/documents?limit=${SHOWN}`), api("GET", "/batches?limit=20"),
    filter ? api("GET", `/documents?limit=${SHOWN}&status=${encodeURIComponent(filter)}`) : null,
  ]);
  state.documents = page.documents;
  state.listed = ofStatus && filter === state.filter ? ofStatus.documents : page.documents;
  drawDocuments();
  drawBatches(batches.batches);
  await refreshChosen();
  const live = $("live"); live.textContent = `live · ${new Date().toLocaleTimeString()}`; live.className = "live";
}

function every(milliseconds, step) {
  const run = async () => {
    try { await step(); } catch (error) { const live = $("live"); live.textContent = `not live: ${error.message}`; live.className = "live stale"; }
    setTimeout(run, milliseconds);
  };
  run();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("search").addEventListener("input", (event) => { state.search = event.target.value; drawDocuments(); });
  try { state.statuses = await documentStatuses(); } catch (error) { showProblem(`Could not read the API's statuses: ${error.message}`); }
  every(POLL_MS, poll);
  every(OPERATIONS_MS, refreshOperations);
});
