//! One re-armable timer over the global `setTimeout` (window, worker or
//! node), looked up at run time so no binding is generated here.

use js_sys::{Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// Fires its callback once per [`Timer::arm`]; re-arming replaces the
/// previous deadline. Dropping it cancels.
pub(crate) struct Timer {
    callback: Closure<dyn FnMut()>,
    handle: Option<JsValue>,
    at_ms: Option<u64>,
}

fn global_fn(name: &str) -> Option<Function> {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

impl Timer {
    /// A timer, not armed, that runs `callback` when it fires.
    pub(crate) fn new(callback: impl FnMut() + 'static) -> Self {
        Self {
            callback: Closure::new(callback),
            handle: None,
            at_ms: None,
        }
    }

    /// Wakes at `at_ms` (Unix ms), or never for `None`. Keeps a timer that
    /// is already set for the same time.
    pub(crate) fn arm(&mut self, now_ms: u64, at_ms: Option<u64>) {
        if at_ms == self.at_ms && self.handle.is_some() {
            return;
        }
        self.cancel();
        let Some(at) = at_ms else {
            return;
        };
        let Some(set) = global_fn("setTimeout") else {
            return;
        };
        // Browsers clamp longer delays to 1 ms (a signed 32-bit field).
        let delay = at.saturating_sub(now_ms).min(i32::MAX as u64) as f64;
        if let Ok(h) = set.call2(
            &JsValue::NULL,
            self.callback.as_ref(),
            &JsValue::from_f64(delay),
        ) {
            self.handle = Some(h);
            self.at_ms = Some(at);
        }
    }

    /// The callback ran: the timer is no longer set.
    pub(crate) fn fired(&mut self) {
        self.handle = None;
        self.at_ms = None;
    }

    fn cancel(&mut self) {
        if let (Some(h), Some(clear)) = (self.handle.take(), global_fn("clearTimeout")) {
            let _ = clear.call1(&JsValue::NULL, &h);
        }
        self.at_ms = None;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.cancel();
    }
}
