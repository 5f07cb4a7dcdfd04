// The console's only script: live blocks (re-fetched and swapped by id) and the failure chart.
"use strict";

const POLL_MS = 2000;

function poll(holder) {
  const url = holder.dataset.poll;
  const id = holder.dataset.pollTarget;
  async function refresh() {
    try {
      const response = await fetch(url, { headers: { "X-Requested-With": "poll" } });
      if (response.ok) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = doc.getElementById(id);
        const old = document.getElementById(id);
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      }
    } catch (err) {
      // the server went away for a moment: keep the last view and try again
    }
    setTimeout(refresh, POLL_MS);
  }
  setTimeout(refresh, POLL_MS);
}

function failureChart() {
  const canvas = document.getElementById("failure-chart");
  const source = document.getElementById("failure-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const [task, robot] = [0, 1];
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.reasons.map((r) => ({ label: r.reason, data: r.counts })),
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "episodes" } } },
      onClick(event, elements) {
        if (!elements.length) return;
        const hit = elements[0];
        const parts = data.labels[hit.index].split(" / ");
        const query = new URLSearchParams({
          task: parts[task], robot: parts[robot], reason: data.reasons[hit.datasetIndex].reason,
        });
        if (data.campaign) query.set("campaign", data.campaign);
        window.location.href = "/episodes?" + query.toString();
      },
    },
  });
  canvas.chart = chart;
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach(poll);
  failureChart();
});
