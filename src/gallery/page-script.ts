/** The gallery page's script, served as /app.js (the CSP allows no inline script); builds cards and the large view with the DOM, never with HTML strings. */
export const PAGE_SCRIPT = String.raw`"use strict";
const grid = document.getElementById("grid");
const empty = document.getElementById("empty");
const summary = document.getElementById("summary");
const live = document.getElementById("live");
const viewer = document.getElementById("viewer");
const cards = new Map();
let newest = null;
let watchLastImage = null;
let watchRunning = null;
let first = true;
let running = null;
let again = false;

const when = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.append(child);
  return node;
}

function certificate(img) {
  const c = img.cert;
  if (!c) return el("p", { class: "muted", text: "No readable signer certificate." });
  const rows = [["Subject", c.subject], ["Serial", c.serial], ["Issuer", c.issuer], ["Valid from", when(c.notBefore)], ["Valid until", when(c.notAfter)]];
  if (img.signingTime) rows.push(["Signed at", when(img.signingTime)]);
  return el("dl", {}, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
}

function mark(img) {
  if (img.verified) {
    return el("p", { class: "mark ok" }, [el("span", { class: "icon", "aria-hidden": "true", text: "\u2713" }), " verified ", el("span", { class: "how", text: "(CA chain; revocation checked when saved)" })]);
  }
  return el("p", { class: "mark bad" }, [el("span", { class: "icon", "aria-hidden": "true", text: "\u2717" }), " NOT verified: ", el("span", { class: "how", text: img.reason || "unknown reason" })]);
}

/** The large view: the image (the original, or a converted preview where browsers cannot show it) with its signer. */
function open(img) {
  const label = img.owner + "/" + img.name;
  const close = el("button", { class: "close", type: "button", "aria-label": "Close", text: "\u00d7" });
  close.addEventListener("click", () => viewer.close());
  const links = el("p", { class: "links" }, [el("a", { href: img.url, target: "_blank", rel: "noopener", text: "Open the original" }), " \u00b7 " + img.contentType]);
  viewer.replaceChildren(
    el("figure", {}, [el("img", { src: img.large, alt: label }), el("figcaption", {}, [el("h2", { text: label }), mark(img), el("h3", { text: "Signed by" }), certificate(img), links])]),
    close,
  );
  viewer.dataset.name = img.name;
  viewer.showModal();
}
viewer.addEventListener("click", (event) => {
  if (event.target === viewer) viewer.close(); // a click on the backdrop
});

function card(img, fresh) {
  const label = img.owner + "/" + img.name;
  let thumb;
  if (img.thumb) {
    thumb = el("button", { class: "thumb", type: "button", title: "Open " + label }, [el("img", { src: img.thumb, alt: label, loading: "lazy", decoding: "async" })]);
    thumb.addEventListener("click", () => open(img));
  } else thumb = el("div", { class: "thumb withheld" }, [el("span", { text: "image withheld: it does not verify" })]);
  const title = el("h2", { title: label }, [el("span", { class: "owner", text: img.owner }), el("span", { class: "slash", text: "/" }), el("span", { class: "name", text: img.name })]);
  const time = el("time", { datetime: img.savedAt, text: "saved " + when(img.savedAt) });
  const details = el("details", {}, [el("summary", { text: "Signer certificate" }), certificate(img)]);
  const classes = "card " + (img.verified ? "verified" : "unverified") + (fresh ? " fresh" : "");
  return el("article", { class: classes, "data-owner": img.owner, "data-name": img.name }, [thumb, el("div", { class: "meta" }, [title, time, mark(img), details])]);
}

async function refresh() {
  const res = await fetch("/api/images", { cache: "no-store" });
  if (!res.ok) throw new Error("the gallery answered " + res.status);
  const { dir, images } = await res.json();
  const next = [];
  const keep = new Map();
  for (const img of images) {
    const key = img.owner + "\n" + img.name;
    const state = [img.savedAt, img.size, img.verified, img.reason].join("\n");
    const old = cards.get(key);
    const entry = old && old.state === state ? old : { state, node: card(img, !first) };
    keep.set(key, entry);
    next.push(entry.node);
  }
  cards.clear();
  for (const [key, entry] of keep) cards.set(key, entry);
  grid.replaceChildren(...next);
  empty.hidden = images.length > 0;
  const bad = images.filter((i) => !i.verified).length;
  summary.textContent = images.length + (images.length === 1 ? " image" : " images") + " in " + dir + (bad ? " \u2014 " + bad + " NOT verified" : "");
  newest = images.length > 0 ? images.reduce((a, b) => (a.savedAt > b.savedAt ? a : b)).savedAt : null;
  first = false;
  showLive();
}

/** The "live" mark: whether a watch is saving into this folder now, and when the last image arrived. */
function showLive() {
  const last = [newest, watchLastImage].filter(Boolean).sort().pop();
  const tail = last ? " \u00b7 last image " + when(last) : " \u00b7 no image yet";
  if (watchRunning === null) return;
  live.textContent = (watchRunning ? "live: watch running" : "not live: no watch running") + tail;
  live.className = "live " + (watchRunning ? "on" : "off");
  live.dataset.running = String(watchRunning);
}

async function pollLive() {
  try {
    const res = await fetch("/api/live", { cache: "no-store" });
    if (res.ok) {
      const state = await res.json();
      watchRunning = state.running;
      watchLastImage = state.lastImageAt;
      live.title = state.elsewhere ? "a watch is running, but it saves into " + state.elsewhere : "";
      showLive();
    }
  } catch {
    // the next poll tries again
  }
}

/** One refresh at a time; a change during a refresh asks for one more. */
function schedule() {
  if (running) {
    again = true;
    return;
  }
  running = refresh()
    .catch((error) => {
      summary.textContent = "Cannot list the images: " + error.message;
    })
    .finally(() => {
      running = null;
      if (again) {
        again = false;
        schedule();
      }
    });
}

const events = new EventSource("/api/events");
events.onopen = () => {
  document.body.dataset.events = "open";
  schedule();
};
events.onerror = () => {
  document.body.dataset.events = "reconnecting";
};
events.addEventListener("change", () => {
  schedule();
  void pollLive();
});
schedule();
void pollLive();
setInterval(pollLive, 5000);
`;
