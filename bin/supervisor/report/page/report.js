// The timeline of a supervised run, drawn from the data block above (see bin/supervisor/report).
// No network, no libraries: a canvas for the bars, DOM elements for marks and tables.
"use strict";

var errorCount = 0;
window.onerror = function (message, source, line, column) {
  errorCount += 1;
  document.body.setAttribute("data-errors", String(errorCount));
  var box = document.getElementById("errors");
  box.textContent += "script error: " + message + " (line " + line + ":" + column + ")\n";
  return false;
};

(function () {
  var started = performance.now();
  var D = JSON.parse(document.getElementById("data").textContent);
  var OUTCOMES = ["done", "panicked", "crashed", "chaos", "timed_out", "unresponsive"];
  var COLORS = ["#3b82c4", "#e08a1e", "#d62d2d", "#8b5cf6", "#a16207", "#6b7280"];
  var ROW_H = 22, AXIS_H = 22;
  var runs = D.runs, rows = D.rows, info = D.info;
  var multiRun = runs.length > 1;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtDur(us) {
    if (us < 1000) return us + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    if (us < 6e7) return (us / 1e6).toFixed(us < 1e7 ? 3 : 2) + " s";
    var m = Math.floor(us / 6e7);
    return m + " min " + ((us - m * 6e7) / 1e6).toFixed(1) + " s";
  }
  function fmtT(us) { return fmtDur(Math.round(us)); }
  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }
  function rowName(r) { return (multiRun ? "run " + r.run + " · " : "") + "slot " + r.slot; }
  function shellQuote(a) { return /^[\w@%+=:,./-]+$/.test(a) ? a : "'" + a.replace(/'/g, "'\\''") + "'"; }
  function swatch(outcome) {
    var i = el("i", { "class": "outcome" });
    i.style.background = COLORS[OUTCOMES.indexOf(outcome)] || "#999";
    return i;
  }

  // ---- header and summary -----------------------------------------------------------------
  var run0 = runs[0] || { argv: [], summary: {}, settings: {} };
  var how = runs.length && runs.every(function (r) { return r.how; }) ? runs[runs.length - 1].how : "unfinished";
  var howEl = document.getElementById("how");
  howEl.textContent = how.replace("_", " ");
  howEl.className = "how how-" + how;
  document.getElementById("cmd").textContent = runs.map(function (r) {
    return r.argv.map(shellQuote).join(" ");
  }).filter(function (c, i, all) { return all.indexOf(c) === i; }).join("\n");
  var meta = [];
  if (run0.host) meta.push("host " + run0.host);
  if (run0.wall_ms) meta.push("started " + new Date(run0.wall_ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"));
  meta.push("job " + runs.map(function (r) { return r.job; }).join(", "));
  meta.push(run0.tool + " " + run0.version);
  document.getElementById("meta").textContent = meta.join(" · ");

  var summary = document.getElementById("summary");
  runs.forEach(function (r) {
    var s = r.summary || {};
    var pairs = [
      ["tasks", s.tasks], ["completed", s.completed], ["failed", s.failed], ["not run", s.not_run],
      ["retried", s.retried], ["worker crashes", s.worker_crashes], ["of which chaos kills", s.chaos_kills],
      ["of which timeouts", s.timeouts], ["recycled", s.recycled], ["workers spawned", s.workers_spawned],
      ["elapsed", s.elapsed_ms !== undefined ? fmtDur(s.elapsed_ms * 1000) : undefined],
      ["gave up", s.gave_up], ["interrupted", s.interrupted], ["workers", r.workers]
    ];
    if (multiRun) summary.appendChild(el("div", { "class": "run-title" }, "run " + r.run));
    var bad = { "failed": 1, "not run": 1, "worker crashes": 1, "gave up": 1, "interrupted": 1 };
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null) return;
      var wide = typeof p[1] === "string" && p[1].length > 12;
      var cls = "stat" + (bad[p[0]] && p[1] ? " bad" : "") + (wide ? " wide" : "");
      var box = el("div", { "class": cls, "data-key": p[0] });
      box.appendChild(el("b", null, p[1]));
      box.appendChild(el("span", null, p[0]));
      summary.appendChild(box);
    });
  });

  // ---- timeline geometry ------------------------------------------------------------------
  var END = Math.max(D.end, 1);
  var view = { t0: 0, t1: END };
  var plot = document.getElementById("plot");
  var canvas = document.getElementById("gantt-canvas");
  var ctx = canvas.getContext("2d");
  var marks = document.getElementById("marks");
  var labels = document.getElementById("labels");
  var rateCanvas = document.getElementById("chart-rate");
  var runCanvas = document.getElementById("chart-running");
  var height = AXIS_H + rows.length * ROW_H + 4;
  var width = 800, dpr = window.devicePixelRatio || 1;

  labels.style.height = height + "px";
  rows.forEach(function (r, i) {
    var label = el("div", { "class": "row-label", "data-slot": r.slot, "data-run": r.run }, rowName(r));
    label.style.top = (AXIS_H + i * ROW_H + 3) + "px";
    var pids = r.procs.filter(function (p) { return p.pid; }).length;
    label.title = rowName(r) + ": " + pids + " process" + (pids === 1 ? "" : "es");
    labels.appendChild(label);
  });

  function x(t) { return (t - view.t0) / (view.t1 - view.t0) * width; }
  function tAt(px) { return view.t0 + px / width * (view.t1 - view.t0); }

  function sizeCanvas(c, h) {
    c.width = Math.max(1, Math.round(width * dpr));
    c.height = Math.round(h * dpr);
    c.style.height = h + "px";
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    return g;
  }

  function niceStep(span, target) {
    var raw = span / target, pow = Math.pow(10, Math.floor(Math.log10(raw))), best = pow;
    [1, 2, 5, 10].forEach(function (m) { if (raw / (m * pow) >= 0.7) best = m * pow; });
    return Math.max(1, best);
  }

  // ---- drawing ----------------------------------------------------------------------------
  function drawGantt() {
    var g = sizeCanvas(canvas, height);
    g.clearRect(0, 0, width, height);
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    // Axis.
    var step = niceStep(view.t1 - view.t0, Math.max(2, width / 110));
    g.fillStyle = "#6a7385";
    g.strokeStyle = "#edf0f4";
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var px = Math.round(x(t)) + 0.5;
      g.beginPath(); g.moveTo(px, AXIS_H - 4); g.lineTo(px, height); g.stroke();
      g.fillText(fmtT(t), px + 3, AXIS_H / 2);
    }
    var span = view.t1 - view.t0;
    rows.forEach(function (r, i) {
      var y = AXIS_H + i * ROW_H;
      if (i % 2) { g.fillStyle = "#fbfcfd"; g.fillRect(0, y, width, ROW_H); }
      // Processes: hatched while starting, a pale band while alive.
      r.procs.forEach(function (p) {
        var ready = p.ready === null ? (p.end === null ? END : p.end) : p.ready;
        var end = p.end === null ? END : p.end;
        var a = x(p.req), b = x(ready), c = x(end);
        if (b > 0 && a < width) {
          g.fillStyle = "#f3e2c7";
          g.fillRect(a, y + 3, Math.max(1, b - a), ROW_H - 6);
        }
        if (p.ready !== null && c > 0 && b < width) {
          g.fillStyle = "#e9eef6";
          g.fillRect(b, y + 3, Math.max(1, c - b), ROW_H - 6);
        }
      });
      // Bins of tiny tasks: opacity is how busy the worker was.
      if (r.bins) {
        var w = D.stats.bin, first = Math.max(0, Math.floor(view.t0 / w)), last = Math.min(r.bins.n.length - 1, Math.ceil(view.t1 / w));
        g.fillStyle = COLORS[0];
        for (var k = first; k <= last; k++) {
          var busy = r.bins.busy[k];
          if (!busy && !r.bins.n[k]) continue;
          g.globalAlpha = Math.min(1, Math.max(0.15, busy / w));
          var bx = x(k * w);
          g.fillRect(bx, y + 5, Math.max(1, x((k + 1) * w) - bx), ROW_H - 10);
        }
        g.globalAlpha = 1;
      }
      // Exact attempts.
      var tasks = r.tasks, n = tasks.length / 4;
      var from = lowerBound(tasks, view.t0 - maxDur(r));
      for (var j = from; j < n; j++) {
        var s = tasks[j * 4];
        if (s > view.t1) break;
        var d = tasks[j * 4 + 1];
        if (s + d < view.t0) continue;
        var tx = x(s);
        g.fillStyle = COLORS[tasks[j * 4 + 2]];
        g.fillRect(tx, y + 5, Math.max(1, d / span * width), ROW_H - 10);
      }
    });
  }

  // Each row's longest exact attempt, so a bar that started before the view is still drawn.
  rows.forEach(function (r) {
    var m = 0;
    for (var j = 1; j < r.tasks.length; j += 4) m = Math.max(m, r.tasks[j]);
    r.maxDur = m;
  });
  function maxDur(r) { return r.maxDur; }
  // The first attempt (by index) starting at or after `t`.
  function lowerBound(tasks, t) {
    var lo = 0, hi = tasks.length / 4;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (tasks[mid * 4] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function placeMarks() {
    marks.textContent = "";
    D.deaths.forEach(function (d) {
      var i = rowIndex(d.run, d.slot);
      var px = x(d.t);
      var m = el("span", {
        "class": "mark " + (d.counted ? "death" : "spawn-fail") + " cause-" + d.cause,
        "data-slot": d.slot, "data-pid": d.pid === null ? "" : d.pid, "data-cause": d.cause
      }, "\u2715");
      m.title = "pid " + (d.pid === null ? "?" : d.pid) + " " + d.how + " (" + d.cause + ") at " + fmtT(d.t);
      m.style.left = px + "px";
      m.style.top = (AXIS_H + i * ROW_H + 4) + "px";
      if (px < -10 || px > width + 10) m.style.display = "none";
      marks.appendChild(m);
    });
    D.moments.forEach(function (mo) {
      var px = x(mo.t);
      var line = el("div", { "class": "moment moment-" + mo.kind + (px > width - 80 ? " flip" : ""), title: mo.text + " at " + fmtT(mo.t) });
      line.style.left = px + "px";
      line.appendChild(el("span", null, mo.kind.replace("_", " ")));
      if (px < 0 || px > width) line.style.display = "none";
      marks.appendChild(line);
    });
  }
  var rowIndexes = {};
  rows.forEach(function (r, i) { rowIndexes[r.run + ":" + r.slot] = i; });
  function rowIndex(run, slot) { return rowIndexes[run + ":" + slot] || 0; }

  // A chart of per-bin values (times `scale`), bins merged so that each bar is a few
  // pixels wide, each showing the mean of its bins.
  function drawChart(c, values, failed, scale) {
    var h = 80, g = sizeCanvas(c, h);
    g.clearRect(0, 0, width, h);
    var w = D.series.w, binPx = w / (view.t1 - view.t0) * width;
    var m = Math.max(1, Math.ceil(4 / binPx)), gw = w * m;
    var first = Math.max(0, Math.floor(view.t0 / gw)), last = Math.min(Math.floor((values.length - 1) / m), Math.ceil(view.t1 / gw));
    var mean = function (arr, k) {
      var s = 0;
      for (var i = k * m; i < Math.min(arr.length, (k + 1) * m); i++) s += arr[i];
      return s / m * scale;
    };
    var max = 0, k;
    for (k = first; k <= last; k++) max = Math.max(max, mean(values, k) + (failed ? mean(failed, k) : 0));
    if (max <= 0) max = 1;
    var bar = function (k, v, base, color) {
      var bx = x(k * gw), bh = v / max * (h - 14);
      g.fillStyle = color;
      g.fillRect(bx, h - base - bh, Math.max(1, x((k + 1) * gw) - bx), bh);
      return bh;
    };
    for (k = first; k <= last; k++) {
      var used = bar(k, mean(values, k), 0, "#3b82c4");
      if (failed) bar(k, mean(failed, k), used, "#d62d2d");
    }
    g.fillStyle = "#6a7385";
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "top";
    g.fillText("max " + (max >= 100 ? Math.round(max) : max.toFixed(2)), width - 90, 2);
  }

  function draw() {
    width = Math.max(200, plot.clientWidth);
    drawGantt();
    placeMarks();
    drawChart(rateCanvas, D.series.done, D.series.failed, 1e6 / D.series.w);
    drawChart(runCanvas, D.series.running, null, 0.01);
    document.getElementById("range").textContent = fmtT(view.t0) + " – " + fmtT(view.t1) + " (" + fmtT(view.t1 - view.t0) + ")";
  }

  // ---- zoom and pan -----------------------------------------------------------------------
  function setView(t0, t1) {
    var span = Math.min(END, Math.max(10, t1 - t0));
    t0 = Math.max(0, Math.min(END - span, t0));
    view.t0 = t0; view.t1 = t0 + span;
    draw();
  }
  function zoom(factor, centerPx) {
    var c = tAt(centerPx === undefined ? width / 2 : centerPx);
    setView(c - (c - view.t0) * factor, c + (view.t1 - c) * factor);
  }
  document.getElementById("zoom-in").onclick = function () { zoom(0.5); };
  document.getElementById("zoom-out").onclick = function () { zoom(2); };
  document.getElementById("zoom-reset").onclick = function () { setView(0, END); };
  plot.addEventListener("wheel", function (e) {
    e.preventDefault();
    zoom(Math.exp(e.deltaY * 0.0015), e.offsetX);
  }, { passive: false });
  plot.addEventListener("dblclick", function () { setView(0, END); });
  var drag = null;
  plot.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, t0: view.t0, t1: view.t1 };
    plot.classList.add("dragging");
  });
  window.addEventListener("mouseup", function () { drag = null; plot.classList.remove("dragging"); });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dt = (e.clientX - drag.x) / width * (drag.t1 - drag.t0);
    setView(drag.t0 - dt, drag.t1 - dt);
  });
  window.addEventListener("resize", draw);

  // ---- hover ------------------------------------------------------------------------------
  var tip = document.getElementById("tip");
  function showTip(text, e) {
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 360) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  }
  function hideTip() { tip.style.display = "none"; }
  function describeAttempt(j, r) {
    var t = r.tasks, meta = info[t[j * 4 + 3]];
    var lines = ["task " + meta[0] + (meta[2] ? "  " + meta[2] : ""),
      "attempt " + meta[1] + " · " + OUTCOMES[t[j * 4 + 2]] + " · " + fmtDur(t[j * 4 + 1]),
      "started " + fmtT(t[j * 4]) + " · pid " + meta[3] + (meta[5] === null ? "" : " · " + fmtBytes(meta[5]))];
    return lines.join("\n");
  }
  plot.addEventListener("mousemove", function (e) {
    if (drag) { hideTip(); return; }
    var rect = plot.getBoundingClientRect();
    var px = e.clientX - rect.left, py = e.clientY - rect.top;
    var i = Math.floor((py - AXIS_H) / ROW_H);
    if (i < 0 || i >= rows.length) { hideTip(); return; }
    var r = rows[i], t = tAt(px), slack = 3 / width * (view.t1 - view.t0);
    var tasks = r.tasks, j = lowerBound(tasks, t + slack) - 1;
    for (var back = 0; j >= 0 && back < 64; j--, back++) {
      var s = tasks[j * 4], d = tasks[j * 4 + 1];
      if (t >= s - slack && t <= s + d + slack) { showTip(describeAttempt(j, r), e); return; }
      if (s + r.maxDur < t - slack) break;
    }
    if (r.bins) {
      var w = D.stats.bin, k = Math.floor(t / w);
      if (k >= 0 && k < r.bins.n.length && (r.bins.n[k] || r.bins.busy[k])) {
        showTip(r.bins.n[k] + " short tasks started in " + fmtT(k * w) + " – " + fmtT((k + 1) * w) +
          "\nworker busy " + Math.round(100 * r.bins.busy[k] / w) + "% of it", e);
        return;
      }
    }
    for (var p = 0; p < r.procs.length; p++) {
      var pr = r.procs[p], end = pr.end === null ? END : pr.end;
      if (t >= pr.req && t <= end) {
        var text = "pid " + (pr.pid === null ? "?" : pr.pid) + " · " + pr.tasks + " attempts";
        text += pr.ready === null ? "\nnever ready" : "\nready " + fmtDur(pr.ready - pr.req) + " after its spawn was requested";
        if (pr.end !== null) text += "\nended at " + fmtT(pr.end) + ": " + (pr.how || "") + " (" + pr.cause + ")";
        if (pr.rss) text += "\npeak RSS " + fmtBytes(pr.rss) + " · CPU " + fmtDur(pr.cpu * 1000);
        showTip(text, e);
        return;
      }
    }
    hideTip();
  });
  plot.addEventListener("mouseleave", hideTip);

  // ---- legend and tables ------------------------------------------------------------------
  var legend = document.getElementById("legend");
  OUTCOMES.forEach(function (o, i) {
    var s = el("span");
    var sw = el("i");
    sw.style.background = COLORS[i];
    s.appendChild(sw);
    s.appendChild(document.createTextNode(o.replace("_", " ")));
    legend.appendChild(s);
  });

  function table(id, head, items, cells, onRow) {
    var tbl = document.getElementById(id);
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h.num ? { "class": "num" } : null, h.name || h)); });
    tbl.appendChild(tr);
    if (!items.length) {
      var none = el("tr");
      none.appendChild(el("td", { "class": "none", colspan: head.length }, "none"));
      tbl.appendChild(none);
    }
    items.forEach(function (item) {
      var row = cells(item);
      var tr = el("tr", row.attrs || null);
      row.cells.forEach(function (c, i) {
        var td = el("td", head[i].num ? { "class": "num" } : null);
        if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "" : String(c);
        tr.appendChild(td);
      });
      if (onRow) { tr.classList.add("jump"); tr.onclick = function () { onRow(item); }; }
      tbl.appendChild(tr);
    });
  }
  function around(t, d) {
    var pad = Math.max(d * 2, (END) / 200);
    setView(t - pad, t + d + pad);
    document.getElementById("timeline").scrollIntoView();
  }

  document.getElementById("deaths-count").textContent = "(" + D.deaths.filter(function (d) { return d.counted; }).length + ")";
  table("deaths", [{ name: "at", num: true }, "slot", { name: "pid", num: true }, "cause", "how"], D.deaths, function (d) {
    return {
      attrs: { "class": d.counted ? "death-row" : "spawn-fail-row", "data-pid": d.pid === null ? "" : d.pid },
      cells: [fmtT(d.t), rowName(d), d.pid, d.cause, d.how]
    };
  }, function (d) { around(d.t, 0); });

  document.getElementById("retries-count").textContent = "(" + D.troubled_total + (D.troubled_total > D.troubled.length ? ", the first " + D.troubled.length + " listed" : "") + ")";
  table("retries", [{ name: "task", num: true }, "label", "attempts (where, how, how long)", "final"], D.troubled, function (t) {
    var chain = el("div", { "class": "chain" });
    t.attempts.forEach(function (a) {
      var s = el("span");
      s.appendChild(swatch(a.outcome));
      s.appendChild(document.createTextNode(a.attempt + ": " + rowName(a) + " pid " + a.pid + ", " + a.outcome.replace("_", " ") + " after " + fmtDur(a.dur)));
      chain.appendChild(s);
    });
    return {
      attrs: { "class": "retry", "data-id": t.id, "data-run": t.run, "data-attempts": t.attempts.length },
      cells: [t.id, t.label || "", chain, t.failed ? "failed: " + t.failed : "done"]
    };
  }, function (t) {
    var a = t.attempts[0], z = t.attempts[t.attempts.length - 1];
    if (a) around(a.start, z.start + z.dur - a.start);
  });

  table("slowest", [{ name: "task", num: true }, "label", { name: "attempt", num: true }, "where", "outcome", { name: "took", num: true }], D.slowest, function (a) {
    return { cells: [a.id, a.label || "", a.attempt, rowName(a) + " pid " + a.pid, a.outcome.replace("_", " "), fmtDur(a.dur)] };
  }, function (a) { around(a.start, a.dur); });

  var procs = [];
  rows.forEach(function (r) { r.procs.forEach(function (p) { procs.push({ r: r, p: p }); }); });
  table("workers", ["slot", { name: "pid", num: true }, { name: "ready after", num: true }, { name: "lived", num: true },
    { name: "attempts", num: true }, { name: "peak RSS", num: true }, { name: "CPU", num: true }, "end"], procs, function (o) {
    var p = o.p, end = p.end === null ? null : p.end;
    return {
      attrs: { "class": "proc", "data-slot": o.r.slot },
      cells: [rowName(o.r), p.pid, p.ready === null ? "never" : fmtDur(p.ready - p.req),
        end === null ? "to the end" : fmtDur(end - (p.ready === null ? p.req : p.ready)), p.tasks,
        p.rss ? fmtBytes(p.rss) : "", p.end === null ? "" : fmtDur(p.cpu * 1000),
        p.cause ? p.cause + (p.how ? ": " + p.how : "") : "still running at the end of the file"]
    };
  }, function (o) { around(o.p.req, (o.p.end === null ? END : o.p.end) - o.p.req); });

  var st = D.stats;
  document.getElementById("footer").textContent = st.lines + " event lines (schema v" + D.schema + ")" +
    (st.skipped ? ", " + st.skipped + " not understood (a torn last line?)" : "") + "; " + st.attempts + " attempts, " +
    st.exact + " drawn one by one" + (st.binned ? ", " + st.binned + " short ones added up in bins of " + fmtDur(st.bin) : "") + ".";

  draw();
  document.body.setAttribute("data-rows", String(rows.length));
  document.body.setAttribute("data-render-ms", String(Math.round(performance.now() - started)));
  document.body.setAttribute("data-rendered", "ok");
})();
