/*
 * The trace viewer's script, inlined into every page by html.ts. It reads the trace document
 * (docs/trace-schema.md) from <script id="trace" type="application/json"> and draws everything
 * from it: nothing is fetched, nothing else is computed about the run.
 */
(function () {
  'use strict';
  var doc = JSON.parse(document.getElementById('trace').textContent);
  var steps = doc.steps;
  var N = steps.length;
  var lanes = doc.lanes.map(function (l) { return l.id; });
  var laneCtx = {};
  doc.lanes.forEach(function (l) { laneCtx[l.id] = l.ctx; });
  var vstep = doc.violation ? doc.violation.step : doc.kind === 'witness' ? N : null;
  var sel = vstep !== null ? vstep : N;
  var expanded = {};
  var chartCpu = null;

  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; });
  }
  function el(tag, cls, html) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (html !== undefined) e.innerHTML = html;
    return e;
  }
  function runOf(n) {
    for (var i = 0; i < doc.runs.length; i++) if (n >= doc.runs[i].first && n <= doc.runs[i].last) return i;
    return -1;
  }
  function startsOp(s) { return !/next statement$/.test(s.event); }
  function pos(st) { return st.file ? st.file + ':' + st.line : ''; }

  // ---- the lanes ------------------------------------------------------------------------------
  function stepCell(s) {
    var c = el('div', 'cell ' + (laneCtx[s.lane] || 'task'));
    var html = '';
    if (startsOp(s)) html += '<div class="ev' + (s.interrupt ? ' int' : '') + '" title="' + esc(s.event) + '">' + (s.interrupt ? '⚡ ' : '') + esc(s.event) + '</div>';
    var st = s.statements;
    var last = st[st.length - 1];
    if (st.length > 1) html += '<div class="more">' + (st.length - 1) + ' statements, then:</div>';
    if (last) {
      if (last.fn) html += '<div class="fn">' + esc(last.fn) + '()</div>';
      html += '<div class="stmt">' + esc(last.text) + '</div>';
      if (last.file) html += '<div class="pos">' + esc(pos(last)) + '</div>';
    }
    if (s.returned) html += '<div class="ret">→ ' + esc(s.returned) + '</div>';
    if (doc.violation && s.n === vstep) html += '<div class="bad">✗ ' + esc(doc.violation.id) + '</div>';
    c.innerHTML = html;
    return c;
  }

  function runCell(r) {
    var first = steps[r.first - 1];
    var lastStep = steps[r.last - 1];
    var c = el('div', 'cell ' + (laneCtx[r.lane] || 'task'));
    var html = '';
    if (r.events.length) html += '<div class="ev' + (first.interrupt ? ' int' : '') + '">' + (first.interrupt ? '⚡ ' : '') + esc(r.events.join(', ')) + '</div>';
    var st = lastStep.statements[lastStep.statements.length - 1];
    var count = 0;
    for (var i = r.first; i <= r.last; i++) count += steps[i - 1].statements.length;
    if (st) html += '<div class="stmt">' + esc(st.text) + '</div><div class="pos">' + esc((st.fn ? st.fn + '() ' : '') + pos(st)) + '</div>';
    html += '<div class="more">' + count + ' statements · click to expand</div>';
    if (r.returned) html += '<div class="ret">→ ' + esc(r.returned) + '</div>';
    if (doc.violation && vstep >= r.first && vstep <= r.last) html += '<div class="bad">✗ ' + esc(doc.violation.id) + ' at step ' + vstep + '</div>';
    c.innerHTML = html;
    return c;
  }

  function row(n, cls, laneId, cell, attrs) {
    var tr = el('tr', cls);
    var tdn = el('td', 'n', n);
    tr.appendChild(tdn);
    lanes.forEach(function (l) {
      var td = el('td', l === laneId ? 'lane-cell' : '');
      if (l === laneId) {
        td.setAttribute('data-lane', l);
        td.appendChild(cell);
      }
      tr.appendChild(td);
    });
    for (var k in attrs) tr.setAttribute(k, attrs[k]);
    return tr;
  }

  function buildLanes() {
    var t = $('trace-table');
    var head = '<thead><tr><th class="n">step</th>' + lanes.map(function (l) { return '<th class="lane-' + (laneCtx[l] || '') + '">' + esc(l) + '</th>'; }).join('') + '</tr></thead>';
    t.innerHTML = head;
    var tb = el('tbody');
    if (N === 0) tb.innerHTML = '<tr><td class="n">0</td><td colspan="' + Math.max(1, lanes.length) + '">no step: the state after boot already breaks it</td></tr>';
    doc.runs.forEach(function (r, ri) {
      if (r.last > r.first) {
        var tr = row(r.first + '–' + r.last, 'run', r.lane, runCell(r), { id: 'run-' + ri, 'data-run': ri });
        tr.addEventListener('click', function () { expanded[ri] = !expanded[ri]; update(); });
        tb.appendChild(tr);
      }
      for (var n = r.first; n <= r.last; n++) {
        var s = steps[n - 1];
        var cls = 'step' + (r.last > r.first ? ' in-run' : '') + (doc.violation && n === vstep ? ' broke' : '');
        var tr2 = row(String(n), cls, s.lane, stepCell(s), { id: 'step-' + n, 'data-step': n, 'data-lane': s.lane, 'data-run': ri });
        (function (n) { tr2.addEventListener('click', function () { select(n); }); })(n);
        tb.appendChild(tr2);
      }
    });
    t.appendChild(tb);
  }

  // ---- the cache after the step ---------------------------------------------------------------
  function snapshot(n) { return n === 0 ? doc.boot : steps[n - 1]; }

  function chain(ids, prevIds) {
    if (!ids.length) return '<span class="null">NULL</span>';
    return ids.map(function (id) {
      var moved = prevIds && prevIds.indexOf(id) < 0;
      return '<span class="obj' + (moved ? ' moved' : '') + '" data-obj="' + id + '"' + (moved ? ' title="arrived in this step"' : '') + '>#' + id + '</span>';
    }).join('<span class="arrow">→</span>') + '<span class="arrow">→</span><span class="null">NULL</span>';
  }

  function drawCpus(n) {
    var snap = snapshot(n);
    var prev = n > 0 ? snapshot(n - 1) : null;
    var stepCpu = n > 0 ? steps[n - 1].cpu : null;
    var box = $('cpus');
    box.innerHTML = '';
    snap.cpus.forEach(function (c) {
      var p = prev ? prev.cpus[c.cpu] : null;
      var d = el('div', 'cpu' + (c.cpu === stepCpu ? ' current' : ''));
      d.setAttribute('data-cpu', c.cpu);
      var pills = '';
      pills += c.online ? '' : '<span class="pill warn">offline</span>';
      pills += '<span class="pill' + (c.irqsOff ? ' off' : '') + '" data-k="irqs">irqs ' + (c.irqsOff ? 'off' : 'on') + '</span>';
      pills += '<span class="pill' + (c.preemptOff ? ' off' : '') + '" data-k="preempt">preemption ' + (c.preemptOff ? 'off' : 'on') + '</span>';
      pills += c.quiescent ? '<span class="pill ok">quiescent</span>' : '<span class="pill">mid-operation</span>';
      if (c.listFault) pills += '<span class="pill warn">' + esc(c.listFault) + '</span>';
      var nrWrong = c.quiescent && c.nr !== c.freeList.length;
      var nrIrqWrong = c.quiescent && c.nrIrq !== c.freeListIrq.length;
      var total = c.nr + c.nrIrq;
      var html = '<div class="title">cpu' + c.cpu + (c.cpu === stepCpu ? ' <span class="hint">(this step)</span>' : '') + ' ' + pills + '</div>';
      html += '<div class="list" data-list="free_list"><span class="name">free_list</span>' + chain(c.freeList, p && p.freeList.concat(p.freeListIrq)) + '<span class="count' + (nrWrong ? ' wrong' : '') + '" data-k="nr">nr = ' + c.nr + (nrWrong ? ' ≠ ' + c.freeList.length : '') + '</span></div>';
      html += '<div class="list irq" data-list="free_list_irq"><span class="name">free_list_irq</span>' + chain(c.freeListIrq, p && p.freeList.concat(p.freeListIrq)) + '<span class="count' + (nrIrqWrong ? ' wrong' : '') + '" data-k="nr_irq">nr_irq = ' + c.nrIrq + (nrIrqWrong ? ' ≠ ' + c.freeListIrq.length : '') + '</span></div>';
      html += '<div class="hint">nr + nr_irq = ' + total + ' (MAX ' + doc.profile.max + ', THRESHOLD ' + doc.profile.threshold + ', reachable bound ' + doc.profile.reachableBound + ')</div>';
      html += '<div class="stack">' + (c.contexts.length ? c.contexts.map(function (x) {
        var what = x.op ? x.op + (x.preempt ? ', get_cpu() held ×' + x.preempt : '') + (x.irqSaved ? ', local_irq_save ×' + x.irqSaved : '') + (x.next ? ' · next: ' + esc(x.next) : '') : 'between operations';
        return '<div class="ctx ' + (x.running ? 'run' : 'wait') + '">' + esc(x.who) + ' — ' + what + '</div>';
      }).join('') : '<div class="ctx wait">no context</div>') + '</div>';
      d.innerHTML = html;
      box.appendChild(d);
    });
    var o = snap.objects;
    var ids = function (xs) {
      return xs && xs.length ? '<span class="ids">' + xs.map(function (i) { return '<span class="obj">#' + i + '</span>'; }).join('') + '</span>' : '<span class="none">—</span>';
    };
    var rows = '';
    Object.keys(o.held).sort().forEach(function (t) { rows += '<span class="label">in use by ' + esc(t) + '</span>' + ids(o.held[t]); });
    if (!Object.keys(o.held).length) rows += '<span class="label">in use by a task</span>' + ids([]);
    rows += '<span class="label">in flight (I/O)</span>' + ids(o.inFlight);
    Object.keys(o.inOp).sort().forEach(function (w) { rows += '<span class="label">in an operation of ' + esc(w) + '</span>' + ids(o.inOp[w]); });
    rows += '<span class="label">freed (kfree)</span>' + ids(o.freed);
    $('objects').innerHTML = rows;
  }

  // ---- the invariant --------------------------------------------------------------------------
  function drawInvariant(n) {
    var box = $('invariant-box');
    var v = doc.violation;
    var s = n > 0 ? steps[n - 1] : null;
    var html = '';
    if (v) {
      var here = n === v.step;
      box.className = 'box' + (here ? '' : ' later');
      var when = v.step === 0 ? 'at boot, before any step' : 'after step ' + v.step;
      html += '<div class="id">' + (here ? '✗ ' : '') + esc(v.id) + (here ? ' breaks here, ' + when : ' breaks ' + when + ' (press v)') + '</div>';
      if (here) html += '<div class="msg">' + esc(v.message) + '</div>';
      html += '<div class="claim"><b>claim:</b> ' + esc(v.claim) + '</div>';
      html += '<div class="rule">' + esc(v.kernelRule) + '</div>';
      html += '<div class="src">' + esc(v.source) + '</div>';
    } else {
      box.className = 'box later';
      html += '<div class="claim">' + esc(doc.title) + (doc.witness ? ' — reached after step ' + N + '; the ' + esc(doc.profile.name) + ' profile bounds a quiescent CPU at ' + doc.profile.reachableBound + ' (MAX ' + doc.profile.max + ', sequentially ' + doc.profile.sequentialBound + ')' : '') + '</div>';
    }
    if (s) {
      var others = s.violations.filter(function (x) { return !v || x.id !== v.id || n !== v.step; });
      if (others.length) html += others.map(function (x) { return '<div class="other">' + (x.severity === 'warning' ? 'warning ' : '✗ ') + esc(x.id) + ': ' + esc(x.message) + '</div>'; }).join('');
    }
    box.innerHTML = html;
  }

  // ---- the source -----------------------------------------------------------------------------
  function drawSources(n) {
    var s = n > 0 ? steps[n - 1] : null;
    var st = s ? s.statements : [];
    var cur = st[st.length - 1];
    var box = $('sources');
    box.innerHTML = '';
    if (!doc.sources.length) { box.innerHTML = '<div class="hint">no source lines were found for these statements</div>'; return; }
    var order = doc.sources.slice();
    var holds = function (src, x) { return x && x.file === src.file && x.fn === src.fn && x.line >= src.firstLine && x.line < src.firstLine + src.lines.length; };
    order.sort(function (a, b) { return (holds(b, cur) ? 1 : 0) - (holds(a, cur) ? 1 : 0); });
    order.forEach(function (src) {
      var d = el('details');
      d.setAttribute('data-fn', src.fn);
      if (holds(src, cur)) d.open = true;
      var ran = {};
      st.forEach(function (x) { if (holds(src, x)) ran[x.line] = true; });
      var lines = src.lines.map(function (t, i) {
        var ln = src.firstLine + i;
        // In a port, the yielded strings are the C statements: the TypeScript around them is dimmed.
        var ts = src.kind === 'port' && !/yield\b/.test(t) && !/Port of/.test(t);
        var cls = 'l' + (ts ? ' ts' : '') + (src.added.indexOf(ln) >= 0 ? ' added' : '') + (holds(src, cur) && cur.line === ln ? ' cur' : ran[ln] ? ' ran' : '');
        return '<span class="' + cls + '" data-line="' + ln + '"><span class="ln">' + ln + '</span>' + esc(t) + '</span>';
      }).join('');
      d.innerHTML = '<summary>' + esc(src.fn) + '() <span class="where">' + esc(src.file) + ':' + src.firstLine + (src.kind === 'port' ? ' (TypeScript port: each yield is the C statement it runs next)' : ' (post-image)') + '</span></summary><pre class="code' + (src.kind === 'port' ? ' port' : '') + '">' + lines + '</pre>';
      box.appendChild(d);
      if (d.open) {
        var c = d.querySelector('.l.cur');
        if (c) { var pre = d.querySelector('pre'); pre.scrollTop = Math.max(0, c.offsetTop - 140); }
      }
    });
  }

  // ---- the statechart -------------------------------------------------------------------------
  var nodes = {};
  function indexChart() {
    var svg = document.querySelector('#chart svg');
    if (!svg) return;
    svg.querySelectorAll('g.node').forEach(function (g) {
      var t = g.querySelector('title');
      if (t) nodes[t.textContent] = g;
    });
  }
  function drawChart(n) {
    var snap = snapshot(n);
    var cpu = chartCpu !== null ? chartCpu : n > 0 ? steps[n - 1].cpu || 0 : 0;
    var c = snap.cpus[cpu] || snap.cpus[0];
    if (!c) return;
    var pick = $('chart-cpu');
    if (snap.cpus.length > 1) {
      pick.innerHTML = 'CPU: ' + snap.cpus.map(function (x) {
        return '<label><input type="radio" name="cpu" value="' + x.cpu + '"' + (x.cpu === c.cpu ? ' checked' : '') + '> cpu' + x.cpu + '</label>';
      }).join(' ') + ' <span class="hint">(follows the selected step unless chosen)</span>';
      pick.querySelectorAll('input').forEach(function (i) { i.addEventListener('change', function () { chartCpu = Number(i.value); update(); }); });
    } else pick.innerHTML = '';
    Object.keys(nodes).forEach(function (k) { nodes[k].classList.remove('active'); });
    c.machineIds.forEach(function (id) { if (nodes[id]) nodes[id].classList.add('active'); });
    $('chart-states').innerHTML = 'cpu' + c.cpu + ' after step ' + n + ': ' + Object.keys(c.machine).map(function (r) { return r + ' <b>' + esc(c.machine[r]) + '</b>'; }).join(' · ');
    $('chart-note').textContent = c.machineNote || '';
  }

  // ---- selection and navigation ---------------------------------------------------------------
  function update() {
    var ri = runOf(sel);
    document.querySelectorAll('tr.run').forEach(function (tr) {
      var i = Number(tr.getAttribute('data-run'));
      tr.classList.toggle('has-selected', i === ri);
      tr.querySelector('.more') && (tr.querySelector('.more').textContent = tr.querySelector('.more').textContent.replace(/click to (expand|collapse)/, 'click to ' + (expanded[i] ? 'collapse' : 'expand')));
    });
    document.querySelectorAll('tr.step').forEach(function (tr) {
      var n = Number(tr.getAttribute('data-step'));
      var r = Number(tr.getAttribute('data-run'));
      var inRun = tr.classList.contains('in-run');
      tr.hidden = inRun && !expanded[r];
      tr.classList.toggle('selected', n === sel);
    });
    $('pos').textContent = 'step ' + sel + ' / ' + N;
    $('cur').innerHTML = sel === 0 ? 'the state after boot' : (function (s) {
      var last = s.statements[s.statements.length - 1];
      return '<b>' + esc(s.lane) + '</b> · ' + esc(last ? (last.fn ? last.fn + ': ' : '') + last.text : s.event) + (last && last.file ? ' <span class="hint">' + esc(pos(last)) + '</span>' : '');
    })(steps[sel - 1]);
    drawCpus(sel);
    drawInvariant(sel);
    drawSources(sel);
    drawChart(sel);
    $('b-prev').disabled = sel <= 0;
    $('b-next').disabled = sel >= N;
    $('b-pint').disabled = prevInterrupt() === null;
    $('b-nint').disabled = nextInterrupt() === null;
    $('b-viol').disabled = vstep === null;
  }

  function select(n, fromHash) {
    sel = Math.max(0, Math.min(N, n));
    var ri = runOf(sel);
    if (ri >= 0 && doc.runs[ri].last > doc.runs[ri].first) expanded[ri] = true;
    update();
    if (!fromHash) {
      try { history.replaceState(null, '', '#step-' + sel); } catch (e) { /* a page without history */ }
    }
    var tr = $('step-' + sel);
    if (tr && tr.scrollIntoView) tr.scrollIntoView({ block: 'nearest' });
  }
  function nextInterrupt() { for (var n = sel + 1; n <= N; n++) if (steps[n - 1].interrupt) return n; return null; }
  function prevInterrupt() { for (var n = sel - 1; n >= 1; n--) if (steps[n - 1].interrupt) return n; return null; }

  function fromHash() {
    var m = /^#step-(\d+)$/.exec(location.hash);
    if (m) select(Number(m[1]), true);
  }

  function wire() {
    $('b-first').addEventListener('click', function () { select(0); });
    $('b-prev').addEventListener('click', function () { select(sel - 1); });
    $('b-next').addEventListener('click', function () { select(sel + 1); });
    $('b-pint').addEventListener('click', function () { var n = prevInterrupt(); if (n !== null) select(n); });
    $('b-nint').addEventListener('click', function () { var n = nextInterrupt(); if (n !== null) select(n); });
    $('b-viol').addEventListener('click', function () { if (vstep !== null) select(vstep); });
    $('b-last').addEventListener('click', function () { select(N); });
    $('b-zoom').addEventListener('click', function () {
      var pair = document.querySelector('.pair');
      pair.classList.toggle('big');
      $('b-zoom').textContent = pair.classList.contains('big') ? 'shrink' : 'enlarge';
    });
    $('b-expand').addEventListener('click', function () {
      var all = doc.runs.every(function (r, i) { return r.last === r.first || expanded[i]; });
      doc.runs.forEach(function (r, i) { expanded[i] = !all; });
      update();
    });
    document.addEventListener('keydown', function (e) {
      if (e.target && /input|textarea|select/i.test(e.target.tagName)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      var k = e.key;
      if ((k === 'ArrowRight' || k === 'j') && !e.shiftKey) select(sel + 1);
      else if ((k === 'ArrowLeft' || k === 'k') && !e.shiftKey) select(sel - 1);
      else if (k === 'n' || (k === 'ArrowRight' && e.shiftKey)) { var a = nextInterrupt(); if (a !== null) select(a); }
      else if (k === 'p' || (k === 'ArrowLeft' && e.shiftKey)) { var b = prevInterrupt(); if (b !== null) select(b); }
      else if (k === 'v') { if (vstep !== null) select(vstep); }
      else if (k === 'Home') select(0);
      else if (k === 'End') select(N);
      else return;
      e.preventDefault();
    });
    window.addEventListener('hashchange', fromHash);
  }

  buildLanes();
  indexChart();
  wire();
  if (/^#step-\d+$/.test(location.hash)) fromHash();
  else select(sel, true);
  document.body.setAttribute('data-ready', '1');
})();
