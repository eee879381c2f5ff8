//! Data channels: the events of each channel (opened, a message) forwarded
//! as [`PeerEvents`] until the channel closes.

use crate::native::media::backend::PeerEvents;
use std::sync::Arc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};

/// Forwards the events of `dc` (labelled `label`) until it closes.
pub(super) fn watch(events: &PeerEvents, label: String, dc: Arc<dyn DataChannel>) {
    let events = events.clone();
    tokio::spawn(async move {
        while let Some(ev) = dc.poll().await {
            match ev {
                DataChannelEvent::OnOpen => events.data_channel_open(label.clone()),
                DataChannelEvent::OnMessage(msg) => events.data(label.clone(), msg.data.to_vec()),
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
    });
}
