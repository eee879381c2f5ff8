//! The WebSocket transport (web-sys): text frames in and out, and the
//! close code the hub chose. Each socket's handlers are detached when it is
//! dropped, so a replaced socket can never feed the session.

use super::transport;
use crate::session::SdkError;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// What a socket reports.
pub(crate) enum SocketEvent {
    /// The handshake completed.
    Open,
    /// A text frame.
    Text(String),
    /// It closed (the code, when the close frame carried one).
    Closed(Option<u16>),
}

/// One browser WebSocket and its handlers.
pub(crate) struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url`; `on_event` hears everything this socket reports.
    pub(crate) fn open(
        url: &str,
        on_event: impl Fn(SocketEvent) + Clone + 'static,
    ) -> Result<Self, SdkError> {
        let ws = WebSocket::new(url).map_err(transport("WebSocket"))?;
        let f = on_event.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_| f(SocketEvent::Open));
        let f = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            // Binary frames are not part of the protocol: ignored.
            if let Some(text) = e.data().as_string() {
                f(SocketEvent::Text(text));
            }
        });
        let f = on_event;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            // 1005 (no status) and 1006 (dropped) are the browser's, not the hub's.
            let code = Some(e.code()).filter(|c| !matches!(c, 1005 | 1006));
            f(SocketEvent::Closed(code));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one text frame.
    pub(crate) fn send(&self, text: &str) -> Result<(), SdkError> {
        self.ws
            .send_with_str(text)
            .map_err(transport("WebSocket send"))
    }

    /// Closes with `code` (the session is over).
    pub(crate) fn close(self, code: u16) {
        if self.ws.close_with_code_and_reason(code, "").is_err() {
            let _ = self.ws.close();
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}
