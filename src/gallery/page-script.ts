/** The gallery page's script, served as /app.js (the CSP allows no inline script); builds cards with the DOM, never with HTML strings. */
export const PAGE_SCRIPT = String.raw`"use strict";
const grid = document.getElementById("grid");
const empty = document.getElementById("empty");
const summary = document.getElementById("summary");
const live = document.getElementById("live");
const cards = new Map();
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

function card(img, fresh) {
  const label = img.owner + "/" + img.name;
  const thumb = img.url
    ? el("a", { class: "thumb", href: img.url, target: "_blank", rel: "noopener" }, [el("img", { src: img.url, alt: label, loading: "lazy" })])
    : el("div", { class: "thumb withheld" }, [el("span", { text: "image withheld: it does not verify" })]);
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
  summary.textContent = images.length + (images.length === 1 ? " image" : " images") + " from " + dir + (bad ? " \u2014 " + bad + " NOT verified" : "");
  first = false;
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
  live.textContent = "live";
  live.className = "live on";
  schedule();
};
events.onerror = () => {
  live.textContent = "reconnecting\u2026";
  live.className = "live";
};
events.addEventListener("change", schedule);
schedule();
`;
