// fastnn playground: the page. It keeps no model of its own: every setting goes to the
// server (POST /api/sessions/<id>/config), which answers with the new state, and the
// server streams a frame (output picture, neuron pictures, weights, losses) over a
// WebSocket while it trains. Pictures arrive as base64 bytes, one per grid cell, 0..255
// for values -1..1.
"use strict";

(() => {
  const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const REGULARIZATION_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const SPEEDS = [1, 2, 5, 10, 25, 100];
  const NAMES = {
    classification: "Classification", regression: "Regression",
    circle: "Circle", xor: "Exclusive or", gaussian: "Gaussian", spiral: "Spiral",
    plane: "Plane", multi_gaussian: "Multi Gaussian",
    relu: "ReLU", tanh: "Tanh", sigmoid: "Sigmoid", linear: "Linear",
    none: "None", l1: "L1", l2: "L2", sgd: "SGD", adam: "Adam",
    native: "native (C kernels)", numpy: "numpy (reference)",
  };
  const FEATURE_LABELS = {
    x1: "X\u2081", x2: "X\u2082", x1_squared: "X\u2081\u00B2", x2_squared: "X\u2082\u00B2",
    x1_times_x2: "X\u2081X\u2082", sin_x1: "sin(X\u2081)", sin_x2: "sin(X\u2082)",
  };
  const NODE = 36;      // a neuron's picture, px
  const ROW = 46;       // vertical distance between neurons
  const HEAD = 46;      // room above the columns for the layer buttons
  const MAX_CURVE = 2000;

  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token");

  // ---------------------------------------------------------------- colours
  // 256 colours for the byte values: orange (-1) through light grey (0) to blue (+1).
  const NEGATIVE = [245, 147, 34], ZERO = [232, 234, 235], POSITIVE = [8, 119, 189];
  const PALETTE = new Uint8ClampedArray(256 * 4);
  for (let q = 0; q < 256; q++) {
    const v = q / 127.5 - 1, end = v < 0 ? NEGATIVE : POSITIVE, t = Math.abs(v);
    for (let c = 0; c < 3; c++) PALETTE[4 * q + c] = ZERO[c] + (end[c] - ZERO[c]) * t;
    PALETTE[4 * q + 3] = 255;
  }
  // The big picture is paler, so that the points on it (in full colour) stand out.
  const PALE = PALETTE.map((value, i) => (i % 4 === 3 ? 255 : value + (255 - value) * 0.35));
  const level = (v) => Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5);
  const colour = (v) => {
    const q = 4 * level(v);
    return `rgb(${PALETTE[q]},${PALETTE[q + 1]},${PALETTE[q + 2]})`;
  };

  function bytes(base64) {
    const text = atob(base64), out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  // Paint n x n cells of `data` from `offset` into a canvas of n x n pixels.
  function paint(canvas, data, offset, n, discretize, palette = PALETTE) {
    if (canvas.width !== n) { canvas.width = n; canvas.height = n; }
    const context = canvas.getContext("2d"), image = context.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      let q = data[offset + i];
      if (discretize) q = q >= 128 ? 255 : 0;
      image.data.set(palette.subarray(4 * q, 4 * q + 4), 4 * i);
    }
    context.putImageData(image, 0, 0);
  }

  // ---------------------------------------------------------------- the server
  class ApiError extends Error {
    constructor(field, message) { super(`${field}: ${message}`); this.field = field; }
  }

  async function api(method, path, body) {
    const options = { method, headers: { "X-Fastnn-Token": token } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok) {
      const detail = type.includes("json") ? await response.json() : {};
      throw new ApiError(detail.field || response.status, detail.error || response.statusText);
    }
    if (response.status === 204) return null;
    return type.includes("json") ? response.json() : response.blob();
  }

  const page = {
    id: null, limits: null, state: null, config: null, frame: null, curve: [],
    playing: false, hover: null, nodes: null, stream: null,
  };
  window.fastnnPlayground = page;  // for the curious (and the browser tests)

  async function call(method, action, body) {
    try {
      return await api(method, `/api/sessions/${page.id}${action}`, body);
    } catch (error) {
      say(error.message, true);
      return null;
    }
  }

  async function change(values) {
    const state = await call("POST", "/config", values);
    if (state) showState(state); else syncControls();  // refused: show the settings in force
  }

  function openStream() {
    const url = `ws://${location.host}/api/sessions/${page.id}/stream?token=${encodeURIComponent(token)}`;
    const stream = new WebSocket(url);
    stream.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "state") showState(message);
      else if (message.type === "frame") showFrame(message);
      setPlaying(message.playing);
    };
    stream.onclose = () => {
      if (page.stream === stream) say("The server has stopped: run fastnn playground again", true);
    };
    page.stream = stream;
  }

  // ---------------------------------------------------------------- messages
  let messageTimer = null;
  function say(text, isError) {
    const box = $("message");
    box.textContent = text;
    box.classList.toggle("error", Boolean(isError));
    box.hidden = false;
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  // ---------------------------------------------------------------- controls
  function fillSelect(id, values, label) {
    const select = $(id);
    select.replaceChildren(...values.map((value) => {
      const option = document.createElement("option");
      option.value = String(value);
      option.textContent = label ? label(value) : String(value);
      return option;
    }));
  }

  function buildControls(limits) {
    fillSelect("learning_rate", LEARNING_RATES);
    fillSelect("regularization_rate", REGULARIZATION_RATES);
    fillSelect("activation", limits.activations, (v) => NAMES[v]);
    fillSelect("regularization", limits.regularizations, (v) => NAMES[v]);
    fillSelect("problem", Object.keys(limits.problems), (v) => NAMES[v]);
    fillSelect("optimizer", limits.optimizers, (v) => NAMES[v]);
    fillSelect("backend", limits.backends, (v) => NAMES[v]);
    fillSelect("epochs_per_frame", SPEEDS, (v) => `${v} epoch${v > 1 ? "s" : ""}/frame`);
    for (const id of ["learning_rate", "regularization_rate", "epochs_per_frame"]) {
      $(id).addEventListener("change", () => change({ [id]: Number($(id).value) }));
    }
    for (const id of ["activation", "regularization", "problem", "optimizer", "backend"]) {
      $(id).addEventListener("change", () => change({ [id]: $(id).value }));
    }
    const sliders = {
      train_ratio: [(v) => v / 100, (v) => `${v}%`],
      noise: [(v) => v / 100, (v) => String(v)],
      batch_size: [(v) => v, (v) => String(v)],
    };
    for (const [id, [value, text]] of Object.entries(sliders)) {
      const input = $(id);
      input.addEventListener("input", () => { $(`${id}-value`).textContent = text(Number(input.value)); });
      input.addEventListener("change", () => change({ [id]: value(Number(input.value)) }));
    }
    $("regenerate").addEventListener("click", () => change({ seed: page.config.seed + 1 }));
    $("add-layer").addEventListener("click", () => {
      const hidden = page.config.hidden;
      change({ hidden: [...hidden, hidden.length ? hidden[hidden.length - 1] : 2] });
    });
    $("remove-layer").addEventListener("click", () => change({ hidden: page.config.hidden.slice(0, -1) }));
    $("play").addEventListener("click", async () => {
      const answer = await call("POST", page.playing ? "/pause" : "/play", {});
      if (answer) setPlaying(answer.playing);
    });
    $("step").addEventListener("click", async () => {
      const frame = await call("POST", "/step", {});
      if (frame) { setPlaying(false); showFrame(frame); }
    });
    $("reset").addEventListener("click", async () => {
      const state = await call("POST", "/reset", {});
      if (state) showState(state);
    });
    $("show-test").addEventListener("change", drawPoints);
    $("discretize").addEventListener("change", () => page.frame && drawOutput(page.frame));
    $("show-code").addEventListener("click", showCode);
    $("save").addEventListener("click", saveModel);
    $("copy-code").addEventListener("click", () => navigator.clipboard.writeText($("code").textContent)
      .then(() => say("Copied"), () => say("Select the code and copy it", true)));
    $("close-code").addEventListener("click", () => $("code-dialog").close());
    window.addEventListener("resize", () => { if (page.state) { buildNetwork(); showFrame(page.frame); } });
  }

  function syncControls() {
    const config = page.config;
    for (const id of ["learning_rate", "regularization_rate", "epochs_per_frame"]) {
      $(id).value = String(config[id]);
    }
    for (const id of ["activation", "regularization", "problem", "optimizer", "backend"]) {
      $(id).value = config[id];
    }
    $("regularization_rate").disabled = config.regularization === "none";
    $("train_ratio").value = Math.round(config.train_ratio * 100);
    $("train_ratio-value").textContent = `${Math.round(config.train_ratio * 100)}%`;
    $("noise").value = Math.round(config.noise * 100);
    $("noise-value").textContent = String(Math.round(config.noise * 100));
    $("batch_size").value = config.batch_size;
    $("batch_size-value").textContent = String(config.batch_size);
    const sets = page.limits.problems[config.problem], box = $("datasets");
    if (box.dataset.problem !== config.problem) {  // new buttons only for a new problem
      box.dataset.problem = config.problem;
      box.replaceChildren(...sets.map((name) => {
        const button = document.createElement("button");
        button.className = "plain";
        button.id = `dataset-${name}`;
        button.textContent = NAMES[name];
        button.addEventListener("click", () => change({ dataset: name }));
        return button;
      }));
    }
    for (const button of box.children) {
      button.classList.toggle("selected", button.id === `dataset-${config.dataset}`);
    }
    const layers = config.hidden.length;
    $("layer-count").textContent = `${layers} hidden layer${layers === 1 ? "" : "s"}`;
    $("add-layer").disabled = layers >= page.limits.max_layers;
    $("remove-layer").disabled = layers === 0;
  }

  function setPlaying(playing) {
    if (playing === undefined) return;
    page.playing = playing;
    const button = $("play");
    button.classList.toggle("playing", playing);
    button.setAttribute("aria-label", playing ? "pause" : "play");
  }

  // ---------------------------------------------------------------- the network
  // Columns: the seven features, each hidden layer, the output. Each node is a small
  // canvas; an SVG behind them holds one path per connection.
  function buildNetwork() {
    const config = page.config, area = $("network");
    // the same shape at the same width: keep the nodes (and whatever the mouse is on)
    const shape = JSON.stringify([page.state.version, config.features, config.hidden, area.clientWidth]);
    if (shape === page.shape) return;
    page.shape = shape;
    const columns = [
      page.limits.features,
      ...config.hidden.map((units) => Array.from({ length: units }, (_, j) => j)),
      [0],
    ];
    const width = Math.max(area.clientWidth, 360), left = 60;
    const gap = (width - left - NODE) / (columns.length - 1);
    const x = (c) => left + c * gap;
    const tallest = Math.max(...columns.map((column) => column.length));
    const y = (c, j) => HEAD + (c === columns.length - 1 ? (tallest - 1) * ROW / 2 : j * ROW);
    area.style.height = `${HEAD + tallest * ROW}px`;
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(HEAD + tallest * ROW));
    const nodes = { features: {}, hidden: [], output: null, links: [] };
    const children = [svg];

    const node = (c, j, className) => {
      const box = document.createElement("div");
      box.className = `node ${className}`;
      box.style.left = `${x(c)}px`;
      box.style.top = `${y(c, j)}px`;
      box.style.width = box.style.height = `${NODE}px`;
      const canvas = document.createElement("canvas");
      box.append(canvas);
      children.push(box);
      return { box, canvas };
    };

    page.limits.features.forEach((name, j) => {
      const active = config.features.includes(name);
      const { box, canvas } = node(0, j, `feature${active ? "" : " inactive"}`);
      box.id = `feature-${name}`;
      box.title = active ? "used: click to leave it out" : "not used: click to use it";
      box.addEventListener("click", () => {
        const chosen = active ? config.features.filter((f) => f !== name) : [...config.features, name];
        if (chosen.length === 0) { say("The network needs at least one feature", true); return; }
        change({ features: chosen });
      });
      const label = document.createElement("div");
      label.className = "node-label";
      label.textContent = FEATURE_LABELS[name];
      label.style.left = `${x(0) - 62}px`;
      label.style.top = `${y(0, j) + NODE / 2 - 8}px`;
      children.push(label);
      nodes.features[name] = canvas;
    });

    config.hidden.forEach((units, layer) => {
      const c = layer + 1;
      nodes.hidden.push(Array.from({ length: units }, (_, j) => {
        const { box, canvas } = node(c, j, "neuron");
        box.addEventListener("mouseenter", () => { page.hover = [layer, j]; redraw(); });
        box.addEventListener("mouseleave", () => { page.hover = null; redraw(); });
        return canvas;
      }));
      const head = document.createElement("div");
      head.className = "layer-head";
      head.style.left = `${x(c) - 22}px`;
      head.style.top = "0px";
      head.style.width = `${NODE + 44}px`;
      const buttons = document.createElement("div");
      buttons.className = "buttons";
      const more = roundButton("+", `add a neuron to layer ${c}`, units >= page.limits.max_neurons,
        () => change({ hidden: config.hidden.map((u, i) => (i === layer ? u + 1 : u)) }));
      const fewer = roundButton("\u2212", `remove a neuron from layer ${c}`, units <= 1,
        () => change({ hidden: config.hidden.map((u, i) => (i === layer ? u - 1 : u)) }));
      more.id = `layer-${c}-more`;
      fewer.id = `layer-${c}-fewer`;
      buttons.append(more, fewer);
      const count = document.createElement("span");
      count.textContent = `${units} neuron${units === 1 ? "" : "s"}`;
      head.append(buttons, count);
      children.push(head);
    });
    nodes.output = node(columns.length - 1, 0, "output-node").canvas;

    // one path per weight: from every used feature (then neuron) to every next neuron
    const sources = [config.features.map((name) => page.limits.features.indexOf(name))];
    config.hidden.forEach((units) => sources.push(Array.from({ length: units }, (_, j) => j)));
    for (let layer = 0; layer < sources.length; layer++) {
      const targets = columns[layer + 1];
      nodes.links.push(sources[layer].map((row) => targets.map((j) => {
        const x0 = x(layer) + NODE, y0 = y(layer, row) + NODE / 2;
        const x1 = x(layer + 1), y1 = y(layer + 1, j) + NODE / 2, mid = (x0 + x1) / 2;
        const path = document.createElementNS(svgNS, "path");
        path.setAttribute("d", `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`);
        path.addEventListener("mouseenter", (event) => { page.tooltipLink = path; moveTooltip(event); });
        path.addEventListener("mousemove", moveTooltip);
        path.addEventListener("mouseleave", () => { page.tooltipLink = null; $("tooltip").hidden = true; });
        svg.append(path);
        return path;
      })));
    }
    area.replaceChildren(...children);
    page.nodes = nodes;
    for (const [name, canvas] of Object.entries(nodes.features)) {
      paint(canvas, bytes(page.state.feature_pictures[name]), 0, page.state.grids.neuron, false);
    }
  }

  function roundButton(text, title, disabled, onClick) {
    const button = document.createElement("button");
    button.className = "round small";
    button.textContent = text;
    button.title = title;
    button.setAttribute("aria-label", title);
    button.disabled = disabled;
    button.addEventListener("click", onClick);
    return button;
  }

  function moveTooltip(event) {
    const tip = $("tooltip");
    tip.style.left = `${event.clientX + 12}px`;
    tip.style.top = `${event.clientY + 12}px`;
    tip.textContent = `weight ${Number(page.tooltipLink.dataset.weight).toFixed(3)}`;
    tip.hidden = false;
  }

  // ---------------------------------------------------------------- drawing
  function showState(state) {
    if (page.state && state.version < page.state.version) return;  // an older answer
    page.state = state;
    page.config = state.config;
    page.curve = state.history.map(([epoch, train, test]) => [epoch, train, test]);
    syncControls();
    buildNetwork();
    drawPoints();
    page.frame = null;
    showFrame(state.frame);
    setPlaying(state.playing);
  }

  function showFrame(frame) {
    if (!frame || !page.state || frame.version !== page.state.version) return;
    const newer = !page.frame || frame.epoch !== page.frame.epoch;
    page.frame = frame;
    page.frame.outputBytes = bytes(frame.output);
    page.frame.neuronBytes = bytes(frame.neurons);
    $("epoch").textContent = epochText(frame.epoch);
    $("test-loss").textContent = lossText(frame.test_loss);
    $("train-loss").textContent = lossText(frame.train_loss);
    if (newer) addToCurve([frame.epoch, frame.train_loss, frame.test_loss]);
    drawCurve();
    redraw();
    if (frame.diverged) say(frame.diverged, true);
  }

  function redraw() {
    const frame = page.frame, nodes = page.nodes;
    if (!frame || !nodes) return;
    const n = page.state.grids.neuron, cells = n * n;
    let offset = 0;
    nodes.hidden.forEach((layer) => layer.forEach((canvas) => {
      paint(canvas, frame.neuronBytes, offset, n, false);
      offset += cells;
    }));
    drawOutput(frame);
    nodes.links.forEach((rows, layer) => rows.forEach((paths, i) => paths.forEach((path, j) => {
      const w = frame.weights[layer][i][j];
      path.setAttribute("stroke", colour(w));
      path.setAttribute("stroke-width", String(1 + 9 * Math.min(Math.abs(w), 5) / 5));
      path.dataset.weight = String(w);
    })));
  }

  const outputImage = document.createElement("canvas");
  const neuronImage = document.createElement("canvas");

  function drawOutput(frame) {
    const canvas = $("boundary"), context = canvas.getContext("2d");
    const discretize = $("discretize").checked;
    let source = outputImage;
    paint(outputImage, frame.outputBytes, 0, page.state.grids.output, discretize, PALE);
    if (page.hover) {  // a hovered neuron's own picture instead of the output
      const [layer, j] = page.hover, n = page.state.grids.neuron;
      const before = page.config.hidden.slice(0, layer).reduce((a, b) => a + b, 0) + j;
      paint(neuronImage, frame.neuronBytes, before * n * n, n, discretize, PALE);
      source = neuronImage;
    }
    context.imageSmoothingEnabled = true;
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    const small = page.nodes.output, smallContext = small.getContext("2d");
    small.width = small.height = NODE;
    smallContext.drawImage(outputImage, 0, 0, NODE, NODE);
    canvas.dataset.draws = String(Number(canvas.dataset.draws) + 1);
  }

  function drawPoints() {
    const canvas = $("points"), context = canvas.getContext("2d"), state = page.state;
    const size = canvas.width, domain = state.domain;
    const px = (v) => ((v + domain) / (2 * domain)) * size;
    const py = (v) => ((domain - v) / (2 * domain)) * size;
    const regression = page.config.problem === "regression";
    context.clearRect(0, 0, size, size);
    const sets = [[state.train, "#fff"]];
    if ($("show-test").checked) sets.push([state.test, "#000"]);
    for (const [points, stroke] of sets) {
      for (const [x1, x2, target] of points) {
        context.beginPath();
        context.arc(px(x1), py(x2), 3, 0, 2 * Math.PI);
        context.fillStyle = colour(regression ? target : 2 * target - 1);
        context.fill();
        context.strokeStyle = stroke;
        context.lineWidth = 1;
        context.stroke();
      }
    }
  }

  function addToCurve(point) {
    page.curve.push(point);
    if (page.curve.length > MAX_CURVE) page.curve = page.curve.filter((_, i) => i % 2 === 0);
  }

  function drawCurve() {
    const canvas = $("curve"), context = canvas.getContext("2d");
    const { width, height } = canvas, points = page.curve;
    context.clearRect(0, 0, width, height);
    const values = points.flatMap(([, train, test]) => [train, test]).filter((v) => v !== null);
    if (points.length < 2 || values.length === 0) return;
    const top = Math.max(...values) || 1;
    const first = points[0][0], last = points[points.length - 1][0] || 1;
    const px = (epoch) => ((epoch - first) / Math.max(last - first, 1)) * (width - 2) + 1;
    const py = (v) => height - 2 - (Math.min(v, top) / top) * (height - 4);
    for (const [index, ink] of [[1, "#999"], [2, "#000"]]) {
      context.beginPath();
      let started = false;
      for (const point of points) {
        if (point[index] === null) continue;
        if (started) context.lineTo(px(point[0]), py(point[index]));
        else context.moveTo(px(point[0]), py(point[index]));
        started = true;
      }
      context.strokeStyle = ink;
      context.lineWidth = 1.5;
      context.stroke();
    }
  }

  const epochText = (epoch) => {
    const digits = String(epoch).padStart(6, "0");
    return `${digits.slice(0, -3)},${digits.slice(-3)}`;
  };
  const lossText = (loss) => (loss === null ? "diverged" : loss.toFixed(3));

  // ---------------------------------------------------------------- taking it away
  async function showCode() {
    const answer = await call("GET", "/code");
    if (!answer) return;
    $("code").textContent = answer.code;
    $("code-dialog").showModal();
  }

  async function saveModel() {
    const blob = await call("GET", "/model");
    if (!blob) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "playground.fnn";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    say("Saved playground.fnn: fn.load_model(\"playground.fnn\") reads it");
  }

  // ---------------------------------------------------------------- start
  async function start() {
    if (!token) {
      say("Open the URL that `fastnn playground` printed: it carries the server's token", true);
      return;
    }
    try {
      const created = await api("POST", "/api/sessions", {});
      page.id = created.id;
      page.limits = created.limits;
      buildControls(created.limits);
      showState(created.state);
      openStream();
    } catch (error) {
      say(`Could not start: ${error.message}`, true);
    }
  }

  start();
})();
