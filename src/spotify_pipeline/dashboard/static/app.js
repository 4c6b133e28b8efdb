// The dashboard's only script (served from /static: the CSP allows no inline script).
// 1. The period picker submits on change; a period clears the dates and dates clear the period.
// 2. The timeline zooms and pans by changing its SVG viewBox (buttons, mouse wheel, drag).
"use strict";

function setupControls() {
  const form = document.getElementById("controls");
  if (!form) return;
  const period = document.getElementById("period");
  const from = document.getElementById("from");
  const to = document.getElementById("to");
  const user = document.getElementById("user");
  period.addEventListener("change", () => { from.value = ""; to.value = ""; form.submit(); });
  for (const input of [from, to]) {
    input.addEventListener("change", () => { if (from.value || to.value) period.value = ""; });
  }
  if (user) user.addEventListener("change", () => form.submit());
  form.addEventListener("submit", () => {
    // empty fields stay out of the URL, so the links of the page stay short
    for (const el of form.querySelectorAll("input, select")) if (!el.value) el.disabled = true;
  });
}

function setupZoom() {
  const svg = document.getElementById("timeline");
  const bar = document.getElementById("zoom");
  if (!svg || !bar) return;
  bar.hidden = false;
  const full = Number(svg.dataset.width);
  const height = svg.viewBox.baseVal.height;
  let x = 0, w = full;
  const apply = () => {
    w = Math.min(full, Math.max(30, w));
    x = Math.min(full - w, Math.max(0, x));
    svg.setAttribute("viewBox", `${x} 0 ${w} ${height}`);
  };
  const zoom = (factor, at) => { const c = x + w * at; w *= factor; x = c - w * at; apply(); };
  bar.addEventListener("click", (e) => {
    const kind = e.target.dataset ? e.target.dataset.zoom : undefined;
    if (kind === "in") zoom(0.5, 0.5);
    else if (kind === "out") zoom(2, 0.5);
    else if (kind === "reset") { x = 0; w = full; apply(); }
  });
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const box = svg.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 0.8 : 1.25, (e.clientX - box.left) / box.width);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => { drag = { start: e.clientX, x }; });
  window.addEventListener("pointerup", () => { drag = null; });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    x = drag.x - (e.clientX - drag.start) * w / box.width;
    apply();
  });
}

document.addEventListener("DOMContentLoaded", () => { setupControls(); setupZoom(); });
