// Type declarations of @bedside/sdk (see index.js).

export type Role = "provider" | "patient" | "guest";
export type Permission = "screen_share" | "admit";
export type TrackSource = "camera" | "microphone" | "screen";
export type Quality = "excellent" | "good" | "fair" | "poor" | "lost";
export type PeerConnectionState =
  "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";
export type LeftReason = "leave" | "closed" | "denied" | "removed" | "expired";
export type EndReason = "left" | "visit_ended" | "denied" | "replaced" | "idle" | "unauthorized";

export interface LocalParticipant {
  id: string;
  name: string;
  role: Role;
  perms: Permission[];
}

export interface Participant extends LocalParticipant {
  tracks: { trackId: string; source: TrackSource }[];
}

export interface WaitingEntry {
  id: string;
  name: string;
  role: Role;
}

/** An SDK error: `code` is a PROTOCOL.md error code or one of the SDK's own. */
export interface BedsideError extends Error {
  name: "BedsideError";
  code:
    | "not_connected"
    | "not_admitted"
    | "not_permitted"
    | "invalid_id"
    | "ended"
    | "token"
    | "transport"
    | "protocol"
    | "e2ee"
    | string;
  /** For `invalid_sdp`: the rule. */
  rule?: string;
}

export interface RoomEvents {
  connectionStateChanged: {
    type: "connectionStateChanged";
    state: "connecting" | "connected" | "reconnecting" | "closed";
    attempt?: number;
    retryInMs?: number;
  };
  welcome: {
    type: "welcome";
    participant: LocalParticipant;
    state: "waiting" | "admitted";
  };
  waiting: { type: "waiting" };
  admitted: { type: "admitted"; participants: Participant[] };
  lobbyChanged: { type: "lobbyChanged"; waiting: WaitingEntry[] };
  /** While waiting: the providers present now (on arrival and on every change). */
  presenceChanged: { type: "presenceChanged"; providers: { id: string; name: string }[] };
  participantJoined: { type: "participantJoined"; participant: Participant };
  participantLeft: {
    type: "participantLeft";
    participant: string;
    reason: LeftReason;
  };
  permissionsChanged: {
    type: "permissionsChanged";
    participant: string;
    perms: Permission[];
  };
  permissionRequested: {
    type: "permissionRequested";
    participant: string;
    permission: Permission;
  };
  trackPublished: {
    type: "trackPublished";
    participant: string;
    trackId: string;
    source: TrackSource;
  };
  trackUnpublished: {
    type: "trackUnpublished";
    participant: string;
    trackId: string;
  };
  trackSubscribed: {
    type: "trackSubscribed";
    participant: string;
    trackId: string;
    source: TrackSource;
    track: MediaStreamTrack;
  };
  trackUnsubscribed: {
    type: "trackUnsubscribed";
    participant: string;
    trackId: string;
  };
  /** Media arrived for a track nobody announced: not rendered. */
  trackRefused: { type: "trackRefused"; participant: string; trackId: string };
  /** The hub withdrew a track this device sent (a revoke): it was stopped. */
  localTrackStopped: {
    type: "localTrackStopped";
    source: TrackSource;
    track: MediaStreamTrack;
  };
  chatReceived: {
    type: "chatReceived";
    from: string;
    messageId: string;
    text: string;
    verified: boolean;
    rosterAgrees: boolean;
  };
  /** The hub stored a message this device sent: everyone admitted gets it once. */
  chatAcknowledged: { type: "chatAcknowledged"; messageId: string };
  identityChanged: {
    type: "identityChanged";
    participant: string;
    safetyNumber: string;
  };
  peerConnectionStateChanged: {
    type: "peerConnectionStateChanged";
    participant: string;
    state: PeerConnectionState;
  };
  connectionQualityChanged: {
    type: "connectionQualityChanged";
    participant: string;
    quality: Quality;
    rttMs: number | null;
    loss: number;
    jitterMs: number | null;
  };
  error: { type: "error"; error: BedsideError };
  ended: { type: "ended"; reason: EndReason; message?: string | null };
}

export interface ConnectOptions {
  /** `ws://` or `wss://` URL of the hub's `/v1/signal`. */
  url: string;
  /** The join token from the clinic's backend. */
  token: string;
  /** Fresh tokens for refresh and for re-joining after a refused resume. */
  tokenSource?: (purpose: "join" | "refresh") => Promise<string>;
  /** Peer connections for audio and video (default true; false: chat only). */
  media?: boolean;
  /** STUN/TURN servers besides the hub's. */
  iceServers?: { urls: string[]; username?: string; credential?: string }[];
  /** This browser's device (default: `openDevice()`); null: an ephemeral identity. */
  device?: Device | null;
}

export class Room {
  on<E extends keyof RoomEvents>(type: E, handler: (event: RoomEvents[E]) => void): this;
  off<E extends keyof RoomEvents>(type: E, handler: (event: RoomEvents[E]) => void): this;
  once<E extends keyof RoomEvents>(type: E): Promise<RoomEvents[E]>;
  readonly localParticipant: LocalParticipant | undefined;
  readonly state: "waiting" | "admitted" | undefined;
  readonly endReason: RoomEvents["ended"] | undefined;
  readonly participants: Participant[];
  connect(options: ConnectOptions): Promise<void>;
  admit(participant: string): Promise<void>;
  deny(participant: string, reason?: string): Promise<void>;
  remove(participant: string, reason?: string): Promise<void>;
  grant(participant: string, permission: Permission): Promise<void>;
  revoke(participant: string, permission: Permission): Promise<void>;
  requestScreenShare(): Promise<void>;
  publishTrack(track: MediaStreamTrack, source: TrackSource): Promise<void>;
  unpublishTrack(track: MediaStreamTrack): Promise<boolean>;
  replaceTrack(previous: MediaStreamTrack, next: MediaStreamTrack): Promise<void>;
  sendChat(text: string): Promise<string>;
  safetyNumber(participant: string): string | undefined;
  acceptIdentity(participant: string): Promise<void>;
  markVerified(participant: string): Promise<void>;
  getStats(participant: string): Promise<RTCStatsReport | undefined>;
  networkChanged(): Promise<void>;
  leave(): Promise<void>;
  endVisit(): Promise<void>;
}

export class Device {
  readonly id: string;
  identity(): Promise<Uint8Array>;
  pins(): Promise<string | undefined>;
  savePins(json: string): Promise<void>;
}

export function openDevice(): Promise<Device>;
export function forgetDevice(): Promise<void>;
