//! The playground page's engine: backprop compiled to WebAssembly, training small
//! networks on the browser's WebGPU (or the CPU backend where the browser has none) and
//! handing the page what it draws. `web/main.js` drives it; `web/build.sh` builds it.
//!
//! The training core ([`trainer`], [`data`], [`config`]) is plain Rust and runs natively
//! too; the bindings below only convert to and from JavaScript values.

pub mod config;
pub mod data;
pub mod trainer;
pub mod xor;

use std::cell::RefCell;
use std::rc::Rc;

use backprop::Device;
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::config::Config;
use crate::trainer::{Observation, Trainer};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn web_log(message: &str);
}

fn js(msg: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&msg.to_string())
}

/// The device the page trains on and the run in progress.
#[wasm_bindgen]
pub struct Playground {
    device: Device,
    line: String,
    run: Rc<RefCell<Option<Trainer>>>,
}

/// Opens the browser's WebGPU adapter when `gpu` is true and the browser offers one,
/// else the CPU backend; the page shows [`Playground::device_line`].
#[wasm_bindgen]
/// `adapter` names the adapter in the device line (browsers leave wgpu's name empty; the
/// page asks WebGPU for its vendor and architecture).
pub async fn open(gpu: bool, adapter: String) -> Playground {
    let (device, line) = match gpu {
        true => match Device::gpu_async().await {
            Ok(device) => (device, format!("WebGPU: {adapter}")),
            // The error's details go to the console; the page says what happened.
            Err(e) => {
                web_log(&format!("no WebGPU device: {e}"));
                (Device::Cpu, "CPU (WebAssembly): the browser offers no WebGPU adapter".to_owned())
            }
        },
        false => (Device::Cpu, "CPU (WebAssembly)".to_owned()),
    };
    Playground { device, line, run: Rc::new(RefCell::new(None)) }
}

#[wasm_bindgen]
impl Playground {
    /// Which device trains, in words: the WebGPU adapter's name or "CPU (WebAssembly)".
    pub fn device_line(&self) -> String {
        self.line.clone()
    }

    /// Whether training runs on the GPU.
    pub fn on_gpu(&self) -> bool {
        matches!(self.device, Device::Gpu(_))
    }

    /// Starts a new run from the page's setup (JSON); returns the data as
    /// `{train: {xy, label}, test: {xy, label}}`.
    pub fn configure(&self, setup: &str) -> Result<JsValue, JsValue> {
        let config = Config::from_json(setup).map_err(js)?;
        let trainer = Trainer::new(&self.device, config).map_err(js)?;
        let points = |p: &data::Points| json!({"xy": p.xy, "label": p.label});
        let shown = json!({"train": points(&trainer.train), "test": points(&trainer.test)});
        *self.run.borrow_mut() = Some(trainer);
        Ok(JsValue::from_str(&shown.to_string()))
    }

    /// Queues `steps` training steps (nothing waits for them on the GPU).
    pub fn train(&self, steps: u32) -> Result<(), JsValue> {
        let mut run = self.run.try_borrow_mut().map_err(|_| js("busy reading the last step"))?;
        run.as_mut().ok_or_else(|| js("no run: configure first"))?.train(steps as usize).map_err(js)
    }

    /// Reads what the page draws (losses, accuracies, decision regions, weights,
    /// gradient sizes) as JSON, once the device has it.
    pub fn observe(&self) -> js_sys::Promise {
        let run = self.run.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let pending = {
                let mut run = run.try_borrow_mut().map_err(|_| js("busy reading the last step"))?;
                run.as_mut().ok_or_else(|| js("no run: configure first"))?.observe().map_err(js)?
            };
            // The run is not borrowed while the device works: the page stays responsive.
            let (observation, values) = pending.finish().await.map_err(js)?;
            if let Some(trainer) = run.borrow_mut().as_mut() {
                trainer.remember(values);
            }
            Ok(JsValue::from_str(&observation_json(&observation)))
        })
    }

    /// The training step's computational graph as SVG, with the values last read.
    pub fn graph_svg(&self) -> Result<String, JsValue> {
        let run = self.run.try_borrow().map_err(|_| js("busy reading the last step"))?;
        run.as_ref().ok_or_else(|| js("no run: configure first"))?.graph_svg().map_err(js)
    }

    /// The parameters last read, as safetensors bytes PyTorch loads.
    pub fn safetensors(&self) -> Result<Vec<u8>, JsValue> {
        let run = self.run.try_borrow().map_err(|_| js("busy reading the last step"))?;
        run.as_ref().ok_or_else(|| js("no run: configure first"))?.safetensors().map_err(js)
    }

    /// Destroys the GPU device, as a driver reset or the browser would: the page's test
    /// of what a lost device shows.
    pub fn lose_device(&self) {
        if let Device::Gpu(ctx) = &self.device {
            ctx.destroy();
        }
    }

    /// Trains the native `xor` example's network (seed 42, SGD 0.1, `epochs` steps over
    /// the four samples) on this device and returns its four predictions: the page's
    /// self-test compares them with the native example's.
    pub fn xor_predictions(&self, epochs: u32) -> js_sys::Promise {
        let device = self.device.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let p = xor::train_and_predict(&device, epochs as usize).await.map_err(js)?;
            Ok(JsValue::from_str(&json!(p).to_string()))
        })
    }
}

fn observation_json(o: &Observation) -> String {
    let layers: Vec<_> = o.layers.iter().map(|(shape, w, b)| json!({"shape": shape, "weight": w, "bias": b})).collect();
    json!({
        "steps": o.steps,
        "trainLoss": o.train_loss,
        "testLoss": o.test_loss,
        "trainAccuracy": o.train_accuracy,
        "testAccuracy": o.test_accuracy,
        "resolution": trainer::RESOLUTION,
        "grid": o.grid,
        "testProbabilities": o.test_probabilities,
        "layers": layers,
        "gradientMeans": o.gradient_means,
    })
    .to_string()
}
