"""The viewer's script: plain JavaScript on 2D canvases, no library, no network (``html`` embeds it).

It reads the JSON scene from ``<script id="scene-data">`` and draws, per view, a 3D panel (orthographic,
equal axes, ground grid, camera frustums; dragging orbits every panel together, the wheel zooms) above a
2D panel (keypoints in the image rectangle). A timeline plays and scrubs all views together. The URL
fragment sets the start: ``#frame=N`` (0-based), ``fit=body|scene``, ``play=1``, and ``size=WxH`` (lay the
page out for W x H pixels whatever the window, for reproducible screenshots). After every draw it writes
where it drew each view's joints to ``document.body.dataset.probe`` (JSON, page pixels), which the browser
test reads.

Keys: space plays/pauses, left/right step a frame, f switches the fit between body and scene.
"""

VIEWER_JS = r"""
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("scene-data").textContent);
  const C = D.colours;
  function f32(text) {
    if (!text) return null;
    const bytes = atob(text), raw = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) raw[i] = bytes.charCodeAt(i);
    return new Float32Array(raw.buffer);
  }
  const J = D.joints;
  const views = D.views.map(function (v) {
    const out = Object.assign({}, v);
    ["truth", "keypoints", "frustum", "outOfFrame", "prediction", "reprojection", "jointError", "frameMpjpe"]
      .forEach(function (key) { out[key] = f32(v[key]); });
    return out;
  });
  const TICK_MS = 1000 / 60;  // playback redraws at about 60 Hz
  const T = Math.max.apply(null, views.map(function (v) { return v.frames; }));
  const hash = new URLSearchParams(location.hash.slice(1));
  const state = {
    frame: Math.min(Math.max(parseInt(hash.get("frame") || "0", 10) || 0, 0), T - 1),
    fit: hash.get("fit") || D.fit, playing: hash.get("play") === "1", zoom: 1, last: null, speed: 1,
  };

  const first = views[0];
  const oneSequence = views.every(function (v) { return v.sequence === first.sequence; });  // header names it
  state.turn = 0; state.tilt = 0;  // the drag's orbit, shared by every 3D panel, on top of each view's own start

  const grid = document.getElementById("panels");
  views.forEach(function (v) {
    const column = document.createElement("div");
    column.className = "column";
    v.canvas3d = document.createElement("canvas");
    v.canvas2d = document.createElement("canvas");
    column.appendChild(v.canvas3d); column.appendChild(v.canvas2d);
    grid.appendChild(column);
    v.canvas3d.addEventListener("mousedown", function (e) { state.drag = [e.clientX, e.clientY]; });
    v.canvas3d.addEventListener("wheel", function (e) {
      e.preventDefault(); state.zoom *= Math.exp(-e.deltaY * 0.001); draw();
    }, { passive: false });
  });
  window.addEventListener("mouseup", function () { state.drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!state.drag) return;
    state.turn -= (e.clientX - state.drag[0]) * 0.01;
    const tilt = state.tilt + (e.clientY - state.drag[1]) * 0.01;
    state.tilt = Math.max(-1.5 - first.elevation, Math.min(1.5 - first.elevation, tilt));
    state.drag = [e.clientX, e.clientY]; draw();
  });
  const slider = document.getElementById("slider"), play = document.getElementById("play");
  const timeline = document.getElementById("timeline"), speed = document.getElementById("speed");
  slider.max = T - 1;
  slider.addEventListener("input", function () { state.frame = parseInt(slider.value, 10); draw(); });
  play.addEventListener("click", function () { setPlaying(!state.playing); });
  speed.addEventListener("change", function () { state.speed = parseFloat(speed.value); });
  timeline.addEventListener("mousedown", function (e) {
    const r = timeline.getBoundingClientRect();
    state.frame = Math.round((e.clientX - r.left) / r.width * (T - 1)); draw();
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === " ") { setPlaying(!state.playing); e.preventDefault(); }
    else if (e.key === "ArrowRight") { state.frame = Math.min(T - 1, state.frame + 1); draw(); }
    else if (e.key === "ArrowLeft") { state.frame = Math.max(0, state.frame - 1); draw(); }
    else if (e.key === "f") { state.fit = state.fit === "body" ? "scene" : "body"; state.zoom = 1; draw(); }
  });
  function setPlaying(on) {
    state.playing = on; state.last = null; play.textContent = on ? "pause" : "play";
    if (on) tick();
  }
  // Timers, not requestAnimationFrame: headless Chromium's virtual time (tests, screenshots) advances timers
  // reliably, while animation frames may not be produced at all.
  function tick() {
    if (!state.playing) return;
    const now = performance.now();
    if (state.last !== null) state.position += (now - state.last) / 1000 * first.fps * state.speed;
    else state.position = state.frame;
    state.last = now;
    state.frame = Math.floor(state.position) % T;
    draw();
    setTimeout(tick, TICK_MS);
  }

  function sizeCanvas(canvas, w, h) {
    const ratio = window.devicePixelRatio || 1;
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return ctx;
  }
  const fixed = /^(\d+)x(\d+)$/.exec(hash.get("size") || "");  // #size=WxH: a fixed page, for screenshots
  function layout() {
    const pageWidth = fixed ? parseInt(fixed[1], 10) : window.innerWidth;
    const pageHeight = fixed ? parseInt(fixed[2], 10) : window.innerHeight;
    document.body.style.width = pageWidth + "px";
    timeline.tctx = sizeCanvas(timeline, pageWidth - 20, D.timelineHeight);
    const height = pageHeight - document.getElementById("header").offsetHeight
      - document.getElementById("controls").offsetHeight;
    const width = Math.floor(pageWidth / views.length);
    views.forEach(function (v) {
      v.w = width; v.h3 = Math.floor(height * D.panel3dShare); v.h2 = height - v.h3;
      v.ctx3 = sizeCanvas(v.canvas3d, v.w, v.h3);
      v.ctx2 = sizeCanvas(v.canvas2d, v.w, v.h2);
    });
    draw();
  }

  function errorColour(mm) {
    const t = Math.min(Math.max(mm / D.errorLimitMm, 0), 1), s = C.errorScale;
    const a = t < 0.5 ? s[0] : s[1], b = t < 0.5 ? s[1] : s[2], u = t < 0.5 ? t * 2 : t * 2 - 1;
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * u); }).join(",") + ")";
  }
  function rgb(c) { return "rgb(" + c.join(",") + ")"; }
  function line(ctx, a, b, colour, width) {
    ctx.strokeStyle = colour; ctx.lineWidth = width;
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
  }
  function dot(ctx, p, colour, r) {
    ctx.fillStyle = colour; ctx.beginPath(); ctx.arc(p[0], p[1], r, 0, 2 * Math.PI); ctx.fill();
  }
  function skeleton(ctx, points, v, colour, width, jointColours, radius) {
    v.bones.forEach(function (b) { line(ctx, points[b[0]], points[b[1]], colour, width); });
    points.forEach(function (p, j) { dot(ctx, p, jointColours ? jointColours[j] : colour, radius); });
  }

  function draw3d(v, t, probe) {
    const ctx = v.ctx3, w = v.w, h = v.h3;
    ctx.fillStyle = rgb(C.background); ctx.fillRect(0, 0, w, h);
    const az = v.azimuth + state.turn, el = v.elevation + state.tilt;
    const ca = Math.cos(az), sa = Math.sin(az), ce = Math.cos(el), se = Math.sin(el);
    const scale = state.zoom * D.fitShare * Math.min(w, h) / (state.fit === "body" ? v.bodyRadius : v.sceneRadius);
    function p2(x, y, z) {
      const dx = x - v.centre[0], dy = y - v.centre[1], dz = z - v.centre[2];
      return [w / 2 + scale * (-sa * dx + ca * dy), h / 2 - scale * (-se * ca * dx - se * sa * dy + ce * dz)];
    }
    const reach = Math.ceil((state.fit === "body" ? v.bodyRadius * 2 : v.sceneRadius) / D.gridStep) * D.gridStep;
    for (let k = -reach; k <= reach + 1e-9; k += D.gridStep) {
      const x = v.centre[0] + k, y = v.centre[1] + k;
      line(ctx, p2(x, v.centre[1] - reach, v.ground), p2(x, v.centre[1] + reach, v.ground), rgb(C.grid), 1);
      line(ctx, p2(v.centre[0] - reach, y, v.ground), p2(v.centre[0] + reach, y, v.ground), rgb(C.grid), 1);
    }
    views.forEach(function (u) {
      if (u.sequence !== v.sequence) return;
      const colour = rgb(u === v ? C.camera : C.otherCamera);
      for (let i = 0; i < u.frustum.length; i += 6) {
        const f = u.frustum;
        line(ctx, p2(f[i], f[i + 1], f[i + 2]), p2(f[i + 3], f[i + 4], f[i + 5]), colour, u === v ? 1.5 : 1);
      }
    });
    const o = t * J * 3, truth = [], predicted = [];
    for (let j = 0; j < J; j++) truth.push(p2(v.truth[o + 3 * j], v.truth[o + 3 * j + 1], v.truth[o + 3 * j + 2]));
    skeleton(ctx, truth, v, rgb(C.truth), 3, null, 3.5);
    probe.joints3d = truth;
    if (v.prediction) {
      const colours = [];
      for (let j = 0; j < J; j++) {
        const a = v.prediction;
        predicted.push(p2(a[o + 3 * j], a[o + 3 * j + 1], a[o + 3 * j + 2]));
        colours.push(errorColour(v.jointError[t * J + j]));
      }
      skeleton(ctx, predicted, v, rgb(C.prediction), 2, colours, 4.5);
      probe.prediction3d = predicted;
    }
    ctx.fillStyle = rgb(C.text); ctx.font = "13px sans-serif";
    ctx.fillText(oneSequence ? "camera " + v.camera : v.title, 8, 18);
    ctx.fillText(v.frameMpjpe ? "MPJPE " + v.frameMpjpe[t].toFixed(1) + " mm" : v.truthLabel, 8, 36);
    if (v.prediction) legend(ctx, h);
  }
  function legend(ctx, h) {  // bottom left, under the skeletons' usual place
    const y = h - 52;
    ctx.font = "12px sans-serif"; ctx.fillStyle = rgb(C.text);
    line(ctx, [8, y], [30, y], rgb(C.truth), 3); ctx.fillText("ground truth", 36, y + 4);
    line(ctx, [8, y + 18], [30, y + 18], rgb(C.prediction), 2); ctx.fillText("prediction", 36, y + 22);
    for (let i = 0; i < 60; i++) {
      ctx.fillStyle = errorColour(i / 59 * D.errorLimitMm); ctx.fillRect(8 + i, y + 32, 1, 8);
    }
    ctx.fillStyle = rgb(C.text); ctx.fillText("joint error 0-" + D.errorLimitMm + " mm", 74, y + 40);
  }
  function draw2d(v, t, probe) {
    const ctx = v.ctx2, w = v.w, h = v.h2, m = D.margin, top = D.titleHeight;
    ctx.fillStyle = rgb(C.background); ctx.fillRect(0, 0, w, h);
    const s = Math.min((w - 2 * m) / v.width, (h - top - 2 * m) / v.height);
    const ox = (w - s * v.width) / 2, oy = top + (h - top - s * v.height) / 2;
    const out = v.outOfFrame[t] > 0;
    ctx.fillStyle = rgb(C.image); ctx.fillRect(ox, oy, s * v.width, s * v.height);
    ctx.strokeStyle = rgb(out ? C.outOfFrame : C.camera); ctx.lineWidth = out ? 3 : 1;
    ctx.strokeRect(ox, oy, s * v.width, s * v.height);
    function px(a, i) { return [ox + s * a[i], oy + s * a[i + 1]]; }
    const keypoints = [];
    for (let j = 0; j < J; j++) keypoints.push(px(v.keypoints, (t * J + j) * 2));
    skeleton(ctx, keypoints, v, rgb(C.truth), 2, null, 3);
    if (v.reprojection) {
      const again = [];
      for (let j = 0; j < J; j++) again.push(px(v.reprojection, (t * J + j) * 2));
      skeleton(ctx, again, v, rgb(C.prediction), 1.5, null, 2.5);
    }
    ctx.fillStyle = rgb(C.text); ctx.font = "12px sans-serif";
    const note = v.reprojection ? "; prediction reprojected" : "";
    ctx.fillText(D.keypointsName + ", " + v.width + " x " + v.height + " px" + note, 8, 14);
    if (out) { ctx.fillStyle = rgb(C.outOfFrame); ctx.fillText("out of frame", ox + 6, oy + 16); }
    probe.image = [ox, oy, s]; probe.joints2d = keypoints;
  }
  function drawTimeline() {
    const ctx = timeline.tctx, w = timeline.clientWidth, h = D.timelineHeight;
    ctx.fillStyle = rgb(C.image); ctx.fillRect(0, 0, w, h);
    const x = function (t) { return T > 1 ? t / (T - 1) * w : w / 2; };
    let top = 1;  // one MPJPE scale for every view's curve
    views.forEach(function (v) {
      if (v.frameMpjpe) for (let t = 0; t < v.frames; t++) top = Math.max(top, v.frameMpjpe[t]);
    });
    const rows = 4 * views.length, curve = h - rows - 6;
    views.forEach(function (v, i) {  // out-of-frame frames: one red row per view, first view lowest
      ctx.fillStyle = rgb(C.outOfFrame);
      for (let t = 0; t < v.frames; t++) {
        if (v.outOfFrame[t] > 0) ctx.fillRect(x(t), h - 4 * (i + 1), Math.max(1, w / T), 3);
      }
      if (!v.frameMpjpe) return;
      ctx.strokeStyle = rgb(C.prediction); ctx.lineWidth = 1; ctx.beginPath();
      for (let t = 0; t < v.frames; t++) ctx.lineTo(x(t), h - rows - 2 - curve * v.frameMpjpe[t] / top);
      ctx.stroke();
    });
    if (top > 1) {
      ctx.fillStyle = rgb(C.text); ctx.font = "11px sans-serif";
      ctx.fillText("MPJPE, max " + top.toFixed(0) + " mm", 4, 11);
    }
    line(ctx, [x(state.frame), 0], [x(state.frame), h], rgb(C.text), 2);
  }
  function draw() {
    const t = state.frame, panels = [];
    slider.value = t;
    views.forEach(function (v) {
      const f = Math.min(t, v.frames - 1), probe = { view: v.id, frame: f };
      draw3d(v, f, probe); draw2d(v, f, probe);
      const r3 = v.canvas3d.getBoundingClientRect(), r2 = v.canvas2d.getBoundingClientRect();
      const shift = function (points, r) { return points.map(function (p) { return [p[0] + r.left, p[1] + r.top]; }); };
      probe.joints3d = shift(probe.joints3d, r3); probe.joints2d = shift(probe.joints2d, r2);
      if (probe.prediction3d) probe.prediction3d = shift(probe.prediction3d, r3);
      probe.image = [probe.image[0] + r2.left, probe.image[1] + r2.top, probe.image[2]];
      probe.panel3d = [r3.left, r3.top, v.w, v.h3];
      panels.push(probe);
    });
    drawTimeline();
    const seconds = (t / first.fps).toFixed(2);
    document.getElementById("label").textContent = "frame " + t + " / " + (T - 1) + " (" + seconds + " s)";
    document.body.dataset.probe = JSON.stringify({ frame: t, panels: panels });
  }
  window.addEventListener("resize", layout);
  layout();
  if (state.playing) setPlaying(true);
})();
"""
