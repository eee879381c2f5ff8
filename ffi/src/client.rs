//! The client object apps hold: one session in one visit. Its async
//! methods mirror `bedside_sdk::native::Client`'s; they run on the
//! library's runtime ([`crate::runtime`]), and events go to the app's
//! [`EventListener`] in order.

use crate::error::BedsideError;
use crate::events::{ClientEvent, EventListener};
use crate::media::{AppMedia, MediaFactory};
use crate::runtime;
use crate::tokens::{self, TokenSource};
use crate::types::{ClientConfig, Participant, Permission, TrackSource};
use bedside_protocol::ParticipantId;
use bedside_sdk::e2ee::{Identity, Pins};
use bedside_sdk::native;
use std::sync::Arc;
use zeroize::Zeroizing;

/// One participant's session in a visit.
#[derive(uniffi::Object)]
pub struct BedsideClient {
    inner: native::Client,
    identity: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for BedsideClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedsideClient").finish_non_exhaustive()
    }
}

fn id(s: &str) -> Result<ParticipantId, BedsideError> {
    ParticipantId::new(s).map_err(|e| BedsideError::InvalidArgument {
        reason: e.to_string(),
    })
}

impl BedsideClient {
    /// Runs `f` with the native client on the library's runtime.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T, BedsideError>
    where
        T: Send + 'static,
        F: FnOnce(native::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, bedside_sdk::session::SdkError>>
            + Send
            + 'static,
    {
        runtime::run(f(self.inner.clone()))
            .await?
            .map_err(Into::into)
    }
}

#[uniffi::export]
impl BedsideClient {
    /// Connects to the hub and joins with `token`. `tokens` gives fresh
    /// tokens for refresh and for a fresh join after a refused resume
    /// (without one the session ends at the token's expiry); `media` is the
    /// app's WebRTC (none: a chat-only client). Events go to `listener`.
    #[uniffi::constructor]
    pub async fn connect(
        config: ClientConfig,
        token: String,
        tokens: Option<Arc<dyn TokenSource>>,
        listener: Arc<dyn EventListener>,
        media: Option<Arc<dyn MediaFactory>>,
    ) -> Result<Arc<Self>, BedsideError> {
        let identity = match config.identity_secret.map(Zeroizing::new) {
            Some(bytes) => {
                let bytes: &[u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| BedsideError::InvalidArgument {
                            reason: "identity_secret must be 32 bytes".into(),
                        })?;
                Identity::from_secret_bytes(bytes)
            }
            None => Identity::generate(&mut rand_core::OsRng),
        };
        let pins = match config.pins_json.as_deref() {
            Some(json) => {
                serde_json::from_str::<Pins>(json).map_err(|_| BedsideError::InvalidArgument {
                    reason: "pins_json is not a set of pins".into(),
                })?
            }
            None => Pins::default(),
        };
        let secret = identity.to_secret_bytes();
        let mut cfg = native::ClientConfig::new(config.url, config.device);
        cfg.identity = Some(identity);
        cfg.pins = pins;
        cfg.media = media.map(|m| Arc::new(AppMedia(m)) as Arc<dyn native::media::MediaBackend>);
        let source = tokens.map(tokens::native);
        let (inner, mut events) =
            runtime::run(async move { native::Client::connect(cfg, token, source).await })
                .await??;
        runtime::spawn(async move {
            while let Some(e) = events.recv().await {
                if let Some(e) = ClientEvent::of(e) {
                    listener.on_event(e);
                }
            }
        })?;
        Ok(Arc::new(Self {
            inner,
            identity: secret,
        }))
    }

    /// Admits a waiting participant (provider).
    pub async fn admit(&self, participant: String) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.admit(&who).await }).await
    }

    /// Denies a waiting participant (provider).
    pub async fn deny(
        &self,
        participant: String,
        reason: Option<String>,
    ) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.deny(&who, reason).await })
            .await
    }

    /// Removes an admitted participant (provider).
    pub async fn remove(
        &self,
        participant: String,
        reason: Option<String>,
    ) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.remove(&who, reason).await })
            .await
    }

    /// Grants a permission (provider).
    pub async fn grant(
        &self,
        participant: String,
        permission: Permission,
    ) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.grant(&who, permission.into()).await })
            .await
    }

    /// Revokes a permission (provider); the hub withdraws what it covered.
    pub async fn revoke(
        &self,
        participant: String,
        permission: Permission,
    ) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.revoke(&who, permission.into()).await })
            .await
    }

    /// Asks the providers for screen sharing.
    pub async fn request_screen_share(&self) -> Result<(), BedsideError> {
        self.with(|c| async move { c.request_screen_share().await })
            .await
    }

    /// Announces a local track and adds it to every peer connection
    /// (`PeerConnectionAdapter::add_local_track` with a fresh id);
    /// returns the track id (use it as the track's id on the platform).
    pub async fn add_track(&self, source: TrackSource) -> Result<String, BedsideError> {
        self.with(|c| async move {
            c.add_track(source.into())
                .await
                .map(|t| t.track_id().to_owned())
        })
        .await
    }

    /// Withdraws a local track.
    pub async fn remove_track(&self, track_id: String) -> Result<(), BedsideError> {
        self.with(|c| async move { c.unpublish_track(&track_id).await })
            .await
    }

    /// Sends an end-to-end encrypted chat message to everyone admitted;
    /// returns its message id.
    pub async fn send_chat(&self, text: String) -> Result<String, BedsideError> {
        let text = Zeroizing::new(text);
        self.with(|c| async move { c.send_chat(&text).await }).await
    }

    /// The safety number shared with `participant`, to compare out of band.
    pub async fn safety_number(&self, participant: String) -> Result<Option<String>, BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move {
            c.safety_number(&who)
                .await
                .map(|n| n.map(|n| n.digits().to_owned()))
        })
        .await
    }

    /// Accepts a participant's changed identity key.
    pub async fn accept_identity(&self, participant: String) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.accept_identity(&who).await })
            .await
    }

    /// Marks a participant verified (safety numbers compared).
    pub async fn mark_verified(&self, participant: String) -> Result<(), BedsideError> {
        let who = id(&participant)?;
        self.with(|c| async move { c.mark_verified(&who).await })
            .await
    }

    /// The identity pins to keep for the next visit (JSON).
    pub async fn pins(&self) -> Result<String, BedsideError> {
        let pins = self.with(|c| async move { c.pins().await }).await?;
        serde_json::to_string(&pins).map_err(|e| BedsideError::Transport {
            reason: e.to_string(),
        })
    }

    /// This device's identity key (32 bytes): keep it in the platform's
    /// keystore and give it back in [`ClientConfig::identity_secret`].
    pub fn identity_secret(&self) -> Vec<u8> {
        self.identity.to_vec()
    }

    /// Participants present.
    pub async fn participants(&self) -> Result<Vec<Participant>, BedsideError> {
        let list = self.with(|c| async move { c.participants().await }).await?;
        Ok(list.iter().map(Participant::from).collect())
    }

    /// Opens a data channel to `peer` (opening the peer connection if
    /// needed); `ClientEvent::DataChannelOpen` follows.
    pub async fn open_data_channel(&self, peer: String, label: String) -> Result<(), BedsideError> {
        let who = id(&peer)?;
        self.with(|c| async move { c.open_data_channel(&who, &label).await })
            .await
    }

    /// Sends on an open data channel.
    pub async fn send_data(
        &self,
        peer: String,
        label: String,
        data: Vec<u8>,
    ) -> Result<(), BedsideError> {
        let who = id(&peer)?;
        self.with(|c| async move { c.send_data(&who, &label, data).await })
            .await
    }

    /// The network changed (Wi-Fi to cellular): restart ICE with everyone.
    pub async fn network_changed(&self) -> Result<(), BedsideError> {
        self.with(|c| async move { c.network_changed().await })
            .await
    }

    /// Leaves the visit and ends the session.
    pub async fn leave(&self) -> Result<(), BedsideError> {
        self.with(|c| async move { c.leave().await }).await
    }

    /// Ends the visit for everyone (provider).
    pub async fn end_visit(&self) -> Result<(), BedsideError> {
        self.with(|c| async move { c.end_visit().await }).await
    }
}
