// The playground page: reads the controls, drives the engine (pkg/, built from this
// crate by build.sh) and draws what it reports. `?test` runs the self-test the browser
// test reads; `?cpu` trains on the CPU backend even where WebGPU is offered; `?play`
// starts training at once.
import init, { open } from './pkg/backprop_playground.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const STEPS_PER_FRAME = 10;
const GRAPH_EVERY_MS = 1500;
const BLUE = [31, 111, 178], ORANGE = [224, 123, 26];

let engine = null;
let points = null;
let history = [];
let playing = false;
let busy = false;
let graphDrawnAt = 0;
let wantGpu = false;
let deviceLost = false;

function setup() {
  const checked = [...document.querySelectorAll('#features input:checked')].map((i) => i.value);
  const hidden = $('hidden').value.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  return {
    dataset: $('dataset').value, noise: +$('noise').value, trainShare: +$('trainShare').value,
    seed: +$('seed').value, features: checked, hidden, activation: $('activation').value,
    optimizer: $('optimizer').value, lr: +$('lr').value, batch: +$('batch').value, l2: +$('l2').value,
  };
}

function showError(message) {
  const text = String(message);
  if (text.includes('device was lost')) {
    deviceLost = true;
    $('error').textContent = `${text} Press Reset to open the device again.`;
  } else {
    $('error').textContent = text;
  }
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
}

function setPlaying(on) {
  playing = on;
  $('play').textContent = on ? 'Pause' : 'Play';
  if (on) requestAnimationFrame(frame);
}

// A new run from the controls; the first look at it is drawn at once.
async function reset() {
  setPlaying(false);
  clearError();
  history = [];
  graphDrawnAt = 0;
  try {
    if (deviceLost) {
      engine = await openDevice();
      deviceLost = false;
    }
    points = JSON.parse(engine.configure(JSON.stringify(setup())));
    await look(true);
  } catch (e) {
    showError(e);
  }
}

// Reads what the engine reports and draws it; errors stop training and are shown.
async function look(withGraph) {
  busy = true;
  try {
    const o = JSON.parse(await engine.observe());
    history.push([o.steps, o.trainLoss, o.testLoss]);
    draw(o);
    if (withGraph || performance.now() - graphDrawnAt > GRAPH_EVERY_MS) {
      $('graph').innerHTML = engine.graph_svg();
      graphDrawnAt = performance.now();
    }
    return o;
  } catch (e) {
    setPlaying(false);
    showError(e);
    return null;
  } finally {
    busy = false;
  }
}

async function frame() {
  if (!playing) return;
  if (!busy) {
    try {
      engine.train(STEPS_PER_FRAME);
      await look(false);
    } catch (e) {
      setPlaying(false);
      showError(e);
    }
  }
  if (playing) requestAnimationFrame(frame);
}

async function step() {
  if (busy) return;
  setPlaying(false);
  try {
    engine.train(1);
    await look(true);
  } catch (e) {
    showError(e);
  }
}

function download() {
  try {
    const blob = new Blob([engine.safetensors()], { type: 'application/octet-stream' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'playground.safetensors';
    a.click();
    URL.revokeObjectURL(a.href);
  } catch (e) {
    showError(e);
  }
}

// ---- drawing -------------------------------------------------------------------------

function mix(p) {
  // p = 0 → orange, 1 → blue, ½ → white.
  const [c, t] = p < 0.5 ? [ORANGE, 1 - 2 * p] : [BLUE, 2 * p - 1];
  return c.map((v) => Math.round(255 + (v - 255) * t * 0.75));
}

function draw(o) {
  $('status').textContent = `Step ${o.steps}: train loss ${o.trainLoss.toFixed(4)} (accuracy ${(100 * o.trainAccuracy).toFixed(1)}%), `
    + `test loss ${o.testLoss.toFixed(4)} (accuracy ${(100 * o.testAccuracy).toFixed(1)}%)`;
  drawRegions(o);
  drawLosses();
  drawNetwork(o);
  drawGradients(o);
}

function drawRegions(o) {
  const canvas = $('regions'), ctx = canvas.getContext('2d');
  const n = o.resolution, image = ctx.createImageData(n, n);
  o.grid.forEach((p, i) => {
    const [r, g, b] = mix(p);
    image.data.set([r, g, b, 255], 4 * i);
  });
  const small = new OffscreenCanvas(n, n);
  small.getContext('2d').putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  const scale = canvas.width / 12;
  const dot = (x, y, label, filled) => {
    ctx.beginPath();
    ctx.arc((x + 6) * scale, (6 - y) * scale, 3.2, 0, 2 * Math.PI);
    const colour = `rgb(${(label > 0.5 ? BLUE : ORANGE).join(',')})`;
    if (filled) {
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.strokeStyle = '#fff';
    } else {
      ctx.strokeStyle = colour;
    }
    ctx.lineWidth = filled ? 1 : 2;
    ctx.stroke();
  };
  for (const [set, filled] of [[points.train, true], [points.test, false]]) {
    set.label.forEach((label, i) => dot(set.xy[2 * i], set.xy[2 * i + 1], label, filled));
  }
}

function drawLosses() {
  const canvas = $('losses'), ctx = canvas.getContext('2d');
  const { width, height } = canvas, pad = 24;
  ctx.clearRect(0, 0, width, height);
  const top = Math.max(0.1, ...history.map((h) => Math.max(h[1], h[2])));
  const last = Math.max(1, history[history.length - 1][0]);
  ctx.fillStyle = '#555';
  ctx.font = '11px system-ui';
  ctx.fillText(top.toFixed(2), 2, 12);
  ctx.fillText('0', 2, height - pad + 4);
  ctx.fillText(`${last} steps`, width - 60, height - 6);
  for (const [column, colour] of [[1, '#222'], [2, '#999']]) {
    ctx.beginPath();
    history.forEach((h, i) => {
      const x = pad + (width - 2 * pad) * (h[0] / last), y = (height - pad) - (height - 2 * pad) * (h[column] / top);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
}

function drawNetwork(o) {
  const canvas = $('network'), ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const sizes = [o.layers[0].shape[1], ...o.layers.map((l) => l.shape[0])];
  const x = (layer) => 40 + (width - 80) * layer / (sizes.length - 1);
  const y = (layer, i) => height / 2 + (i - (sizes[layer] - 1) / 2) * Math.min(28, (height - 30) / sizes[layer]);
  const biggest = Math.max(1e-6, ...o.layers.flatMap((l) => l.weight.map(Math.abs)));
  o.layers.forEach((layer, l) => {
    const [outs, ins] = layer.shape;
    for (let j = 0; j < outs; j++) {
      for (let i = 0; i < ins; i++) {
        const w = layer.weight[j * ins + i];
        ctx.beginPath();
        ctx.moveTo(x(l), y(l, i));
        ctx.lineTo(x(l + 1), y(l + 1, j));
        ctx.strokeStyle = `rgba(${(w > 0 ? BLUE : ORANGE).join(',')},${0.25 + 0.75 * Math.abs(w) / biggest})`;
        ctx.lineWidth = 0.5 + 4 * Math.abs(w) / biggest;
        ctx.stroke();
      }
    }
  });
  const names = [...document.querySelectorAll('#features input:checked')].map((i) => i.parentElement.textContent.trim());
  ctx.font = '11px system-ui';
  sizes.forEach((size, l) => {
    for (let i = 0; i < size; i++) {
      ctx.beginPath();
      ctx.arc(x(l), y(l, i), 6, 0, 2 * Math.PI);
      ctx.fillStyle = '#fff';
      ctx.fill();
      ctx.strokeStyle = '#444';
      ctx.lineWidth = 1;
      ctx.stroke();
      if (l === 0 && names[i]) {
        ctx.fillStyle = '#333';
        ctx.fillText(names[i], 0, y(l, i) + 4);
      }
    }
  });
}

function drawGradients(o) {
  const canvas = $('gradients'), ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const logs = o.gradientMeans.map((g) => Math.log10(Math.max(g, 1e-12)));
  const low = Math.min(-6, ...logs), high = Math.max(0, ...logs);
  const bar = (height - 10) / Math.max(1, logs.length);
  ctx.font = '11px system-ui';
  logs.forEach((v, i) => {
    const length = (width - 170) * (v - low) / (high - low);
    ctx.fillStyle = '#1f6fb2';
    ctx.fillRect(70, 5 + i * bar, Math.max(1, length), bar - 4);
    ctx.fillStyle = '#333';
    ctx.fillText(`layer ${i + 1}`, 4, 5 + i * bar + bar / 2 + 3);
    ctx.fillText(o.gradientMeans[i].toExponential(2), 76 + Math.max(1, length), 5 + i * bar + bar / 2 + 3);
  });
}

// ---- the self-test the browser test reads ----------------------------------------------

function base64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function selfTest() {
  const result = { device: engine.device_line(), gpu: engine.on_gpu(), webgpu: !!navigator.gpu };
  try {
    let start = performance.now();
    const epochs = +(query.get('epochs') || 10000);
    result.xor = { epochs, predictions: JSON.parse(await engine.xor_predictions(epochs)) };
    result.xor.seconds = (performance.now() - start) / 1000;
    start = performance.now();
    const spiral = { dataset: 'spiral', seed: 1 };
    const data = JSON.parse(engine.configure(JSON.stringify(spiral)));
    const steps = +(query.get('steps') || 3000);
    for (let done = 0; done < steps; done += 500) {
      engine.train(Math.min(500, steps - done));
      await engine.observe();
    }
    const o = JSON.parse(await engine.observe());
    result.spiral = {
      steps: o.steps, trainAccuracy: o.trainAccuracy, testAccuracy: o.testAccuracy,
      seconds: (performance.now() - start) / 1000,
      test: { xy: data.test.xy, label: data.test.label, probabilities: o.testProbabilities },
      safetensors: base64(engine.safetensors()),
      graphSvgBytes: engine.graph_svg().length,
    };
    // A run that diverges is an error in words, and the next run trains as before.
    engine.configure(JSON.stringify({ dataset: 'circle', optimizer: 'sgd', lr: 10, features: ['x2', 'y2', 'xy'], activation: 'linear' }));
    engine.train(200);
    result.diverged = await engine.observe().then(() => 'no error', (e) => String(e));
    engine.configure(JSON.stringify({ dataset: 'gaussians' }));
    engine.train(20);
    result.afterDivergence = JSON.parse(await engine.observe()).testAccuracy;
    if (engine.on_gpu()) {
      engine.lose_device();
      result.lostDevice = await (async () => engine.train(1))().then(() => engine.observe())
        .then(() => 'no error', (e) => String(e));
    }
  } catch (e) {
    result.error = String(e);
  }
  $('test-result').textContent = JSON.stringify(result);
  $('test-result').hidden = false;
  return result;
}

// The adapter's vendor and architecture as WebGPU reports them (e.g. "google swiftshader").
async function adapterName() {
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    const info = adapter && adapter.info;
    const name = info && (info.description || [info.vendor, info.architecture].filter((s) => s).join(' '));
    return name || 'the browser\'s adapter';
  } catch (e) {
    return 'the browser\'s adapter';
  }
}

async function openDevice() {
  const opened = await open(wantGpu, wantGpu ? await adapterName() : '');
  $('device').textContent = `Training on ${opened.device_line()}`;
  if (!navigator.gpu) $('device').textContent += ' (this browser has no WebGPU)';
  return opened;
}

// For the browser test: the engine in use (to lose its device on purpose).
window.playgroundEngine = () => engine;

// ---- start -----------------------------------------------------------------------------

async function main() {
  for (const output of document.querySelectorAll('output')) {
    const input = $(output.htmlFor.value);
    const show = () => { output.value = input.value; };
    input.addEventListener('input', show);
    show();
  }
  try {
    await init();
  } catch (e) {
    $('device').textContent = 'The engine did not load.';
    showError(`Could not load the WebAssembly module (${e}). Build it with web/build.sh and serve this folder over HTTP.`);
    return;
  }
  wantGpu = !!navigator.gpu && !query.has('cpu');
  engine = await openDevice();
  if (query.has('test')) {
    return selfTest();
  }
  $('play').onclick = () => setPlaying(!playing);
  $('step').onclick = step;
  $('reset').onclick = reset;
  $('download').onclick = download;
  for (const control of document.querySelectorAll('#controls select, #controls input')) {
    control.addEventListener('change', reset);
  }
  await reset();
  if (query.has('play')) setPlaying(true);
}

// The browser test awaits this: the self-test's result under `?test`.
window.playground = main();
