//! Data channels: the events of each channel (opened, a message) forwarded
//! to the client task as inputs until the channel closes.

use super::{Media, MediaInput};
use bedside_protocol::ParticipantId;
use std::sync::Arc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};

impl Media {
    /// Forwards the events of `dc` (to `peer`, labelled `label`) as inputs
    /// until it closes.
    pub(super) fn watch_channel(
        &self,
        peer: &ParticipantId,
        label: String,
        dc: Arc<dyn DataChannel>,
    ) {
        let tx = self.tx.clone();
        let peer = peer.clone();
        tokio::spawn(async move {
            while let Some(ev) = dc.poll().await {
                let sent = match ev {
                    DataChannelEvent::OnOpen => {
                        tx.send(MediaInput::ChannelOpen(peer.clone(), label.clone()))
                    }
                    DataChannelEvent::OnMessage(msg) => tx.send(MediaInput::ChannelData(
                        peer.clone(),
                        label.clone(),
                        msg.data.to_vec(),
                    )),
                    DataChannelEvent::OnClose => break,
                    _ => Ok(()),
                };
                if sent.is_err() {
                    break;
                }
            }
        });
    }
}
