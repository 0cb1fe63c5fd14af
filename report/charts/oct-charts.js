// The chart code the static report (results.html), the comparison page and the live dashboard
// share, on uPlot (inlined beside it by report/chart-assets.ts). Plain browser JavaScript, no build
// step. Every chart gets uPlot's hover values in its legend, zoom by dragging over a time range
// (double-click resets), and series toggles by clicking a legend entry; charts of one page share
// their cursor, so hovering one time shows it on all.
(() => {
  var uPlot = window.uPlot;
  var PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ca8a04', '#475569'];
  var charts = [];
  var resizing = null;

  function fmt(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '—';
    var a = Math.abs(v);
    if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
    if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (Number.isInteger(v)) return String(v);
    return v.toFixed(2);
  }
  function fmtSeconds(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '—';
    var m = Math.floor(v / 60),
      s = v - m * 60;
    return m ? `${m}m${s < 10 ? '0' : ''}${s.toFixed(0)}s` : `${s.toFixed(s < 10 && !Number.isInteger(s) ? 1 : 0)}s`;
  }

  function widthOf(el) {
    return Math.max(240, Math.floor(el.clientWidth || el.parentNode?.clientWidth || 600));
  }

  /**
   * A time chart. opts: {series: [{label, color?, unit?, bars?, dash?, width?, fill?}], data: [xs, ys...],
   * height?, yLabel?, xLabel?, sync? (cursor group, default 'oct'), yMin?}
   * Returns {plot, setData(data)}.
   */
  function timeChart(el, opts) {
    var series = [{ label: opts.xLabel || 'time', value: (_u, v) => fmtSeconds(v) }];
    opts.series.forEach((s, i) => {
      var color = s.color || PALETTE[i % PALETTE.length];
      var unit = s.unit || '';
      series.push({
        label: s.label,
        stroke: color,
        width: s.width || 1.6,
        dash: s.dash,
        fill: s.fill || (s.bars ? `${color}88` : undefined),
        paths: s.bars ? uPlot.paths.bars({ size: [0.8, 40], align: 1 }) : undefined,
        points: { show: false },
        spanGaps: opts.spanGaps === true,
        show: s.show !== false,
        value: (_u, v) => (v === null || v === undefined ? '—' : fmt(v) + unit),
      });
    });
    var plot = new uPlot(
      {
        width: widthOf(el),
        height: opts.height || 240,
        series: series,
        cursor: { sync: { key: opts.sync || 'oct' }, drag: { x: true, y: false } },
        scales: {
          x: { time: false },
          y: {
            range: (_u, min, max) => {
              var lo = opts.yMin === undefined ? Math.min(0, min) : opts.yMin;
              return [lo, max > lo ? max * 1.05 : lo + 1];
            },
          },
        },
        axes: [
          { label: opts.xLabel || 'seconds since start', labelSize: 18, values: (_u, vals) => vals.map(fmtSeconds), size: 36 },
          { label: opts.yLabel || '', labelSize: 18, values: (_u, vals) => vals.map(fmt), size: 52 },
        ],
        legend: { live: true },
      },
      opts.data,
      el,
    );
    charts.push({ plot: plot, el: el });
    el.setAttribute('data-uplot', 'drawn');
    return {
      plot: plot,
      setData: (data) => {
        // Keep a zoomed range while new points arrive; reset only when not zoomed.
        var x = plot.scales.x,
          zoomed = plot.__zoomed;
        plot.setData(data, !zoomed);
        if (zoomed && x.min !== null) plot.setScale('x', { min: x.min, max: x.max });
      },
    };
  }

  /** Bars over buckets (a latency distribution): opts {labels: [...], counts: [...], color?}. */
  function bucketChart(el, opts) {
    var xs = opts.counts.map((_, i) => i);
    var plot = new uPlot(
      {
        width: widthOf(el),
        height: opts.height || 240,
        series: [
          { label: 'latency', value: (_u, i) => (i === null || opts.labels[i] === undefined ? '—' : opts.labels[i]) },
          {
            label: opts.label || 'count',
            stroke: opts.color || '#0d9488',
            fill: `${opts.color || '#0d9488'}aa`,
            paths: uPlot.paths.bars({ size: [0.9, 60] }),
            points: { show: false },
            value: (_u, v) => fmt(v),
          },
        ],
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
        axes: [
          {
            label: opts.xLabel || 'latency (ms)',
            labelSize: 18,
            size: 36,
            values: (_u, vals) => vals.map((i) => (Number.isInteger(i) && (opts.ticks || opts.labels)[i] !== undefined ? (opts.ticks || opts.labels)[i] : '')),
          },
          { values: (_u, vals) => vals.map(fmt), size: 52 },
        ],
      },
      [xs, opts.counts],
      el,
    );
    charts.push({ plot: plot, el: el });
    el.setAttribute('data-uplot', 'drawn');
    return { plot: plot };
  }

  function noData(el, text) {
    var p = document.createElement('p');
    p.className = 'empty';
    p.textContent = text || 'no data';
    el.appendChild(p);
    el.setAttribute('data-uplot', 'empty');
  }

  // Track zoom (a drag sets the x scale): live charts keep it while data arrives.
  if (uPlot) {
    document.addEventListener('dblclick', () => {
      charts.forEach((c) => {
        c.plot.__zoomed = false;
      });
    });
    document.addEventListener('mouseup', () => {
      charts.forEach((c) => {
        var x = c.plot.scales.x,
          d = c.plot.data[0];
        if (d?.length) c.plot.__zoomed = x.min > d[0] || x.max < d[d.length - 1];
      });
    });
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        charts.forEach((c) => {
          c.plot.setSize({ width: widthOf(c.el), height: c.plot.height });
        });
      }, 100);
    });
  }

  /** Overlaid A/B charts of a comparison (report/compare.ts): per series, p50/p95 and throughput. */
  function comparisonCharts(container, c) {
    // Every card first, then the charts: a grid reflows as cards arrive, and a chart takes its
    // width when drawn.
    const todo = [];
    const card = (title, name) => {
      const div = document.createElement('div');
      div.className = 'card chart';
      const h = document.createElement('h3');
      h.textContent = title;
      const el = document.createElement('div');
      el.setAttribute('data-compare-chart', name);
      div.appendChild(h);
      div.appendChild(el);
      container.appendChild(div);
      return el;
    };
    c.series.forEach((s) => {
      if (!s.a || !s.b) return;
      const tl = s.timeline;
      todo.push([
        card(`${s.name}: latency, A against B (ms)`, s.name),
        {
          data: [tl.t, tl.aP50, tl.aP95, tl.bP50, tl.bP95],
          yLabel: 'ms',
          spanGaps: true,
          series: [
            { label: 'A p50', color: '#94a3b8', dash: [5, 3], unit: ' ms' },
            { label: 'A p95', color: '#64748b', dash: [5, 3], unit: ' ms' },
            { label: 'B p50', color: '#2563eb', unit: ' ms' },
            { label: 'B p95', color: '#ea580c', unit: ' ms' },
          ],
        },
      ]);
      todo.push([
        card(`${s.name}: throughput, A against B (/s)`, s.name),
        {
          data: [tl.t, tl.aTps, tl.bTps],
          yLabel: 'per second',
          spanGaps: true,
          series: [
            { label: 'A', color: '#64748b', dash: [5, 3], unit: '/s' },
            { label: 'B', color: '#2563eb', unit: '/s' },
          ],
        },
      ]);
    });
    todo.forEach(([el, opts]) => timeChart(el, opts));
    document.documentElement.setAttribute('data-comparison-charts', String(todo.length));
  }

  window.OctCharts = {
    comparisonCharts,
    timeChart: timeChart,
    bucketChart: bucketChart,
    noData: noData,
    fmt: fmt,
    fmtSeconds: fmtSeconds,
    palette: PALETTE,
    all: charts,
  };
})();
