// credgate Admin Portal: copy buttons, confirmations, sample tabs and usage charts.
// Loaded from a file (no inline script), so the Content-Security-Policy can forbid inline code.
"use strict";

function copyText(button) {
  const target = document.querySelector(button.dataset.copy);
  if (!target) return;
  const text = target.textContent;
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    button.classList.add("copied");
    setTimeout(() => { button.textContent = label; button.classList.remove("copied"); }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectText(target));
  } else {
    selectText(target);
  }
}

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function setUpTabs() {
  document.querySelectorAll(".tabs").forEach((tabs) => {
    tabs.addEventListener("click", (event) => {
      const tab = event.target.closest(".tab");
      if (!tab) return;
      tabs.querySelectorAll(".tab").forEach((other) => {
        const selected = other === tab;
        other.classList.toggle("active", selected);
        other.setAttribute("aria-selected", selected ? "true" : "false");
        document.getElementById(other.dataset.tab).classList.toggle("hidden", !selected);
      });
    });
  });
}

function hourLabel(seconds) {
  const date = new Date(seconds * 1000);
  return String(date.getUTCHours()).padStart(2, "0") + ":00";
}

function dayLabel(seconds) {
  const date = new Date(seconds * 1000);
  return date.toISOString().slice(5, 10);
}

function drawUsage(container) {
  if (typeof uPlot === "undefined") return;
  const usage = JSON.parse(container.dataset.usage);
  const chart = container.querySelector(".chart");
  let plot = null;

  const draw = (period) => {
    const series = usage[period];
    const label = period === "24h" ? hourLabel : dayLabel;
    const width = Math.max(chart.clientWidth, 300);
    const options = {
      width: width,
      height: 260,
      scales: { x: { time: false } },
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        { label: "Tokens issued", stroke: "#3b5bdb", fill: "rgba(59, 91, 219, 0.12)", width: 2 },
        { label: "Failed authentications", stroke: "#c92a2a", fill: "rgba(201, 42, 42, 0.08)", width: 2 },
      ],
      axes: [
        {
          values: (u, splits) => splits.map((i) => (series.starts[i] ? label(series.starts[i]) : "")),
          grid: { stroke: "#eef0f5" },
          space: 50,
        },
        { grid: { stroke: "#eef0f5" }, values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? v : "")) },
      ],
    };
    const xs = series.starts.map((_, index) => index);
    const data = [xs, series.tokens_issued, series.auth_failures];
    if (plot) plot.destroy();
    plot = new uPlot(options, data, chart);
    chart.dataset.drawn = period;
    chart.dataset.points = String(xs.length);
  };

  container.querySelectorAll(".seg").forEach((button) => {
    button.addEventListener("click", () => {
      container.querySelectorAll(".seg").forEach((other) => other.classList.toggle("active", other === button));
      draw(button.dataset.period);
    });
  });
  draw("24h");
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy");
    if (button) copyText(button);
  });
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  setUpTabs();
  document.querySelectorAll(".usage").forEach(drawUsage);
});
