// Device storage for the browser SDK.
//
// The device's identity key (32 secret bytes) lives in IndexedDB encrypted
// with AES-GCM under a WebCrypto key that is itself stored in IndexedDB as
// a non-extractable CryptoKey: script can use it to unwrap, never read it.
// The identity pins (who had which key in earlier visits) are kept the same
// way. Nothing goes to localStorage; nothing here holds a name, a visit id,
// a token or chat text in clear. `forgetDevice()` erases it all (shared
// computers).

import { generateIdentity } from "./bedside_web.js";

const DB = "bedside-device";
const STORE = "device";
const KEY = "this-device";
const AD_IDENTITY = new TextEncoder().encode("bedside-identity-v1");
const AD_PINS = new TextEncoder().encode("bedside-pins-v1");

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

const opened = new Set();

async function openDb() {
  const req = indexedDB.open(DB, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  const db = await request(req);
  opened.add(db);
  return db;
}

function tx(db, mode, fn) {
  const t = db.transaction(STORE, mode);
  const r = fn(t.objectStore(STORE));
  return new Promise((resolve, reject) => {
    t.oncomplete = () => resolve(r && r.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

async function seal(key, ad, bytes) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: ad }, key, bytes);
  return { iv, data };
}

async function open(key, ad, sealed) {
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: sealed.iv, additionalData: ad },
    key,
    sealed.data,
  );
  return new Uint8Array(plain);
}

function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return "web-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** This browser's device: its id, identity key and pins. */
export class Device {
  #db;
  #record;

  constructor(db, record) {
    this.#db = db;
    this.#record = record;
  }

  /** The device id sent in `hello` (random, no personal data). */
  get id() {
    return this.#record.id;
  }

  /** The identity key's secret bytes (zero them after use). */
  async identity() {
    return open(this.#record.key, AD_IDENTITY, this.#record.identity);
  }

  /** The identity pins as JSON, or undefined before the first visit. */
  async pins() {
    if (!this.#record.pins) return undefined;
    return new TextDecoder().decode(await open(this.#record.key, AD_PINS, this.#record.pins));
  }

  /** Stores the identity pins (JSON from the SDK). */
  async savePins(json) {
    const pins = await seal(this.#record.key, AD_PINS, new TextEncoder().encode(json));
    this.#record = { ...this.#record, pins };
    await tx(this.#db, "readwrite", (s) => s.put(this.#record, KEY));
  }
}

/** Opens this browser's device, creating its identity on first use. */
export async function openDevice() {
  const db = await openDb();
  let record = await tx(db, "readonly", (s) => s.get(KEY));
  if (!record) {
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "decrypt",
    ]);
    const secret = generateIdentity();
    const identity = await seal(key, AD_IDENTITY, secret);
    secret.fill(0);
    record = { v: 1, id: randomId(), key, identity, pins: null };
    await tx(db, "readwrite", (s) => s.put(record, KEY));
  }
  return new Device(db, record);
}

/** Erases this browser's device (identity key and pins): for shared computers. */
export async function forgetDevice() {
  for (const db of opened) db.close();
  opened.clear();
  await request(indexedDB.deleteDatabase(DB));
}
