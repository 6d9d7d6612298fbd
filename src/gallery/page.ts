/** The gallery's static page, style sheet and icon; the script lives in page-script.ts. */
export { PAGE_SCRIPT } from "./page-script.ts";

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sis gallery</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
<h1><span class="logo">sis</span> gallery</h1>
<p id="summary">Loading…</p>
<span id="live" class="live">checking for a watch…</span>
</header>
<main>
<div id="grid" class="grid" aria-live="polite"></div>
<p id="empty" class="empty" hidden>No images yet. Images that <code>sis watch</code> or <code>sis get</code> save appear here as they arrive.</p>
</main>
<dialog id="viewer" class="viewer" aria-label="Image"></dialog>
</body>
</html>
`;

export const PAGE_STYLE = `:root {
  --ink: #1c2230; --muted: #667085; --line: #e4e7ec; --paper: #f5f6f8; --card: #fff;
  --ok: #137a3a; --ok-bg: #e8f6ed; --bad: #b42318; --bad-bg: #fdecea;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--paper);
}
* { box-sizing: border-box; }
body { margin: 0; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; padding: 1.25rem 2rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { margin: 0; font-size: 1.35rem; font-weight: 600; }
.logo { color: var(--ok); font-weight: 800; letter-spacing: .02em; }
#summary { margin: 0; color: var(--muted); flex: 1; overflow-wrap: anywhere; }
.live { font-size: .8rem; color: var(--muted); border: 1px solid var(--line); border-radius: 99px; padding: .1rem .6rem; }
.live.on { color: var(--ok); border-color: #b7e1c4; }
.live.on::before { content: "● "; }
.live.off { color: var(--muted); }
.live.off::before { content: "○ "; }
main { padding: 1.5rem 2rem 3rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1.25rem; align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; overflow: hidden; box-shadow: 0 1px 2px rgba(16, 24, 40, .06); display: flex; flex-direction: column; }
.card.unverified { border-color: #f4b8b1; }
.card.fresh { animation: arrive 1.6s ease-out; }
@keyframes arrive { from { box-shadow: 0 0 0 4px rgba(19, 122, 58, .45); transform: translateY(-4px); } }
.thumb { display: flex; align-items: center; justify-content: center; aspect-ratio: 4 / 3; background: #eef0f3; border: 0; padding: 0; width: 100%; cursor: zoom-in; overflow: hidden; }
/* Sized by the picture itself, so its box has the picture's proportions (a portrait stands upright). */
.thumb img { max-width: 100%; max-height: 100%; width: auto; height: auto; display: block; }
.thumb.withheld { color: var(--bad); background: repeating-linear-gradient(45deg, #fdf3f2, #fdf3f2 10px, #fae5e2 10px, #fae5e2 20px); font-size: .85rem; padding: 1rem; text-align: center; }
.meta { padding: .75rem 1rem 1rem; display: flex; flex-direction: column; gap: .35rem; }
h2 { margin: 0; font-size: 1rem; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.owner { color: var(--muted); font-weight: 500; }
.slash { color: var(--line); margin: 0 .15rem; }
time { color: var(--muted); font-size: .85rem; }
.mark { margin: .2rem 0 0; padding: .35rem .55rem; border-radius: 8px; font-size: .85rem; font-weight: 600; }
.mark .how { font-weight: 400; }
.mark .icon { display: inline-grid; place-items: center; width: 1.2rem; height: 1.2rem; border-radius: 50%; color: #fff; font-size: .75rem; }
.mark.ok { color: var(--ok); background: var(--ok-bg); }
.mark.ok .icon { background: var(--ok); }
.mark.bad { color: var(--bad); background: var(--bad-bg); overflow-wrap: anywhere; }
.mark.bad .icon { background: var(--bad); }
details { font-size: .82rem; }
summary { cursor: pointer; color: var(--muted); }
dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .75rem; margin: .5rem 0 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .78rem; }
.empty { color: var(--muted); text-align: center; margin-top: 4rem; }
.viewer { border: 0; padding: 0; border-radius: 12px; max-width: min(96vw, 1200px); max-height: 94vh; width: auto; background: var(--card); color: var(--ink); }
.viewer::backdrop { background: rgba(16, 24, 40, .78); }
.viewer figure { margin: 0; display: grid; grid-template-columns: minmax(0, 1fr) 18rem; background: #111; }
.viewer figure > img { display: block; max-width: 100%; max-height: 94vh; margin: auto; background: #111; }
.viewer figcaption { background: var(--card); padding: 1rem 1.25rem; display: flex; flex-direction: column; gap: .4rem; overflow: auto; max-height: 94vh; }
.viewer h2 { white-space: normal; overflow-wrap: anywhere; padding-right: 2rem; }
.viewer h3 { margin: .5rem 0 0; font-size: .85rem; color: var(--muted); font-weight: 600; }
.viewer .links { font-size: .85rem; color: var(--muted); margin: .5rem 0 0; }
.viewer .close { position: absolute; top: .4rem; right: .5rem; border: 0; background: rgba(255, 255, 255, .85); border-radius: 50%; width: 2rem; height: 2rem; font-size: 1.3rem; line-height: 1; cursor: pointer; }
/* Phone width: one column of cards, the large view stacked (picture above its signer). */
@media (max-width: 640px) {
  header { padding: .9rem 1rem; gap: .5rem; }
  #summary { flex-basis: 100%; order: 3; font-size: .85rem; }
  main { padding: 1rem .75rem 2rem; }
  .grid { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .75rem; }
  .meta { padding: .5rem .6rem .7rem; }
  .mark .how { display: none; }
  .viewer { max-width: 100vw; max-height: 100vh; width: 100vw; border-radius: 0; }
  .viewer figure { grid-template-columns: 1fr; }
  .viewer figure > img { max-height: 60vh; }
  .viewer figcaption { max-height: none; }
}
.muted { color: var(--muted); }
`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#137a3a"/><path d="M9 16.5l4.5 4.5L23 11.5" fill="none" stroke="#fff" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round"/></svg>
`;
